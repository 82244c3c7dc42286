"""Collision awareness (who else views, reply_assignee_only) and the one rule for a
visitor's several conversations, against a live server (issue 15, items 6 and 7)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import RunningServer, ServerError, WsClient, new_client_id


async def chat(server: RunningServer, body: str = "hello") -> tuple[WsClient, int]:
    visitor, _ = await WsClient.visitor(server)
    ack = await visitor.request("message.send", client_id=new_client_id(), body=body)
    return visitor, int(ack["conversation_id"])


def test_viewing_names_the_other_viewers_and_ends_with_the_socket(server: RunningServer) -> None:
    """viewing's reply lists the other agents on the conversation; the others hear viewing true/false, also when
    a viewer's socket closes; switching conversations leaves the previous one."""
    password = server.add_agent("bea@demo.test", "Bea")

    async def scenario() -> None:
        admin, login = await WsClient.agent(server)
        bea, bea_login = await WsClient.agent(server, "bea@demo.test", password)
        visitor, cid = await chat(server)
        second_visitor, other = await chat(server, "second visitor")
        alone = await admin.request("viewing", conversation_id=cid)
        assert alone["viewers"] == []
        joined = await bea.request("viewing", conversation_id=cid)
        assert joined["viewers"] == [{"agent_id": login["agent"]["id"], "name": login["agent"]["name"]}]
        seen = await admin.next_event("viewing", agent_id=bea_login["agent"]["id"])
        assert seen["conversation_id"] == cid and seen["data"] == {
            "conversation_id": cid,
            "agent_id": bea_login["agent"]["id"],
            "name": "Bea",
            "viewing": True,
        }
        await bea.request("viewing", conversation_id=other)
        await admin.next_event("viewing", agent_id=bea_login["agent"]["id"], conversation_id=cid, viewing=False)
        await admin.next_event("viewing", conversation_id=other, viewing=True)
        await bea.request("viewing", conversation_id=cid)
        await admin.next_event("viewing", conversation_id=cid, viewing=True)
        await admin.next_event("viewing", conversation_id=other, viewing=False)
        await bea.close()
        await admin.next_event("viewing", agent_id=bea_login["agent"]["id"], conversation_id=cid, viewing=False)
        assert (await admin.request("viewing", conversation_id=cid))["viewers"] == []
        with pytest.raises(ServerError) as err:
            await admin.request("viewing", conversation_id=10**9)
        assert err.value.code == "not_found"
        bad = await admin.request_frame("viewing", conversation_id="one")
        assert (bad["type"], bad["code"], bad["field"]) == ("error", "invalid", "conversation_id")
        assert (await visitor.request_frame("viewing", conversation_id=cid))["type"] == "error"  # agents only
        await visitor.fence()
        assert visitor.drain("viewing") == []
        await admin.close()
        await visitor.close()
        await second_visitor.close()

    asyncio.run(scenario())


def test_reply_assignee_only_refuses_the_others(server: RunningServer) -> None:
    """With reply_assignee_only, a reply in a conversation assigned to someone else is forbidden naming the
    assignee; the assignee and notes are unaffected; turned off, anyone replies again."""
    password = server.add_agent("bea@demo.test", "Bea")

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        bea, _ = await WsClient.agent(server, "bea@demo.test", password)
        visitor, cid = await chat(server)
        config = await admin.request("config.set", config={"reply_assignee_only": True})
        assert config["config"]["reply_assignee_only"] is True
        await admin.request("reply", conversation_id=cid, client_id=new_client_id(), body="mine")
        with pytest.raises(ServerError, match=r"only the assignee \(") as err:
            await bea.request("reply", conversation_id=cid, client_id=new_client_id(), body="me too")
        assert err.value.code == "forbidden"
        await bea.request("note", conversation_id=cid, client_id=new_client_id(), body="a note is fine")
        await admin.request("reply", conversation_id=cid, client_id=new_client_id(), body="still mine")
        history = await admin.request("history", conversation_id=cid)
        assert [m["body"] for m in history["messages"]] == ["hello", "mine", "still mine"]
        await admin.request("config.set", config={"reply_assignee_only": False})
        await bea.request("reply", conversation_id=cid, client_id=new_client_id(), body="me too")
        await admin.close()
        await bea.close()
        await visitor.close()

    asyncio.run(scenario())


def test_several_conversations_one_rule(server: RunningServer) -> None:
    """After a resolve a message (with or without conversation_id) reopens the latest conversation with a
    conversation.updated open by no agent; conversation.start begins a fresh one; the earlier one is read-only
    (conflict) and still readable."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, first = await chat(server)
        await agent.request("resolve", conversation_id=first)
        again = await visitor.request("message.send", client_id=new_client_id(), body="one more thing")
        assert again["conversation_id"] == first and again["conversation"]["status"] == "open"
        reopened = await agent.next_event("conversation.updated", change="open")
        assert reopened["conversation_id"] == first and reopened["data"]["actor_id"] is None
        await visitor.next_event("conversation.updated", change="open")
        await agent.request("resolve", conversation_id=first)
        started = await visitor.request("conversation.start")
        second = started["conversation"]["id"]
        assert second != first and started["conversation"]["status"] == "open"
        assert (await visitor.request("conversation.start"))["conversation"]["id"] == second
        await visitor.request("message.send", client_id=new_client_id(), body="new topic")
        await agent.request("resolve", conversation_id=second)
        with pytest.raises(ServerError, match="read-only") as err:
            await visitor.request("message.send", client_id=new_client_id(), body="old", conversation_id=first)
        assert err.value.code == "conflict"
        old = await visitor.request("history", conversation_id=first)
        assert [m["body"] for m in old["messages"]] == ["hello", "one more thing"]
        details = await agent.request("visitor.get", visitor_id=again["message"]["author_id"])
        assert [c["id"] for c in details["conversations"]] == [second, first]
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())
