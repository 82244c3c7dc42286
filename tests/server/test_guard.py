"""Guards below the protocol, pure (server/guard.py): the accept pause on
descriptor exhaustion and the log limiters, on injected clocks."""

from __future__ import annotations

import errno
import logging
import socket

import pytest
from frontdesk.server.guard import AcceptReport, Listener, LogEvery, listen


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class ExhaustedListener(Listener):
    """A listener whose system call always fails with ``errno`` (default EMFILE)."""

    fail_with = errno.EMFILE
    calls = 0

    def _accept(self) -> tuple[int, object]:  # what socket.accept() calls underneath
        type(self).calls += 1
        raise OSError(self.fail_with, "Too many open files")


def test_accept_report_logs_the_first_failure_then_one_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    """Failed accepts produce one warning at once, then at most one per interval,
    each saying how many failures it stands for."""
    clock = FakeClock()
    report = AcceptReport(interval=10.0, clock=clock)
    exc = OSError(errno.EMFILE, "Too many open files")
    with caplog.at_level(logging.WARNING, logger="frontdesk.server"):
        logged = [report.failed(exc) for _ in range(500)]
        clock.now += 10.0
        logged.append(report.failed(exc))
    assert logged.count(True) == 2 and logged[0] and logged[-1]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and report.lines == 2
    assert "Too many open files" in lines[0] and "(1 failed accepts" in lines[0]
    assert "(500 failed accepts" in lines[1]


def test_log_every_keeps_one_line_per_kind_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    """Each kind of peer-triggered line is logged at most once per interval, and
    the next line counts the ones left out; kinds do not silence each other."""
    clock = FakeClock()
    limit = LogEvery(interval=10.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="frontdesk.server"):
        results = [limit("pings", logging.WARNING, "closing %s", ip) for ip in ("a", "b", "c")]
        assert limit("cap", logging.WARNING, "refusing %s", "d")
        clock.now += 10.0
        assert limit("pings", logging.WARNING, "closing %s", "e")
    assert results == [True, False, False]
    assert [r.getMessage() for r in caplog.records] == [
        "closing a",
        "refusing d",
        "closing e (and 2 more like it in the last 10 s)",
    ]


def test_listener_pauses_after_descriptor_exhaustion() -> None:
    """The first EMFILE is raised (asyncio then stops accepting and retries in a
    second) and reported; further accepts within the pause say "nothing to
    accept" without a system call, so asyncio's batch ends at once."""
    report = AcceptReport()
    ExhaustedListener.calls = 0
    sock = ExhaustedListener(socket.AF_INET, socket.SOCK_STREAM)
    sock.report = report
    sock._paused_until = float("-inf")
    try:
        with pytest.raises(OSError) as first:
            sock.accept()
        assert first.value.errno == errno.EMFILE
        for _ in range(4095):  # the rest of asyncio's batch (backlog 4096)
            with pytest.raises(BlockingIOError):
                sock.accept()
        assert ExhaustedListener.calls == 1 and report.lines == 1
        sock._paused_until = float("-inf")  # the pause is over
        with pytest.raises(OSError):
            sock.accept()
        assert ExhaustedListener.calls == 2
    finally:
        sock.close()


def test_listener_passes_other_errors_through_without_pausing() -> None:
    """An accept error that is not about resources (e.g. EINVAL) is raised as is,
    not reported, and does not pause accepting."""
    report = AcceptReport()
    sock = ExhaustedListener(socket.AF_INET, socket.SOCK_STREAM)
    sock.fail_with = errno.EINVAL
    sock.report = report
    sock._paused_until = float("-inf")
    try:
        for _ in range(3):
            with pytest.raises(OSError) as exc:
                sock.accept()
            assert exc.value.errno == errno.EINVAL
        assert report.lines == 0
    finally:
        sock.close()


def test_listen_binds_guarded_sockets_on_one_free_port() -> None:
    """listen() binds every address the host resolves to, as Listener sockets
    on the same port, and accepts a connection through the guard."""
    socks = listen("127.0.0.1", 0, 16, AcceptReport())
    try:
        assert len(socks) == 1 and isinstance(socks[0], Listener)
        port = socks[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as peer:
            socks[0].setblocking(True)
            conn, _ = socks[0].accept()
            conn.close()
            assert peer.fileno() >= 0
    finally:
        for s in socks:
            s.close()


def test_listen_refuses_a_port_in_use() -> None:
    """Binding a port that is taken raises OSError and leaves no socket open."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(OSError):
            listen("127.0.0.1", taken.getsockname()[1], 16, AcceptReport())
    finally:
        taken.close()
