"""The original product's two manual tests, automated against a real server."""

from __future__ import annotations

import asyncio

from tests.support import RunningServer, WsClient, new_client_id


def test_visitor_hello_agent_reply_round_trip(server: RunningServer) -> None:
    """A visitor says "Hello!", the agent sees it live and replies, and the visitor sees the reply."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, hello = await WsClient.visitor(server, meta={"url": "https://example.com/", "title": "Home"})
        assert hello["token"] and hello["agents_online"] is True
        ack = await visitor.request("message.send", client_id=new_client_id(), body="Hello!")
        assert ack["seq"] == 1 and ack["event_id"] > 0
        created = await agent.next_event("conversation.created")
        assert created["data"]["visitor"]["page_url"] == "https://example.com/"
        pushed = await agent.next_event("message.created", body="Hello!")
        conversation_id = pushed["conversation_id"]
        await agent.request(
            "reply", conversation_id=conversation_id, client_id=new_client_id(), body="Hi! How can I help?"
        )
        reply = await visitor.next_event("message.created", body="Hi! How can I help?")
        assert reply["data"]["author_kind"] == "agent" and reply["data"]["author_name"] == "Admin"
        await visitor.close()
        await agent.close()

    asyncio.run(scenario())


def test_alice_and_bob_each_get_only_their_replies(server: RunningServer) -> None:
    """Two visitors chat at once; each agent reply reaches the right visitor and no one else."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        alice, _ = await WsClient.visitor(server)
        bob, _ = await WsClient.visitor(server)
        await alice.request("profile.update", name="Alice")
        await bob.request("profile.update", name="Bob")
        a = await alice.request("message.send", client_id=new_client_id(), body="I'm Alice")
        b = await bob.request("message.send", client_id=new_client_id(), body="I'm Bob")
        assert a["conversation_id"] != b["conversation_id"]
        await agent.request("reply", conversation_id=a["conversation_id"], client_id=new_client_id(), body="for Alice")
        await agent.request("reply", conversation_id=b["conversation_id"], client_id=new_client_id(), body="for Bob")
        await alice.next_event("message.created", body="for Alice")
        await bob.next_event("message.created", body="for Bob")
        await alice.fence()  # a misrouted push was sent before these pings are answered
        await bob.fence()
        bodies_alice = {f["data"].get("body") for f in alice.frames if f.get("type") == "event"}
        bodies_bob = {f["data"].get("body") for f in bob.frames if f.get("type") == "event"}
        assert "for Bob" not in bodies_alice and "I'm Bob" not in bodies_alice
        assert "for Alice" not in bodies_bob and "I'm Alice" not in bodies_bob
        for c in (agent, alice, bob):
            await c.close()

    asyncio.run(scenario())
