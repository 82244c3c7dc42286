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
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..domain import EventRecord
from ._sql import Tx

__all__ = ["REQUIRED_TABLES", "CommitListener", "Store"]

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
    "schema_migrations",
)


class Store(abc.ABC):
    """A durable store. Create one with :func:`frontdesk.server.store.open_store`."""

    #: Called on the event loop with the events of each committed batch.
    on_commit: CommitListener | None = None
    #: Names this database; cursors from another epoch need a reset.
    epoch: str = ""

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

    @abc.abstractmethod
    def latest_schema_version(self) -> int:
        """The newest migration this version of Frontdesk ships."""

    @abc.abstractmethod
    async def missing_tables(self) -> list[str]:
        """The :data:`REQUIRED_TABLES` this database lacks."""

    async def durability(self) -> dict[str, Any]:
        """The durability settings in force, for ``verify`` and ``/healthz``."""
        return {}

    def _publish(self, events: list[EventRecord]) -> None:
        if events and self.on_commit is not None:
            self.on_commit(events)
