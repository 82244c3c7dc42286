"""Satisfaction surveys end to end: resolve, the visitor's prompt and rating, the emailed link's page."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server.csat_page import issue_survey_link
from frontdesk.server.jobs import ManualClock
from frontdesk.server.store import now_ms

from tests.support import ServerError, WsClient, new_client_id, serve_in_process

HOUR = 3600_000


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - a local test server
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_resolving_asks_the_visitor_who_rates_and_changes_it_within_the_window(tmp_path: Path) -> None:
    """A resolve pushes csat.requested to the visitor, who rates (agents hear csat.submitted with the handling
    agent), changes the rating within the window and is refused after it; survey: false asks nothing."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            clock = ManualClock(start_ms=now_ms())
            server.app.handlers.now_ms = clock.now_ms
            agent, session = await WsClient.agent(server)
            visitor, _ = await WsClient.visitor(server)
            ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
            cid = ack["conversation_id"]
            await agent.request("reply", conversation_id=cid, client_id=new_client_id(), body="hello")
            await agent.request("resolve", conversation_id=cid)
            asked = await visitor.next_event("csat.requested", conversation_id=cid)
            assert asked["data"]["scale"] == "five" and asked["data"]["rating"] is None
            rated = await visitor.request("csat.submit", conversation_id=cid, rating=3, comment="fine")
            assert rated["csat"]["rating"] == 3
            heard = await agent.next_event("csat.submitted", conversation_id=cid)
            assert heard["data"]["agent_id"] == session["agent"]["id"] and heard["data"]["comment"] == "fine"
            clock.advance(23 * HOUR)
            again = await visitor.request("csat.submit", conversation_id=cid, rating=5)
            assert again["csat"]["rating"] == 5 and again["csat"]["comment"] is None
            with pytest.raises(ServerError) as off_scale:
                await visitor.request("csat.submit", conversation_id=cid, rating=0)
            assert off_scale.value.code == "invalid" and off_scale.value.frame["field"] == "rating"
            clock.advance(2 * HOUR)
            with pytest.raises(ServerError) as late:
                await visitor.request("csat.submit", conversation_id=cid, rating=1)
            assert late.value.code == "conflict"
            listed = await agent.request("csat.list", conversation_id=cid)
            assert [s["rating"] for s in listed["surveys"]] == [5]

            await visitor.request("message.send", client_id=new_client_id(), body="one more", conversation_id=cid)
            await agent.request("resolve", conversation_id=cid, survey=False)
            await visitor.fence()
            assert visitor.drain("csat.requested") == []
            assert len((await agent.request("csat.list", conversation_id=cid))["surveys"]) == 1

    asyncio.run(scenario())


def test_a_visitor_who_comes_back_finds_the_open_survey_in_hello(tmp_path: Path) -> None:
    """hello carries the newest survey of the most recent conversation while that one is resolved and the survey
    takes a rating (rated or not); not after the window, and not once the visitor writes again (reopened)."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            clock = ManualClock(start_ms=now_ms())
            server.app.handlers.now_ms = clock.now_ms
            agent, _ = await WsClient.agent(server)
            visitor, hello = await WsClient.visitor(server)
            assert hello["csat"] is None
            token = hello["token"]
            ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
            cid = ack["conversation_id"]

            async def come_back() -> dict[str, Any]:
                again, reply = await WsClient.visitor(server, token=token)
                await again.close()
                return reply

            assert (await come_back())["csat"] is None  # open: nothing to rate
            await agent.request("resolve", conversation_id=cid)
            asked = (await visitor.next_event("csat.requested", conversation_id=cid))["data"]
            await visitor.close()
            back = (await come_back())["csat"]
            assert back is not None and (back["id"], back["rating"]) == (asked["id"], None)
            visitor, _ = await WsClient.visitor(server, token=token)
            await visitor.request("csat.submit", conversation_id=cid, rating=4)
            assert (await come_back())["csat"]["rating"] == 4  # rated: still shown, it may change for a day
            clock.advance(25 * HOUR)
            assert (await come_back())["csat"] is None  # past expires_at
            await visitor.request("message.send", client_id=new_client_id(), body="one more", conversation_id=cid)
            await agent.request("resolve", conversation_id=cid)
            second = (await come_back())["csat"]
            assert second is not None and second["id"] != asked["id"] and second["rating"] is None
            await visitor.request("message.send", client_id=new_client_id(), body="and another", conversation_id=cid)
            assert (await come_back())["csat"] is None  # reopened: nothing to rate while it is open

    asyncio.run(scenario())


def test_the_emailed_link_page_rates_once_and_refuses_reuse_and_expiry(tmp_path: Path) -> None:
    """The link opens a form for the survey's scale; submitting it rates (the agents hear it); the same link again
    is 409 and changes nothing; an expired link is 410 and a forged one 404, each saying so."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            clock = ManualClock(start_ms=now_ms())
            server.app.handlers.now_ms = clock.now_ms
            agent, _ = await WsClient.agent(server)
            await agent.request("config.set", config={"csat": "thumbs"})
            visitor, _ = await WsClient.visitor(server)
            cid = (await visitor.request("message.send", client_id=new_client_id(), body="hi"))["conversation_id"]
            await agent.request("resolve", conversation_id=cid)
            survey = (await agent.next_event("csat.requested", conversation_id=cid))["data"]
            assert survey["scale"] == "thumbs"
            store, tenant = server.app.store, server.app.tenants
            tenant_id = (await tenant.by_site_key(server.site_key)).id
            link = await issue_survey_link(
                store, tenant_id, survey["id"], public_url=server.http_url, now_ms=clock.now_ms()
            )
            status, page = await asyncio.to_thread(get, link)
            assert status == 200 and "<form" in page and "value=0" in page and "value=5" not in page
            status, page = await asyncio.to_thread(get, link + "&rating=1&comment=Lovely%20help")
            assert status == 200 and "Thank you" in page
            heard = await agent.next_event("csat.submitted", conversation_id=cid)
            assert heard["data"]["rating"] == 1 and heard["data"]["comment"] == "Lovely help"
            status, page = await asyncio.to_thread(get, link + "&rating=0")
            assert status == 409 and "already been used" in page
            assert (await agent.request("csat.list", conversation_id=cid))["surveys"][0]["rating"] == 1

            old = await issue_survey_link(
                store, tenant_id, survey["id"], public_url=server.http_url, now_ms=clock.now_ms(), ttl_ms=HOUR
            )
            clock.advance(HOUR)
            status, page = await asyncio.to_thread(get, old + "&rating=0")
            assert status == 410 and "expired" in page
            status, page = await asyncio.to_thread(get, server.http_url + "/v1/csat?t=forged-token&rating=1")
            assert status == 404 and "not valid" in page

    asyncio.run(scenario())
