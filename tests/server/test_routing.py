"""Snooze and auto-assignment through a live in-process server (server/handlers.py, server/routing.py;
PROTOCOL.md "Snooze" and "Auto-assignment"): the request, its refusals, the wake-up job on an injected
clock (across a restart too), and the queue draining when an agent comes online."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server.app import FrontdeskServer, ServerSettings
from frontdesk.server.jobs import ManualClock
from frontdesk.server.store import conversations, tenants
from frontdesk.server.store._sql import now_ms

from tests.support import InProcessServer, ServerError, WsClient, init_demo, new_client_id

HOUR = 3_600_000


@contextlib.asynccontextmanager
async def serve(db_url: str, info: dict[str, Any], clock: ManualClock) -> AsyncIterator[InProcessServer]:
    """A server on ``db_url`` (already initialized) whose time is ``clock``."""
    app = FrontdeskServer(ServerSettings(db_url=db_url, host="127.0.0.1", port=0), clock=clock)
    await app.start()
    try:
        yield InProcessServer.from_init(db_url, info, port=app.port, app=app)
    finally:
        await app.stop()


async def demo(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    db_url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    return db_url, await asyncio.to_thread(init_demo, db_url)


def test_snooze_refusals_and_the_wake_up_on_time(tmp_path: Path) -> None:
    """A snooze in the past is ``invalid`` naming ``until`` and changes nothing; a snooze until an hour from
    now is "snoozed" for every agent, and when the injected clock reaches it the job wakes it (change
    "woken"); a snooze until the reply ends with the visitor's next message."""

    async def scenario() -> None:
        db_url, info = await demo(tmp_path)
        clock = ManualClock(start_ms=now_ms())
        async with serve(db_url, info, clock) as server:
            agent, _ = await WsClient.agent(server)
            visitor, _ = await WsClient.visitor(server)
            ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
            cid = ack["conversation_id"]
            with pytest.raises(ServerError) as past:
                await agent.request("snooze", conversation_id=cid, until=clock.now_ms() - 1)
            assert (past.value.code, past.value.frame.get("field")) == ("invalid", "until")
            with pytest.raises(ServerError) as missing:
                await agent.request("snooze", conversation_id=999_999, until=clock.now_ms() + HOUR)
            assert missing.value.code == "not_found"
            reply = await agent.request("snooze", conversation_id=cid, until=clock.now_ms() + HOUR)
            assert reply["conversation"]["status"] == "snoozed"
            await agent.next_event("conversation.updated", id=cid, change="snoozed")
            snoozed = await agent.request("snapshot", filter="snoozed")
            assert [c["id"] for c in snoozed["conversations"]] == [cid]
            assert (await agent.request("snapshot", filter="open"))["conversations"] == []
            clock.advance(HOUR)
            woken = await agent.next_event("conversation.updated", id=cid, change="woken")
            assert woken["data"]["status"] == "open" and woken["data"]["actor_id"] is None

            await agent.request("snooze", conversation_id=cid)
            await visitor.request("message.send", client_id=new_client_id(), body="still there?")
            created = await agent.next_event("message.created", body="still there?")
            assert created["data"]["conversation"]["status"] == "open"
            for client in (agent, visitor):
                await client.close()

    asyncio.run(scenario())


def test_a_snooze_wakes_after_a_restart(tmp_path: Path) -> None:
    """The wake-up is a stored job: a server stopped before the time and started again after it wakes the
    conversation (no timer in memory survives, nothing needs one)."""

    async def scenario() -> None:
        db_url, info = await demo(tmp_path)
        clock = ManualClock(start_ms=now_ms())
        async with serve(db_url, info, clock) as server:
            agent, _ = await WsClient.agent(server)
            visitor, _ = await WsClient.visitor(server)
            cid = (await visitor.request("message.send", client_id=new_client_id(), body="hi"))["conversation_id"]
            await agent.request("snooze", conversation_id=cid, until=clock.now_ms() + HOUR)
            for client in (agent, visitor):
                await client.close()
        later = ManualClock(start_ms=clock.now_ms() + HOUR + 1)
        async with serve(db_url, info, later) as server:
            agent, _ = await WsClient.agent(server)
            listed = await agent.request("snapshot", filter="open")
            while not listed["conversations"]:  # the runner claims the due job right after start
                await agent.next_event("conversation.updated", id=cid, change="woken")
                listed = await agent.request("snapshot", filter="open")
            assert [c["id"] for c in listed["conversations"]] == [cid]
            await agent.close()

    asyncio.run(scenario())


def test_the_queue_tells_the_visitor_its_place_and_drains_when_an_agent_comes_online(tmp_path: Path) -> None:
    """With auto-assignment on and nobody online, a new conversation waits and its visitor hears place 1;
    the agent logging in makes the assigner run: the conversation is theirs (reason "auto", change
    "auto_assigned") and the visitor hears place 0."""

    async def scenario() -> None:
        db_url, info = await demo(tmp_path)
        clock = ManualClock(start_ms=now_ms())
        async with serve(db_url, info, clock) as server:
            store = server.app.store
            tenant = (await store.read(tenants.demo_tenant)).id
            await store.write(tenants.set_config, tenant, {"auto_assign": True}, None)
            visitor, _ = await WsClient.visitor(server)
            cid = (await visitor.request("message.send", client_id=new_client_id(), body="help"))["conversation_id"]
            assert (await visitor.next_event("queue", conversation_id=cid))["data"]["position"] == 1
            agent, login = await WsClient.agent(server)
            await visitor.next_event("queue", conversation_id=cid, position=0)
            listed = await agent.request("snapshot", filter="mine")
            [mine] = listed["conversations"]
            assert (mine["id"], mine["assign_reason"]) == (cid, "auto")
            assert mine["assignee_id"] == login["agent"]["id"]
            for client in (agent, visitor):
                await client.close()

    asyncio.run(scenario())


def test_transfer_reaches_the_receiver_and_refusals_change_nothing(tmp_path: Path) -> None:
    """The receiving agent hears ``transferred`` (with the note as a private note); no target is ``invalid``,
    a disabled agent ``conflict``; the assignment settings are checked by config.set."""

    async def scenario() -> None:
        db_url, info = await demo(tmp_path)
        async with serve(db_url, info, ManualClock(start_ms=now_ms())) as server:
            admin, _ = await WsClient.agent(server)
            added = await admin.request("agent.add", email="bea@demo.test", name="Bea", password="bea-password-1")
            gone = await admin.request("agent.add", email="dan@demo.test", name="Dan", password="dan-password-1")
            await admin.request("agent.update", agent_id=gone["agent"]["id"], active=False)
            bea, _ = await WsClient.agent(server, "bea@demo.test", added["password"])
            visitor, _ = await WsClient.visitor(server)
            cid = (await visitor.request("message.send", client_id=new_client_id(), body="hi"))["conversation_id"]
            for fields, code in (({}, "invalid"), ({"agent_id": gone["agent"]["id"]}, "conflict")):
                with pytest.raises(ServerError) as refused:
                    await admin.request("transfer", conversation_id=cid, note="x", **fields)
                assert refused.value.code == code
            bea_id = added["agent"]["id"]
            await admin.request("transfer", conversation_id=cid, agent_id=bea_id, note="Bea, yours")
            got = await bea.next_event("conversation.updated", id=cid, change="transferred")
            assert (got["data"]["assignee_id"], got["data"]["assign_reason"]) == (bea_id, "transfer")
            note = await bea.next_event("note.created", conversation_id=cid)
            assert note["data"]["body"] == "Bea, yours"
            for bad in ({"auto_assign_teams": ["x"]}, {"agent_capacity": -1}, {"auto_assign": "yes"}):
                with pytest.raises(ServerError) as invalid:
                    await admin.request("config.set", config=bad)
                assert invalid.value.code == "invalid"
            saved = await admin.request("config.set", config={"auto_assign": True, "agent_capacity": 2})
            assert (saved["config"]["auto_assign"], saved["config"]["agent_capacity"]) == (True, 2)
            for client in (admin, bea, visitor):
                await client.close()

    asyncio.run(scenario())


def test_a_reopened_conversation_goes_back_to_the_queue_after_the_grace(tmp_path: Path) -> None:
    """Its assignee offline, a conversation the visitor reopens stays theirs for ``reassign_grace_minutes`` on the
    injected clock, then goes back into the queue: the visitor hears place 1 (nobody else is online)."""

    async def scenario() -> None:
        db_url, info = await demo(tmp_path)
        clock = ManualClock(start_ms=now_ms())
        async with serve(db_url, info, clock) as server:
            admin, login = await WsClient.agent(server)
            await admin.request("config.set", config={"auto_assign": True, "reassign_grace_minutes": 1})
            visitor, _ = await WsClient.visitor(server)
            cid = (await visitor.request("message.send", client_id=new_client_id(), body="help"))["conversation_id"]
            await visitor.next_event("queue", conversation_id=cid, position=0)
            await admin.request("resolve", conversation_id=cid)
            await admin.close()
            await visitor.request("message.send", client_id=new_client_id(), body="it broke again", conversation_id=cid)
            await visitor.fence()
            assert not [f for f in visitor.drain("queue") if f["data"]["position"]]  # still theirs
            # The reopen was stamped by the store's clock (real time, a little after this clock's start).
            clock.advance(2 * 60_000)
            await visitor.next_event("queue", conversation_id=cid, position=1)
            conv = await server.app.store.read(conversations.get_conversation, login["tenant"]["id"], cid)
            assert (conv.assignee_id, conv.status) == (None, "open")
            await visitor.close()

    asyncio.run(scenario())


def test_a_reassignment_frees_a_slot_and_the_queue_moves_at_once(tmp_path: Path) -> None:
    """Capacity 1: Ada has one conversation and the next waits. Ada hands hers to Bea by hand: the assigner runs
    at once (the clock stands still, so not the minute's retry) and the waiting conversation is Ada's."""

    async def scenario() -> None:
        db_url, info = await demo(tmp_path)
        async with serve(db_url, info, ManualClock(start_ms=now_ms())) as server:
            admin, login = await WsClient.agent(server)
            bea = await admin.request("agent.add", email="bea@demo.test", name="Bea", password="bea-password-1")
            await admin.request("config.set", config={"auto_assign": True, "agent_capacity": 1})
            first, _ = await WsClient.visitor(server)
            taken = (await first.request("message.send", client_id=new_client_id(), body="one"))["conversation_id"]
            await first.next_event("queue", conversation_id=taken, position=0)
            second, _ = await WsClient.visitor(server)
            waiting = (await second.request("message.send", client_id=new_client_id(), body="two"))["conversation_id"]
            await second.next_event("queue", conversation_id=waiting, position=1)
            await admin.request("assign", conversation_id=taken, agent_id=bea["agent"]["id"])
            await second.next_event("queue", conversation_id=waiting, position=0)
            mine = (await admin.request("snapshot", filter="mine"))["conversations"]
            assert [(c["id"], c["assign_reason"]) for c in mine] == [(waiting, "auto")]
            assert mine[0]["assignee_id"] == login["agent"]["id"]
            for client in (admin, first, second):
                await client.close()

    asyncio.run(scenario())


def test_the_queue_drains_when_an_agent_comes_back_from_away(tmp_path: Path) -> None:
    """An agent online but Away gets nothing: the visitor waits at place 1; back to Available, the assigner runs
    at once (the clock stands still) and the conversation is theirs."""

    async def scenario() -> None:
        db_url, info = await demo(tmp_path)
        async with serve(db_url, info, ManualClock(start_ms=now_ms())) as server:
            admin, login = await WsClient.agent(server)
            await admin.request("availability.set", away=True)
            await admin.request("config.set", config={"auto_assign": True})
            visitor, _ = await WsClient.visitor(server)
            cid = (await visitor.request("message.send", client_id=new_client_id(), body="anyone?"))["conversation_id"]
            await visitor.next_event("queue", conversation_id=cid, position=1)
            await admin.request("availability.set", away=False)
            await visitor.next_event("queue", conversation_id=cid, position=0)
            [mine] = (await admin.request("snapshot", filter="mine"))["conversations"]
            assert (mine["id"], mine["assignee_id"], mine["assign_reason"]) == (cid, login["agent"]["id"], "auto")
            for client in (admin, visitor):
                await client.close()

    asyncio.run(scenario())
