"""Background coroutines started from the UI, held until they finish.

``asyncio`` keeps only weak references to tasks, so a task nobody holds can
vanish mid-flight, and an exception in a task nobody awaits is reported late
or never. :func:`spawn` keeps a reference and logs failures.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

import qasync

__all__ = ["asyncSlot", "cancel_all", "running", "spawn"]

log = logging.getLogger("frontdesk.console.ui.tasks")
_T = TypeVar("_T")
_TASKS: set[asyncio.Task[Any]] = set()
_F = TypeVar("_F", bound=Callable[..., Any])


def asyncSlot(*types: type) -> Callable[[_F], _F]:
    """``qasync.asyncSlot`` with a type mypy can see: a Qt slot that runs a coroutine."""
    return cast(Callable[[_F], _F], qasync.asyncSlot(*types))


def spawn(coro: Coroutine[Any, Any, _T], *, name: str) -> asyncio.Task[_T]:
    """Run ``coro`` in the background on the running loop; keep and watch it."""
    task = asyncio.get_event_loop().create_task(coro, name=name)
    _TASKS.add(task)
    task.add_done_callback(_done)
    return task


def _done(task: asyncio.Task[Any]) -> None:
    _TASKS.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("UI task %s failed", task.get_name(), exc_info=exc)


def running() -> int:
    """How many UI tasks are still running."""
    return len(_TASKS)


async def cancel_all() -> None:
    """Cancel every UI task and wait for them."""
    tasks = list(_TASKS)
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
