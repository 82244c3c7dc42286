"""The store contract: base.Store and every _sql operation, on every backend.

Each test runs once per backend (``store_url``: SQLite in a temp file,
PostgreSQL in a database of its own) through ``store.write``/``store.read``
only, so the two backends are held to the same behaviour.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from frontdesk.server import domain
from frontdesk.server.domain import EventRecord, StatusAction, Viewer
from frontdesk.server.exceptions import Conflict, Forbidden, NotFound
from frontdesk.server.protocol import Conversation, to_wire
from frontdesk.server.store import (
    Store,
    _sql,
    agents,
    conversations,
    edits,
    events,
    messages,
    open_store,
    sqlite_path,
    tenants,
    visitors,
)
from frontdesk.server.store import search as store_search
from frontdesk.server.store.base import Unsupported, shipped_migrations
from frontdesk.server.store.events import record_from_row

T = TypeVar("T")


# -- helpers ----------------------------------------------------------------------------------


@dataclasses.dataclass
class World:
    """Two tenants with agents and visitors, created by :func:`seed`."""

    tenant: int
    other_tenant: int
    admin: int
    agent: int
    disabled: int
    foreign_agent: int
    alice: int
    carol: int
    foreign_visitor: int


def _seed(tx: _sql.Tx) -> World:
    t1 = tenants.create_tenant(tx, "acme", "Acme", "site-acme", "secret-acme", {})
    t2 = tenants.create_tenant(tx, "other", "Other", "site-other", "secret-other", {})
    admin = to_wire(agents.create_agent(tx, t1.id, "ada@acme.test", "Ada", "admin", "hash"))
    agent = to_wire(agents.create_agent(tx, t1.id, "bob@acme.test", "Bob", "agent", "hash"))
    disabled = to_wire(agents.create_agent(tx, t1.id, "dan@acme.test", "Dan", "agent", "hash"))
    agents.update_agent(tx, t1.id, disabled["id"], {"active": False})
    foreign = to_wire(agents.create_agent(tx, t2.id, "eve@other.test", "Eve", "admin", "hash"))
    alice = visitors.create_visitor(tx, t1.id, "tok-alice", {"name": "Alice", "email": "alice@example.com"})
    carol = visitors.create_visitor(tx, t1.id, "tok-carol", {"name": "Carol", "verified": True})
    stranger = visitors.create_visitor(tx, t2.id, "tok-stranger", {"name": "Stranger"})
    return World(
        t1.id,
        t2.id,
        admin["id"],
        agent["id"],
        disabled["id"],
        foreign["id"],
        alice.id,
        carol.id,
        stranger.id,
    )


def run(url: str, scenario: Callable[[Store], Awaitable[T]], *, listener: Any = None) -> T:
    """Open a store on ``url``, run ``scenario(store)``, close the store."""

    async def main() -> T:
        store = open_store(url)
        await store.open()
        if listener is not None:
            store.on_commit = listener
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def seed(store: Store) -> World:
    return await store.write(_seed)


async def say(
    store: Store, w: World, visitor: int, body: str, *, conversation_id: int | None = None, client_id: str | None = None
) -> dict[str, Any]:
    """A visitor message; its result (as JSON data)."""
    return await _wired(
        store.write(
            messages.post_message,
            w.tenant,
            author_kind="visitor",
            author_id=visitor,
            conversation_id=conversation_id,
            client_id=client_id or _sql.dumps(body) + str(id(body)) + str(_sql.now_ms()),
            body=body,
        )
    )


async def _wired(result: Awaitable[Any]) -> Any:
    """A store operation's typed result as the JSON data a client would get."""
    return to_wire(await result)


_counter = iter(range(1, 1_000_000))


def cid() -> str:
    return f"client-{next(_counter)}"


async def reply(
    store: Store, w: World, agent: int, conversation_id: int, body: str, client_id: str | None = None
) -> Any:
    return await _wired(
        store.write(
            messages.post_message,
            w.tenant,
            author_kind="agent",
            author_id=agent,
            conversation_id=conversation_id,
            client_id=client_id or cid(),
            body=body,
        )
    )


async def status(store: Store, w: World, conversation_id: int, action: str, client_id: str | None = None) -> Any:
    return await _wired(
        store.write(
            conversations.change_status,
            w.tenant,
            agent_id=w.admin,
            conversation_id=conversation_id,
            action=StatusAction(action),
            client_id=client_id,
        )
    )


async def conv(store: Store, w: World, conversation_id: int) -> Conversation:
    return await store.read(conversations.get_conversation, w.tenant, conversation_id)


async def rows(store: Store, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    return await store.read(lambda tx: tx.all(sql, params))


def committed_event_ids(url: str) -> set[int]:
    """The event ids committed right now, read on a connection of our own."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sqlite_path(url))
        try:
            return {r[0] for r in conn.execute("SELECT event_id FROM events")}
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url) as pg:
        return {r[0] for r in pg.execute("SELECT event_id FROM events")}


# -- schema -----------------------------------------------------------------------------------


def test_migrations_recorded_and_idempotent(store_url: str) -> None:
    """Opening migrates to the latest version, records each migration once, and reopening applies nothing."""

    async def first(store: Store) -> list[dict[str, Any]]:
        assert await store.schema_version() == store.latest_schema_version() >= 1
        assert await store.missing_tables() == []
        return await rows(store, "SELECT version, name FROM schema_migrations ORDER BY version")

    applied = run(store_url, first)
    dialect = "sqlite" if store_url.startswith("sqlite") else "postgres"
    assert [(r["version"], r["name"]) for r in applied] == [(v, name) for v, name, _ in shipped_migrations(dialect)]
    assert applied[0]["name"] == "initial"

    async def again(store: Store) -> list[dict[str, Any]]:
        assert await store.schema_version() == store.latest_schema_version()
        return await rows(store, "SELECT version, name FROM schema_migrations ORDER BY version")

    assert run(store_url, again) == applied


def test_unmigrated_database_reports_missing_tables(store_url: str) -> None:
    """Opened without migrating, an empty database is at schema 0 and lacks every required table."""

    async def main() -> None:
        store = open_store(store_url)
        await store.open(migrate=False)
        try:
            assert await store.schema_version() == 0
            assert "events" in await store.missing_tables()
            assert "schema_migrations" in await store.missing_tables()
        finally:
            await store.close()

    asyncio.run(main())


def test_epoch_stable_across_reopen(store_url: str) -> None:
    """The epoch is set once at creation and survives closing and reopening."""

    async def epoch(store: Store) -> str:
        return store.epoch

    first = run(store_url, epoch)
    assert len(first) >= 16
    assert run(store_url, epoch) == first


# -- messages ---------------------------------------------------------------------------------


def test_capabilities_are_declared_and_kept(store_url: str, tmp_path: Path) -> None:
    """Each backend declares its optional abilities (base.Capabilities); what it declares works, and what it
    lacks raises Unsupported instead of being found missing with getattr."""
    is_sqlite = store_url.startswith("sqlite")

    async def scenario(store: Store) -> None:
        caps = store.capabilities
        assert (caps.shared, caps.server_lock, caps.backup) == (not is_sqlite, is_sqlite, is_sqlite)
        await seed(store)
        copy = tmp_path / "copy.db"
        if caps.backup:
            await store.backup(str(copy))
            restored = open_store(f"sqlite:///{copy}")
            await restored.open()
            try:
                assert [t.slug for t in await restored.read(tenants.all_tenants)] == ["acme", "other"]
            finally:
                await restored.close()
        else:
            with pytest.raises(Unsupported):
                await store.backup(str(copy))
        if caps.shared:
            await store.broadcast({"kind": "ping"})  # best effort to the other nodes: there are none here
        else:
            with pytest.raises(Unsupported):
                await store.broadcast({"kind": "ping"})
        assert "@" not in store.location  # never a user or password of a URL

    run(store_url, scenario)


def test_post_message_assigns_gap_free_seq_and_increasing_event_ids(store_url: str) -> None:
    """Messages get seq 1, 2, 3… per conversation and a strictly increasing event_id across conversations."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        results = []
        for i in range(6):
            who = w.alice if i % 2 == 0 else w.carol
            results.append(await say(store, w, who, f"message {i}", client_id=cid()))
        by_conv: dict[int, list[int]] = {}
        for r in results:
            by_conv.setdefault(r["conversation_id"], []).append(r["seq"])
        assert sorted(by_conv.values()) == [[1, 2, 3], [1, 2, 3]]
        event_ids = [r["event_id"] for r in results]
        assert event_ids == sorted(event_ids) and len(set(event_ids)) == 6
        stored = await rows(store, "SELECT conversation_id, seq, event_id, body FROM messages ORDER BY event_id")
        assert [(m["conversation_id"], m["seq"], m["event_id"]) for m in stored] == [
            (r["conversation_id"], r["seq"], r["event_id"]) for r in results
        ]

    run(store_url, scenario)


def test_post_message_updates_the_conversation_in_the_same_transaction(store_url: str) -> None:
    """A message moves last_activity, preview, unread, status and assignee, and its event carries the result."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        first = await say(store, w, w.alice, "Hello   there\nfriend", client_id=cid())
        c_id = first["conversation_id"]
        row = await conv(store, w, c_id)
        assert row.preview == "Hello there friend"
        assert row.last_activity == first["server_time"] == first["message"]["created_at"]
        assert (row.unread_agent, row.unread_visitor, row.last_seq) == (1, 0, 1)
        assert to_wire(row) == first["conversation"]
        await status(store, w, c_id, "pend")
        answer = await reply(store, w, w.agent, c_id, "x" * 300)
        row = await conv(store, w, c_id)
        assert row.assignee_id == w.agent  # the first agent to answer takes it
        assert row.preview == "x" * 139 + "…"
        assert (row.unread_agent, row.unread_visitor, row.status) == (1, 1, "pending")
        assert answer["message"]["author_name"] == "Bob"
        await reply(store, w, w.admin, c_id, "me too")
        assert (await conv(store, w, c_id)).assignee_id == w.agent  # an assignee stays
        await say(store, w, w.alice, "back again", client_id=cid())
        row = await conv(store, w, c_id)
        assert (row.status, row.unread_agent, row.last_seq) == ("open", 2, 4)
        event = (await store.read(events.events_after, Viewer(w.tenant, agent_id=w.admin), answer["event_id"] - 1, 1))[
            0
        ]
        assert event.event_id == answer["event_id"] and event.kind == "message.created"
        assert event.payload["body"] == "x" * 300 and event.payload["event_id"] == answer["event_id"]
        assert event.payload["conversation"]["last_seq"] == 2
        assert event.visitor_payload == event.payload

    run(store_url, scenario)


def test_repeated_client_id_returns_the_original_result(store_url: str) -> None:
    """A resent client_id (same sender and conversation, any body) returns the first result and stores nothing."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        published: list[EventRecord] = []
        store.on_commit = published.extend
        first = await say(store, w, w.alice, "original", client_id="same")
        again = await say(store, w, w.alice, "changed", client_id="same", conversation_id=first["conversation_id"])
        implicit = await say(store, w, w.alice, "changed", client_id="same")
        assert again == first and implicit == first
        answer = await reply(store, w, w.agent, first["conversation_id"], "hi", client_id="agent-1")
        assert await reply(store, w, w.agent, first["conversation_id"], "other", client_id="agent-1") == answer
        bodies = [m["body"] for m in await rows(store, "SELECT body FROM messages ORDER BY seq")]
        assert bodies == ["original", "hi"]
        assert (await conv(store, w, first["conversation_id"])).last_seq == 2
        assert [e.kind for e in published].count("message.created") == 2

    run(store_url, scenario)


class _Counting:
    """A Tx that records every statement it runs (the transaction's own, not the writer's BEGIN/COMMIT)."""

    def __init__(self, tx: _sql.Tx) -> None:
        self.tx, self.statements = tx, list[str]()
        self.events, self.dialect = tx.events, tx.dialect

    def one(self, sql: str, params: Any = ()) -> Any:
        self.statements.append(sql)
        return self.tx.one(sql, params)

    def all(self, sql: str, params: Any = ()) -> Any:
        self.statements.append(sql)
        return self.tx.all(sql, params)

    def rows(self, sql: str, params: Any = ()) -> Any:
        self.statements.append(sql)
        return self.tx.rows(sql, params)

    def run(self, sql: str, params: Any = ()) -> int:
        self.statements.append(sql)
        return self.tx.run(sql, params)

    def ahead(self, sql: str, params: Any = ()) -> Any:
        self.statements.append(sql)
        return self.tx.ahead(sql, params)

    def defer(self, sql: str, params: Any = (), check: Any = None, refusing: str | None = None) -> None:
        self.statements.append(sql)
        self.tx.defer(sql, params, check, refusing)


def test_a_message_is_three_statements_and_its_event_row_is_written_once(store_url: str) -> None:
    """A visitor message in their open conversation and an agent's reply are 3 statements each on SQLite (the
    conversation's update, the message, the event inserted once with its payload: no UPDATE of events) and 2 on
    PostgreSQL (the inserts as one statement, deferred: test_postgres counts the round trips); a resend is 2 and
    stores nothing (issue 10: one event row per message, written once; issue 12: statements per message)."""

    expected = 3 if store_url.startswith("sqlite") else 2

    async def scenario(store: Store) -> None:
        w = await seed(store)
        first = await say(store, w, w.alice, "opens the conversation", client_id="c-0")
        c_id = first["conversation_id"]
        published: list[EventRecord] = []
        store.on_commit = published.extend

        def counted(tx: _sql.Tx, **kwargs: Any) -> tuple[Any, list[str]]:
            counting = _Counting(tx)
            result = messages.post_message(counting, w.tenant, **kwargs)  # type: ignore[arg-type]
            return to_wire(result), counting.statements

        visitor = {"author_kind": "visitor", "author_id": w.alice, "body": "again"}
        for conversation_id in (c_id, None):  # explicit, and "my open conversation"
            ack, statements = await store.write(
                counted, **visitor, conversation_id=conversation_id, client_id=f"v-{conversation_id}"
            )
            assert len(statements) == expected, statements
        ack, statements = await store.write(
            counted, author_kind="agent", author_id=w.agent, conversation_id=c_id, client_id="a-1", body="hello"
        )
        assert len(statements) == expected, statements
        assert sum("INSERT INTO events" in s for s in statements) == 1
        assert not any("UPDATE events" in s for s in statements)
        stored = await rows(store, "SELECT * FROM events WHERE kind = 'message.created' ORDER BY event_id")
        assert len(stored) == 4  # one row per message
        by_id = {e.event_id: e for e in published}
        last = stored[-1]
        assert (
            record_from_row(last).payload
            == by_id[last["event_id"]].payload
            == {**ack["message"], "conversation": ack["conversation"]}
        )
        assert ack["event_id"] == last["event_id"] and ack["message"]["event_id"] == last["event_id"]
        published.clear()
        again, statements = await store.write(
            counted, author_kind="agent", author_id=w.agent, conversation_id=c_id, client_id="a-1", body="hello"
        )
        assert again == ack and len(statements) == 2 and published == []

    run(store_url, scenario)


def test_a_resend_returns_the_original_ack_whatever_happened_since(store_url: str) -> None:
    """A resent client_id returns the ack as it was (the conversation as of then), also after other messages, a
    resolve, and an event pruned away (then the message is the same and the conversation is read as it is)."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        first = await say(store, w, w.alice, "original", client_id="same")
        c_id = first["conversation_id"]
        await reply(store, w, w.agent, c_id, "hi", client_id="agent-1")
        await status(store, w, c_id, "resolve")
        assert await say(store, w, w.alice, "x", client_id="same", conversation_id=c_id) == first
        assert await say(store, w, w.alice, "x", client_id="same") == first  # no open conversation: still the same
        assert [c.id for c in await store.read(conversations.visitor_conversations, w.tenant, w.alice)] == [c_id]
        await store.write(events.prune_events, first["event_id"])
        pruned = await say(store, w, w.alice, "x", client_id="same", conversation_id=c_id)
        assert pruned["message"] == first["message"] and pruned["event_id"] == first["event_id"]
        assert pruned["conversation"]["status"] == "resolved"  # read now: its state at the time was pruned
        assert (await conv(store, w, c_id)).last_seq == 2

    run(store_url, scenario)


def test_migration_0007_keeps_resends_of_earlier_messages_idempotent(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at schema 6 (messages with client_writes records) upgrades: the message records go, the notes'
    stay, and a resend of a message stored before the upgrade still returns its original ack and stores nothing."""
    from frontdesk.server.store import base

    backend = "frontdesk.server.store.sqlite" if store_url.startswith("sqlite") else "frontdesk.server.store.postgres"
    monkeypatch.setattr(f"{backend}.shipped_migrations", lambda dialect: base.shipped_migrations(dialect)[:6])

    async def before(store: Store) -> tuple[World, dict[str, Any]]:
        assert await store.schema_version() == 6
        w = await seed(store)
        first = await say(store, w, w.alice, "before the upgrade", client_id="old-1")
        await reply(store, w, w.agent, first["conversation_id"], "noted")

        def as_version_6_stored_it(tx: _sql.Tx) -> None:  # the record the old post_message kept beside the message
            tx.run(
                "INSERT INTO client_writes (sender, scope, client_id, result, created_at) VALUES (?, ?, ?, ?, ?)",
                (f"visitor:{w.alice}", str(first["conversation_id"]), "old-1", _sql.dumps(first), 1),
            )
            tx.run(
                "INSERT INTO client_writes (sender, scope, client_id, result, created_at) VALUES (?, ?, ?, ?, ?)",
                (f"agent:{w.agent}", f"note:{first['conversation_id']}", "note-1", "{}", 1),
            )

        await store.write(as_version_6_stored_it)
        return w, first

    w, first = run(store_url, before)
    monkeypatch.undo()

    async def after(store: Store) -> None:
        assert await store.schema_version() == store.latest_schema_version() >= 7
        assert [r["scope"] for r in await rows(store, "SELECT scope FROM client_writes")] == [
            f"note:{first['conversation_id']}"
        ]
        again = await say(store, w, w.alice, "resent", client_id="old-1", conversation_id=first["conversation_id"])
        assert again == first
        assert len(await rows(store, "SELECT id FROM messages")) == 2

    run(store_url, after)


def test_client_id_is_distinct_per_sender_and_conversation(store_url: str) -> None:
    """The same client_id from another sender, or in another conversation, is a new message."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        a = await say(store, w, w.alice, "from alice", client_id="shared")
        c = await say(store, w, w.carol, "from carol", client_id="shared")
        assert a["conversation_id"] != c["conversation_id"] and c["message"]["body"] == "from carol"
        to_a = await reply(store, w, w.agent, a["conversation_id"], "to alice", client_id="agent-shared")
        to_c = await reply(store, w, w.agent, c["conversation_id"], "to carol", client_id="agent-shared")
        by_admin = await reply(store, w, w.admin, a["conversation_id"], "admin", client_id="agent-shared")
        assert len({to_a["event_id"], to_c["event_id"], by_admin["event_id"]}) == 3
        assert len(await rows(store, "SELECT id FROM messages")) == 5

    run(store_url, scenario)


def test_one_open_conversation_per_visitor(store_url: str) -> None:
    """Starting twice gives the same open conversation; after it is resolved, a new one starts."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        row, created = await store.write(conversations.start_conversation, w.tenant, w.alice)
        again, created_again = await store.write(conversations.start_conversation, w.tenant, w.alice)
        assert created and not created_again and again.id == row.id
        both = await asyncio.gather(
            *(store.write(conversations.start_conversation, w.tenant, w.carol) for _ in range(5))
        )
        assert len({r.id for r, _ in both}) == 1 and sum(c for _, c in both) == 1
        msg = await say(store, w, w.alice, "hi", client_id=cid())
        assert msg["conversation_id"] == row.id
        await status(store, w, row.id, "resolve")
        fresh, created = await store.write(conversations.start_conversation, w.tenant, w.alice)
        assert created and fresh.id != row.id
        assert [c.id for c in await store.read(conversations.visitor_conversations, w.tenant, w.alice)] == [
            fresh.id,
            row.id,
        ]

    run(store_url, scenario)


def test_status_transitions_and_conflicts(store_url: str) -> None:
    """pend/resolve/reopen follow the rules; a move the status does not allow is a Conflict."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c_id = (await say(store, w, w.alice, "hi", client_id=cid()))["conversation_id"]
        assert (await status(store, w, c_id, "pend"))["conversation"]["status"] == "pending"
        with pytest.raises(Conflict):
            await status(store, w, c_id, "pend")
        done = await status(store, w, c_id, "resolve", client_id="r1")
        assert done["conversation"]["status"] == "resolved"
        assert await status(store, w, c_id, "resolve", client_id="r1") == done  # a resend, not a conflict
        with pytest.raises(Conflict):
            await status(store, w, c_id, "resolve")
        with pytest.raises(Conflict):
            await reply(store, w, w.agent, c_id, "too late")
        assert (await status(store, w, c_id, "reopen"))["conversation"]["status"] == "open"
        await status(store, w, c_id, "resolve")
        # A visitor writing into the resolved conversation reopens it...
        back = await say(store, w, w.alice, "one more thing", conversation_id=c_id, client_id=cid())
        assert back["conversation"]["status"] == "open" and back["conversation_id"] == c_id
        await status(store, w, c_id, "resolve")
        # ...but not once a newer one started: earlier conversations are read-only.
        started = await store.write(conversations.start_conversation, w.tenant, w.alice)
        other = await say(store, w, w.alice, "new topic", client_id=cid())
        assert started.created and other["conversation_id"] == started.conversation.id != c_id
        with pytest.raises(Conflict, match="read-only"):
            await say(store, w, w.alice, "old topic", conversation_id=c_id, client_id=cid())
        with pytest.raises(Conflict):
            await status(store, w, c_id, "reopen")
        assert (await conv(store, w, c_id)).status == "resolved"

    run(store_url, scenario)


def test_one_rule_for_writing_after_a_resolve(store_url: str) -> None:
    """With or without conversation_id, a visitor's message reopens their latest conversation and records the
    reopening (conversation.updated open, no actor); only conversation.start begins a new one; earlier ones are
    read-only, refused with Conflict and nothing stored."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        first = (await say(store, w, w.alice, "hi", client_id=cid()))["conversation_id"]
        await status(store, w, first, "resolve")
        before = await store.read(events.last_event_id)
        again = await say(store, w, w.alice, "one more thing", client_id=cid())
        assert again["conversation_id"] == first and again["conversation"]["status"] == "open"
        logged = await rows(store, "SELECT kind, payload FROM events WHERE event_id > ? ORDER BY event_id", (before,))
        assert [r["kind"] for r in logged] == ["message.created", "conversation.updated"]
        reopened = json.loads(logged[1]["payload"])
        assert (reopened["change"], reopened["actor_id"], reopened["status"]) == ("open", None, "open")
        # A pending one moves back to open inside the message only, as before: no new episode.
        await status(store, w, first, "pend")
        before = await store.read(events.last_event_id)
        await say(store, w, w.alice, "still there?", conversation_id=first, client_id=cid())
        assert [r["kind"] for r in await rows(store, "SELECT kind FROM events WHERE event_id > ?", (before,))] == [
            "message.created"
        ]
        await status(store, w, first, "resolve")
        fresh = await store.write(conversations.start_conversation, w.tenant, w.alice)
        assert fresh.created and fresh.conversation.id != first
        await status(store, w, fresh.conversation.id, "resolve")
        count = len(await rows(store, "SELECT id FROM messages"))
        with pytest.raises(Conflict, match="read-only"):
            await say(store, w, w.alice, "old topic", conversation_id=first, client_id=cid())
        assert len(await rows(store, "SELECT id FROM messages")) == count
        latest = await say(store, w, w.alice, "back", conversation_id=fresh.conversation.id, client_id=cid())
        assert latest["conversation"]["status"] == "open"
        assert (await conv(store, w, first)).status == "resolved"

    run(store_url, scenario)


def test_reply_assignee_only(store_url: str) -> None:
    """With assignee_only an agent may reply in an unassigned conversation or their own; another's assigned
    conversation is Forbidden, naming the assignee, and nothing is stored."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c_id = (await say(store, w, w.alice, "hi", client_id=cid()))["conversation_id"]

        async def answer(agent: int, body: str) -> Any:
            return await store.write(
                messages.post_message,
                w.tenant,
                author_kind="agent",
                author_id=agent,
                conversation_id=c_id,
                client_id=cid(),
                body=body,
                assignee_only=True,
            )

        taken = await answer(w.admin, "mine")
        assert taken.conversation.assignee_id == w.admin
        await answer(w.admin, "still mine")
        count = len(await rows(store, "SELECT id FROM messages"))
        with pytest.raises(Forbidden, match=r"only the assignee \(Ada\)"):
            await answer(w.agent, "me too")
        assert len(await rows(store, "SELECT id FROM messages")) == count
        await reply(store, w, w.agent, c_id, "without the rule anyone may")

    run(store_url, scenario)


def test_assign_rules(store_url: str) -> None:
    """Assign to an active agent of the tenant; another tenant's agent is NotFound, a disabled one a Conflict."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c_id = (await say(store, w, w.alice, "hi", client_id=cid()))["conversation_id"]

        async def assign(assignee: int | None, *, tenant: int | None = None, client_id: str | None = None) -> Any:
            return await _wired(
                store.write(
                    conversations.assign,
                    tenant or w.tenant,
                    agent_id=w.admin,
                    conversation_id=c_id,
                    assignee_id=assignee,
                    client_id=client_id,
                )
            )

        done = await assign(w.agent, client_id="a1")
        assert done["conversation"]["assignee_id"] == w.agent
        assert await assign(w.admin, client_id="a1") == done  # a resend
        with pytest.raises(NotFound):
            await assign(w.foreign_agent)
        with pytest.raises(NotFound):
            await assign(999_999)
        with pytest.raises(Conflict):
            await assign(w.disabled)
        with pytest.raises(NotFound):
            await assign(w.foreign_agent, tenant=w.other_tenant)  # another tenant's conversation
        assert (await conv(store, w, c_id)).assignee_id == w.agent
        assert (await assign(None))["conversation"]["assignee_id"] is None

    run(store_url, scenario)


def test_the_last_active_admin_cannot_be_disabled_or_demoted(store_url: str) -> None:
    """update_agent refuses (Conflict) to disable or demote the tenant's last active admin, and changes nothing."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        published: list[EventRecord] = []
        store.on_commit = published.extend
        for change in ({"active": False}, {"role": "agent"}):
            with pytest.raises(Conflict, match="at least one active admin"):
                await store.write(agents.update_agent, w.tenant, w.admin, change)
        assert published == []
        assert await store.read(agents.count_active_admins, w.tenant) == 1
        renamed = await store.write(agents.update_agent, w.tenant, w.admin, {"name": "Ada L."})  # not a demotion
        assert (renamed.role, renamed.active, renamed.name) == ("admin", True, "Ada L.")

    run(store_url, scenario)


def test_two_concurrent_demotions_cannot_both_pass(store_url: str) -> None:
    """With two active admins, disabling one and demoting the other at once: exactly one commits, the other
    gets Conflict, because the rule is checked inside each write transaction (not read before it)."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        second = await store.write(agents.create_agent, w.tenant, "grace@acme.test", "Grace", "admin", "hash")
        for _ in range(3):  # several rounds: the two writes land in one batch or in two
            outcomes = await asyncio.gather(
                store.write(agents.update_agent, w.tenant, w.admin, {"active": False}),
                store.write(agents.update_agent, w.tenant, second.id, {"role": "agent"}),
                return_exceptions=True,
            )
            assert sorted(type(o).__name__ for o in outcomes) == ["AgentProfile", "Conflict"]
            assert await store.read(agents.count_active_admins, w.tenant) == 1
            await store.write(agents.update_agent, w.tenant, w.admin, {"active": True, "role": "admin"})
            await store.write(agents.update_agent, w.tenant, second.id, {"active": True, "role": "admin"})

    run(store_url, scenario)


def test_visitor_and_tenant_scope(store_url: str) -> None:
    """Another visitor's or another tenant's conversation is NotFound for every operation."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c_id = (await say(store, w, w.alice, "private", client_id=cid()))["conversation_id"]
        with pytest.raises(NotFound):
            await store.read(conversations.get_conversation, w.tenant, c_id, w.carol)
        with pytest.raises(NotFound):
            await say(store, w, w.carol, "sneaky", conversation_id=c_id, client_id=cid())
        with pytest.raises(NotFound):
            await store.read(
                messages.history, w.tenant, c_id, visitor_id=w.carol, before_seq=None, limit=10, include_notes=False
            )
        with pytest.raises(NotFound):
            await store.write(
                conversations.mark_seen, w.tenant, side="visitor", visitor_id=w.carol, conversation_id=c_id, seq=1
            )
        with pytest.raises(NotFound):
            await store.read(conversations.get_conversation, w.other_tenant, c_id)
        with pytest.raises(NotFound):
            await store.write(
                messages.post_message,
                w.other_tenant,
                author_kind="agent",
                author_id=w.foreign_agent,
                conversation_id=c_id,
                client_id=cid(),
                body="x",
            )
        with pytest.raises(NotFound):
            await store.write(
                messages.post_note,
                w.other_tenant,
                agent_id=w.foreign_agent,
                conversation_id=c_id,
                client_id=cid(),
                body="x",
            )
        with pytest.raises(NotFound):
            await store.write(visitors.erase_visitor, w.other_tenant, w.alice)
        bodies = [m["body"] for m in await rows(store, "SELECT body FROM messages")]
        assert bodies == ["private"]
        assert await store.read(conversations.visitor_conversations, w.tenant, w.carol) == []

    run(store_url, scenario)


def test_mark_seen_resets_unread_once(store_url: str) -> None:
    """Seen resets one side's unread count and writes an event only when something changed."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c_id = (await say(store, w, w.alice, "hi", client_id=cid()))["conversation_id"]
        await reply(store, w, w.agent, c_id, "hello")

        async def seen(side: str, visitor: int | None) -> bool:
            return await store.write(
                conversations.mark_seen, w.tenant, side=side, visitor_id=visitor, conversation_id=c_id, seq=2
            )

        assert await seen("visitor", w.alice) is True
        assert await seen("visitor", w.alice) is False
        row = await conv(store, w, c_id)
        assert (row.unread_visitor, row.unread_agent) == (0, 1)
        assert await seen("agent", None) is True
        assert (await conv(store, w, c_id)).unread_agent == 0
        kinds = [e["kind"] for e in await rows(store, "SELECT kind FROM events ORDER BY event_id")]
        assert kinds.count("conversation.updated") == 2

    run(store_url, scenario)


# -- reads ------------------------------------------------------------------------------------


def test_history_pages_backwards_with_notes(store_url: str) -> None:
    """History pages walk back with before_seq, oldest first in a page, with the notes of each stretch for agents."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c_id = (await say(store, w, w.alice, "m1", client_id=cid()))["conversation_id"]
        note_at: dict[str, int] = {}
        for i in range(2, 8):
            if i % 2:
                await say(store, w, w.alice, f"m{i}", client_id=cid())
            else:
                await reply(store, w, w.agent, c_id, f"m{i}")
            if i in (3, 6):
                note = await _wired(
                    store.write(
                        messages.post_note,
                        w.tenant,
                        agent_id=w.agent,
                        conversation_id=c_id,
                        client_id=f"n{i}",
                        body=f"after m{i}",
                    )
                )
                note_at[f"after m{i}"] = note["seq"]
        again = await _wired(
            store.write(
                messages.post_note, w.tenant, agent_id=w.agent, conversation_id=c_id, client_id="n3", body="resent"
            )
        )
        assert again["note"]["body"] == "after m3"  # idempotent

        async def page(before: int | None, *, notes: bool = True, visitor: int | None = None) -> Any:
            return await _wired(
                store.read(
                    messages.history,
                    w.tenant,
                    c_id,
                    visitor_id=visitor,
                    before_seq=before,
                    limit=3,
                    include_notes=notes,
                )
            )

        last = await page(None)
        assert [m["body"] for m in last["messages"]] == ["m5", "m6", "m7"] and last["has_more"]
        assert [n["body"] for n in last["notes"]] == ["after m6"]
        assert all(n["private"] and n["author_name"] == "Bob" for n in last["notes"])
        middle = await page(last["messages"][0]["seq"])
        assert [m["body"] for m in middle["messages"]] == ["m2", "m3", "m4"] and middle["has_more"]
        assert [n["body"] for n in middle["notes"]] == ["after m3"]
        first = await page(middle["messages"][0]["seq"])
        assert [m["body"] for m in first["messages"]] == ["m1"] and not first["has_more"]
        assert first["notes"] == []
        assert [m["author_name"] for m in middle["messages"]] == ["Bob", "Alice", "Bob"]  # the visitor's name
        as_visitor = await page(None, notes=False, visitor=w.alice)
        assert "notes" not in as_visitor and [m["seq"] for m in as_visitor["messages"]] == [5, 6, 7]
        assert note_at == {"after m3": 1, "after m6": 2}

    run(store_url, scenario)


def test_list_conversations_filters_paging_and_query(store_url: str) -> None:
    """The inbox filters by status/mine/unassigned, searches names, e-mails and bodies literally, and pages fully."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        a = (await say(store, w, w.alice, "my order 100% broken", client_id=cid()))["conversation_id"]
        c = (await say(store, w, w.carol, "refund_please", client_id=cid()))["conversation_id"]
        extra = []
        for i in range(5):
            v = await store.write(visitors.create_visitor, w.tenant, f"tok-{i}", {"name": f"Guest {i}"})
            extra.append((await say(store, w, v.id, f"question {i}", client_id=cid()))["conversation_id"])
        await reply(store, w, w.agent, a, "looking")  # assigns a to Bob
        await status(store, w, c, "pend")
        await status(store, w, extra[0], "resolve")

        async def ids(
            filter: str, *, query: str | None = None, me: int | None = None, visitor: int | None = None
        ) -> list[int]:
            page, _ = await store.read(
                conversations.list_conversations,
                w.tenant,
                filter=filter,
                me=me,
                query=query,
                visitor_id=visitor,
                cursor=None,
                limit=50,
            )
            return [x.id for x in page]

        everything = await ids("all")
        assert len(everything) == 7 and set(everything[:2]) == {a, extra[4]}  # newest messages first (ms ties: id)
        assert set(await ids("pending")) == {c}
        assert set(await ids("resolved")) == {extra[0]}
        assert set(await ids("open")) == {a, *extra[1:]}
        assert set(await ids("mine", me=w.agent)) == {a}
        assert set(await ids("mine", me=w.admin)) == set()
        assert set(await ids("unassigned")) == {c, *extra[1:]}
        assert set(await ids("all", visitor=w.carol)) == {c}
        assert await ids("all", query="100%") == [a]
        assert await ids("all", query="%") == [a]  # literal, not a wildcard
        assert await ids("all", query="refund_") == [c]
        assert await ids("all", query="order_100") == []  # "_" is literal too, not any character
        assert await ids("all", query="alice@EXAMPLE") in ([a], [])  # case rules differ; never another's
        assert await ids("all", query="alice@example") == [a]
        assert await ids("all", query="Carol") == [c]
        assert await ids("all", query="Guest 3") == [extra[3]]
        assert await ids("all", query="nothing like it") == []
        other, _ = await store.read(
            conversations.list_conversations,
            w.other_tenant,
            filter="all",
            me=None,
            query=None,
            visitor_id=None,
            cursor=None,
            limit=50,
        )
        assert other == []

        seen: list[int] = []
        cursor = None
        while True:
            page, cursor = await store.read(
                conversations.list_conversations,
                w.tenant,
                filter="all",
                me=None,
                query=None,
                visitor_id=None,
                cursor=cursor,
                limit=3,
            )
            seen += [x.id for x in page]
            assert all(x.visitor.display_name for x in page)
            if cursor is None:
                break
        assert seen == everything
        with pytest.raises(NotFound):
            await store.read(
                conversations.list_conversations,
                w.tenant,
                filter="all",
                me=None,
                query=None,
                visitor_id=None,
                cursor="x",
                limit=3,
            )

    run(store_url, scenario)


def test_events_after_respects_the_viewer(store_url: str) -> None:
    """Agents replay every event of their tenant; a visitor only their own and tenant-wide ones, never notes."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        start = await store.read(events.last_event_id)
        a = await say(store, w, w.alice, "alice here", client_id=cid())
        await say(store, w, w.carol, "carol here", client_id=cid())
        await store.write(
            messages.post_note,
            w.tenant,
            agent_id=w.agent,
            conversation_id=a["conversation_id"],
            client_id=cid(),
            body="secret",
        )
        await store.write(tenants.set_config, w.tenant, {"color": "#ff0000"}, w.admin)
        await store.write(agents.create_agent, w.tenant, "new@acme.test", "New", "agent", "hash")
        await store.write(
            messages.post_message,
            w.other_tenant,
            author_kind="visitor",
            author_id=w.foreign_visitor,
            conversation_id=None,
            client_id=cid(),
            body="other tenant",
        )
        agent_view = await store.read(events.events_after, Viewer(w.tenant, agent_id=w.admin), start, 100)
        kinds = [e.kind for e in agent_view]
        assert kinds == [
            "conversation.created",
            "message.created",
            "conversation.created",
            "message.created",
            "note.created",
            "config.updated",
            "agent.updated",
        ]
        assert all(e.tenant_id == w.tenant for e in agent_view)
        ids = [e.event_id for e in agent_view]
        assert ids == sorted(ids)
        alice_view = await store.read(events.events_after, Viewer(w.tenant, visitor_id=w.alice), start, 100)
        assert [e.kind for e in alice_view] == ["conversation.created", "message.created", "config.updated"]
        assert all(e.visitor_payload is not None for e in alice_view)
        assert "secret" not in repr(alice_view) and "carol here" not in repr(alice_view)
        config = alice_view[-1].visitor_payload
        assert config is not None and config["color"] == "#ff0000" and "secret" not in config
        paged = await store.read(events.events_after, Viewer(w.tenant, agent_id=w.admin), ids[1], 2)
        assert [e.event_id for e in paged] == ids[2:4]
        foreign = await store.read(events.events_after, Viewer(w.other_tenant, agent_id=w.foreign_agent), start, 100)
        assert [e.kind for e in foreign] == ["conversation.created", "message.created"]
        assert all(domain.may_see(Viewer(w.tenant, visitor_id=w.alice), e) for e in alice_view)

    run(store_url, scenario)


def test_prune_events_sets_a_floor(store_url: str) -> None:
    """Pruning deletes events up to a point, records the floor, and never lowers it."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        results = [await say(store, w, w.alice, f"m{i}", client_id=cid()) for i in range(4)]
        cut = results[1]["event_id"]
        last = await store.read(events.last_event_id)
        assert await store.write(events.prune_events, cut) > 0
        assert await store.read(_sql.get_meta, "events_floor") == str(cut)
        left = [e["event_id"] for e in await rows(store, "SELECT event_id FROM events")]
        assert left and min(left) > cut
        assert await store.write(events.prune_events, cut - 1) == 0
        assert await store.read(_sql.get_meta, "events_floor") == str(cut)
        assert await store.read(events.last_event_id) == last
        # Pruning everything keeps the cursor where it was.
        await store.write(events.prune_events, last)
        assert await rows(store, "SELECT event_id FROM events") == []
        assert await store.read(events.last_event_id) == last
        assert len(await rows(store, "SELECT id FROM messages")) == 4  # messages stay

    run(store_url, scenario)


def test_erase_visitor_leaves_no_trace(store_url: str) -> None:
    """Erasing a visitor removes their messages, edit originals, notes, events, client_writes, search entries,
    conversations and row; others stay."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        a1 = await say(store, w, w.alice, "alice-secret-1", client_id=cid())
        sent = await reply(store, w, w.agent, a1["conversation_id"], "agent-to-alice", client_id="ag-1")
        await store.write(  # an edit keeps the original for admins (store/edits.py): erasure removes it too
            edits.change_message,
            w.tenant,
            agent_id=w.agent,
            conversation_id=a1["conversation_id"],
            seq=sent["seq"],
            body="agent-edit-for-alice",
            now=sent["server_time"],
            window_ms=60_000,
        )
        await store.write(
            messages.post_note,
            w.tenant,
            agent_id=w.agent,
            conversation_id=a1["conversation_id"],
            client_id=cid(),
            body="note-about-alice",
        )
        await status(store, w, a1["conversation_id"], "resolve", client_id="res-1")
        await say(store, w, w.alice, "alice-secret-reopens", client_id=cid())  # its conversation.updated goes too
        await status(store, w, a1["conversation_id"], "resolve", client_id="res-2")
        await store.write(conversations.start_conversation, w.tenant, w.alice)  # "New conversation"
        await say(store, w, w.alice, "alice-secret-2", client_id=cid())
        await store.write(visitors.update_visitor, w.tenant, w.alice, {"page_url": "https://alice.example/"})
        c = await say(store, w, w.carol, "carol stays", client_id=cid())
        assert await store.write(visitors.erase_visitor, w.tenant, w.alice) == 2
        dump = []
        for table in ("messages", "message_originals", "notes", "events", "client_writes", "conversations", "visitors"):
            dump += [str(r) for r in await rows(store, f"SELECT * FROM {table}")]  # noqa: S608 - fixed names
        text = "\n".join(dump)
        for trace in (
            "alice-secret",
            "agent-to-alice",
            "agent-edit-for-alice",
            "note-about-alice",
            "alice.example",
            "Alice",
            f"visitor:{w.alice}",
        ):
            assert trace not in text
        assert await rows(store, "SELECT id FROM conversations WHERE visitor_id = ?", (w.alice,)) == []
        assert await rows(store, "SELECT event_id FROM events WHERE visitor_id = ?", (w.alice,)) == []
        assert await rows(store, "SELECT * FROM client_writes WHERE scope = ?", (str(a1["conversation_id"]),)) == []
        assert "carol stays" in text
        # The search index (0008) forgets them too: no entry, no hit, for a message or a note.
        entries = await rows(store, "SELECT DISTINCT conversation_id FROM search_entries")
        assert entries == [{"conversation_id": c["conversation_id"]}]
        for words in (["alice"], ["secret"], ["note", "about"], ["agent", "to"]):
            assert await store.read(store_search.search, w.tenant, words) == ([], None)
        erased = await rows(store, "SELECT kind, payload FROM events WHERE kind = 'visitor.erased'")
        assert len(erased) == 1
        assert (await conv(store, w, c["conversation_id"])).last_seq == 1
        with pytest.raises(NotFound):
            await store.write(visitors.erase_visitor, w.tenant, w.alice)
        # The agent's client_id may be used again: its record went with the conversation.
        again = await say(store, w, w.carol, "after", client_id=cid())
        assert again["seq"] == 2

    run(store_url, scenario)


def test_ids_of_erased_rows_are_never_reused(store_url: str) -> None:
    """After erasing the newest visitor, the next visitor, conversation and message get new ids, not the erased ones."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        newest = await store.write(visitors.create_visitor, w.tenant, "tok-newest", {"name": "Newest"})
        said = await say(store, w, newest.id, "soon erased", client_id=cid())
        await store.write(visitors.erase_visitor, w.tenant, newest.id)
        after = await store.write(visitors.create_visitor, w.tenant, "tok-after", {"name": "After"})
        again = await say(store, w, after.id, "fresh", client_id=cid())
        assert after.id > newest.id
        assert again["conversation_id"] > said["conversation_id"]
        assert again["message"]["id"] > said["message"]["id"]

    run(store_url, scenario)


# -- the write path ---------------------------------------------------------------------------


def test_on_commit_runs_after_commit_and_never_for_a_failed_write(store_url: str) -> None:
    """Events reach on_commit only once their COMMIT is visible to other connections; a failed write's never do."""
    published: list[EventRecord] = []
    visible_then: list[bool] = []

    def listener(events: list[EventRecord]) -> None:
        committed = committed_event_ids(store_url)
        visible_then.extend(e.event_id in committed for e in events)
        published.extend(events)

    def failing(tx: _sql.Tx, tenant_id: int) -> None:
        events.append_event(tx, tenant_id, "test.doomed", {"doomed": True})
        raise RuntimeError("boom")

    async def scenario(store: Store) -> None:
        w = await seed(store)
        published.clear()
        ok = await say(store, w, w.alice, "kept", client_id=cid())
        with pytest.raises(RuntimeError, match="boom"):
            await store.write(failing, w.tenant)
        with pytest.raises(Conflict):
            await status(store, w, ok["conversation_id"], "reopen")
        later = await say(store, w, w.alice, "kept too", client_id=cid())
        await asyncio.sleep(0)
        kinds = [e.kind for e in published]
        assert "test.doomed" not in kinds
        assert kinds == ["conversation.created", "message.created", "message.created"]
        assert published[-1].event_id == later["event_id"]
        assert all(visible_then)
        assert await rows(store, "SELECT * FROM events WHERE kind = 'test.doomed'") == []

    run(store_url, scenario, listener=listener)


def test_a_failing_write_rolls_back_only_itself_in_a_batch(store_url: str) -> None:
    """Writes queued together commit together; one that raises is rolled back alone and its caller gets the error.
    A batch runs without savepoints until a job raises; then it runs once more with a savepoint per job."""
    entered, gate = threading.Event(), threading.Event()

    def hold(tx: _sql.Tx) -> None:
        entered.set()
        assert gate.wait(30), "the test never opened the gate"

    def half_done(tx: _sql.Tx, tenant_id: int, visitor_id: int) -> None:
        tx.run("UPDATE visitors SET name = 'CHANGED' WHERE id = ?", (visitor_id,))
        events.append_event(tx, tenant_id, "test.doomed", {})
        raise ValueError("half done")

    async def scenario(store: Store) -> None:
        w = await seed(store)
        published: list[EventRecord] = []
        store.on_commit = published.extend
        blocker = asyncio.ensure_future(store.write(hold))
        assert await asyncio.to_thread(entered.wait, 30)  # the writer is busy: what follows queues up
        tasks = [
            asyncio.ensure_future(say(store, w, w.alice, "before", client_id=cid())),
            asyncio.ensure_future(store.write(half_done, w.tenant, w.carol)),
            asyncio.ensure_future(say(store, w, w.carol, "after", client_id=cid())),
        ]
        await asyncio.sleep(0)  # each write() has queued its job
        batches = getattr(store, "batches", 0)
        assert store.savepoint_passes == 0  # the seed's writes all succeeded: no batch ran twice
        gate.set()
        await blocker
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(results[1], ValueError)
        assert results[0]["seq"] == 1 and results[2]["seq"] == 1  # type: ignore[index]
        names = {r["name"] for r in await rows(store, "SELECT name FROM visitors")}
        assert "CHANGED" not in names and "Carol" in names
        assert "test.doomed" not in [e.kind for e in published]
        assert {results[0]["event_id"], results[2]["event_id"]} <= {e.event_id for e in published}  # type: ignore[index]
        assert getattr(store, "batches", 0) - batches == 2  # the blocker's, then the three together
        assert store.savepoint_passes == 1

    run(store_url, scenario)


def test_concurrent_writes_all_commit_with_correct_seqs(store_url: str) -> None:
    """Many coroutines writing at once all get gap-free seqs, and on_commit sees every event once, in order."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        published: list[EventRecord] = []
        store.on_commit = published.extend
        writers = [w.alice, w.carol]
        for i in range(3):
            writers.append((await store.write(visitors.create_visitor, w.tenant, f"tok-c{i}", {})).id)
        published.clear()
        per_visitor = 30
        results = await asyncio.gather(
            *(say(store, w, v, f"{v}-{i}", client_id=f"{v}-{i}") for i in range(per_visitor) for v in writers)
        )
        by_conv: dict[int, list[int]] = {}
        for r in results:
            by_conv.setdefault(r["conversation_id"], []).append(r["seq"])
        assert len(by_conv) == len(writers)
        for seqs in by_conv.values():
            assert sorted(seqs) == list(range(1, per_visitor + 1))
        ids = [e.event_id for e in published]
        assert ids == sorted(ids) and len(ids) == len(set(ids))
        acked = {r["event_id"] for r in results}
        assert acked <= set(ids)
        stored = await rows(store, "SELECT conversation_id, seq, event_id FROM messages ORDER BY event_id")
        assert len(stored) == len(results)
        for c_id in by_conv:
            seqs = [m["seq"] for m in stored if m["conversation_id"] == c_id]
            assert seqs == list(range(1, per_visitor + 1))  # seq order is event order

    run(store_url, scenario)


def test_a_failing_commit_listener_does_not_hang_writers(store_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """If on_commit raises, the write is still stored and its caller still gets the result."""

    def broken(events: list[EventRecord]) -> None:
        raise RuntimeError("listener bug")

    async def scenario(store: Store) -> None:
        w = await seed(store)
        store.on_commit = broken
        r = await asyncio.wait_for(say(store, w, w.alice, "still stored", client_id=cid()), 30)
        assert r["seq"] == 1
        assert [m["body"] for m in await rows(store, "SELECT body FROM messages")] == ["still stored"]

    run(store_url, scenario)
    assert "publishing committed events failed" in caplog.text
