"""Plumbing both backends' writer threads share: the queued job, how a batch
is taken from the queue, how callers are answered after COMMIT, and what the
last write's outcome says about the storage (:class:`WriteHealth`).

The transaction itself stays with each backend (SQLite and PostgreSQL open,
checkpoint and commit differently); what is here is the part that must behave
the same: a batch takes everything already waiting (up to :data:`MAX_BATCH`),
and each caller is resolved only after its batch committed.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "DISK_FULL",
    "IO_ERROR",
    "MAX_BATCH",
    "READ_ONLY",
    "STOP",
    "STORAGE_ERROR",
    "UNREACHABLE",
    "Job",
    "WriteHealth",
    "resolve",
    "take_batch",
]

#: The only words ``/healthz`` (which anyone may read) publishes about a
#: storage failure: the full text (paths, hosts, ports, users) goes to the log
#: and ``frontdesk verify`` only.
DISK_FULL: Final = "disk full"
READ_ONLY: Final = "read-only"
IO_ERROR: Final = "I/O error"
UNREACHABLE: Final = "database unreachable"
STORAGE_ERROR: Final = "storage error"

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


class WriteHealth:
    """Whether the last write transaction committed, as the writer thread saw it.

    ``/healthz``, ``frontdesk verify`` and the start-up check read it; the
    writer sets it after every batch (a probe write is a batch too). Only
    storage failures (disk full, read-only, I/O error, lost connection) make
    it unwritable: a request refused for its content says nothing about the
    storage.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.writable = True
        #: The storage failure of the last write in the fixed words above
        #: (:data:`DISK_FULL` …), for ``/healthz``; ``None`` when writable.
        self.error: str | None = None
        #: The same failure in full (it may name files, hosts, users): for the
        #: log and ``frontdesk verify`` only.
        self.detail: str | None = None
        #: ``time.monotonic()`` of the last outcome (0: no write yet).
        self.checked_at = 0.0

    def succeeded(self) -> bool:
        """Record a committed write; whether the storage was failing until now."""
        with self._lock:
            recovered = not self.writable
            self.writable, self.error, self.detail, self.checked_at = True, None, None, time.monotonic()
            return recovered

    def failed(self, error: str, detail: str | None = None) -> bool:
        """Record a storage failure (``error`` one of the fixed words, ``detail``
        the full text); whether this is news (it was writable)."""
        with self._lock:
            news = self.writable
            self.writable, self.error, self.checked_at = False, error, time.monotonic()
            self.detail = detail or error
            return news

    def age(self) -> float:
        """Seconds since the last outcome."""
        return time.monotonic() - self.checked_at
