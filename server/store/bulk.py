"""Bulk loading for the load tool (``frontdesk bench search``): rows written
straight into the tables with ``executemany`` on the store's own connection,
the search triggers firing for every row as in production. Not an operation
the server uses; it lives here because no SQL is written outside the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._sql import Tx

__all__ = ["after_bulk_load", "insert_bench_rows"]


def insert_bench_rows(
    tx: Any,  # a backend's transaction: it holds its DB-API connection as ``conn``
    visitors: Sequence[tuple[Any, ...]],
    conversations: Sequence[tuple[Any, ...]],
    messages: Sequence[tuple[Any, ...]],
) -> None:
    """Insert ``visitors`` (id, tenant_id, token_hash, name, first_seen,
    last_seen), ``conversations`` (id, tenant_id, visitor_id, status,
    created_at, last_activity, last_seq, preview) and ``messages`` (id,
    conversation_id, seq, author_kind, author_id, body, created_at, event_id)."""
    postgres = tx.dialect == "postgres"
    mark = "%s" if postgres else "?"
    conn = tx.conn

    def many(sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        sql = sql.replace("?", mark)
        if postgres:
            with conn.cursor() as cur:
                cur.executemany(sql, rows)
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


def after_bulk_load(tx: Tx) -> None:
    """Bring the id sequences past the loaded rows (PostgreSQL) and refresh
    the planner's statistics, as an operator's routine maintenance would."""
    if tx.dialect == "postgres":
        for table in ("visitors", "conversations", "messages"):
            tx.run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    tx.run("ANALYZE")
