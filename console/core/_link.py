"""One authenticated-or-not WebSocket to the agent endpoint.

Matches requests to replies by ``ref`` (PROTOCOL.md, "Requests"), hands
pushed events to a callback in arrival order, and reports how the socket
closed. It holds no session state: the core builds one per connection.

Frames are read here by the protocol layer's client side
(:class:`~frontdesk.server.protocol.ClientProtocol`, which the tests and the
bench use too): a reply
comes out as its request's typed result (:data:`~frontdesk.server.protocol.RESULTS`),
an event as an :class:`~frontdesk.server.protocol.EventFrame` whose data is
the kind's typed object (:data:`~frontdesk.server.protocol.EVENT_DATA`).
Nothing behind the link sees a wire dict.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from frontdesk.server.protocol import (
    RESULTS,
    Attachment,
    ClientProtocol,
    CloseCode,
    Endpoint,
    ErrorFrame,
    EventFrame,
    FileBeginResult,
    FileProgress,
    FrameError,
    ReplyFrame,
    Result,
    decode_frame,
    encode,
)

from .exceptions import ServerError
from .uploads import UploadError

if TYPE_CHECKING:
    from ._connection import WebSocketLike

__all__ = ["LinkClosed", "_Link", "read_event", "unreadable_event"]

log = logging.getLogger("frontdesk.console.sync")

_R = TypeVar("_R", bound=Result)


def unreadable_event(exc: FrameError) -> EventFrame | None:
    """A stand-in for an event frame that did not decode (an unknown kind, or
    data that does not fit its kind): ``data`` is None. Kept when it has an
    ``event_id``, so the cursor moves past it (replaying it would fail the
    same way on every reconnect); None for an ephemeral one."""
    if exc.event_id is None:
        return None
    return EventFrame(kind=exc.kind or "", data=None, event_id=exc.event_id)


def read_event(text: str) -> EventFrame | None:
    """An event frame the agent endpoint pushed, decoded (see
    :func:`unreadable_event` for one that does not decode); None for a frame
    that is not an event."""
    try:
        frame = decode_frame(text, endpoint=Endpoint.AGENT)
    except FrameError as exc:
        return unreadable_event(exc)
    return frame if isinstance(frame, EventFrame) else None


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

    def __init__(self, ws: WebSocketLike, on_event: Callable[[EventFrame], None], timeout: float) -> None:
        self._ws = ws
        self._on_event = on_event
        self._timeout = timeout
        self._protocol = ClientProtocol(Endpoint.AGENT)
        self._pending: dict[str, asyncio.Future[Result]] = {}
        self._uploads: dict[str, Callable[[FileProgress | Exception], None]] = {}
        self.closed: LinkClosed | None = None

    async def run(self) -> LinkClosed:
        """Read frames until the socket closes; returns how it closed."""
        try:
            while True:
                raw = await self._ws.recv()
                if isinstance(raw, bytes):
                    log.warning("ignoring a binary frame from the server")
                    continue
                self._dispatch(raw)
        except asyncio.CancelledError:
            self._fail(LinkClosed(None, "cancelled"))
            raise
        except Exception as exc:  # ConnectionClosed and any transport error
            code, reason = _close_info(exc)
            closed = LinkClosed(code, reason)
            log.info("connection closed: code=%s reason=%r (%s)", code, reason, type(exc).__name__)
            self._fail(closed)
            return closed

    def _dispatch(self, text: str) -> None:
        incoming = self._protocol.receive(text)
        frame, error = incoming.frame, incoming.error
        if incoming.answers is not None:
            future = self._pending.pop(incoming.answers, None)
            if future is None or future.done():
                return
            if isinstance(frame, ReplyFrame):
                future.set_result(frame.result)
            elif isinstance(frame, ErrorFrame):
                future.set_exception(ServerError(frame.code.value, frame.message))
            else:
                log.warning("malformed reply to request %s: %s", incoming.answers, error)
                future.set_exception(ServerError("invalid", f"the server sent a malformed reply: {error}"))
        elif isinstance(frame, EventFrame) and isinstance(frame.data, FileProgress):
            watcher = self._uploads.get(frame.data.upload)
            if watcher is not None:
                watcher(frame.data)
        elif isinstance(frame, EventFrame):
            self._on_event(frame)
        elif isinstance(frame, ErrorFrame) and frame.upload is not None:
            watcher = self._uploads.get(frame.upload)
            if watcher is not None:
                watcher(UploadError(frame.code.value, frame.message))
        elif isinstance(frame, ErrorFrame):
            log.info("server error without a request: %s: %s", frame.code, frame.message)
        elif error is not None:
            event = unreadable_event(error)
            if event is not None:
                self._on_event(event)  # the cache logs it and moves its cursor past it
            else:
                log.warning("ignoring a frame that does not fit the protocol: %s", error)

    def _fail(self, closed: LinkClosed) -> None:
        self.closed = closed
        for future in self._pending.values():
            if not future.done():
                future.set_exception(closed)
        self._pending.clear()
        for watcher in list(self._uploads.values()):
            watcher(closed)

    async def request(self, result: type[_R], kind: str, *, wait_s: float | None = None, **fields: Any) -> _R:
        """Send a request and wait for its reply, decoded as the request's
        :data:`RESULTS` type, which must be a ``result`` (the type the caller
        reads; :class:`Result` takes any). Fields that are None are left out.

        Raises :class:`ServerError` for an ``error`` frame (or a reply that
        does not fit the protocol: ``invalid``), :class:`LinkClosed` when the
        socket closes first, :class:`TimeoutError` when the server does not
        answer in time (the caller should drop the connection: the request
        may or may not have been processed). ``wait_s`` replaces the link's
        timeout for this request.
        """
        if self.closed is not None:
            raise self.closed
        expected = RESULTS[(Endpoint.AGENT, kind)]
        if not issubclass(expected, result):
            raise TypeError(f"a {kind} reply is a {expected.__name__}, not a {result.__name__}")
        ref, text = self._protocol.request(kind, **{k: v for k, v in fields.items() if v is not None})
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            await self._ws.send(text)
            reply = await asyncio.wait_for(future, self._timeout if wait_s is None else wait_s)
        except Exception as exc:
            self._pending.pop(ref, None)
            self._protocol.forget(ref)
            if isinstance(exc, LinkClosed | ServerError | TimeoutError):
                raise
            code, reason = _close_info(exc)
            raise LinkClosed(code, reason) from exc
        assert isinstance(reply, result)  # decoded as ``expected``, a subclass of ``result``
        return reply

    # -- uploads (PROTOCOL.md, "Attachments"; driven by uploads.upload_file) ------------

    async def begin_upload(self, name: str, size: int, resume: str | None) -> FileBeginResult:
        """``file.begin``; :class:`UploadError` when the server refuses it (``too_large``...)."""
        try:
            return await self.request(FileBeginResult, "file.begin", name=name, size=size, resume=resume)
        except ServerError as exc:
            raise UploadError(exc.code, exc.message or exc.code) from None

    async def finish_upload(self, key: str, timeout: float) -> Attachment:
        """``file.finish``, waiting up to ``timeout`` (the server stores and re-encodes first)."""
        try:
            return await self.request(Attachment, "file.finish", wait_s=max(self._timeout, timeout), upload=key)
        except ServerError as exc:
            raise UploadError(exc.code, exc.message or exc.code) from None

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary frame (an upload chunk)."""
        if self.closed is not None:
            raise self.closed
        try:
            await self._ws.send(data)
        except Exception as exc:
            code, reason = _close_info(exc)
            raise LinkClosed(code, reason) from exc

    def watch_upload(self, key: str, on_news: Callable[[FileProgress | Exception], None]) -> Callable[[], None]:
        """Route the upload's ``file.progress`` events and unsolicited errors to ``on_news``
        (and the link's end, as its :class:`LinkClosed`); returns the function that stops it."""
        self._uploads[key] = on_news
        if self.closed is not None:
            on_news(self.closed)
        return lambda: self._uploads.pop(key, None) and None

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
