"""One authenticated-or-not WebSocket to the agent endpoint.

Matches requests to replies by ``ref`` (PROTOCOL.md, "Requests"), hands
pushed events to a callback in arrival order, and reports how the socket
closed. It holds no session state: the core builds one per connection.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from frontdesk.server.protocol import CloseCode, decode, encode

from . import wire
from .exceptions import ServerError

if TYPE_CHECKING:
    from ._connection import WebSocketLike

__all__ = ["LinkClosed", "_Link"]

log = logging.getLogger("frontdesk.console.sync")


class LinkClosed(Exception):
    """The socket closed; ``code`` is the close code when one was received."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"connection closed ({code}): {reason}" if code else "connection lost")
        self.code = code
        self.reason = reason

    @property
    def session_ended(self) -> bool:
        """True when the server closed us for policy: token revoked, agent
        disabled (PROTOCOL.md, "Close codes", 1008)."""
        return bool(self.code == CloseCode.POLICY)


def _close_info(exc: BaseException) -> tuple[int | None, str]:
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is not None:
        return int(getattr(rcvd, "code", 0)) or None, str(getattr(rcvd, "reason", ""))
    return None, ""


class _Link:
    """Request/reply and event dispatch over one socket."""

    def __init__(self, ws: WebSocketLike, on_event: Callable[[dict[str, Any]], None], timeout: float) -> None:
        self._ws = ws
        self._on_event = on_event
        self._timeout = timeout
        self._refs = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.closed: LinkClosed | None = None

    async def run(self) -> LinkClosed:
        """Read frames until the socket closes; returns how it closed."""
        try:
            while True:
                raw = await self._ws.recv()
                if isinstance(raw, bytes):
                    log.warning("ignoring a binary frame from the server")
                    continue
                try:
                    frame = decode(raw)
                except ValueError:
                    log.warning("ignoring a frame that is not JSON")
                    continue
                self._dispatch(frame)
        except asyncio.CancelledError:
            self._fail(LinkClosed(None, "cancelled"))
            raise
        except Exception as exc:  # ConnectionClosed and any transport error
            code, reason = _close_info(exc)
            closed = LinkClosed(code, reason)
            log.info("connection closed: code=%s reason=%r (%s)", code, reason, type(exc).__name__)
            self._fail(closed)
            return closed

    def _dispatch(self, frame: Any) -> None:
        kind = wire.frame_kind(frame)
        if kind in ("reply", "error"):
            ref = wire.ref_of(frame)
            future = self._pending.pop(ref, None) if ref is not None else None
            if future is None:
                if kind == "error":
                    log.info("server error without a request: %s: %s", *wire.error_of(frame))
                return
            if not future.done():
                future.set_result(frame)
        elif kind == "event":
            self._on_event(frame)
        else:
            log.debug("ignoring a frame that is not a reply, error or event")

    def _fail(self, closed: LinkClosed) -> None:
        self.closed = closed
        for future in self._pending.values():
            if not future.done():
                future.set_exception(closed)
        self._pending.clear()

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a request and wait for its reply.

        Raises :class:`ServerError` for an ``error`` frame, :class:`LinkClosed`
        when the socket closes first, :class:`TimeoutError` when the server
        does not answer in time (the caller should drop the connection: the
        request may or may not have been processed).
        """
        if self.closed is not None:
            raise self.closed
        ref = str(next(self._refs))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        frame = {"type": kind, "ref": ref, **{k: v for k, v in fields.items() if v is not None}}
        try:
            await self._ws.send(encode(frame))
            reply = await asyncio.wait_for(future, self._timeout)
        except Exception as exc:
            self._pending.pop(ref, None)
            if isinstance(exc, LinkClosed | ServerError | TimeoutError):
                raise
            code, reason = _close_info(exc)
            raise LinkClosed(code, reason) from exc
        if wire.frame_kind(reply) == "error":
            raise ServerError(*wire.error_of(reply))
        return reply

    async def send(self, kind: str, **fields: Any) -> None:
        """Send a request without a ``ref`` (no reply expected). Best effort."""
        if self.closed is not None:
            return
        try:
            await self._ws.send(encode({"type": kind, **fields}))
        except Exception as exc:
            log.debug("send %s failed: %s", kind, type(exc).__name__)

    async def close(self, code: int = 1000) -> None:
        """Close the socket (idempotent)."""
        try:
            await self._ws.close(code)
        except Exception as exc:
            log.debug("close failed: %s", type(exc).__name__)
