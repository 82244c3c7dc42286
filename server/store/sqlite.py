"""The embedded default store: one SQLite file.

- WAL mode with ``synchronous=FULL``, so an acked write survives power loss;
  :meth:`SQLiteStore.open` reads both back and refuses to run without them.
- One writer thread owns the only write connection. Writes queue up while a
  COMMIT is in progress and the next transaction takes everything waiting
  (group commit, sized by what is waiting rather than by a timer): under load
  one fsync covers many messages, idle a write commits at once.
- Reads run on a small pool of threads, each with its own read-only
  connection; WAL lets them read a consistent snapshot while the writer works.
- Storage failures (a full disk, a read-only file, an I/O error) become
  :class:`~frontdesk.server.exceptions.Unavailable`, logged once per failed
  batch, and :attr:`SQLiteStore.health` records them.
- Little disk space: a one-message commit appends ~70 KB of write-ahead log
  and the automatic checkpoint waits for ~4 MB, so freed space went to log
  growth. Below :data:`LOW_SPACE_BYTES` free, every batch is followed, once
  its callers are answered, by a checkpoint that never waits for readers
  (``PASSIVE``; ``TRUNCATE``, which gives the log's space back to the file
  system, when the log is over :data:`TRUNCATE_WAL_BYTES`), and a write that
  fails for space runs once more after one.
- A serving store keeps a mark in a file beside the database
  (:attr:`SQLiteStore.mark_path`, not inside it, so a restored copy cannot
  bring back an old value): the database file's device and inode, and the
  highest event id handed out under each recent epoch. A database that is
  behind the mark of its epoch, is another file, or has events but no mark,
  gets a new epoch at start, and every client refetches instead of resuming
  over event ids that are handed out again (PROTOCOL.md, "Resuming").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import fcntl
import json
import logging
import os
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Concatenate, ParamSpec, TypeVar

from ..domain import EventRecord
from ..exceptions import DurabilityError, FrontdeskError, SchemaError, Unavailable
from . import _sql
from . import search as search_ops
from ._writer import (
    DISK_FULL,
    IO_ERROR,
    READ_ONLY,
    STOP,
    STORAGE_ERROR,
    Job,
    WriteHealth,
    resolve,
    take_batch,
)
from .base import REQUIRED_TABLES, Capabilities, Store, probe_write, shipped_migrations

__all__ = ["SQLiteStore", "restore_copy"]

log = logging.getLogger("frontdesk.server.store")
P = ParamSpec("P")
T = TypeVar("T")

#: How often an idle writer looks for events committed by other processes.
EXTERNAL_POLL_S = 1.0
#: Seconds between two "the disk is full, checkpointed" warnings.
SPACE_WARNING_S = 60.0
#: Below this much free space under the database, every write batch is
#: followed by a ``TRUNCATE`` checkpoint: the write-ahead log then never holds
#: more than one batch, instead of growing towards the ~4 MB automatic
#: checkpoint (and the database file needs room to take the log's pages, so a
#: log that already filled the disk cannot be checkpointed any more).
LOW_SPACE_BYTES = 16 << 20
#: New search entries that wait before a batch adds their words to the index
#: (migration 0017): one FTS5 segment per this many messages, not per message.
SEARCH_INDEX_BATCH = 64
#: A write-ahead log at least this large (a one-message commit appends ~70 KB)
#: is checkpointed with ``TRUNCATE`` when space is low: its space goes back
#: to the file system, so a full disk shows at once instead of writes living
#: on the log's leftover room. A smaller one (a probe row) only ``PASSIVE``.
TRUNCATE_WAL_BYTES = 64 << 10
#: How long (ms) a connection waits for a lock another process holds.
BUSY_TIMEOUT_MS = 10000
#: The most epochs whose high-water mark :attr:`SQLiteStore.mark_path` keeps.
MARK_EPOCHS = 8
#: Size of the mark's one record (rewritten in place with one ``pwrite``).
MARK_BYTES = 1024

_SQLITE_FULL = 13
#: Primary result codes (https://www.sqlite.org/rescode.html) that say the
#: storage failed, not the statement, so the same write may succeed later:
#: BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB.
_STORAGE_CODES = frozenset({5, 6, 7, 8, 10, 11, _SQLITE_FULL, 14, 15, 26})


def _storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the storage failing (full, read-only, I/O) rather than the statement."""
    if isinstance(exc, sqlite3.Error):
        return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _STORAGE_CODES
    return isinstance(exc, OSError)


def _out_of_space(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_FULL


def _public(exc: BaseException) -> str:
    """The storage failure in the fixed words ``/healthz`` may publish."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        return {_SQLITE_FULL: DISK_FULL, 8: READ_ONLY, 10: IO_ERROR, 11: IO_ERROR}.get(code, STORAGE_ERROR)
    if isinstance(exc, OSError):
        return {
            errno.ENOSPC: DISK_FULL,
            errno.EDQUOT: DISK_FULL,
            errno.EROFS: READ_ONLY,
            errno.EACCES: READ_ONLY,
            errno.EPERM: READ_ONLY,
            errno.EIO: IO_ERROR,
        }.get(exc.errno or 0, STORAGE_ERROR)
    return STORAGE_ERROR


def _unavailable(message: str, exc: BaseException) -> Unavailable:
    """``Unavailable`` saying ``message: <the cause>``, with the cause in fixed words as its reason."""
    return Unavailable(f"{message}: {_reason(exc)}", _public(exc))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class _Tx:
    """``_sql.Tx`` over a sqlite3 connection."""

    __slots__ = ("conn", "events")
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.events: list[EventRecord] = []

    def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        rows = self.conn.execute(sql, params).fetchall()
        return dict(rows[0]) if rows else None

    def all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(sql, params).fetchall()]

    def rows(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        cur.row_factory = None
        found: list[tuple[Any, ...]] = cur.execute(sql, params).fetchall()
        return found

    def run(self, sql: str, params: Any = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Any) -> None:
        self.conn.executemany(sql, rows)

    def ahead(self, sql: str, params: Any = ()) -> Callable[[], dict[str, Any] | None]:
        row = self.one(sql, params)
        return lambda: row

    def defer(
        self,
        sql: str,
        params: Any = (),
        check: Callable[[dict[str, Any] | None], None] | None = None,
        refusing: str | None = None,
    ) -> None:
        row = self.one(sql, params)
        if check is not None:
            check(row)


class SQLiteStore(Store):
    """A store in one SQLite file at ``path``."""

    DIALECT = "sqlite"
    capabilities = Capabilities(shared=False, server_lock=True, backup=True)

    def __init__(self, path: str | Path, *, readers: int = 4) -> None:
        self.path = Path(path)
        self._readers = readers
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._local = threading.local()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._server_lock: IO[str] | None = None
        self._migrate = True
        self._seen_event_id = 0
        self.batches = 0
        self.batched_jobs = 0
        self.health = WriteHealth()
        #: The journal mode and synchronous level found at open (empty before).
        self.durability_settings: dict[str, Any] = {}
        self._serving = False
        self._mark_fd: int | None = None
        self._mark_dirty = False
        self._space_warned = 0.0
        #: Below this much free space, every batch is followed by a checkpoint (a knob tests set).
        self.low_space_bytes = LOW_SPACE_BYTES
        #: A log this large is checkpointed with TRUNCATE when space is low (a knob tests set).
        self.truncate_wal_bytes = TRUNCATE_WAL_BYTES
        #: Entries waiting for the search index before a batch indexes them (a knob tests set).
        self.search_index_batch = SEARCH_INDEX_BATCH
        #: Batches run a second time with a savepoint per job, because one of their jobs raised.
        self.savepoint_passes = 0
        #: The high-water mark of each epoch a serving store has handed out events under.
        self._mark_epochs: dict[str, int] = {}
        #: (st_dev, st_ino) of the database file this store serves.
        self._db_ident: tuple[int, int] | None = None
        #: Where a serving store keeps the highest event id it handed out.
        self.mark_path = self.path.with_name(f".{self.path.name}.served")

    # -- connections ----------------------------------------------------------

    def _connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if readonly:
            conn.execute("PRAGMA query_only = 1")
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        return conn

    @staticmethod
    def _check_durability(conn: sqlite3.Connection) -> dict[str, Any]:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = conn.execute("PRAGMA synchronous").fetchone()[0]
        settings = {
            "journal_mode": str(mode).lower(),
            "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(sync, str(sync)),
        }
        if settings["journal_mode"] != "wal" or sync < 2:
            raise DurabilityError(
                f"SQLite at {conn_path(conn)} runs with journal_mode={settings['journal_mode']},"
                f" synchronous={settings['synchronous']}; Frontdesk requires journal_mode=wal and"
                " synchronous=FULL so that an acked message survives a crash. Is the file on a"
                " filesystem that supports WAL (not a network share)?"
            )
        return settings

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(readonly=True)
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    # -- lifecycle --------------------------------------------------------------

    async def open(self, *, migrate: bool = True) -> None:
        self._migrate = migrate
        self._loop = asyncio.get_running_loop()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unavailable(f"cannot create {self.path.parent}", exc) from None
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._writer = threading.Thread(
            target=self._writer_main, args=(ready,), name="frontdesk-sqlite-writer", daemon=True
        )
        self._writer.start()
        await asyncio.wrap_future(ready)
        self._pool = concurrent.futures.ThreadPoolExecutor(self._readers, thread_name_prefix="frontdesk-sqlite-reader")

    async def close(self) -> None:
        await self._stop_probing()
        if self._writer is not None:
            self._queue.put(STOP)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        if self._mark_fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._mark_fd)
            os.close(self._mark_fd)
            self._mark_fd = None
        if self._server_lock is not None:  # closing the file releases the flock
            self._server_lock.close()
            self._server_lock = None

    def migrate_sync(self, conn: sqlite3.Connection) -> int:
        """Apply pending migrations on ``conn``; returns the number applied."""
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at INTEGER NOT NULL)"
        )
        current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
        shipped = shipped_migrations(self.DIALECT)
        if shipped and current > shipped[-1][0]:
            raise SchemaError(
                f"the database is at schema {current}, newer than this Frontdesk ({shipped[-1][0]}); upgrade Frontdesk"
            )
        applied = 0
        # Table rebuilds (0002) drop parents that children reference; SQLite
        # needs foreign key enforcement off for that, and it can only be
        # switched outside a transaction.
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            for version, name, sql in shipped:
                if version <= current:
                    continue
                log.info("applying migration %04d_%s", version, name)
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{sql}\nINSERT INTO schema_migrations (version, name, applied_at)"
                    f" VALUES ({version}, '{name}', {_sql.now_ms()});\nCOMMIT;"
                )
                applied += 1
                problems = conn.execute("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise SchemaError(f"migration {version:04d}_{name} left broken references: {problems[:3]}")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone() is None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)", (uuid.uuid4().hex,))
        return applied

    # -- the writer ---------------------------------------------------------------

    def _writer_main(self, ready: concurrent.futures.Future[None]) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect()
            self.durability_settings = self._check_durability(conn)
            if self._migrate:
                self.migrate_sync(conn)
                if self._serving:  # not in a CLI command beside the server: the mark is the server's
                    self._detect_restore(conn)
                self.epoch = str(conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0])
                self._seen_event_id = int(conn.execute("SELECT COALESCE(MAX(event_id), 0) FROM events").fetchone()[0])
                if self._serving:
                    self._db_ident = _ident(self.path)
                    self._open_mark()
                    self._write_mark(_high_water(conn), sync=True)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if _storage_failure(exc):
                exc = _unavailable(f"cannot open {self.path}", exc)
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            self._writer_loop(conn)
        finally:
            conn.close()

    def _writer_loop(self, conn: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=EXTERNAL_POLL_S)
            except queue.Empty:
                if self._migrate:  # a serving store: look for other processes' events
                    self._run_batch(conn, [])
                self._sync_mark()
                continue
            if first is STOP:
                break
            batch, stopping = take_batch(self._queue, first)
            self._run_batch(conn, batch)

    def _external_events(self, conn: sqlite3.Connection) -> list[EventRecord]:
        """Events other processes committed since we last looked (``frontdesk
        agent disable`` run beside the server, say). Called holding the write
        lock, so nothing can commit between them and this batch's events, and
        publishing them first keeps the pushed order equal to ``event_id``
        order, which resume relies on."""
        rows = conn.execute("SELECT * FROM events WHERE event_id > ? ORDER BY event_id", (self._seen_event_id,))
        return [_sql.record_from_row(dict(r)) for r in rows.fetchall()]

    def _transact(self, conn: sqlite3.Connection, batch: list[Job]) -> tuple[list[EventRecord], list[EventRecord]]:
        """One attempt at ``batch``: (other processes' events, this batch's
        events). Sets each job's outcome. A storage failure inside a job
        aborts the whole batch (SQLite may have rolled the transaction back
        already, savepoints included).

        The batch first runs without savepoints: two statements fewer per
        write. A job that raises (a refused request, usually) rolls that pass
        back, and the batch runs again with a savepoint around each job, so
        the others still commit and that one alone fails. Jobs are functions
        of the transaction, so running one twice writes what running it once
        would (the PostgreSQL store does the same)."""
        conn.execute("BEGIN IMMEDIATE")
        external = self._external_events(conn)
        events = self._run_jobs(conn, batch, savepoints=False)
        if events is None:
            conn.execute("ROLLBACK")
            self.savepoint_passes += 1
            conn.execute("BEGIN IMMEDIATE")
            external = self._external_events(conn)
            events = self._run_jobs(conn, batch, savepoints=True)
            assert events is not None
        self._index_search_backlog(conn, idle=not batch)
        conn.execute("COMMIT")
        return external, events

    def _run_jobs(self, conn: sqlite3.Connection, batch: list[Job], *, savepoints: bool) -> list[EventRecord] | None:
        """Run each job of ``batch`` in the open transaction; the events they appended. Without
        ``savepoints``, None as soon as one raises (the caller rolls back and runs the batch with them); with
        them, a job that raises is rolled back alone. A storage failure is raised, whichever pass."""
        events: list[EventRecord] = []
        for job in batch:
            tx = _Tx(conn)
            if savepoints:
                conn.execute("SAVEPOINT job")
            try:
                result = job.fn(tx, *job.args, **job.kwargs)
                self._react(tx)
            except BaseException as exc:  # one bad job must not sink the batch
                if _storage_failure(exc):
                    raise
                if not savepoints:
                    return None
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                job.outcome = (False, exc)
            else:
                if savepoints:
                    conn.execute("RELEASE job")
                job.outcome = (True, result)
                events.extend(tx.events)
        return events

    def _index_search_backlog(self, conn: sqlite3.Connection, *, idle: bool) -> None:
        """Add new entries' words to the full-text index (migration 0017) in
        this transaction, which commits anyway: once :attr:`search_index_batch`
        wait, or whatever waits when the writer is idle. Many messages then
        share one index segment and one commit. A failure here is logged and
        rolled back alone, never sinking the batch's writes (search reads the
        entries not indexed yet itself)."""
        tx = _Tx(conn)
        try:
            waiting = search_ops.backlog(tx)  # a read: nothing to undo if it fails
        except sqlite3.Error as exc:
            if _storage_failure(exc):
                raise
            log.exception("could not read the search index's progress (search still finds new messages)")
            return
        if not waiting or (waiting < self.search_index_batch and not idle):
            return
        conn.execute("SAVEPOINT search_index")
        try:
            search_ops.index_backlog(tx)
        except BaseException as exc:
            if _storage_failure(exc):
                raise
            conn.execute("ROLLBACK TO search_index")
            log.exception("could not add new messages to the search index (search still finds them)")
        conn.execute("RELEASE search_index")

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Job]) -> None:
        events: list[EventRecord] = []
        external: list[EventRecord] = []
        low_space = False
        for attempt in (1, 2):
            try:
                external, events = self._transact(conn, batch)
            except BaseException as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if attempt == 1 and _out_of_space(exc) and self._free_log(conn):
                    continue  # nothing committed: running the batch again is safe
                self._failed(batch, exc)
                if _out_of_space(exc):
                    # The failed attempt left log pages allocated past its
                    # end: give them back before answering (the callers learn
                    # of a full disk only once its space is free for others;
                    # this does not wait for readers either).
                    self._checkpoint(conn, "TRUNCATE")
                external, events = [], []
            else:
                # Only a committed write proves the storage writable (the idle
                # poll commits a transaction that wrote nothing).
                if any(ok for ok, _ in (job.outcome for job in batch)) and self.health.succeeded():
                    log.warning("the database %s is writable again", self.path)
                low_space = bool(batch) and self.free_bytes() < self.low_space_bytes
            break
        events = external + events
        if events:
            self._seen_event_id = max(self._seen_event_id, events[-1].event_id)
            if self._serving:
                self._write_mark(events[-1].event_id)
        if batch or events:
            self.batches += 1
            self.batched_jobs += len(batch)
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._settle, batch, events)
        if low_space:  # after the callers are answered: a checkpoint must never delay an ack
            self._low_space_checkpoint(conn)

    def _failed(self, batch: list[Job], exc: BaseException) -> None:
        """Answer every job of a batch that did not commit, and log it once."""
        outcome: BaseException = exc
        if _storage_failure(exc):
            reason = _reason(exc)
            outcome = _unavailable(f"cannot write {self.path}", exc)
            news = self.health.failed(outcome.reason, reason)
            writes = sum(job.fn is not probe_write for job in batch)
            if writes:
                log.error("cannot write %s: %s; %d writes not stored (clients retry)", self.path, reason, writes)
            elif news:  # the idle poll and health probes: once per outage, not once a second
                log.error("cannot write %s: %s", self.path, reason)
        else:
            log.exception("write transaction failed; %d writes not stored", len(batch))
        for job in batch:
            job.outcome = (False, outcome)

    def free_bytes(self) -> int:
        """Space left for the database on its file system (what an unprivileged user may use)."""
        try:
            st = os.statvfs(self.path.parent)
        except OSError:
            return 0  # unknown: count it as little
        return st.f_bavail * st.f_frsize

    def _wal_path(self) -> Path:
        return self.path.with_name(self.path.name + "-wal")

    def _checkpoint(self, conn: sqlite3.Connection, mode: str) -> bool:
        """``PRAGMA wal_checkpoint(mode)`` without waiting: the busy timeout
        is 0 meanwhile, so an open reader makes it do what it can at once
        (as PASSIVE) instead of holding the writer, and every ack behind it,
        for :data:`BUSY_TIMEOUT_MS`. Whether it completed."""
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            busy, _, _ = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error as exc:  # the database file may need space to grow, too
            log.debug("checkpoint (%s) failed: %s", mode, exc)
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return not busy

    def _low_space_checkpoint(self, conn: sqlite3.Connection) -> None:
        """After a batch was answered, with little space left: copy the log
        into the database, so it never grows towards the automatic
        checkpoint; truncate it (its space goes back to the file system)
        only when it is large, PASSIVE otherwise."""
        mode = "TRUNCATE" if _size(self._wal_path()) >= self.truncate_wal_bytes else "PASSIVE"
        self._checkpoint(conn, mode)

    def _free_log(self, conn: sqlite3.Connection) -> bool:
        """After a write failed for space: copy the write-ahead log into the
        database and truncate it to zero bytes, which gives its space back to
        the file system. Whether it completed (readers can hold it up; it
        does not wait for them)."""
        size = _size(self._wal_path())
        if not self._checkpoint(conn, "TRUNCATE"):
            return False
        if time.monotonic() - self._space_warned > SPACE_WARNING_S:
            self._space_warned = time.monotonic()
            log.warning(
                "the disk under %s is full: checkpointed the write-ahead log (%d KiB freed) and retried;"
                " free some space (docs/OPERATIONS.md, Disk space)",
                self.path,
                size // 1024,
            )
        return True

    # -- restores: the high-water mark -------------------------------------------------------

    def _detect_restore(self, conn: sqlite3.Connection) -> None:
        """Give the database a new epoch when it may not be the one this
        server handed events out from, so that no client resumes over event
        ids that will be handed out again, for other events:

        - its events are behind the mark of its epoch (an older copy put back);
        - it is another file than the one served (another device or inode: a
          copy put back, a file-system restore of the file alone);
        - it has events but no mark (the first start of a version that keeps
          one, or a mark lost or not restored with it): one refetch, to be safe.

        Only a serving store runs this (:attr:`_serving`). A restore that
        brings the mark back as it was with the database (a snapshot of the
        whole directory) cannot be seen: run ``frontdesk restore`` for it."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        if row is None:
            return
        epoch, high, ident = str(row[0]), _high_water(conn), _ident(self.path)
        mark = self._read_mark()
        why: str | None = None
        if mark is None:
            self._mark_epochs = {}
            if high > 0:
                why = (
                    f"it has events (the last is {high}) but there is no {self.mark_path.name} beside it (the first"
                    " start of a version that keeps one, or the mark was lost or not restored with the database)"
                )
        else:
            self._mark_epochs = dict(mark["epochs"])
            served = self._mark_epochs.get(epoch)
            if served is not None and high < served:
                why = f"it was restored from a copy: its last event is {high}, but event {served} was handed out"
            elif served is not None and mark["ident"] is not None and ident is not None and mark["ident"] != ident:
                why = (
                    "it was restored from a copy: it is not the file this server served (device and inode"
                    f" {mark['ident'][0]}:{mark['ident'][1]}, now {ident[0]}:{ident[1]})"
                )
        if why is None:
            return
        new = uuid.uuid4().hex
        conn.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (new,))
        log.warning("%s: %s; new epoch %s, so every client refetches instead of resuming", self.path, why, new)

    def _read_mark(self) -> dict[str, Any] | None:
        """The mark as ``{"epochs": {epoch: last event id}, "ident": (dev, ino) or None}``;
        ``None`` when there is none, or it cannot be read."""
        try:
            data = json.loads(self.mark_path.read_text(encoding="utf-8").strip() or "null")
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        try:
            if "epochs" in data:
                epochs = {str(k): int(v) for k, v in dict(data["epochs"]).items()}
            else:  # the first version's mark: one epoch, no file identity
                epochs = {str(data["epoch"]): int(data["last_event_id"])}
            ident = (int(data["dev"]), int(data["ino"])) if "ino" in data else None
        except (KeyError, TypeError, ValueError):
            return None
        return {"epochs": epochs, "ident": ident}

    def _open_mark(self) -> None:
        try:
            self._mark_fd = os.open(self.mark_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _unavailable(f"cannot write {self.mark_path}", exc) from None

    def _write_mark(self, last_event_id: int, *, sync: bool = False) -> None:
        """Record the highest event id handed out under the current epoch
        (before any client can see it: called after COMMIT, before the batch
        is settled), beside those of the last :data:`MARK_EPOCHS` epochs and
        the database file's identity. One ``pwrite`` of a fixed-size record;
        fsynced at start and when idle."""
        if self._mark_fd is None:
            return
        self._mark_epochs.pop(self.epoch, None)
        self._mark_epochs[self.epoch] = last_event_id  # the newest last
        while len(self._mark_epochs) > MARK_EPOCHS:
            del self._mark_epochs[next(iter(self._mark_epochs))]  # forget the oldest epoch
        while True:
            data: dict[str, Any] = {"epochs": self._mark_epochs}
            if self._db_ident is not None:
                data["dev"], data["ino"] = self._db_ident
            encoded = json.dumps(data, separators=(",", ":")).encode()
            if len(encoded) < MARK_BYTES or len(self._mark_epochs) <= 1:
                break
            del self._mark_epochs[next(iter(self._mark_epochs))]  # forget the oldest epoch
        record = encoded.ljust(MARK_BYTES - 1) + b"\n"
        try:
            os.pwrite(self._mark_fd, record, 0)
            if sync:
                os.fsync(self._mark_fd)
            self._mark_dirty = not sync
        except OSError as exc:
            log.warning("cannot update %s: %s", self.mark_path, _reason(exc))

    def _sync_mark(self) -> None:
        if self._mark_fd is not None and self._mark_dirty:
            self._mark_dirty = False
            with contextlib.suppress(OSError):
                os.fsync(self._mark_fd)

    def _settle(self, batch: list[Job], events: list[EventRecord]) -> None:
        """On the event loop, after COMMIT: publish, then resolve each caller."""
        try:
            self._publish(events)
        except Exception:  # a failing listener must not leave the writers hanging
            log.exception("publishing committed events failed")
        resolve(batch)

    # -- the interface ----------------------------------------------------------------

    async def write(self, fn: Callable[Concatenate[_sql.Tx, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._writer is None or self._loop is None:
            raise RuntimeError("store is not open")
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(Job(fn, args, kwargs, future))
        return await asyncio.shield(future)

    def _read_sync(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        try:
            conn = self._reader()
            conn.execute("BEGIN")
            try:
                return fn(_Tx(conn), *args, **kwargs)
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if not _storage_failure(exc):
                raise
            log.error("cannot read %s: %s", self.path, exc)
            raise Unavailable(f"cannot read {self.path}: {exc}", _public(exc)) from None

    async def read(self, fn: Callable[Concatenate[_sql.Tx, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._pool is None:
            raise RuntimeError("store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._read_sync, fn, args, kwargs)

    async def schema_version(self) -> int:
        def version(tx: _sql.Tx) -> int:
            if tx.one("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'") is None:
                return 0
            row = tx.one("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            return int(row["v"]) if row else 0

        return await self.read(version)

    async def missing_tables(self) -> list[str]:
        def names(tx: _sql.Tx) -> set[str]:
            return {r["name"] for r in tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")}

        present = await self.read(names)
        return [t for t in REQUIRED_TABLES if t not in present]

    async def durability(self) -> dict[str, Any]:
        return dict(self.durability_settings)

    @property
    def location(self) -> str:
        return str(self.path)

    async def backup(self, target: str | Path) -> None:
        """Write a consistent copy of the live database to ``target`` (the
        online backup API: safe while the server writes). Raises
        :class:`Unavailable` when the copy cannot be written (a full disk)."""

        def run() -> None:
            src = self._connect(readonly=True)
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
                # The copy gets its own epoch. Restored, it will reuse event ids
                # that the live database handed out after this moment; a client
                # holding such a cursor must refetch, not resume (PROTOCOL.md,
                # "Resuming").
                dst.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (uuid.uuid4().hex,))
                dst.commit()
            except sqlite3.Error as exc:
                if not _storage_failure(exc):
                    raise
                raise Unavailable(f"cannot write the backup {target}: {exc}", _public(exc)) from None
            finally:
                dst.close()
                src.close()

        await asyncio.to_thread(run)

    def acquire_server_lock(self) -> None:
        """Claim this database for one ``frontdesk serve``; call before :meth:`open`.

        Two servers on one SQLite file would each push only their own events,
        so clients of one would silently miss the other's. Held until
        :meth:`close`. Raises :class:`FrontdeskError` if another server has
        it, and :class:`Unavailable`, naming the file and the cause, when the
        database, its write-ahead log or the lock cannot be written (a server
        that starts on them would refuse every write).
        """
        if str(self.path) == ":memory:":
            return  # nothing on disk to claim (and open() refuses it: no WAL)
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unavailable(f"cannot create {directory}", exc) from None
        for part in (
            self.path,
            self.path.with_name(self.path.name + "-wal"),
            self.path.with_name(self.path.name + "-shm"),
        ):
            try:
                os.close(os.open(part, os.O_RDWR))
            except FileNotFoundError:
                self._check_can_create(part)
            except OSError as exc:
                raise _unavailable(f"cannot write {part}", exc) from None
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            handle = open(lock_path, "a+")  # noqa: SIM115 - held until close()
        except OSError as exc:
            raise _unavailable(f"cannot open the lock file {lock_path}", exc) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise FrontdeskError(
                f"another frontdesk serve is already using {self.path}; use PostgreSQL to run several servers"
            ) from None
        self._server_lock = handle
        self._serving = True

    @staticmethod
    def _check_can_create(path: Path) -> None:
        directory = path.parent
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            raise Unavailable(f"cannot create {path}: Read-only file system", READ_ONLY)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise Unavailable(
                f"cannot create {path}: Permission denied (the directory {directory} is not writable)",
                READ_ONLY,
            )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _ident(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``: another after a copy is put in its place."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _high_water(conn: sqlite3.Connection) -> int:
    """The highest event id this database has ever handed out: AUTOINCREMENT's
    counter survives deletes (erasure, prune), and the prune floor too."""
    seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'events'").fetchone()[0]
    top = conn.execute("SELECT COALESCE(MAX(event_id), 0) FROM events").fetchone()[0]
    floor = conn.execute("SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM meta WHERE key = 'events_floor'")
    return max(int(seq), int(top), int(floor.fetchone()[0]))


def restore_copy(db: Path, copy: Path) -> tuple[str, Path | None]:
    """Put the copy ``copy`` (``frontdesk backup``, ``VACUUM INTO``, a file of
    a stopped database) in place of the database ``db`` with a new epoch.

    Refuses (:class:`FrontdeskError`) while a server holds ``db``, and a copy
    that fails ``integrity_check`` or is not a Frontdesk database. The
    replaced files are moved aside, not deleted. Returns (new epoch, where the
    replaced database went, or ``None`` when there was none).
    """
    lock_path = db.with_name(db.name + ".lock")
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # and a server cannot start meanwhile
        except BlockingIOError:
            raise FrontdeskError(f"a frontdesk serve is using {db}; stop the server first") from None
        src = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            check = src.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise FrontdeskError(f"{copy} is damaged (integrity_check: {check}); choose another copy")
            tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "events"} <= tables:
                raise FrontdeskError(f"{copy} is not a Frontdesk database")
            aside = None  # a first install has nothing to keep
            if db.exists():
                aside = db.with_name(f"{db.name}.replaced-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
                for suffix in ("", "-wal", "-shm"):
                    part = db.with_name(db.name + suffix)
                    if part.exists():
                        part.rename(aside.with_name(aside.name + suffix))
            dst = sqlite3.connect(db, isolation_level=None)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = WAL")
                epoch = uuid.uuid4().hex
                dst.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (epoch,))
            finally:
                dst.close()
        finally:
            src.close()
    return epoch, aside


def conn_path(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "?"
