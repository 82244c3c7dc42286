"""Erasure of a visitor (`frontdesk visitor erase`) while their sockets are open:
on SQLite beside a running server, in a race with the visitor's own requests,
and across two nodes on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from frontdesk.server.app import FrontdeskServer, ServerSettings
from frontdesk.server.store import sqlite as sqlite_store
from websockets.exceptions import ConnectionClosed

from tests.adversarial._util import assert_log_clean, db_rows
from tests.server.store.conftest import create_pg_database, drop_pg_database, require_pg
from tests.support import RunningServer, WsClient, init_demo, new_client_id, run_cli


def test_erasure_closes_the_visitors_sockets_with_4001(server: RunningServer) -> None:
    """Both tabs of an erased visitor are closed with 4001 "erased"; agents hear visitor.erased; another
    visitor chats on; nothing of the erased one is left and the log holds no server error."""

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        tab1, hello = await WsClient.visitor(server)
        tab2, _ = await WsClient.visitor(server, token=hello["token"])
        bystander, _ = await WsClient.visitor(server)
        vid = hello["visitor"]["id"]
        await tab1.request("message.send", client_id=new_client_id(), body="please forget me")
        out = await asyncio.to_thread(server.cli, "visitor", "erase", "--tenant", "demo", "--id", str(vid))
        assert f"Erased visitor {vid}" in out.stdout
        for tab in (tab1, tab2):
            assert await tab.wait_closed() == (4001, "erased")
        await admin.next_event("visitor.erased", visitor_id=vid)
        ack = await bystander.request("message.send", client_id=new_client_id(), body="still here")
        assert ack["seq"] == 1
        # The old token now opens a new, empty visitor.
        fresh, again = await WsClient.visitor(server, token=hello["token"])
        assert again["visitor"]["id"] != vid and again["conversations"] == []
        for client in (admin, bystander, fresh):
            await client.close()

    asyncio.run(scenario())
    assert db_rows(server, "SELECT COUNT(*) AS n FROM messages WHERE body = 'please forget me'")[0]["n"] == 0
    assert_log_clean(server)


def test_requests_racing_the_erasure_get_unauthorized(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Requests that reach the server after the erasure committed, before it closed the socket, are answered
    `unauthorized` (never a server error), and the socket then closes with 4001."""
    url = f"sqlite:///{tmp_path / 'fd.db'}"
    info = json.loads(run_cli("init", "--db", url, "--json", "--admin-password", "admin-password-1").stdout)
    # This node would notice the CLI's erasure at its next idle poll; push that poll out of the test's way,
    # so the requests below deterministically arrive in the window before it.
    monkeypatch.setattr(sqlite_store, "EXTERNAL_POLL_S", 3600.0)
    caplog.set_level(logging.WARNING, logger="frontdesk")

    async def scenario() -> None:
        server = FrontdeskServer(ServerSettings(db_url=url, port=0))
        # The idle health probe is a write too, and a write publishes what other processes committed: at its
        # default second it could close the socket before the requests below (flaky under load).
        server.store.probe_interval = 3600.0
        # So is the reporting projection half a second after a commit: no background projection here.
        server.reports.close()
        await server.start()
        await server.reports.settled()
        base = f"127.0.0.1:{server.port}"
        try:
            # Each visitor makes the reads first, then one write: the write's transaction reads the erasure back
            # (under the write lock) and the socket closes right after the write's answer.
            for write, fields in (
                ("conversation.start", {}),
                ("message.send", {"client_id": new_client_id(), "body": "after erasure"}),
                ("profile.update", {"name": "Ghost"}),
            ):
                visitor = await WsClient.connect(
                    f"ws://{base}/v1/visitor?site={info['site_key']}", origin=f"http://{base}"
                )
                hello = await visitor.request("hello")
                ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
                cid, vid = ack["conversation_id"], hello["visitor"]["id"]
                await asyncio.to_thread(run_cli, "visitor", "erase", "--db", url, "--id", str(vid))
                for type_, args in (
                    ("history", {"conversation_id": cid}),
                    ("seen", {"conversation_id": cid, "seq": 1}),
                    ("typing", {"conversation_id": cid, "is_typing": True}),
                    (write, fields),
                ):
                    frame = await visitor.request_frame(type_, **args)
                    assert frame["type"] == "error" and frame["code"] == "unauthorized", (type_, frame)
                assert await visitor.wait_closed() == (4001, "erased")
                await visitor.close()
        finally:
            await server.stop()

    asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# -- two nodes on PostgreSQL ---------------------------------------------------------------


@pytest.fixture
def two_pg_nodes(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two `frontdesk serve` processes sharing a PostgreSQL database created for this test."""
    require_pg()
    url = create_pg_database()
    info = init_demo(url)
    nodes = [RunningServer.from_init(url, info, log_path=tmp_path / f"server-{i}.log") for i in range(2)]
    try:
        for node in nodes:
            node.start()
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()
        drop_pg_database(url)


@pytest.mark.postgres
@pytest.mark.slow
def test_erasure_closes_the_visitors_sockets_on_every_node(two_pg_nodes: tuple[RunningServer, RunningServer]) -> None:
    """A visitor with a tab on each of two nodes: the erasure closes both with 4001, and a request racing it on
    either node gets a documented answer, never a server error."""
    a, b = two_pg_nodes

    async def scenario() -> None:
        agent_b, _ = await WsClient.agent(b)
        on_a, hello = await WsClient.visitor(a)
        on_b, _ = await WsClient.visitor(b, token=hello["token"])
        vid = hello["visitor"]["id"]
        await on_a.request("message.send", client_id=new_client_id(), body="erase me")
        await asyncio.to_thread(a.cli, "visitor", "erase", "--id", str(vid))
        # The erasure has committed: a request on node B either meets the socket already closed or is refused.
        try:
            frame = await on_b.request_frame("message.send", client_id=new_client_id(), body="racing")
            assert frame["type"] == "error" and frame["code"] == "unauthorized", frame
        except (ConnectionError, ConnectionClosed):
            pass
        for tab in (on_a, on_b):
            assert await tab.wait_closed() == (4001, "erased")
        await agent_b.next_event("visitor.erased", visitor_id=vid)
        await agent_b.close()

    asyncio.run(scenario())
    for node in (a, b):
        text = node.log_path.read_text(errors="replace")
        assert "Traceback" not in text and "handler for" not in text, text[-3000:]
