"""Guards below the protocol: control frames a peer sends, and the accept loop.

Two things a peer can make the server do that no request-level limit sees:

- **Pings.** websockets answers every ping with a pong at once (RFC 6455
  §5.5.2 says it must), before the application sees anything, and writes the
  pong without flow control. A peer that sends pings and never reads makes
  the server buffer its pongs without bound (issue 11: +600 MB in 28 s from
  one socket). :class:`GuardedConnection` limits the pings per second, and
  closes a socket whose pongs pile up unread.
- **Descriptor exhaustion.** When ``accept()`` fails with ``EMFILE`` (the
  open-file limit), asyncio stops accepting for a second, but keeps calling
  ``accept()`` for the rest of its batch (up to the listen backlog) and logs
  each failure with a traceback: 500,000 log lines in 50 s. :class:`Listener`
  makes the rest of the batch a no-op, so asyncio pauses once, and
  :class:`AcceptReport` logs one line per interval.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import time
from collections.abc import Callable
from typing import Any, ClassVar, Final

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from .protocol import CloseCode
from .ratelimit import Rate, TokenBucket

__all__ = [
    "ACCEPT_PAUSE_S",
    "ACCEPT_REPORT_INTERVAL_S",
    "MAX_UNREAD_CONTROL_BYTES",
    "AcceptReport",
    "GuardedConnection",
    "Listener",
    "LogEvery",
    "listen",
    "log_every",
]

log = logging.getLogger("frontdesk.server")

#: A forgotten handshake's request headers (:meth:`GuardedConnection.forget_handshake`), shared by every socket:
#: nothing writes a request's headers after the handshake (neither the server nor websockets).
_NO_HEADERS: Final = Headers()

#: Control-frame answers (pongs, a close) the server writes to a socket whose
#: write buffer is already over websockets' high-water mark (``write_limit``,
#: 64 KiB: the peer is not reading) before it aborts the TCP connection.
MAX_UNREAD_CONTROL_BYTES: Final = 64 * 1024
#: Seconds a close frame sent for too many pings may wait behind unread data
#: before the TCP connection is aborted (as ``hub.CLOSE_GRACE_S``).
PING_CLOSE_GRACE_S: Final = 2.0
#: After ``accept()`` fails for lack of descriptors, further ``accept()`` calls
#: in this window return "nothing to accept" at once; asyncio itself retries
#: one second later (``asyncio.constants.ACCEPT_RETRY_DELAY``).
ACCEPT_PAUSE_S: Final = 0.5
#: At most one log line per this many seconds about failing accepts.
ACCEPT_REPORT_INTERVAL_S: Final = 10.0
#: What asyncio's event loop passes to its exception handler on such a failure.
ASYNCIO_ACCEPT_MESSAGE: Final = "socket.accept() out of system resource"
_RESOURCE_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class GuardedConnection(ServerConnection):
    """A websockets server connection that bounds what a peer can make it
    buffer by sending control frames.

    - More pings than :attr:`ping_rate` allows: the connection is failed with
      1008 "too many pings" (the close frame, then the TCP connection is
      aborted after :data:`PING_CLOSE_GRACE_S` if the peer does not read it).
    - More than :data:`MAX_UNREAD_CONTROL_BYTES` of automatic answers written
      while the write buffer is over its high-water mark: the TCP connection is
      aborted at once (a close frame could not get out anyway).

    Give each server its own subclass through :meth:`configured`.
    """

    #: Incoming pings allowed per connection (sustained per second / burst).
    ping_rate: ClassVar[Rate] = Rate(1, 10)

    # Per-socket state with class-level defaults: an instance attribute is set only when it first changes, so an
    # idle socket's attribute dictionary stays as small as the library's own (docs/PERFORMANCE.md, idle memory).
    #: The ping budget, from the first ping on: browsers never send one, so most sockets never need it.
    _pings: TokenBucket | None = None
    #: Bytes of automatic answers written since the buffer went over its high-water mark.
    _unread_control: int = 0
    #: How the log names the peer once the handshake is forgotten (:meth:`forget_handshake`).
    _peer: str | None = None

    @classmethod
    def configured(
        cls, ping_rate: Rate, describe: Callable[[ServerConnection], str] | None = None
    ) -> type[GuardedConnection]:
        """A subclass with these settings (``serve(create_connection=...)`` takes a class)."""
        attrs: dict[str, Any] = {"ping_rate": ping_rate}
        if describe is not None:
            attrs["describe"] = lambda self: describe(self) if self._peer is None else self._peer
        return type("GuardedConnection", (cls,), attrs)

    #: Seconds a peer has, from the TCP connection, to send its HTTP request (the library's ``open_timeout``, which
    #: the server turns off: it would also cut a download streamed from the handshake hook, server/downloads.py).
    request_timeout: ClassVar[float] = 10.0

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        """The library's handshake, with the request (not the hook's answer) bounded by :attr:`request_timeout`."""
        done, _ = await asyncio.wait(
            [self.request_rcvd, self.connection_lost_waiter],
            timeout=self.request_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not done:
            raise TimeoutError("no HTTP request in time")  # the library aborts the connection
        await super().handshake(*args, **kwargs)

    def describe(self) -> str:
        """How the log names this connection's peer (the server passes its
        client-address rule, X-Forwarded-For included, to :meth:`configured`)."""
        if self._peer is not None:
            return self._peer
        return str(self.remote_address[0]) if self.remote_address else "?"

    def forget_handshake(self, peer: str) -> None:
        """Drop the HTTP request and response of the opening handshake, once the server has read from them all
        it needs (the path, the site key, the client's address): the library keeps them, headers and all, for
        the socket's whole life, ~3 KB of an idle socket's ~16 (docs/PERFORMANCE.md, idle memory). ``peer``
        is how the log names the connection from then on (what :meth:`describe` read from the headers)."""
        self._peer = peer
        if self.request is not None:
            # Emptied in place, not replaced: the library reads None as "no handshake yet", and its parser
            # (the sans-I/O protocol's parse generator) holds the same request object until the socket closes.
            self.request.path = "/"
            self.request.headers = _NO_HEADERS
        self.response = None

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        before = transport.get_write_buffer_size()
        super().data_received(data)
        grown = transport.get_write_buffer_size() - before
        if grown > 0 and self.paused and not transport.is_closing():
            # The protocol answered this data (pongs) while the peer is not reading.
            self._unread_control += grown
            if self._unread_control > MAX_UNREAD_CONTROL_BYTES:
                log_every(
                    "unread-pongs",
                    logging.WARNING,
                    "aborting a socket from %s: it sends pings but does not read the pongs",
                    self.describe(),
                )
                transport.abort()

    def resume_writing(self) -> None:
        if self._unread_control:  # the peer reads again (left unset otherwise: the class default is 0)
            self._unread_control = 0
        super().resume_writing()

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            if self._pings is None:
                self._pings = TokenBucket(self.ping_rate)
            if not self._pings.take():
                self._too_many_pings()
                return
        super().process_event(event)

    def _too_many_pings(self) -> None:
        if self.protocol.state is not State.OPEN:
            return
        log_every(
            "pings",
            logging.WARNING,
            "closing a socket from %s: more pings than %s (per second/burst)",
            self.describe(),
            self.ping_rate,
        )
        self.protocol.fail(CloseCode.POLICY, "too many pings")
        try:
            self.send_data()
        except Exception as exc:  # as websockets' own data_received: a write error ends the connection
            self.set_connection_exc(exc)
            self.transport.abort()
            return
        self.loop.call_later(PING_CLOSE_GRACE_S, self._abort_unless_closed)

    def _abort_unless_closed(self) -> None:
        if not self.connection_lost_waiter.done():
            self.transport.abort()


class LogEvery:
    """At most one log line per ``interval`` seconds for each kind of event
    a peer can trigger at will (a refused socket, a closed flood), with the
    number left out since the last line: no peer can flood the log."""

    def __init__(self, interval: float = ACCEPT_REPORT_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._next: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def __call__(self, kind: str, level: int, message: str, *args: Any) -> bool:
        """Log ``message % args`` unless ``kind`` was logged within the interval; whether it was."""
        now = self.clock()
        if now < self._next.get(kind, float("-inf")):
            self._skipped[kind] = self._skipped.get(kind, 0) + 1
            return False
        skipped = self._skipped.pop(kind, 0)
        if skipped:
            message += " (and %d more like it in the last %g s)"
            args = (*args, skipped, self.interval)
        log.log(level, message, *args)
        self._next[kind] = now + self.interval
        return True


#: The server's peer-triggered log lines go through this one limiter.
log_every = LogEvery()


class AcceptReport:
    """Counts failed accepts and logs at most one line per
    :data:`ACCEPT_REPORT_INTERVAL_S` (the first failure is logged at once)."""

    def __init__(self, interval: float = ACCEPT_REPORT_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.failures = 0  #: since the last line
        self.lines = 0  #: lines logged so far
        self._next = float("-inf")

    def failed(self, exc: OSError) -> bool:
        """Count one failure; whether it was logged."""
        self.failures += 1
        now = self.clock()
        if now < self._next:
            return False
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        log.warning(
            "cannot accept connections: %s (open-file limit %s); pausing accepts, retrying every second"
            " (%d failed accepts since the last report; next report in %g s at the earliest)",
            exc.strerror or exc,
            soft,
            self.failures,
            self.interval,
        )
        self.failures = 0
        self.lines += 1
        self._next = now + self.interval
        return True


class Listener(socket.socket):
    """A listening socket whose ``accept()`` reports descriptor exhaustion
    once and then says "nothing to accept" for :data:`ACCEPT_PAUSE_S`.

    asyncio's accept loop (``BaseSelectorEventLoop._accept_connection``) calls
    ``accept()`` up to ``backlog`` times per wake-up. On ``EMFILE`` it removes
    the reader and schedules a retry, but carries on with the batch; the
    ``BlockingIOError`` raised here ends the batch, so each exhaustion costs
    one failed system call and one retry a second, not thousands.
    """

    report: AcceptReport
    _paused_until: float

    def accept(self) -> tuple[socket.socket, Any]:
        if time.monotonic() < self._paused_until:
            raise BlockingIOError(errno.EAGAIN, "accepts paused: out of file descriptors")
        try:
            return super().accept()
        except OSError as exc:
            if exc.errno in _RESOURCE_ERRNOS:
                self._paused_until = time.monotonic() + ACCEPT_PAUSE_S
                self.report.failed(exc)
            raise


def listen(host: str, port: int, backlog: int, report: AcceptReport) -> list[Listener]:
    """Listening sockets for ``host``:``port`` (every address it resolves
    to, as ``loop.create_server`` would bind them), each a :class:`Listener`.

    Raises :class:`OSError` if any of them cannot be bound.
    """
    infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    listeners: list[Listener] = []
    seen: set[Any] = set()
    try:
        for family, type_, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = Listener(family, type_, proto)
            listeners.append(sock)
            sock.report = report
            sock._paused_until = float("-inf")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and listeners[0] is not sock:
                # Every address on the same free port, as asyncio does not (but one port is what we print).
                address = (address[0], listeners[0].getsockname()[1], *address[2:])
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners
