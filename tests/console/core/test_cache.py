"""The local cache: file, migrations, events, cursor, search, paging."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import Cache, cache_path
from frontdesk.console.core.cache import MIGRATIONS, fts_query

from tests.console import wireobj as W

from .conftest import arun

NOW = 1_764_120_000_000


def conv(
    cid: int, *, status: str = "open", assignee: int | None = None, activity: int = 0, **extra: Any
) -> dict[str, Any]:
    visitor = extra.pop("visitor", {"id": cid + 100, "name": None, "email": None})
    return {
        "id": cid,
        "visitor_id": visitor["id"],
        "status": status,
        "assignee_id": assignee,
        "created_at": NOW,
        "last_activity": NOW + activity,
        "last_seq": extra.pop("last_seq", 0),
        "unread_agent": extra.pop("unread", 0),
        "unread_visitor": 0,
        "preview": extra.pop("preview", ""),
        "visitor": visitor,
        **extra,
    }


def msg(mid: int, cid: int, seq: int, body: str, *, author: str = "visitor", at: int | None = None) -> dict[str, Any]:
    return {
        "id": mid,
        "conversation_id": cid,
        "seq": seq,
        "author_kind": author,
        "author_id": None if author == "visitor" else 2,
        "author_name": None if author == "visitor" else "Ada",
        "body": body,
        "created_at": at if at is not None else NOW + seq * 1000,
    }


def event(event_id: int, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "kind": kind, "event_id": event_id, "data": data}


@pytest.fixture
def cache(tmp_path: Path) -> Any:
    c = Cache.open(cache_path(tmp_path, "http://127.0.0.1:9", "ada@example.com"))
    yield c
    c.close()


def test_cache_file_is_private(tmp_path: Path) -> None:
    """The cache file and its WAL companions are created with mode 0600, its folder 0700."""
    path = cache_path(tmp_path, "http://127.0.0.1:9", "ada@example.com")
    cache = Cache.open(path)
    try:
        arun(cache.apply_snapshot(W.convs([conv(1)]), epoch="e", last_event_id=1))
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
        assert path in files and len(files) >= 2  # the WAL exists while open
        for p in files:
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    finally:
        cache.close()


def test_one_file_per_server_and_agent(tmp_path: Path) -> None:
    """Two agents or two servers never share a cache file; the same pair always does."""
    a = cache_path(tmp_path, "http://h:1", "ada@example.com")
    assert a == cache_path(tmp_path, "http://h:1/", "Ada@Example.com ")
    assert a != cache_path(tmp_path, "http://h:1", "bob@example.com")
    assert a != cache_path(tmp_path, "http://h:2", "ada@example.com")


def test_default_location_is_user_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without a data dir the cache goes under platformdirs' user data dir for "frontdesk"."""
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app: str(tmp_path / app))
    assert cache_path(None, "http://h:1", "a@b.c").is_relative_to(tmp_path / "frontdesk")


def test_migrations_are_numbered_and_recorded(tmp_path: Path) -> None:
    """Opening applies every numbered migration once and records it; reopening applies none."""
    path = cache_path(tmp_path, "http://h:1", "a@b.c")
    Cache.open(path).close()
    cache = Cache.open(path)
    try:
        assert cache.schema_version() == MIGRATIONS[-1][0]
    finally:
        cache.close()
    rows = sqlite3.connect(path).execute("SELECT version, name FROM migrations ORDER BY version").fetchall()
    assert rows == [(n, name) for n, name, _ in MIGRATIONS]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A cache written by a newer console is not silently used by an older one."""
    path = cache_path(tmp_path, "http://h:1", "a@b.c")
    Cache.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO migrations (version, name, applied_at) VALUES (999, 'future', 0)")
    with pytest.raises(RuntimeError, match="newer"):
        Cache.open(path)


def test_events_apply_in_order_and_move_the_cursor(cache: Cache) -> None:
    """Events update conversations and threads, and the cursor is the last event applied."""
    arun(cache.apply_snapshot(W.convs([conv(1, activity=1)]), epoch="e1", last_event_id=10))
    arun(
        cache.apply_events(
            W.events(
                [
                    event(11, "message.created", msg(1, 1, 1, "Hello there")),
                    event(12, "message.created", msg(2, 1, 2, "Hi! How can I help?", author="agent")),
                ]
            )
        )
    )
    assert cache.cursor() == ("e1", 12)
    row = cache.conversation(1)
    assert row is not None and row.last_seq == 2 and row.preview == "Hi! How can I help?" and row.unread == 1
    assert [i.body for i in cache.thread(1)] == ["Hello there", "Hi! How can I help?"]
    assert [i.kind for i in cache.thread(1)] == ["visitor", "agent"]


def test_replayed_events_are_skipped(cache: Cache) -> None:
    """An event at or below the cursor changes nothing (replay overlaps live delivery)."""
    arun(cache.apply_snapshot(W.convs([conv(1)]), epoch="e1", last_event_id=10))
    arun(cache.apply_events(W.events([event(11, "message.created", msg(1, 1, 1, "once"))])))
    applied = arun(cache.apply_events(W.events([event(11, "message.created", msg(1, 1, 1, "once"))])))
    assert not applied.threads and not applied.notifications
    assert len(cache.thread(1)) == 1 and cache.conversation(1).unread == 1  # type: ignore[union-attr]


def test_cursor_is_stored_with_its_events(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that fails half-way leaves neither its events nor its cursor behind."""
    from frontdesk.console.core.cache import _apply

    arun(cache.apply_snapshot(W.convs([conv(1)]), epoch="e1", last_event_id=10))
    real = _apply.insert_item

    def crash_on_second(db: Any, m: Any) -> bool:
        if m.seq == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return real(db, m)

    monkeypatch.setattr(_apply, "insert_item", crash_on_second)
    with pytest.raises(sqlite3.OperationalError):
        arun(
            cache.apply_events(
                W.events(
                    [
                        event(11, "message.created", msg(1, 1, 1, "first")),
                        event(12, "message.created", msg(2, 1, 2, "second")),
                    ]
                )
            )
        )
    assert cache.cursor() == ("e1", 10)
    assert cache.thread(1) == []


def test_snapshot_from_another_epoch_clears_the_cache(cache: Cache) -> None:
    """A snapshot of another server database drops everything cached and fails pending actions."""
    arun(cache.apply_snapshot(W.convs([conv(1), conv(2)]), epoch="e1", last_event_id=10))
    arun(cache.apply_events(W.events([event(11, "message.created", msg(1, 1, 1, "old db"))])))
    arun(cache.queue_action("resolve", 1, "c1", {}, NOW))
    arun(cache.apply_snapshot(W.convs([conv(7)]), epoch="e2", last_event_id=3))
    assert [c.id for c in cache.conversations()] == [7]
    assert cache.thread(1) == [] or all(i.outbox_id for i in cache.thread(1))
    assert cache.cursor() == ("e2", 3)
    [item] = cache.outbox()
    assert item.state == "failed" and item.error and "reset" in item.error


def test_snapshot_same_epoch_keeps_messages_and_drops_vanished(cache: Cache) -> None:
    """A snapshot of the same database keeps cached messages and drops conversations it lacks."""
    arun(cache.apply_snapshot(W.convs([conv(1), conv(2)]), epoch="e1", last_event_id=10))
    arun(
        cache.apply_events(
            W.events(
                [event(11, "message.created", msg(1, 1, 1, "kept")), event(12, "message.created", msg(2, 2, 1, "gone"))]
            )
        )
    )
    arun(cache.apply_snapshot(W.convs([conv(1, last_seq=1)]), epoch="e1", last_event_id=20))
    assert [c.id for c in cache.conversations()] == [1]
    assert [i.body for i in cache.thread(1)] == ["kept"]
    assert cache.search_messages("gone") == []


def test_visitor_erasure_leaves_no_trace(cache: Cache) -> None:
    """visitor.erased removes the visitor, their conversations, messages and search entries."""
    arun(
        cache.apply_snapshot(
            W.convs([conv(1, visitor={"id": 5, "name": "Erin", "email": "e@x.io"})]), epoch="e", last_event_id=1
        )
    )
    arun(cache.apply_events(W.events([event(2, "message.created", msg(1, 1, 1, "my secret address"))])))
    arun(cache.apply_events(W.events([event(3, "visitor.erased", {"visitor_id": 5})])))
    assert cache.conversations() == [] and cache.visitor(5) is None
    assert cache.search_messages("secret") == [] and cache.conversations(query="Erin") == []


def test_fts_search_finds_messages_notes_and_visitors(cache: Cache) -> None:
    """Search matches message and note words by prefix, any case or accent, and visitor name/email."""
    arun(
        cache.apply_snapshot(
            W.convs(
                [
                    conv(1, activity=3, visitor={"id": 11, "name": "Zoë Quinn", "email": "zoe@example.com"}),
                    conv(2, activity=2),
                    conv(3, activity=1),
                ]
            ),
            epoch="e",
            last_event_id=1,
        )
    )
    arun(
        cache.apply_events(
            W.events(
                [
                    event(2, "message.created", msg(1, 2, 1, "I want a REFUND for my order")),
                    event(
                        3, "note.created", {**msg(1, 3, 1, "Customer is a café owner", author="agent"), "private": True}
                    ),
                ]
            )
        )
    )
    assert [c.id for c in cache.conversations(query="refun")] == [2]
    assert [c.id for c in cache.conversations(query="order refund")] == [2]
    assert [c.id for c in cache.conversations(query="cafe")] == [3]
    assert [c.id for c in cache.conversations(query="zoe@exa")] == [1]
    assert [c.id for c in cache.conversations(query="Quinn")] == [1]
    assert cache.conversations(query="refund cafe") == []
    assert cache.count_conversations(query="refund") == 1
    [(cid, item)] = cache.search_messages("refund")
    assert cid == 2 and item.body.startswith("I want")


def test_fts_query_is_safe() -> None:
    """Whatever the agent types becomes a valid FTS5 query (quotes, operators, nothing)."""
    assert fts_query('"; DROP TABLE items; --') == '"DROP"* "TABLE"* "items"*'
    assert fts_query("NEAR(a b) OR c*") == '"NEAR"* "a"* "b"* "OR"* "c"*'
    assert fts_query("  ?! ") is None


def test_inbox_pages_filters_and_order(cache: Cache) -> None:
    """The inbox pages newest activity first, and filters by status, assignee and 'mine'."""
    convs = [
        conv(i, activity=i, status=("open", "pending", "resolved")[i % 3], assignee=(None if i % 2 else 7))
        for i in range(1, 31)
    ]
    arun(cache.apply_snapshot(W.convs(convs), epoch="e", last_event_id=1))
    page1 = cache.conversations(limit=10)
    page2 = cache.conversations(limit=10, offset=10)
    assert [c.id for c in page1] == list(range(30, 20, -1)) and [c.id for c in page2] == list(range(20, 10, -1))
    assert cache.count_conversations() == 30
    assert {c.status for c in cache.conversations("pending", limit=100)} == {"pending"}
    mine = cache.conversations("mine", me=7, limit=100)
    assert mine and all(c.assignee_id == 7 and c.status != "resolved" for c in mine)
    unassigned = cache.conversations("unassigned", limit=100)
    assert unassigned and all(c.assignee_id is None and c.status != "resolved" for c in unassigned)
    assert cache.count_conversations("mine", me=7) == len(mine)
    with pytest.raises(ValueError):
        cache.conversations("bogus")


def test_inbox_query_uses_indexes(cache: Cache) -> None:
    """The inbox page query never scans the conversations table (cold start stays fast)."""
    db = cache._db
    for filt in ("all", "open", "mine", "unassigned"):
        where, params = cache._where(filt, None, 7)
        plan = db.execute(
            f"EXPLAIN QUERY PLAN SELECT c.id FROM conversations c{where} "  # noqa: S608
            "ORDER BY c.last_activity DESC, c.id DESC LIMIT 100",
            params,
        ).fetchall()
        text = " ".join(str(r[-1]) for r in plan)
        assert "TEMP B-TREE" not in text and "USING" in text and "INDEX" in text, text


def test_thread_merges_notes_and_pages_back(cache: Cache) -> None:
    """A thread merges messages and notes by time, and 'before' pages older messages."""
    arun(cache.apply_snapshot(W.convs([conv(1, last_seq=5)]), epoch="e", last_event_id=1))
    frames = [event(1 + s, "message.created", msg(s, 1, s, f"m{s}")) for s in range(1, 6)]
    frames.append(
        event(10, "note.created", {**msg(1, 1, 1, "note after m2", author="agent", at=NOW + 2500), "private": True})
    )
    arun(cache.apply_events(W.events(frames)))
    assert [i.body for i in cache.thread(1)] == ["m1", "m2", "note after m2", "m3", "m4", "m5"]
    assert [i.body for i in cache.thread(1, limit=2)] == ["m4", "m5"]
    assert [i.body for i in cache.thread(1, before=4, limit=2)] == ["m2", "note after m2", "m3"]
    assert cache.thread(1)[2].kind == "note" and cache.thread(1)[2].key == "n1"
    assert cache.oldest_seq(1) == 1


def test_seen_and_agents_and_config(cache: Cache) -> None:
    """seen by an agent zeroes unread; agent.updated, presence and config.updated are kept."""
    arun(cache.apply_snapshot(W.convs([conv(1, unread=3)]), epoch="e", last_event_id=1))
    arun(
        cache.apply_events(
            W.events([{"type": "event", "kind": "seen", "data": {"conversation_id": 1, "seq": 3, "side": "agent"}}])
        )
    )
    assert cache.conversation(1).unread == 0  # type: ignore[union-attr]
    assert cache.cursor() == ("e", 1)  # ephemeral: no cursor move
    agent = {"id": 2, "email": "ada@x.io", "name": "Ada", "role": "agent", "active": True, "online": False}
    arun(
        cache.apply_events(
            W.events([event(2, "agent.updated", agent), event(3, "config.updated", {"color": "#000000"})])
        )
    )
    assert [a.name for a in cache.agents()] == ["Ada"]
    config = cache.config()
    assert config is not None and config["color"] == "#000000" and "updated_by" not in config


def test_store_ip_switched_off_drops_the_cached_addresses(cache: Cache) -> None:
    """A config.updated with store_ip false clears every cached visitor's ip (the country stays)."""
    visitor = {"id": 9, "name": "Nia", "email": None, "ip": "203.0.113.77", "country": "DE"}
    arun(cache.apply_snapshot(W.convs([conv(1, visitor=visitor)]), epoch="e", last_event_id=1))
    assert cache.visitor(9).ip == "203.0.113.77"  # type: ignore[union-attr]
    arun(cache.apply_events(W.events([event(2, "config.updated", {"store_ip": True})])))
    assert cache.visitor(9).ip == "203.0.113.77"  # type: ignore[union-attr]
    applied = arun(cache.apply_events(W.events([event(3, "config.updated", {"store_ip": False})])))
    stored = cache.visitor(9)
    assert stored is not None and stored.ip is None and stored.country == "DE"
    assert applied.reload_all


def test_new_visitor_message_notifies(cache: Cache) -> None:
    """A conversation's first visitor message notifies 'new_conversation', later ones 'new_message', agents' none."""
    arun(cache.apply_snapshot(W.convs([]), epoch="e", last_event_id=1))
    applied = arun(
        cache.apply_events(
            W.events(
                [
                    event(2, "conversation.created", conv(1, visitor={"id": 9, "name": "Nia", "email": None})),
                    event(3, "message.created", msg(1, 1, 1, "Help!")),
                    event(4, "message.created", msg(2, 1, 2, "On it", author="agent")),
                ]
            )
        )
    )
    assert [(n.kind, n.title, n.body) for n in applied.notifications] == [("new_conversation", "Nia", "Help!")]
    applied = arun(cache.apply_events(W.events([event(5, "message.created", msg(3, 1, 3, "Hello??"))])))
    assert [(n.kind, n.body) for n in applied.notifications] == [("new_message", "Hello??")]


def test_cache_holds_no_token(tmp_path: Path) -> None:
    """Nothing resembling a session token is stored: there is no column or key for one."""
    path = cache_path(tmp_path, "http://h:1", "a@b.c")
    Cache.open(path).close()
    db = sqlite3.connect(path)
    columns = [
        r[1]
        for t in ("meta", "conversations", "agents", "outbox", "items", "visitors")
        for r in db.execute(f"PRAGMA table_info({t})")
    ]
    assert not [c for c in columns if "token" in c or "password" in c]


def test_upgrade_from_an_older_schema_keeps_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache made by an older console is migrated in place, keeping its conversations."""
    from frontdesk.console.core.cache import _schema

    path = cache_path(tmp_path, "http://h:1", "a@b.c")
    with monkeypatch.context() as m:
        m.setattr(_schema, "MIGRATIONS", MIGRATIONS[:1])
        old = Cache.open(path)
        old.write_sync(
            lambda db: db.execute(
                "INSERT INTO conversations (id, visitor_id, status, eff_status) VALUES (1, 1, 'open', 'open')"
            )
        )
        assert old.schema_version() == 1
        old.close()
    cache = Cache.open(path)
    try:
        assert cache.schema_version() == MIGRATIONS[-1][0] > 1
        assert [c.id for c in cache.conversations()] == [1]
    finally:
        cache.close()


def test_older_conversation_state_never_overwrites_newer(cache: Cache) -> None:
    """A late write reply (or a resent write's original reply) older than the cached state is ignored."""
    arun(cache.apply_snapshot(W.convs([conv(1)]), epoch="e", last_event_id=10))
    arun(cache.apply_events(W.events([event(12, "conversation.updated", conv(1, status="resolved"))])))
    oid = arun(cache.queue_action("pend", 1, "c1", {}, NOW))
    [item] = cache.outbox()
    assert item.id == oid
    arun(cache.outbox_acked(item, W.reply({"event_id": 11, "conversation": conv(1, status="pending")})))
    assert cache.conversation(1).status == "resolved"  # type: ignore[union-attr]
    arun(cache.apply_events(W.events([event(13, "conversation.updated", conv(1, status="open"))])))
    assert cache.conversation(1).status == "open"  # type: ignore[union-attr]
    # A conversation of unknown age (visitor.get) only fills a gap.
    arun(cache.store_conversations(W.convs([conv(1, status="resolved"), conv(2, status="resolved")])))
    assert cache.conversation(1).status == "open" and cache.conversation(2).status == "resolved"  # type: ignore[union-attr]


def test_bulk_snapshot_does_not_block_the_loop(cache: Cache) -> None:
    """A 20,000-conversation snapshot is written on the writer thread while the event loop keeps ticking."""
    import asyncio
    import time

    conversations = [conv(i, activity=i, preview=f"message {i}") for i in range(1, 20_001)]

    async def main() -> tuple[float, float]:
        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        task = asyncio.create_task(ticker())
        start = time.perf_counter()
        await cache.apply_snapshot(W.convs(conversations), epoch="e", last_event_id=1)
        took = time.perf_counter() - start
        done.set()
        await task
        return took, max(gaps)

    took, worst_gap = arun(main())
    assert cache.count_conversations() == 20_000
    # Done on the loop, the write would stall it for its whole duration; on
    # the writer thread the loop keeps ticking (relative, so a loaded
    # machine that slows both does not make this flaky).
    assert took > 0.1 and worst_gap < took / 3, (took, worst_gap)


def test_writes_report_each_conversation_they_changed(cache: Cache) -> None:
    """A write's Applied names every conversation whose inbox row it changed (events, actions, a rename)."""
    arun(cache.apply_snapshot(W.convs([conv(1), conv(2, assignee=7)]), epoch="e", last_event_id=1))
    applied = arun(
        cache.apply_events(
            W.events(
                [
                    event(2, "conversation.updated", conv(1, status="resolved")),
                    event(3, "conversation.created", conv(3)),
                ]
            )
        )
    )
    assert applied.conversations == {1, 3}
    oid, queued = arun(cache.queue("unassign", 2, "c-1", {}, NOW))
    assert queued.conversations == {2}
    assert cache.conversation(2).assignee_id is None  # type: ignore[union-attr]
    renamed = arun(cache.apply_events(W.events([event(5, "visitor.updated", {"id": 101, "name": "Ann"})])))
    assert renamed.conversations == {1}
    failed = arun(cache.outbox_failed(oid, "conflict", "no"))
    assert failed.conversations == {2} and cache.conversation(2).assignee_id == 7  # type: ignore[union-attr]


def test_unstorable_values_do_not_stop_later_events(cache: Cache, caplog: pytest.LogCaptureFixture) -> None:
    """A message with seq 2**64 or a lone surrogate in its body is skipped with a WARNING; later events apply."""
    arun(cache.apply_snapshot(W.convs([conv(1)]), epoch="e1", last_event_id=10))
    huge = {**msg(1, 1, 1, "too big"), "seq": 2**64}
    broken = msg(2, 1, 1, "bad \ud800 text")
    with caplog.at_level("WARNING", logger="frontdesk.console.cache"):
        arun(
            cache.apply_events(
                W.events(
                    [
                        event(11, "message.created", huge),
                        event(12, "message.created", broken),
                        event(13, "message.created", msg(3, 1, 1, "fine")),
                    ]
                )
            )
        )
    assert [i.body for i in cache.thread(1)] == ["fine"]
    assert cache.cursor() == ("e1", 13)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("11" in w and "message.created" in w for w in warned), warned
    assert any("12" in w and "message.created" in w for w in warned), warned


def test_an_event_the_cache_cannot_store_is_skipped_alone(
    cache: Cache, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An event whose write raises a data error is rolled back alone and logged; the batch and cursor go on."""
    from frontdesk.console.core.cache import _apply

    arun(cache.apply_snapshot(W.convs([conv(1)]), epoch="e1", last_event_id=10))
    real = _apply.insert_item

    def overflow_on_second(db: Any, m: Any) -> bool:
        if m.seq == 2:
            real(db, m)  # half-written, then the rest fails: the savepoint undoes it
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return real(db, m)

    monkeypatch.setattr(_apply, "insert_item", overflow_on_second)
    with caplog.at_level("WARNING", logger="frontdesk.console.cache"):
        applied = arun(
            cache.apply_events(
                W.events(
                    [
                        event(11, "message.created", msg(1, 1, 1, "first")),
                        event(12, "message.created", msg(2, 1, 2, "second")),
                        event(13, "message.created", msg(3, 1, 3, "third")),
                    ]
                )
            )
        )
    assert [i.body for i in cache.thread(1)] == ["first", "third"]
    assert cache.cursor() == ("e1", 13)
    assert applied.items[1] == {"m1", "m3"}
    assert any("12" in r.getMessage() and "message.created" in r.getMessage() for r in caplog.records)


def test_malformed_known_event_is_logged_at_warning(cache: Cache, caplog: pytest.LogCaptureFixture) -> None:
    """A known event kind with malformed data is logged at WARNING with its kind and event_id; unknown kinds are not."""
    arun(cache.apply_snapshot(W.convs([conv(1)]), epoch="e1", last_event_id=10))
    with caplog.at_level("DEBUG", logger="frontdesk.console.cache"):
        arun(
            cache.apply_events(
                W.events([event(11, "conversation.updated", {"id": "x"}), event(12, "future.kind", {"a": 1})])
            )
        )
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "11" in warned[0] and "conversation.updated" in warned[0]
    assert cache.cursor() == ("e1", 12)


def test_visitor_names_are_the_servers_display_name(cache: Cache) -> None:
    """The inbox, the visitor details and notifications show the server's display_name, not a rule of their own."""
    blank = {"id": 101, "name": "  ", "display_name": "Visitor #101"}
    arun(cache.apply_snapshot(W.convs([conv(1, visitor=blank)]), epoch="e1", last_event_id=10))
    assert cache.conversation(1).visitor_name == "Visitor #101"  # type: ignore[union-attr]
    visitor = cache.visitor(101)
    assert visitor is not None and visitor.display_name == "Visitor #101" and visitor.name == "  "
    renamed = {"id": 101, "name": "Ann", "display_name": "Ann"}
    applied = arun(
        cache.apply_events(
            W.events([event(11, "visitor.updated", renamed), event(12, "message.created", msg(1, 1, 1, "hi"))])
        )
    )
    assert cache.conversation(1).visitor_name == "Ann"  # type: ignore[union-attr]
    assert [n.title for n in applied.notifications] == ["Ann"]


def test_display_name_migration_drops_the_cursor(tmp_path: Path) -> None:
    """Opening a cache from before display names (schema 6) forgets the cursor, so the next sync refetches a
    snapshot with every visitor's display_name; the epoch stays (a changed server is still noticed)."""
    path = cache_path(tmp_path, "http://h:1", "a@b.c")
    cache = Cache.open(path)
    arun(cache.apply_snapshot(W.convs([conv(1)]), epoch="e1", last_event_id=10))
    cache.close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM migrations WHERE version = 7")
        db.execute("ALTER TABLE visitors DROP COLUMN display_name")
    cache = Cache.open(path)
    try:
        assert cache.cursor() == ("e1", None)
        assert cache.conversation(1) is not None  # the rows stay, shown until the refetch
    finally:
        cache.close()


def test_db_atomic_commits_rolls_back_and_nests(tmp_path: Path) -> None:
    """The cache connection commits a statement on its own, a block on success, and undoes a failed block;
    a nested block is a savepoint that fails alone."""
    from frontdesk.console.core.cache._schema import connect

    db = connect(tmp_path / "t.sqlite3")
    try:
        db.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ZeroDivisionError), db.atomic():
            db.execute("INSERT INTO t VALUES (2)")
            _ = 1 / 0
        with db.atomic():
            db.execute("INSERT INTO t VALUES (3)")
            with pytest.raises(sqlite3.IntegrityError), db.atomic():
                db.execute("INSERT INTO t VALUES (4)")
                db.execute("INSERT INTO t VALUES (3)")
        assert not db.conn.in_transaction
        assert [r[0] for r in sqlite3.connect(tmp_path / "t.sqlite3").execute("SELECT x FROM t ORDER BY x")] == [1, 3]
    finally:
        db.close()


def test_assignment_to_someone_raises_an_assigned_notification(cache: Cache) -> None:
    """An "assigned" change to a new assignee notifies with assignee and actor; messages carry the assignee."""
    arun(cache.apply_snapshot(W.convs([conv(1, last_seq=1, preview="Help!")]), epoch="e", last_event_id=1))
    assigned = {**conv(1, assignee=7, last_seq=1, preview="Help!"), "change": "assigned", "actor_id": 2}
    applied = arun(cache.apply_events(W.events([event(2, "conversation.updated", assigned)])))
    [n] = applied.notifications
    assert (n.kind, n.conversation_id, n.body, n.assignee_id, n.actor_id) == ("assigned", 1, "Help!", 7, 2)
    again = {**assigned, "change": "open"}
    assert not arun(cache.apply_events(W.events([event(3, "conversation.updated", again)]))).notifications
    applied = arun(cache.apply_events(W.events([event(4, "message.created", msg(5, 1, 2, "Still there?"))])))
    assert [(n.kind, n.assignee_id) for n in applied.notifications] == [("new_message", 7)]


def test_the_visitors_read_receipt_is_kept(cache: Cache) -> None:
    """A live visitor ``seen`` records its seq and time; the durable seen_by_visitor (a replay) the seq only."""
    arun(cache.apply_snapshot(W.convs([conv(1, last_seq=3), conv(2, last_seq=2)]), epoch="e", last_event_id=1))
    assert (cache.conversation(1).visitor_seen_seq, cache.conversation(1).visitor_seen_at) == (0, None)  # type: ignore[union-attr]
    replayed = {**conv(2, last_seq=2), "change": "seen_by_visitor", "actor_id": None}
    arun(cache.apply_events(W.events([event(2, "conversation.updated", replayed)])))
    assert (cache.conversation(2).visitor_seen_seq, cache.conversation(2).visitor_seen_at) == (2, None)  # type: ignore[union-attr]
    seen = {"type": "event", "kind": "seen", "data": {"conversation_id": 2, "seq": 2, "side": "visitor"}}
    applied = arun(cache.apply_events(W.events([seen])))
    assert applied.conversations == {2}
    row = cache.conversation(2)
    assert row is not None and row.visitor_seen_seq == 2 and row.visitor_seen_at is not None
    older = {"type": "event", "kind": "seen", "data": {"conversation_id": 2, "seq": 1, "side": "visitor"}}
    arun(cache.apply_events(W.events([older])))
    assert cache.conversation(2).visitor_seen_seq == 2  # type: ignore[union-attr]
