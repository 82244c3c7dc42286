"""Isolation: cross-site WebSocket hijacking, visitor to visitor, tenant to
tenant (issue 5, cases 11, 12 and 13)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.adversarial._util import add_tenant, assert_log_clean, db_rows, raw_handshake
from tests.support import RunningServer, ServerError, WsClient, new_client_id

# -- 11. cross-site WebSocket hijacking --------------------------------------------------------

REFUSED_ORIGINS = [
    None,  # missing
    "https://evil.io",  # foreign
    "https://example.com.evil.io",  # look-alike: suffix
    "https://evil-example.com",  # look-alike: prefix
    "https://sub.example.com",  # a subdomain is another host
    "https://example.com@evil.io",  # userinfo trick: the host is evil.io
    "https://example.co",  # one letter short
    "https://example.com%2eevil.io",  # encoded dot
    "null",  # sandboxed iframe, file://
    "file://example.com",
    "chrome-extension://example.com",
    "https://",  # malformed
    "https://example.com:99999",  # invalid port
    "https://localhost:8081",  # listed host, other port
]


def test_foreign_and_lookalike_origins_get_403_before_upgrade(server: RunningServer) -> None:
    """Attack: a page on another site (or a look-alike host, or no Origin at all) opens
    the visitor socket with a real site key; each handshake is answered 403 and never
    upgraded, while the listed origins are."""

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server, subscribe=False)
        await admin.request("config.set", config={"allowed_origins": ["example.com", "localhost:8080"]})
        await admin.close()
        for origin in REFUSED_ORIGINS:
            _, writer, head = await raw_handshake(server, f"/v1/visitor?site={server.site_key}", origin)
            assert head.startswith(b"HTTP/1.1 403"), (origin, head)
            assert b"Sec-WebSocket-Accept" not in head, origin
            writer.close()
        for good in ("https://example.com", "http://localhost:8080", "https://EXAMPLE.com"):
            _, writer, head = await raw_handshake(server, f"/v1/visitor?site={server.site_key}", good)
            assert head.startswith(b"HTTP/1.1 101"), (good, head)
            writer.close()

    asyncio.run(scenario())


def test_unknown_or_missing_site_key_gets_403(server: RunningServer) -> None:
    """Attack: the visitor socket with no, an unknown, or a doubled site key is refused before the upgrade."""

    async def scenario() -> None:
        for path in ("/v1/visitor", "/v1/visitor?site=", "/v1/visitor?site=site_nope", "/v1/visitor?site=%00"):
            _, w, head = await raw_handshake(server, path, server.origin)
            assert head.startswith(b"HTTP/1.1 403"), (path, head)
            w.close()
        _, w, head = await raw_handshake(server, f"/v1/visitor?site=site_nope&site={server.site_key}", server.origin)
        assert head.startswith(b"HTTP/1.1 403"), head
        w.close()

    asyncio.run(scenario())


def test_agent_socket_refuses_web_page_origins(server: RunningServer) -> None:
    """Attack: a web page opens the agent socket (to phish credentials through it);
    any foreign Origin gets 403, while the desktop console (no Origin) is upgraded."""

    async def scenario() -> None:
        for origin in ("https://evil.io", f"http://127.0.0.1:{server.port}.evil.io", "null"):
            _, w, head = await raw_handshake(server, "/v1/agent", origin)
            assert head.startswith(b"HTTP/1.1 403"), (origin, head)
            w.close()
        _, w, head = await raw_handshake(server, "/v1/agent", None)
        assert head.startswith(b"HTTP/1.1 101")
        w.close()

    asyncio.run(scenario())


def test_other_paths_never_upgrade(server: RunningServer) -> None:
    """Attack: path variants of the endpoints (trailing slash, case, double slash)
    do not reach a socket handler: 404, never 101."""

    async def scenario() -> None:
        for path in ("/v1/visitor/", "/V1/visitor", "//v1/visitor", "/v1/agent/", "/v1/agent/../agent", "/"):
            _, w, head = await raw_handshake(server, f"{path}?site={server.site_key}", server.origin)
            assert not head.startswith(b"HTTP/1.1 101"), (path, head)
            w.close()

    asyncio.run(scenario())


# -- 12. visitor to visitor --------------------------------------------------------------------


async def _refused(client: WsClient, type_: str, **fields: Any) -> dict[str, Any]:
    frame = await client.request_frame(type_, **fields)
    assert frame["type"] == "error", (type_, frame)
    return frame


def test_visitor_cannot_touch_another_visitors_conversation(server: RunningServer) -> None:
    """Attack: visitor A uses B's conversation id on history, send, typing and seen;
    every request is refused exactly like a non-existent id, and B sees nothing."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        alice, ha = await WsClient.visitor(server)
        bob, hb = await WsClient.visitor(server)
        b_sent = await bob.request("message.send", client_id=new_client_id(), body="bob's secret")
        conv_b = b_sent["conversation_id"]
        await agent.request("reply", conversation_id=conv_b, client_id=new_client_id(), body="for bob only")
        await bob.fence()
        await agent.fence()
        bob.drain()
        agent.drain()
        missing = conv_b + 1000
        for type_, fields in [
            ("history", {}),
            ("message.send", {"client_id": new_client_id(), "body": "injected"}),
            ("typing", {"is_typing": True}),
            ("seen", {"seq": 2}),
        ]:
            theirs = await _refused(alice, type_, conversation_id=conv_b, **fields)
            nowhere = await _refused(alice, type_, conversation_id=missing, **fields)
            assert theirs["code"] == nowhere["code"] == "not_found"
            assert theirs["message"].replace(str(conv_b), "N") == nowhere["message"].replace(str(missing), "N")
        await bob.fence()  # anything Alice's frames caused was pushed before these pings are answered
        await agent.fence()
        assert bob.drain() == []  # no typing, no injected message, no seen
        assert [f for f in agent.drain() if f.get("kind") in ("typing", "message.created", "seen")] == []
        rows = db_rows(server, "SELECT body FROM messages WHERE conversation_id = ? ORDER BY seq", (conv_b,))
        assert [r["body"] for r in rows] == ["bob's secret", "for bob only"]
        conv_row = db_rows(server, "SELECT unread_visitor FROM conversations WHERE id = ?", (conv_b,))
        assert conv_row[0]["unread_visitor"] == 1  # Alice's `seen` did not clear Bob's badge
        # The catch-up path: Alice resuming from 0 replays only her own events.
        a2, reply = await WsClient.visitor(server, token=ha["token"], since=0, epoch=ha["epoch"])
        assert reply["reset_required"] is False
        assert all(c["id"] != conv_b for c in reply["conversations"])
        await a2.fence()  # the replay is queued before the next frame is read
        replayed = [f for f in a2.drain() if "event_id" in f]
        assert all(f.get("conversation_id") != conv_b for f in replayed)
        assert "bob's secret" not in str(replayed) and "for bob only" not in str(replayed)
        assert hb["token"] not in str(a2.frames) + str(alice.frames)
        for c in (agent, alice, bob, a2):
            await c.close()
        assert_log_clean(server)

    asyncio.run(scenario())


def test_visitor_cannot_use_agent_requests(server: RunningServer) -> None:
    """Attack: a visitor sends agent-only requests (snapshot, reply, subscribe,
    visitor.get, config.set, resolve) on its socket; each is an unknown type."""

    async def scenario() -> None:
        alice, _ = await WsClient.visitor(server)
        for type_ in (
            "snapshot",
            "reply",
            "subscribe",
            "visitor.get",
            "config.set",
            "resolve",
            "login",
            "agents",
            "search",
        ):
            frame = await _refused(alice, type_, conversation_id=1, visitor_id=1, config={}, body="x", client_id="c")
            assert frame["code"] == "invalid" and "unknown type" in frame["message"]
        await alice.close()

    asyncio.run(scenario())


# -- 13. tenant to tenant -------------------------------------------------------------------------


def test_tenant_isolation_for_visitors_and_agents(server: RunningServer) -> None:
    """Attack: visitor and agent tokens of tenant T1 are used against T2's widget,
    conversations, visitors, agents, snapshot, search and replay; all are refused
    or come back empty, and no T2 event reaches T1."""
    t2 = add_tenant(server, "t2")

    async def scenario() -> None:
        a1, login1 = await WsClient.agent(server)
        a2, _ = await t2.agent(server)
        v2, hv2 = await t2.visitor(server)
        sent2 = await v2.request("message.send", client_id=new_client_id(), body="t2 zebra secret")
        conv2, visitor2 = sent2["conversation_id"], hv2["visitor"]["id"]
        t2_agent_id = (await a2.request("agents"))["agents"][0]["id"]
        v1, hv1 = await WsClient.visitor(server)
        sent1 = await v1.request("message.send", client_id=new_client_id(), body="t1 hello")
        conv1 = sent1["conversation_id"]

        # T1's visitor token on T2's widget is a stranger there: a new, empty visitor.
        v1_on_t2, h = await t2.visitor(server, token=hv1["token"])
        assert h["visitor"]["id"] not in (hv1["visitor"]["id"], visitor2)
        assert h["token"] != hv1["token"] and h["conversations"] == []
        # ...and T1's visitor cannot reach T2's conversation from its own socket.
        for type_, fields in [
            ("history", {}),
            ("message.send", {"client_id": new_client_id(), "body": "x"}),
            ("typing", {"is_typing": True}),
            ("seen", {"seq": 1}),
        ]:
            assert (await _refused(v1, type_, conversation_id=conv2, **fields))["code"] == "not_found"

        # T1's agent against T2's objects.
        for type_, fields in [
            ("history", {"conversation_id": conv2}),
            ("reply", {"conversation_id": conv2, "client_id": new_client_id(), "body": "x"}),
            ("note", {"conversation_id": conv2, "client_id": new_client_id(), "body": "x"}),
            ("resolve", {"conversation_id": conv2}),
            ("pend", {"conversation_id": conv2}),
            ("reopen", {"conversation_id": conv2}),
            ("assign", {"conversation_id": conv2, "agent_id": login1["agent"]["id"]}),
            ("unassign", {"conversation_id": conv2}),
            ("typing", {"conversation_id": conv2, "is_typing": True}),
            ("seen", {"conversation_id": conv2, "seq": 1}),
            ("visitor.get", {"visitor_id": visitor2}),
            ("assign", {"conversation_id": conv1, "agent_id": t2_agent_id}),
            ("agent.update", {"agent_id": t2_agent_id, "active": False}),
            ("agent.update", {"agent_id": t2_agent_id, "password": "hijacked-password"}),
        ]:
            frame = await _refused(a1, type_, **fields)
            assert frame["code"] == "not_found", (type_, frame)
        for query in ({"query": "zebra"}, {"visitor_id": visitor2}, {"filter": "open"}, {}):
            snap = await a1.request("snapshot", **query)
            assert all(c["id"] != conv2 for c in snap["conversations"]), query
        assert "zebra" not in str(await a1.request("snapshot", query="zebra"))
        for search in ({"q": "zebra"}, {"q": "zebra", "status": "open"}, {"q": "t2 secret"}):
            assert (await a1.request("search", **search))["hits"] == [], search
        assert [h["conversation"]["id"] for h in (await a2.request("search", q="zebra"))["hits"]] == [conv2]
        agents = (await a1.request("agents"))["agents"]
        assert t2_agent_id not in [a["id"] for a in agents]
        assert (await a1.request("config.get"))["config"]["business_name"] != "T2"
        # Replay from 0 and the live stream carry nothing of T2.
        replay = await WsClient.connect(server.agent_url)
        await replay.request("auth", token=login1["token"])
        await replay.request("subscribe", since=0, epoch=login1["epoch"])
        await v2.request("message.send", client_id=new_client_id(), body="t2 live zebra")
        await a2.next_event("message.created", body="t2 live zebra")
        for c in (a1, replay):
            await c.fence()
        for c in (a1, replay):
            leaked = [f for f in c.drain() if f.get("conversation_id") == conv2 or "zebra" in str(f)]
            assert leaked == []
        # T1's credentials do not open a T2 session.
        stranger = await WsClient.connect(server.agent_url)
        with pytest.raises(ServerError) as err:
            await stranger.request("login", email=server.admin_email, password=server.admin_password, tenant="t2")
        assert err.value.code == "unauthorized"
        # T2 is untouched.
        history = await a2.request("history", conversation_id=conv2)
        assert [m["body"] for m in history["messages"]] == ["t2 zebra secret", "t2 live zebra"]
        assert next(a for a in (await a2.request("agents"))["agents"] if a["id"] == t2_agent_id)["active"] is True
        for c in (a1, a2, v2, v1, v1_on_t2, replay, stranger):
            await c.close()
        assert_log_clean(server)

    asyncio.run(scenario())
