"""The reporting facts kept a moment behind the event log (issue 17; docs/REPORTS.md, "Freshness").

A message's own write does no reporting work. After a commit that appended a tenant's reporting events,
:meth:`ReportProjection.on_commit` schedules that tenant's projection ``delay`` seconds later; the commits
in between join the same batch, so the facts of a busy tenant are written a few hundred events at a time
(store/reports.py, :func:`~frontdesk.server.store.reports.project`). At start every tenant is brought up to
date (what committed while the server was down, or on another node that stopped). The facts and the
tenant's cursor move in one transaction, so a crash or a failed projection loses nothing: the next one
starts at the cursor. ``report.get`` brings its tenant up to date itself before it reads, so a report never
misses an event that committed before it was asked for.

Every node of a cluster schedules projections of the events it publishes (its own and the other nodes'):
they serialize on the tenant's lock and the cursor makes a second run a cheap no-op.

The events to project are the ones this node published, kept in memory per tenant since it started: a node
publishes every event of a tenant once and in event_id order, so once a projection from the log has brought
a tenant's cursor to X, the events kept hold every one after X, and later projections take them from memory
instead of reading and decoding the log again (most of a projection's cost otherwise). Whenever that does not
hold (before the first projection from the log, after the memory was dropped because the database was away
too long), the projection reads the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from . import domain
from .exceptions import Unavailable
from .hub import spawn
from .store import Store
from .store import reports as ops
from .tenant_runner import TenantRunner

log = logging.getLogger(__name__)

#: Seconds between a tenant's first unprojected commit and its projection (a knob: the facts' freshness
#: against the number of batches).
DEFAULT_DELAY_S = 0.5

#: The most published events kept per tenant; past it they are dropped and the next projection reads the log.
MAX_KEPT = 50_000


class ReportProjection:
    """Projects each tenant's reporting facts in the background, a moment after its commits."""

    def __init__(self, store: Store, *, delay: float = DEFAULT_DELAY_S) -> None:
        self.store = store
        self.delay = delay
        self._runner = TenantRunner(self.project, name="project the reporting facts", delay=delay)
        self._closed = False
        self._catch_up_task: asyncio.Task[None] | None = None
        #: Per tenant, the reporting events published since this node started (or since they were dropped),
        #: in order, less those the cursor has passed.
        self._kept: dict[int, list[domain.EventRecord]] = {}
        #: Per tenant, X such that :attr:`_kept` holds every event after X: the cursor a projection from the log
        #: reached (absent: not known, read the log).
        self._complete_after: dict[int, int] = {}
        self._drops = 0  # how many times kept events were dropped (a projection from the log then proves nothing)

    async def start(self) -> None:
        """Bring every tenant's facts up to date, in the background."""
        self._catch_up_task = spawn(self._catch_up())

    def close(self) -> None:
        """Schedule nothing more (the facts of the events since stay for the next start)."""
        self._closed = True
        self._runner.close()

    async def settled(self) -> None:
        """Return once the projections started so far have finished (after :meth:`close`: nothing more writes;
        tests use it to keep the store's writes to their own)."""
        if self._catch_up_task is not None:
            await asyncio.wait({self._catch_up_task})
        await self._runner.settled()

    def on_commit(self, events: Sequence[domain.EventRecord]) -> None:
        """After a commit: keep its reporting events and schedule the projection of each tenant that has some
        (:class:`~.tenant_runner.TenantRunner`, ``delay`` seconds on). Never raises: it runs in the commit's
        publication."""
        try:
            for event in events:
                if event.kind in ops.PROJECTED_KINDS:
                    self._keep(event)
                    self._runner.poke(event.tenant_id)
        except Exception:
            log.exception("could not schedule the reporting projection")

    def _keep(self, event: domain.EventRecord) -> None:
        kept = self._kept.setdefault(event.tenant_id, [])
        if len(kept) >= MAX_KEPT:  # the database has been away a while: the log has them all
            kept.clear()
            self._complete_after.pop(event.tenant_id, None)
            self._drops += 1
        kept.append(event)

    async def project(self, tenant_id: int) -> int:
        """Project the tenant's events until its facts are up to date, a page per transaction; the events
        read. A failure is logged and left for the next commit or start."""
        total = 0
        try:
            while not self._closed:
                known = self._complete_after.get(tenant_id)
                drops = self._drops
                given = list(self._kept.get(tenant_id, ()))
                done = await self.store.write(ops.project, tenant_id, published=given, complete_after=known)
                total += done.read
                if known is None and not done.more and drops == self._drops:
                    # From the log up to here: every later event of the tenant is one this node publishes
                    # from now on, or has published since it started (and kept: nothing was dropped meanwhile).
                    self._complete_after[tenant_id] = done.cursor
                kept = self._kept.get(tenant_id)
                if kept:
                    self._kept[tenant_id] = [e for e in kept if e.event_id > done.cursor]
                if not done.more:
                    break
        except Unavailable as exc:  # the store logs the outage itself
            log.warning("could not project the reporting facts of tenant %d (later commits retry): %s", tenant_id, exc)
        except Exception:
            log.warning(
                "could not project the reporting facts of tenant %d (later commits retry)", tenant_id, exc_info=True
            )
        return total

    async def _catch_up(self) -> None:
        try:
            tenants = await self.store.read(ops.report_tenants)
        except Exception:
            log.warning("could not list the tenants to project their reporting facts", exc_info=True)
            return
        for tenant_id in tenants:
            await self.project(tenant_id)
