"""The job runner (server/jobs.py): due times, retries and take-over, on an injected clock."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from frontdesk.server.jobs import JobRunner, ManualClock, backoff_ms
from frontdesk.server.store import Store, jobs, open_store
from frontdesk.server.store.jobs import Job

from tests.support import TIMEOUT

T = TypeVar("T")


def run(tmp_path: Path, scenario: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        store = open_store(f"sqlite:///{tmp_path / 'jobs.db'}")
        await store.open()
        try:
            return await asyncio.wait_for(scenario(store), TIMEOUT * 4)
        finally:
            await store.close()

    return asyncio.run(main())


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    """Retry n waits base·2^(n-1) ±20 %, never more than the cap."""
    rng = random.Random(7)
    for attempts, exact in ((1, 5_000), (2, 10_000), (3, 20_000), (20, 3_600_000)):
        wait = backoff_ms(attempts, rng=rng)
        assert 0.8 * exact <= wait <= 1.2 * exact


def test_a_job_runs_when_the_clock_reaches_its_due_time(tmp_path: Path) -> None:
    """The runner sleeps until a job is due, runs it once, and removes it."""

    async def scenario(store: Store) -> None:
        clock = ManualClock()
        ran: list[dict[str, object]] = []

        async def handle(job: Job) -> None:
            ran.append(job.payload)

        runner = JobRunner(store, {"wake": handle}, clock=clock, idle_ms=3_600_000)
        await store.write(
            jobs.enqueue, "wake", {"conversation_id": 7}, now=clock.now_ms(), due_at=clock.now_ms() + 60_000
        )
        runner.start()
        try:
            assert await runner.run_due() == 0  # nothing due yet
            clock.advance(59_999)
            assert await runner.run_due() == 0
            clock.advance(1)
            await runner.wait_finished(1)
            assert ran == [{"conversation_id": 7}]
            assert await store.read(jobs.pending) == []
        finally:
            await runner.stop()

    run(tmp_path, scenario)


def test_a_failing_job_is_retried_after_its_backoff_then_succeeds(tmp_path: Path) -> None:
    """A handler that raises is retried after the runner's backoff, on the clock, not before."""

    async def scenario(store: Store) -> None:
        clock = ManualClock()
        attempts: list[int] = []

        async def flaky(job: Job) -> None:
            attempts.append(job.attempts)
            if job.attempts == 1:
                raise ConnectionError("SMTP server unreachable")

        runner = JobRunner(store, {"email": flaky}, clock=clock, retry=lambda n: 30_000, idle_ms=3_600_000)
        await store.write(jobs.enqueue, "email", {}, now=clock.now_ms())
        assert await runner.run_due() == 1
        [waiting] = await store.read(jobs.pending)
        assert (waiting.attempts, waiting.last_error) == (1, "ConnectionError: SMTP server unreachable")
        assert waiting.due_at == clock.now_ms() + 30_000
        clock.advance(29_999)
        assert await runner.run_due() == 0
        clock.advance(1)
        assert await runner.run_due() == 1
        assert attempts == [1, 2]
        assert await store.read(jobs.pending) == []

    run(tmp_path, scenario)


def test_a_job_left_by_a_dead_node_is_run_by_another_after_its_lease(tmp_path: Path) -> None:
    """Node A claims and dies (never completes); node B runs the job once A's lease has expired."""

    async def scenario(store: Store) -> None:
        clock = ManualClock()
        done: list[str] = []

        async def handle(job: Job) -> None:
            done.append("b")

        await store.write(jobs.enqueue, "webhook", {}, now=clock.now_ms())
        await store.write(jobs.claim, "node-a", now=clock.now_ms(), lease_ms=60_000)  # A took it, then crashed
        node_b = JobRunner(store, {"webhook": handle}, clock=clock, owner="node-b", lease_ms=60_000)
        assert await node_b.run_due() == 0
        clock.advance(60_000)
        assert await node_b.run_due() == 1
        assert done == ["b"]

    run(tmp_path, scenario)


def test_a_long_job_keeps_its_lease_while_it_runs(tmp_path: Path) -> None:
    """While a handler runs, its runner renews the lease, so another node does not take the job over."""

    async def scenario(store: Store) -> None:
        clock = ManualClock()
        release = asyncio.Event()
        started = asyncio.Event()

        async def slow(job: Job) -> None:
            started.set()
            await release.wait()

        runner = JobRunner(store, {"export": slow}, clock=clock, owner="node-a", lease_ms=10_000, idle_ms=3_600_000)
        await store.write(jobs.enqueue, "export", {}, now=clock.now_ms())
        runner.start()
        try:
            await started.wait()
            for _ in range(5):  # 25 s of clock time, 2.5 leases
                clock.advance(5_000)
                await asyncio.sleep(0)
                [held] = await store.read(jobs.pending)
                while held.lease_until is None or held.lease_until <= clock.now_ms():
                    await asyncio.sleep(0.01)  # the renewal write is on its way
                    [held] = await store.read(jobs.pending)
            assert await store.write(jobs.claim, "node-b", now=clock.now_ms(), lease_ms=10_000) == []
            release.set()
            await runner.wait_finished(1)
            assert await store.read(jobs.pending) == []
        finally:
            await runner.stop()

    run(tmp_path, scenario)


def test_a_job_survives_a_restart(tmp_path: Path) -> None:
    """A job enqueued before the store closed is run by a runner on the reopened store."""
    clock = ManualClock()

    async def before(store: Store) -> None:
        await store.write(jobs.enqueue, "email", {"to": "x@example.com"}, now=clock.now_ms())

    run(tmp_path, before)
    ran: list[object] = []

    async def after(store: Store) -> None:
        async def handle(job: Job) -> None:
            ran.append(job.payload["to"])

        assert await JobRunner(store, {"email": handle}, clock=clock).run_due() == 1

    run(tmp_path, after)
    assert ran == ["x@example.com"]


@pytest.mark.parametrize("kinds", [["email"], []])
def test_a_runner_claims_only_the_kinds_it_has_handlers_for(tmp_path: Path, kinds: list[str]) -> None:
    """A node without a feature's handler leaves that feature's jobs for nodes that have it."""

    async def scenario(store: Store) -> None:
        clock = ManualClock()

        async def handle(job: Job) -> None:
            pass

        await store.write(jobs.enqueue, "webhook", {}, now=clock.now_ms())
        runner = JobRunner(store, {k: handle for k in kinds}, clock=clock)
        assert await runner.run_due() == 0
        assert [j.kind for j in await store.read(jobs.pending)] == ["webhook"]

    run(tmp_path, scenario)
