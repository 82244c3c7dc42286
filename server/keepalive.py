"""One keepalive task for every socket, instead of one task per socket.

``websockets`` keeps a connection alive with a task per connection that sleeps, pings and waits for the pong. An
idle socket then costs a task and its coroutine frame for its whole life, which is most of what an idle chat widget
costs the server beyond the library itself (docs/PERFORMANCE.md, "Idle memory"). The sweeper does the same job for
every socket from one task: it walks the open sockets in :data:`SLICES` slices, one slice every
``interval / SLICES`` seconds, so each socket is pinged once per interval and the pings of thousands of sockets are
spread over the interval rather than sent in one burst.

A socket whose previous ping is still unanswered when its slice comes round again (one interval later) is a dead
peer: it is closed with 1011 "keepalive ping timeout", as ``websockets`` itself does. Pings go out from short-lived
tasks, so one client that stopped reading (its writes paused) never holds the sweep up.

Time comes from an injected :class:`~frontdesk.server.jobs.Clock`, so tests advance a
:class:`~frontdesk.server.jobs.ManualClock` instead of waiting (DESIGN.md, "Time is injected").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from .jobs import Clock

__all__ = ["SLICES", "KeepaliveSweeper"]

log = logging.getLogger("frontdesk.server.keepalive")

#: Each socket is visited once per interval, in one of this many evenly spaced slices.
SLICES = 20


class KeepaliveSweeper:
    """Pings every open socket once per ``interval_s`` and closes those whose last ping went unanswered.

    ``connections`` returns the sockets open right now (the servers' ``connections``). :meth:`run` is the task;
    :meth:`sweep` does one slice and is what the task calls on every tick.
    """

    def __init__(
        self, connections: Callable[[], Iterable[ServerConnection]], *, interval_s: float, clock: Clock
    ) -> None:
        if interval_s <= 0:
            raise ValueError("the keepalive interval must be positive")
        self._connections = connections
        self.interval_ms = max(SLICES, round(interval_s * 1000))
        self._clock = clock
        #: Pings sent and not yet answered: the pong future and when it was sent (ms). Entries leave when the pong
        #: arrives or the socket closes, so an idle server holds none between sweeps.
        self._unanswered: dict[ServerConnection, tuple[asyncio.Future[float], int]] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        #: Sockets closed for an unanswered ping, since the start (for tests and logs).
        self.timed_out = 0

    async def run(self) -> None:
        """Sweep a slice every ``interval / SLICES`` until :meth:`stop`; a late wake-up sweeps every slice due."""
        step = self.interval_ms / SLICES
        next_tick = self._clock.now_ms() + step
        tick = 0
        while not self._stop.is_set():
            await self._clock.sleep_until(round(next_tick), self._stop)
            now = self._clock.now_ms()
            while next_tick <= now and not self._stop.is_set():
                self.sweep(tick % SLICES, now)
                tick += 1
                next_tick += step

    @property
    def unanswered(self) -> int:
        """Pings sent and not answered yet."""
        return sum(1 for future, _ in self._unanswered.values() if not future.done())

    def stop(self) -> None:
        """End :meth:`run` at its next wake-up; pings in flight finish on their own."""
        self._stop.set()

    def sweep(self, slice_index: int, now_ms: int) -> None:
        """Visit the sockets of slice ``slice_index``: close the dead, ping the rest."""
        for ws in self._connections():
            if hash(ws) % SLICES != slice_index:
                continue
            pending = self._unanswered.get(ws)
            if pending is not None and not pending[0].done():
                if now_ms - pending[1] >= self.interval_ms:
                    self._unanswered.pop(ws, None)
                    self.timed_out += 1
                    log.debug("closing a socket whose keepalive ping went unanswered for %d ms", now_ms - pending[1])
                    self._spawn(self._close_dead(ws))
                continue  # answered late or still within its interval: no second ping on top
            self._spawn(self._ping(ws, now_ms))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _ping(self, ws: ServerConnection, now_ms: int) -> None:
        try:
            pong = await ws.ping()
        except ConnectionClosed:
            return  # closed meanwhile: nothing to keep alive
        except Exception:  # e.g. ConcurrencyError; the next interval tries again
            log.debug("keepalive ping failed", exc_info=True)
            return
        assert isinstance(pong, asyncio.Future)
        self._unanswered[ws] = (pong, now_ms)

        def answered(future: asyncio.Future[float], ws: ServerConnection = ws) -> None:
            if not future.cancelled():
                future.exception()  # a ConnectionClosed on close is expected: retrieve it
            if self._unanswered.get(ws, (None,))[0] is future:
                del self._unanswered[ws]

        pong.add_done_callback(answered)

    async def _close_dead(self, ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            await ws.close(int(CloseCode.INTERNAL_ERROR), "keepalive ping timeout")
