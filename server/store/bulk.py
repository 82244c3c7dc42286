"""Bulk loading for the load tool (``frontdesk bench search``): rows written
straight into the tables with ``executemany`` on the store's own connection,
the search triggers firing for every row as in production. Not an operation
the server uses; it lives here because no SQL is written outside the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._sql import Tx

__all__ = ["after_bulk_load", "insert_bench_rows", "insert_report_bench_rows"]


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
    def many(sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        tx.many(sql, rows)

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


def insert_report_bench_rows(
    tx: Any,  # a backend's transaction: it holds its DB-API connection as ``conn``
    visitors: Sequence[tuple[Any, ...]],
    conversations: Sequence[tuple[Any, ...]],
    messages: Sequence[tuple[Any, ...]],
    events: Sequence[tuple[Any, ...]],
    surveys: Sequence[tuple[Any, ...]],
) -> None:
    """For ``frontdesk bench reports``: ``visitors`` and ``messages`` as :func:`insert_bench_rows`;
    ``conversations`` (id, tenant_id, visitor_id, status, assignee_id, team_id, label_ids, created_at,
    last_activity, last_seq, preview); ``events`` (event_id, tenant_id, kind, conversation_id, visitor_id,
    payload JSON, created_at), which ``reports.rebuild`` then turns into the reporting facts; ``surveys``
    (tenant_id, conversation_id, visitor_id, agent_id, episode, scale, rating, comment, created_at,
    rated_at, expires_at)."""
    def many(sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        tx.many(sql, rows)

    many(
        "INSERT INTO visitors (id, tenant_id, token_hash, name, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)",
        visitors,
    )
    many(
        "INSERT INTO conversations (id, tenant_id, visitor_id, status, assignee_id, team_id, label_ids, created_at,"
        " last_activity, last_seq, preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        conversations,
    )
    many(
        "INSERT INTO messages (id, conversation_id, seq, author_kind, author_id, body, created_at, event_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        messages,
    )
    many(
        "INSERT INTO events (event_id, tenant_id, kind, conversation_id, visitor_id, payload, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    many(
        "INSERT INTO csat_surveys (tenant_id, conversation_id, visitor_id, agent_id, episode, scale, rating, comment,"
        " created_at, rated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        surveys,
    )


def after_bulk_load(tx: Tx) -> None:
    """Bring the id sequences past the loaded rows (PostgreSQL) and refresh
    the planner's statistics, as an operator's routine maintenance would."""
    if tx.dialect == "postgres":
        for table in ("visitors", "conversations", "messages"):
            tx.run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    tx.run("ANALYZE")


