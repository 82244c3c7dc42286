"""Editing and deleting one's own message (server/store/edits.py), on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.server import protocol
from frontdesk.server.domain import Viewer
from frontdesk.server.exceptions import Conflict, Forbidden, NotFound
from frontdesk.server.store import Store, edits, events, messages, now_ms

from .test_contract import World, cid, reply, rows, run, say, seed, status

WINDOW = 10 * 60_000


async def change(
    store: Store, w: World, conversation_id: int, seq: int, body: str | None, *, agent: int | None = None, **kw: Any
) -> Any:
    return protocol.to_wire(
        await store.write(
            edits.change_message,
            kw.pop("tenant", w.tenant),
            agent_id=agent or w.agent,
            conversation_id=conversation_id,
            seq=seq,
            body=body,
            now=kw.pop("now", now_ms()),
            window_ms=kw.pop("window_ms", WINDOW),
            **kw,
        )
    )


async def visible_text(store: Store, w: World, visitor: int) -> str:
    """Everything a resuming visitor (and an agent) would be sent: replay and history."""
    viewer = Viewer(tenant_id=w.tenant, visitor_id=visitor)
    agent = Viewer(tenant_id=w.tenant, agent_id=w.agent)
    replay = await store.read(events.events_after, viewer, 0, 1000)
    replay += await store.read(events.events_after, agent, 0, 1000)
    parts = [protocol.encode(r.visitor_payload) + protocol.encode(r.payload) for r in replay]
    for conv in await rows(store, "SELECT id FROM conversations WHERE visitor_id = ?", (visitor,)):
        page = await store.read(
            messages.history, w.tenant, conv["id"], visitor_id=visitor, before_seq=None, limit=50, include_notes=False
        )
        parts.append(protocol.encode(page))
    parts += [str(r) for r in await rows(store, "SELECT * FROM conversations")]
    parts += [str(r) for r in await rows(store, "SELECT * FROM client_writes")]
    return "\n".join(parts)


def test_edit_replaces_the_text_everywhere_a_client_reads(store_url: str) -> None:
    """An edit stores the new text, appends message.updated for both audiences, keeps the original for admins
    only, and neither replay, history, the conversation nor the write record still holds the original."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        hello = await say(store, w, w.alice, "hello")
        c = hello["conversation_id"]
        sent = await reply(store, w, w.agent, c, "wrong-customer-secret", client_id="r-1")
        await status(store, w, c, "pend")
        before = len(await rows(store, "SELECT event_id FROM events"))
        result = await change(store, w, c, sent["seq"], "Fixed text", now=sent["server_time"] + 1000)
        assert result["message"]["body"] == "Fixed text"
        assert result["message"]["edited_at"] == sent["server_time"] + 1000
        assert result["message"]["deleted"] is False
        assert result["conversation"]["preview"] == "Fixed text"
        events = await rows(store, "SELECT kind, visitor_payload FROM events ORDER BY event_id")
        assert len(events) == before + 1 and events[-1]["kind"] == "message.updated"
        assert events[-1]["visitor_payload"] is not None
        text = await visible_text(store, w, w.alice)
        assert "wrong-customer-secret" not in text
        assert "Fixed text" in text
        history = await store.read(
            messages.history, w.tenant, c, visitor_id=w.alice, before_seq=None, limit=50, include_notes=False
        )
        assert [m.body for m in history.messages] == ["hello", "Fixed text"]
        assert history.messages[1].edited_at is not None
        kept = await store.read(edits.originals, w.tenant, c, sent["seq"])
        assert [(o.body, o.change, o.agent_id) for o in kept.originals] == [
            ("wrong-customer-secret", "edited", w.agent)
        ]

    run(store_url, scenario)


def test_delete_empties_the_message_and_its_preview(store_url: str) -> None:
    """A deletion empties the body, marks it deleted, turns the preview into "Message deleted" and keeps every
    earlier text (the edit's too) for admins; a later edit or delete is a conflict."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "hello"))["conversation_id"]
        sent = await reply(store, w, w.agent, c, "first-draft")
        await change(store, w, c, sent["seq"], "second-draft")
        result = await change(store, w, c, sent["seq"], None)
        assert result["message"]["deleted"] is True and result["message"]["body"] == ""
        assert result["conversation"]["preview"] == edits.DELETED_PREVIEW
        text = await visible_text(store, w, w.alice)
        assert "first-draft" not in text and "second-draft" not in text
        kept = await store.read(edits.originals, w.tenant, c, sent["seq"])
        assert [(o.body, o.change) for o in kept.originals] == [("first-draft", "edited"), ("second-draft", "deleted")]
        for body in ("again", None):
            with pytest.raises(Conflict):
                await change(store, w, c, sent["seq"], body)

    run(store_url, scenario)


def test_editing_an_older_message_keeps_the_newest_preview(store_url: str) -> None:
    """Editing a message that is no longer the newest leaves the conversation's preview to the newest one,
    but scrubs the old text from the previews of the events written while it was the newest."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "hello"))["conversation_id"]
        sent = await reply(store, w, w.agent, c, "typo-text")
        await status(store, w, c, "pend")  # its conversation.updated carries preview "typo-text"
        await say(store, w, w.alice, "newest words", conversation_id=c)
        result = await change(store, w, c, sent["seq"], "corrected")
        assert result["conversation"]["preview"] == "newest words"
        assert "typo-text" not in await visible_text(store, w, w.alice)

    run(store_url, scenario)


def test_refusals_change_nothing(store_url: str) -> None:
    """Another agent's or a visitor's message is Forbidden, an unknown seq or another tenant's conversation
    NotFound, an edit after the window Conflict; none of them writes anything."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        said = await say(store, w, w.alice, "visitor words")
        c = said["conversation_id"]
        sent = await reply(store, w, w.agent, c, "agent words")
        before = await rows(store, "SELECT event_id, payload FROM events ORDER BY event_id")
        with pytest.raises(Forbidden):
            await change(store, w, c, sent["seq"], "hijack", agent=w.admin)
        with pytest.raises(Forbidden):
            await change(store, w, c, said["seq"], "put words in their mouth")
        with pytest.raises(NotFound):
            await change(store, w, c, 99, "nothing there")
        with pytest.raises(NotFound):
            await change(store, w, c, sent["seq"], "wrong tenant", agent=w.foreign_agent, tenant=w.other_tenant)
        with pytest.raises(Conflict):
            await change(store, w, c, sent["seq"], "too late", now=sent["server_time"] + WINDOW + 1)
        with pytest.raises(Conflict):
            await change(store, w, c, sent["seq"], None, window_ms=0, now=sent["server_time"] + 1)
        assert await rows(store, "SELECT event_id, payload FROM events ORDER BY event_id") == before
        assert await rows(store, "SELECT * FROM message_originals") == []

    run(store_url, scenario)


def test_a_repeated_client_id_returns_the_first_result(store_url: str) -> None:
    """An edit retried with its client_id changes nothing more and returns the first reply, even after the window."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "hello"))["conversation_id"]
        sent = await reply(store, w, w.agent, c, "draft")
        key = cid().replace("client-", "00000000-0000-4000-8000-")[:36]
        first = await change(store, w, c, sent["seq"], "final", client_id=key)
        again = await change(store, w, c, sent["seq"], "other", client_id=key, now=sent["server_time"] + WINDOW * 2)
        assert again == first
        assert len(await rows(store, "SELECT * FROM message_originals")) == 1

    run(store_url, scenario)
