"""Helpers shared by the adversarial suite: raw frames, process memory,
extra tenants, spoofed client addresses and log checks."""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import socket
import sqlite3
import struct
from pathlib import Path
from typing import Any

from tests.support import TIMEOUT, RunningServer, WsClient, run_cli

__all__ = [
    "Tenant",
    "add_tenant",
    "assert_log_clean",
    "db_path",
    "frame",
    "raise_nofile",
    "raw_handshake",
    "read_close",
    "rss_kib",
    "spoofed",
]


def raise_nofile(want: int = 8192) -> None:
    """Raise this process's open-file limit (soft) towards ``want``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def rss_kib(pid: int) -> int:
    """Resident memory of process ``pid`` in KiB (``VmRSS`` in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def db_path(server: RunningServer) -> str:
    return server.db_url[len("sqlite:///") :]


def db_rows(server: RunningServer, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Read the server's SQLite file directly (a second, read-only connection)."""
    conn = sqlite3.connect(f"file:{db_path(server)}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def assert_log_clean(server: RunningServer) -> None:
    """The server log holds no traceback and no ERROR line."""
    text = server.log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]
    assert " ERROR " not in text, text[-4000:]


class Tenant:
    """A second tenant on a running server, with its own admin."""

    def __init__(self, slug: str, site_key: str, secret: str, admin_email: str, admin_password: str) -> None:
        self.slug = slug
        self.site_key = site_key
        self.secret = secret
        self.admin_email = admin_email
        self.admin_password = admin_password

    def visitor_url(self, server: RunningServer) -> str:
        return f"{server.ws_url}/v1/visitor?site={self.site_key}"

    async def visitor(self, server: RunningServer, **hello: Any) -> tuple[WsClient, dict[str, Any]]:
        client = await WsClient.connect(self.visitor_url(server), origin=server.origin)
        return client, await client.request("hello", **hello)

    async def agent(self, server: RunningServer) -> tuple[WsClient, dict[str, Any]]:
        client = await WsClient.connect(server.agent_url)
        reply = await client.request("login", email=self.admin_email, password=self.admin_password, tenant=self.slug)
        await client.request("subscribe")
        return client, reply


def add_tenant(server: RunningServer, slug: str = "t2") -> Tenant:
    """Create tenant ``slug`` (allowing the server's own origin) and its admin."""
    origin_host = server.http_url.split("://", 1)[1]
    info = json.loads(
        run_cli(
            "tenant",
            "add",
            "--db",
            server.db_url,
            "--slug",
            slug,
            "--name",
            slug.upper(),
            "--origin",
            origin_host,
            "--json",
        ).stdout
    )
    email = f"admin@{slug}.test"
    password = f"{slug}-admin-password"
    run_cli(
        "agent",
        "add",
        "--db",
        server.db_url,
        "--tenant",
        slug,
        "--email",
        email,
        "--name",
        f"{slug} admin",
        "--role",
        "admin",
        "--password",
        password,
        "--json",
    )
    return Tenant(slug, info["site_key"], info["identity_secret"], email, password)


def spoofed(ip: str | None = None) -> dict[str, Any]:
    """Connect kwargs that make a ``--trust-proxy`` server see client ``ip``."""
    ip = ip or f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    return {"additional_headers": {"X-Forwarded-For": ip}}


# -- raw sockets ---------------------------------------------------------------------------


def frame(opcode: int, payload: bytes, *, fin: bool = True, length: int | None = None) -> bytes:
    """A masked client frame built by hand; ``length`` may lie about the size."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def raw_handshake(
    server: RunningServer, path: str, origin: str | None, extra: str = ""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """Open a TCP connection and send an upgrade request; (reader, writer, response head)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if extra:
        lines.append(extra)
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    return reader, writer, head


async def read_close(reader: asyncio.StreamReader, timeout: float = TIMEOUT) -> tuple[int | None, list[bytes]]:
    """Read server frames until a close frame or EOF; (close code, text payloads)."""
    texts: list[bytes] = []
    async with asyncio.timeout(timeout):
        while True:
            try:
                b0, b1 = await reader.readexactly(2)
            except asyncio.IncompleteReadError:
                return None, texts
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await reader.readexactly(8))[0]
            payload = await reader.readexactly(n)
            op = b0 & 0x0F
            if op == 0x8:
                return (struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None), texts
            if op == 0x1:
                texts.append(payload)


def small_rcvbuf_socket(server: RunningServer, size: int = 4096) -> socket.socket:
    """A connected TCP socket with a tiny receive buffer (a slow reader)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    sock.connect(("127.0.0.1", server.port))
    sock.setblocking(False)
    return sock
