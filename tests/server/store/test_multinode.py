"""End to end: two ``frontdesk serve`` nodes sharing one PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import RunningServer, WsClient, init_demo, new_client_id

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def two_nodes(pg_url: str, tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Nodes A and B: two server processes on two ports, one database."""
    info = init_demo(pg_url)
    nodes = [RunningServer.from_init(pg_url, info, log_path=tmp_path / f"server-{name}.log") for name in ("a", "b")]
    try:
        for node in nodes:
            node.start()
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()


def test_two_nodes_share_live_events_and_resume(two_nodes: tuple[RunningServer, RunningServer]) -> None:
    """A visitor on node A reaches an agent on node B live and back, and both resume on the other node."""
    a, b = two_nodes

    async def scenario() -> None:
        agent_b, login = await WsClient.agent(b)
        visitor_a, hello = await WsClient.visitor(a)
        assert hello["epoch"] == login["epoch"]  # one database, one epoch
        ack = await visitor_a.request("message.send", client_id=new_client_id(), body="Hello from node A")
        pushed = await agent_b.next_event("message.created", body="Hello from node A")
        assert pushed["event_id"] == ack["event_id"]
        conversation_id = ack["conversation_id"]
        await agent_b.request("reply", conversation_id=conversation_id, client_id=new_client_id(), body="Hi from B")
        answer = await visitor_a.next_event("message.created", body="Hi from B")
        cursor = answer["event_id"]

        # The visitor goes away; the agent writes meanwhile; the visitor comes back on node B.
        await visitor_a.close()
        missed = await agent_b.request(
            "reply", conversation_id=conversation_id, client_id=new_client_id(), body="While you were away"
        )
        visitor_b, resumed = await WsClient.visitor(b, token=hello["token"], since=cursor, epoch=hello["epoch"])
        assert resumed["reset_required"] is False and resumed["visitor"]["id"] == hello["visitor"]["id"]
        replayed = await visitor_b.next_event("message.created", body="While you were away")
        assert replayed["event_id"] == missed["event_id"]
        assert all(f.get("event_id", cursor + 1) > cursor for f in visitor_b.frames if f.get("type") == "event")

        # An agent resumes on node A from node B's cursor and then gets node B's writes live.
        agent_a, _ = await WsClient.agent(a, subscribe=False)
        sub = await agent_a.request("subscribe", since=pushed["event_id"], epoch=login["epoch"])
        assert sub["reset_required"] is False
        await agent_a.next_event("message.created", body="While you were away")
        await visitor_b.request("message.send", client_id=new_client_id(), body="Thanks, node B")
        await agent_a.next_event("message.created", body="Thanks, node B")
        await agent_b.next_event("message.created", body="Thanks, node B")
        ids = [f["event_id"] for f in agent_a.frames if f.get("type") == "event"]
        assert ids == sorted(ids) and len(ids) == len(set(ids))

        # A config change on node A reaches node B's open widgets and its tenant cache.
        await agent_a.request("config.set", config={"greeting": "Hello from the cluster"})
        await visitor_b.next_event("config.updated", greeting="Hello from the cluster")
        fresh_b, hello_b = await WsClient.visitor(b)
        assert hello_b["config"]["greeting"] == "Hello from the cluster"
        for client in (agent_a, agent_b, visitor_b, fresh_b):
            await client.close()

    asyncio.run(scenario())


def test_disabling_an_agent_on_one_node_closes_their_sockets_on_the_other(
    two_nodes: tuple[RunningServer, RunningServer],
) -> None:
    """An agent disabled by an admin on node A is disconnected (1008) from node B too."""
    a, b = two_nodes
    password = a.add_agent("bob@demo.test", "Bob")

    async def scenario() -> None:
        bob_b, login = await WsClient.agent(b, "bob@demo.test", password)
        admin_a, _ = await WsClient.agent(a)
        try:
            await admin_a.request("agent.update", agent_id=login["agent"]["id"], active=False)
            code, _ = await bob_b.wait_closed()
            assert code == 1008
        finally:
            for client in (admin_a, bob_b):
                await client.close()

    asyncio.run(scenario())


def test_demoting_an_admin_on_one_node_takes_effect_on_the_other(
    two_nodes: tuple[RunningServer, RunningServer],
) -> None:
    """An admin demoted on node A can no longer do admin requests on their open socket on node B."""
    a, b = two_nodes
    password = a.add_agent("second@demo.test", "Second", role="admin")

    async def scenario() -> None:
        second_b, login = await WsClient.agent(b, "second@demo.test", password)
        admin_a, _ = await WsClient.agent(a)
        try:
            await admin_a.request("agent.update", agent_id=login["agent"]["id"], role="agent")
            await second_b.next_event("agent.updated", id=login["agent"]["id"], role="agent")
            frame = await second_b.request_frame("agent.add", email="third@demo.test", name="Third")
            assert frame["type"] == "error" and frame["code"] == "forbidden"
        finally:
            for client in (admin_a, second_b):
                await client.close()

    asyncio.run(scenario())


def test_typing_and_logout_cross_nodes(two_nodes: tuple[RunningServer, RunningServer]) -> None:
    """Typing on node A shows on node B (both ways), and a logout on A closes the same token's socket on B."""
    a, b = two_nodes

    async def scenario() -> None:
        agent_b, login = await WsClient.agent(b)
        visitor_a, _ = await WsClient.visitor(a)
        ack = await visitor_a.request("message.send", client_id=new_client_id(), body="hello")
        cid = ack["conversation_id"]
        await agent_b.next_event("message.created", body="hello")
        await visitor_a.request("typing", conversation_id=cid, is_typing=True)
        typing = await agent_b.next_event("typing", conversation_id=cid)
        assert typing["data"]["is_typing"] is True
        await agent_b.request("typing", conversation_id=cid, is_typing=True)
        assert (await visitor_a.next_event("typing", conversation_id=cid))["data"]["name"] == "Admin"
        same_token_on_a = await WsClient.connect(a.agent_url)
        await same_token_on_a.request("auth", token=login["token"])
        await same_token_on_a.request_frame("logout")
        code, _ = await agent_b.wait_closed()
        assert code == 1008
        await visitor_a.close()

    asyncio.run(scenario())


def test_presence_spans_nodes(two_nodes: tuple[RunningServer, RunningServer]) -> None:
    """A visitor on node A sees agents online while the only agent is on node B, and away once they leave."""
    a, b = two_nodes

    async def scenario() -> None:
        visitor, hello = await WsClient.visitor(a)
        assert hello["agents_online"] is False
        agent_b, login = await WsClient.agent(b)
        online = await visitor.next_event("presence", agents_online=True)
        assert online["data"]["agents_online"] is True
        second_tab, again = await WsClient.visitor(a)
        assert again["agents_online"] is True
        await second_tab.close()
        agent_a, _ = await WsClient.agent(a)
        listed = {x["id"]: x["online"] for x in (await agent_a.request("agents"))["agents"]}
        assert listed[login["agent"]["id"]] is True
        await agent_a.close()
        await agent_b.close()
        await visitor.next_event("presence", agents_online=False)
        await visitor.close()

    asyncio.run(scenario())
