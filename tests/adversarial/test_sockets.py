"""Abuse below the request limits: control-frame floods, deep JSON while
rate-limited, descriptor exhaustion, idle and piled-up sockets (issue 11,
items 1 to 4)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from tests.adversarial._util import assert_log_clean, frame, raise_nofile, spoofed
from tests.support import TIMEOUT, RunningServer, WsClient, start_server

PING = frame(0x9, b"p" * 125)


async def _unread_upgrade(server: RunningServer, path: str = "/v1/agent") -> tuple[asyncio.StreamWriter, socket.socket]:
    """An upgraded socket with a 4 KiB receive buffer that the test never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101"), head
    return writer, sock


async def _ping_until_cut(writer: asyncio.StreamWriter) -> int:
    """Send pings as fast as TCP takes them, never reading; the bytes sent
    before the server cut the connection (AssertionError if it never does)."""
    sent = 0
    batch = PING * 200
    deadline = time.monotonic() + 3 * TIMEOUT
    while time.monotonic() < deadline:
        try:
            writer.write(batch)
            await writer.drain()
        except (ConnectionError, OSError):
            return sent
        sent += len(batch)
        await asyncio.sleep(0)
    raise AssertionError(f"the server never cut a socket that pinged {sent} bytes without reading")


def _open_sockets(server: RunningServer) -> int:
    """The server's open-socket count, from /healthz."""
    with urllib.request.urlopen(server.http_url + "/healthz", timeout=TIMEOUT) as response:  # noqa: S310 - our server
        return int(json.loads(response.read())["connections"])


def _log_lines(server: RunningServer, needle: str) -> int:
    return sum(needle in line for line in server.log_path.read_text(errors="replace").splitlines())


# -- 1. control frames ---------------------------------------------------------------------------


def test_ping_flood_without_reading_is_closed(server: RunningServer) -> None:
    """Attack (issue 11.1): upgrade to /v1/agent with no login, never read, and send
    125-byte pings as fast as TCP takes them; past the ping limit the server closes
    the socket (the pongs cannot pile up), logs one line, and serves on."""

    async def scenario() -> None:
        writer, _ = await _unread_upgrade(server)
        await _ping_until_cut(writer)
        writer.close()
        ok, _ = await WsClient.agent(server)
        await ok.close()

    asyncio.run(scenario())
    assert _log_lines(server, "more pings than") == 1
    assert_log_clean(server)


def test_unread_pongs_are_bounded_even_below_the_ping_limit(tmp_path: Path) -> None:
    """Attack (issue 11.1): with the ping limit lifted out of the way, the same flood
    is still cut off: a socket may not make the server buffer more than 64 KiB of
    pongs it does not read (its TCP connection is aborted)."""
    server = start_server(tmp_path, ("--rate-ping", "1000000/2000000"))

    async def scenario() -> None:
        writer, _ = await _unread_upgrade(server)
        await _ping_until_cut(writer)
        writer.close()
        ok, _ = await WsClient.agent(server)
        await ok.close()

    try:
        asyncio.run(scenario())
        assert _log_lines(server, "does not read the pongs") == 1
        assert _log_lines(server, "more pings than") == 0
        assert_log_clean(server)
    finally:
        server.stop()


def test_a_client_that_reads_may_keep_pinging_within_the_limit(tmp_path: Path) -> None:
    """A client that reads its pongs and pings within the limit (the console's
    keepalive is one every 20 s) is never cut off by the control-frame guard."""
    server = start_server(tmp_path, ("--rate-ping", "1000/1000"))

    async def scenario() -> None:
        client, _ = await WsClient.agent(server)
        for _ in range(50):
            await asyncio.wait_for(await client.ws.ping(b"p" * 125), TIMEOUT)
        assert (await client.request("ping"))["type"] == "reply"
        await client.close()

    try:
        asyncio.run(scenario())
        assert_log_clean(server)
    finally:
        server.stop()


# -- 2. deep JSON --------------------------------------------------------------------------------

DEEP = "[" * 2000 + "]" * 2000


@pytest.mark.parametrize("endpoint", ["agent", "visitor"])
def test_deep_json_while_rate_limited_gets_an_error_not_a_1011(tmp_path: Path, endpoint: str) -> None:
    """Attack (issue 11.2): `[`×2000 `]`×2000 first within the budget, then once
    rate-limited; the first gets `invalid`, the second `rate_limited` (ref null),
    a later frame still gets its own answer in order: no 1011, no traceback."""
    server = start_server(tmp_path, ("--rate-conn", "0.01/2"))  # two frames served, then none for 100 s

    async def scenario() -> None:
        if endpoint == "agent":
            client = await WsClient.connect(server.agent_url)
        else:
            client = await WsClient.connect(server.visitor_url, origin=server.origin)
        await client.send_raw(DEEP)
        served = await client.request_frame("ping")  # the second served frame (unauthorized: no session yet)
        await client.send_raw(DEEP)
        fence = await client.request_frame("ping")
        assert fence["code"] == "rate_limited" and fence["ref"] is not None, fence
        errors = [(f["code"], f["ref"]) for f in client.frames]
        assert errors == [
            ("invalid", None),
            ("unauthorized", served["ref"]),
            ("rate_limited", None),
            ("rate_limited", fence["ref"]),
        ], client.frames
        assert not client.closed.done()
        await client.close()

    try:
        asyncio.run(scenario())
        assert_log_clean(server)
    finally:
        server.stop()


# -- 3. descriptors ------------------------------------------------------------------------------


def test_descriptor_exhaustion_logs_once_pauses_and_recovers(server: RunningServer) -> None:
    """Attack (issue 11.3): with the server's open-file limit a few descriptors
    above what it uses, open 80 TCP connections; accept() fails with EMFILE. The
    log gets one line (not one traceback per failed accept), the server stays up,
    and once the sockets close it serves again."""
    assert server.process is not None
    pid = server.process.pid
    raise_nofile(4096)
    used = len(os.listdir(f"/proc/{pid}/fd"))
    limit = used + 16
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))

    async def scenario() -> None:
        socks = []
        try:
            for _ in range(80):
                s = socket.socket()
                s.setblocking(False)
                with contextlib.suppress(BlockingIOError):  # completes in the kernel's backlog
                    s.connect(("127.0.0.1", server.port))
                socks.append(s)
            deadline = time.monotonic() + TIMEOUT
            while not _log_lines(server, "cannot accept connections") + _log_lines(server, "out of system resource"):
                assert time.monotonic() < deadline, server.log_path.read_text(errors="replace")[-3000:]
                await asyncio.sleep(0.05)
            await asyncio.sleep(2.5)  # two of asyncio's one-second accept retries while still exhausted
        finally:
            for s in socks:
                s.close()
        ok, _ = await WsClient.agent(server)
        assert (await ok.request("ping"))["type"] == "reply"
        await ok.close()

    asyncio.run(scenario())
    assert server.process.poll() is None
    text = server.log_path.read_text(errors="replace")
    flood = _log_lines(server, "out of system resource")
    assert flood == 0 and "Traceback" not in text, f"{flood} lines of asyncio's accept error: {text[-2000:]}"
    assert _log_lines(server, "cannot accept connections") == 1, text[-3000:]


# -- 4. idle and piled-up sockets ----------------------------------------------------------------


def test_sockets_that_do_not_authenticate_in_time_are_closed(tmp_path: Path) -> None:
    """Attack (issue 11.4): sockets that upgrade and then stay silent, send only
    non-opening requests, or fail their only login, are closed with 1013 once
    --auth-timeout passes; sockets that did hello or login stay open."""
    server = start_server(tmp_path, ("--auth-timeout", "0.5"))

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server, subscribe=False)
        visitor, _ = await WsClient.visitor(server)
        silent = await WsClient.connect(server.agent_url)
        silent_visitor = await WsClient.connect(server.visitor_url, origin=server.origin)
        pinger = await WsClient.connect(server.agent_url)
        assert (await pinger.request_frame("ping"))["code"] == "unauthorized"
        failed = await WsClient.connect(server.agent_url)
        assert (await failed.request_frame("auth", token="not-a-token"))["code"] == "unauthorized"
        for idle in (silent, silent_visitor, pinger, failed):
            code, reason = await idle.wait_closed(TIMEOUT)
            assert code == 1013 and reason and "within 0.5 s" in reason, (code, reason)
        # Fence: the authenticated sockets' deadlines passed before the idle ones'.
        assert (await agent.request("ping"))["type"] == "reply"
        assert (await visitor.request("ping"))["type"] == "reply"
        for c in (agent, visitor, silent, silent_visitor, pinger, failed):
            await c.close()

    try:
        asyncio.run(scenario())
        assert_log_clean(server)
    finally:
        server.stop()


def test_open_sockets_per_address_are_capped(tmp_path: Path) -> None:
    """Attack (issue 11.4): one address opens more sockets than --max-sockets-per-ip;
    the one over the cap is closed with 1013 at once, another address is not
    affected, and a socket closed frees its place."""
    server = start_server(tmp_path, ("--trust-proxy", "--max-sockets-per-ip", "3"))

    async def scenario() -> None:
        here = spoofed("10.9.0.1")
        held = [await WsClient.connect(server.agent_url, **here) for _ in range(2)]
        held.append(await WsClient.connect(server.visitor_url, origin=server.origin, **here))
        extra = await WsClient.connect(server.agent_url, **here)
        code, reason = await extra.wait_closed(TIMEOUT)
        assert code == 1013 and reason == "too many open sockets from this address", (code, reason)
        elsewhere = await WsClient.connect(server.agent_url, **spoofed("10.9.0.2"))
        assert (await elsewhere.request("login", email=server.admin_email, password=server.admin_password))["token"]
        await held.pop().close()
        deadline = time.monotonic() + TIMEOUT
        while await asyncio.to_thread(_open_sockets, server) != 3:  # 2 held + elsewhere
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        again = await WsClient.connect(server.agent_url, **here)
        reply = await again.request("login", email=server.admin_email, password=server.admin_password)
        assert reply["agent"]["role"] == "admin"
        for c in (*held, extra, elsewhere, again):
            await c.close()

    try:
        asyncio.run(scenario())
        assert _log_lines(server, "sockets open from that address already") == 1
    finally:
        server.stop()


def test_auth_timeout_and_socket_cap_flags_are_checked(tmp_path: Path) -> None:
    """`frontdesk serve` refuses a zero or non-numeric --auth-timeout and
    --max-sockets-per-ip with a usage error, before opening anything."""
    from tests.support import run_cli

    for flag, value in (("--auth-timeout", "0"), ("--auth-timeout", "soon"), ("--max-sockets-per-ip", "0")):
        proc = run_cli("serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", flag, value, check=False)
        assert proc.returncode == 2 and flag in proc.stderr, proc.stderr
    assert not (tmp_path / "x.db").exists()
