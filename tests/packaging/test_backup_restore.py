"""Back up a live server under write load, restore the copy, and check it is whole and serves."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    # Restore as docs/OPERATIONS.md says: server stopped, `frontdesk restore` puts the copy in place
    # with a new epoch and keeps the replaced database aside.
    run_cli("restore", "--db", server.db_url, str(backup))
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


# -- every documented restore makes resuming clients refetch (issue 11, item 9) -------------------


async def _write(server: RunningServer, n: int, cursor: dict[str, Any]) -> None:
    """A visitor (``cursor``'s token, else a new one) sends ``n`` messages; ``cursor`` is updated
    to its token, epoch and the last event id it saw."""
    client, hello = await WsClient.visitor(server, **({"token": cursor["token"]} if cursor else {}))
    last = hello["last_event_id"]
    for i in range(n):
        ack = await client.request("message.send", client_id=new_client_id(), body=f"message {i}")
        last = ack["event_id"]
    await client.close()
    cursor.update(token=hello["token"], epoch=hello["epoch"], since=last)


async def _resume(server: RunningServer, cursor: dict[str, Any]) -> dict[str, Any]:
    client, hello = await WsClient.visitor(server, **cursor)
    await client.close()
    return hello


def _offline_client_must_refetch(
    server: RunningServer, take_copy: Callable[[], None], restore: Callable[[], None]
) -> None:
    """The scenario of issue 11, item 9: a visitor writes, a copy is taken, it writes more, the
    copy is restored, another visitor's writes reuse the lost event ids, and then the first one,
    offline all along, resumes with its cursor: it must be told to refetch."""
    cursor: dict[str, Any] = {}
    asyncio.run(_write(server, 3, cursor))
    take_copy()
    asyncio.run(_write(server, 6, cursor))
    server.stop()
    restore()
    server.start()
    asyncio.run(_write(server, 10, {}))
    hello = asyncio.run(_resume(server, cursor))
    assert hello["token"] == cursor["token"], "the visitor of the backup was not found"
    assert hello["reset_required"] is True, f"a client resumed silently across a restore: {hello}"
    assert hello["epoch"] != cursor["epoch"]


def _sqlite_db(server: RunningServer) -> Path:
    return Path(server.db_url.removeprefix("sqlite:///"))


def _vacuum_into(db: Path, target: Path) -> None:
    """The documented second backup method: the sqlite3 shell's VACUUM INTO, beside a running server."""
    if shutil.which("sqlite3"):
        subprocess.run(["sqlite3", str(db), f"VACUUM INTO '{target}'"], check=True, capture_output=True)
    else:  # the same statement through Python's sqlite3
        conn = sqlite3.connect(db)
        conn.execute("VACUUM INTO ?", (str(target),))
        conn.close()


@pytest.mark.parametrize("method", ["frontdesk backup", "VACUUM INTO"])
def test_frontdesk_restore_makes_clients_refetch(tmp_path: Path, method: str) -> None:
    """A copy taken either documented way and put back with `frontdesk restore` gets a new epoch:
    a client offline during the restore refetches instead of resuming over reused event ids."""
    server = start_server(tmp_path, RELAXED_LIMITS)
    copy = tmp_path / "copy.db"
    try:

        def take_copy() -> None:
            if method == "frontdesk backup":
                run_cli("backup", "--db", server.db_url, str(copy))
            else:
                _vacuum_into(_sqlite_db(server), copy)

        def restore() -> None:
            out = run_cli("restore", "--db", server.db_url, str(copy))
            assert "new epoch" in out.stdout, out.stdout

        _offline_client_must_refetch(server, take_copy, restore)
        # The replaced database was kept aside, not deleted.
        assert list(tmp_path.glob("frontdesk.db.replaced-*")), sorted(p.name for p in tmp_path.iterdir())
    finally:
        server.stop()


def test_restore_refuses_while_the_server_runs(tmp_path: Path) -> None:
    """`frontdesk restore` will not replace the database under a running server."""
    server = start_server(tmp_path, RELAXED_LIMITS)
    copy = tmp_path / "copy.db"
    try:
        run_cli("backup", "--db", server.db_url, str(copy))
        refused = run_cli("restore", "--db", server.db_url, str(copy), check=False)
        assert refused.returncode == 1 and "stop the server" in refused.stderr, refused.stderr
    finally:
        server.stop()


def test_a_copy_put_back_by_hand_is_detected_at_start(tmp_path: Path) -> None:
    """A VACUUM INTO copy put back by hand (old epoch inside) is behind what the server handed
    out; the server notices at start and gives the database a new epoch."""
    server = start_server(tmp_path, RELAXED_LIMITS)
    copy = tmp_path / "copy.db"
    try:
        live = _sqlite_db(server)

        def restore() -> None:
            for suffix in ("", "-wal", "-shm"):
                live.with_name(live.name + suffix).unlink(missing_ok=True)
            shutil.copy(copy, live)

        _offline_client_must_refetch(server, lambda: _vacuum_into(live, copy), restore)
        assert "restored" in server.log_path.read_text()
    finally:
        server.stop()


@pytest.mark.postgres
def test_pg_dump_and_pg_restore_make_clients_refetch(tmp_path: Path) -> None:
    """The documented PostgreSQL backup (pg_dump -Fc) restored with pg_restore --clean: the server
    sees that the tables were recreated, and a client offline during the restore refetches."""
    from tests.server.store.conftest import create_pg_database, drop_pg_database, require_pg

    require_pg()
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("no pg_dump/pg_restore")
    url = create_pg_database()
    try:
        info = json.loads(run_cli("init", "--db", url, "--json", "--admin-password", "admin-password-1").stdout)
        server = RunningServer.from_init(url, info, log_path=tmp_path / "server.log", extra_args=RELAXED_LIMITS)
        server.start()
        dump = tmp_path / "frontdesk.dump"
        try:

            def take_copy() -> None:
                subprocess.run(["pg_dump", "-Fc", "-f", str(dump), url], check=True, capture_output=True)

            def restore() -> None:
                subprocess.run(["pg_restore", "--clean", "-d", url, str(dump)], check=True, capture_output=True)

            _offline_client_must_refetch(server, take_copy, restore)
        finally:
            server.stop()
    finally:
        drop_pg_database(url)
