"""The scale-out store: one PostgreSQL database shared by several server nodes.

The same operations as SQLite (``messages``, ``conversations`` …) run through the same two primitives;
this module only decides how transactions are opened, batched, committed and
announced to the other nodes.

Writes
    One writer thread per node owns one connection and does group commit like
    the SQLite writer: the next transaction takes every write waiting (up to
    :data:`MAX_BATCH`), and the callers get their results only after COMMIT
    returned ("acked means stored"). One fsync covers many messages, and a
    node never holds more than one connection for writing. A batch first runs
    pipelined and without savepoints (``PostgresStore._pipelined``: a batch of
    messages is two round trips whatever its size); when one of its writes
    raises, it runs again with a SAVEPOINT per write, so that write alone
    rolls back.

Per-tenant write locks
    Every client belongs to one tenant and its resume cursor only ever names
    that tenant's events, so event ids need to become visible in order only
    within a tenant (DESIGN.md, "Order per tenant"). A write transaction
    takes, in this order and held to COMMIT (PostgreSQL releases transaction
    locks only after the commit is durable and visible):

    - ``pg_advisory_xact_lock_shared(WRITE_LOCK)``, and then
      ``pg_advisory_xact_lock(TENANT_LOCK, tenant_id)`` for each tenant its
      writes name (their ``tenant_id`` argument), in increasing tenant order,
      so two nodes never wait for each other in a cycle;
    - or, when one of its writes names no tenant (creating a tenant, a login
      attempt, pruning, a new epoch, resealing secrets: rare and small),
      ``pg_advisory_xact_lock(WRITE_LOCK)`` exclusively: it then runs alone,
      exactly as every write did before the per-tenant locks;
    - the job table's own operations (claim, renew, complete, fail) and the
      health probe take only the shared lock: ``FOR UPDATE SKIP LOCKED`` and
      single-row updates need nothing more.

    That keeps three things the operations rely on:

    - ``_sql``'s check-then-insert steps (the idempotency record, "one open
      conversation per visitor", the last active admin) are all within one
      tenant, whose writers are serialized;
    - ``event_id`` values (one BIGSERIAL, so ids stay globally unique and
      cursors keep their meaning) become visible in increasing order within
      each tenant: whoever sees event N of a tenant sees every earlier event
      of that tenant that will ever exist — the property that resume and
      multi-node fan-out rest on;
    - writers of different tenants never wait for each other, on one node or
      many (``tests/server/store/test_tenant_order.py`` holds one tenant's
      transaction open and shows another tenant's write acked meanwhile).

    A write that appends an event for a tenant it did not name is a bug; it is
    refused and rolled back alone.

Reads
    A small thread pool, one connection per thread, each read a ``REPEATABLE
    READ READ ONLY`` transaction (a consistent snapshot, never blocking the
    writer). A read whose connection broke is retried once on a new one.

Fan-out between nodes
    A write transaction that appended events sends ``NOTIFY frontdesk_events``
    (PostgreSQL delivers it at COMMIT, and never for a rollback), naming its
    node. Every node LISTENs on its own connection; on another node's
    notification, and every
    :attr:`PostgresStore.poll_interval` seconds anyway (so a missed
    notification or a dropped listener costs latency, never an event), it
    reads the events after the last one it published and passes them to
    :attr:`on_commit`.

    Publication keeps a cursor per tenant, :attr:`PostgresStore.delivered`:
    every event of that tenant up to it has been published on this node (or
    never committed). Each delivery is a complete run of a tenant's events
    after its cursor, published in ``event_id`` order, and only the part
    beyond the cursor is published, so every event is published exactly once
    per node, in order, whichever path (local commit or catch-up read) brings
    it first. A local batch makes its own run: holding its tenants' locks,
    the writer reads the events other nodes committed for those tenants after
    their cursors, so right after COMMIT it publishes those and then its own,
    without waiting for a notification. The catch-up read takes every tenant
    at once (one index range per tenant) and discovers tenants created since.
    The notification names the batch's tenants, so a woken node reads only
    those. A client that applies events in the order pushed therefore never
    skips one on resume.

Ephemeral messages
    What is pushed but never stored (typing, presence) can cross nodes with
    :meth:`PostgresStore.broadcast`: a NOTIFY on its own channel that the
    other nodes' listeners hand to :attr:`PostgresStore.on_broadcast`, best
    effort, like the pushes themselves.

Durability
    :meth:`PostgresStore.open` refuses (``DurabilityError``) a server with
    ``fsync = off`` or a session with ``synchronous_commit = off``: either
    lets an acked write vanish in a crash. The other settings (``on``,
    ``local``, ``remote_write``, ``remote_apply``) all flush the local WAL
    before COMMIT returns.

Storage failures
    A full disk, a read-only database (a standby, ``default_transaction_read_only``),
    an I/O error or a lost connection become
    :class:`~frontdesk.server.exceptions.Unavailable` (retryable), logged
    once per failed batch, and :attr:`PostgresStore.health` says so.

Restores
    ``pg_restore`` recreates the tables, so ``events`` gets a new OID, while
    ``meta`` comes back with the old one recorded (``events_table``). A
    mismatch at :meth:`PostgresStore.open` means the data was restored from a
    dump: the database gets a new epoch, and every client refetches instead of
    resuming over event ids that will be handed out again.

Backups: use ``pg_dump``; this store has no ``backup`` method, and the CLI
says so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg
from psycopg.rows import dict_row, tuple_row

from ..domain import EventRecord
from ..exceptions import DurabilityError, SchemaError, Unavailable
from . import _sql
from ._writer import (
    DISK_FULL,
    IO_ERROR,
    READ_ONLY,
    STOP,
    STORAGE_ERROR,
    UNREACHABLE,
    Job,
    WriteHealth,
    resolve,
    take_batch,
)
from .base import REQUIRED_TABLES, Capabilities, Store, probe_write, shipped_migrations

__all__ = [
    "BROADCAST_CHANNEL",
    "CHANNEL",
    "TENANT_LOCK",
    "WRITE_LOCK",
    "PostgresStore",
    "create_database",
    "drop_database",
]

log = logging.getLogger("frontdesk.server.store")
P = ParamSpec("P")
T = TypeVar("T")

#: The advisory lock key every write transaction holds until COMMIT, shared by
#: tenant-scoped writes and exclusive for the rest (an arbitrary constant:
#: "frontdes" in ASCII).
WRITE_LOCK = 0x66726F6E74646573
#: The first key of a tenant's advisory lock (``pg_advisory_xact_lock(TENANT_LOCK, tenant_id)``; "FD").
TENANT_LOCK = 0x4644
#: The LISTEN/NOTIFY channel that announces committed events.
CHANNEL = "frontdesk_events"
#: The channel of :meth:`PostgresStore.broadcast` (ephemeral, never stored).
BROADCAST_CHANNEL = "frontdesk_broadcast"
#: PostgreSQL caps a NOTIFY payload just under 8000 bytes.
MAX_BROADCAST_BYTES = 7900
#: Most events one catch-up read takes before reading again.
CATCH_UP_PAGE = 1000


def _storage_failure(exc: BaseException, conn: Conn | None = None) -> bool:
    """Whether ``exc`` is the database failing (connection lost or refused,
    disk full, I/O error, read-only, shutting down) rather than the statement.

    ``OperationalError`` alone says little: it also covers a deadlock
    (40P01), a serialization failure (40001), a statement or lock timeout
    (57014, 55P03) and exceeded limits (54xxx), which fail one request and
    say nothing about the storage. So: a broken connection, a connection
    error without a SQLSTATE (refused, unreachable), or the SQLSTATEs of
    classes 08 (connection), 58 (system, I/O) and 53100 (disk full), 57P0x
    (shutdown, crash, cannot connect now) and 25006 (read-only transaction)."""
    if conn is not None and conn.broken:
        return True
    if isinstance(exc, psycopg.errors.PipelineAborted):  # an earlier statement of the pipeline failed: that one says
        return False
    state = getattr(exc, "sqlstate", None) or ""
    if not state:
        return isinstance(exc, psycopg.OperationalError)
    return state[:2] in ("08", "58") or state == "53100" or state.startswith("57P0") or state == "25006"


def _public(exc: BaseException) -> str:
    """The failure in the fixed words ``/healthz`` may publish (never a host, port or user)."""
    state = getattr(exc, "sqlstate", None) or ""
    if state == "53100":
        return DISK_FULL
    if state == "25006":
        return READ_ONLY
    if state[:2] == "58":
        return IO_ERROR
    if not state or state[:2] == "08" or state.startswith("57P0"):
        return UNREACHABLE if isinstance(exc, psycopg.Error) else STORAGE_ERROR
    return STORAGE_ERROR


def _unavailable(exc: BaseException, what: str) -> Unavailable:
    """``Unavailable`` with the full text (for the log, ``frontdesk verify``)
    and the cause in fixed words as its reason (for ``/healthz``)."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return Unavailable(f"cannot {what} the PostgreSQL database: {detail}", _public(exc))


class _Committing(Exception):
    """COMMIT itself failed: whether the batch is stored is unknown."""


Conn = psycopg.Connection[dict[str, Any]]


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """``_sql``'s ``?`` placeholders as psycopg's ``%s`` (a literal ``%``
    doubled); text inside quotes is left alone."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None
            out.append("%%" if ch == "%" else ch)
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


def _params(params: Sequence[Any]) -> tuple[Any, ...]:
    # SQLite stores True as 1; PostgreSQL will not put a boolean in an INTEGER column.
    return tuple(int(p) if isinstance(p, bool) else p for p in params)


class _Trips:
    """Round trips to the database and statements sent, counted by the writer (a test hook and the benchmarks'
    evidence: on a server a network hop away, round trips are what a batch waits for)."""

    __slots__ = ("round_trips", "sent", "statements", "synced")

    def __init__(self) -> None:
        self.round_trips = 0
        self.statements = 0
        #: In pipeline mode: statements sent, and how many of them had been sent at the last sync (whose
        #: answers are in).
        self.sent = 0
        self.synced = 0

    def add(self, round_trips: int, statements: int) -> None:
        self.round_trips += round_trips
        self.statements += statements


#: A statement :meth:`_Tx.defer` sent ahead, and the check to run on its first row once it arrived.
_Deferred = tuple["psycopg.Cursor[dict[str, Any]]", Callable[[dict[str, Any] | None], None]]


class _Tx:
    """``_sql.Tx`` over a psycopg connection already inside a transaction.

    With ``pipe`` (the writer's first pass over a batch, in pipeline mode) a statement whose result the job
    reads costs one round trip, which also carries every statement :meth:`defer` sent before it; a deferred
    statement costs none of its own. PostgreSQL runs the statements in the order they were sent either way,
    so a job sees exactly what it would see without the pipeline: only the moment its client learns of a
    result (or an error) moves."""

    __slots__ = ("conn", "deferred", "events", "pipe", "trips")
    dialect = "postgres"

    def __init__(
        self,
        conn: Conn,
        trips: _Trips | None = None,
        pipe: psycopg.Pipeline | None = None,
        deferred: list[_Deferred] | None = None,
    ) -> None:
        self.conn = conn
        self.events: list[EventRecord] = []
        self.trips = trips
        self.pipe = pipe
        self.deferred = deferred

    def _execute(self, sql: str, params: Sequence[Any]) -> psycopg.Cursor[dict[str, Any]]:
        cur = self.conn.execute(translate(sql), _params(params))
        if self.trips is not None:
            self.trips.add(0, 1)
            self.trips.sent += 1
        return cur

    def _wait(self) -> None:
        """The answers to what was sent (in a pipeline: sync it); one round trip."""
        if self.trips is not None:
            self.trips.add(1, 0)
            self.trips.synced = self.trips.sent
        if self.pipe is not None:
            self.pipe.sync()

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        cur = self._execute(sql, params)
        self._wait()
        rows = cur.fetchall() if cur.description is not None else []
        return rows[0] if rows else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self._execute(sql, params)
        self._wait()
        return cur.fetchall() if cur.description is not None else []

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(translate(sql), _params(params))
            if self.trips is not None:
                self.trips.add(0, 1)
                self.trips.sent += 1
            self._wait()
            return cur.fetchall() if cur.description is not None else []

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self._execute(sql, params)
        self._wait()
        return cur.rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(translate(sql), [_params(r) for r in rows])
        if self.trips is not None:
            self.trips.add(1, len(rows))
            self.trips.sent += len(rows)
            self.trips.synced = self.trips.sent

    def ahead(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], dict[str, Any] | None]:
        if self.pipe is None or self.trips is None:
            row = self.one(sql, params)
            return lambda: row
        cur = self._execute(sql, params)
        mark, trips = self.trips.sent, self.trips

        def fetch() -> dict[str, Any] | None:
            if trips.synced < mark:
                self._wait()
            rows = cur.fetchall() if cur.description is not None else []
            return rows[0] if rows else None

        return fetch

    def defer(
        self,
        sql: str,
        params: Sequence[Any] = (),
        check: Callable[[dict[str, Any] | None], None] | None = None,
        refusing: str | None = None,
    ) -> None:
        if self.pipe is None or self.deferred is None:
            row = self.one(sql, params)
            if check is not None:
                check(row)
            return
        if check is not None and refusing is not None:
            # The database refuses where ``check`` would: nothing left to check before COMMIT.
            self._execute(refusing, params)
            return
        cur = self._execute(sql, params)
        if check is not None:
            self.deferred.append((cur, check))


def _set_meta(conn: Conn, key: str, value: str) -> None:
    if conn.execute("UPDATE meta SET value = %s WHERE key = %s", (value, key)).rowcount == 0:
        conn.execute("INSERT INTO meta (key, value) VALUES (%s, %s)", (key, value))


#: Each tenant's events after its cursor and before a bound (``unnest`` of the tenants, cursors and bounds), at
#: most a limit per tenant.
_TENANT_EVENTS_AFTER = (
    "SELECT e.* FROM unnest(?::bigint[], ?::bigint[], ?::bigint[]) AS c(tenant, since, until) CROSS JOIN LATERAL"
    " (SELECT * FROM events WHERE tenant_id = c.tenant AND event_id > c.since AND event_id < c.until"
    " ORDER BY event_id LIMIT ?) AS e ORDER BY e.event_id"
)
#: No bound: every event after the cursor (the largest BIGINT).
_UNBOUNDED = 2**63 - 1


#: In a write transaction, right after its locks: nanoseconds since BEGIN, i.e. the wait for the locks.
_LOCKS_WAITED = "SELECT (EXTRACT(EPOCH FROM clock_timestamp() - transaction_timestamp()) * 1e9)::bigint AS ns"


def _locking(calls: Sequence[str]) -> str:
    """One statement that takes the advisory locks of ``calls`` (``pg_advisory_xact_lock…(…)`` expressions) in
    their order and then returns :data:`_LOCKS_WAITED`'s ``ns``: each call in a subquery of the next (a volatile
    target list is never pulled up, so the executor evaluates the innermost first: EXPLAIN shows a Subquery
    Scan per level). One statement, not one per lock, to send and parse."""
    sql = f"SELECT {calls[0]} AS held"
    for call in calls[1:]:
        sql = f"SELECT {call} AS held FROM ({sql}) AS earlier"
    return f"{_LOCKS_WAITED} FROM ({sql}) AS locked"


def _tenant_cursor_params(cursors: Sequence[tuple[int, int, int]], limit: int) -> tuple[Any, ...]:
    """:data:`_TENANT_EVENTS_AFTER`'s parameters for (tenant, after, before) triples."""
    return ([t for t, _, _ in cursors], [since for _, since, _ in cursors], [until for _, _, until in cursors], limit)


def _tenant_events_after(tx: _sql.Tx, cursors: Sequence[tuple[int, int]], limit: int) -> list[EventRecord]:
    """Each tenant's events after its cursor, at most ``limit`` per tenant, in ``event_id`` order (for fan-out,
    unfiltered): one index range of ``events_tenant`` per tenant, in one statement."""
    if not cursors:
        return []
    rows = tx.all(_TENANT_EVENTS_AFTER, _tenant_cursor_params([(t, c, _UNBOUNDED) for t, c in cursors], limit))
    return [_sql.record_from_row(r) for r in rows]


def _tenants_after(tx: _sql.Tx, tenant_id: int) -> list[int]:
    """Tenants created after ``tenant_id`` (ids are handed out in order: creating one takes the exclusive lock)."""
    return [int(r["id"]) for r in tx.all("SELECT id FROM tenants WHERE id > ? ORDER BY id", (tenant_id,))]


#: A write's lock scope besides a tenant id: the exclusive write lock, or the shared one alone.
_EXCLUSIVE = "exclusive"
_SHARED = "shared"
#: Largest tenant id an advisory lock's second int4 key holds; beyond it a write runs under the exclusive lock.
_MAX_LOCKABLE_TENANT = 2**31 - 1


@functools.lru_cache(maxsize=1024)
def _tenant_position(fn: Callable[..., Any]) -> int | None:
    """Where ``fn(tx, …)`` takes ``tenant_id`` among its positional arguments after ``tx`` (None: it takes none)."""
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return names.index("tenant_id") - 1 if "tenant_id" in names[1:] else None


def _lock_scope(job: Job) -> int | str:
    """The tenant whose lock ``job`` needs, or :data:`_SHARED` / :data:`_EXCLUSIVE` (module doc)."""
    position = _tenant_position(job.fn)
    if position is None:
        # The job table's own operations lock their rows (FOR UPDATE SKIP LOCKED); the probe writes one meta row.
        shared_only = job.fn is probe_write or getattr(job.fn, "__module__", "").endswith(".store.jobs")
        return _SHARED if shared_only else _EXCLUSIVE
    tenant = job.args[position] if position < len(job.args) else job.kwargs.get("tenant_id")
    if isinstance(tenant, int) and not isinstance(tenant, bool) and 0 < tenant <= _MAX_LOCKABLE_TENANT:
        return tenant
    return _EXCLUSIVE


def _notify_payload(events: Iterable[EventRecord], node_id: str) -> str:
    """``node/tenant:last_event_id,…``: the node that committed the batch, and the pairs of its tenants and last
    event ids, or ``*`` (read every tenant) for the pairs past NOTIFY's size."""
    last: dict[int, int] = {}
    for event in events:
        last[event.tenant_id] = max(last.get(event.tenant_id, 0), event.event_id)
    pairs = ",".join(f"{tenant}:{event_id}" for tenant, event_id in sorted(last.items()))
    return f"{node_id}/{pairs if len(pairs) + len(node_id) < MAX_BROADCAST_BYTES else '*'}"


def _parse_notify(payload: str) -> tuple[str, dict[int, int] | None]:
    """The node and the pairs of :func:`_notify_payload`; None for "every tenant" (``*`` or anything
    unreadable). A node before this format sent the pairs alone (node ``""``); its own parser reads this
    one as unreadable, so during an upgrade it reads every tenant rather than miss one."""
    node, _, rest = payload.rpartition("/")
    pairs = [pair.partition(":") for pair in rest.split(",")]
    try:
        named = {int(t): int(e) for t, colon, e in pairs if colon} if all(colon for _, colon, _ in pairs) else None
    except ValueError:
        named = None
    return node, named


def create_database(admin_url: str, prefix: str) -> str:
    """A new empty database ``<prefix><random>`` on the server of ``admin_url`` (whose role may CREATE DATABASE);
    its URL. For throwaway databases: the benchmark's scratch databases."""
    if not prefix.isidentifier() or prefix != prefix.lower():
        raise ValueError(f"a database name prefix must be a lowercase identifier: {prefix!r}")
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{admin_url.rpartition('/')[0]}/{name}"


def drop_database(admin_url: str, url: str, prefix: str) -> None:
    """Drop the database of ``url``, made by :func:`create_database` with ``prefix`` (any other name is refused)."""
    name = url.rpartition("/")[2]
    if not (name.startswith(prefix) and name.isidentifier()):
        raise ValueError(f"refusing to drop {name!r}: not a {prefix}… database")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class PostgresStore(Store):
    """A store in the PostgreSQL database at ``url`` (``postgresql://…``)."""

    DIALECT = "postgres"
    capabilities = Capabilities(shared=True, server_lock=False, backup=False)

    #: Seconds between catch-up reads when no notification arrives.
    poll_interval: float = 1.0

    def __init__(self, url: str, *, readers: int = 4) -> None:
        self.url = url
        self._readers = readers
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._local = threading.local()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._reader_conns: list[Conn] = []
        self._reader_lock = threading.Lock()
        self._listener: asyncio.Task[None] | None = None
        #: Catch-up reads asked for by a batch that could not publish all it committed (see ``_settle``).
        self._kicks: set[asyncio.Future[None]] = set()
        self._sender: psycopg.AsyncConnection[Any] | None = None
        self._sender_lock = asyncio.Lock()
        #: Whether the LISTEN connection is up (else only polling delivers).
        self.listening = False
        #: Names this node in its broadcasts (it ignores its own).
        self.node_id = uuid.uuid4().hex
        self._migrate = True
        self.durability_settings: dict[str, Any] = {}
        #: Per tenant: every event of the tenant up to this id has been published on this node. A tenant without
        #: an entry was created after the store opened: all of its events are new here (cursor 0).
        self.delivered: dict[int, int] = {}
        #: The highest tenant id known here; catch-up reads look for tenants created after it.
        self._last_tenant = 0
        #: (Writer thread) per tenant, the last event of the runs handed to the loop.
        self._handed: dict[int, int] = {}
        self.batches = 0
        self.batched_jobs = 0
        self.health = WriteHealth()
        #: Events published from a catch-up read (committed elsewhere, mostly).
        self.caught_up = 0
        #: Nanoseconds the writer spent taking its locks (waiting for other writers of the same tenants, or for an
        #: exclusive write, plus one round trip), and in whole write transactions; for ``frontdesk bench tenants``.
        self.lock_wait_ns = 0
        self.transaction_ns = 0
        #: Batches run a second time with a savepoint per job, because one of their jobs raised.
        self.savepoint_passes = 0
        #: The writer's round trips and statements (BEGIN, locks, the jobs', savepoints, COMMIT), never reset.
        self.trips = _Trips()

    # -- connections ----------------------------------------------------------------

    def _connect(self, role: str) -> Conn:
        """A new connection; ``role`` (writer, reader) names it in pg_stat_activity."""
        return psycopg.connect(self.url, autocommit=True, row_factory=dict_row, application_name=f"frontdesk-{role}")

    @staticmethod
    def _check_durability(conn: Conn) -> dict[str, Any]:
        settings = {}
        for name in ("synchronous_commit", "fsync"):
            row = conn.execute(f"SHOW {name}").fetchone()
            settings[name] = str(row[name] if row else "?").lower()
        if settings["synchronous_commit"] == "off" or settings["fsync"] != "on":
            raise DurabilityError(
                f"PostgreSQL runs with synchronous_commit={settings['synchronous_commit']},"
                f" fsync={settings['fsync']}; Frontdesk requires synchronous_commit=on and fsync=on so that an"
                " acked message survives a crash (ALTER SYSTEM SET …; SELECT pg_reload_conf())."
            )
        return settings

    def _reader(self) -> Conn:
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._connect("reader")
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    # -- lifecycle ----------------------------------------------------------------------

    async def open(self, *, migrate: bool = True) -> None:
        self._migrate = migrate
        self._loop = asyncio.get_running_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._writer = threading.Thread(
            target=self._writer_main, args=(ready,), name="frontdesk-pg-writer", daemon=True
        )
        self._writer.start()
        try:
            await asyncio.wrap_future(ready)
        except BaseException:
            self._writer.join()
            self._writer = None
            raise
        self._pool = concurrent.futures.ThreadPoolExecutor(self._readers, thread_name_prefix="frontdesk-pg-reader")
        if migrate:
            self._listener = asyncio.create_task(self._listen_loop(), name="frontdesk-pg-listener")

    async def close(self) -> None:
        await self._stop_probing()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._sender is not None:
            await self._sender.close()
            self._sender = None
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

    def migrate_sync(self, conn: Conn) -> int:
        """Apply pending migrations in one transaction under the write lock
        (nodes starting together migrate once); returns the number applied."""
        shipped = shipped_migrations(self.DIALECT)
        applied = 0
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at BIGINT NOT NULL)"
            )
            row = conn.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").fetchone()
            current = int(row["v"]) if row else 0
            restored = self._restored(conn)
            if shipped and current > shipped[-1][0]:
                raise SchemaError(
                    f"the database is at schema {current}, newer than this Frontdesk ({shipped[-1][0]});"
                    " upgrade Frontdesk"
                )
            for version, name, sql in shipped:
                if version <= current:
                    continue
                log.info("applying migration %04d_%s", version, name)
                conn.execute(sql.encode())  # no parameters: one round trip, several statements
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                    (version, name, _sql.now_ms()),
                )
                applied += 1
            if conn.execute("SELECT 1 FROM meta WHERE key = 'epoch'").fetchone() is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', %s)", (uuid.uuid4().hex,))
            elif restored:
                conn.execute("UPDATE meta SET value = %s WHERE key = 'epoch'", (uuid.uuid4().hex,))
                log.warning(
                    "the database was restored from a dump (its tables were recreated): new epoch, so every"
                    " client refetches instead of resuming"
                )
            oid = conn.execute("SELECT 'events'::regclass::oid::bigint AS oid").fetchone()
            assert oid is not None
            _set_meta(conn, "events_table", str(oid["oid"]))
        return applied

    @staticmethod
    def _restored(conn: Conn) -> bool:
        """Whether ``events`` is not the table ``meta`` recorded (pg_restore
        recreated it). Checked before migrations, which may rebuild tables."""
        found = conn.execute(
            "SELECT to_regclass('events')::oid::bigint AS oid, to_regclass('meta') IS NOT NULL AS meta"
        ).fetchone()
        if not found or found["oid"] is None or not found["meta"]:
            return False
        recorded = conn.execute("SELECT value FROM meta WHERE key = 'events_table'").fetchone()
        return recorded is not None and str(recorded["value"]) != str(found["oid"])

    def _load_state(self, conn: Conn) -> None:
        row = conn.execute("SELECT to_regclass('meta') IS NOT NULL AS ok").fetchone()
        if not (row and row["ok"]):
            return
        epoch = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        self.epoch = str(epoch["value"]) if epoch else ""
        rows = conn.execute(
            "SELECT t.id, (SELECT COALESCE(MAX(e.event_id), 0) FROM events e WHERE e.tenant_id = t.id) AS last"
            " FROM tenants t"
        ).fetchall()
        self.delivered = {int(r["id"]): int(r["last"]) for r in rows}
        self._last_tenant = max(self.delivered, default=0)

    # -- the writer ---------------------------------------------------------------------

    def _writer_main(self, ready: concurrent.futures.Future[None]) -> None:
        conn: Conn | None = None
        try:
            conn = self._connect("writer")
            self.durability_settings = self._check_durability(conn)
            if self._migrate:
                self.migrate_sync(conn)
            self._load_state(conn)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            ready.set_exception(_unavailable(exc, "open") if _storage_failure(exc) else exc)
            return
        ready.set_result(None)
        try:
            self._writer_loop(conn)
        finally:
            conn.close()

    def _writer_loop(self, conn: Conn) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is STOP:
                break
            batch, stopping = take_batch(self._queue, first)
            if conn.closed or conn.broken:
                try:
                    conn = self._connect("writer")
                except psycopg.Error as exc:
                    log.error("cannot reconnect the writer: %s", exc)
                    self._fail(batch, exc)
                    continue
            conn = self._run_batch(conn, batch)
        conn.close()

    def _fail(self, batch: list[Job], exc: BaseException) -> None:
        error = _unavailable(exc, "write")
        self.health.failed(error.reason, str(error))
        for job in batch:
            job.outcome = (False, error)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._settle, batch, [], False)

    def _run_batch(self, conn: Conn, batch: list[Job]) -> Conn:
        """Run ``batch`` in one transaction and hand the outcome to the loop;
        the connection to use next. A batch whose connection broke before
        COMMIT was sent cannot have committed, so it runs once more on a new
        connection (a database restart costs latency, not errors); a break
        during COMMIT leaves the outcome unknown and fails the batch (the
        clients resend, and their client_ids make that safe)."""
        run: list[EventRecord] = []
        complete = True
        for attempt in (1, 2):
            committing = False
            try:
                run, complete = self._transact(conn, batch)
                if any(ok for ok, _ in (job.outcome for job in batch)) and self.health.succeeded():
                    log.warning("the PostgreSQL database is writable again")
                break
            except _Committing as wrapped:
                committing, exc = True, wrapped.__cause__ or wrapped
            except BaseException as error:
                exc = error
            if conn.broken and not committing and attempt == 1:
                log.warning("the write connection broke (%s); running the batch again on a new one", exc)
                try:
                    conn, broken = self._connect("writer"), conn
                    broken.close()
                    continue
                except psycopg.Error as error:
                    exc = error
            if not conn.closed and not conn.broken:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
            if _storage_failure(exc, conn):
                exc = _unavailable(exc, "write")
                news = self.health.failed(exc.reason, str(exc))
                writes = sum(job.fn is not probe_write for job in batch)
                if writes:
                    log.error("%s; %d writes not stored (clients retry)", exc, writes)
                elif news:  # health probes: once per outage
                    log.error("%s", exc)
            else:
                log.error("write transaction failed; %d writes not stored: %r", len(batch), exc)
            for job in batch:
                job.outcome = (False, exc)
            # A COMMIT whose outcome is unknown may have committed: then a catch-up read publishes it here.
            run, complete = [], not committing
            break
        self.batches += 1
        self.batched_jobs += len(batch)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._settle, batch, run, not complete)
        return conn

    def _finished(self, job: Job, tx: _Tx, result: Any, locked: set[int], exclusive: bool) -> None:
        """After ``job`` ran in ``tx``: run the reactors, refuse events of a tenant it did not name, and
        record its outcome (the caller catches what this raises)."""
        self._react(tx)
        stray = {e.tenant_id for e in tx.events} - locked
        if stray and not exclusive:
            raise RuntimeError(
                f"{getattr(job.fn, '__qualname__', job.fn)!s} appended events of tenant(s)"
                f" {sorted(stray)} it did not name; a write names its tenant as its tenant_id argument"
            )
        job.outcome = (True, result)

    def _run_jobs(self, conn: Conn, batch: list[Job], locked: set[int], exclusive: bool) -> list[EventRecord]:
        """Run each job of ``batch`` in the open transaction, a ``SAVEPOINT job`` already set, a job that
        raises rolled back alone; the events they appended."""
        local: list[EventRecord] = []
        for i, job in enumerate(batch):
            then = b"; SAVEPOINT job" if i + 1 < len(batch) else b""
            tx = _Tx(conn, self.trips)
            try:
                self._finished(job, tx, job.fn(tx, *job.args, **job.kwargs), locked, exclusive)
            except BaseException as exc:  # one bad job must not sink the batch
                if _storage_failure(exc, conn):
                    raise  # the database, not the job: the whole batch fails (or runs again)
                self.trips.add(1, 2 + bool(then))
                conn.execute(b"ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job" + then)
                job.outcome = (False, exc)
            else:
                self.trips.add(1, 1 + bool(then))
                conn.execute(b"RELEASE SAVEPOINT job" + then)
                local.extend(tx.events)
        return local

    def _run_pipelined_jobs(
        self,
        conn: Conn,
        batch: list[Job],
        locked: set[int],
        exclusive: bool,
        pipe: psycopg.Pipeline,
        deferred: list[_Deferred],
    ) -> list[EventRecord] | None:
        """Run each job of ``batch`` in the open transaction, in ``pipe``, without savepoints (deferred
        statements' checks gathered in ``deferred``); the events they appended, or None as soon as one raises
        (the caller rolls back and runs the batch with savepoints).

        Consecutive jobs that can begin apart (:data:`_sql.BEGINNINGS`: a message's conversation update) are
        all begun, then finished in order, so that their first statements share one round trip."""
        local: list[EventRecord] = []
        begun: list[tuple[Job, _Tx, Callable[[], Any]]] = []

        def finish() -> None:
            for job, tx, rest in begun:
                self._finished(job, tx, rest(), locked, exclusive)
                local.extend(tx.events)
            begun.clear()

        try:
            for job in batch:
                tx = _Tx(conn, self.trips, pipe, deferred)
                begin = _sql.BEGINNINGS.get(job.fn)
                if begin is not None:
                    begun.append((job, tx, begin(tx, *job.args, **job.kwargs)))
                    continue
                finish()
                self._finished(job, tx, job.fn(tx, *job.args, **job.kwargs), locked, exclusive)
                local.extend(tx.events)
            finish()
        except BaseException as exc:
            if _storage_failure(exc, conn):
                raise  # the database, not the job: the whole batch fails (or runs again)
            return None
        return local

    def _catch_up_cursors(self, local: list[EventRecord]) -> list[tuple[int, int, int]]:
        """The (tenant, after, before) of the catch-up read of a batch that appended ``local``: what other
        nodes committed for its tenants after what the loop has published or been handed already (settles run
        in order, so a busy node does not read its own previous batch back). All of that committed under the
        locks the batch now holds, its ids taken before the batch took any, so it all comes before the batch's
        first event of the tenant: the read stops there, rather than read back (and decode) the batch's own."""
        first: dict[int, int] = {}
        for e in local:
            first[e.tenant_id] = min(first.get(e.tenant_id, e.event_id), e.event_id)
        return [(t, max(self.delivered.get(t, 0), self._handed.get(t, 0)), first[t]) for t in sorted(first)]

    def _pipelined(
        self, conn: Conn, batch: list[Job], locking: str, locked: set[int], exclusive: bool
    ) -> tuple[list[EventRecord], list[EventRecord]] | None:
        """The batch's first pass, in one pipeline and without savepoints: (its events, the other nodes' events
        the catch-up read found), committed; or None when a job raised (or a deferred statement failed or its
        check refused), the transaction then still open, to be rolled back.

        Round trips: BEGIN and the locks (one statement, :func:`_locking`) go with the first statement whose
        answer a job waits for; consecutive messages send their conversation updates together
        (:meth:`_run_pipelined_jobs`) and wait once; each wait also carries the statements deferred before it
        (a message's inserts); the last deferred statements, the catch-up read, the NOTIFY and COMMIT make one
        more. A deferred statement whose check the database cannot make itself (no ``refusing`` form,
        :meth:`_Tx.defer`) holds COMMIT back to a round trip of its own, after the check. A batch of N messages
        in their open conversations: 2 round trips (it was 3, and 2N + 2 before that)."""
        committing = together = False
        try:
            with conn.pipeline() as pipe:
                conn.execute("BEGIN")
                # The locks; their ``ns``, measured by the server from BEGIN to holding every lock, is the wait
                # for other writers.
                waited = conn.execute(locking)
                self.trips.add(0, 2)
                deferred: list[_Deferred] = []
                local = self._run_pipelined_jobs(conn, batch, locked, exclusive, pipe, deferred)
                if local is None:
                    return None
                read = None
                if local:
                    read = conn.execute(
                        translate(_TENANT_EVENTS_AFTER),
                        _tenant_cursor_params(self._catch_up_cursors(local), CATCH_UP_PAGE),
                    )
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, _notify_payload(local, self.node_id)))
                # With no check left to run on a deferred result, COMMIT goes in this round trip too: a statement
                # that fails before it leaves the transaction open and aborted (COMMIT is skipped), which the
                # pass with savepoints then rolls back.
                together = not deferred
                self.trips.add(1, (2 if local else 0) + together)
                if together:
                    conn.execute("COMMIT")
                    committing = True
                pipe.sync()
                row = waited.fetchone()
                self.lock_wait_ns += int(row["ns"]) if row is not None else 0
                if not together:
                    try:
                        for cur, check in deferred:
                            rows = cur.fetchall() if cur.description is not None else []
                            check(rows[0] if rows else None)
                    except Exception:
                        return None  # a refused check (a visitor over budget): the pass with savepoints says whose
                caught_up = [_sql.record_from_row(r) for r in read.fetchall()] if read is not None else []
                if not together:
                    committing = True
                    self.trips.add(1, 1)
                    conn.execute("COMMIT")
        except BaseException as exc:
            if committing and not (
                # COMMIT was sent with the statements before it and one of them failed: it never ran.
                together and not conn.broken and conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
            ):
                raise _Committing from exc
            if _storage_failure(exc, conn):
                raise
            return None  # a job's statement failed, seen at a later round trip: the pass with savepoints says whose
        return local, caught_up

    def _transact(self, conn: Conn, batch: list[Job]) -> tuple[list[EventRecord], bool]:
        """One attempt at a batch: (the run of events to publish, whether it
        is complete). Sets each job's outcome.

        The batch first runs without savepoints, pipelined (:meth:`_pipelined`):
        a round trip per message and two per batch, which is most of the point
        on a server a round trip away. A job that raises (a refused request,
        usually) rolls that pass back, and the batch runs again without the
        pipeline and with a savepoint around each job, so the others still
        commit and that one alone fails. Jobs are functions of the
        transaction, so running one twice writes what running it once would;
        sequence values the first pass took are skipped (event ids may have
        gaps; they never could be relied on not to)."""
        scopes = [_lock_scope(job) for job in batch]
        exclusive = _EXCLUSIVE in scopes
        tenants = sorted({scope for scope in scopes if isinstance(scope, int)})
        # The locks, in the one order every node uses.
        if exclusive:
            calls = [f"pg_advisory_xact_lock({WRITE_LOCK:d})"]
        else:
            calls = [f"pg_advisory_xact_lock_shared({WRITE_LOCK:d})"] + [
                f"pg_advisory_xact_lock({TENANT_LOCK:d}, {tenant:d})" for tenant in tenants
            ]
        locks = [f"SELECT {call}" for call in calls]
        started = time.perf_counter_ns()
        locked = set(tenants)
        done = self._pipelined(conn, batch, _locking(calls), locked, exclusive)
        if done is not None:
            local, caught_up = done
        else:
            # Statements without parameters share a round trip.
            self.trips.add(1, 3 + len(locks))
            waiting = time.perf_counter_ns()
            conn.execute(f"ROLLBACK; BEGIN; {'; '.join(locks)}; SAVEPOINT job".encode())
            self.lock_wait_ns += time.perf_counter_ns() - waiting
            self.savepoint_passes += 1
            local = self._run_jobs(conn, batch, locked, exclusive)
            caught_up = self._commit(conn, local)
        touched = {e.tenant_id for e in local}
        ours = {e.event_id for e in local}
        others = [e for e in caught_up if e.event_id not in ours]
        complete = all(sum(1 for e in others if e.tenant_id == t) < CATCH_UP_PAGE for t in touched)
        self.transaction_ns += time.perf_counter_ns() - started
        run = sorted([*others, *local], key=lambda e: e.event_id) if complete else others
        for event in run:
            if event.event_id > self._handed.get(event.tenant_id, 0):
                self._handed[event.tenant_id] = event.event_id
        return run, complete

    def _commit(self, conn: Conn, local: list[EventRecord]) -> list[EventRecord]:
        """COMMIT the savepoint pass; what the catch-up read found. The read, the NOTIFY and the COMMIT go in
        one round trip (pipeline mode). Were the read to fail, the COMMIT would not run; the batch then fails
        as if its COMMIT had (outcome unknown: the clients resend, and their client_ids make that safe)."""
        try:
            if not local:
                self.trips.add(1, 1)
                conn.execute("COMMIT")
                return []
            self.trips.add(1, 3)
            with conn.pipeline():
                cur = conn.execute(
                    translate(_TENANT_EVENTS_AFTER), _tenant_cursor_params(self._catch_up_cursors(local), CATCH_UP_PAGE)
                )
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, _notify_payload(local, self.node_id)))
                conn.execute("COMMIT")
            return [_sql.record_from_row(r) for r in cur.fetchall()]
        except BaseException as exc:
            raise _Committing from exc

    def _settle(self, batch: list[Job], run: list[EventRecord], behind: bool) -> None:
        """On the event loop, after COMMIT: publish, then resolve each caller."""
        # When ``behind`` (more events from other nodes than one read takes, or a COMMIT whose outcome is
        # unknown), a catch-up read publishes the rest, this batch's included: the listener skips this node's
        # own notifications, since the writer publishes its batches itself.
        try:
            self._deliver(run)
        except Exception:  # a failing listener must not leave the writers hanging
            log.exception("publishing committed events failed")
        if behind and self._listener is not None:
            task = asyncio.ensure_future(self._poll_once())
            self._kicks.add(task)
            task.add_done_callback(self._kicks.discard)
        resolve(batch)

    def _deliver(self, run: list[EventRecord], *, read: bool = False) -> None:
        """Publish the part of ``run`` (events in ``event_id`` order, each
        tenant's a complete run after some earlier cursor of that tenant)
        beyond the tenants' :attr:`delivered` cursors."""
        fresh = []
        for event in run:
            if event.event_id > self.delivered.get(event.tenant_id, 0):
                self.delivered[event.tenant_id] = event.event_id
                fresh.append(event)
        if not fresh:
            return
        if read:
            self.caught_up += len(fresh)
        self._publish(fresh)

    # -- fan-out between nodes ----------------------------------------------------------

    async def catch_up(self, tenants: Iterable[int] | None = None) -> int:
        """Publish every committed event after the tenants' cursors (in
        practice the ones other nodes wrote), for ``tenants`` or every tenant
        (then also those created since the last look); the number published."""
        before = self.caught_up
        if tenants is None:
            for tenant in await self.read(_tenants_after, self._last_tenant):
                self.delivered.setdefault(tenant, 0)
                self._last_tenant = max(self._last_tenant, tenant)
            wanted = list(self.delivered)
        else:
            wanted = list(tenants)
        while wanted:
            cursors = [(t, self.delivered.get(t, 0)) for t in wanted]
            run = await self.read(_tenant_events_after, cursors, CATCH_UP_PAGE)
            self._deliver(run, read=True)
            full = {t for t in wanted if sum(1 for e in run if e.tenant_id == t) >= CATCH_UP_PAGE}
            wanted = [t for t in wanted if t in full]
        return self.caught_up - before

    async def _listen_loop(self) -> None:
        """LISTEN for other nodes' commits, and poll as a fallback. Runs until
        cancelled; a lost connection is retried with backoff."""
        backoff = 0.5
        while True:
            try:
                aconn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, application_name="frontdesk-listener"
                )
            except psycopg.Error as exc:
                log.warning("cannot LISTEN on PostgreSQL (%s); polling meanwhile", exc)
                await self._poll_once()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            try:
                await aconn.execute(f"LISTEN {CHANNEL}")
                await aconn.execute(f"LISTEN {BROADCAST_CHANNEL}")
                self.listening = True
                await self._poll_once()  # whatever committed before we listened
                loop = asyncio.get_running_loop()
                next_poll = loop.time() + self.poll_interval
                while True:
                    woken: set[int] | None = set()
                    wait = max(0.0, next_poll - loop.time())
                    async for note in aconn.notifies(timeout=wait, stop_after=1):
                        if note.channel == BROADCAST_CHANNEL:
                            self._received(note.payload)
                            continue
                        # The payload names the node and the batch's tenants and their last event_id: our own
                        # commits are published by our writer (with what other nodes committed before them, read
                        # under the same locks), and of the others' only the named tenants need a read.
                        node, named = _parse_notify(note.payload)
                        if node == self.node_id:
                            continue
                        if named is None or woken is None:
                            woken = None
                        else:
                            woken |= {t for t, e in named.items() if e > self.delivered.get(t, 0)}
                    if woken is None or loop.time() >= next_poll:
                        await self._poll_once()
                        next_poll = loop.time() + self.poll_interval
                    elif woken:
                        await self._poll_once(woken)
            except psycopg.Error as exc:
                log.warning("lost the PostgreSQL listener (%s); reconnecting", exc)
            except Exception:
                log.exception("the PostgreSQL listener failed; restarting it")
                await asyncio.sleep(backoff)
            finally:
                self.listening = False
                with contextlib.suppress(psycopg.Error):
                    await aconn.close()

    # -- ephemeral messages between nodes ---------------------------------------------

    async def broadcast(self, message: dict[str, Any]) -> None:
        """Send ``message`` (a JSON object) to every other node's
        :attr:`on_broadcast`: for what is pushed but never stored (typing,
        presence). Best effort, like the pushes themselves: a message is lost
        when a node's listener is reconnecting. Raises ``ValueError`` for a
        message over :data:`MAX_BROADCAST_BYTES` encoded."""
        payload = json.dumps({"node": self.node_id, "message": message}, separators=(",", ":"))
        if len(payload.encode()) > MAX_BROADCAST_BYTES:
            raise ValueError(f"broadcast message too large ({len(payload.encode())} bytes)")
        async with self._sender_lock:
            try:
                if self._sender is None or self._sender.closed:
                    self._sender = await psycopg.AsyncConnection.connect(
                        self.url, autocommit=True, application_name="frontdesk-broadcast"
                    )
                await self._sender.execute("SELECT pg_notify(%s, %s)", (BROADCAST_CHANNEL, payload))
            except psycopg.Error as exc:
                log.warning("broadcast lost: %s", exc)
                if self._sender is not None:
                    await self._sender.close()
                    self._sender = None

    def _received(self, payload: str) -> None:
        try:
            envelope = json.loads(payload)
            if envelope["node"] == self.node_id:
                return
            message = envelope["message"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed broadcast: %.80r", payload)
            return
        if self.on_broadcast is not None:
            self.on_broadcast(message)

    async def _poll_once(self, tenants: Iterable[int] | None = None) -> None:
        try:
            await self.catch_up(tenants)
        except psycopg.Error as exc:
            log.warning("catch-up read failed: %s", exc)
        except Exception:
            log.exception("publishing caught-up events failed")

    # -- the interface --------------------------------------------------------------------

    async def write(self, fn: Callable[Concatenate[_sql.Tx, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._writer is None or self._loop is None:
            raise RuntimeError("store is not open")
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(Job(fn, args, kwargs, future))
        return await asyncio.shield(future)

    def _read_sync(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        for attempt in (1, 2):
            try:
                conn = self._reader()
            except psycopg.Error as exc:  # no connection to be had (the server is down): the storage, not the read
                log.error("cannot read the PostgreSQL database: %s", " ".join(str(exc).split()))
                raise _unavailable(exc, "read") from None
            try:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    return fn(_Tx(conn), *args, **kwargs)
                finally:
                    if not conn.broken:
                        conn.execute("COMMIT")
            except psycopg.Error as exc:
                if not conn.broken or attempt == 2:
                    if not _storage_failure(exc, conn):
                        raise
                    log.error("cannot read the PostgreSQL database: %s", " ".join(str(exc).split()))
                    raise _unavailable(exc, "read") from None
                log.warning("a read connection broke; retrying on a new one")
                conn.close()
                with self._reader_lock:
                    self._reader_conns.remove(conn)
        raise AssertionError("unreachable")

    async def read(self, fn: Callable[Concatenate[_sql.Tx, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._pool is None:
            raise RuntimeError("store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._read_sync, fn, args, kwargs)

    async def schema_version(self) -> int:
        def version(tx: _sql.Tx) -> int:
            found = tx.one("SELECT to_regclass('schema_migrations') IS NOT NULL AS ok")
            if not (found and found["ok"]):
                return 0
            row = tx.one("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            return int(row["v"]) if row else 0

        return await self.read(version)

    async def missing_tables(self) -> list[str]:
        def names(tx: _sql.Tx) -> set[str]:
            rows = tx.all("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
            return {str(r["table_name"]) for r in rows}

        present = await self.read(names)
        return [t for t in REQUIRED_TABLES if t not in present]

    async def durability(self) -> dict[str, Any]:
        return dict(self.durability_settings)
