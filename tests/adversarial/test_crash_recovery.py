"""Crashes and restarts: kill -9 under load, durable settings, and a restart
with hundreds of clients connected (issue 5, cases 3, 4 and 7)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server.exceptions import DurabilityError
from frontdesk.server.store.sqlite import SQLiteStore

from tests.adversarial._util import db_path, raise_nofile, spoofed
from tests.support import (
    RELAXED_LIMITS,
    TIMEOUT,
    RunningServer,
    ServerError,
    WsClient,
    new_client_id,
    run_cli,
    start_server,
)

# -- 3. kill -9 under load ----------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_under_load_loses_no_acked_message(tmp_path: Path) -> None:
    """Fault: 50 visitors send non-stop while the server is SIGKILLed at random
    moments 10 times and restarted; they resend what was not acked. Every acked
    message is stored exactly once with its acked seq and event_id, each
    conversation's seq has no gap, and integrity_check is ok."""
    raise_nofile()
    server = start_server(tmp_path, RELAXED_LIMITS)
    senders, kills = 50, 10
    acked: dict[str, dict[str, Any]] = {}
    errors: list[str] = []

    async def sender(token: str, stop: asyncio.Event) -> None:
        client: WsClient | None = None
        delay = 0.05
        while not stop.is_set():
            cid, body = new_client_id(), f"m-{random.random()}"
            while True:  # until this message is acked
                try:
                    if client is None:
                        client = await WsClient.connect(server.visitor_url, origin=server.origin)
                        await client.request("hello", token=token, timeout=3)
                        delay = 0.05
                    acked[cid] = await client.request("message.send", client_id=cid, body=body, timeout=3)
                    break
                except ServerError as exc:
                    errors.append(str(exc))
                    break
                except Exception:  # refused, reset or timed out while the server is down
                    if client is not None:
                        with contextlib.suppress(Exception):
                            await client.close()
                        client = None
                    await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                    delay = min(delay * 2, 0.5)
        if client is not None:
            await client.close()

    async def scenario() -> None:
        tokens = []
        for _ in range(senders):
            c, hello = await WsClient.visitor(server)
            tokens.append(hello["token"])
            await c.close()
        stop = asyncio.Event()
        tasks = [asyncio.create_task(sender(t, stop)) for t in tokens]
        try:
            for _ in range(kills):
                before = len(acked)
                await asyncio.sleep(random.uniform(0.3, 1.2))
                server.kill()
                await asyncio.to_thread(server.start)
                assert len(acked) >= before
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)

    try:
        asyncio.run(scenario())
    finally:
        server.kill()  # the last exit is a crash too
    assert errors == []
    assert len(acked) >= senders  # (how many depends on the machine's speed; correctness is per message)
    conn = sqlite3.connect(db_path(server))
    conn.row_factory = sqlite3.Row
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT client_id, conversation_id, seq, event_id, body FROM messages").fetchall()
        by_cid: dict[str, list[sqlite3.Row]] = {}
        for r in rows:
            by_cid.setdefault(r["client_id"], []).append(r)
        for cid, ack in acked.items():
            stored = by_cid.get(cid, [])
            assert len(stored) == 1, (cid, stored)
            (row,) = stored
            assert (row["conversation_id"], row["seq"], row["event_id"]) == (
                ack["conversation_id"],
                ack["seq"],
                ack["event_id"],
            )
            assert row["body"] == ack["message"]["body"]
        assert all(len(v) == 1 for v in by_cid.values())  # nothing stored twice, acked or not
        for (conv,) in conn.execute("SELECT id FROM conversations"):
            seqs = [
                s for (s,) in conn.execute("SELECT seq FROM messages WHERE conversation_id = ? ORDER BY seq", (conv,))
            ]
            assert seqs == list(range(1, len(seqs) + 1))
        events = [e for (e,) in conn.execute("SELECT event_id FROM messages ORDER BY event_id")]
        assert len(events) == len(set(events))
    finally:
        conn.close()


# -- 4. durable settings ------------------------------------------------------------------------


def test_server_refuses_to_start_without_wal(tmp_path: Path) -> None:
    """Fault: a database where WAL cannot be enabled (in-memory); `frontdesk serve`
    exits with an error naming journal_mode instead of running without durability."""
    proc = run_cli("serve", "--db", "sqlite:///:memory:", "--port", "0", check=False, timeout=30)
    assert proc.returncode == 1
    assert "journal_mode=memory" in proc.stderr and "requires journal_mode=wal" in proc.stderr
    assert "listening" not in proc.stdout


def test_store_reads_back_settings_and_refuses_synchronous_normal(tmp_path: Path) -> None:
    """Fault: the connection ends up with synchronous=NORMAL (a PRAGMA silently
    ignored or overridden); opening the store reads it back and refuses."""

    class Weakened(SQLiteStore):
        def _connect(self, *, readonly: bool = False) -> sqlite3.Connection:
            conn = super()._connect(readonly=readonly)
            if not readonly:
                conn.execute("PRAGMA synchronous = NORMAL")
            return conn

    async def scenario() -> None:
        store = Weakened(tmp_path / "weak.db")
        with pytest.raises(DurabilityError, match="synchronous=NORMAL"):
            await store.open()
        good = SQLiteStore(tmp_path / "good.db")
        await good.open()
        try:
            assert await good.durability() == {"journal_mode": "wal", "synchronous": "FULL"}
        finally:
            await good.close()

    asyncio.run(scenario())


def test_running_server_database_is_in_wal_mode(server: RunningServer) -> None:
    """The file a running server writes is in WAL mode, and `frontdesk verify`
    reports the durable settings it read back."""
    conn = sqlite3.connect(db_path(server))
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    out = server.cli("verify").stdout
    assert "✓ durable settings (journal_mode=wal, synchronous=FULL)" in out


# -- 7. restart with clients connected ------------------------------------------------------------


class _Peer:
    """A reconnecting client that remembers its resume cursor."""

    def __init__(self, server: RunningServer, kind: str, ip: str) -> None:
        self.server, self.kind, self.ip = server, kind, ip
        self.client: WsClient | None = None
        self.token: str | None = None
        self.epoch: str | None = None
        self.cursor = 0
        self.event_ids: list[int] = []
        self.close_codes: list[int | None] = []
        self.refusals: list[str] = []

    def absorb(self) -> None:
        assert self.client is not None
        for f in self.client.drain():
            if "event_id" in f:
                self.event_ids.append(f["event_id"])
                self.cursor = max(self.cursor, f["event_id"])

    async def open(self, *, email: str = "", password: str = "") -> None:
        resume: dict[str, Any] = {"since": self.cursor, "epoch": self.epoch} if self.epoch else {}
        if self.kind == "visitor":
            self.client = await WsClient.connect(self.server.visitor_url, origin=self.server.origin, **spoofed(self.ip))
            hello = {"token": self.token} if self.token else {}
            reply = await self.client.request("hello", **hello, **resume)
            self.token = reply["token"]
        else:
            self.client = await WsClient.connect(self.server.agent_url, **spoofed(self.ip))
            if self.token:
                reply = await self.client.request("auth", token=self.token)
            else:
                reply = await self.client.request("login", email=email, password=password)
                self.token = reply["token"]
            reply = {**reply, **await self.client.request("subscribe", **resume)}
        assert reply.get("reset_required") is False, reply
        if self.epoch is None:
            self.epoch, self.cursor = reply["epoch"], reply["last_event_id"]

    async def reconnect(self) -> None:
        """Jittered exponential backoff until the server takes us back."""
        delay = 0.2
        await asyncio.sleep(random.uniform(0, 1.5))
        while True:
            try:
                await self.open()
                return
            except ServerError as exc:
                self.refusals.append(str(exc))
                raise
            except Exception:  # refused, reset or timed out while the server is down
                if self.client is not None:
                    with contextlib.suppress(Exception):
                        await self.client.close()
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 2.0)


async def _send_all(visitors: list[_Peer], body: str) -> list[dict[str, Any]]:
    """One message from every visitor, 50 at a time (a saturated CI machine is slow)."""
    acks: list[dict[str, Any]] = []
    for i in range(0, len(visitors), 50):
        acks += await asyncio.gather(
            *(
                v.client.request("message.send", client_id=new_client_id(), body=body, timeout=4 * TIMEOUT)
                for v in visitors[i : i + 50]
                if v.client
            )
        )
    return acks


@pytest.mark.slow
def test_restart_with_500_visitors_and_5_agents_connected(proxy_server: RunningServer) -> None:
    """Fault: the server restarts under 500 visitors and 5 agents (default limits,
    each visitor from its own address); all reconnect with jittered backoff and
    resume: nobody is refused, every agent sees every message exactly once."""
    raise_nofile()
    server = proxy_server
    passwords = {server.admin_email: server.admin_password}
    for i in range(4):
        passwords[f"agent{i}@demo.test"] = server.add_agent(f"agent{i}@demo.test", f"Agent {i}")

    async def scenario() -> None:
        agents = [_Peer(server, "agent", f"10.1.0.{i + 1}") for i in range(5)]
        for peer, (email, password) in zip(agents, passwords.items(), strict=True):
            await peer.open(email=email, password=password)
        visitors = [_Peer(server, "visitor", f"10.2.{i // 200}.{i % 200 + 1}") for i in range(500)]
        for batch in range(0, 500, 50):
            await asyncio.gather(*(v.open() for v in visitors[batch : batch + 50]))
        before = await _send_all(visitors, "before")
        await asyncio.sleep(1)
        for peer in [*agents, *visitors]:
            peer.absorb()
        await asyncio.to_thread(server.stop)  # SIGTERM: a clean shutdown
        for peer in [*agents, *visitors]:
            assert peer.client is not None
            code, _ = await peer.client.wait_closed(TIMEOUT)
            peer.close_codes.append(code)
            await peer.client.close()
        await asyncio.to_thread(server.start)
        await asyncio.gather(*(p.reconnect() for p in [*agents, *visitors]))
        after = await _send_all(visitors, "after")
        acked = {a["event_id"] for a in [*before, *after]}
        await asyncio.sleep(2)
        for peer in agents:
            deadline = asyncio.get_running_loop().time() + 4 * TIMEOUT
            while not acked <= set(peer.event_ids) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.2)
                peer.absorb()
            assert acked <= set(peer.event_ids)
            assert len(peer.event_ids) == len(set(peer.event_ids))  # no duplicate across the restart
            assert peer.event_ids == sorted(peer.event_ids)
        for peer in visitors:
            peer.absorb()
        assert all(p.refusals == [] for p in [*agents, *visitors])
        assert {c for p in [*agents, *visitors] for c in p.close_codes} == {1001}
        for peer in [*agents, *visitors]:
            if peer.client is not None:
                await peer.client.close()

    asyncio.run(scenario())
