"""Routing conversations in time and to agents, on one node: snooze wake-ups and the
auto-assigner (issue 15, items 3 and 5), run as durable jobs.

Every node runs one :class:`~frontdesk.server.jobs.JobRunner` with these
handlers; whichever node claims a job runs it (store/jobs.py). Nothing here
keeps a timer of its own: a snooze's wake-up is the job its snooze enqueued
(store/snooze.py), and the assigner's sweeps are jobs asked for when something
may let a queued conversation move (store/assignment.py):

- a conversation starts, is reopened, woken or put back in the queue;
- an agent frees capacity (a resolve, a pend, an unassign, a snooze, a
  conversation handed to someone else);
- an agent comes online or back from Away, or an admin turns auto-assignment
  on or changes the capacity.

These triggers are read from committed events (:meth:`Routing.on_committed`,
on every node; the sweep's dedupe key makes the copies one job) and from this
node's presence (:meth:`Routing.agents_online`). While conversations wait, a
sweep asks for another one :data:`RETRY_MS` later, which also notices business
hours beginning. After each sweep the waiting visitors hear their place in
line (the ephemeral ``queue`` event, PROTOCOL.md "Auto-assignment").
"""

from __future__ import annotations

import logging
from typing import Any

from . import domain
from .hub import Hub, spawn
from .jobs import Clock, JobRunner
from .protocol import QueuePosition, to_wire
from .store import Store
from .store import assignment as assign_ops
from .store import snooze as snooze_ops
from .store.jobs import Job
from .tenants import TenantCache

__all__ = ["RETRY_MS", "Routing"]

log = logging.getLogger("frontdesk.server.routing")

#: While conversations wait in a queue, the next sweep comes at the latest this long after the last.
RETRY_MS = 60_000

#: ``conversation.updated`` changes after which a queued conversation may move: the conversation is back in
#: the queue, or its assignee has a free slot.
_SWEEP_CHANGES = frozenset(
    {"open", "woken", "queued", "unassigned", "assigned", "resolved", "pending", "snoozed", "transferred"}
)


class Routing:
    """The job handlers and the triggers of one node."""

    def __init__(self, store: Store, hub: Hub, tenants: TenantCache, clock: Clock, runner: JobRunner) -> None:
        """Register this feature's job kinds with the node's one ``runner``
        (which the server starts and stops)."""
        self.store = store
        self.hub = hub
        self.tenants = tenants
        self.clock = clock
        self.runner = runner
        runner.handlers.update(
            {
                snooze_ops.WAKE_JOB: self._wake,
                assign_ops.SWEEP_JOB: self._sweep,
                assign_ops.GRACE_JOB: self._grace,
            }
        )
        hub.on_available = self.agents_online

    # -- triggers --------------------------------------------------------------------

    def _auto(self, tenant_id: int) -> bool:
        try:
            config = self.tenants.by_id(tenant_id).config
        except KeyError:
            return False
        return bool(config.get("auto_assign") or config.get("auto_assign_teams"))

    def on_committed(self, events: list[domain.EventRecord]) -> None:
        """Ask for a sweep where an event may let a queued conversation move;
        look for a new snooze's wake-up (it may be due before the runner's
        next look)."""
        tenants: set[int] = set()
        for event in events:
            payload: Any = event.payload
            if event.kind == "conversation.updated" and payload.get("change") == "snoozed":
                self.runner.wake()
            if not self._auto(event.tenant_id):
                continue
            if event.kind == "message.created":
                conv = payload.get("conversation") or {}
                if payload.get("author_kind") == "visitor" and conv.get("assignee_id") is None:
                    tenants.add(event.tenant_id)
            elif event.kind in ("conversation.created", "agent.updated", "config.updated") or (
                event.kind == "conversation.updated" and payload.get("change") in _SWEEP_CHANGES
            ):
                tenants.add(event.tenant_id)
        for tenant_id in sorted(tenants):
            spawn(self.request_sweep(tenant_id))

    def agents_online(self, tenant_id: int) -> None:
        """An agent of the tenant came online (or back from Away) on some node."""
        if self._auto(tenant_id):
            spawn(self.request_sweep(tenant_id))

    async def request_sweep(self, tenant_id: int, due_at: int | None = None) -> None:
        """Ask for a sweep of the tenant's queue, now (or at ``due_at``)."""
        try:
            await self.store.write(assign_ops.request_sweep, tenant_id, now=self.clock.now_ms(), due_at=due_at)
        except Exception:  # the database is away; the next trigger or retry asks again
            log.warning("could not ask for an assignment sweep", exc_info=True)
            return
        self.runner.wake()

    # -- jobs ------------------------------------------------------------------------

    async def _wake(self, job: Job) -> None:
        assert job.tenant_id is not None
        await self.store.write(
            snooze_ops.wake, job.tenant_id, int(job.payload["conversation_id"]), int(job.payload["until"])
        )

    async def _sweep(self, job: Job) -> None:
        assert job.tenant_id is not None
        tenant_id = job.tenant_id
        now = self.clock.now_ms()
        done = await self.store.write(assign_ops.sweep, tenant_id, online=self.hub.agents_online(tenant_id), now=now)
        for conversation_id, visitor_id, _agent in done.assigned:
            self._tell_place(visitor_id, conversation_id, 0)
        for conversation_id, visitor_id, place in done.waiting:
            self._tell_place(visitor_id, conversation_id, place)
        if done.waiting:
            await self.store.write(assign_ops.request_sweep, tenant_id, now=now, due_at=now + RETRY_MS)

    def _tell_place(self, visitor_id: int, conversation_id: int, position: int) -> None:
        data = to_wire(QueuePosition(conversation_id=conversation_id, position=position))
        self.hub.push_ephemeral_to_visitor(visitor_id, "queue", data)

    async def _grace(self, job: Job) -> None:
        assert job.tenant_id is not None
        await self.store.write(
            assign_ops.return_to_queue,
            job.tenant_id,
            int(job.payload["conversation_id"]),
            int(job.payload["assignee_id"]),
            online=self.hub.agents_online(job.tenant_id),
            now=self.clock.now_ms(),
        )
