"""The cache's writer thread: one thread, one connection, one transaction per job.

Callers on the event loop ``await`` a future that the thread settles after
COMMIT (datasette's ``Database._execute_writes`` pattern), so a bulk snapshot
never freezes the UI. Reads run on the caller's own connection (WAL mode lets
them run while the writer works).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from ._apply import Applied
from ._schema import Db, connect

__all__ = ["Store", "Writer"]

log = logging.getLogger("frontdesk.console.cache")
_T = TypeVar("_T")


_STOP: Final = object()


class Writer:
    """One thread, one connection, one transaction per job."""

    def __init__(self, path: Path) -> None:
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), name="frontdesk-cache-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self, path: Path) -> None:
        try:
            db = connect(path)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                fn, loop, future = job
                result: Any = None
                error: BaseException | None = None
                try:
                    with db.atomic():
                        result = fn(db)
                except BaseException as exc:
                    error = exc
                if loop is None:
                    if error is not None:
                        future.set_exception(error)
                    else:
                        future.set_result(result)
                    continue
                try:
                    loop.call_soon_threadsafe(_settle, future, result, error)
                except RuntimeError:
                    # The caller's loop is gone (shutdown): the write stands,
                    # nobody is left to tell.
                    log.debug("write finished after its event loop closed")
        finally:
            db.close()

    async def submit(self, fn: Callable[[Db], _T]) -> _T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._jobs.put((fn, loop, future))
        return await future

    def submit_sync(self, fn: Callable[[Db], _T]) -> _T:
        """Run a write and block until it is done (outside an event loop)."""
        import concurrent.futures

        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        self._jobs.put((fn, None, future))
        return future.result()

    def stop(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class Store:
    """What the cache's parts share: the reader connection and the writer.

    :class:`~.Cache` is built from this and the mixins of the other modules
    (outbox, queries), each of which reads ``_db`` and writes through
    :meth:`write`.
    """

    def __init__(self, path: Path, reader: Db, writer: Writer) -> None:
        self.path = path
        self._db = reader
        self._writer = writer
        self._closed = False

    async def write(self, fn: Callable[[Db], _T]) -> _T:
        """Run ``fn(db)`` in one transaction on the writer thread.

        ``db`` is the writer's connection (:class:`._schema.Db`). Returns ``fn``'s
        result, or raises its exception (the transaction is rolled back).
        """
        return await self._writer.submit(fn)

    def write_sync(self, fn: Callable[[Db], _T]) -> _T:
        """:meth:`write` for code outside the event loop (tests, tools): blocks."""
        return self._writer.submit_sync(fn)

    async def write_applied(self, fn: Callable[[Db], Applied]) -> Applied:
        """:meth:`write` for a job that reports what it changed."""
        return await self.write(fn)
