"""The connection loop's rules, pure (server/app.py): reading a rate-limited
frame's ref, strikes, the authentication deadline and the loop's exception
handler. No socket is opened; clients use a fake connection."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import websockets
from frontdesk.server import app
from frontdesk.server.app import MAX_STRIKES, FrontdeskServer, ServerSettings
from frontdesk.server.guard import ASYNCIO_ACCEPT_MESSAGE, GuardedConnection
from frontdesk.server.hub import Client, ClientState
from frontdesk.server.protocol import Endpoint

from tests.server.test_hub import FakeConnection, settle
from tests.support import TIMEOUT, WsClient, serve_in_process


def make_client(endpoint: Endpoint = Endpoint.AGENT) -> tuple[Client, FakeConnection]:
    conn = FakeConnection()
    return Client(conn, endpoint, "10.0.0.1"), conn  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "ref"),
    [
        ('{"type":"ping","ref":"r1"}', "r1"),
        ('{"ref":"' + "x" * 64 + '"}', "x" * 64),
        ('{"ref":"' + "x" * 65 + '"}', None),  # longer than a ref may be
        ('{"ref":7}', None),
        ('["ref"]', None),
        ("not json", None),
        ("[" * 2000 + "]" * 2000, None),  # RecursionError in the standard library's parser
        ('{"a":' * 2000 + "1" + "}" * 2000, None),
        ('{"ref":"r","pad":"' + "x" * 5000 + '"}', None),  # too big to peek at
        (b'{"ref":"r"}', None),  # binary frames are never read
    ],
)
def test_peek_ref_reads_a_cheap_ref_and_never_raises(raw: str | bytes, ref: str | None) -> None:
    """The ref of a frame refused before parsing is read only from small JSON
    text; anything else (deep nesting included) gives None, never an exception."""
    assert app._peek_ref(raw) == ref


def test_rate_limited_frames_get_errors_then_a_1013_close() -> None:
    """Each rate-limited frame is answered rate_limited with its ref, until the
    strikes pass MAX_STRIKES: then the socket closes with 1013 and nothing more is sent."""

    async def scenario() -> None:
        client, conn = make_client()
        for i in range(MAX_STRIKES + 5):
            FrontdeskServer._strike(client, f"r{i}", "slow down")
        await settle()
        errors = [json.loads(f) for f in conn.sent]
        assert [e["ref"] for e in errors] == [f"r{i}" for i in range(MAX_STRIKES)]
        assert {e["code"] for e in errors} == {"rate_limited"}
        assert client.state is ClientState.CLOSING and conn.closed is not None and conn.closed[0] == 1013

    asyncio.run(scenario())


def server(tmp_path: Path, **settings: Any) -> FrontdeskServer:
    """A server object that is never started (no store opened, nothing bound)."""
    return FrontdeskServer(ServerSettings(db_url=f"sqlite:///{tmp_path / 'unused.db'}", **settings))


def test_auth_deadline_closes_a_socket_still_new(tmp_path: Path) -> None:
    """At the deadline a socket that has not authenticated and has no request in
    hand is closed with 1013, and the reason names the timeout."""

    async def scenario() -> None:
        client, conn = make_client()
        server(tmp_path, auth_timeout=2.5)._auth_deadline(client)
        await settle()
        assert conn.closed == (1013, "no hello, login or auth within 2.5 s")

    asyncio.run(scenario())
    assert not (tmp_path / "unused.db").exists()


def test_auth_deadline_spares_authenticated_sockets(tmp_path: Path) -> None:
    """An agent past login and a visitor past hello are left alone at the deadline."""

    async def scenario() -> None:
        agent, agent_conn = make_client(Endpoint.AGENT)
        agent.authenticate(agent_id=1, tenant_id=1, name="Ada", role="agent", token_hash="h")
        visitor, visitor_conn = make_client(Endpoint.VISITOR)
        visitor.start_visitor(3, "v")
        srv = server(tmp_path)
        srv._auth_deadline(agent)
        srv._auth_deadline(visitor)
        await settle()
        assert agent_conn.closed is None and visitor_conn.closed is None
        assert agent.close_unless_authenticated is None and visitor.close_unless_authenticated is None

    asyncio.run(scenario())


def test_auth_deadline_waits_for_an_opener_in_hand(tmp_path: Path) -> None:
    """A socket whose login is being handled at the deadline is not closed then;
    the close is left for after the reply, in case the login fails."""

    async def scenario() -> None:
        client, conn = make_client()
        client.busy = True
        server(tmp_path, auth_timeout=1)._auth_deadline(client)
        await settle()
        assert conn.closed is None
        assert client.close_unless_authenticated is not None
        assert client.close_unless_authenticated[0] == 1013

    asyncio.run(scenario())


def test_loop_exception_handler_drops_only_asyncios_accept_report() -> None:
    """The server's loop exception handler swallows asyncio's per-failure accept
    report (guard.AcceptReport logs instead) and passes anything else on."""
    seen: list[dict[str, Any]] = []
    handler = app._quiet_accept_errors(lambda loop, context: seen.append(context))
    loop = asyncio.new_event_loop()
    try:
        handler(loop, {"message": ASYNCIO_ACCEPT_MESSAGE, "exception": OSError(24, "Too many open files")})
        handler(loop, {"message": "Task exception was never retrieved"})
    finally:
        loop.close()
    assert seen == [{"message": "Task exception was never retrieved"}]


def test_an_open_socket_forgets_its_handshake_headers_but_the_log_still_names_its_client(tmp_path: Path) -> None:
    """Once a socket is set up the server keeps none of its handshake's headers (~3 KB each, for the socket's
    life), and the guard's log lines still name the client the proxy forwarded for (``--trust-proxy``); the
    socket serves on, and answers pings."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path, trust_proxy=True) as server:
            ws = await websockets.connect(
                server.visitor_url,
                origin=server.origin,
                additional_headers={"X-Forwarded-For": "203.0.113.7", "User-Agent": "x" * 2000},
            )
            client = WsClient(ws, Endpoint.VISITOR)
            hello = await client.request("hello")
            assert hello["visitor"]["ip"] == "203.0.113.7"
            [socket] = server.app.hub.visitor_sockets(hello["visitor"]["id"])
            conn = socket.ws
            assert isinstance(conn, GuardedConnection)
            assert conn.request is not None and len(conn.request.headers) == 0 and conn.response is None
            assert socket.ip == "203.0.113.7" and conn.describe() == "203.0.113.7"
            await asyncio.wait_for(await ws.ping(), TIMEOUT)
            assert (await client.request("ping"))["type"] == "reply"
            await client.close()

    asyncio.run(scenario())
