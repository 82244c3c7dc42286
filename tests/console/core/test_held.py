"""Held email replies in the console's cache (core/cache/_held.py): kept from ``email.held`` events and the
``email.held.list`` of each connect, shown in the thread as a line an agent can act on, gone once accepted or
rejected, dropped with an erased visitor."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import Cache, ServerError
from frontdesk.console.core.cache import MIGRATIONS
from frontdesk.server import protocol as p
from frontdesk.server.store import mail

from tests.console import wireobj as W
from tests.support import RunningServer, WsClient, new_client_id, run_on_store

from .conftest import arun, make_core, online, wait_until
from .test_cache import NOW, cache, conv, event

__all__ = ["cache"]


def held(held_id: int = 7, state: str = "held", **extra: Any) -> dict[str, Any]:
    return {
        "id": held_id,
        "conversation_id": 1,
        "visitor_id": 5,
        "sender": "mallory@example.net",
        "body": "I am not Alice" if state == "held" else "",
        "created_at": NOW + 10,
        "state": state,
        "actor_id": None if state == "held" else 2,
        **extra,
    }


def _start(cache: Cache) -> None:
    arun(
        cache.apply_snapshot(
            W.convs([conv(1, visitor={"id": 5, "name": "Erin", "email": "erin@example.com"})]),
            epoch="e",
            last_event_id=1,
        )
    )


def test_the_cache_migration_is_number_16() -> None:
    """The console cache's held-reply table is its migration 16 (this feature's assigned number)."""
    assert (16, "held_emails") in [(n, name) for n, name, _ in MIGRATIONS]


def test_a_held_reply_shows_in_the_thread_until_an_agent_decides(cache: Cache) -> None:
    """email.held (held) adds a system line keyed h<id> carrying the held id, sender and text; the change-set
    names it; a replay adds nothing twice; accepted removes it."""
    _start(cache)
    applied = arun(cache.apply_events(W.events([event(2, "email.held", held())])))
    assert applied.items == {1: {"h7"}}
    [item] = [i for i in cache.thread(1) if i.key == "h7"]
    assert (item.kind, item.held_id, item.held_sender) == ("system", 7, "mallory@example.net")
    assert "mallory@example.net" in item.body and "I am not Alice" in item.body
    assert [i.held_id for i in cache.held_emails(1)] == [7]
    assert cache.thread_items(1, ["h7"])["h7"] == item

    arun(cache.apply_events(W.events([event(2, "email.held", held())])))  # a replay adds nothing twice
    assert len(cache.held_emails(1)) == 1
    applied = arun(cache.apply_events(W.events([event(3, "email.held", held(state="accepted"))])))
    assert applied.items == {1: {"h7"}}
    assert cache.held_emails(1) == [] and cache.thread_items(1, ["h7"]) == {"h7": None}
    assert all(i.key != "h7" for i in cache.thread(1))


def test_the_list_of_each_connect_replaces_what_the_cache_held(cache: Cache) -> None:
    """store_held keeps exactly the server's list and touches the lines that came or went."""
    _start(cache)
    arun(cache.apply_events(W.events([event(2, "email.held", held(7))])))
    fields = {k: v for k, v in held(8).items() if k not in ("state", "actor_id")}
    listed = [W.build(p.HeldEmail, {**fields, "created_at": NOW + 20})]
    applied = arun(cache.store_held(listed))
    assert applied.items == {1: {"h7", "h8"}}
    assert [i.held_id for i in cache.held_emails(1)] == [8]


def test_an_erased_visitor_leaves_no_held_reply(cache: Cache) -> None:
    """visitor.erased drops the held replies to the visitor's conversations (a third party's words about them)."""
    _start(cache)
    arun(cache.apply_events(W.events([event(2, "email.held", held())])))
    arun(cache.apply_events(W.events([event(3, "visitor.erased", {"visitor_id": 5})])))
    assert cache.held_emails(1) == []
    assert cache._db.execute("SELECT count(*) FROM held_emails").fetchone()[0] == 0


def _hold(conversation_id: int, sender: str, body: str) -> Callable[[Any], Awaitable[int]]:
    """A store scenario: hold an email reply to the conversation (as the server's SMTP listener would)."""

    async def scenario(store: Any) -> int:
        row = await store.read(lambda tx: tx.one("SELECT * FROM conversations WHERE id = ?", (conversation_id,)))
        thread = mail.EmailThread(conversation_id, int(row["tenant_id"]), int(row["visitor_id"]), "alice@example.com")
        return int(await store.write(mail.hold, thread, sender, body, f"<{uuid.uuid4()}@example.net>", now=NOW))

    return scenario


def test_an_agent_sees_held_replies_on_connect_and_accepts_or_discards_them(
    server: RunningServer, data_dir: Path
) -> None:
    """An agent (not an admin) finds the replies held while it was away in their thread after connecting;
    accepting one posts it as the visitor's message and removes the line (live events), discarding removes it."""

    async def main() -> None:
        visitor, _ = await WsClient.visitor(server)
        sent = await visitor.request("message.send", client_id=new_client_id(), body="Question")
        cid = int(sent["conversation_id"])
        first = await asyncio.to_thread(run_on_store, server.db_url, _hold(cid, "mallory@example.net", "Yes, me"))
        second = await asyncio.to_thread(run_on_store, server.db_url, _hold(cid, "spam@example.org", "Buy now"))
        password = await asyncio.to_thread(server.add_agent, "bea@example.com", "Bea")
        core, _ = make_core(server, data_dir)
        await core.login("bea@example.com", password, remember=False)
        assert core.me is not None and not core.me.is_admin
        await core.start()
        try:
            await online(core)
            await wait_until(lambda: len(core.cache.held_emails(cid)) == 2, what="the held replies")
            assert [i.held_sender for i in core.cache.thread(cid) if i.held_id] == [
                "mallory@example.net",
                "spam@example.org",
            ]
            await core.accept_held(first)
            await wait_until(lambda: [i.held_id for i in core.cache.held_emails(cid)] == [second], what="accepted")
            await wait_until(
                lambda: [(i.kind, i.body) for i in core.cache.thread(cid) if i.kind == "visitor"][-1:]
                == [("visitor", "Yes, me")],
                what="the accepted reply as the visitor's message",
            )
            await core.reject_held(second)
            await wait_until(lambda: core.cache.held_emails(cid) == [], what="discarded")
            assert "Buy now" not in [i.body for i in core.cache.thread(cid)]
            with pytest.raises(ServerError) as gone:
                await core.reject_held(second)
            assert gone.value.code == "not_found"
        finally:
            await core.stop()
            await visitor.close()

    arun(main())
