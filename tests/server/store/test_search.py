"""Full-text search (store/search.py, migration 0008) on every backend: one table of queries, the same answers."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.server import protocol
from frontdesk.server.store import Store, _sql, messages, visitors
from frontdesk.server.store import search as store_search

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


def _undo_0008(tx: _sql.Tx) -> None:
    """Take a database back to schema 7 (for the backfill test): undo 0010, 0009 and 0008, as the migration runner
    applies only the migrations above the highest one recorded. The rows written stay, unindexed."""
    if tx.dialect != "sqlite":
        tx.run("DROP TABLE blob_chunks")
        tx.run("DROP TABLE blobs")
    tx.run("DROP TABLE message_originals")
    for table, column in (("messages", "edited_at"), ("messages", "deleted"), ("agents", "away")):
        tx.run(f"ALTER TABLE {table} DROP COLUMN {column}")
    tx.run("DELETE FROM schema_migrations WHERE version > 8")
    if tx.dialect == "sqlite":
        for table in ("messages", "notes"):
            for op in ("insert", "update", "delete"):
                tx.run(f"DROP TRIGGER {table}_search_{op}")
        tx.run("DROP TABLE search_fts")
    else:
        tx.run("DROP TRIGGER messages_search ON messages")
        tx.run("DROP TRIGGER notes_search ON notes")
        tx.run("DROP FUNCTION frontdesk_search_entry")
        tx.run("DROP FUNCTION frontdesk_search_words")
    tx.run("DROP TABLE search_entries")
    tx.run("DELETE FROM schema_migrations WHERE version = 8")


def test_the_migration_indexes_existing_messages_and_notes(store_url: str) -> None:
    """Messages and notes written before 0008 are found once it has run, newest first."""

    async def before(store: Store) -> tuple[int, int]:
        w = await seed(store)
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
        await store.write(_undo_0008)
        return w.tenant, a["conversation_id"]

    tenant, alice_conv = run(store_url, before)

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
