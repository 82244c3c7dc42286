"""The store interface: what the server needs from a database.

A backend implements a handful of primitives (:meth:`Store.write`,
:meth:`Store.read`, migrations, close); every operation is then one function
of the store's operation modules (``messages``, ``conversations`` …) run
through them, so SQLite and PostgreSQL share one implementation of the
rules, and one contract test suite checks both.

Contract of :meth:`Store.write`: the function runs inside a transaction; its
result is returned only after that transaction has COMMITted durably ("acked
means stored"); the events it appended are passed to :attr:`Store.on_commit`
on the event loop, in ``event_id`` order, after COMMIT and never for a
transaction that rolled back. An exception raised by the function rolls back
only that function's work and is re-raised to its caller.

Optional abilities differ by backend; each is declared here, in
:class:`Capabilities` (:attr:`Store.capabilities`), with its method on the
interface. A caller asks ``store.capabilities.backup`` before calling
:meth:`Store.backup`, never ``getattr(store, "backup")``; a method called on
a backend without the ability raises :class:`Unsupported`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import logging
import os
import re
from collections.abc import Callable
from importlib import resources
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..domain import EventRecord
from ..exceptions import Unavailable
from . import _sql
from ._sql import Tx
from ._writer import WriteHealth

__all__ = [
    "PROBE_INTERVAL_S",
    "REQUIRED_TABLES",
    "BroadcastListener",
    "Capabilities",
    "CommitListener",
    "Reactor",
    "Store",
    "Unsupported",
    "probe_write",
]

log = logging.getLogger("frontdesk.server.store")
P = ParamSpec("P")
T = TypeVar("T")
CommitListener = Callable[[list[EventRecord]], None]
#: Runs inside a write, after its operation, with the transaction and the events the operation appended.
Reactor = Callable[[Tx, list[EventRecord]], None]
BroadcastListener = Callable[[dict[str, Any]], None]


class Unsupported(Exception):
    """This backend lacks the capability called on (see :class:`Capabilities`)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do beyond the required interface."""

    #: Several server nodes may share the database (PostgreSQL). Then limits
    #: that must hold for the cluster are kept in the database, and what is
    #: pushed but never stored (typing, presence) travels between nodes
    #: through :meth:`Store.broadcast` / :attr:`Store.on_broadcast`.
    shared: bool = False
    #: One serving process per database, claimed by
    #: :meth:`Store.acquire_server_lock` before :meth:`Store.open` (SQLite: two
    #: servers on one file would each push only their own events).
    server_lock: bool = False
    #: :meth:`Store.backup` writes a consistent copy while serving (SQLite's
    #: online backup; PostgreSQL uses ``pg_dump``).
    backup: bool = False


#: Tables ``frontdesk verify`` expects to find.
REQUIRED_TABLES = (
    "meta",
    "tenants",
    "agents",
    "agent_tokens",
    "visitors",
    "conversations",
    "messages",
    "notes",
    "events",
    "client_writes",
    "jobs",
    "secrets",
    "search_entries",
    "schema_migrations",
)


def _probe_interval() -> float:
    try:
        return max(0.01, float(os.environ.get("FRONTDESK_PROBE_INTERVAL_S") or 1.0))
    except ValueError:
        return 1.0


#: How often (seconds) a serving store writes a probe row when nothing else
#: was written meanwhile, so ``/healthz`` (which only reports the last
#: outcome, and never writes) notices a disk that filled while idle. The
#: environment variable ``FRONTDESK_PROBE_INTERVAL_S`` sets it (default 1).
PROBE_INTERVAL_S = _probe_interval()


def probe_write(tx: Tx) -> None:
    """The smallest real write: one row of ``meta``, committed like any other."""
    _sql.set_meta(tx, "write_probe", str(_sql.now_ms()))


_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def shipped_migrations(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped for ``dialect``
    (``migrations/<dialect>/NNNN_name.sql``), in order."""
    found = []
    folder = resources.files("frontdesk.server.store") / "migrations" / dialect
    for entry in folder.iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Store(abc.ABC):
    """A durable store. Create one with :func:`frontdesk.server.store.open_store`."""

    #: Called on the event loop with the events of each committed batch.
    on_commit: CommitListener | None = None
    #: Names this database; cursors from another epoch need a reset.
    epoch: str = ""
    #: The outcome of the last write transaction (set by the writer thread).
    health: WriteHealth
    #: What this backend can do beyond the required interface.
    capabilities: Capabilities = Capabilities()
    #: Write batches committed, the operations they held, and (where the backend times it) the nanoseconds spent
    #: inside their transactions: counters for the benchmarks, never reset by the store.
    batches: int = 0
    batched_jobs: int = 0
    transaction_ns: int = 0
    #: Batches run a second time with a savepoint per job, because one of their jobs raised (the first pass
    #: runs without savepoints).
    savepoint_passes: int = 0
    #: Called on the event loop with each message another node broadcast
    #: (only with ``capabilities.shared``).
    on_broadcast: BroadcastListener | None = None

    @property
    def location(self) -> str:
        """The database, named for an operator's error message (a file path;
        never a password)."""
        return "the database"

    def acquire_server_lock(self) -> None:
        """Claim the database for this serving process; call before
        :meth:`open`, held until :meth:`close`. Raises ``FrontdeskError`` when
        another server holds it. A no-op without ``capabilities.server_lock``
        (a shared database needs no claim)."""
        return None

    async def broadcast(self, message: dict[str, Any]) -> None:
        """Send ``message`` (a JSON object) to every other node's
        :attr:`on_broadcast`, best effort. :class:`Unsupported` without
        ``capabilities.shared`` (one node: nobody to tell)."""
        raise Unsupported(f"{type(self).__name__} is not shared by several nodes: nothing to broadcast to")

    async def backup(self, target: str) -> None:
        """Write a consistent copy of the live database to the file ``target``.
        :class:`Unsupported` without ``capabilities.backup``."""
        raise Unsupported(f"{type(self).__name__} has no built-in backup")

    @abc.abstractmethod
    async def open(self, *, migrate: bool = True) -> None:
        """Connect, check durability settings, apply pending migrations (unless
        ``migrate`` is false, for read-only checks), and load the epoch.
        Raises ``DurabilityError`` or ``SchemaError``."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish queued writes and release connections."""

    @abc.abstractmethod
    async def write(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(tx, *args, **kwargs)`` in a write transaction (see module doc)."""

    @abc.abstractmethod
    async def read(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(tx, *args, **kwargs)`` against a consistent snapshot, off the
        event loop."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The newest migration applied to this database (0 if none)."""

    #: The folder under ``migrations/`` holding this backend's migrations.
    DIALECT: str = ""

    def latest_schema_version(self) -> int:
        """The newest migration this version of Frontdesk ships."""
        shipped = shipped_migrations(self.DIALECT)
        return shipped[-1][0] if shipped else 0

    @abc.abstractmethod
    async def missing_tables(self) -> list[str]:
        """The :data:`REQUIRED_TABLES` this database lacks."""

    async def durability(self) -> dict[str, Any]:
        """The durability settings in force, for ``verify`` and ``/healthz``."""
        return {}

    #: Seconds between the idle probes of :meth:`start_probing` (a knob tests set).
    probe_interval: float = PROBE_INTERVAL_S
    _probe: asyncio.Future[None] | None = None
    _prober: asyncio.Task[None] | None = None

    async def probe(self) -> None:
        """Write one probe row (its outcome lands in :attr:`health`). Single
        flight: a caller arriving while a probe is in progress waits for that
        one instead of queueing another commit."""
        if self._probe is None or self._probe.done():

            async def run() -> None:
                with contextlib.suppress(Unavailable):  # recorded in self.health (and logged) by the writer
                    await self.write(probe_write)

            self._probe = asyncio.ensure_future(run())
        await asyncio.shield(self._probe)

    async def check_writable(self) -> tuple[bool, str | None]:
        """(whether a write commits now, the storage error in full if not),
        from a probe write. For the start-up check and ``frontdesk verify``;
        ``/healthz`` reads :attr:`health` instead. Needs the schema."""
        await self.probe()
        return self.health.writable, self.health.detail

    def start_probing(self) -> None:
        """From the serving process: every :attr:`probe_interval` seconds in
        which nothing was written, write a probe row (one at a time), so the
        last outcome that ``/healthz`` reports stays fresh. Stopped by ``close``."""
        if self._prober is None:
            self._prober = asyncio.ensure_future(self._probe_loop())

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self.probe_interval - self.health.age()))
            if self.health.age() >= self.probe_interval:
                try:
                    await self.probe()
                except RuntimeError:  # closed under us
                    return
                except Exception:  # not the storage (that is in self.health): a bug, but keep probing
                    log.exception("the storage probe failed")

    async def _stop_probing(self) -> None:
        prober, self._prober = self._prober, None
        if prober is not None:
            prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await prober
        if self._probe is not None and not self._probe.done():
            with contextlib.suppress(Exception):
                await self._probe

    _reactors: tuple[Reactor, ...] = ()

    def add_reactor(self, reactor: Reactor) -> None:
        """Run ``reactor(tx, events)`` inside every write that appends events, after its operation and in
        its savepoint: what the reactor writes (a job, say) commits with those events or not at all, so no
        crash between a commit and a follow-up write can lose the follow-up. A reactor that raises fails
        the write, so it must be quick and sure: enqueue work, don't do it."""
        self._reactors = (*self._reactors, reactor)

    def _react(self, tx: Tx) -> None:
        if tx.events:
            for reactor in self._reactors:
                reactor(tx, list(tx.events))

    def _publish(self, events: list[EventRecord]) -> None:
        if events and self.on_commit is not None:
            self.on_commit(events)
