"""Full-text search (store/search.py, migration 0008) on every backend: one table of queries, the same answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server import protocol
from frontdesk.server.store import Store, _sql, messages, visitors
from frontdesk.server.store import search as store_search
from frontdesk.server.store import sqlite as sqlite_store

from tests.server.store.test_contract import World, cid, reply, run, say, seed, status

#: The corpus: a label per conversation, and what is said in it (visitor first, then agents).
CORPUS: dict[str, list[str]] = {
    "pdf": ["Hello, can you send the invoice as a PDF?", "Sure, the invoice.pdf is attached"],
    "refund": ["I want a refund for order #4521", "Refunds take 5-7 business days"],
    "cafe": ["Is the Café open on Sunday?", "Yes: café hours are 9–17"],
    "email": ["My address is jo.smith@example.com, please write", "Noted, Jo"],
    "syntax": ['He said "NEAR" (twice) - and left * quickly', "snake_case_name and x-ray"],
    "greek": ["Καλημέρα, χρειάζομαι βοήθεια", "Straße 12, München"],
}

#: (query, the labels it finds). The same on SQLite (FTS5) and PostgreSQL (tsvector, simple).
QUERIES: list[tuple[str, set[str]]] = [
    ("pdf", {"pdf"}),
    ("PDF", {"pdf"}),
    ("invoice pdf", {"pdf"}),
    ("inv", {"pdf"}),  # a prefix
    ("invoice refund", set()),  # every word, in one message
    ("refund", {"refund"}),  # "Refunds" too, by prefix
    ("4521", {"refund"}),
    ("5", {"refund"}),
    ("café", {"cafe"}),
    ("CAFÉ", {"cafe"}),
    ("cafe", set()),  # diacritics are kept, as PostgreSQL's simple configuration keeps them
    ("example.com", {"email"}),  # an address is its words
    ("smith@example", {"email"}),
    ("jo", {"email"}),
    ('"near"', {"syntax"}),
    ("NEAR(twice left)", {"syntax"}),
    ("-and", {"syntax"}),
    ("quick*", {"syntax"}),
    ("(twice", {"syntax"}),
    ("snake_case", {"syntax"}),
    ("x-ray", {"syntax"}),
    ("' OR 1=1 --", set()),
    ("a AND OR NOT", set()),
    ("ΚΑΛΗΜΈΡΑ", {"greek"}),
    ("straße münchen", {"greek"}),
    ("hours 9", {"cafe"}),
]


async def _corpus(store: Store, w: World) -> dict[str, int]:
    """Each CORPUS conversation (visitor message, then an agent reply); label → conversation id."""
    ids = {}
    for i, (label, (first, answer)) in enumerate(CORPUS.items()):
        visitor = await store.write(visitors.create_visitor, w.tenant, f"tok-search-{i}", {"name": f"V{i}"})
        said = await say(store, w, visitor.id, first, client_id=cid())
        await reply(store, w, w.agent, said["conversation_id"], answer)
        ids[label] = said["conversation_id"]
    return ids


async def _find(store: Store, tenant: int, q: str, **kw: Any) -> list[protocol.SearchHit]:
    words = protocol.search_words(q)
    if not words:
        return []
    hits, _ = await store.read(store_search.search, tenant, words, **kw)
    return hits


@pytest.fixture(params=["scan", "index", "mixed"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which way the matches are collected: reading the newest texts (the default
    on small data), the index alone (what rare words take on large data), or
    the first two texts and then the index from where they stopped."""
    if request.param == "index":
        monkeypatch.setattr(store_search, "_SCAN_MAX", 0)
    elif request.param == "mixed":
        monkeypatch.setattr(store_search, "_SCAN_BATCH", 2)
        monkeypatch.setattr(store_search, "_SCAN_MIN_RATE", 1.01)
    if request.param != "scan":  # SQLite's index then holds every entry at once (its writer defers them: 0017)
        monkeypatch.setattr(sqlite_store, "SEARCH_INDEX_BATCH", 1)
    return str(request.param)


def test_the_same_queries_find_the_same_conversations(store_url: str, path: str) -> None:
    """Every query of the shared table finds exactly its conversations, reading the texts or the index alike."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        ids = await _corpus(store, w)
        label = {v: k for k, v in ids.items()}
        for q, expected in QUERIES:
            hits = await _find(store, w.tenant, q)
            assert {label[h.conversation.id] for h in hits} == expected, q

    run(store_url, scenario)


def test_hits_carry_the_newest_match_with_highlights_and_the_visitor(store_url: str) -> None:
    """A hit names the newest matching message, a snippet of it and where the words are; one hit per conversation."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        ids = await _corpus(store, w)
        (hit,) = await _find(store, w.tenant, "invoice")
        assert hit.conversation.id == ids["pdf"] and hit.conversation.visitor.name == "V0"
        assert hit.match.kind == "message" and hit.match.author_kind == "agent" and hit.match.seq == 2
        assert hit.match.snippet == "Sure, the invoice.pdf is attached"
        assert [hit.match.snippet[a:b] for a, b in hit.match.highlights] == ["invoice"]
        (hit,) = await _find(store, w.tenant, "pdf inv")
        assert [hit.match.snippet[a:b] for a, b in hit.match.highlights] == ["invoice", "pdf"]

    run(store_url, scenario)


def test_search_is_scoped_to_the_tenant(store_url: str) -> None:
    """Another tenant's messages are never found."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        await say(store, w, w.alice, "zebra crossing", client_id=cid())
        foreign = await store.write(
            messages.post_message,
            w.other_tenant,
            author_kind="visitor",
            author_id=w.foreign_visitor,
            conversation_id=None,
            client_id=cid(),
            body="zebra stripes",
        )
        assert [h.match.snippet for h in await _find(store, w.tenant, "zebra")] == ["zebra crossing"]
        hits = await _find(store, w.other_tenant, "zebra")
        assert [h.conversation.id for h in hits] == [foreign.conversation_id]

    run(store_url, scenario)


def test_notes_are_found_and_status_narrows(store_url: str, path: str) -> None:
    """A private note matches (kind "note"); ``status`` keeps only conversations of that status."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        a = await say(store, w, w.alice, "about my parcel", client_id=cid())
        c = await say(store, w, w.carol, "parcel lost", client_id=cid())
        await store.write(
            messages.post_note,
            w.tenant,
            agent_id=w.agent,
            conversation_id=a["conversation_id"],
            client_id=cid(),
            body="Parcel went to the depot",
        )
        await status(store, w, c["conversation_id"], "pend")
        hits = await _find(store, w.tenant, "parcel")
        assert [(h.conversation.id, h.match.kind) for h in hits] == [
            (a["conversation_id"], "note"),
            (c["conversation_id"], "message"),
        ]
        pending = await _find(store, w.tenant, "parcel", status="pending")
        assert [h.conversation.id for h in pending] == [c["conversation_id"]]
        assert await _find(store, w.tenant, "parcel", status="resolved") == []

    run(store_url, scenario)


def test_pages_hold_each_conversation_once(store_url: str, path: str) -> None:
    """Paging with ``before`` walks every matching conversation once, newest match first, then ends."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        convs = []
        for i in range(7):
            v = await store.write(visitors.create_visitor, w.tenant, f"tok-page-{i}", {})
            convs.append((await say(store, w, v.id, f"ticket {i}", client_id=cid()))["conversation_id"])
        # Older conversations match again later: they move up, and must not come twice.
        await reply(store, w, w.agent, convs[1], "ticket again")
        await reply(store, w, w.agent, convs[0], "ticket once more")
        order = [convs[0], convs[1], convs[6], convs[5], convs[4], convs[3], convs[2]]
        seen: list[int] = []
        before = None
        for _ in range(10):
            hits, before = await store.read(store_search.search, w.tenant, ["ticket"], before=before, limit=3)
            seen += [h.conversation.id for h in hits]
            if before is None:
                break
        assert seen == order

    run(store_url, scenario)


def test_edits_and_deletions_keep_the_index_in_step(store_url: str, path: str) -> None:
    """A message whose body changes is found by its new words only; a deleted one is not found."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        said = await say(store, w, w.alice, "wrong words", client_id=cid())
        await store.write(
            lambda tx: tx.run("UPDATE messages SET body = 'right words' WHERE id = ?", (said["message"]["id"],))
        )
        assert await _find(store, w.tenant, "wrong") == []
        assert [h.match.snippet for h in await _find(store, w.tenant, "right")] == ["right words"]
        await store.write(lambda tx: tx.run("DELETE FROM messages WHERE id = ?", (said["message"]["id"],)))
        assert await _find(store, w.tenant, "words") == []
        assert await store.read(lambda tx: tx.all("SELECT * FROM search_entries")) == []

    run(store_url, scenario)


def _index_state(tx: _sql.Tx) -> tuple[int, int]:
    """(the highest entry id, SQLite's ``indexed_upto``)."""
    top = tx.one("SELECT COALESCE(MAX(id), 0) AS n FROM search_entries")
    upto = tx.one("SELECT indexed_upto FROM search_progress")
    assert top is not None and upto is not None
    return int(top["n"]), int(upto["indexed_upto"])


def _in_index(tx: _sql.Tx, word: str) -> list[int]:
    """The entry ids SQLite's full-text index itself holds for ``word`` (no scan of the texts)."""
    return [r["rowid"] for r in tx.all("SELECT rowid FROM search_fts WHERE search_fts MATCH ?", (f'"{word}"',))]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database (the deferred index is SQLite's alone)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_entries_not_yet_indexed_are_found_by_the_scan(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rare word in an entry the writer has not indexed yet is found even where the scan would otherwise hand
    over to the index after its first rows (SQLite defers the index: migration 0017)."""
    monkeypatch.setattr(store_search, "_SCAN_BATCH", 2)
    monkeypatch.setattr(store_search, "_SCAN_MIN_RATE", 1.01)
    monkeypatch.setattr(sqlite_store, "SEARCH_INDEX_BATCH", 1_000)

    async def scenario(store: Store) -> None:
        w = await seed(store)
        said = await say(store, w, w.alice, "the kettle leaks", client_id=cid())
        for n in range(6):
            await reply(store, w, w.agent, said["conversation_id"], f"filler {n}")
        top, upto = await store.read(_index_state)
        assert upto < top  # nothing of it reached the index
        assert await store.read(_in_index, "kettle") == []
        hits = await _find(store, w.tenant, "kettle")
        assert [h.match.snippet for h in hits] == ["the kettle leaks"]

    run(sqlite_url, scenario)


def test_the_writer_indexes_in_batches_of_its_threshold(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries wait until the threshold is reached, then one write batch adds them all to the index."""
    monkeypatch.setattr(sqlite_store, "SEARCH_INDEX_BATCH", 3)

    async def scenario(store: Store) -> None:
        w = await seed(store)
        said = await say(store, w, w.alice, "teapot one", client_id=cid())
        await reply(store, w, w.agent, said["conversation_id"], "teapot two")
        assert await store.read(_in_index, "teapot") == []
        await reply(store, w, w.agent, said["conversation_id"], "teapot three")
        await store.write(lambda tx: None)  # the batch after the third entry indexes the three
        top, upto = await store.read(_index_state)
        assert upto == top
        assert len(await store.read(_in_index, "teapot")) == 3

    run(sqlite_url, scenario)


def test_an_idle_writer_indexes_what_waits(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Below the threshold, the writer's idle round indexes the waiting entries."""
    monkeypatch.setattr(sqlite_store, "EXTERNAL_POLL_S", 0.01)

    async def scenario(store: Store) -> None:
        w = await seed(store)
        await say(store, w, w.alice, "lonely samovar", client_id=cid())
        for _ in range(500):
            top, upto = await store.read(_index_state)
            if upto == top:
                break
            await asyncio.sleep(0.01)
        assert upto == top
        assert len(await store.read(_in_index, "samovar")) == 1

    run(sqlite_url, scenario)


def test_edits_and_deletions_before_indexing_leave_a_sound_index(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry edited before the writer indexes it is indexed with its new words; one deleted never is; the
    index passes FTS5's integrity check."""
    monkeypatch.setattr(sqlite_store, "SEARCH_INDEX_BATCH", 1_000)

    async def scenario(store: Store) -> None:
        w = await seed(store)
        edited = await say(store, w, w.alice, "wrong words", client_id=cid())
        gone = await say(store, w, w.carol, "doomed words", client_id=cid())
        await store.write(
            lambda tx: tx.run("UPDATE messages SET body = 'right words' WHERE id = ?", (edited["message"]["id"],))
        )
        await store.write(lambda tx: tx.run("DELETE FROM messages WHERE id = ?", (gone["message"]["id"],)))
        assert await store.write(store_search.index_backlog) == 1
        assert len(await store.read(_in_index, "right")) == 1
        assert await store.read(_in_index, "wrong") == []
        assert await store.read(_in_index, "doomed") == []
        await store.write(
            lambda tx: tx.run("UPDATE messages SET body = 'final text' WHERE id = ?", (edited["message"]["id"],))
        )
        assert await store.read(_in_index, "right") == []
        assert len(await store.read(_in_index, "final")) == 1
        await store.write(lambda tx: tx.run("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')"))

    run(sqlite_url, scenario)


def _undo_0008(tx: _sql.Tx) -> None:
    """Take a database back to schema 7 (for the backfill test), with 0017, which builds on 0008, undone too."""
    if tx.dialect == "sqlite":
        for table in ("messages", "notes"):
            for op in ("insert", "update", "delete"):
                tx.run(f"DROP TRIGGER {table}_search_{op}")
        tx.run("DROP TABLE search_fts")
        tx.run("DROP TABLE search_progress")
        tx.run("DELETE FROM schema_migrations WHERE version = 17")
    else:
        tx.run("DROP TRIGGER messages_search ON messages")
        tx.run("DROP TRIGGER notes_search ON notes")
        tx.run("DROP FUNCTION frontdesk_search_entry")
        tx.run("DROP FUNCTION frontdesk_search_words")
    tx.run("DROP TABLE search_entries")
    tx.run("DELETE FROM schema_migrations WHERE version = 8")


def _rerun_0008(url: str) -> None:
    """Run migration 0008 again, as it ships, on a database :func:`_undo_0008` took it out of (later migrations stay
    applied, so the store's own runner, which continues from the highest version, would not run it)."""
    import contextlib
    import sqlite3

    from frontdesk.server.store import sqlite_path
    from frontdesk.server.store.base import shipped_migrations

    dialect = "sqlite" if url.startswith("sqlite:") else "postgres"
    sql = next(text for version, _, text in shipped_migrations(dialect) if version == 8)
    record = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (8, 'search', 0)"
    if dialect == "sqlite":
        deferred = next(text for version, _, text in shipped_migrations(dialect) if version == 17)
        record_deferred = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (17, 'search_deferred', 0)"
        with contextlib.closing(sqlite3.connect(sqlite_path(url))) as db:
            db.executescript(f"BEGIN;\n{sql}\n{record};\n{deferred}\n{record_deferred};\nCOMMIT;")
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute(sql.encode())
            conn.execute(record)


def test_the_migration_indexes_existing_messages_and_notes(store_url: str) -> None:
    """Messages and notes written before 0008 are found once it has run, newest first."""

    async def before(store: Store) -> tuple[int, int]:
        w = await seed(store)
        await store.write(_undo_0008)
        a = await say(store, w, w.alice, "legacy kettle", client_id=cid())
        await say(store, w, w.carol, "another kettle", client_id=cid())
        await store.write(
            messages.post_note,
            w.tenant,
            agent_id=w.agent,
            conversation_id=a["conversation_id"],
            client_id=cid(),
            body="kettle note",
        )
        return w.tenant, a["conversation_id"]

    tenant, alice_conv = run(store_url, before)
    _rerun_0008(store_url)

    async def after(store: Store) -> None:
        hits = await _find(store, tenant, "kettle")
        assert [(h.match.kind, h.match.snippet) for h in hits] == [
            ("note", "kettle note"),
            ("message", "another kettle"),
        ]
        assert hits[0].conversation.id == alice_conv

    run(store_url, after)


def test_an_empty_query_is_refused(store_url: str) -> None:
    """The store refuses to search for nothing (the handler answers `invalid` before)."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        with pytest.raises(ValueError):
            await store.read(store_search.search, w.tenant, [])

    run(store_url, scenario)
