"""The per-tenant background runner (server/tenant_runner.py): pokes coalesce, a poke during a run
runs it once more, tenants do not wait for each other, failures are logged and retried on the next
poke. Runs are fenced with events the jobs wait on, never with sleeps."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from frontdesk.server.tenant_runner import TenantRunner


def on_a_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on its own event loop (the tests' habit: ``asyncio.run``)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class Job:
    """A job that records its runs; ``gate`` (when set) holds each run until the test opens it."""

    def __init__(self, *, gated: bool = False, fail_first: bool = False) -> None:
        self.runs: list[int] = []
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = asyncio.Event() if gated else None
        self.fail_first = fail_first

    async def __call__(self, tenant_id: int) -> None:
        self.runs.append(tenant_id)
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_first and len(self.runs) == 1:
            raise RuntimeError("the database is away")


@on_a_loop
async def test_pokes_before_the_run_starts_join_it() -> None:
    job = Job()
    runner = TenantRunner(job, name="test", delay=0.01)
    for _ in range(5):
        runner.poke(1)
    assert runner.running(1)
    await runner.settled()
    assert job.runs == [1]
    assert not runner.running(1)


@on_a_loop
async def test_pokes_without_a_delay_join_the_run_not_yet_started() -> None:
    job = Job()
    runner = TenantRunner(job, name="test")
    runner.poke(1)
    runner.poke(1)
    await runner.settled()
    assert job.runs == [1]


@on_a_loop
async def test_a_poke_while_the_job_runs_runs_it_once_more_after() -> None:
    job = Job(gated=True)
    runner = TenantRunner(job, name="test")
    runner.poke(1)
    await job.started.wait()
    runner.poke(1)  # its events may have committed after the job read the log
    runner.poke(1)
    assert job.gate is not None
    job.gate.set()
    await runner.settled()
    assert job.runs == [1, 1]


@on_a_loop
async def test_tenants_run_side_by_side() -> None:
    blocked = Job(gated=True)
    free = Job()

    async def job(tenant_id: int) -> None:
        await (blocked if tenant_id == 1 else free)(tenant_id)

    runner = TenantRunner(job, name="test")
    runner.poke(1)
    await blocked.started.wait()
    runner.poke(2)
    await free.started.wait()  # tenant 2 ran while tenant 1's job is still held
    assert free.runs == [2] and runner.running(1)
    assert blocked.gate is not None
    blocked.gate.set()
    await runner.settled()
    assert blocked.runs == [1]


@on_a_loop
async def test_a_failure_is_logged_and_the_next_poke_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    job = Job(fail_first=True)
    runner = TenantRunner(job, name="do the test job")
    with caplog.at_level(logging.WARNING, logger="frontdesk.server.tenant_runner"):
        runner.poke(3)
        await runner.settled()
    assert "could not do the test job for tenant 3" in caplog.text
    assert not runner.running(3)
    runner.poke(3)
    await runner.settled()
    assert job.runs == [3, 3]


@on_a_loop
async def test_close_starts_no_more_runs_and_settled_waits_for_the_one_going() -> None:
    job = Job(gated=True)
    runner = TenantRunner(job, name="test", delay=0.01)
    runner.poke(1)
    await job.started.wait()
    runner.poke(1)  # would run once more
    runner.close()
    runner.poke(2)  # closed: ignored
    assert job.gate is not None
    job.gate.set()
    await asyncio.wait_for(runner.settled(), 5)
    assert job.runs == [1]


@on_a_loop
async def test_close_during_the_delay_skips_the_run() -> None:
    job = Job()
    runner = TenantRunner(job, name="test", delay=0.01)
    runner.poke(1)
    runner.close()
    await runner.settled()
    assert job.runs == []
