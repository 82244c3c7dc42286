"""Collision awareness across two ``frontdesk serve`` nodes sharing one PostgreSQL database (issue 15, item 6)."""

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


def test_viewers_span_nodes(two_nodes: tuple[RunningServer, RunningServer]) -> None:
    """An agent viewing on node A is heard on node B and named in B's viewing reply; their socket closing on A
    reaches B as viewing false and leaves B's reply empty."""
    a, b = two_nodes
    password = a.add_agent("bea@demo.test", "Bea")

    async def scenario() -> None:
        visitor, _ = await WsClient.visitor(a)
        cid = (await visitor.request("message.send", client_id=new_client_id(), body="hello"))["conversation_id"]
        admin_b, _ = await WsClient.agent(b)
        bea_a, bea = await WsClient.agent(a, "bea@demo.test", password)
        await bea_a.request("viewing", conversation_id=cid)
        heard = await admin_b.next_event("viewing", conversation_id=cid, viewing=True)
        assert heard["data"]["agent_id"] == bea["agent"]["id"]
        reply = await admin_b.request("viewing", conversation_id=cid)
        assert reply["viewers"] == [{"agent_id": bea["agent"]["id"], "name": "Bea"}]
        await bea_a.close()
        await admin_b.next_event("viewing", conversation_id=cid, viewing=False)
        assert (await admin_b.request("viewing", conversation_id=cid))["viewers"] == []
        await admin_b.close()
        await visitor.close()

    asyncio.run(scenario())
