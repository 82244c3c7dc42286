"""Auto-assignment: the queue of unassigned conversations and the assigner's
sweep (issue 15, item 5; PROTOCOL.md, "Auto-assignment").

Off by default, per tenant (``auto_assign``: conversations in no team) and per
team (``auto_assign_teams``: a team's conversations go to its own members).
Where it is on, every open, unsnoozed, unassigned conversation waits in a
queue (one per team, and one for those in no team), oldest first (by
``queued_at`` when it went back into the queue, else by ``created_at``). A
*sweep* hands queued conversations out, one at a time, to the agents who
qualify (the team's members, for a team's): online (the caller says who: presence lives in the hubs, not here),
not away, active, and under ``agent_capacity`` open or pending conversations;
the least loaded first, ties to the one idle longest (``last_assigned_at``:
set by this sweep, a manual assignment and a transfer), then the lowest id.
Outside business hours nobody qualifies. Each assignment is
``conversation.updated`` with change ``auto_assigned`` and the
conversation's ``assign_reason`` ``auto``.

One assigner at a time, on any number of nodes: a sweep is a write, and on
PostgreSQL every write of a tenant holds that tenant's advisory lock until
COMMIT (store/postgres.py), so two sweeps of one tenant run one after the
other and the second sees the first's assignments; the queue's rows are also
read ``FOR UPDATE SKIP LOCKED``, and each assignment only takes a conversation
that is still unassigned. SQLite has one writer. Sweeps are asked for as a job
(:data:`SWEEP_JOB`, one queued per tenant by its dedupe key), so whichever node
claims it runs it.

A conversation the visitor reopens while its assignee is offline goes back
into the queue after ``reassign_grace_minutes`` if the assignee is still
offline then (:func:`reopened` enqueues the :data:`GRACE_JOB` check,
:func:`return_to_queue` does it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from .. import domain
from . import jobs
from ._sql import Tx
from .conversations import _conversation_changed, note_assigned
from .tenants import tenant_config

__all__ = [
    "GRACE_JOB",
    "SWEEP_JOB",
    "Sweep",
    "assign_settings",
    "queue",
    "reopened",
    "request_sweep",
    "return_to_queue",
    "sweep",
]

#: The job kind of a sweep; payload ``{}`` (its ``tenant_id`` says whose queue).
SWEEP_JOB = "assign.sweep"
#: The job kind of the grace check of a reopened conversation; payload ``{conversation_id, assignee_id}``.
GRACE_JOB = "assign.grace"


@dataclasses.dataclass(frozen=True, slots=True)
class AssignSettings:
    """A tenant's auto-assignment knobs (its configuration)."""

    enabled: bool  #: conversations in no team are auto-assigned
    teams: tuple[int, ...]  #: the teams whose conversations are auto-assigned
    capacity: int
    grace_ms: int
    config: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Sweep:
    """What a sweep did: the assignments made, and who still waits, in queue order."""

    enabled: bool
    #: (conversation id, visitor id, agent id) of each assignment, in the order made.
    assigned: list[tuple[int, int, int]]
    #: (conversation id, visitor id, place in its queue) still waiting, first in line first.
    waiting: list[tuple[int, int, int]]


def assign_settings(tx: Tx, tenant_id: int) -> AssignSettings:
    """The tenant's auto-assignment settings."""
    row = tx.one("SELECT config FROM tenants WHERE id = ?", (tenant_id,))
    config = tenant_config(row or {})
    return AssignSettings(
        enabled=bool(config.get("auto_assign")),
        teams=tuple(int(t) for t in config.get("auto_assign_teams") or ()),
        capacity=int(config.get("agent_capacity", 5)),
        grace_ms=int(config.get("reassign_grace_minutes", 10)) * 60_000,
        config=config,
    )


def request_sweep(tx: Tx, tenant_id: int, *, now: int, due_at: int | None = None) -> None:
    """Ask for a sweep of the tenant's queue (at ``due_at``, default now).

    One sweep waits per tenant (its dedupe key); while one runs, a second key
    keeps the request, so a conversation that arrives during a sweep is not
    left waiting for the next trigger."""
    for key in (f"{SWEEP_JOB}:{tenant_id}", f"{SWEEP_JOB}:{tenant_id}:again"):
        held = tx.one("SELECT lease_owner, due_at FROM jobs WHERE dedupe_key = ?", (key,))
        if held is not None and held["lease_owner"] is not None:
            continue  # running now: it may have read the queue already
        if held is not None and due_at is not None and held["due_at"] <= due_at:
            return  # one is due sooner already
        jobs.enqueue(tx, SWEEP_JOB, {}, now=now, due_at=due_at, tenant_id=tenant_id, dedupe_key=key)
        return


def _queue_rows(tx: Tx, tenant_id: int, settings: AssignSettings, *, lock: bool) -> list[Any]:
    """The waiting conversations of every queue that is on, first in line first."""
    pools = []
    params: list[Any] = [tenant_id]
    if settings.enabled:
        pools.append("team_id IS NULL")
    if settings.teams:
        pools.append(f"team_id IN ({', '.join('?' for _ in settings.teams)})")
        params.extend(settings.teams)
    if not pools:
        return []
    # PostgreSQL: the rows are locked for this sweep; the tenant's write lock already keeps a second sweep
    # of the tenant out, this keeps any other writer that reads the queue the same way off the same rows.
    skip = " FOR UPDATE SKIP LOCKED" if lock and tx.dialect == "postgres" else ""
    return tx.all(
        "SELECT id, visitor_id, team_id FROM conversations WHERE tenant_id = ? AND status = 'open' AND snoozed = 0"
        f" AND assignee_id IS NULL AND ({' OR '.join(pools)}) ORDER BY COALESCE(queued_at, created_at), id{skip}",
        params,
    )


def _places(rows: Sequence[Any]) -> list[tuple[int, int, int]]:
    """(conversation id, visitor id, place in its own queue) of waiting rows in line order."""
    seen: dict[Any, int] = {}
    out = []
    for r in rows:
        seen[r["team_id"]] = seen.get(r["team_id"], 0) + 1
        out.append((int(r["id"]), int(r["visitor_id"]), seen[r["team_id"]]))
    return out


def queue(tx: Tx, tenant_id: int) -> list[tuple[int, int, int]]:
    """Every queue of the tenant, first in line first: (conversation id, visitor
    id, place in its queue). Empty while auto-assignment is off (nobody is
    waiting for the assigner)."""
    return _places(_queue_rows(tx, tenant_id, assign_settings(tx, tenant_id), lock=False))


def sweep(tx: Tx, tenant_id: int, *, online: Collection[int], now: int) -> Sweep:
    """Hand out the tenant's queue to the agents who qualify (module docstring);
    ``online``: the agents with a socket open on some node."""
    settings = assign_settings(tx, tenant_id)
    if not settings.enabled and not settings.teams:
        return Sweep(False, [], [])
    waiting = _queue_rows(tx, tenant_id, settings, lock=True)
    open_hours = domain.within_business_hours(settings.config, dt.datetime.fromtimestamp(now / 1000, dt.UTC))
    ids = sorted(int(a) for a in online)
    if not waiting or not open_hours or not ids:
        return Sweep(True, [], _places(waiting))
    marks = ", ".join("?" for _ in ids)
    agents = [
        [int(r["load"]), int(r["last_assigned_at"] or 0), int(r["id"])]
        for r in tx.all(
            "SELECT a.id, a.last_assigned_at, (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = a.id"
            " AND c.status IN ('open', 'pending') AND c.snoozed = 0) AS load"
            f" FROM agents a WHERE a.tenant_id = ? AND a.active = 1 AND a.away = 0 AND a.id IN ({marks})",
            (tenant_id, *ids),
        )
    ]
    members: dict[int, set[int]] = {}
    if settings.teams:
        for m in tx.all(
            f"SELECT team_id, agent_id FROM team_members WHERE team_id IN ({', '.join('?' for _ in settings.teams)})",
            settings.teams,
        ):
            members.setdefault(int(m["team_id"]), set()).add(int(m["agent_id"]))
    assigned: list[tuple[int, int, int]] = []
    left = []
    for r in waiting:
        conversation_id, visitor_id, team = int(r["id"]), int(r["visitor_id"]), r["team_id"]
        pool = None if team is None else members.get(int(team), set())
        eligible = [a for a in agents if a[0] < settings.capacity and (pool is None or a[2] in pool)]
        if not eligible:
            left.append(r)
            continue
        pick = min(eligible)  # least loaded, then idle longest, then lowest id
        row = tx.one(
            "UPDATE conversations SET assignee_id = ?, assign_reason = 'auto', queued_at = NULL"
            " WHERE id = ? AND assignee_id IS NULL RETURNING *",
            (pick[2], conversation_id),
        )
        if row is None:
            continue
        note_assigned(tx, pick[2], now)
        pick[0] += 1
        pick[1] = now
        _conversation_changed(tx, tenant_id, row, None, "auto_assigned")
        assigned.append((conversation_id, visitor_id, pick[2]))
    return Sweep(True, assigned, _places(left))


def reopened(tx: Tx, tenant_id: int, conversation_id: int, visitor_id: int, assignee_id: int, *, now: int) -> None:
    """A visitor reopened a resolved conversation that has an assignee: with
    auto-assignment on, check after the grace period whether the assignee is
    online (:data:`GRACE_JOB`)."""
    settings = assign_settings(tx, tenant_id)
    if not settings.enabled and not settings.teams:
        return
    jobs.enqueue(
        tx,
        GRACE_JOB,
        {"conversation_id": conversation_id, "assignee_id": assignee_id},
        now=now,
        due_at=now + settings.grace_ms,
        tenant_id=tenant_id,
        visitor_id=visitor_id,
        dedupe_key=f"{GRACE_JOB}:{conversation_id}",
    )


def return_to_queue(
    tx: Tx, tenant_id: int, conversation_id: int, assignee_id: int, *, online: Collection[int], now: int
) -> bool:
    """The grace check: if the conversation is still open with ``assignee_id``
    and that agent is not ``online``, unassign it and put it back in the
    queue (``conversation.updated``, change ``queued``) and ask for a sweep.
    Whether it did."""
    if assignee_id in online:
        return False
    row = tx.one(
        "UPDATE conversations SET assignee_id = NULL, assign_reason = NULL, queued_at = ?"
        " WHERE id = ? AND tenant_id = ? AND assignee_id = ? AND status = 'open' AND snoozed = 0 RETURNING *",
        (now, conversation_id, tenant_id, assignee_id),
    )
    if row is None:
        return False
    _conversation_changed(tx, tenant_id, row, None, "queued")
    request_sweep(tx, tenant_id, now=now)
    return True
