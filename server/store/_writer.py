"""Plumbing both backends' writer threads share: the queued job, how a batch
is taken from the queue, and how callers are answered after COMMIT.

The transaction itself stays with each backend (SQLite and PostgreSQL open,
checkpoint and commit differently); what is here is the part that must behave
the same: a batch takes everything already waiting (up to :data:`MAX_BATCH`),
and each caller is resolved only after its batch committed.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["MAX_BATCH", "STOP", "Job", "resolve", "take_batch"]

#: Most jobs one transaction takes; bounds the latency a batch adds to its
#: first member while still amortising the commit.
MAX_BATCH: Final = 1024
#: Put on the queue to make the writer finish what is queued and exit.
STOP: Final = object()


@dataclass(slots=True)
class Job:
    """One ``store.write`` waiting for the writer thread."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any]
    #: (succeeded, result or exception), set by the writer thread.
    outcome: tuple[bool, Any] = field(default=(False, None))


def take_batch(jobs: queue.SimpleQueue[Any], first: Job) -> tuple[list[Job], bool]:
    """``first`` plus every job already waiting, up to :data:`MAX_BATCH`;
    and whether :data:`STOP` was met (the writer exits after this batch)."""
    batch = [first]
    while len(batch) < MAX_BATCH:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            break
        if job is STOP:
            return batch, True
        batch.append(job)
    return batch, False


def resolve(batch: list[Job]) -> None:
    """On the event loop, after COMMIT: answer each caller with its outcome.
    A caller that gave up (cancelled) is skipped; its write stands."""
    for job in batch:
        if job.future.done():
            continue
        ok, value = job.outcome
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)
