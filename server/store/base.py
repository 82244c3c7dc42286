"""The store interface: what the server needs from a database.

A backend implements a handful of primitives (:meth:`Store.write`,
:meth:`Store.read`, migrations, close); every operation is then one function
of ``_sql`` run through them, so SQLite and PostgreSQL share one
implementation of the rules, and one contract test suite checks both.

Contract of :meth:`Store.write`: the function runs inside a transaction; its
result is returned only after that transaction has COMMITted durably ("acked
means stored"); the events it appended are passed to :attr:`Store.on_commit`
on the event loop, in ``event_id`` order, after COMMIT and never for a
transaction that rolled back. An exception raised by the function rolls back
only that function's work and is re-raised to its caller.
"""

from __future__ import annotations

import abc
import contextlib
import re
from collections.abc import Callable
from importlib import resources
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..domain import EventRecord
from ..exceptions import Unavailable
from . import _sql
from ._sql import Tx
from ._writer import WriteHealth

__all__ = ["PROBE_INTERVAL_S", "REQUIRED_TABLES", "CommitListener", "Store", "probe_write"]

P = ParamSpec("P")
T = TypeVar("T")
CommitListener = Callable[[list[EventRecord]], None]

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
    "schema_migrations",
)


#: /healthz reuses the last write's outcome when it is younger than this
#: (seconds), and else writes a probe: a flood of health checks cannot turn
#: into a flood of commits.
PROBE_INTERVAL_S = 1.0


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

    async def check_writable(self, *, max_age: float = PROBE_INTERVAL_S) -> tuple[bool, str | None]:
        """(whether a write commits now, the storage error if not): the last
        write's outcome when it is younger than ``max_age`` seconds, else the
        outcome of a probe write (one ``meta`` row). Needs the schema."""
        if self.health.checked_at == 0.0 or self.health.age() > max_age:
            with contextlib.suppress(Unavailable):  # recorded in self.health (and logged) by the writer
                await self.write(probe_write)
        return self.health.writable, self.health.error

    def _publish(self, events: list[EventRecord]) -> None:
        if events and self.on_commit is not None:
            self.on_commit(events)
