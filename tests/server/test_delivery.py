"""Delivery guarantees (DESIGN.md, the write path): ack after commit, idempotent
client_id, gap-free resume, reset_required, one authorization filter."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from frontdesk.server.store import sqlite_path

from tests.support import RunningServer, WsClient, new_client_id, serve_in_process


def stored_bodies(server: RunningServer) -> list[str]:
    """Message bodies as a separate reader of the database file sees them (committed data only)."""
    conn = sqlite3.connect(f"file:{sqlite_path(server.db_url)}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT body FROM messages ORDER BY id")]
    finally:
        conn.close()


def test_an_ack_means_the_message_is_committed(server: RunningServer) -> None:
    """When the ack arrives the message is already visible to another reader of the database, and survives kill -9."""

    async def scenario() -> int:
        visitor, _ = await WsClient.visitor(server)
        ack = await visitor.request("message.send", client_id=new_client_id(), body="durable hello")
        assert "durable hello" in stored_bodies(server)
        server.kill()
        await visitor.wait_closed()
        return int(ack["conversation_id"])

    conversation_id = asyncio.run(scenario())
    server.start()

    async def after_restart() -> None:
        agent, _ = await WsClient.agent(server)
        history = await agent.request("history", conversation_id=conversation_id)
        assert [m["body"] for m in history["messages"]] == ["durable hello"]
        await agent.close()

    asyncio.run(after_restart())


def test_a_repeated_client_id_returns_the_original_ack_and_stores_nothing(server: RunningServer) -> None:
    """Resending with the same client_id (even with another body) gets the first ack; one message is stored."""

    async def scenario() -> None:
        visitor, _ = await WsClient.visitor(server)
        client_id = new_client_id()
        first = await visitor.request("message.send", client_id=client_id, body="once")
        again = await visitor.request("message.send", client_id=client_id, body="twice?")
        assert {k: v for k, v in again.items() if k != "ref"} == {k: v for k, v in first.items() if k != "ref"}
        assert stored_bodies(server) == ["once"]
        other = await visitor.request("message.send", client_id=new_client_id(), body="another")
        assert other["seq"] == first["seq"] + 1
        await visitor.close()

    asyncio.run(scenario())


def test_resume_replays_exactly_the_missed_events_then_goes_live(relaxed_server: RunningServer) -> None:
    """An agent resuming with since gets every missed message once, in order, even while new ones are written."""
    server = relaxed_server

    async def scenario() -> None:
        agent, _login = await WsClient.agent(server, subscribe=False)
        sub = await agent.request("subscribe")
        epoch, cursor = sub["epoch"], sub["last_event_id"]
        await agent.close()

        visitor, _ = await WsClient.visitor(server)
        for i in range(30):
            await visitor.request("message.send", client_id=new_client_id(), body=f"missed {i}")

        agent2, _ = await WsClient.agent(server, subscribe=False)

        async def keep_writing() -> None:
            for i in range(30):
                await visitor.request("message.send", client_id=new_client_id(), body=f"during {i}")

        writer = asyncio.create_task(keep_writing())
        reply = await agent2.request("subscribe", since=cursor, epoch=epoch)
        assert reply["reset_required"] is False
        await writer
        expected = [f"missed {i}" for i in range(30)] + [f"during {i}" for i in range(30)]
        seen: list[str] = []
        event_ids: list[int] = []
        while len(seen) < len(expected):
            frame = await agent2.next_event("message.created")
            seen.append(frame["data"]["body"])
            event_ids.append(frame["event_id"])
        assert seen == expected
        assert event_ids == sorted(set(event_ids))
        await agent2.fence()
        assert agent2.drain("message.created") == []  # no duplicates trail behind
        await agent2.close()
        await visitor.close()

    asyncio.run(scenario())


def test_a_visitor_resumes_from_its_cursor_with_hello(server: RunningServer) -> None:
    """A visitor reconnecting with its token and cursor receives the agent replies it missed."""

    async def scenario() -> None:
        visitor, hello = await WsClient.visitor(server)
        ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
        await visitor.close()
        agent, _ = await WsClient.agent(server)
        for body in ("one", "two", "three"):
            await agent.request("reply", conversation_id=ack["conversation_id"], client_id=new_client_id(), body=body)
        back, reply = await WsClient.visitor(server, token=hello["token"], since=ack["event_id"], epoch=hello["epoch"])
        assert reply["visitor"]["id"] == hello["visitor"]["id"] and reply["reset_required"] is False
        bodies = [(await back.next_event("message.created"))["data"]["body"] for _ in range(3)]
        assert bodies == ["one", "two", "three"]
        await back.close()
        await agent.close()

    asyncio.run(scenario())


def test_a_cursor_from_another_epoch_or_the_future_needs_a_reset(server: RunningServer) -> None:
    """A wrong epoch or a cursor past the newest event gets reset_required and no replay."""

    async def scenario() -> None:
        visitor, _ = await WsClient.visitor(server)
        await visitor.request("message.send", client_id=new_client_id(), body="x")
        for since, wrong_epoch in ((0, True), (10**9, False)):
            agent, _ = await WsClient.agent(server, subscribe=False)
            real_epoch = (await agent.request("snapshot"))["epoch"]
            reply = await agent.request(
                "subscribe", since=since, epoch="another-database" if wrong_epoch else real_epoch
            )
            assert reply["reset_required"] is True
            await agent.fence()
            assert agent.drain("message.created") == []
            await agent.close()
        await visitor.close()

    asyncio.run(scenario())


def test_fan_out_and_replay_apply_the_same_filter(server: RunningServer) -> None:
    """A visitor gets neither notes nor other visitors' messages, live or on replay."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        alice, alice_hello = await WsClient.visitor(server)
        bob, _ = await WsClient.visitor(server)
        a = await alice.request("message.send", client_id=new_client_id(), body="alice")
        b = await bob.request("message.send", client_id=new_client_id(), body="bob")
        await agent.request("note", conversation_id=a["conversation_id"], client_id=new_client_id(), body="secret note")
        await agent.request("reply", conversation_id=b["conversation_id"], client_id=new_client_id(), body="to bob")
        await agent.request("reply", conversation_id=a["conversation_id"], client_id=new_client_id(), body="to alice")
        await alice.next_event("message.created", body="to alice")
        live = [f["data"].get("body") for f in alice.frames if f.get("type") == "event"]
        await alice.close()
        replayed_client, _ = await WsClient.visitor(
            server, token=alice_hello["token"], since=0, epoch=alice_hello["epoch"]
        )
        await replayed_client.next_event("message.created", body="to alice")
        replayed = [f["data"].get("body") for f in replayed_client.frames if f.get("type") == "event"]
        for bodies in (live, replayed):
            assert "secret note" not in bodies and "bob" not in bodies and "to bob" not in bodies
        assert all(f.get("kind") != "note.created" for f in replayed_client.frames)
        for c in (agent, bob, replayed_client):
            await c.close()

    asyncio.run(scenario())


def test_a_resuming_visitors_hello_is_one_update_and_one_read_besides_its_replay(tmp_path: Path) -> None:
    """A visitor resuming from the same page costs the store one UPDATE (resume_visitor) and, in one read, one
    statement for its cursor and conversations plus one for the replay's first page (hello_state), and nothing
    else; the missed replies arrive in order. From another page, the visitor's update is three (two UPDATEs and
    visitor.updated). Counted per store operation, the writer's BEGIN and COMMIT apart (issue 12)."""
    from tests.server.store.test_contract import _Counting

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            store = server.app.store
            calls: list[tuple[asyncio.Task[Any] | None, str, int]] = []

            def counting(real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
                async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
                    def counted(tx: Any, *a: Any, **kw: Any) -> tuple[Any, int]:
                        tally = _Counting(tx)
                        return fn(tally, *a, **kw), len(tally.statements)

                    result, statements = await real(counted, *args, **kwargs)
                    calls.append((asyncio.current_task(), fn.__name__, statements))
                    return result

                return call

            page = {"url": "https://acme.test/pricing"}
            visitor, hello = await WsClient.visitor(server, meta=page)
            ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
            await visitor.close()
            agent, _ = await WsClient.agent(server)
            bodies = [f"reply {n}" for n in range(5)]
            for body in bodies:
                await agent.request(
                    "reply", conversation_id=ack["conversation_id"], client_id=new_client_id(), body=body
                )
            store.write, store.read = counting(store.write), counting(store.read)

            def the_hellos() -> list[tuple[str, int]]:
                """The store calls of the task that ran the hello (the server's handler of that socket)."""
                task = next(task for task, name, _ in calls if name == "resume_visitor")
                hellos = [(name, n) for t, name, n in calls if t is task]
                calls.clear()
                return hellos

            back, reply = await WsClient.visitor(
                server, token=hello["token"], since=ack["event_id"], epoch=hello["epoch"], meta=page
            )
            assert reply["visitor"]["id"] == hello["visitor"]["id"] and reply["reset_required"] is False
            assert [(await back.next_event("message.created"))["data"]["body"] for _ in bodies] == bodies
            assert the_hellos() == [("resume_visitor", 1), ("hello_state", 2)]
            await back.close()

            elsewhere, reply = await WsClient.visitor(server, token=hello["token"], meta={"url": "https://acme.test/"})
            assert reply["visitor"]["page_url"] == "https://acme.test/"
            assert the_hellos() == [("resume_visitor", 3), ("hello_state", 1)]
            await elsewhere.close()
            await agent.close()

    asyncio.run(scenario())
