"""The core against a real server subprocess: login, sync, catch-up, reset, outbox, conflicts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import (
    Backoff,
    Cache,
    ConnectionState,
    ConsoleCore,
    LoginError,
    MemoryTokenStore,
    OfflineError,
    ServerError,
    cache_path,
)

from tests.console import wireobj as W
from tests.support import TIMEOUT, RunningServer, WsClient, new_client_id, unused_port

from .conftest import FakeKeyring, NetworkSwitch, Recorder, arun, fast_backoff, make_core, offline, online, wait_until


async def visitor_says(server: RunningServer, *bodies: str) -> tuple[WsClient, int]:
    """A visitor who sends ``bodies``; (their socket, the conversation id)."""
    client, _ = await WsClient.visitor(server)
    cid = 0
    for body in bodies:
        reply = await client.request("message.send", client_id=new_client_id(), body=body)
        cid = reply["conversation_id"]
    return client, cid


async def logged_in(server: RunningServer, data_dir: Path, **kw: object) -> tuple[ConsoleCore, Recorder]:
    core, rec = make_core(server, data_dir, **kw)  # type: ignore[arg-type]
    await core.login(server.admin_email, server.admin_password, remember=True)
    return core, rec


def test_login_start_and_initial_snapshot(server: RunningServer, data_dir: Path) -> None:
    """Login then start: CONNECTING -> ONLINE, the inbox, agents, config and cursor are cached."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "Hello, I need a refund")
        core, rec = await logged_in(server, data_dir)
        assert core.me is not None and core.me.is_admin
        await core.start()
        await online(core)
        assert rec.states[:2] == [ConnectionState.CONNECTING, ConnectionState.ONLINE]
        [row] = core.cache.conversations()
        assert row.id == cid and row.preview == "Hello, I need a refund" and row.unread == 1
        assert [a.email for a in core.cache.agents()] == [server.admin_email]
        assert core.cache.config() is not None and "color" in core.cache.config()  # type: ignore[operator]
        epoch, last = core.cache.cursor()
        assert epoch and last is not None and last > 0
        assert core.last_synced_at is not None and rec.synced
        await core.stop()
        await visitor.close()

    arun(main())


def test_login_errors(server: RunningServer, data_dir: Path) -> None:
    """Wrong password, an unreachable server and a disabled agent give distinct LoginError kinds."""

    async def main() -> None:
        core, _ = make_core(server, data_dir)
        with pytest.raises(LoginError) as wrong:
            await core.login(server.admin_email, "not-the-password", remember=False)
        assert wrong.value.kind == "wrong_credentials"
        nowhere = ConsoleCore(f"http://127.0.0.1:{unused_port()}", data_dir, MemoryTokenStore())
        with pytest.raises(LoginError) as unreachable:
            await nowhere.login(server.admin_email, server.admin_password, remember=False)
        assert unreachable.value.kind == "unreachable"
        password = server.add_agent("bob@example.com", "Bob")
        admin, _ = await WsClient.agent(server)
        bob = next(a for a in (await admin.request("agents"))["agents"] if a["email"] == "bob@example.com")
        await admin.request("agent.update", agent_id=bob["id"], active=False)
        with pytest.raises(LoginError) as disabled:
            await core.login("bob@example.com", password, remember=False)
        assert disabled.value.kind == "disabled"
        await admin.close()

    arun(main())


def test_live_events_update_cache_and_notify(server: RunningServer, data_dir: Path) -> None:
    """Live visitor messages land in the cache in order and raise notifications, except for the focused one."""

    async def main() -> None:
        core, rec = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        visitor, cid = await visitor_says(server, "first")
        await wait_until(lambda: bool(rec.notifications), what="notification")
        assert [(n.kind, n.conversation_id, n.body) for n in rec.notifications] == [("new_conversation", cid, "first")]
        core.focused_conversation = cid
        before = len(rec.notifications)
        await visitor.request("message.send", client_id=new_client_id(), body="second")
        await wait_until(lambda: core.cache.conversation(cid).last_seq == 2, what="second")  # type: ignore[union-attr]
        core.focused_conversation = None
        await visitor.request("message.send", client_id=new_client_id(), body="third")
        await wait_until(lambda: len(rec.notifications) > before, what="unfocused notification")
        assert rec.notifications[-1].kind == "new_message" and rec.notifications[-1].body == "third"
        core.focused_conversation = cid
        before = len(rec.notifications)
        await visitor.request("typing", conversation_id=cid, is_typing=True)
        await wait_until(lambda: bool(rec.typing), what="typing")
        assert rec.typing[-1] == (cid, True, None)
        assert [i.body for i in core.cache.thread(cid)] == ["first", "second", "third"]
        assert len(rec.notifications) == before
        assert cid in rec.threads
        await core.stop()
        await visitor.close()

    arun(main())


def test_reply_is_delivered_and_acked(server: RunningServer, data_dir: Path) -> None:
    """An online reply goes pending -> sent, reaches the visitor once, and the outbox empties."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "hi")
        core, rec = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        await core.reply(cid, "Hello from Ada")
        await wait_until(lambda: core.outbox_count == 0, what="ack")
        event = await visitor.next_event("message.created", body="Hello from Ada")
        assert event["data"]["author_kind"] == "agent"
        thread = core.cache.thread(cid)
        assert [(i.body, i.delivery) for i in thread if i.kind == "agent"] == [("Hello from Ada", "sent")]
        assert rec.outbox[-1] == 0
        row = core.cache.conversation(cid)
        assert row is not None and row.assignee_id == core.me.id  # type: ignore[union-attr]
        await core.stop()
        await visitor.close()

    arun(main())


def test_catch_up_after_being_offline(server: RunningServer, data_dir: Path) -> None:
    """A console that was closed replays what happened meanwhile from its cursor, without a snapshot."""

    async def main() -> None:
        store = FakeKeyring()
        core, _ = await logged_in(server, data_dir, store=store)
        visitor, cid = await visitor_says(server, "before")
        await core.start()
        await online(core)
        await core.stop()
        await visitor.request("message.send", client_id=new_client_id(), body="while you were away")
        visitor2, cid2 = await visitor_says(server, "a new visitor")

        again, rec = make_core(server, data_dir, store)
        assert await again.resume()
        # The cached inbox is there before any network.
        assert [c.id for c in again.cache.conversations()] == [cid]
        await again.start()
        await online(again)
        await wait_until(lambda: again.cache.conversation(cid2) is not None, what="new conversation")
        bodies = [i.body for i in again.cache.thread(cid)]
        assert bodies[-1] == "while you were away"
        assert [i.body for i in again.cache.thread(cid2)] == ["a new visitor"]
        assert [] not in rec.conversations[1:]  # no reload-all: it was a replay, not a snapshot
        await again.stop()
        for v in (visitor, visitor2):
            await v.close()

    arun(main())


@pytest.mark.parametrize("which", ["another epoch", "future cursor"])
def test_reset_required_refetches_snapshot(server: RunningServer, data_dir: Path, which: str) -> None:
    """A cursor from another epoch, or from the future, gets reset_required: the cache is rebuilt from a snapshot."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "hello")
        core, rec = await logged_in(server, data_dir)
        admin, session = await WsClient.agent(server, subscribe=False)
        await admin.close()
        bad_epoch = "another-database" if which == "another epoch" else session["epoch"]
        path = cache_path(data_dir, server.http_url, server.admin_email)
        cache = Cache.open(path)
        stale = {"id": 999, "visitor_id": 998, "status": "open", "last_activity": 1, "visitor": {"id": 998}}
        await cache.apply_snapshot(W.convs([stale]), epoch=bad_epoch, last_event_id=12345)
        cache.close()
        await core.stop()
        core, rec = make_core(server, data_dir, core._tokens)
        assert await core.resume()
        assert core.cache.cursor() == (bad_epoch, 12345)
        await core.start()
        await online(core)
        assert [c.id for c in core.cache.conversations()] == [cid]
        epoch, last = core.cache.cursor()
        assert epoch == session["epoch"] and last is not None and last < 12345
        assert [] in rec.conversations  # told the UI to reload everything
        # Messages are fetched lazily for the thread on screen.
        core.focused_conversation = cid
        await wait_until(lambda: [i.body for i in core.cache.thread(cid)] == ["hello"], what="history")
        await core.stop()
        await visitor.close()

    arun(main())


def test_reconnects_after_server_restart(server: RunningServer, data_dir: Path) -> None:
    """When the server goes away the core goes OFFLINE, retries with backoff, and comes back ONLINE."""

    async def main() -> None:
        core, rec = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        await asyncio.to_thread(server.stop)
        await offline(core)
        await asyncio.to_thread(server.start)
        await online(core)
        assert rec.states.count(ConnectionState.ONLINE) == 2
        assert ConnectionState.OFFLINE in rec.states
        visitor, cid = await visitor_says(server, "after the restart")
        await wait_until(lambda: core.cache.conversation(cid) is not None, what="live after reconnect")
        await core.stop()
        await visitor.close()

    arun(main())


def test_outbox_survives_restart_and_is_delivered_once(server: RunningServer, data_dir: Path) -> None:
    """A reply queued while the server is down survives a console restart and is delivered exactly once."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "is anyone there?")
        store = FakeKeyring()
        core, _ = await logged_in(server, data_dir, store=store)
        await core.start()
        await online(core)
        await visitor.close()
        await asyncio.to_thread(server.stop)
        await offline(core)
        await core.reply(cid, "Sorry for the wait!")
        await core.resolve(cid)
        assert core.outbox_count == 2
        await core.stop()

        again, _ = make_core(server, data_dir, store)
        assert await again.resume()
        assert again.outbox_count == 2
        await again.start()
        await asyncio.to_thread(server.start)
        await online(again)
        await wait_until(lambda: again.outbox_count == 0, what="outbox drained")
        assert again.cache.outbox() == []
        admin, _ = await WsClient.agent(server)
        history = await admin.request("history", conversation_id=cid)
        bodies = [m["body"] for m in history["messages"]]
        assert bodies.count("Sorry for the wait!") == 1
        row = again.cache.conversation(cid)
        assert row is not None and row.status == "resolved" and row.pending_actions == 0
        await again.stop()
        await admin.close()

    arun(main())


def test_rejected_actions_are_marked_failed(server: RunningServer, data_dir: Path) -> None:
    """Queued offline, a reply and a resolve on a conversation someone else resolved fail with the reason."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "help")
        switch = NetworkSwitch()
        core, _ = make_core(server, data_dir)
        core._connect = switch.connect
        await core.login(server.admin_email, server.admin_password, remember=False)
        await core.start()
        await online(core)
        await switch.cut()
        await offline(core)
        await core.reply(cid, "Still need help?")
        await core.resolve(cid)
        assert core.cache.conversation(cid).status == "resolved"  # type: ignore[union-attr]
        # Meanwhile another agent resolves it.
        password = server.add_agent("bob@example.com", "Bob")
        bob, _ = await WsClient.agent(server, "bob@example.com", password)
        await bob.request("resolve", conversation_id=cid)
        switch.restore()
        core.reconnect_now()
        await online(core)
        await wait_until(lambda: core.outbox_count == 0, what="outbox processed")
        failed = core.cache.outbox("failed")
        assert [(i.action, i.error_code) for i in failed] == [("reply", "conflict"), ("resolve", "conflict")]
        assert all(i.error for i in failed)
        thread = [i for i in core.cache.thread(cid) if i.outbox_id is not None]
        assert [i.delivery for i in thread] == ["failed", "failed"] and "resolved" in (thread[0].error or "")
        row = core.cache.conversation(cid)
        assert row is not None and row.status == "resolved" and row.failed_actions == 2
        # The agent reopens and retries the reply: it goes through.
        await core.reopen(cid)
        await core.retry(failed[0].id)
        await wait_until(lambda: core.outbox_count == 0, what="retry")
        assert core.cache.outbox_item(failed[0].id) is None
        assert any(i.body == "Still need help?" and i.delivery == "sent" for i in core.cache.thread(cid))
        await core.stop()
        for c in (visitor, bob):
            await c.close()

    arun(main())


def test_disabled_agent_session_ends(server: RunningServer, data_dir: Path) -> None:
    """Disabling the agent closes its socket with 1008: the core stops, forgets the token, tells the UI."""

    async def main() -> None:
        password = server.add_agent("bob@example.com", "Bob")
        store = FakeKeyring()
        core, rec = make_core(server, data_dir, store)
        me = await core.login("bob@example.com", password, remember=True)
        await core.start()
        await online(core)
        admin, _ = await WsClient.agent(server)
        await admin.request("agent.update", agent_id=me.id, active=False)
        await wait_until(lambda: bool(rec.ended), what="session end")
        assert core.state is ConnectionState.OFFLINE
        assert not await core.resume()
        await core.stop()
        await admin.close()

    arun(main())


def test_admin_calls_online_and_offline(server: RunningServer, data_dir: Path) -> None:
    """Config and agent management go to the server; offline they raise OfflineError."""

    async def main() -> None:
        core, _ = await logged_in(server, data_dir)
        with pytest.raises(OfflineError):
            await core.get_config()
        await core.start()
        await online(core)
        config = await core.set_config({"business_name": "Acme"})
        assert config["business_name"] == "Acme" and core.cache.config()["business_name"] == "Acme"  # type: ignore[index]
        with pytest.raises(ServerError) as bad:
            await core.set_config({"color": "red"})
        assert bad.value.code == "invalid"
        agent, password = await core.add_agent("cy@example.com", "Cy")
        assert password and agent.role == "agent"
        assert {a.email for a in await core.list_agents()} == {server.admin_email, "cy@example.com"}
        renamed = await core.update_agent(agent.id, name="Cyrus")
        assert renamed.name == "Cyrus" and core.cache.agent(agent.id).name == "Cyrus"  # type: ignore[union-attr]
        await core.stop()

    arun(main())


def test_non_admin_gets_forbidden(server: RunningServer, data_dir: Path) -> None:
    """An agent without the admin role gets ServerError('forbidden') from config.set."""

    async def main() -> None:
        password = server.add_agent("bob@example.com", "Bob")
        core, _ = make_core(server, data_dir)
        await core.login("bob@example.com", password, remember=False)
        await core.start()
        await online(core)
        with pytest.raises(ServerError) as exc:
            await core.set_config({"business_name": "Nope"})
        assert exc.value.code == "forbidden"
        await core.stop()

    arun(main())


def test_logout_revokes_token(server: RunningServer, data_dir: Path) -> None:
    """Logout revokes the token on the server and forgets it locally."""

    async def main() -> None:
        store = FakeKeyring()
        core, rec = make_core(server, data_dir, store)
        await core.login(server.admin_email, server.admin_password, remember=True)
        await core.start()
        await online(core)
        token = core._token
        await core.logout()
        assert core.state is ConnectionState.OFFLINE and core.me is None
        assert rec.ended == []  # the UI asked for it: no "session ended elsewhere"
        assert store.get(server.http_url, server.admin_email) is None
        probe = await WsClient.connect(server.agent_url)
        frame = await probe.request_frame("auth", token=token)
        assert frame["type"] == "error" and frame["code"] == "unauthorized"
        await probe.close()

    arun(main())


def test_mark_seen_and_history(server: RunningServer, data_dir: Path) -> None:
    """mark_seen zeroes unread locally and on the server; load_history pages older messages."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, *[f"line {i}" for i in range(1, 6)])
        core, _ = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        assert core.cache.conversation(cid).unread == 5  # type: ignore[union-attr]
        await core.mark_seen(cid)
        assert core.cache.conversation(cid).unread == 0  # type: ignore[union-attr]
        admin, _ = await WsClient.agent(server)
        snap = await admin.request("snapshot")
        await wait_until(lambda: True)
        assert core.cache.thread(cid) == []
        has_more = await core.load_history(cid)
        assert not has_more and [i.body for i in core.cache.thread(cid)][-1] == "line 5"
        await wait_until(lambda: True)
        del snap
        await core.stop()
        for c in (visitor, admin):
            await c.close()

    arun(main())


def test_fast_backoff_helper() -> None:
    """The test backoff stays short (sanity check for the fixtures)."""
    assert fast_backoff().next_delay() <= 0.3


class _LoseAcks:
    """A socket wrapper that drops the connection right after sending a write
    request, so the server stores it but the console never sees the ack."""

    def __init__(self, ws: Any, lost: list[str]) -> None:
        self._ws = ws
        self._lost = lost

    async def send(self, message: str) -> None:
        await self._ws.send(message)
        frame = json.loads(message)
        if frame.get("type") in ("reply", "resolve") and frame["client_id"] not in self._lost:
            self._lost.append(frame["client_id"])
            await asyncio.sleep(0.2)  # let the server commit it
            await self._ws.close()

    async def recv(self) -> str | bytes:
        data: str | bytes = await self._ws.recv()
        return data

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code, reason)


def test_lost_ack_is_resent_and_stored_once(server: RunningServer, data_dir: Path) -> None:
    """When the ack is lost the item is resent with the same client_id after reconnecting, and stored once."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "hello?")
        lost: list[str] = []
        switch = NetworkSwitch()

        async def connect(url: str) -> Any:
            return _LoseAcks(await switch.connect(url), lost)

        core, _ = make_core(server, data_dir)
        core._connect = connect
        await core.login(server.admin_email, server.admin_password, remember=False)
        await core.start()
        await online(core)
        await core.reply(cid, "Exactly once, please")
        await core.resolve(cid)
        await wait_until(lambda: core.outbox_count == 0, what="outbox drained", timeout=6 * TIMEOUT)
        assert len(lost) == 2 and switch.connects >= 3  # both acks were lost once
        assert core.cache.outbox() == []
        admin, _ = await WsClient.agent(server)
        bodies = [m["body"] for m in (await admin.request("history", conversation_id=cid))["messages"]]
        assert bodies.count("Exactly once, please") == 1
        assert core.cache.conversation(cid).status == "resolved"  # type: ignore[union-attr]
        assert [i.body for i in core.cache.thread(cid)].count("Exactly once, please") == 1
        await core.stop()
        for c in (visitor, admin):
            await c.close()

    arun(main())


def test_assignment_status_and_visitor_details(server: RunningServer, data_dir: Path) -> None:
    """Assign, unassign, pend, resolve and reopen reach the server in order; visitor details are fetched."""

    async def main() -> None:
        client, _ = await WsClient.visitor(server, meta={"url": "https://shop.test/cart", "language": "en-GB"})
        await client.request("profile.update", name="Grace", email="grace@example.com")
        cid = (await client.request("message.send", client_id=new_client_id(), body="hi"))["conversation_id"]
        server.add_agent("bob@example.com", "Bob")
        core, _ = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        bob = next(a for a in await core.list_agents() if a.email == "bob@example.com")
        await core.assign(cid, bob.id)
        row = core.cache.conversation(cid)
        assert row is not None and row.assignee_name == "Bob"  # at once, before the ack
        await core.pend(cid)
        await wait_until(lambda: core.outbox_count == 0, what="acks")
        admin, _ = await WsClient.agent(server)
        [conv] = (await admin.request("snapshot"))["conversations"]
        assert conv["assignee_id"] == bob.id and conv["status"] == "pending"
        await core.unassign(cid)
        await core.resolve(cid)
        await core.reopen(cid)
        await wait_until(lambda: core.outbox_count == 0, what="acks")
        assert core.cache.outbox() == []
        [conv] = (await admin.request("snapshot"))["conversations"]
        assert conv["assignee_id"] is None and conv["status"] == "open"
        row = core.cache.conversation(cid)
        assert row is not None and row.assignee_id is None and row.status == "open" and row.visitor_name == "Grace"
        await core.fetch_visitor(row.visitor_id)
        visitor = core.cache.visitor(row.visitor_id)
        assert (
            visitor is not None
            and visitor.email == "grace@example.com"
            and visitor.page_url == "https://shop.test/cart"
        )
        assert [c.id for c in core.cache.visitor_conversations(row.visitor_id)] == [cid]
        assert core.cache.conversations(query="grace") and core.cache.conversations("mine", me=bob.id) == []
        await core.stop()
        for c in (client, admin):
            await c.close()

    arun(main())


def test_burst_of_live_events_is_applied_completely(relaxed_server: RunningServer, data_dir: Path) -> None:
    """Hundreds of messages from many visitors arrive while online: all cached, in seq order, cursor at the end."""

    async def main() -> None:
        server = relaxed_server
        core, rec = await logged_in(server, data_dir)
        await core.start()
        await online(core)

        async def chatter(i: int) -> int:
            client, cid = await visitor_says(server, *[f"visitor {i} line {n}" for n in range(1, 11)])
            await client.close()
            return cid

        cids = await asyncio.gather(*(chatter(i) for i in range(20)))
        await wait_until(
            lambda: all((c := core.cache.conversation(cid)) is not None and c.last_seq == 10 for cid in cids),
            what="all messages",
            timeout=6 * TIMEOUT,
        )
        for cid in cids:
            assert [i.seq for i in core.cache.thread(cid)] == list(range(1, 11))
        admin, session = await WsClient.agent(server, subscribe=False)
        assert core.cache.cursor()[1] == (await admin.request("subscribe"))["last_event_id"]
        assert core.cache.count_conversations() == 20
        assert len({n.conversation_id for n in rec.notifications}) == 20
        await core.stop()
        await admin.close()
        del session

    arun(main())


class _Unavailable:
    """A socket wrapper that answers the first ``n`` writes itself with the
    error ``unavailable`` (the server's storage in trouble) instead of
    sending them, as a server with a read-only disk would."""

    def __init__(self, ws: Any, n: int) -> None:
        self._ws = ws
        self.left = n
        self.seen_failed: list[int] = []  #: failed outbox items at each refusal
        self._frames: asyncio.Queue[str | BaseException] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self.cache: Cache | None = None

    async def _forward(self) -> None:
        while True:
            try:
                self._frames.put_nowait(await self._ws.recv())
            except BaseException as exc:
                self._frames.put_nowait(exc)
                return

    async def send(self, message: str) -> None:
        frame = json.loads(message)
        if frame.get("type") == "reply" and self.left > 0:
            self.left -= 1
            if self.cache is not None:
                self.seen_failed.append(len(self.cache.outbox("failed")))
            error = {"type": "error", "ref": frame["ref"], "code": "unavailable", "message": "storage is read-only"}
            self._frames.put_nowait(json.dumps(error))
            return
        await self._ws.send(message)

    async def recv(self) -> str | bytes:
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._forward())
        item = await self._frames.get()
        if isinstance(item, BaseException):
            raise item
        return item

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code, reason)
        if self._pump is not None:
            self._pump.cancel()


def test_unavailable_keeps_the_item_queued_and_retries(server: RunningServer, data_dir: Path) -> None:
    """`unavailable` is retryable: the reply stays pending (never failed), is resent after a backoff, stored once."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "is anyone there?")
        sockets: list[_Unavailable] = []

        async def connect(url: str) -> Any:
            from websockets.asyncio.client import connect as ws_connect

            # The first socket is the login's; the session's is the second.
            sock = _Unavailable(await ws_connect(url, compression=None, proxy=None), 2 if len(sockets) == 1 else 0)
            sockets.append(sock)
            return sock

        core = ConsoleCore(
            server.http_url,
            data_dir,
            FakeKeyring(),
            connect=connect,
            backoff=fast_backoff(),
            outbox_backoff=Backoff(initial=0.01, maximum=0.05),
        )
        await core.login(server.admin_email, server.admin_password, remember=False)
        await core.start()
        await online(core)
        sockets[-1].cache = core.cache
        await core.reply(cid, "Sorry for the wait")
        await wait_until(lambda: core.outbox_count == 0, what="outbox drained", timeout=6 * TIMEOUT)
        sock = sockets[-1]
        assert sock.left == 0 and sock.seen_failed == [0, 0]  # refused twice, never marked failed
        assert core.cache.outbox() == [] and len(sockets) == 2  # delivered on the same connection
        admin, _ = await WsClient.agent(server)
        bodies = [m["body"] for m in (await admin.request("history", conversation_id=cid))["messages"]]
        assert bodies.count("Sorry for the wait") == 1
        await core.stop()
        for c in (visitor, admin):
            await c.close()

    arun(main())


def test_an_agent_is_notified_when_a_colleague_assigns_them(server: RunningServer, data_dir: Path) -> None:
    """Assigned (or transferred) by someone else: an "assigned" notification; assigning oneself: none."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "Where is my order?")
        second, other = await visitor_says(server, "Hello")
        core, rec = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        me = core.me
        assert me is not None
        password = server.add_agent("bob@example.com", "Bob")
        bob, _ = await WsClient.agent(server, "bob@example.com", password)
        await bob.request("assign", conversation_id=cid, agent_id=me.id)
        await wait_until(lambda: any(n.kind == "assigned" for n in rec.notifications), what="assigned")
        [n] = [n for n in rec.notifications if n.kind == "assigned"]
        assert (n.conversation_id, n.assignee_id, n.title, n.body) == (cid, me.id, n.title, "Where is my order?")
        await core.assign(other, me.id)  # myself: no notification
        await wait_until(lambda: core.outbox_count == 0, what="assign acked")
        await bob.request("ping")
        await wait_until(lambda: core.cache.conversation(other).assignee_id == me.id, what="assign applied")  # type: ignore[union-attr]
        assert [n.conversation_id for n in rec.notifications if n.kind == "assigned"] == [cid]
        for socket in (bob, visitor, second):
            await socket.close()
        await core.stop()

    arun(main())


def test_the_visitors_seen_reaches_the_cache(server: RunningServer, data_dir: Path) -> None:
    """A visitor's widget reports seen: the console's cache records the receipt (seq and time) live."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "Hello?")
        core, _ = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        await core.reply(cid, "Hi! How can I help?")
        await wait_until(lambda: core.outbox_count == 0, what="reply acked")
        await visitor.request("seen", conversation_id=cid, seq=2)
        # The durable seen_by_visitor (seq only) comes first, then the live ``seen`` with the time.
        receipt = lambda: core.cache.conversation(cid)  # noqa: E731
        await wait_until(lambda: (receipt().visitor_seen_seq, receipt().visitor_seen_at is not None) == (2, True))  # type: ignore[union-attr]
        await visitor.close()
        await core.stop()

    arun(main())
