"""Limits that must hold for the cluster, not per node: three `frontdesk serve`
nodes share one PostgreSQL database (created for the test and dropped after).

Before, each node kept its own buckets: one visitor token stored 60 messages of
a burst whose limit is 20, and one account had 15 wrong passwords checked where
the limit is 5 (issue 11, item 10).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.store.conftest import create_pg_database, drop_pg_database, pg_unavailable
from tests.support import RunningServer, WsClient, free_port, new_client_id, run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: A burst of 20 and a refill slow enough (one message per 100 s) that the test's own duration adds nothing.
RATE_VISITOR = "0.01/20"
NODES = 3


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[RunningServer]]:
    """Three nodes on one fresh PostgreSQL database, each with the same per-visitor budget."""
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    url = create_pg_database()
    ports = [free_port() for _ in range(NODES)]
    origins = [arg for port in ports for arg in ("--origin", f"127.0.0.1:{port}")]
    info = json.loads(run_cli("init", "--db", url, "--json", "--admin-password", "admin-password-1", *origins).stdout)
    running = [
        RunningServer(
            db_url=url,
            port=port,
            site_key=info["site_key"],
            admin_email=info["admin_email"],
            admin_password=info["admin_password"],
            tenant_slug=info["tenant_slug"],
            identity_secret=info["identity_secret"],
            log_path=tmp_path / f"server-{i}.log",
            extra_args=("--rate-visitor", RATE_VISITOR),
        )
        for i, port in enumerate(ports)
    ]
    try:
        for node in running:
            node.start()
        yield running
    finally:
        for node in running:
            node.stop()
        drop_pg_database(url)


def test_one_visitor_token_keeps_one_message_budget_across_nodes(nodes: list[RunningServer]) -> None:
    """60 messages sent at once by one visitor over three nodes (20 each) store at most 1.2 × the burst of 20,
    and every one refused is rate_limited, never an error or a lost ack."""

    async def scenario() -> None:
        first, hello = await WsClient.visitor(nodes[0])
        tabs = [first] + [(await WsClient.visitor(node, token=hello["token"]))[0] for node in nodes[1:]]

        async def send(tab: WsClient, n: int) -> dict[str, object]:
            return await tab.request_frame("message.send", client_id=new_client_id(), body=f"burst {n}")

        frames = await asyncio.gather(*(send(tab, n) for n in range(20) for tab in tabs))
        stored = [f for f in frames if f["type"] == "reply"]
        refused = [f for f in frames if f["type"] == "error"]
        assert {f["code"] for f in refused} <= {"rate_limited"}, refused[:3]
        assert 20 <= len(stored) <= 24, f"{len(stored)} of 60 stored; the budget is 20 for the visitor"
        admin, _ = await WsClient.agent(nodes[1])
        history = await admin.request("history", conversation_id=stored[0]["conversation_id"], limit=200)
        assert len(history["messages"]) == len(stored)  # every ack is a stored message, nothing else is
        for client in (*tabs, admin):
            await client.close()

    asyncio.run(scenario())


def test_the_login_throttle_is_exact_across_nodes(nodes: list[RunningServer]) -> None:
    """15 wrong passwords for one account spread over three nodes: exactly 5 are checked (unauthorized), the
    other 10 are rate_limited, and then even the right password is refused on every node."""
    email = nodes[0].admin_email

    async def scenario() -> None:
        sockets = [await WsClient.connect(node.agent_url) for node in nodes]

        async def attempt(sock: WsClient, n: int) -> str:
            frame = await sock.request_frame("login", email=email, password=f"wrong-{n}")
            assert frame["type"] == "error"
            return str(frame["code"])

        codes = await asyncio.gather(*(attempt(sock, n) for n in range(5) for sock in sockets))
        assert sorted(codes) == ["rate_limited"] * 10 + ["unauthorized"] * 5
        for sock, node in zip(sockets, nodes, strict=True):
            frame = await sock.request_frame("login", email=f"  {email.upper()} ", password=node.admin_password)
            assert frame["type"] == "error" and frame["code"] == "rate_limited", frame
            await sock.close()

    asyncio.run(scenario())


def test_a_successful_login_clears_the_accounts_failures_on_every_node(nodes: list[RunningServer]) -> None:
    """Four failures on node A, then the right password on node B: the account starts from zero everywhere."""
    email = nodes[0].admin_email

    async def scenario() -> None:
        a = await WsClient.connect(nodes[0].agent_url)
        for n in range(4):
            assert (await a.request_frame("login", email=email, password=f"wrong-{n}"))["code"] == "unauthorized"
        b, _ = await WsClient.agent(nodes[1], subscribe=False)
        for n in range(4):
            assert (await a.request_frame("login", email=email, password=f"again-{n}"))["code"] == "unauthorized"
        ok = await a.request_frame("login", email=email, password=nodes[0].admin_password)
        assert ok["type"] == "reply"
        for client in (a, b):
            await client.close()

    asyncio.run(scenario())
