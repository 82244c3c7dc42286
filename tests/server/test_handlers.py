"""Every request type against a live server: what each one does and refuses."""

from __future__ import annotations

import asyncio
import time

import pytest
from frontdesk.server.domain import identity_hash

from tests.support import RunningServer, ServerError, WsClient, new_client_id


async def chat(server: RunningServer, body: str = "hello") -> tuple[WsClient, dict[str, object], int]:
    visitor, hello = await WsClient.visitor(server)
    ack = await visitor.request("message.send", client_id=new_client_id(), body=body)
    return visitor, hello, int(ack["conversation_id"])


def test_status_changes_and_their_conflicts(server: RunningServer) -> None:
    """resolve, reopen and pend move the status and push conversation.updated; repeats get conflict."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, _, cid = await chat(server)
        resolved = await agent.request("resolve", conversation_id=cid)
        assert resolved["conversation"]["status"] == "resolved"
        pushed = await visitor.next_event("conversation.updated", change="resolved")
        assert pushed["data"]["status"] == "resolved" and "actor_id" not in pushed["data"]
        with pytest.raises(ServerError, match="already resolved") as err:
            await agent.request("resolve", conversation_id=cid)
        assert err.value.code == "conflict"
        with pytest.raises(ServerError, match="reopen it to reply"):
            await agent.request("reply", conversation_id=cid, client_id=new_client_id(), body="late")
        assert (await agent.request("reopen", conversation_id=cid))["conversation"]["status"] == "open"
        assert (await agent.request("pend", conversation_id=cid))["conversation"]["status"] == "pending"
        assert (await agent.request("reopen", conversation_id=cid))["conversation"]["status"] == "open"
        assert (await agent.request("pend", conversation_id=cid))["conversation"]["status"] == "pending"
        await visitor.request("message.send", client_id=new_client_id(), body="back again")
        snapshot = await agent.request("snapshot", filter="open")
        assert [c["id"] for c in snapshot["conversations"]] == [cid]
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())


def test_a_visitor_message_on_a_resolved_conversation_reopens_it(server: RunningServer) -> None:
    """Writing again after a resolve reopens the same conversation."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, _, cid = await chat(server)
        await agent.request("resolve", conversation_id=cid)
        ack = await visitor.request(
            "message.send", client_id=new_client_id(), body="one more thing", conversation_id=cid
        )
        assert ack["conversation"]["status"] == "open" and ack["seq"] == 2
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())


def test_assign_and_unassign(server: RunningServer) -> None:
    """Assigning to an agent of the tenant works; unknown or disabled agents are refused; the first reply assigns."""
    password = server.add_agent("bea@demo.test", "Bea")

    async def scenario() -> None:
        admin, login = await WsClient.agent(server)
        bea, bea_login = await WsClient.agent(server, "bea@demo.test", password)
        visitor, _, cid = await chat(server)
        await admin.request("reply", conversation_id=cid, client_id=new_client_id(), body="on it")
        assert (await admin.request("snapshot", filter="mine"))["conversations"][0]["assignee_id"] == login["agent"][
            "id"
        ]
        bea_id = bea_login["agent"]["id"]
        assigned = await admin.request("assign", conversation_id=cid, agent_id=bea_id)
        assert assigned["conversation"]["assignee_id"] == bea_id
        update = await bea.next_event("conversation.updated", change="assigned")
        assert update["data"]["assignee_id"] == bea_id
        assert [c["id"] for c in (await bea.request("snapshot", filter="mine"))["conversations"]] == [cid]
        with pytest.raises(ServerError) as err:
            await admin.request("assign", conversation_id=cid, agent_id=9999)
        assert err.value.code == "not_found"
        unassigned = await admin.request("unassign", conversation_id=cid)
        assert unassigned["conversation"]["assignee_id"] is None
        assert [c["id"] for c in (await admin.request("snapshot", filter="unassigned"))["conversations"]] == [cid]
        await admin.request("agent.update", agent_id=bea_id, active=False)
        with pytest.raises(ServerError) as err:
            await admin.request("assign", conversation_id=cid, agent_id=bea_id)
        assert err.value.code == "conflict"
        for c in (admin, visitor):
            await c.close()

    asyncio.run(scenario())


def test_snapshot_pages_and_searches(server: RunningServer) -> None:
    """Snapshot pages newest-first with a cursor, and query matches message text and visitor names."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitors = []
        for i in range(5):
            visitor, _, _ = await chat(server, f"question number {i}")
            visitors.append(visitor)
        await visitors[2].request("profile.update", name="Grace Hopper", email="grace@example.com")
        first = await agent.request("snapshot", limit=2)
        second = await agent.request("snapshot", limit=2, cursor=first["next_cursor"])
        third = await agent.request("snapshot", limit=2, cursor=second["next_cursor"])
        pages = [c["preview"] for page in (first, second, third) for c in page["conversations"]]
        assert pages == [f"question number {i}" for i in (4, 3, 2, 1, 0)]
        assert third["next_cursor"] is None
        found = await agent.request("snapshot", query="number 3")
        assert [c["preview"] for c in found["conversations"]] == ["question number 3"]
        by_name = await agent.request("snapshot", query="grace")
        assert [c["visitor"]["name"] for c in by_name["conversations"]] == ["Grace Hopper"]
        for c in (agent, *visitors):
            await c.close()

    asyncio.run(scenario())


def test_history_pages_backwards_and_interleaves_notes_for_agents(relaxed_server: RunningServer) -> None:
    """history pages by seq; agents also get the notes of that stretch, visitors never."""
    server = relaxed_server

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, _, cid = await chat(server, "m1")
        for i in range(2, 6):
            await visitor.request("message.send", client_id=new_client_id(), body=f"m{i}")
        await agent.request("note", conversation_id=cid, client_id=new_client_id(), body="internal")
        latest = await agent.request("history", conversation_id=cid, limit=3)
        assert [m["body"] for m in latest["messages"]] == ["m3", "m4", "m5"] and latest["has_more"] is True
        assert [n["body"] for n in latest["notes"]] == ["internal"] and latest["notes"][0]["private"] is True
        older = await agent.request("history", conversation_id=cid, limit=3, before_seq=3)
        assert [m["body"] for m in older["messages"]] == ["m1", "m2"] and older["has_more"] is False
        assert older["notes"] == []
        mine = await visitor.request("history", conversation_id=cid)
        assert "notes" not in mine and len(mine["messages"]) == 5
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())


def test_typing_and_seen_travel_both_ways(server: RunningServer) -> None:
    """Typing reaches the other side ephemerally; seen resets the unread count and tells the other side."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, _, cid = await chat(server)
        await visitor.request("typing", conversation_id=cid, is_typing=True)
        typing = await agent.next_event("typing", conversation_id=cid)
        assert typing["data"]["is_typing"] is True and "event_id" not in typing
        await agent.request("typing", conversation_id=cid, is_typing=True)
        agent_typing = await visitor.next_event("typing", conversation_id=cid)
        assert agent_typing["data"]["name"] == "Admin"
        before = (await agent.request("snapshot"))["conversations"][0]
        assert before["unread_agent"] == 1
        await agent.request("seen", conversation_id=cid, seq=1)
        await visitor.next_event("seen", side="agent")
        after = (await agent.request("snapshot"))["conversations"][0]
        assert after["unread_agent"] == 0
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())


def test_visitor_profile_page_and_metadata_reach_agents(server: RunningServer) -> None:
    """hello meta, profile.update and page fill the visitor details agents see."""
    ua = (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " Version/17.1 Safari/605.1.15"
    )

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, hello = await WsClient.visitor(
            server,
            meta={
                "url": "https://shop.test/",
                "title": "Shop",
                "language": "fr-FR",
                "timezone": "Europe/Paris",
                "user_agent": ua,
                "referrer": "https://search.test/",
            },
        )
        assert hello["visitor"]["browser"] == "Safari 17" and hello["visitor"]["os"] == "macOS 14.1"
        await visitor.request("profile.update", name="Test User", email="test@example.com")
        await visitor.request("page", url="https://shop.test/pricing", title="Pricing")
        with pytest.raises(ServerError):
            await visitor.request("profile.update", email="not an email")
        details = await agent.request("visitor.get", visitor_id=hello["visitor"]["id"])
        v = details["visitor"]
        assert (v["name"], v["email"], v["page_url"], v["page_title"], v["language"], v["timezone"]) == (
            "Test User",
            "test@example.com",
            "https://shop.test/pricing",
            "Pricing",
            "fr-FR",
            "Europe/Paris",
        )
        assert v["referrer"] == "https://search.test/"
        await agent.next_event("visitor.updated")
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())


def test_config_changes_reach_open_widgets_live(server: RunningServer) -> None:
    """config.set validates, stores, and pushes the public config to visitors and the full one to agents."""

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        visitor, hello = await WsClient.visitor(server)
        assert "allowed_origins" not in hello["config"]
        with pytest.raises(ServerError, match=r"config\.color") as err:
            await admin.request("config.set", config={"color": "red"})
        assert err.value.code == "invalid"
        reply = await admin.request("config.set", config={"color": "#16a34a", "greeting": "Bonjour!"})
        assert reply["config"]["color"] == "#16a34a"
        pushed = await visitor.next_event("config.updated")
        assert pushed["data"]["color"] == "#16a34a" and pushed["data"]["greeting"] == "Bonjour!"
        assert "allowed_origins" not in pushed["data"]
        full = await admin.next_event("config.updated")
        assert "allowed_origins" in full["data"]
        assert (await admin.request("config.get"))["config"]["greeting"] == "Bonjour!"
        await admin.close()
        await visitor.close()

    asyncio.run(scenario())


def test_agents_presence_and_admin_agent_management(server: RunningServer) -> None:
    """agents lists presence; admins add agents (password shown once) and cannot demote the last admin."""

    async def scenario() -> None:
        admin, login = await WsClient.agent(server)
        visitor, hello = await WsClient.visitor(server)
        assert hello["agents_online"] is True
        added = await admin.request("agent.add", email="New@Demo.test", name="Newbie")
        assert added["agent"]["email"] == "new@demo.test" and len(added["password"]) >= 12
        listing = {a["email"]: a["online"] for a in (await admin.request("agents"))["agents"]}
        assert listing == {"admin@demo.test": True, "new@demo.test": False}
        newbie, _ = await WsClient.agent(server, "new@demo.test", added["password"])
        presence = await admin.next_event("presence", agent_id=added["agent"]["id"])
        assert presence["data"]["online"] is True
        with pytest.raises(ServerError, match="at least one active admin"):
            await admin.request("agent.update", agent_id=login["agent"]["id"], role="agent")
        await newbie.close()
        await admin.close()
        offline = await visitor.next_event("presence", agents_online=False)
        assert offline["data"]["agents_online"] is False
        await visitor.close()

    asyncio.run(scenario())


def test_identity_verification(server: RunningServer) -> None:
    """With require_identity on, only a visitor with a fresh valid user_hash may send."""

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        await admin.request("config.set", config={"require_identity": True})
        anonymous, _ = await WsClient.visitor(server)
        with pytest.raises(ServerError) as err:
            await anonymous.request("message.send", client_id=new_client_id(), body="hi")
        assert err.value.code == "forbidden"
        now = int(time.time())
        with pytest.raises(ServerError):
            await anonymous.request("identify", user_id="u-1", user_hash="0" * 64, ts=now)
        stale = now - 3 * 24 * 3600
        with pytest.raises(ServerError):
            await anonymous.request(
                "identify", user_id="u-1", ts=stale, user_hash=identity_hash(server.identity_secret, "u-1", stale)
            )
        reply = await anonymous.request(
            "identify", user_id="u-1", ts=now, user_hash=identity_hash(server.identity_secret, "u-1", now), name="Known"
        )
        assert reply["visitor"]["verified"] is True and reply["visitor"]["user_id"] == "u-1"
        ack = await anonymous.request("message.send", client_id=new_client_id(), body="verified hello")
        assert ack["seq"] == 1
        await anonymous.close()
        await admin.close()

    asyncio.run(scenario())


def test_requests_before_authentication_are_refused(server: RunningServer) -> None:
    """Nothing but hello (visitors) or login/auth (agents) is served on a fresh socket."""

    async def scenario() -> None:
        agent = await WsClient.connect(server.agent_url)
        frame = await agent.request_frame("snapshot")
        assert frame["code"] == "unauthorized"
        visitor = await WsClient.connect(server.visitor_url, origin=server.origin)
        frame = await visitor.request_frame("message.send", client_id=new_client_id(), body="x")
        assert frame["code"] == "unauthorized"
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())
