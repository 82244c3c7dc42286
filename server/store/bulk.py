"""Bulk loading of synthetic conversations, for the benchmark's big data sets (``frontdesk bench search``).

Rows go in with ``executemany`` on the store's own connection, inside one of its write transactions, so every
trigger fires as it does for a real write (the search index is kept in step); what they skip is the per-message
write path (idempotency, events, fan-out), which a million-message data set does not need. Never used by the
server itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._sql import Tx

__all__ = ["after_load", "load_conversations"]

#: (id, tenant_id, token_hash, name, first_seen, last_seen)
VisitorRow = tuple[int, int, str, str, int, int]
#: (id, tenant_id, visitor_id, status, created_at, last_activity, last_seq, preview)
ConversationRow = tuple[int, int, int, str, int, int, int, str]
#: (id, conversation_id, seq, author_kind, author_id, body, created_at, event_id)
MessageRow = tuple[int, int, int, str, int | None, str, int, int]


def load_conversations(
    tx: Tx,
    tenant_id: int,
    visitors: Sequence[VisitorRow],
    conversations: Sequence[ConversationRow],
    messages: Sequence[MessageRow],
) -> None:
    """Insert the given visitors, conversations and messages of ``tenant_id`` as they are (ids included)."""
    if any(row[1] != tenant_id for row in (*visitors, *conversations)):
        raise ValueError("every loaded visitor and conversation must belong to the tenant named")
    postgres = tx.dialect == "postgres"
    conn: Any = getattr(tx, "conn", None)
    if conn is None:
        raise TypeError("bulk loading needs the store's own connection")

    def many(sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if postgres:
            with conn.cursor() as cur:
                cur.executemany(sql.replace("?", "%s"), rows)
        else:
            conn.executemany(sql, rows)

    many(
        "INSERT INTO visitors (id, tenant_id, token_hash, name, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)",
        visitors,
    )
    many(
        "INSERT INTO conversations (id, tenant_id, visitor_id, status, created_at, last_activity, last_seq, preview)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        conversations,
    )
    many(
        "INSERT INTO messages (id, conversation_id, seq, author_kind, author_id, body, created_at, event_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        messages,
    )


def after_load(tx: Tx) -> None:
    """Move the id sequences past the loaded rows (PostgreSQL) and refresh the planner's statistics, as an
    operator's routine maintenance would."""
    if tx.dialect == "postgres":
        for table in ("visitors", "conversations", "messages"):
            tx.run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    tx.run("ANALYZE")
