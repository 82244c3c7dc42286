"""Every request type against a live server: what each one does and refuses."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from frontdesk.server.domain import identity_hash
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

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


# -- the contract fixes of issue 10 (PROTOCOL.md) ------------------------------------------------


async def _fence(client: WsClient) -> None:
    """Every frame the server queued for ``client`` before now has arrived (each socket is FIFO)."""
    await client.request("ping")


def test_bad_fields_are_refused_naming_the_field(server: RunningServer) -> None:
    """A blank body, a non-UUID client_id and an over-long ref are invalid with field set (ref: null for the ref)."""

    async def scenario() -> None:
        visitor, _ = await WsClient.visitor(server)
        blank = await visitor.request_frame("message.send", client_id=new_client_id(), body=" \n\t ")
        assert (blank["type"], blank["code"], blank["field"]) == ("error", "invalid", "body")
        not_uuid = await visitor.request_frame("message.send", client_id="msg-1", body="hi")
        assert (not_uuid["code"], not_uuid["field"]) == ("invalid", "client_id")
        await visitor.send_raw('{"type":"ping","ref":"' + "r" * 65 + '"}')
        await _fence(visitor)
        errors = [f for f in visitor.frames if f["type"] == "error" and f.get("field") == "ref"]
        assert len(errors) == 1 and errors[0]["ref"] is None and errors[0]["code"] == "invalid"
        await visitor.close()

    asyncio.run(scenario())


def test_seen_beyond_last_seq_is_invalid_and_seen_by_agent_names_the_agent(server: RunningServer) -> None:
    """seen past the newest message is refused (field seq); an agent's seen says who read it, a visitor's says null."""

    async def scenario() -> None:
        agent, login = await WsClient.agent(server)
        visitor, _, cid = await chat(server)
        frame = await agent.request_frame("seen", conversation_id=cid, seq=2)
        assert (frame["code"], frame["field"]) == ("invalid", "seq")
        await agent.request("seen", conversation_id=cid, seq=1)
        update = await agent.next_event("conversation.updated", change="seen_by_agent")
        assert update["data"]["actor_id"] == login["agent"]["id"]
        seen_visitor = await visitor.next_event("conversation.updated", change="seen_by_agent")
        assert "actor_id" not in seen_visitor["data"]
        await agent.request("reply", conversation_id=cid, client_id=new_client_id(), body="hello")
        await visitor.request("seen", conversation_id=cid, seq=2)
        update = await agent.next_event("conversation.updated", change="seen_by_visitor")
        assert update["data"]["actor_id"] is None
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())


def test_visitor_messages_carry_the_visitors_display_name(server: RunningServer) -> None:
    """author_name of a visitor message is their display name: then in the ack and the event, now in history."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, hello = await WsClient.visitor(server)
        ack = await visitor.request("message.send", client_id=new_client_id(), body="anonymous")
        anonymous = hello["visitor"]["display_name"]
        assert anonymous == f"Visitor #{hello['visitor']['id']}" and ack["message"]["author_name"] == anonymous
        await visitor.request("profile.update", name="  Grace  ")
        ack = await visitor.request("message.send", client_id=new_client_id(), body="named")
        assert ack["message"]["author_name"] == "Grace"
        pushed = await agent.next_event("message.created", body="named")
        assert pushed["data"]["author_name"] == "Grace"
        history = await agent.request("history", conversation_id=ack["conversation_id"])
        assert [m["author_name"] for m in history["messages"]] == ["Grace", "Grace"]
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())


def test_session_replies_and_agent_updates_have_the_documented_agent_shape(server: RunningServer) -> None:
    """login and auth replies' agent has online true; disabling an agent says sessions_revoked true."""
    password = server.add_agent("cy@demo.test", "Cy")

    async def scenario() -> None:
        admin, login = await WsClient.agent(server)
        assert login["agent"]["online"] is True and login["agent"]["tenant_id"] == login["tenant"]["id"]
        cy, cy_login = await WsClient.agent(server, "cy@demo.test", password, subscribe=False)
        again = await WsClient.connect(server.agent_url)
        assert (await again.request("auth", token=cy_login["token"]))["agent"]["online"] is True
        await admin.request("agent.update", agent_id=cy_login["agent"]["id"], active=False)
        update = await admin.next_event("agent.updated", id=cy_login["agent"]["id"], active=False)
        assert update["data"]["sessions_revoked"] is True
        assert (await cy.wait_closed())[0] == 1008
        await admin.request("agent.update", agent_id=cy_login["agent"]["id"], name="Cy B")
        update = await admin.next_event("agent.updated", name="Cy B")
        assert update["data"]["sessions_revoked"] is False
        await admin.close()
        await again.close()

    asyncio.run(scenario())


def test_visitors_get_conversation_created_and_message_changes_only_inside_the_message(
    server: RunningServer,
) -> None:
    """A visitor hears of their new conversation; a reopening or assigning message sends no conversation.updated."""

    async def scenario() -> None:
        agent, login = await WsClient.agent(server)
        visitor, _, cid = await chat(server)
        created = await visitor.next_event("conversation.created")
        assert created["conversation_id"] == cid and "visitor" not in created["data"]
        ack = await agent.request("reply", conversation_id=cid, client_id=new_client_id(), body="mine now")
        assert ack["conversation"]["assignee_id"] == login["agent"]["id"]
        await agent.request("pend", conversation_id=cid)
        await agent.next_event("conversation.updated", change="pending")
        again = await visitor.request("message.send", client_id=new_client_id(), body="still there?")
        assert again["conversation"]["status"] == "open"
        pushed = await agent.next_event("message.created", body="still there?")
        assert pushed["data"]["conversation"]["status"] == "open"
        await _fence(agent)
        assert [f["data"]["change"] for f in agent.drain("conversation.updated")] == []
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())


def test_cursor_rules(server: RunningServer) -> None:
    """since without epoch resets; a bad since is invalid naming it; a good cursor replays."""

    async def scenario() -> None:
        agent, login = await WsClient.agent(server, subscribe=False)
        reset = await agent.request("subscribe", since=0)
        assert reset["reset_required"] is True
        other = await WsClient.connect(server.agent_url)
        await other.request("auth", token=login["token"])
        for since in (-1, 2**53, "5", 1.5):
            frame = await other.request_frame("subscribe", since=since, epoch=login["epoch"])
            assert (frame["code"], frame["field"]) == ("invalid", "since"), since
        ok = await other.request("subscribe", since=login["last_event_id"], epoch=login["epoch"])
        assert ok["reset_required"] is False and "replay_from" not in ok
        visitor, hello = await WsClient.visitor(server, since=0)
        assert hello["reset_required"] is True
        await agent.close()
        await other.close()
        await visitor.close()

    asyncio.run(scenario())


def test_over_long_config_values_are_invalid_naming_the_key(server: RunningServer) -> None:
    """A configuration value over its limit is invalid (not too_large), with field config.KEY."""

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        frame = await admin.request_frame("config.set", config={"greeting": "x" * 501})
        assert (frame["code"], frame["field"]) == ("invalid", "config.greeting")
        await admin.close()

    asyncio.run(scenario())


def test_the_agent_endpoint_refuses_web_pages_but_not_its_own_origin(server: RunningServer) -> None:
    """An agent socket with a foreign Origin gets HTTP 403; with the server's own origin, or none, it opens."""

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as err:
            async with connect(server.agent_url, origin="https://evil.example"):  # type: ignore[arg-type]
                pass
        assert err.value.response.status_code == 403
        for origin in (server.http_url, None):
            async with connect(server.agent_url, origin=origin) as ws:  # type: ignore[arg-type]
                await ws.send(json.dumps({"type": "ping", "ref": "1"}))
                assert json.loads(await ws.recv())["code"] == "unauthorized"

    asyncio.run(scenario())


def test_search_finds_across_statuses_with_snippets_and_pages(server: RunningServer) -> None:
    """`search` finds a pending conversation's message and an agent's note, with highlights; pages hold each once."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, _, pending = await chat(server, "Could you send me the PDF of my invoice?")
        await agent.request("pend", conversation_id=pending)
        other, _, noted = await chat(server, "hello there")
        await agent.request("note", conversation_id=noted, client_id=new_client_id(), body="asked for a pdf by phone")
        found = await agent.request("search", q="pdf")
        assert [h["conversation"]["id"] for h in found["hits"]] == [noted, pending]
        note, message = (h["match"] for h in found["hits"])
        assert (note["kind"], message["kind"], message["seq"]) == ("note", "message", 1)
        assert [message["snippet"][a:b] for a, b in message["highlights"]] == ["PDF"]
        assert found["hits"][1]["conversation"]["status"] == "pending" and found["next_before"] is None
        assert found["hits"][1]["conversation"]["visitor"]["id"] == found["hits"][1]["conversation"]["visitor_id"]
        first = await agent.request("search", q="pdf", limit=1)
        rest = await agent.request("search", q="pdf", limit=1, before=first["next_before"])
        assert [h["conversation"]["id"] for h in first["hits"] + rest["hits"]] == [noted, pending]
        assert rest["next_before"] is None
        only_open = await agent.request("search", q="pdf", status="open")
        assert [h["conversation"]["id"] for h in only_open["hits"]] == [noted]
        for c in (agent, visitor, other):
            await c.close()

    asyncio.run(scenario())


def test_search_refuses_bad_input_and_survives_fts_syntax(server: RunningServer) -> None:
    """Empty, wordless, over-long queries and bad cursors are `invalid`; FTS syntax never makes a server error."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, _, cid = await chat(server, 'quote " star * dash - near NEAR( paren ) colon: caret^')
        for bad, field in (
            ({"q": ""}, "q"),
            ({"q": "   "}, "q"),
            ({"q": '*** "" -- ()'}, "q"),
            ({"q": "x" * 201}, "q"),
            ({"q": "pdf", "before": "abc"}, "before"),
            ({"q": "pdf", "before": "0"}, "before"),
            ({"q": "pdf", "before": "-5"}, "before"),
            ({"q": "pdf", "before": "9" * 30}, "before"),
            ({"q": "pdf", "status": "all"}, "status"),
            ({"q": "pdf", "limit": 0}, "limit"),
        ):
            frame = await agent.request_frame("search", **bad)
            assert (frame["type"], frame["code"], frame["field"]) == ("error", "invalid", field), bad
        for q in ('"quote', "star*", "-dash", "NEAR(near paren)", "(paren", "colon:", "caret^", "'quote' -dash"):
            found = await agent.request("search", q=q)
            assert [h["conversation"]["id"] for h in found["hits"]] == [cid], q
        assert (await agent.request("search", q="AND NOT nothing"))["hits"] == []
        frame = await visitor.request_frame("search", q="quote")
        assert (frame["type"], frame["code"]) == ("error", "invalid")  # not a visitor request: notes stay with agents
        await agent.close()
        await visitor.close()

    asyncio.run(scenario())
