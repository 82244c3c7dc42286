"""Shared test helpers: a real server in a subprocess, and a protocol client.

Every timeout scales from :data:`TIMEOUT`, which the environment variable
``FRONTDESK_TEST_TIMEOUT_SCALE`` multiplies on a slow machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Self, TypeVar

from frontdesk.server.protocol import ClientProtocol, Endpoint
from websockets.asyncio.client import ClientConnection, connect

T = TypeVar("T")
SCALE = float(os.environ.get("FRONTDESK_TEST_TIMEOUT_SCALE", "1"))
#: Seconds a test waits for anything that should be quick.
TIMEOUT = 5.0 * SCALE
FRONTDESK = [sys.executable, "-m", "frontdesk.server.cli"]
#: ``frontdesk serve`` flags that lift every rate limit out of a load test's way.
RELAXED_LIMITS = (
    "--rate-conn",
    "10000/20000",
    "--rate-visitor",
    "10000/20000",
    "--rate-ip",
    "100000/200000",
    "--rate-new-visitor",
    "10000/20000",
)

__all__ = [
    "RELAXED_LIMITS",
    "SCALE",
    "TIMEOUT",
    "InProcessServer",
    "RunningServer",
    "ServerAddress",
    "ServerError",
    "WsClient",
    "init_demo",
    "new_client_id",
    "run_cli",
    "run_on_store",
    "serve_in_process",
    "start_server",
    "unused_port",
]


def unused_port() -> int:
    """A port nothing listens on, for a client that must find no server there.

    Never start a server on it: binding, releasing and handing the number over
    races with every other process. Servers bind port 0 and report the port
    they got (:meth:`RunningServer.start`, :func:`serve_in_process`).
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_client_id() -> str:
    return str(uuid.uuid4())


def run_cli(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``frontdesk ARGS`` and return the finished process."""
    proc = subprocess.run([*FRONTDESK, *args], capture_output=True, text=True, timeout=timeout * SCALE)
    if check and proc.returncode != 0:
        raise AssertionError(f"frontdesk {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@dataclasses.dataclass
class ServerAddress:
    """Where a test server listens, and its demo tenant's keys and admin."""

    db_url: str
    port: int
    site_key: str
    admin_email: str
    admin_password: str
    tenant_slug: str
    identity_secret: str

    @classmethod
    def from_init(cls, db_url: str, info: dict[str, Any], *, port: int = 0, **fields: Any) -> Self:
        """The server for a database ``frontdesk init --json`` printed ``info`` for (port 0: any free one)."""
        return cls(
            db_url=db_url,
            port=port,
            site_key=info["site_key"],
            admin_email=info["admin_email"],
            admin_password=info["admin_password"],
            tenant_slug=info["tenant_slug"],
            identity_secret=info["identity_secret"],
            **fields,
        )

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def visitor_url(self) -> str:
        return f"{self.ws_url}/v1/visitor?site={self.site_key}"

    @property
    def agent_url(self) -> str:
        return f"{self.ws_url}/v1/agent"

    @property
    def origin(self) -> str:
        """An Origin the demo tenant allows (the server's own)."""
        return self.http_url


@dataclasses.dataclass
class RunningServer(ServerAddress):
    """A ``frontdesk serve`` subprocess on a database.

    ``port`` 0 lets the server bind a free port; :meth:`start` reads the bound
    port back from the server's "listening on" line, and a restart binds the
    same port again, so clients reconnect to the address they knew.
    """

    log_path: Path = Path("server.log")
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart) the server and wait until it listens."""
        assert self.process is None or self.process.poll() is not None, "already running"
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [*FRONTDESK, "serve", "--db", self.db_url, "--port", str(self.port), *self.extra_args],
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 20 * SCALE
        line = b""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if b"listening on" in line or not line:
                break
        bound = re.search(rb"listening on \S+:(\d+)", line)
        if bound is None:
            self.stop()
            raise AssertionError(f"server did not start:\n{self.log_path.read_text(errors='replace')}")
        self.port = int(bound.group(1))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGTERM: clean; SIGKILL: a crash) and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10 * SCALE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a CLI command against this server's database."""
        return run_cli(*args, "--db", self.db_url, check=check)

    def add_agent(self, email: str, name: str, role: str = "agent") -> str:
        """Add an agent; its password."""
        out = self.cli("agent", "add", "--email", email, "--name", name, "--role", role, "--json").stdout
        return str(json.loads(out)["password"])


def init_demo(db_url: str) -> dict[str, Any]:
    """``frontdesk init --json`` on ``db_url``: the demo tenant's keys and admin.

    The tenant allows ``localhost:8080``; the server's own origin is always
    allowed (same origin, docs/PROTOCOL.md "Origins"), so a server on any port
    accepts the tests' sockets without naming its port here.
    """
    args = ["init", "--db", db_url, "--json", "--admin-password", "admin-password-1", "--origin", "localhost:8080"]
    return dict(json.loads(run_cli(*args).stdout))


def start_server(tmp_path: Path, extra_args: tuple[str, ...] = (), *, port: int = 0) -> RunningServer:
    """Initialize a fresh demo database under ``tmp_path`` and start a server (on a free port by default)."""
    db_url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    info = init_demo(db_url)
    server = RunningServer.from_init(db_url, info, port=port, log_path=tmp_path / "server.log", extra_args=extra_args)
    server.start()
    return server


@dataclasses.dataclass
class InProcessServer(ServerAddress):
    """A server running in the test's own event loop (see :func:`serve_in_process`)."""

    app: Any = None


@contextlib.asynccontextmanager
async def serve_in_process(tmp_path: Path, **settings: Any) -> AsyncIterator[InProcessServer]:
    """Run the server inside this event loop on port 0, on a fresh demo database.

    The bound port is read back from the listening socket, so there is no
    window in which another process can take it. ``settings`` are
    :class:`~frontdesk.server.app.ServerSettings` fields (rate limits, knobs).
    Faster to start than a subprocess, and the test can reach into
    ``server.app`` (its hub, its store); crash tests still need
    :class:`RunningServer`.
    """
    from frontdesk.server.app import FrontdeskServer, ServerSettings

    db_url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    info = await asyncio.to_thread(init_demo, db_url)
    app = FrontdeskServer(ServerSettings(db_url=db_url, host="127.0.0.1", port=0, **settings))
    await app.start()
    try:
        yield InProcessServer.from_init(db_url, info, port=app.port, app=app)
    finally:
        await app.stop()


def run_on_store(url: str, scenario: Callable[[Any], Awaitable[T]]) -> T:
    """Open the store at ``url``, run ``scenario(store)`` in a new event loop, close the store."""
    from frontdesk.server.store import open_store

    async def main() -> T:
        store = open_store(url)
        await store.open()
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(main())


class ServerError(Exception):
    """An ``error`` frame in answer to a request."""

    def __init__(self, frame: dict[str, Any]) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.code = frame.get("code")
        self.message = frame.get("message")
        self.frame = frame


class WsClient:
    """A protocol-level client for tests: requests, replies and events.

    The protocol side is the one every Python client shares
    (``protocol.ClientProtocol``: refs, typed decoding); this class adds the
    ``websockets`` transport, whose close codes, pings and headers the tests
    need. Frames are read by one background task: replies resolve their
    request, everything else lands in :attr:`events` (and :attr:`frames`, all
    of them). Tests read the wire itself (the frames as dicts), and every
    frame is also decoded with the typed layer: a reply or event that does
    not fit it fails the test that reads it (:attr:`unfit` lists them all).
    """

    def __init__(self, ws: ClientConnection, endpoint: Endpoint = Endpoint.AGENT) -> None:
        self.ws = ws
        self.protocol = ClientProtocol(endpoint, ref_prefix="t")
        #: Frames that do not fit the typed protocol layer, with the reason.
        self.unfit: list[tuple[Any, str]] = []
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: deque[dict[str, Any]] = deque()
        self.frames: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def connect(cls, url: str, origin: str | None = None, **kwargs: Any) -> WsClient:
        ws = await connect(url, origin=origin, compression=None, open_timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]
        return cls(ws, Endpoint.VISITOR if "/v1/visitor" in url else Endpoint.AGENT)

    @classmethod
    async def visitor(cls, server: ServerAddress, **hello: Any) -> tuple[WsClient, dict[str, Any]]:
        """A visitor socket past ``hello``; (client, hello reply)."""
        client = await cls.connect(server.visitor_url, origin=server.origin)
        reply = await client.request("hello", **hello)
        return client, reply

    @classmethod
    async def agent(
        cls, server: ServerAddress, email: str | None = None, password: str | None = None, *, subscribe: bool = True
    ) -> tuple[WsClient, dict[str, Any]]:
        """An agent socket, logged in (as the admin by default) and subscribed."""
        client = await cls.connect(server.agent_url)
        reply = await client.request(
            "login", email=email or server.admin_email, password=password or server.admin_password
        )
        if subscribe:
            await client.request("subscribe")
        return client, reply

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                incoming = self.protocol.receive(raw)
                frame = incoming.raw
                if incoming.error is not None:
                    self.unfit.append((frame, str(incoming.error)))
                self.frames.append(frame)
                if incoming.answers is not None and incoming.answers in self._pending:
                    self._pending.pop(incoming.answers).set_result(frame)
                else:
                    self.events.append(frame)
                    self._arrived.set()
        except Exception:
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("socket closed"))
            if not self.closed.done():
                self.closed.set_result(None)
            self._arrived.set()

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def request(self, type_: str, *, timeout: float = TIMEOUT, **fields: Any) -> dict[str, Any]:
        """Send a request and return its reply; raises :class:`ServerError` on an error frame."""
        frame = await self.request_frame(type_, timeout=timeout, **fields)
        if frame["type"] == "error":
            raise ServerError(frame)
        return frame

    async def request_frame(self, type_: str, *, timeout: float = TIMEOUT, **fields: Any) -> dict[str, Any]:
        """Send a request and return the reply or error frame as is (after
        checking that it fits its request's typed result)."""
        ref, text = self.protocol.request(type_, **fields)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ref] = fut
        await self.ws.send(text)
        try:
            frame = await asyncio.wait_for(fut, timeout)
        finally:
            self.protocol.forget(ref)
        self._check_fits(frame)
        return frame

    def _check_fits(self, frame: Any) -> None:
        for unfit, why in self.unfit:
            if unfit is frame:
                raise AssertionError(f"the server sent a frame that does not fit the protocol ({why}): {frame}")

    async def next_event(self, kind: str | None = None, *, timeout: float = TIMEOUT, **match: Any) -> dict[str, Any]:
        """The next pushed frame of ``kind`` whose ``data`` matches ``match``
        (earlier non-matching frames stay queued)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for frame in list(self.events):
                if kind is not None and frame.get("kind") != kind:
                    continue
                data = frame.get("data", {})
                if all(data.get(k) == v for k, v in match.items()):
                    self.events.remove(frame)
                    self._check_fits(frame)
                    return frame
            if self.closed.done():
                raise ConnectionError(f"socket closed while waiting for {kind} {match}")
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no {kind or 'event'} matching {match}; queued: {list(self.events)[-5:]}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def fence(self, timeout: float = TIMEOUT) -> None:
        """Return once every frame the server sent before now has been read.

        The server publishes an event before it acks the write, and a socket is
        FIFO, so after a ``ping`` is answered nothing sent earlier is still on
        the way: assert absence after a fence, never after a sleep.
        """
        await self.request("ping", timeout=timeout)

    def drain(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Take every queued pushed frame (of ``kind``)."""
        taken = [f for f in self.events if kind is None or f.get("kind") == kind]
        for f in taken:
            self.events.remove(f)
        return taken

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    async def wait_closed(self, timeout: float = TIMEOUT) -> tuple[int | None, str | None]:
        """Wait for the server to close the socket; (code, reason)."""
        await asyncio.wait_for(self.closed, timeout)
        return self.ws.close_code, self.ws.close_reason


def uuid_like(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f-]{36}", text))
