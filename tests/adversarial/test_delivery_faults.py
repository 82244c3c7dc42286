"""Delivery under faults: lost acks, client_id scope, resume, concurrent
writers, duplicate starts and slow consumers (issue 5, cases 1, 2, 5, 6, 8, 9, 10)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket

import pytest
from websockets.asyncio.client import connect

from tests.adversarial._util import db_rows, rss_kib
from tests.support import TIMEOUT, RunningServer, WsClient, new_client_id

# -- 1. lost ack -------------------------------------------------------------------------------


def test_lost_ack_after_commit_resend_returns_the_original(server: RunningServer) -> None:
    """Attack: the TCP connection dies after COMMIT but before the ack is read; the
    resend with the same client_id gets the same seq and event_id, and one row exists."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        first, hello = await WsClient.visitor(server)
        await first.close()
        token = hello["token"]
        # A socket whose replies the application never reads, cut with a RST.
        ws = await connect(server.visitor_url, origin=server.origin, compression=None)  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello", "ref": "h", "token": token}))
        cid = new_client_id()
        await ws.send(json.dumps({"type": "message.send", "ref": "m", "client_id": cid, "body": "first try"}))
        stored = await agent.next_event("message.created", client_id=cid)  # committed (pushed after COMMIT)
        assert ws.transport is not None
        ws.transport.abort()
        await ws.wait_closed()
        visitor, _ = await WsClient.visitor(server, token=token)
        again = await visitor.request("message.send", client_id=cid, body="first try")
        once_more = await visitor.request(
            "message.send", client_id=cid, body="first try", conversation_id=again["conversation_id"]
        )
        for ack in (again, once_more):
            assert (ack["seq"], ack["event_id"]) == (stored["data"]["seq"], stored["event_id"])
            assert ack["message"]["id"] == stored["data"]["id"]
        history = await visitor.request("history", conversation_id=again["conversation_id"])
        assert [m["client_id"] for m in history["messages"]] == [cid]
        await agent.fence()
        assert agent.drain("message.created") == []  # the resend pushed nothing new
        await visitor.close()
        await agent.close()

    asyncio.run(scenario())


def test_cut_right_after_sending_then_resend_stores_exactly_once(server: RunningServer) -> None:
    """Attack: the connection is reset the instant the frame is written (stored or not,
    nobody knows); resending the same client_id leaves exactly one message."""

    async def scenario() -> None:
        first, hello = await WsClient.visitor(server)
        await first.close()
        token = hello["token"]
        cids = [new_client_id() for _ in range(5)]
        for cid in cids:
            ws = await connect(server.visitor_url, origin=server.origin, compression=None)  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "hello", "ref": "h", "token": token}))
            await ws.send(json.dumps({"type": "message.send", "ref": "m", "client_id": cid, "body": "x"}))
            assert ws.transport is not None
            ws.transport.abort()
            await ws.wait_closed()
        visitor, _ = await WsClient.visitor(server, token=token)
        acks = [await visitor.request("message.send", client_id=cid, body="x") for cid in cids]
        conv = acks[0]["conversation_id"]
        history = await visitor.request("history", conversation_id=conv)
        assert sorted(m["client_id"] for m in history["messages"]) == sorted(cids)
        assert [m["seq"] for m in history["messages"]] == list(range(1, len(cids) + 1))
        await visitor.close()

    asyncio.run(scenario())


def test_agent_reply_lost_ack_resend_is_idempotent(server: RunningServer) -> None:
    """Attack: an agent's reply is committed but its socket dies before the ack; the
    console's resend from its outbox returns the original reply, stores nothing."""

    async def scenario() -> None:
        visitor, _ = await WsClient.visitor(server)
        sent = await visitor.request("message.send", client_id=new_client_id(), body="help")
        conv = sent["conversation_id"]
        first, login = await WsClient.agent(server, subscribe=False)
        await first.close()
        ws = await connect(server.agent_url, compression=None)
        await ws.send(json.dumps({"type": "auth", "ref": "a", "token": login["token"]}))
        cid = new_client_id()
        await ws.send(
            json.dumps({"type": "reply", "ref": "r", "conversation_id": conv, "client_id": cid, "body": "hi"})
        )
        pushed = await visitor.next_event("message.created", body="hi")
        assert ws.transport is not None
        ws.transport.abort()
        await ws.wait_closed()
        agent, _ = await WsClient.agent(server)
        ack = await agent.request("reply", conversation_id=conv, client_id=cid, body="hi (edited offline)")
        assert (ack["seq"], ack["event_id"]) == (pushed["data"]["seq"], pushed["event_id"])
        assert ack["message"]["body"] == "hi"
        history = await agent.request("history", conversation_id=conv)
        assert [m["body"] for m in history["messages"]] == ["help", "hi"]
        await visitor.close()
        await agent.close()

    asyncio.run(scenario())


# -- 2. client_id scope ----------------------------------------------------------------------


def test_client_id_same_sender_different_body_returns_original(server: RunningServer) -> None:
    """Attack: a client reuses a client_id with another body; it gets the original
    reply (same seq, event_id, body) and nothing new is stored or pushed."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, _ = await WsClient.visitor(server)
        cid = new_client_id()
        first = await visitor.request("message.send", client_id=cid, body="original")
        await agent.next_event("message.created", client_id=cid)
        second = await visitor.request("message.send", client_id=cid, body="a different body")
        third = await visitor.request(
            "message.send", client_id=cid, body="third", conversation_id=first["conversation_id"]
        )
        for again in (second, third):
            assert {k: again[k] for k in ("seq", "event_id", "conversation_id", "message")} == {
                k: first[k] for k in ("seq", "event_id", "conversation_id", "message")
            }
        assert second["message"]["body"] == "original"
        rows = db_rows(server, "SELECT body FROM messages WHERE client_id = ?", (cid,))
        assert [r["body"] for r in rows] == ["original"]
        await agent.fence()
        assert agent.drain("message.created") == []
        await visitor.close()
        await agent.close()

    asyncio.run(scenario())


def test_client_id_is_scoped_to_sender_and_conversation(server: RunningServer) -> None:
    """Attack: the same client_id from another visitor, from an agent, and in another
    conversation of the same sender; each is a distinct stored message."""

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        alice, _ = await WsClient.visitor(server)
        bob, _ = await WsClient.visitor(server)
        cid = new_client_id()
        a = await alice.request("message.send", client_id=cid, body="alice")
        b = await bob.request("message.send", client_id=cid, body="bob")
        assert a["conversation_id"] != b["conversation_id"]
        assert b["message"]["body"] == "bob" and b["event_id"] != a["event_id"]
        # The agent reuses the visitor's client_id in Alice's conversation, then in Bob's.
        ra = await agent.request("reply", conversation_id=a["conversation_id"], client_id=cid, body="to alice")
        rb = await agent.request("reply", conversation_id=b["conversation_id"], client_id=cid, body="to bob")
        assert ra["message"]["body"] == "to alice" and rb["message"]["body"] == "to bob"
        assert ra["seq"] == 2 and rb["seq"] == 2
        # A note with the same client_id is its own write too.
        note = await agent.request("note", conversation_id=a["conversation_id"], client_id=cid, body="note")
        assert note["note"]["body"] == "note"
        # Alice's next conversation: the same client_id, addressed to it, is new.
        await agent.request("resolve", conversation_id=a["conversation_id"])
        await alice.request("conversation.start")  # "New conversation" (a plain message would reopen it)
        fresh = await alice.request("message.send", client_id=new_client_id(), body="new topic")
        assert fresh["conversation_id"] != a["conversation_id"]
        again = await alice.request(
            "message.send", client_id=cid, body="alice again", conversation_id=fresh["conversation_id"]
        )
        assert again["conversation_id"] == fresh["conversation_id"]
        assert again["message"]["body"] == "alice again" and again["seq"] == 2
        rows = db_rows(server, "SELECT body FROM messages WHERE client_id = ? ORDER BY id", (cid,))
        assert [r["body"] for r in rows] == ["alice", "bob", "to alice", "to bob", "alice again"]
        for c in (agent, alice, bob):
            await c.close()

    asyncio.run(scenario())


# -- 5. resume ------------------------------------------------------------------------------


def _cursor(client: WsClient, reply: dict[str, object]) -> int:
    seen = [int(f["event_id"]) for f in client.frames if f.get("type") == "event" and "event_id" in f]
    return max([int(reply["last_event_id"]), *seen])  # type: ignore[call-overload]


def test_resume_replays_exactly_the_missed_50_in_order(relaxed_server: RunningServer) -> None:
    """Fault: a visitor is offline while the agent posts 50 messages; reconnecting
    with since gives exactly those 50, in order, then live events."""
    server = relaxed_server

    async def scenario() -> None:
        agent, _ = await WsClient.agent(server)
        visitor, hello = await WsClient.visitor(server)
        sent = await visitor.request("message.send", client_id=new_client_id(), body="hi")
        conv = sent["conversation_id"]
        await visitor.fence()
        since, epoch = _cursor(visitor, hello), hello["epoch"]
        await visitor.close()
        acks = []
        for i in range(50):
            acks.append(await agent.request("reply", conversation_id=conv, client_id=new_client_id(), body=f"m{i}"))
        visitor, again = await WsClient.visitor(server, token=hello["token"], since=since, epoch=epoch)
        assert again["reset_required"] is False
        replayed = [await visitor.next_event() for _ in range(50)]
        assert [f["kind"] for f in replayed] == ["message.created"] * 50
        assert [f["data"]["body"] for f in replayed] == [f"m{i}" for i in range(50)]
        assert [f["event_id"] for f in replayed] == [a["event_id"] for a in acks]
        live = await agent.request("reply", conversation_id=conv, client_id=new_client_id(), body="live")
        nxt = await visitor.next_event()
        assert nxt["event_id"] == live["event_id"]
        await visitor.fence()
        assert [f for f in visitor.drain() if "event_id" in f] == []
        await visitor.close()
        await agent.close()

    asyncio.run(scenario())


def test_resume_while_writes_continue_has_no_gap_and_no_duplicate(relaxed_server: RunningServer) -> None:
    """Fault: a visitor and an agent reconnect with since 15 times while a writer keeps
    posting; each gets every event after its cursor exactly once, in order (an event
    committed but not yet published when the replay reads it is not sent twice)."""
    server = relaxed_server

    async def scenario() -> None:
        writer_agent, _ = await WsClient.agent(server, subscribe=False)
        visitor, hello = await WsClient.visitor(server)
        conv = (await visitor.request("message.send", client_id=new_client_id(), body="start"))["conversation_id"]
        token, epoch = hello["token"], hello["epoch"]
        stop = asyncio.Event()

        async def write() -> None:
            i = 0
            while not stop.is_set():
                await writer_agent.request("reply", conversation_id=conv, client_id=new_client_id(), body=f"w{i}")
                i += 1

        watcher, login = await WsClient.agent(server, subscribe=False)
        agent_since = int(login["last_event_id"])
        await watcher.request("subscribe", since=agent_since, epoch=epoch)
        await visitor.fence()
        visitor_since = _cursor(visitor, hello)
        visitor.drain()
        agent_got: list[int] = []
        visitor_got: list[int] = []
        task = asyncio.create_task(write())
        for _ in range(15):
            await asyncio.sleep(random.uniform(0.0, 0.15))
            agent_got += [f["event_id"] for f in watcher.drain() if "event_id" in f]
            visitor_got += [f["event_id"] for f in visitor.drain() if "event_id" in f]
            await watcher.close()
            await visitor.close()
            await asyncio.sleep(random.uniform(0.0, 0.1))
            cursor_a = max([agent_since, *agent_got])
            cursor_v = max([visitor_since, *visitor_got])
            watcher = await WsClient.connect(server.agent_url)
            await watcher.request("auth", token=login["token"])
            assert (await watcher.request("subscribe", since=cursor_a, epoch=epoch))["reset_required"] is False
            visitor, r = await WsClient.visitor(server, token=token, since=cursor_v, epoch=epoch)
            assert r["reset_required"] is False
        stop.set()
        await task
        await watcher.fence()
        await visitor.fence()
        agent_got += [f["event_id"] for f in watcher.drain() if "event_id" in f]
        visitor_got += [f["event_id"] for f in visitor.drain() if "event_id" in f]
        all_ids = [
            r["event_id"] for r in db_rows(server, "SELECT event_id FROM events WHERE event_id > ?", (agent_since,))
        ]
        mine = [
            r["event_id"]
            for r in db_rows(
                server,
                "SELECT event_id FROM events WHERE event_id > ? AND visitor_payload IS NOT NULL AND visitor_id = ?",
                (visitor_since, hello["visitor"]["id"]),
            )
        ]
        assert len(all_ids) > 20
        assert agent_got == all_ids  # in order, no gap, no duplicate
        assert visitor_got == mine
        for c in (writer_agent, watcher, visitor):
            await c.close()

    asyncio.run(scenario())


@pytest.mark.slow
def test_resume_after_a_long_absence_replays_thousands_of_events(relaxed_server: RunningServer) -> None:
    """Fault: an agent misses 2,500 events (more than one replay page), 600 of them
    with 9,000-character bodies (more than the per-client queue's byte bound);
    resuming streams them all with backpressure instead of cutting the socket off
    as a slow reader."""
    server = relaxed_server

    async def scenario() -> None:
        agent, login = await WsClient.agent(server, subscribe=False)
        await agent.close()
        visitor, _ = await WsClient.visitor(server)
        conv = (await visitor.request("message.send", client_id=new_client_id(), body="x"))["conversation_id"]
        for i in range(25):
            body = "m" * (9000 if i < 6 else 1)
            await asyncio.gather(
                *(
                    visitor.request("message.send", client_id=new_client_id(), body=body, conversation_id=conv)
                    for _ in range(100)
                )
            )
        expected = [
            r["event_id"]
            for r in db_rows(server, "SELECT event_id FROM events WHERE event_id > ?", (login["last_event_id"],))
        ]
        assert len(expected) > 2500
        resumed = await WsClient.connect(server.agent_url)
        await resumed.request("auth", token=login["token"])
        sub = await resumed.request("subscribe", since=login["last_event_id"], epoch=login["epoch"])
        assert sub["reset_required"] is False
        got = [(await resumed.next_event(timeout=4 * TIMEOUT))["event_id"] for _ in expected]
        assert got == expected
        await resumed.close()
        await visitor.close()

    asyncio.run(scenario())


# -- 6. resume not possible ---------------------------------------------------------------------


def test_unusable_cursors_get_reset_required_and_nothing_replayed(server: RunningServer) -> None:
    """Attack: resume with a cursor from another epoch, from the future, and with a
    missing epoch; each gets reset_required and no replayed event."""

    async def scenario() -> None:
        visitor, hello = await WsClient.visitor(server)
        await visitor.request("message.send", client_id=new_client_id(), body="one")
        await visitor.request("message.send", client_id=new_client_id(), body="two")
        epoch, last = hello["epoch"], hello["last_event_id"]
        cases = [
            {"since": 0, "epoch": "0" * 32},  # another database
            {"since": last + 10_000, "epoch": epoch},  # the future
            {"since": 0},  # a cursor without its epoch
        ]
        for case in cases:
            v, reply = await WsClient.visitor(server, token=hello["token"], **case)
            a = await WsClient.connect(server.agent_url)
            await a.request("login", email=server.admin_email, password=server.admin_password)
            sub = await a.request("subscribe", **case)
            for r in (reply, sub):
                assert r["reset_required"] is True, case
                assert r["epoch"] == epoch and r["last_event_id"] >= last
            await v.fence()
            await a.fence()
            durable = [f for f in [*v.drain(), *a.drain()] if "event_id" in f]
            assert durable == [], case
            await v.close()
            await a.close()
        ok, reply = await WsClient.visitor(server, token=hello["token"], since=last, epoch=epoch)
        assert reply["reset_required"] is False
        await ok.close()
        await visitor.close()

    asyncio.run(scenario())


def test_cursor_older_than_kept_events_gets_reset_required(server: RunningServer) -> None:
    """Fault: events were pruned (`frontdesk prune`) past a client's cursor; resuming
    gets reset_required, never the partial tail; a cursor at the floor still resumes."""

    async def scenario() -> None:
        agent, login = await WsClient.agent(server)
        visitor, hello = await WsClient.visitor(server)
        old = hello["last_event_id"]
        for i in range(3):
            await visitor.request("message.send", client_id=new_client_id(), body=f"old {i}")
        server.cli("prune", "--keep-days", "0")
        assert db_rows(server, "SELECT COUNT(*) AS n FROM events")[0]["n"] == 0
        floor_meta = int(db_rows(server, "SELECT value FROM meta WHERE key = 'events_floor'")[0]["value"])
        assert floor_meta >= old + 3
        new = await visitor.request("message.send", client_id=new_client_id(), body="after prune")
        assert new["event_id"] > floor_meta
        v2, stale = await WsClient.visitor(server, token=hello["token"], since=old, epoch=hello["epoch"])
        a2 = await WsClient.connect(server.agent_url)
        await a2.request("auth", token=login["token"])
        sub = await a2.request("subscribe", since=old, epoch=hello["epoch"])
        assert stale["reset_required"] is True and sub["reset_required"] is True
        await v2.fence()
        await a2.fence()
        assert [f for f in [*v2.drain(), *a2.drain()] if "event_id" in f] == []
        v3, fine = await WsClient.visitor(server, token=hello["token"], since=floor_meta, epoch=hello["epoch"])
        assert fine["reset_required"] is False
        tail = await v3.next_event("message.created")
        assert tail["event_id"] == new["event_id"]
        for c in (agent, visitor, v2, a2, v3):
            await c.close()

    asyncio.run(scenario())


# -- 8. concurrent writers ---------------------------------------------------------------------


def test_concurrent_writers_get_gap_free_seq_and_one_order(relaxed_server: RunningServer) -> None:
    """Fault: a visitor and two agents write to one conversation at once, pipelined;
    seq is 1..N without gaps and every client sees the same order."""
    server = relaxed_server

    async def scenario() -> None:
        visitor, _ = await WsClient.visitor(server)
        conv = (await visitor.request("message.send", client_id=new_client_id(), body="v-start"))["conversation_id"]
        server.add_agent("b@demo.test", "Bea")
        a1, _ = await WsClient.agent(server)
        password = server.cli("agent", "passwd", "--email", "b@demo.test", "--password", "bea-password-1")
        assert password.returncode == 0
        a2, _ = await WsClient.agent(server, "b@demo.test", "bea-password-1")
        per_writer = 40

        async def burst(client: WsClient, kind: str, tag: str) -> list[dict[str, object]]:
            fields = {"conversation_id": conv}
            return list(
                await asyncio.gather(
                    *(
                        client.request(kind, client_id=new_client_id(), body=f"{tag}{i}", **fields)
                        for i in range(per_writer)
                    )
                )
            )

        acks = await asyncio.gather(
            burst(visitor, "message.send", "v"), burst(a1, "reply", "a"), burst(a2, "reply", "b")
        )
        total = 1 + 3 * per_writer
        seqs = sorted(int(a["seq"]) for group in acks for a in group)  # type: ignore[call-overload]
        assert seqs == list(range(2, total + 1))
        by_seq = {a["seq"]: a["event_id"] for group in acks for a in group}
        event_ids = [by_seq[s] for s in range(2, total + 1)]
        assert event_ids == sorted(event_ids)  # seq order is commit order
        for client in (visitor, a1, a2):
            await client.fence()
        orders = []
        for client in (visitor, a1, a2):
            frames = [f for f in client.drain("message.created") if f["conversation_id"] == conv]
            orders.append([(f["data"]["seq"], f["data"]["body"]) for f in frames if f["data"]["seq"] > 1])
        assert orders[0] == orders[1] == orders[2]
        assert [s for s, _ in orders[0]] == list(range(2, total + 1))
        history = await a1.request("history", conversation_id=conv, limit=200)
        assert [(m["seq"], m["body"]) for m in history["messages"]][1:] == orders[0]
        for c in (visitor, a1, a2):
            await c.close()

    asyncio.run(scenario())


# -- 9. duplicate start --------------------------------------------------------------------------


def test_double_start_from_two_tabs_makes_one_open_conversation(server: RunningServer) -> None:
    """Attack: several tabs of one visitor start a conversation (and send a first
    message without conversation_id) at the same moment; one open conversation results."""

    async def scenario() -> None:
        first, hello = await WsClient.visitor(server)
        tabs = [first] + [(await WsClient.visitor(server, token=hello["token"]))[0] for _ in range(4)]
        starts = await asyncio.gather(*(t.request("conversation.start") for t in tabs))
        sends = await asyncio.gather(
            *(t.request("message.send", client_id=new_client_id(), body=f"tab {i}") for i, t in enumerate(tabs))
        )
        ids = {s["conversation"]["id"] for s in starts} | {s["conversation_id"] for s in sends}
        assert len(ids) == 1
        rows = db_rows(
            server,
            "SELECT COUNT(*) AS n FROM conversations WHERE visitor_id = ? AND status <> 'resolved'",
            (hello["visitor"]["id"],),
        )
        assert rows[0]["n"] == 1
        for t in tabs:
            await t.close()

    asyncio.run(scenario())


# -- 10. slow consumer ---------------------------------------------------------------------------


@pytest.mark.slow
def test_slow_consumer_is_cut_off_with_bounded_memory_then_resumes(relaxed_server: RunningServer) -> None:
    """Attack: an agent socket that never reads while the tenant is busy; the server
    bounds its queue and closes it with 1013, its memory stays flat, and the client
    later resumes from its cursor with nothing lost."""
    server = relaxed_server
    assert server.process is not None
    pid = server.process.pid

    async def scenario() -> None:
        agent, login = await WsClient.agent(server, subscribe=False)
        visitor, _ = await WsClient.visitor(server)
        conv = (await visitor.request("message.send", client_id=new_client_id(), body="x"))["conversation_id"]
        # warm up allocator and caches before measuring
        big = "y" * 9000
        for _ in range(20):
            await visitor.request("message.send", client_id=new_client_id(), body=big, conversation_id=conv)
        await asyncio.sleep(0.5)
        before = rss_kib(pid)
        slow = await connect(server.agent_url, compression=None, max_queue=1)  # never read below
        assert slow.transport is not None
        slow.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await slow.send(json.dumps({"type": "auth", "ref": "a", "token": login["token"]}))
        cursor = int(login["last_event_id"])
        await slow.send(json.dumps({"type": "subscribe", "ref": "s", "since": cursor, "epoch": login["epoch"]}))
        slow.transport.pause_reading()  # the application stops reading; TCP fills up
        health = await _health(server)
        conns = health["connections"]
        sent = 0
        closed = False
        while sent < 3000 and not closed:
            await asyncio.gather(
                *(
                    visitor.request("message.send", client_id=new_client_id(), body=big, conversation_id=conv)
                    for _ in range(20)
                )
            )
            sent += 20
            if sent % 200 == 0:
                closed = (await _health(server))["connections"] < conns
        await asyncio.sleep(1)
        assert (await _health(server))["connections"] < conns, "the slow socket was never cut off"
        after = rss_kib(pid)
        assert after - before < 48 * 1024, (before, after)
        slow.transport.resume_reading()
        got: list[int] = []
        with contextlib.suppress(Exception):
            async with asyncio.timeout(TIMEOUT):
                async for raw in slow:
                    frame = json.loads(raw)
                    if "event_id" in frame:
                        got.append(frame["event_id"])
        rcvd = slow.protocol.close_rcvd
        code = rcvd.code if rcvd else None
        slow.transport.abort()  # whatever state the reset left it in, release the socket
        await slow.wait_closed()
        assert code in (1013, None)  # a close frame, or the TCP abort after close_timeout
        assert got == sorted(got)
        resumed = await WsClient.connect(server.agent_url)
        await resumed.request("auth", token=login["token"])
        sub = await resumed.request("subscribe", since=max([cursor, *got]), epoch=login["epoch"])
        assert sub["reset_required"] is False
        expected = [r["event_id"] for r in db_rows(server, "SELECT event_id FROM events WHERE event_id > ?", (cursor,))]
        while len(got) < len(expected):
            got.append((await resumed.next_event())["event_id"])
        assert got == expected
        for c in (agent, visitor, resumed):
            await c.close()

    asyncio.run(scenario())


async def _health(server: RunningServer) -> dict[str, object]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = await reader.read()
    writer.close()
    return dict(json.loads(data.split(b"\r\n\r\n", 1)[1]))
