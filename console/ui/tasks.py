"""Background coroutines started from the UI, and ``asyncSlot``.

There is one background-task helper in the console,
:class:`frontdesk.console.core.TaskSet` (it keeps a reference to each
task, since ``asyncio`` holds only weak ones, and logs a failure at once).
The UI's tasks live in one set of it; :func:`spawn` starts one there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

import qasync
from frontdesk.console.core import TaskSet

__all__ = ["asyncSlot", "cancel_all", "running", "spawn"]

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])

#: Every task the UI started and that has not finished.
_TASKS = TaskSet()


def asyncSlot(*types: type) -> Callable[[_F], _F]:
    """``qasync.asyncSlot`` with a type mypy can see: a Qt slot that runs a coroutine."""
    return cast(Callable[[_F], _F], qasync.asyncSlot(*types))


def spawn(coro: Coroutine[Any, Any, _T], *, name: str) -> asyncio.Task[_T]:
    """Run ``coro`` in the background on the loop; keep and watch it."""
    return _TASKS.spawn(coro, name=name)


def running() -> int:
    """How many UI tasks are still running."""
    return len(_TASKS)


async def cancel_all() -> None:
    """Cancel every UI task and wait for them."""
    await _TASKS.cancel_all()
