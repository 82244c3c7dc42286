"""The job runner: runs the durable jobs of :mod:`frontdesk.server.store.jobs`.

A feature registers a handler for its job ``kind`` and enqueues jobs in the
same transaction as the write that calls for them (so a job exists if and only
if its cause was committed). Every node runs one :class:`JobRunner`; it claims
due jobs with a lease, runs each handler, and completes, retries (exponential
backoff with jitter) or buries the job. While a handler runs, the runner
renews its lease, so a slow job is not taken over; a node that dies stops
renewing and another node retries the job after the lease expires.

Handlers must be idempotent: a job runs at least once, and more than once
when a node dies between the work and its completion.

Time is injected (DESIGN.md, "Growing it"): the runner reads and waits on a
:class:`Clock`; tests pass :class:`ManualClock` and advance it, so no test
waits for a retry or a due time to come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from .store import Store
from .store import jobs as job_ops
from .store.jobs import Job

__all__ = ["Clock", "JobHandler", "JobRunner", "ManualClock", "SystemClock", "backoff_ms"]

log = logging.getLogger("frontdesk.server.jobs")

#: A job handler: does the work, or raises to have it retried.
JobHandler = Callable[[Job], Awaitable[None]]


class Clock(Protocol):
    """What the runner needs of time."""

    def now_ms(self) -> int:
        """Wall-clock time in integer milliseconds."""

    async def sleep_until(self, deadline_ms: int, wake: asyncio.Event) -> None:
        """Return at ``deadline_ms`` or as soon as ``wake`` is set, whichever is first."""


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep_until(self, deadline_ms: int, wake: asyncio.Event) -> None:
        delay = max(0.0, (deadline_ms - self.now_ms()) / 1000)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), delay)


class ManualClock:
    """A clock that moves only when a test calls :meth:`advance`."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms
        self._moved = asyncio.Event()

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        """Move time forward by ``ms`` and wake every sleeper to look again."""
        self._now += ms
        self._moved.set()

    async def sleep_until(self, deadline_ms: int, wake: asyncio.Event) -> None:
        while self._now < deadline_ms and not wake.is_set():
            self._moved.clear()
            moved = asyncio.ensure_future(self._moved.wait())
            woken = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({moved, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                moved.cancel()
                woken.cancel()


def backoff_ms(
    attempts: int, *, base_ms: int = 5_000, cap_ms: int = 3_600_000, rng: random.Random | None = None
) -> int:
    """The wait before retry number ``attempts`` (1 = after the first failure):
    exponential from ``base_ms``, capped at ``cap_ms``, with ±20 % jitter so
    that jobs failing together do not retry together."""
    exact = min(cap_ms, base_ms * 2 ** max(0, attempts - 1))
    jitter = (rng or random).uniform(0.8, 1.2)
    return max(1, int(exact * jitter))


class JobRunner:
    """Claims and runs due jobs on one node until :meth:`stop`.

    ``handlers`` maps a job kind to its handler; the runner claims only those
    kinds, so a node without a feature's handler leaves its jobs to others.
    ``idle_ms`` bounds how long the runner sleeps with nothing due (jobs that
    other nodes enqueue are found within it); :meth:`wake` cuts the sleep
    short after a local enqueue.
    """

    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, JobHandler],
        *,
        clock: Clock | None = None,
        owner: str | None = None,
        lease_ms: int = 60_000,
        idle_ms: int = 5_000,
        batch: int = 16,
        retry: Callable[[int], int] = backoff_ms,
    ) -> None:
        self.store = store
        self.handlers = dict(handlers)
        self.clock: Clock = clock or SystemClock()
        self.owner = owner or f"node-{uuid.uuid4().hex[:12]}"
        self.lease_ms = lease_ms
        self.idle_ms = idle_ms
        self.batch = batch
        self.retry = retry
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        #: Claims being written: their jobs' leases are counted from the clock read before the write.
        self._claiming = 0
        #: Jobs this runner finished (completed or failed), for tests and /healthz.
        self.finished = 0
        self._finished_changed = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start claiming in the background (idempotent)."""
        if self._task is None and self.handlers:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="frontdesk-jobs")

    async def stop(self) -> None:
        """Stop claiming and wait for the jobs in flight (their outcomes are stored)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def wake(self) -> None:
        """Look for due jobs now (call after enqueueing one on this node)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        """Jobs this runner is claiming or running right now (tests move a ManualClock only when it is 0: a
        clock moved during a claim's write could expire the lease of a job that has not started yet)."""
        return len(self._running) + self._claiming

    async def wait_finished(self, count: int) -> None:
        """Wait until this runner has finished ``count`` jobs in all (tests)."""
        while self.finished < count:
            self._finished_changed.clear()
            await self._finished_changed.wait()

    # -- the loop --------------------------------------------------------------------

    async def run_due(self) -> int:
        """Claim and run every job due now, to the end; how many ran."""
        ran = 0
        while True:
            claimed = await self._claim()
            if not claimed:
                return ran
            await asyncio.gather(*(self._run(job) for job in claimed))
            ran += len(claimed)

    async def _claim(self) -> list[Job]:
        free = self.batch - len(self._running)
        if free <= 0:
            return []
        self._claiming += 1
        try:
            return await self.store.write(
                job_ops.claim,
                self.owner,
                now=self.clock.now_ms(),
                lease_ms=self.lease_ms,
                limit=free,
                kinds=sorted(self.handlers),
            )
        finally:
            self._claiming -= 1

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                # Read first, claim (a write) only when a job of ours is due: an idle runner costs a read per
                # idle_ms, never a write transaction.
                kinds = sorted(self.handlers)
                now = self.clock.now_ms()
                due = await self.store.read(job_ops.next_due, now=now, kinds=kinds)
                if due is not None and due <= now:
                    for job in await self._claim():
                        task = asyncio.get_running_loop().create_task(self._run(job))
                        self._running.add(task)
                        task.add_done_callback(self._on_job_done)
                    now = self.clock.now_ms()
                    due = await self.store.read(job_ops.next_due, now=now, kinds=kinds)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: keep the node up, look again later
                log.warning("could not claim jobs; retrying in %d ms", self.idle_ms, exc_info=True)
                due = None
                now = self.clock.now_ms()
            deadline = now + self.idle_ms if due is None else min(max(due, now + 1), now + self.idle_ms)
            if len(self._running) >= self.batch:  # full: wait for a slot, not for the clock
                deadline = now + self.idle_ms
            await self.clock.sleep_until(deadline, self._wake)

    def _on_job_done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # a slot is free

    async def _run(self, job: Job) -> None:
        handler = self.handlers[job.kind]
        renewer = asyncio.get_running_loop().create_task(self._renew(job))
        try:
            await handler(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            retry_in = self.retry(job.attempts)
            state = await self._store_outcome(
                job_ops.fail,
                job.id,
                self.owner,
                f"{type(exc).__name__}: {exc}",
                now=self.clock.now_ms(),
                retry_in_ms=retry_in,
            )
            if state == "dead":
                log.error(
                    "job %s (%s) failed for the last time after %d attempts: %s", job.id, job.kind, job.attempts, exc
                )
            else:
                log.warning(
                    "job %s (%s) failed (attempt %d), retrying in %d ms: %s",
                    job.id,
                    job.kind,
                    job.attempts,
                    retry_in,
                    exc,
                )
        else:
            if not await self._store_outcome(job_ops.complete, job.id, self.owner):
                log.warning("job %s (%s) finished after its lease passed to another node", job.id, job.kind)
        finally:
            renewer.cancel()
            self.finished += 1
            self._finished_changed.set()

    async def _store_outcome(self, op: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await self.store.write(op, *args, **kwargs)
        except Exception:  # the lease expires and the job runs again: at least once
            log.warning("could not record the outcome of a job", exc_info=True)
            return None

    async def _renew(self, job: Job) -> None:
        wake = asyncio.Event()  # never set: renewals follow the clock only
        deadline = self.clock.now_ms()
        while True:
            deadline += self.lease_ms // 2
            await self.clock.sleep_until(deadline, wake)
            held = await self.store.write(
                job_ops.renew, job.id, self.owner, now=self.clock.now_ms(), lease_ms=self.lease_ms
            )
            if not held:
                log.warning("job %s (%s) lost its lease while running", job.id, job.kind)
                return
