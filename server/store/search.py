"""The store's search operation: full-text search of a tenant's messages and
notes (PROTOCOL.md, "Search"; migration 0008).

Both backends keep ``search_entries``, one row per message and per note
(tenant, conversation, and an id that grows with time), maintained by
triggers on every write, erasure included. The words live in a contentless
FTS5 table on SQLite and in a GIN-indexed ``tsvector`` on PostgreSQL
(``simple`` configuration), both over the same words: runs of letters and
digits, lowercased (``protocol.search_words``). A query is every word ANDed,
each matching as a prefix, so the same query finds the same conversations on
both backends.

The user's text never reaches the index's query language: the query is
rebuilt from its words (letters and digits only), each quoted, so FTS syntax
(quotes, ``*``, ``-``, ``NEAR``, parentheses) is only ever a separator.

Results are conversations ordered by their newest matching entry, newest
first, one hit per conversation, paged by that entry's id (``before``).

Collecting a page reads the newest entries' text first and tests it here
(``protocol.search_matches``, the same rule): a common word ("the", "order")
fills a page from a few hundred entries, where the index would first build
the full list of a prefix's postings (hundreds of thousands at a million
messages). When matches are rare among the newest entries, the index takes
over from where the scan stopped; a rare word is cheap there.

On SQLite the words of a new entry reach the FTS5 index off the write path
(migration 0017): the writer calls :func:`index_backlog` inside a batch it
commits anyway, once :func:`backlog` reaches its threshold or when idle, so
one index segment holds many messages instead of one each. The entries not
indexed yet are the newest, above ``search_progress.indexed_upto``; the scan
always reads past them before handing over to the index, so every committed
entry is found, indexed or not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .. import protocol
from . import _sql
from ._sql import Row, Tx

__all__ = ["INDEX_CHUNK", "MAX_BEFORE", "backlog", "fts5_query", "index_backlog", "search", "tsquery"]

#: Entries read per round from the index while collecting a page (one hit per conversation).
_BATCH = 200
#: The scan of the newest entries' text (see :func:`_candidates`): rows per
#: round, the most it reads, and the share of matches under which it hands
#: over to the index.
_SCAN_BATCH = 250
_SCAN_MAX = 4_000
_SCAN_MIN_RATE = 0.10
#: An entry's text, from its message or note.
_BODY = "COALESCE(m.body, n.body) AS body"
_BODY_JOINS = (
    "LEFT JOIN messages m ON e.kind = 'message' AND m.id = e.source_id"
    " LEFT JOIN notes n ON e.kind = 'note' AND n.id = e.source_id"
)
#: The largest entry id a ``before`` cursor may name.
MAX_BEFORE = protocol.MAX_INT
#: The most entries :func:`index_backlog` adds to the index in one call.
INDEX_CHUNK = 2_000


def backlog(tx: Tx) -> int:
    """How many entries wait for their words to reach the index (an upper
    bound: deleted entries' ids count too). Always 0 on PostgreSQL, whose
    entries carry their words from the start."""
    if tx.dialect != "sqlite":
        return 0
    row = tx.one("SELECT COALESCE((SELECT MAX(id) FROM search_entries), 0) - indexed_upto AS n FROM search_progress")
    return max(0, int(row["n"])) if row else 0


def index_backlog(tx: Tx, limit: int = INDEX_CHUNK) -> int:
    """Add the words of the oldest ``limit`` entries not yet indexed to the
    index, as their text is now, and move ``indexed_upto`` past them; returns
    how many. Run inside a write transaction (the writer's), never twice for
    one entry: ``indexed_upto`` moves in the same transaction."""
    if tx.dialect != "sqlite":
        return 0
    upto = _indexed_upto(tx)
    rows = tx.all(
        f"SELECT e.id, {_BODY} FROM search_entries e {_BODY_JOINS} WHERE e.id > ? ORDER BY e.id LIMIT ?",
        (upto, limit),
    )
    if not rows:
        return 0
    for row in rows:
        tx.run("INSERT INTO search_fts (rowid, body) VALUES (?, ?)", (row["id"], row["body"] or ""))
    tx.run("UPDATE search_progress SET indexed_upto = ?", (rows[-1]["id"],))
    return len(rows)


def _indexed_upto(tx: Tx) -> int:
    """Every entry with an id up to this is in the index; those above are not yet (SQLite's deferred index)."""
    if tx.dialect != "sqlite":
        return MAX_BEFORE + 1
    row = tx.one("SELECT indexed_upto FROM search_progress")
    return int(row["indexed_upto"]) if row else 0


def fts5_query(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression: every word as a quoted prefix, ANDed."""
    return " AND ".join('"' + w.replace('"', '""') + '"*' for w in words)


def tsquery(words: Sequence[str]) -> str:
    """A ``to_tsquery('simple', …)`` text: every word as a quoted prefix, ANDed."""
    return " & ".join("'" + w.replace("\\", "").replace("'", "") + "':*" for w in words)


def _matching(tx: Tx, tenant_id: int, words: Sequence[str], status: str | None, below: int, n: int) -> list[Row]:
    """Up to ``n`` matching entries of the tenant with an id below ``below``, newest first."""
    status_join = " JOIN conversations c ON c.id = e.conversation_id AND c.status = ?" if status else ""
    status_args: tuple[Any, ...] = (status,) if status else ()
    if tx.dialect == "sqlite":
        return tx.all(
            "SELECT e.id, e.conversation_id, e.kind, e.source_id FROM search_fts f"
            f" JOIN search_entries e ON e.id = f.rowid{status_join}"
            " WHERE search_fts MATCH ? AND f.rowid < ? AND e.tenant_id = ? ORDER BY f.rowid DESC LIMIT ?",
            (*status_args, fts5_query(words), below, tenant_id, n),
        )
    return tx.all(
        f"SELECT e.id, e.conversation_id, e.kind, e.source_id FROM search_entries e{status_join}"
        " WHERE e.tenant_id = ? AND e.words @@ to_tsquery('simple', ?) AND e.id < ? ORDER BY e.id DESC LIMIT ?",
        (*status_args, tenant_id, tsquery(words), below, n),
    )


def _matched_from(tx: Tx, conversation_id: int, words: Sequence[str], since: int) -> bool:
    """Whether the conversation has a matching entry with an id ≥ ``since``
    (then an earlier page already returned it). Reads the conversation's
    newer texts: a prefix query on the index would cost more for a common word."""
    rows = tx.all(
        f"SELECT {_BODY} FROM search_entries e {_BODY_JOINS} WHERE e.conversation_id = ? AND e.id >= ?",
        (conversation_id, since),
    )
    return any(protocol.search_matches(r["body"], list(words)) for r in rows)


def _scanned(
    tx: Tx, tenant_id: int, words: Sequence[str], status: str | None, below: int, indexed_upto: int
) -> Iterator[Row | int]:
    """The tenant's newest entries below ``below``, their text tested here:
    yields the matching entries, newest first, then (once) the id below
    which it stopped, when the index should take over (or nothing more, at
    the end). It stops when matches are rare (the index then costs less) or
    after :data:`_SCAN_MAX` entries, but never before it has read every entry
    above ``indexed_upto`` (the index does not have them yet)."""
    status_join = " JOIN conversations c ON c.id = e.conversation_id AND c.status = ?" if status else ""
    status_args: tuple[Any, ...] = (status,) if status else ()
    word_list = list(words)
    scanned = matched = 0
    while scanned < _SCAN_MAX or below > indexed_upto + 1:
        rows = tx.all(
            f"SELECT e.id, e.conversation_id, e.kind, e.source_id, {_BODY} FROM search_entries e"
            f"{status_join} {_BODY_JOINS} WHERE e.tenant_id = ? AND e.id < ? ORDER BY e.id DESC LIMIT ?",
            (*status_args, tenant_id, below, _SCAN_BATCH),
        )
        for row in rows:
            below = row["id"]
            if protocol.search_matches(row["body"], word_list):
                matched += 1
                yield row
        scanned += len(rows)
        if len(rows) < _SCAN_BATCH:
            return
        if below > indexed_upto + 1:
            continue  # entries not in the index yet remain below: only this scan can find them
        if matched < scanned * _SCAN_MIN_RATE:
            break
    yield below


def _candidates(tx: Tx, tenant_id: int, words: Sequence[str], status: str | None, below: int) -> Iterator[Row]:
    """Every matching entry of the tenant below ``below``, newest first: the
    newest by reading their text (a common word fills a page from a few
    hundred), the rest from the index (where a rare word is cheap)."""
    for item in _scanned(tx, tenant_id, words, status, below, _indexed_upto(tx)):
        if isinstance(item, int):
            below = item
            break
        yield item
    else:
        return
    while True:
        rows = _matching(tx, tenant_id, words, status, below, _BATCH)
        yield from rows
        if len(rows) < _BATCH:
            return
        below = rows[-1]["id"]


def _conversations(tx: Tx, tenant_id: int, ids: Sequence[int]) -> dict[int, protocol.ConversationWithVisitor]:
    marks = ", ".join("?" for _ in ids)
    rows = tx.all(
        "SELECT c.*, v.id AS v_id, v.name AS v_name, v.email AS v_email, v.user_id AS v_user_id,"
        " v.verified AS v_verified, v.browser AS v_browser, v.os AS v_os, v.language AS v_language,"
        " v.timezone AS v_timezone, v.page_url AS v_page_url, v.page_title AS v_page_title,"
        " v.referrer AS v_referrer, v.first_seen AS v_first_seen, v.last_seen AS v_last_seen"
        f" FROM conversations c JOIN visitors v ON v.id = c.visitor_id WHERE c.tenant_id = ? AND c.id IN ({marks})",
        (tenant_id, *ids),
    )
    out = {}
    for r in rows:
        visitor = _sql.visitor_obj({k[2:]: v for k, v in r.items() if k.startswith("v_")})
        conversation = _sql.conversation_obj(r)
        out[r["id"]] = protocol.ConversationWithVisitor(
            **{name: getattr(conversation, name) for name in protocol.wire_fields(protocol.Conversation)},
            visitor=visitor,
        )
    return out


def _sources(tx: Tx, kind: str, ids: Sequence[int]) -> dict[int, Row]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    if kind == "message":
        sql = f"SELECT id, seq, author_kind, body, created_at FROM messages WHERE id IN ({marks})"
    else:
        sql = f"SELECT id, seq, 'agent' AS author_kind, body, created_at FROM notes WHERE id IN ({marks})"
    return {r["id"]: r for r in tx.all(sql, tuple(ids))}


def search(
    tx: Tx,
    tenant_id: int,
    words: Sequence[str],
    *,
    status: str | None = None,
    before: int | None = None,
    limit: int = 20,
) -> tuple[list[protocol.SearchHit], int | None]:
    """The tenant's conversations with a message or note matching every one
    of ``words`` (as :func:`protocol.search_words` returns them; not empty),
    optionally only those of ``status``: one hit per conversation, ordered by
    its newest match, newest first, at most ``limit``; and the ``before`` of
    the next page (None on the last). ``before`` is the previous page's.
    Notes are included: this is for agents only."""
    if not words:
        raise ValueError("nothing to search for")
    found: list[Row] = []
    seen: set[int] = set()
    below = MAX_BEFORE + 1 if before is None else before
    for row in _candidates(tx, tenant_id, words, status, below):
        cid = row["conversation_id"]
        if cid in seen:
            continue
        seen.add(cid)
        if before is not None and _matched_from(tx, cid, words, before):
            continue  # its newest match is at or after the cursor: an earlier page had it
        found.append(row)
        if len(found) > limit:
            break
    more = len(found) > limit
    found = found[:limit]
    if not found:
        return [], None
    conversations = _conversations(tx, tenant_id, [r["conversation_id"] for r in found])
    sources = {
        kind: _sources(tx, kind, [r["source_id"] for r in found if r["kind"] == kind]) for kind in ("message", "note")
    }
    word_list = list(words)
    hits = []
    for row in found:
        source = sources[row["kind"]][row["source_id"]]
        snippet, highlights = protocol.search_snippet(source["body"], word_list)
        hits.append(
            protocol.SearchHit(
                conversation=conversations[row["conversation_id"]],
                match=protocol.SearchMatch(
                    kind=row["kind"],
                    id=source["id"],
                    seq=source["seq"],
                    author_kind=source["author_kind"],
                    created_at=source["created_at"],
                    snippet=snippet,
                    highlights=highlights,
                ),
            )
        )
    return hits, (found[-1]["id"] if more else None)
