"""A minimal WebSocket client for load generation (RFC 6455, text frames only).

The load generator must stay far cheaper than the server it measures, or the
run measures the generator. The ``websockets`` client costs a task, a frame
object and an assembler per message; this one is an :class:`asyncio.Protocol`
that hands each complete text frame's payload (bytes, undecoded) to a
callback, with one timestamp per read. It masks what it sends, as a client
must (RFC 6455 §5.3), answers pings (the server closes a silent socket) and
does nothing else: no fragmentation, no extensions, no compression.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import time
from collections.abc import Callable
from typing import Any

try:
    from websockets.speedups import apply_mask as _apply_mask  # type: ignore[attr-defined, unused-ignore]
except ImportError:  # pragma: no cover - websockets built without its C extension

    def _apply_mask(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
        n = len(data)
        key = int.from_bytes((bytes(mask) * (n // 4 + 1))[:n], "big")
        return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


__all__ = ["FrameHandler", "WsConn", "connect"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: Called with (connection, payload of one text frame, monotonic ns of the read).
FrameHandler = Callable[["WsConn", bytes, int], None]


class WsConn(asyncio.Protocol):
    """One client socket. Set :attr:`handler` to receive text frames."""

    def __init__(self, host_header: str, path: str, origin: str | None, handler: FrameHandler) -> None:
        self.handler = handler
        self.transport: asyncio.Transport | None = None
        self._key = base64.b64encode(os.urandom(16))
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self._key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
            + (f"Origin: {origin}\r\n" if origin else "")
            + "\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[int] = loop.create_future()
        self._buf = bytearray()
        self._upgraded = False
        self.close_code = 0
        #: Free slot for the workload's per-connection state.
        self.state: Any = None

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the upgrade: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(self.close_code or 1006)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            accept = base64.b64encode(hashlib.sha1(self._key + _GUID).digest())  # noqa: S324 - RFC 6455 §4.2.2
            if not head.startswith(b"HTTP/1.1 101") or accept not in head:
                status = head.split(b"\r\n", 1)[0].decode(errors="replace")
                self.opened.set_exception(ConnectionError(f"upgrade refused: {status}"))
                assert self.transport is not None
                self.transport.close()
                return
            self._upgraded = True
            self.opened.set_result(None)
        off = 0
        size = len(buf)
        while size - off >= 2:
            b0 = buf[off]
            length = buf[off + 1] & 0x7F
            pos = off + 2
            if length == 126:
                if size - off < 4:
                    break
                length = (buf[pos] << 8) | buf[pos + 1]
                pos += 2
            elif length == 127:
                if size - off < 10:
                    break
                length = int.from_bytes(buf[pos : pos + 8], "big")
                pos += 8
            end = pos + length
            if end > size:
                break
            payload = bytes(buf[pos:end])
            off = end
            opcode = b0 & 0x0F
            if opcode == 1:
                self.handler(self, payload, now)
            elif opcode == 9:
                self._send(0xA, payload)
            elif opcode == 8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self._send(0x8, payload[:2])
                assert self.transport is not None
                self.transport.close()
                break
        if off:
            del buf[:off]

    # -- sending -------------------------------------------------------------------------

    def _send(self, opcode: int, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        n = len(payload)
        mask = os.urandom(4)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        transport.write(header + mask + _apply_mask(payload, mask))

    def send_text(self, text: str) -> None:
        """Queue one text frame (never blocks; the transport buffers)."""
        self._send(0x1, text.encode())

    def close(self, code: int = 1000) -> None:
        """Send a close frame and drop the connection."""
        if self.transport is not None and not self.transport.is_closing():
            self._send(0x8, code.to_bytes(2, "big"))
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def connect(
    host: str,
    port: int,
    path: str,
    handler: FrameHandler,
    *,
    origin: str | None = None,
    local_ip: str | None = None,
    timeout: float = 30.0,
) -> WsConn:
    """Open a socket to ``ws://host:port{path}``; ``local_ip`` picks the source address."""
    loop = asyncio.get_running_loop()
    host_header = f"{host}:{port}"
    _, conn = await asyncio.wait_for(
        loop.create_connection(
            lambda: WsConn(host_header, path, origin, handler),
            host,
            port,
            local_addr=(local_ip, 0) if local_ip else None,
        ),
        timeout,
    )
    await asyncio.wait_for(conn.opened, timeout)
    return conn
