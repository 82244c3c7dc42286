"""Background tasks: one helper that keeps a reference and logs failures.

``asyncio`` keeps only weak references to tasks, so a task nobody holds can be
garbage-collected mid-flight; and an exception in a task nobody awaits is only
reported, late, at garbage collection. :class:`TaskSet` fixes both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["TaskSet"]

log = logging.getLogger("frontdesk.console.tasks")
_T = TypeVar("_T")


class TaskSet:
    """Tasks started in the background, held until they finish."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, _T], *, name: str, log_errors: bool = True) -> asyncio.Task[_T]:
        """Start ``coro`` as a task; keep it referenced; log its exception.

        ``log_errors=False`` is for tasks whose owner awaits them and handles
        the exception itself (the connection's reader, applier and outbox).
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a Qt slot under qasync, between loop iterations
            loop = asyncio.get_event_loop()
        task = loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done if log_errors else self._tasks.discard)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    async def cancel_all(self) -> None:
        """Cancel every task still running and wait for them to finish."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)
