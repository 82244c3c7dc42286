"""The store's job operations: the one durable "do this later" table.

DESIGN.md ("Growing it"): outgoing email, webhook deliveries, snooze
wake-ups, follow-ups and cleanups are all "do this later, at least once,
surviving a restart". Each is a row of ``jobs`` (migration 0005). A node
*claims* due rows by writing a lease (its name and an expiry) in the same
transaction that reads them, runs them, then *completes* (deletes) or *fails*
(reschedules with backoff, or marks dead) each one.

Exactly one node runs a job at a time: a claim only takes rows whose lease is
absent or expired, inside a write transaction (SQLite has one writer; on
PostgreSQL the rows are read ``FOR UPDATE SKIP LOCKED``, so concurrent
claimers take disjoint rows). A node that dies mid-job loses its lease when it
expires and another node runs the job again: handlers must be idempotent
(at least once, never silently dropped).

Every function takes a :class:`~frontdesk.server.store._sql.Tx` and runs
through :meth:`Store.write`; ``now`` is always passed in (time is injected,
DESIGN.md), never read here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._sql import Row, Tx

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "Job",
    "claim",
    "complete",
    "dead_jobs",
    "enqueue",
    "erase_visitor_jobs",
    "fail",
    "next_due",
    "pending",
    "renew",
]

#: Attempts before a job is marked dead (kept for an operator to inspect).
DEFAULT_MAX_ATTEMPTS = 8


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """One claimed or stored job."""

    id: int
    kind: str
    payload: dict[str, Any]
    tenant_id: int | None
    visitor_id: int | None
    dedupe_key: str | None
    state: str
    due_at: int
    #: Attempts started so far, this one included once claimed.
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_until: int | None
    last_error: str | None
    created_at: int

    @classmethod
    def from_row(cls, row: Row) -> Job:
        fields = {f.name: row[f.name] for f in dataclasses.fields(cls)}
        fields["payload"] = json.loads(row["payload"])
        return cls(**fields)


def enqueue(
    tx: Tx,
    kind: str,
    payload: Mapping[str, Any],
    *,
    now: int,
    due_at: int | None = None,
    tenant_id: int | None = None,
    visitor_id: int | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """Store a job due at ``due_at`` (default: now); its id.

    With ``dedupe_key``, at most one queued job has that key: enqueueing it
    again replaces the payload and due time of the waiting one and resets its
    attempts (a debounce: a burst of replies becomes one email). A job whose
    lease is held is left to finish and a new row is not made: the holder's
    completion then removes the key, so the caller should enqueue after it.
    A visitor's data in ``payload`` must come with ``visitor_id`` so that
    erasure finds the job.
    """
    if not kind:
        raise ValueError("a job needs a kind")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    due = now if due_at is None else due_at
    row = tx.one(
        "INSERT INTO jobs (kind, payload, tenant_id, visitor_id, dedupe_key, due_at, max_attempts, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (dedupe_key) DO UPDATE SET payload = excluded.payload, due_at = excluded.due_at,"
        " attempts = 0, max_attempts = excluded.max_attempts, state = 'queued', last_error = NULL"
        " WHERE jobs.lease_owner IS NULL"
        " RETURNING id",
        (kind, json.dumps(dict(payload)), tenant_id, visitor_id, dedupe_key, due, max_attempts, now),
    )
    if row is None:  # the keyed job is running right now; it keeps its id
        held = tx.one("SELECT id FROM jobs WHERE dedupe_key = ?", (dedupe_key,))
        assert held is not None
        return int(held["id"])
    return int(row["id"])


def claim(
    tx: Tx, owner: str, *, now: int, lease_ms: int, limit: int = 16, kinds: Sequence[str] | None = None
) -> list[Job]:
    """Lease up to ``limit`` due jobs to ``owner`` until ``now + lease_ms``; the claimed jobs.

    Due means queued, ``due_at <= now``, and no live lease (none, or one that
    expired: its node died or stalled). Oldest due first. Each claim counts
    as an attempt.
    """
    where = "state = 'queued' AND due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
    params: list[Any] = [now, now]
    if kinds is not None:
        if not kinds:
            return []
        where += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        params.extend(kinds)
    lock = " FOR UPDATE SKIP LOCKED" if tx.dialect == "postgres" else ""
    ids = [
        r["id"]
        for r in tx.all(f"SELECT id FROM jobs WHERE {where} ORDER BY due_at, id LIMIT ?{lock}", (*params, limit))
    ]
    if not ids:
        return []
    rows = tx.all(
        f"UPDATE jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1"
        f" WHERE id IN ({', '.join('?' for _ in ids)}) RETURNING *",
        (owner, now + lease_ms, *ids),
    )
    return sorted((Job.from_row(r) for r in rows), key=lambda j: (j.due_at, j.id))


def renew(tx: Tx, job_id: int, owner: str, *, now: int, lease_ms: int) -> bool:
    """Extend ``owner``'s lease on a running job; False if the lease was lost."""
    return (
        tx.run("UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ?", (now + lease_ms, job_id, owner)) == 1
    )


def complete(tx: Tx, job_id: int, owner: str) -> bool:
    """Remove a job ``owner`` ran to the end; False if its lease had passed to another node
    (which then runs it again: at least once)."""
    return tx.run("DELETE FROM jobs WHERE id = ? AND lease_owner = ?", (job_id, owner)) == 1


def fail(tx: Tx, job_id: int, owner: str, error: str, *, now: int, retry_in_ms: int) -> str | None:
    """Record a failed attempt of ``owner``'s job: retry it ``retry_in_ms`` from ``now``,
    or mark it dead once it has used its attempts. The job's new state
    (``"queued"`` or ``"dead"``), or None if the lease had been lost."""
    row = tx.one("SELECT attempts, max_attempts FROM jobs WHERE id = ? AND lease_owner = ?", (job_id, owner))
    if row is None:
        return None
    state = "dead" if row["attempts"] >= row["max_attempts"] else "queued"
    tx.run(
        "UPDATE jobs SET state = ?, due_at = ?, lease_owner = NULL, lease_until = NULL, last_error = ? WHERE id = ?",
        (state, now + retry_in_ms, error[:2000], job_id),
    )
    return state


def next_due(tx: Tx, *, now: int, kinds: Sequence[str] | None = None) -> int | None:
    """When the next queued job (of ``kinds``, when given) becomes claimable (ms), or None when there is none."""
    where = "state = 'queued'"
    params: tuple[str, ...] = ()
    if kinds is not None:
        if not kinds:
            return None
        where += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        params = tuple(kinds)
    row = tx.one(
        "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > due_at THEN lease_until ELSE due_at END) AS t"
        f" FROM jobs WHERE {where}",
        params,
    )
    return None if row is None or row["t"] is None else int(row["t"])


def pending(tx: Tx, kind: str | None = None) -> list[Job]:
    """Every queued job (of ``kind``), oldest due first — for tests, ``verify`` and operators."""
    if kind is None:
        rows = tx.all("SELECT * FROM jobs WHERE state = 'queued' ORDER BY due_at, id")
    else:
        rows = tx.all("SELECT * FROM jobs WHERE state = 'queued' AND kind = ? ORDER BY due_at, id", (kind,))
    return [Job.from_row(r) for r in rows]


def dead_jobs(tx: Tx) -> list[Job]:
    """Jobs that used up their attempts, newest first, with their last error."""
    return [Job.from_row(r) for r in tx.all("SELECT * FROM jobs WHERE state = 'dead' ORDER BY id DESC")]


def erase_visitor_jobs(tx: Tx, visitor_id: int) -> int:
    """Delete every job holding this visitor's data (part of a visitor erasure); how many."""
    return tx.run("DELETE FROM jobs WHERE visitor_id = ?", (visitor_id,))
