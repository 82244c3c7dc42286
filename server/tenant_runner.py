"""Background work per tenant, started by commits and coalesced: one runner for every feature that
follows the event log after the commit (the reporting projection, the webhooks' fan-out).

A commit pokes the tenants it touched. A tenant's job then runs once, in the background, ``delay``
seconds after the first poke; pokes while it waits join that run, and pokes while it runs make it run
once more afterwards (after the delay again), since the job may have read the log before their events.
So each tenant has at most one run going, a burst of commits costs one or two runs, and no commit is
left without a run that starts after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .hub import spawn

log = logging.getLogger(__name__)


class TenantRunner:
    """Runs ``job(tenant_id)`` in the background when the tenant is poked, as the module says.

    ``job`` handles its own failures (a failure it lets through is logged, and the next poke runs it
    again). ``name`` says what the job does in that log line.
    """

    def __init__(self, job: Callable[[int], Awaitable[object]], *, name: str, delay: float = 0.0) -> None:
        self.job = job
        self.name = name
        self.delay = delay
        #: Tenants with a run waiting or going -> poked since its job started (it runs once more). The flag is
        #: cleared as the job starts, so pokes before that join the run.
        self._again: dict[int, bool] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def poke(self, tenant_id: int) -> None:
        """The tenant has new work: run its job soon (see the module). Never raises."""
        if self._closed:
            return
        if tenant_id in self._again:
            self._again[tenant_id] = True
            return
        self._again[tenant_id] = False
        task = spawn(self._loop(tenant_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def running(self, tenant_id: int) -> bool:
        """Whether the tenant has a run waiting or going."""
        return tenant_id in self._again

    def close(self) -> None:
        """Start no more runs (one going finishes; see :meth:`settled`)."""
        self._closed = True

    async def settled(self) -> None:
        """Return once no run is waiting or going (after :meth:`close`, none starts again)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _loop(self, tenant_id: int) -> None:
        try:
            while True:
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self._closed:
                    return
                self._again[tenant_id] = False
                await self.job(tenant_id)
                if not self._again.get(tenant_id):
                    return
        except Exception:
            log.warning("could not %s for tenant %d (the next commit tries again)", self.name, tenant_id, exc_info=True)
        finally:
            self._again.pop(tenant_id, None)
