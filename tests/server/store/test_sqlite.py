"""What only the SQLite store does: the low-space checkpoint (after the acks, never
waiting for readers) and restore detection with the mark beside the database."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from frontdesk.server.store import sqlite as sqlite_store
from frontdesk.server.store.base import probe_write
from frontdesk.server.store.sqlite import SQLiteStore, restore_copy

from tests.support import TIMEOUT

from .test_contract import World, say, seed

T = TypeVar("T")


def _run(store: SQLiteStore, scenario: Callable[[SQLiteStore], Awaitable[T]], *, serving: bool = True) -> T:
    """Open ``store`` (as ``frontdesk serve`` does when ``serving``), run ``scenario``, close it."""

    async def main() -> T:
        if serving:
            store.acquire_server_lock()
        try:
            await store.open()
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(main())


def _record_checkpoints(store: SQLiteStore, *, hold: threading.Event | None = None) -> list[str]:
    """Make ``store`` list the mode of every checkpoint it runs; with ``hold``, each
    checkpoint first waits (on the writer thread) until ``hold`` is set."""
    modes: list[str] = []
    original = store._checkpoint

    def checkpoint(conn: sqlite3.Connection, mode: str) -> bool:
        if hold is not None:
            hold.wait(TIMEOUT)
        modes.append(mode)
        return original(conn, mode)

    store._checkpoint = checkpoint  # type: ignore[method-assign]
    return modes


# -- little disk space: the checkpoint comes after the acks -------------------------------------


def test_a_low_space_checkpoint_runs_after_the_batch_is_answered(tmp_path: Path) -> None:
    """With little space left, a write is acked while its batch's checkpoint has not run yet."""
    store = SQLiteStore(tmp_path / "f.db")
    store.low_space_bytes = 1 << 62  # every file system is "low" now
    hold = threading.Event()
    modes = _record_checkpoints(store, hold=hold)

    async def scenario(s: SQLiteStore) -> None:
        try:
            # The writer thread is held in the checkpoint until the ack is in hand.
            await asyncio.wait_for(s.write(probe_write), TIMEOUT)
            assert modes == [], "the checkpoint ran before the write was answered"
        finally:
            hold.set()
        await asyncio.wait_for(s.write(probe_write), TIMEOUT)  # the writer went on
        assert modes and set(modes) <= {"PASSIVE", "TRUNCATE"}

    _run(store, scenario)


def test_a_low_space_checkpoint_does_not_wait_for_an_open_reader(tmp_path: Path) -> None:
    """An open read transaction cannot hold up the writes behind a low-space TRUNCATE checkpoint
    (it would wait out the 10 s busy timeout after every batch)."""
    store = SQLiteStore(tmp_path / "f.db")
    store.low_space_bytes = 1 << 62
    store.truncate_wal_bytes = 0  # every log counts as large: TRUNCATE, which waits for readers
    modes = _record_checkpoints(store)

    async def scenario(s: SQLiteStore) -> None:
        w = await seed(s)
        reader = sqlite3.connect(s.path, isolation_level=None)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT COUNT(*) FROM events").fetchone()  # holds its snapshot

            async def five() -> None:  # 50 s behind a checkpoint that waits out the busy timeout
                for i in range(5):
                    await say(s, w, w.alice, f"message {i}")

            await asyncio.wait_for(five(), TIMEOUT)
        finally:
            reader.close()
        assert modes.count("TRUNCATE") >= 5

    _run(store, scenario)


def test_free_space_that_cannot_be_read_counts_as_low(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When statvfs fails the store assumes little space and checkpoints after a write."""
    store = SQLiteStore(tmp_path / "f.db")
    modes = _record_checkpoints(store)

    def broken_statvfs(path: Any) -> os.statvfs_result:
        raise OSError(5, "Input/output error")

    async def scenario(s: SQLiteStore) -> None:
        await s.write(probe_write)
        assert modes == []  # a temp directory has room
        monkeypatch.setattr(sqlite_store.os, "statvfs", broken_statvfs)
        try:
            assert s.free_bytes() < s.low_space_bytes
            await s.write(probe_write)
            await s.write(probe_write)  # the writer is done with the first batch, checkpoint included
        finally:
            monkeypatch.undo()
        assert modes

    _run(store, scenario)


# -- restores: the mark beside the database --------------------------------------------------


async def _write_events(s: SQLiteStore, n: int = 3) -> str:
    w = await seed(s)
    for i in range(n):
        await say(s, w, w.alice, f"message {i}")
    return s.epoch


async def _epoch(s: SQLiteStore) -> str:
    return s.epoch


def _write_more(s: SQLiteStore, n: int) -> None:
    async def more(st: SQLiteStore) -> None:
        row = await st.read(lambda tx: tx.one("SELECT id, tenant_id FROM visitors ORDER BY id LIMIT 1"))
        assert row is not None
        w = World(row["tenant_id"], 0, 0, 0, 0, 0, row["id"], 0, 0)
        for i in range(n):
            await say(st, w, w.alice, f"more {i}")

    _run(s, more)


def test_a_copy_of_the_same_events_in_another_file_gets_a_new_epoch(tmp_path: Path, caplog: Any) -> None:
    """A database file replaced by a copy (another inode), even one as new as the mark, gets a new epoch."""
    db = tmp_path / "f.db"
    first = _run(SQLiteStore(db), _write_events)
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)  # closed: the log is checkpointed into the file
    os.replace(copy, db)
    with caplog.at_level(logging.WARNING, logger="frontdesk.server.store"):
        second = _run(SQLiteStore(db), _epoch)
    assert second != first
    assert "not the file this server served" in caplog.text
    assert _run(SQLiteStore(db), _epoch) == second  # the same file again: no new epoch


def test_a_database_with_events_but_no_mark_gets_a_new_epoch_once(tmp_path: Path, caplog: Any) -> None:
    """Without the mark (lost, not restored, or an upgrade) a database with events starts a new
    epoch once, and says why; the next start keeps it."""
    db = tmp_path / "f.db"
    first = _run(SQLiteStore(db), _write_events)
    SQLiteStore(db).mark_path.unlink()
    with caplog.at_level(logging.WARNING, logger="frontdesk.server.store"):
        second = _run(SQLiteStore(db), _epoch)
    assert second != first and "no .f.db.served beside it" in caplog.text
    assert _run(SQLiteStore(db), _epoch) == second


def test_a_fresh_database_without_a_mark_keeps_its_epoch(tmp_path: Path) -> None:
    """A database without events has nothing to refetch: its first serve keeps its epoch."""
    db = tmp_path / "f.db"
    created = _run(SQLiteStore(db), _epoch, serving=False)
    assert _run(SQLiteStore(db), _epoch) == created


def test_a_command_beside_the_server_never_changes_the_epoch(tmp_path: Path) -> None:
    """Restore detection runs only in the serving process: a CLI store opened on a database
    without its mark leaves the epoch alone (the server decides at its start)."""
    db = tmp_path / "f.db"
    first = _run(SQLiteStore(db), _write_events)
    SQLiteStore(db).mark_path.unlink()
    assert _run(SQLiteStore(db), _epoch, serving=False) == first


def test_an_old_copy_from_an_earlier_epoch_is_still_caught(tmp_path: Path, caplog: Any) -> None:
    """The mark keeps each epoch's high-water mark: after a `frontdesk restore` (new epoch), a copy
    of the first epoch put back by hand, behind what was handed out under it, gets a new epoch."""
    db = tmp_path / "f.db"
    old = tmp_path / "old.db"
    first = _run(SQLiteStore(db), _write_events)
    shutil.copy(db, old)  # first epoch, 3 messages
    _write_more(SQLiteStore(db), 3)  # first epoch, 6 messages handed out
    restored_epoch, _ = restore_copy(db, old)  # the documented way: a new epoch
    _write_more(SQLiteStore(db), 1)
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    shutil.copy(old, db)  # and now the first epoch's copy by hand
    with caplog.at_level(logging.WARNING, logger="frontdesk.server.store"):
        again = _run(SQLiteStore(db), _epoch)
    assert again not in (first, restored_epoch)
    assert "was restored from a copy" in caplog.text


# -- what /healthz may say ------------------------------------------------------------------


def _sqlite_error(code: int, text: str) -> sqlite3.Error:
    exc = sqlite3.OperationalError(text)
    exc.sqlite_errorcode = code
    return exc


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (_sqlite_error(13, "database or disk is full"), "disk full"),
        (_sqlite_error(8, "attempt to write a readonly database"), "read-only"),
        (_sqlite_error(10 | (3 << 8), "disk I/O error"), "I/O error"),
        (OSError(30, "Read-only file system", "/var/lib/frontdesk/frontdesk.db"), "read-only"),
        (OSError(28, "No space left on device"), "disk full"),
        (_sqlite_error(14, "unable to open database file /var/lib/frontdesk/frontdesk.db"), "storage error"),
    ],
)
def test_storage_failures_are_published_in_fixed_words(exc: BaseException, words: str) -> None:
    """The reason an Unavailable carries (what /healthz shows) is a fixed word; the message keeps the full text."""
    error = sqlite_store._unavailable("cannot write /var/lib/frontdesk/frontdesk.db", exc)
    assert error.reason == words and "/var/lib/frontdesk" in str(error)
