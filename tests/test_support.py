"""The test harness itself: servers on port 0, the fence, and PostgreSQL in CI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.server.store import conftest as store_conftest
from tests.support import RunningServer, WsClient, new_client_id, serve_in_process


def test_a_subprocess_server_on_port_0_reports_the_port_it_bound(server: RunningServer) -> None:
    """``start()`` reads the bound port back from the server, so clients reach it there."""
    assert server.port != 0

    async def go() -> None:
        client, hello = await WsClient.visitor(server)
        assert hello["token"]
        await client.close()

    asyncio.run(go())


def test_a_restarted_server_listens_on_the_port_it_had(server: RunningServer) -> None:
    """A restart binds the same port again, so reconnecting clients find it."""
    port = server.port
    server.stop()
    server.start()
    assert server.port == port


def test_an_in_process_server_serves_on_the_port_it_bound(tmp_path: Path) -> None:
    """serve_in_process runs the real server in the test's loop; the hub sees the socket."""

    async def go() -> None:
        async with serve_in_process(tmp_path) as server:
            assert server.port == server.app.port != 0
            agent, _ = await WsClient.agent(server)
            visitor, _ = await WsClient.visitor(server)
            ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
            pushed = await agent.next_event("message.created", body="hi")
            assert pushed["event_id"] == ack["event_id"]
            assert server.app.hub is not None
            await visitor.close()
            await agent.close()

    asyncio.run(go())


def test_postgres_tests_fail_instead_of_skipping_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """With CI set and no PostgreSQL reachable, a PostgreSQL test fails and says why."""
    monkeypatch.setattr(store_conftest, "PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:1/postgres")
    store_conftest.pg_unavailable.cache_clear()
    try:
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match="CI is set but the PostgreSQL tests cannot run"):
            store_conftest.require_pg()
        monkeypatch.delenv("CI")
        with pytest.raises(pytest.skip.Exception, match="no PostgreSQL reachable"):
            store_conftest.require_pg()
    finally:
        store_conftest.pg_unavailable.cache_clear()
