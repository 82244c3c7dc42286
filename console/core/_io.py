"""Blocking file work (attachments' copies, downloads, reads) off the event loop.

Not ``asyncio.to_thread``: under qasync the loop's default executor runs
QThreads, which Qt refuses to see destroyed while still running when the
application exits. A plain ``ThreadPoolExecutor`` has no tie to Qt; its
threads are joined at interpreter exit.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["run_io"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="frontdesk-io")


async def run_io(fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``fn(*args, **kwargs)`` on the core's I/O threads and await its result."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(fn, *args, **kwargs))
