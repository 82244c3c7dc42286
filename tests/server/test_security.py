"""Security basics (issue 2, section 6): scopes, roles, origins, throttles, limits, token hygiene."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support import RunningServer, ServerError, WsClient, new_client_id, run_cli


def test_a_visitor_token_reaches_only_its_own_conversations(server: RunningServer) -> None:
    """Visitor B cannot read, write, type or mark seen in visitor A's conversation."""

    async def scenario() -> None:
        alice, _ = await WsClient.visitor(server)
        bob, _ = await WsClient.visitor(server)
        a = await alice.request("message.send", client_id=new_client_id(), body="private to alice")
        cid = a["conversation_id"]
        attempts = [
            ("history", {"conversation_id": cid}),
            ("message.send", {"conversation_id": cid, "client_id": new_client_id(), "body": "intrusion"}),
            ("typing", {"conversation_id": cid, "is_typing": True}),
            ("seen", {"conversation_id": cid, "seq": 1}),
        ]
        for type_, fields in attempts:
            frame = await bob.request_frame(type_, **fields)
            assert frame["type"] == "error" and frame["code"] == "not_found", (type_, frame)
        history = await alice.request("history", conversation_id=cid)
        assert [m["body"] for m in history["messages"]] == ["private to alice"]
        await alice.close()
        await bob.close()

    asyncio.run(scenario())


def test_an_agent_sees_only_their_tenant(server: RunningServer) -> None:
    """An admin of another tenant gets nothing of this tenant: no snapshot rows, no history, no events, no writes."""
    other = json.loads(
        run_cli("tenant", "add", "--db", server.db_url, "--slug", "other", "--name", "Other Co", "--json").stdout
    )
    run_cli(
        "agent",
        "add",
        "--db",
        server.db_url,
        "--tenant",
        "other",
        "--email",
        "boss@other.test",
        "--name",
        "Boss",
        "--role",
        "admin",
        "--password",
        "other-password-1",
    )
    assert other["site_key"] != server.site_key

    async def scenario() -> None:
        outsider, _ = await WsClient.agent(server, "boss@other.test", "other-password-1")
        visitor, _ = await WsClient.visitor(server)
        ack = await visitor.request("message.send", client_id=new_client_id(), body="tenant one only")
        cid = ack["conversation_id"]
        snapshot = await outsider.request("snapshot")
        assert snapshot["conversations"] == []
        for type_, fields in [
            ("history", {"conversation_id": cid}),
            ("reply", {"conversation_id": cid, "client_id": new_client_id(), "body": "x"}),
            ("resolve", {"conversation_id": cid}),
            ("visitor.get", {"visitor_id": ack["message"]["author_id"]}),
        ]:
            frame = await outsider.request_frame(type_, **fields)
            assert frame["type"] == "error" and frame["code"] == "not_found", (type_, frame)
        searched = await outsider.request("snapshot", query="tenant one")
        assert searched["conversations"] == []
        await outsider.fence()
        assert all(f.get("kind") not in ("message.created", "conversation.created") for f in outsider.frames)
        await outsider.close()
        await visitor.close()

    asyncio.run(scenario())


def test_admin_only_requests_are_forbidden_to_plain_agents(server: RunningServer) -> None:
    """A plain agent's config.set, agent.add and agent.update get forbidden and change nothing."""
    password = server.add_agent("plain@demo.test", "Plain")

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server, "plain@demo.test", password)
        for type_, fields in [
            ("config.set", {"config": {"color": "#000000"}}),
            ("agent.add", {"email": "x@demo.test", "name": "X"}),
            ("agent.update", {"agent_id": 1, "role": "agent"}),
        ]:
            frame = await agent.request_frame(type_, **fields)
            assert frame["type"] == "error" and frame["code"] == "forbidden", (type_, frame)
        config = (await agent.request("config.get"))["config"]
        assert config["color"] != "#000000"
        await agent.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://evil-example.com", "http://localhost.evil.io:8080", None]
)
def test_a_foreign_or_missing_origin_gets_403_before_the_upgrade(server: RunningServer, origin: str | None) -> None:
    """The visitor endpoint refuses foreign, look-alike and missing origins with HTTP 403."""

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as err:
            async with connect(server.visitor_url, origin=origin):  # type: ignore[arg-type]
                pass
        assert err.value.response.status_code == 403

    asyncio.run(scenario())


def test_an_allowed_origin_and_an_unknown_site_key(server: RunningServer) -> None:
    """An allowed website connects; an unknown site key is refused with 403."""

    async def scenario() -> None:
        async with connect(server.visitor_url, origin="http://localhost:8080") as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "ping", "ref": "1"}))
            assert json.loads(await ws.recv())["code"] == "unauthorized"  # hello comes first
        with pytest.raises(InvalidStatus) as err:
            async with connect(f"{server.ws_url}/v1/visitor?site=nope", origin=server.origin):  # type: ignore[arg-type]
                pass
        assert err.value.response.status_code == 403

    asyncio.run(scenario())


def test_login_is_throttled_after_repeated_failures(server: RunningServer) -> None:
    """After five wrong passwords even the right one is refused with rate_limited for a while."""

    async def scenario() -> None:
        client = await WsClient.connect(server.agent_url)
        for _ in range(5):
            frame = await client.request_frame("login", email=server.admin_email, password="wrong")
            assert frame["code"] == "unauthorized" and frame["message"] == "wrong email or password"
        frame = await client.request_frame("login", email=server.admin_email, password=server.admin_password)
        assert frame["code"] == "rate_limited"
        unknown = await client.request_frame("login", email="nobody@demo.test", password="x")
        assert unknown["message"] == "wrong email or password"  # no account enumeration
        await client.close()

    asyncio.run(scenario())


def test_a_frame_over_64_kib_closes_with_1009(server: RunningServer) -> None:
    """An oversize frame closes the socket with 1009; the server keeps serving others."""

    async def scenario() -> None:
        visitor, _ = await WsClient.visitor(server)
        await visitor.send_raw(json.dumps({"type": "ping", "pad": "x" * 70_000}))
        code, _ = await visitor.wait_closed()
        assert code == 1009
        other, _ = await WsClient.visitor(server)
        assert (await other.request("ping"))["server_time"] > 0
        await other.close()

    asyncio.run(scenario())


def test_a_flood_gets_rate_limited_then_closed_with_1013(server: RunningServer) -> None:
    """Frames past the connection's rate get rate_limited errors, then a 1013 close."""

    async def scenario() -> None:
        visitor, _ = await WsClient.visitor(server)
        for _ in range(200):
            try:
                await visitor.send_raw(json.dumps({"type": "ping"}))
            except Exception:
                break
        code, reason = await visitor.wait_closed()
        assert code == 1013 and "too many requests" in (reason or "")
        assert any(f.get("code") == "rate_limited" for f in visitor.frames)

    asyncio.run(scenario())


def test_compression_is_off(server: RunningServer) -> None:
    """The server declines permessage-deflate even when the client offers it."""

    async def scenario() -> None:
        async with connect(server.agent_url, compression="deflate") as ws:
            assert ws.response is not None
            assert ws.response.headers.get("Sec-WebSocket-Extensions") is None

    asyncio.run(scenario())


def test_tokens_reach_only_their_owner_and_logout_revokes_everywhere(server: RunningServer) -> None:
    """No token shows up in others' frames or the server log; logout closes the token's other sockets with 1008."""

    async def scenario() -> list[str]:
        admin, login = await WsClient.agent(server)
        second = await WsClient.connect(server.agent_url)
        await second.request("auth", token=login["token"])
        observer_password = server.add_agent("observer@demo.test", "Observer")
        observer, observer_login = await WsClient.agent(server, "observer@demo.test", observer_password)
        visitor, hello = await WsClient.visitor(server)
        await visitor.request("message.send", client_id=new_client_id(), body="hello")
        await observer.next_event("message.created")
        everything_observed = json.dumps(observer.frames)
        assert hello["token"] not in everything_observed and login["token"] not in everything_observed
        assert observer_login["token"] not in json.dumps(admin.frames + visitor.frames)
        await admin.request_frame("logout")
        code, _ = await second.wait_closed()
        assert code == 1008
        retry = await WsClient.connect(server.agent_url)
        with pytest.raises(ServerError) as err:
            await retry.request("auth", token=login["token"])
        assert err.value.code == "unauthorized"
        for c in (retry, observer, visitor):
            await c.close()
        return [login["token"], observer_login["token"], hello["token"]]

    tokens = asyncio.run(scenario())
    log = server.log_path.read_text()
    assert log and not any(token in log for token in tokens)


def test_a_disabled_agent_is_disconnected_at_once(server: RunningServer) -> None:
    """Disabling an agent closes their sockets with 1008 and their token stops working."""
    password = server.add_agent("leaver@demo.test", "Leaver")

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        leaver, login = await WsClient.agent(server, "leaver@demo.test", password)
        agent_id = login["agent"]["id"]
        reply = await admin.request("agent.update", agent_id=agent_id, active=False)
        assert reply["agent"]["active"] is False
        code, _ = await leaver.wait_closed()
        assert code == 1008
        again = await WsClient.connect(server.agent_url)
        frame = await again.request_frame("auth", token=login["token"])
        assert frame["code"] == "unauthorized"
        frame = await again.request_frame("login", email="leaver@demo.test", password=password)
        assert frame["code"] == "forbidden"
        await again.close()
        await admin.close()

    asyncio.run(scenario())


def test_a_malformed_frame_gets_an_error_and_nothing_is_lost(server: RunningServer) -> None:
    """Garbage on one socket gets error frames; that socket and everyone else keep working, with no message lost."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, _ = await WsClient.visitor(server)
        for garbage in ("{not json", "[]", '{"type": 5}', '{"type": "message.send", "body": []}', b"\x00\x01"):
            await visitor.send_raw(garbage)
        ack = await visitor.request("message.send", client_id=new_client_id(), body="still here")
        errors = [f for f in visitor.frames if f.get("type") == "error"]
        # A binary frame is an upload's chunk (PROTOCOL.md, "Attachments"): garbage there is upload_failed.
        assert [e["code"] for e in errors] == ["invalid"] * 4 + ["upload_failed"]
        pushed = await agent.next_event("message.created", body="still here")
        assert pushed["event_id"] == ack["event_id"]
        await visitor.close()
        await agent.close()

    asyncio.run(scenario())


def test_a_password_change_from_the_cli_ends_open_sessions(server: RunningServer) -> None:
    """`frontdesk agent passwd` run beside the server revokes the token and closes the agent's sockets with 1008."""
    password = server.add_agent("rotate@demo.test", "Rotate")

    async def scenario() -> None:
        agent, login = await WsClient.agent(server, "rotate@demo.test", password)
        await asyncio.to_thread(server.cli, "agent", "passwd", "--email", "rotate@demo.test")
        code, reason = await agent.wait_closed()
        assert code == 1008 and "password changed" in (reason or "")
        again = await WsClient.connect(server.agent_url)
        assert (await again.request_frame("auth", token=login["token"]))["code"] == "unauthorized"
        await again.close()

    asyncio.run(scenario())
