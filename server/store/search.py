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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import protocol
from . import _sql
from ._sql import Row, Tx

__all__ = ["MAX_BEFORE", "fts5_query", "search", "tsquery"]

#: Entries read per round while collecting a page (one hit per conversation).
_BATCH = 200
#: The largest entry id a ``before`` cursor may name.
MAX_BEFORE = protocol.MAX_INT


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
    (then an earlier page already returned it)."""
    if tx.dialect == "sqlite":
        row = tx.one(
            "SELECT 1 FROM search_fts WHERE search_fts MATCH ? AND rowid IN"
            " (SELECT id FROM search_entries WHERE conversation_id = ? AND id >= ?) LIMIT 1",
            (fts5_query(words), conversation_id, since),
        )
    else:
        row = tx.one(
            "SELECT 1 FROM search_entries WHERE conversation_id = ? AND id >= ?"
            " AND words @@ to_tsquery('simple', ?) LIMIT 1",
            (conversation_id, since, tsquery(words)),
        )
    return row is not None


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
    while len(found) <= limit:
        rows = _matching(tx, tenant_id, words, status, below, _BATCH)
        for row in rows:
            below = row["id"]
            cid = row["conversation_id"]
            if cid in seen:
                continue
            seen.add(cid)
            if before is not None and _matched_from(tx, cid, words, before):
                continue  # its newest match is at or after the cursor: an earlier page had it
            found.append(row)
            if len(found) > limit:
                break
        if len(rows) < _BATCH:
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
