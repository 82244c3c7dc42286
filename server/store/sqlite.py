"""The embedded default store: one SQLite file.

- WAL mode with ``synchronous=FULL``, so an acked write survives power loss;
  :meth:`SQLiteStore.open` reads both back and refuses to run without them.
- One writer thread owns the only write connection. Writes queue up while a
  COMMIT is in progress and the next transaction takes everything waiting
  (group commit, sized by what is waiting rather than by a timer): under load
  one fsync covers many messages, idle a write commits at once.
- Reads run on a small pool of threads, each with its own read-only
  connection; WAL lets them read a consistent snapshot while the writer works.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import logging
import queue
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Concatenate, ParamSpec, TypeVar

from ..domain import EventRecord
from ..exceptions import DurabilityError, FrontdeskError, SchemaError
from . import _sql
from ._writer import STOP, Job, resolve, take_batch
from .base import REQUIRED_TABLES, Store, shipped_migrations

__all__ = ["SQLiteStore"]

log = logging.getLogger("frontdesk.server.store")
P = ParamSpec("P")
T = TypeVar("T")

#: How often an idle writer looks for events committed by other processes.
EXTERNAL_POLL_S = 1.0


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

    def run(self, sql: str, params: Any = ()) -> int:
        return self.conn.execute(sql, params).rowcount


class SQLiteStore(Store):
    """A store in one SQLite file at ``path``."""

    DIALECT = "sqlite"

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

    # -- connections ----------------------------------------------------------

    def _connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 10000")
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._writer = threading.Thread(
            target=self._writer_main, args=(ready,), name="frontdesk-sqlite-writer", daemon=True
        )
        self._writer.start()
        await asyncio.wrap_future(ready)
        self._pool = concurrent.futures.ThreadPoolExecutor(self._readers, thread_name_prefix="frontdesk-sqlite-reader")

    async def close(self) -> None:
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
        try:
            conn = self._connect()
            self.durability_settings = self._check_durability(conn)
            if self._migrate:
                self.migrate_sync(conn)
                self.epoch = str(conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0])
                self._seen_event_id = int(conn.execute("SELECT COALESCE(MAX(event_id), 0) FROM events").fetchone()[0])
        except BaseException as exc:
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

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Job]) -> None:
        events: list[EventRecord] = []
        external: list[EventRecord] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            external = self._external_events(conn)
            for job in batch:
                tx = _Tx(conn)
                conn.execute("SAVEPOINT job")
                try:
                    result = job.fn(tx, *job.args, **job.kwargs)
                except BaseException as exc:  # one bad job must not sink the batch
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    job.outcome = (False, exc)
                else:
                    conn.execute("RELEASE job")
                    job.outcome = (True, result)
                    events.extend(tx.events)
            conn.execute("COMMIT")
        except BaseException as exc:
            log.exception("write transaction failed; %d writes not stored", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for job in batch:
                job.outcome = (False, exc)
            events = []
        events = external + events
        if events:
            self._seen_event_id = max(self._seen_event_id, events[-1].event_id)
        if not batch and not events:
            return
        self.batches += 1
        self.batched_jobs += len(batch)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._settle, batch, events)

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
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            return fn(_Tx(conn), *args, **kwargs)
        finally:
            conn.execute("COMMIT")

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
        return dict(getattr(self, "durability_settings", {}))

    async def backup(self, target: str | Path) -> None:
        """Write a consistent copy of the live database to ``target`` (the
        online backup API: safe while the server writes)."""

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
            finally:
                dst.close()
                src.close()

        await asyncio.to_thread(run)

    def acquire_server_lock(self) -> None:
        """Claim this database for one ``frontdesk serve``.

        Two servers on one SQLite file would each push only their own events,
        so clients of one would silently miss the other's. Held until
        :meth:`close`. Raises :class:`FrontdeskError` if another server has it.
        """
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise FrontdeskError(
                f"another frontdesk serve is already using {self.path}; use PostgreSQL to run several servers"
            ) from None
        self._server_lock = handle


def conn_path(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "?"
