"""Attachments across two ``frontdesk serve`` nodes on one PostgreSQL database: uploaded on A, served by B."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from frontdesk.server.secrets import generate_key

from tests.server.files_support import PDF, fetch, png, upload
from tests.support import RunningServer, WsClient, init_demo, new_client_id

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def two_nodes(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Nodes A and B on one database, with the same operator key (so both open the tenant's link key)."""
    monkeypatch.setenv("FRONTDESK_SECRET_KEYS", generate_key())
    info = init_demo(pg_url)
    nodes = [RunningServer.from_init(pg_url, info, log_path=tmp_path / f"server-{name}.log") for name in ("a", "b")]
    try:
        for node in nodes:
            node.start()
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()


def test_a_file_uploaded_on_node_a_is_served_by_node_b(two_nodes: tuple[RunningServer, RunningServer]) -> None:
    """A visitor on A uploads and sends a PDF and an image; an agent on B gets the message, asks B for links, and B
    serves the bytes from PostgreSQL; a link signed by A is valid on B."""
    a, b = two_nodes

    async def scenario() -> None:
        agent_b, _ = await WsClient.agent(b)
        visitor_a, _ = await WsClient.visitor(a)
        pdf = await upload(visitor_a, PDF, "invoice.pdf")
        image = await upload(visitor_a, png(), "shot.png")
        await visitor_a.request(
            "message.send", client_id=new_client_id(), body="both", attachment_ids=[pdf["id"], image["id"]]
        )
        pushed = await agent_b.next_event("message.created", body="both")
        assert [x["id"] for x in pushed["data"]["attachments"]] == [pdf["id"], image["id"]]
        links_b = (await agent_b.request("file.links", ids=[pdf["id"], image["id"]]))["links"]
        status, _, body = await fetch(b, links_b[pdf["id"]]["url"])
        assert (status, body) == (200, PDF)
        status, headers, _ = await fetch(b, links_b[image["id"]]["thumbnail_url"])
        assert status == 200 and headers["Content-Type"] in ("image/jpeg", "image/png")
        links_a = (await visitor_a.request("file.links", ids=[pdf["id"]]))["links"]
        assert (await fetch(b, links_a[pdf["id"]]["url"]))[2] == PDF
        await agent_b.close()
        await visitor_a.close()

    asyncio.run(scenario())
