"""Two nodes, one PostgreSQL database: an agent's availability and new password act on every node
(server/store/agents_self.py, Handlers.on_committed)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import RunningServer, WsClient

from .test_multinode import two_nodes  # noqa: F401 - the fixture

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_away_on_one_node_tells_visitors_on_the_other(two_nodes: tuple[RunningServer, RunningServer]) -> None:  # noqa: F811
    """The only agent (on node A) going Away reaches a visitor on node B as nobody there, and a new hello on B
    says so too; back Online reaches them again."""
    a, b = two_nodes

    async def scenario() -> None:
        agent_a, _ = await WsClient.agent(a)
        visitor_b, hello = await WsClient.visitor(b)
        if not hello["agents_online"]:  # node B learns of node A's agent through the presence relay
            await visitor_b.next_event("presence", agents_online=True)
        await agent_a.request("availability.set", away=True)
        await visitor_b.next_event("presence", agents_online=False)
        other, second = await WsClient.visitor(b)
        assert second["agents_online"] is False
        await agent_a.request("availability.set", away=False)
        await visitor_b.next_event("presence", agents_online=True)
        for client in (agent_a, visitor_b, other):
            await client.close()

    asyncio.run(scenario())


def test_a_new_password_closes_the_agents_sessions_on_the_other_node(
    two_nodes: tuple[RunningServer, RunningServer],  # noqa: F811
) -> None:
    """me.update with a new password on node A keeps that session and closes the agent's socket on node B."""
    a, b = two_nodes

    async def scenario() -> None:
        on_a, _ = await WsClient.agent(a)
        on_b, _ = await WsClient.agent(b)
        await on_a.request("me.update", password="cluster-password-2", current_password=a.admin_password)
        assert (await on_b.wait_closed())[0] == 1008
        assert (await on_a.request("ping"))["server_time"] > 0
        await on_a.close()

    asyncio.run(scenario())
