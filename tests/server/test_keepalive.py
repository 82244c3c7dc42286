"""The keepalive sweeper: one task pings every socket once per interval and closes the dead ones."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server.app import FrontdeskServer, ServerSettings
from frontdesk.server.jobs import ManualClock
from frontdesk.server.keepalive import SLICES, KeepaliveSweeper

from tests.support import TIMEOUT, InProcessServer, WsClient, init_demo


class FakeSocket:
    """A connection that records pings; the test answers (or not) each pong future."""

    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.pongs: list[asyncio.Future[float]] = []
        self.closed_with: tuple[int, str] | None = None

    def __hash__(self) -> int:
        return self.slot

    async def ping(self) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pongs.append(future)
        return future

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)


async def _settle() -> None:
    for _ in range(5):  # the pings go out from short-lived tasks
        await asyncio.sleep(0)


def test_a_sweep_pings_only_its_slice_and_never_twice_while_a_ping_is_unanswered() -> None:
    """Slice k pings the sockets hashed to k; a socket with a ping in flight gets no second one."""

    async def scenario() -> None:
        sockets = [FakeSocket(slot) for slot in range(2 * SLICES)]
        sweeper = KeepaliveSweeper(lambda: sockets, interval_s=20, clock=ManualClock())  # type: ignore[arg-type]
        sweeper.sweep(3, now_ms=0)
        await _settle()
        assert [len(s.pongs) for s in sockets] == [1 if s.slot % SLICES == 3 else 0 for s in sockets]
        sweeper.sweep(3, now_ms=10_000)  # half an interval later, still unanswered: no new ping, no close
        await _settle()
        assert sum(len(s.pongs) for s in sockets) == 2 and sweeper.unanswered == 2
        sockets[3].pongs[0].set_result(0.001)
        sweeper.sweep(3, now_ms=20_000)  # answered: pinged again; the other one is dead: closed
        await _settle()
        assert len(sockets[3].pongs) == 2 and sockets[3].closed_with is None
        assert sockets[3 + SLICES].closed_with == (1011, "keepalive ping timeout") and sweeper.timed_out == 1

    asyncio.run(scenario())


def test_an_interval_of_zero_is_refused() -> None:
    """A keepalive interval must be positive."""
    with pytest.raises(ValueError, match="positive"):
        KeepaliveSweeper(lambda: [], interval_s=0, clock=ManualClock())


@contextlib.asynccontextmanager
async def _serve(tmp_path: Path, clock: ManualClock) -> AsyncIterator[InProcessServer]:
    db_url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    info = await asyncio.to_thread(init_demo, db_url)
    app = FrontdeskServer(ServerSettings(db_url=db_url, host="127.0.0.1", port=0), clock=clock)
    await app.start()
    try:
        yield InProcessServer.from_init(db_url, info, port=app.port, app=app)
    finally:
        await app.stop()


async def _until(condition: Any, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.01)


def test_the_server_closes_a_peer_that_stops_answering_pings_and_keeps_the_live_one(tmp_path: Path) -> None:
    """After one interval with its ping unanswered a socket is closed with 1011; a socket that answers stays."""

    async def scenario() -> None:
        clock = ManualClock()
        async with _serve(tmp_path, clock) as server:
            sweeper = server.app.keepalive
            live, _ = await WsClient.visitor(server)
            dead, _ = await WsClient.visitor(server)
            dead.ws.transport.pause_reading()  # a peer gone silent: it never reads the ping, never answers

            clock.advance(20_000)  # one interval: every slice runs, both sockets are pinged
            await _until(lambda: sweeper.unanswered == 1, "the live socket's pong never arrived")
            clock.advance(20_000)  # the dead socket's ping is one interval old when its slice comes round
            await _until(lambda: sweeper.timed_out == 1, "the silent socket was not closed")

            dead.ws.transport.resume_reading()
            code, reason = await dead.wait_closed(timeout=TIMEOUT + 5)  # the close handshake, or its 5 s timeout
            assert (code, reason) == (1011, "keepalive ping timeout")
            await live.fence()  # the answering socket is still served
            await live.close()

    asyncio.run(scenario())


def test_no_keepalive_task_runs_per_socket(tmp_path: Path) -> None:
    """websockets' own keepalive is off: sockets have no keepalive task; the sweeper is the only one."""

    async def scenario() -> None:
        async with _serve(tmp_path, ManualClock()) as server:
            clients = [(await WsClient.visitor(server))[0] for _ in range(3)]
            sockets: Iterable[Any] = list(server.app._open_sockets())
            assert len(list(sockets)) == 3 and all(ws.keepalive_task is None for ws in sockets)
            for client in clients:
                await client.close()

    asyncio.run(scenario())
