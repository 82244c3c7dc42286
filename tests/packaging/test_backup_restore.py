"""Back up a live server under write load, restore the copy, and check it is whole and serves."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import RELAXED_LIMITS, RunningServer, WsClient, new_client_id, run_cli, start_server

pytestmark = pytest.mark.slow

VISITORS = 4


@dataclass
class Writer:
    """One visitor sending messages as fast as they are acked."""

    token: str = ""
    epoch: str = ""
    conversation_id: int = 0
    last_event_id: int = 0
    #: (seq, body, monotonic time the ack arrived)
    acked: list[tuple[int, str, float]] = field(default_factory=list)


async def _write_until(server: RunningServer, writer: Writer, stop: asyncio.Event) -> None:
    client, hello = await WsClient.visitor(server)
    writer.token, writer.epoch = hello["token"], hello["epoch"]
    n = 0
    try:
        while not stop.is_set():
            n += 1
            body = f"message {n} from {writer.token[:8]}"
            ack = await client.request("message.send", client_id=new_client_id(), body=body, timeout=30)
            writer.conversation_id, writer.last_event_id = ack["conversation_id"], ack["event_id"]
            writer.acked.append((ack["seq"], body, time.monotonic()))
    finally:
        await client.close()


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def _seqs(db: Path) -> dict[int, list[int]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT conversation_id, seq FROM messages ORDER BY conversation_id, seq").fetchall()
    finally:
        conn.close()
    seqs: dict[int, list[int]] = {}
    for conversation_id, seq in rows:
        seqs.setdefault(conversation_id, []).append(seq)
    return seqs


def test_backup_of_a_live_server_restores_whole(tmp_path: Path) -> None:
    """A backup taken during writes holds every message acked before it began, and a restored server serves it."""
    server = start_server(tmp_path, RELAXED_LIMITS)
    backup = tmp_path / "backups" / "frontdesk-backup.db"
    backup.parent.mkdir()
    writers = [Writer() for _ in range(VISITORS)]
    timing: dict[str, float] = {}

    async def load_and_back_up() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_write_until(server, w, stop)) for w in writers]

        async def until_acked(total: int) -> None:
            while sum(len(w.acked) for w in writers) < total:
                for t in tasks:
                    if t.done():
                        t.result()  # a writer failed: raise its error
                await asyncio.sleep(0.05)

        try:
            await until_acked(40 * VISITORS)  # a history before the backup
            timing["start"] = time.monotonic()
            await asyncio.to_thread(run_cli, "backup", "--db", server.db_url, str(backup))
            timing["end"] = time.monotonic()
            await until_acked(sum(len(w.acked) for w in writers) + 20)  # and writes go on after it
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    try:
        asyncio.run(load_and_back_up())
    finally:
        server.stop()

    during = [a for w in writers for a in w.acked if timing["start"] <= a[2] <= timing["end"]]
    assert during, "no write was acked while the backup ran; the test did not exercise a live backup"

    # The copy is a consistent database: intact, every conversation's seqs without a hole, and
    # every message acked before the backup started is in it.
    assert _integrity(backup) == "ok"
    seqs = _seqs(backup)
    for conversation_id, numbers in seqs.items():
        assert numbers == list(range(1, len(numbers) + 1)), f"conversation {conversation_id} has holes: {numbers}"
    for w in writers:
        acked_before = [seq for seq, _, at in w.acked if at < timing["start"]]
        assert max(acked_before) <= len(seqs[w.conversation_id]), "an acked message is missing from the backup"
    verify = run_cli("verify", "--db", f"sqlite:///{backup}", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # Restore as docs/OPERATIONS.md says: server stopped, the live file and its -wal/-shm moved aside,
    # the backup (which `frontdesk backup` gave its own epoch) copied in its place, server started.
    live = Path(server.db_url.removeprefix("sqlite:///"))
    aside = tmp_path / "aside"
    aside.mkdir()
    for suffix in ("", "-wal", "-shm"):
        part = live.with_name(live.name + suffix)
        if part.exists():
            shutil.move(part, aside / part.name)
    shutil.copy(backup, live)
    server.start()
    try:
        verify = server.cli("verify", "--url", server.ws_url, check=False)
        assert verify.returncode == 0 and "All checks passed." in verify.stdout, verify.stdout + verify.stderr

        async def resume() -> None:
            for w in writers:
                in_backup = len(seqs[w.conversation_id])
                client, hello = await WsClient.visitor(server, token=w.token, since=w.last_event_id, epoch=w.epoch)
                assert hello["token"] == w.token, "the visitor's token did not survive the restore"
                # The restored history ends earlier than the client's cursor: it must refetch, not trust it.
                assert hello["epoch"] != w.epoch and hello["reset_required"] is True
                bodies: dict[int, str] = {}
                before: dict[str, int] = {}
                while True:
                    page = await client.request("history", conversation_id=w.conversation_id, limit=200, **before)
                    bodies.update({m["seq"]: m["body"] for m in page["messages"]})
                    if not page["has_more"] or not page["messages"]:
                        break
                    before = {"before_seq": page["messages"][0]["seq"]}
                assert sorted(bodies) == list(range(1, in_backup + 1))
                for seq, body, at in w.acked:
                    if at < timing["start"]:
                        assert bodies[seq] == body, "a message acked before the backup is not in the restored server"
                ack = await client.request("message.send", client_id=new_client_id(), body="after the restore")
                assert ack["conversation_id"] == w.conversation_id and ack["seq"] == in_backup + 1
                await client.close()
            agent, _ = await WsClient.agent(server)  # the admin's password hash came back too
            await agent.close()

        asyncio.run(resume())
    finally:
        server.stop()
