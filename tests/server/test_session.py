"""One session per connection, on a live server (PROTOCOL.md, "Visitor endpoint",
"Agent endpoint"): a second hello, login, auth or subscribe gets `invalid`."""

from __future__ import annotations

import asyncio

from tests.support import RunningServer, WsClient


def test_a_second_hello_is_invalid_and_the_session_stays(server: RunningServer) -> None:
    """A visitor's second hello (with or without another token) gets `invalid`;
    the socket keeps speaking for the first visitor."""

    async def scenario() -> None:
        other, other_hello = await WsClient.visitor(server)
        visitor, hello = await WsClient.visitor(server)
        for fields in ({}, {"token": other_hello["token"]}):
            err = await visitor.request_frame("hello", **fields)
            assert err["type"] == "error" and err["code"] == "invalid", err
        sent = await visitor.request("message.send", client_id="00000000-0000-4000-8000-000000000001", body="hi")
        history = await visitor.request("history", conversation_id=sent["conversation_id"])
        assert [m["author_id"] for m in history["messages"]] == [hello["visitor"]["id"]]
        for c in (other, visitor):
            await c.close()

    asyncio.run(scenario())


def test_a_second_login_auth_or_subscribe_is_invalid(server: RunningServer) -> None:
    """After a login, another login or an auth gets `invalid`; a second subscribe
    too; the first session stays (a ping is answered)."""

    async def scenario() -> None:
        agent, login = await WsClient.agent(server, subscribe=False)
        again = await agent.request_frame("login", email=server.admin_email, password=server.admin_password)
        token = await agent.request_frame("auth", token=login["token"])
        first = await agent.request("subscribe")
        second = await agent.request_frame("subscribe")
        assert [f["code"] for f in (again, token, second)] == ["invalid"] * 3, (again, token, second)
        assert "last_event_id" in first
        assert (await agent.request("ping"))["type"] == "reply"
        await agent.close()

    asyncio.run(scenario())


def test_a_failed_login_may_be_retried_and_subscribe_needs_a_session(server: RunningServer) -> None:
    """subscribe before logging in is `unauthorized`; a failed login leaves the
    socket new, so the next login on it works, and only then is a login a second one."""

    async def scenario() -> None:
        agent = await WsClient.connect(server.agent_url)
        assert (await agent.request_frame("subscribe"))["code"] == "unauthorized"
        wrong = await agent.request_frame("login", email=server.admin_email, password="wrong password")
        assert wrong["code"] == "unauthorized"
        await agent.request("login", email=server.admin_email, password=server.admin_password)
        again = await agent.request_frame("login", email=server.admin_email, password=server.admin_password)
        assert again["code"] == "invalid"
        await agent.close()

    asyncio.run(scenario())
