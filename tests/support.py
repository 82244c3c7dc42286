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
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

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
    "RunningServer",
    "ServerError",
    "WsClient",
    "free_port",
    "new_client_id",
    "run_cli",
    "start_server",
]


def free_port() -> int:
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
class RunningServer:
    """A ``frontdesk serve`` subprocess on a fixed port and database."""

    db_url: str
    port: int
    site_key: str
    admin_email: str
    admin_password: str
    tenant_slug: str
    identity_secret: str
    log_path: Path
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

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
        if b"listening on" not in line:
            self.stop()
            raise AssertionError(f"server did not start:\n{self.log_path.read_text(errors='replace')}")

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


def start_server(tmp_path: Path, extra_args: tuple[str, ...] = (), *, port: int | None = None) -> RunningServer:
    """Initialize a fresh demo database under ``tmp_path`` and start a server."""
    db_url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    port = port or free_port()
    info = json.loads(
        run_cli(
            "init",
            "--db",
            db_url,
            "--json",
            "--admin-password",
            "admin-password-1",
            "--origin",
            "localhost:8080",
            "--origin",
            f"127.0.0.1:{port}",
        ).stdout
    )
    server = RunningServer(
        db_url=db_url,
        port=port,
        site_key=info["site_key"],
        admin_email=info["admin_email"],
        admin_password=info["admin_password"],
        tenant_slug=info["tenant_slug"],
        identity_secret=info["identity_secret"],
        log_path=tmp_path / "server.log",
        extra_args=extra_args,
    )
    server.start()
    return server


class ServerError(Exception):
    """An ``error`` frame in answer to a request."""

    def __init__(self, frame: dict[str, Any]) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.code = frame.get("code")
        self.message = frame.get("message")
        self.frame = frame


class WsClient:
    """A protocol-level client for tests: requests, replies and events.

    Frames are read by one background task: replies resolve their request,
    everything else lands in :attr:`events` (and :attr:`frames`, all of them).
    """

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ref = 0
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: deque[dict[str, Any]] = deque()
        self.frames: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def connect(cls, url: str, origin: str | None = None, **kwargs: Any) -> WsClient:
        ws = await connect(url, origin=origin, compression=None, open_timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]
        return cls(ws)

    @classmethod
    async def visitor(cls, server: RunningServer, **hello: Any) -> tuple[WsClient, dict[str, Any]]:
        """A visitor socket past ``hello``; (client, hello reply)."""
        client = await cls.connect(server.visitor_url, origin=server.origin)
        reply = await client.request("hello", **hello)
        return client, reply

    @classmethod
    async def agent(
        cls, server: RunningServer, email: str | None = None, password: str | None = None, *, subscribe: bool = True
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
                frame = json.loads(raw)
                self.frames.append(frame)
                ref = frame.get("ref")
                if frame.get("type") in ("reply", "error") and ref in self._pending:
                    self._pending.pop(ref).set_result(frame)
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
        """Send a request and return the reply or error frame as is."""
        self._ref += 1
        ref = f"t{self._ref}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ref] = fut
        await self.ws.send(json.dumps({"type": type_, "ref": ref, **fields}))
        return await asyncio.wait_for(fut, timeout)

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
                    return frame
            if self.closed.done():
                raise ConnectionError(f"socket closed while waiting for {kind} {match}")
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no {kind or 'event'} matching {match}; queued: {list(self.events)[-5:]}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

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
