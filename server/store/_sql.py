"""The store's private plumbing, shared by its operation modules.

The operations themselves are public and grouped by aggregate:
:mod:`.tenants`, :mod:`.agents`, :mod:`.visitors`, :mod:`.conversations`,
:mod:`.messages`, :mod:`.events` (and :mod:`.jobs`, :mod:`.secrets`). Each
takes a :class:`Tx` (one open transaction) and does one whole operation, so
that operations compose inside one transaction (a job enqueued with the
write that calls for it); the backends (SQLite, PostgreSQL) only decide how
transactions are opened, batched and committed. Callers outside the store
run them through :meth:`Store.write` / :meth:`Store.read` and never write SQL.

Here: the :class:`Tx` protocol, the row → protocol object conversions, the
``meta`` key/value table and the idempotency records. SQL uses ``?``
placeholders and only what both databases speak (``RETURNING``, partial
indexes, ``LIKE``).

Write operations append their events to ``tx.events``; the backend publishes
them after COMMIT, never before (DESIGN.md, "The write path").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from .. import domain, protocol
from ..domain import EventRecord

JSONDict = dict[str, Any]
Row = dict[str, Any]
_R = TypeVar("_R", bound=protocol.Result)


class Tx(Protocol):
    """One open transaction, as the operations see it."""

    events: list[EventRecord]
    #: The backend's SQL dialect (``"sqlite"`` or ``"postgres"``), for the rare
    #: clause only one of them speaks (``FOR UPDATE SKIP LOCKED``).
    dialect: str

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of ``sql`` as a dict, or None."""

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of ``sql`` as dicts."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of ``sql`` as a plain tuple, in the order of its columns: for a read of many rows
        (the reports' durations), where a dict per row would cost more than the query."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute ``sql``; the number of rows it changed."""

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute ``sql`` once per row of parameters, in one call: the driver runs them without a round trip
        each (SQLite's executemany; psycopg pipelines them)."""

    def ahead(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], Row | None]:
        """Execute ``sql``; a function giving its first row (or None). The store may send it without waiting
        for its answer, which the function then waits for (PostgreSQL: a writer that begins several jobs'
        statements this way gets all their answers in one round trip)."""

    def defer(
        self,
        sql: str,
        params: Sequence[Any] = (),
        check: Callable[[Row | None], None] | None = None,
        refusing: str | None = None,
    ) -> None:
        """Execute ``sql`` for its effect, and call ``check`` with its first row (or None) before COMMIT; a
        ``check`` that raises fails the write like a statement that raises. The store may send it without
        waiting for its result (PostgreSQL sends it with the job's next statement, or the batch's last round
        trip), so the statements that follow must not need its result: they still see its effect, since
        statements run in the order they were sent.

        ``refusing`` (same parameters) is ``sql`` made to fail in the database wherever ``check`` would
        raise. A store may run it instead and skip ``check``, so as to send COMMIT before the result is back
        (PostgreSQL's pipelined pass: one round trip fewer); a failure there sends the batch round again one
        job at a time, where ``sql`` and ``check`` run and raise the write's own error."""


#: Operations a writer may run in two steps: ``BEGINNINGS[fn](tx, *args, **kwargs)`` sends the operation's first
#: statements (with :meth:`Tx.ahead`) and returns the rest of ``fn(tx, *args, **kwargs)`` as a function of no
#: arguments. A writer holding several such jobs begins them all, then finishes each in order, so that their
#: first statements share a round trip; it must be as if each job had run whole in turn (each operation's
#: docstring says why it is), and a writer that cannot tell runs them whole.
BEGINNINGS: dict[Callable[..., Any], Callable[..., Callable[[], Any]]] = {}


def now_ms() -> int:
    """Wall-clock time in integer milliseconds, the protocol's time unit."""
    return time.time_ns() // 1_000_000


def dumps(obj: Any) -> str:
    """JSON text of a wire value (orjson when installed)."""
    return protocol.encode(obj)


# --------------------------------------------------------------------------
# Wire objects (PROTOCOL.md, "Objects").


def message_fields(row: Row, author_name: str | None) -> JSONDict:
    return {
        "id": row["id"],
        "conversation_id": row["conversation_id"],
        "seq": row["seq"],
        "author_kind": row["author_kind"],
        "author_id": row["author_id"],
        "author_name": author_name,
        "client_id": row["client_id"],
        "body": row["body"],
        "created_at": row["created_at"],
        "event_id": row["event_id"],
        "edited_at": row.get("edited_at"),  # migration 0009 (store/edits.py)
        "deleted": bool(row.get("deleted")),
    }


def message_obj(row: Row, author_name: str | None) -> protocol.Message:
    return protocol.Message(**message_fields(row, author_name))


def note_obj(row: Row, author_name: str | None) -> protocol.PrivateNote:
    return protocol.PrivateNote(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        author_kind="agent",
        author_id=row["agent_id"],
        author_name=author_name,
        client_id=row["client_id"],
        body=row["body"],
        created_at=row["created_at"],
        event_id=row["event_id"],
    )


def conversation_fields(row: Row) -> JSONDict:
    return {
        "id": row["id"],
        "visitor_id": row["visitor_id"],
        # A snooze is a flag over the stored status (migration 0013); the wire shows it as a status of its own.
        "status": "snoozed" if row.get("snoozed") else row["status"],
        "assignee_id": row["assignee_id"],
        "created_at": row["created_at"],
        "last_activity": row["last_activity"],
        "last_seq": row["last_seq"],
        "unread_agent": row["unread_agent"],
        "unread_visitor": row["unread_visitor"],
        "preview": row["preview"],
        "team_id": row.get("team_id"),  # migration 0012 (store/teams.py)
        "label_ids": label_ids_of(row.get("label_ids")),  # migration 0012 (store/labels.py)
        "snoozed_until": row.get("snoozed_until") if row.get("snoozed") else None,
        # NULL with an assignee: the first agent to answer took it (messages.post_message), a manual assignment.
        "assign_reason": (row.get("assign_reason") or "manual") if row["assignee_id"] is not None else None,
    }


def label_ids_of(text: str | None) -> list[int]:
    """A conversation's ``label_ids`` column (",3,7,"; "" for none) as a list of ids."""
    return [int(part) for part in text.split(",") if part] if text else []


def label_ids_text(ids: Sequence[int]) -> str:
    """The ``label_ids`` column for ``ids``: ascending, between commas, "" for none."""
    return "," + ",".join(str(i) for i in sorted(set(ids))) + "," if ids else ""


def conversation_obj(row: Row) -> protocol.Conversation:
    return protocol.Conversation(**conversation_fields(row))


#: The fields of :class:`protocol.Visitor` computed here rather than read from a column of the same name.
_VISITOR_COMPUTED = frozenset({"display_name", "verified", "visits", "attributes"})
#: The rest are the ``visitors`` row's columns, read by name: a new field needs its declaration in
#: protocol.py and its column in a migration, nothing here.
_VISITOR_COLUMNS = tuple(name for name in protocol.wire_fields(protocol.Visitor) if name not in _VISITOR_COMPUTED)


def visitor_obj(row: Row) -> protocol.Visitor:
    """The wire Visitor of a ``visitors`` row (every column selected). Columns a migration added read as
    their defaults on a database not migrated that far (the migration tests run operations there)."""
    attributes = json.loads(row["attributes"]) if row.get("attributes") else {}
    columns: dict[str, Any] = {name: row.get(name) for name in _VISITOR_COLUMNS}
    return protocol.Visitor(
        **columns,
        display_name=domain.display_name(row["name"], row["id"]),
        verified=bool(row["verified"]),
        visits=int(row.get("visits") or 1),
        attributes={name: protocol.VisitorAttribute(**entry) for name, entry in attributes.items()},
    )


def agent_obj(row: Row) -> protocol.AgentProfile:
    return protocol.AgentProfile(
        id=row["id"],
        tenant_id=row["tenant_id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        active=bool(row["active"]),
        away=bool(row.get("away")),  # migration 0009 (store/agents_self.py)
    )


def preview_of(body: str) -> str:
    """One line of at most 140 characters for the inbox."""
    line = " ".join(body.split())
    return line if len(line) <= 140 else line[:139] + "…"


def record_from_row(row: Row) -> EventRecord:
    return EventRecord(
        event_id=row["event_id"],
        tenant_id=row["tenant_id"],
        kind=row["kind"],
        conversation_id=row["conversation_id"],
        visitor_id=row["visitor_id"],
        payload=json.loads(row["payload"]),
        visitor_payload=None if row["visitor_payload"] is None else json.loads(row["visitor_payload"]),
        created_at=row["created_at"],
    )


def get_meta(tx: Tx, key: str) -> str | None:
    row = tx.one("SELECT value FROM meta WHERE key = ?", (key,))
    return None if row is None else str(row["value"])


def set_meta(tx: Tx, key: str, value: str) -> None:
    if tx.run("UPDATE meta SET value = ? WHERE key = ?", (value, key)) == 0:
        tx.run("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))


def idempotent(tx: Tx, cls: type[_R], sender: str, scope: str | None, client_id: str | None) -> _R | None:
    """The result stored for this ``client_id`` by an earlier write, if any."""
    if client_id is None:
        return None
    if scope is None:
        row = tx.one("SELECT result FROM client_writes WHERE sender = ? AND client_id = ?", (sender, client_id))
    else:
        row = tx.one(
            "SELECT result FROM client_writes WHERE sender = ? AND scope = ? AND client_id = ?",
            (sender, scope, client_id),
        )
    return None if row is None else protocol.from_wire(cls, json.loads(row["result"]))


def remember(tx: Tx, sender: str, scope: str, client_id: str | None, result: protocol.Result) -> None:
    if client_id is not None:
        tx.run(
            "INSERT INTO client_writes (sender, scope, client_id, result, created_at) VALUES (?, ?, ?, ?, ?)",
            (sender, scope, client_id, dumps(result), now_ms()),
        )


def visitor_scope(tx: Tx, tenant_id: int, visitor_id: int) -> list[int]:
    """The visitors whose conversations ``visitor_id`` may read and write: itself
    and, when its identity is *verified*, every visitor of the tenant verified
    as the same ``user_id`` (the same user on another browser or device).
    Empty when the visitor no longer exists (erased)."""
    row = tx.one("SELECT user_id, verified FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id))
    if row is None:
        return []
    if not row["verified"] or row["user_id"] is None:
        return [visitor_id]
    rows = tx.all(
        "SELECT id FROM visitors WHERE tenant_id = ? AND user_id = ? AND verified = 1", (tenant_id, row["user_id"])
    )
    return sorted({visitor_id, *(int(r["id"]) for r in rows)})
