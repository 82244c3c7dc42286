"""The event log: every stored change, in one tenant-wide ``event_id`` order.

Operations that change something append their events with
:func:`append_event` in the same transaction; the backend publishes them
after COMMIT. Readers resume from a cursor (:func:`events_after`,
:func:`cursor_state`); ``frontdesk prune`` deletes old events
(:func:`prune_before`) and moves the floor below which cursors get
``reset_required``.
"""

from __future__ import annotations

from typing import Any

from .. import domain, protocol
from ..domain import EventRecord
from ._sql import Row, Tx, dumps, get_meta, now_ms, record_from_row, set_meta

__all__ = [
    "CURSOR_STATE_SQL",
    "append_event",
    "cursor_of",
    "cursor_state",
    "event_insert",
    "events_after",
    "last_event_id",
    "new_epoch",
    "next_event_id_sql",
    "prune_before",
    "prune_events",
    "record_from_row",
    "replay_frames",
]


def append_event(
    tx: Tx,
    tenant_id: int,
    kind: str,
    payload: Any,
    *,
    conversation_id: int | None = None,
    visitor_id: int | None = None,
    visitor_payload: Any = None,
    created_at: int | None = None,
    event_id: int | None = None,
) -> int:
    """Append one event to the log and to ``tx.events``; its ``event_id``.

    ``payload`` (agents) and ``visitor_payload`` (visitors; None: they never
    see it; the same object: both see the same data, encoded once) are the
    kind's :data:`protocol.EVENT_DATA` types, kept as JSON. An event whose
    payload carries its own id (``message.created``) passes ``event_id``,
    taken earlier in the same transaction with :func:`next_event_id_sql`, so
    that its row is written once, complete."""
    if event_id is not None:
        sql, params = event_insert(
            tx,
            tenant_id,
            kind,
            payload,
            conversation_id=conversation_id,
            visitor_id=visitor_id,
            visitor_payload=visitor_payload,
            created_at=created_at or now_ms(),
            event_id=event_id,
        )
        tx.run(sql, params)
        return event_id
    created = created_at or now_ms()
    wire, visitor_wire, text, visitor_text = _encoded(payload, visitor_payload)
    row = tx.one(
        "INSERT INTO events (tenant_id, kind, conversation_id, visitor_id, payload, visitor_payload, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING event_id",
        (tenant_id, kind, conversation_id, visitor_id, text, visitor_text, created),
    )
    assert row is not None
    event_id = int(row["event_id"])
    tx.events.append(EventRecord(event_id, tenant_id, kind, conversation_id, visitor_id, wire, visitor_wire, created))
    return event_id


def event_insert(
    tx: Tx,
    tenant_id: int,
    kind: str,
    payload: Any,
    *,
    conversation_id: int | None,
    visitor_id: int | None,
    visitor_payload: Any,
    created_at: int,
    event_id: int,
) -> tuple[str, tuple[Any, ...]]:
    """The ``INSERT`` (sql, parameters) of an event whose id is already taken
    (:func:`next_event_id_sql`), for an operation that sends it as part of a
    larger statement (one round trip on PostgreSQL). The event joins
    ``tx.events`` now: the caller must run the statement in this transaction
    (an exception rolls both back)."""
    wire, visitor_wire, text, visitor_text = _encoded(payload, visitor_payload)
    tx.events.append(
        EventRecord(event_id, tenant_id, kind, conversation_id, visitor_id, wire, visitor_wire, created_at)
    )
    return (
        "INSERT INTO events (event_id, tenant_id, kind, conversation_id, visitor_id, payload, visitor_payload,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (event_id, tenant_id, kind, conversation_id, visitor_id, text, visitor_text, created_at),
    )


def _encoded(payload: Any, visitor_payload: Any) -> tuple[Any, Any, str, str | None]:
    """(wire payload, wire visitor payload, their JSON texts); one encoding when both are the same object."""
    same = visitor_payload is payload
    wire = protocol.to_wire(payload)
    visitor_wire = wire if same else None if visitor_payload is None else protocol.to_wire(visitor_payload)
    text = dumps(wire)
    return wire, visitor_wire, text, text if same else None if visitor_wire is None else dumps(visitor_wire)


def next_event_id_sql(tx: Tx) -> str:
    """A SQL expression, for a ``RETURNING`` clause of a statement the
    operation runs anyway, that takes the ``event_id`` the next
    :func:`append_event` of this transaction must pass: the value the
    events table would assign itself (SQLite's AUTOINCREMENT counter, never
    reused; PostgreSQL's sequence, taken under the tenant's write lock,
    so a tenant's ids still become visible in increasing order). Use it once per
    appended event."""
    if tx.dialect == "postgres":
        return "nextval(pg_get_serial_sequence('events', 'event_id'))"
    # AUTOINCREMENT's own rule: one more than the larger of its counter and the largest id present.
    return (
        "(MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),"
        " COALESCE((SELECT MAX(event_id) FROM events), 0)) + 1)"
    )


def events_after(tx: Tx, viewer: domain.Viewer, since: int, limit: int) -> list[EventRecord]:
    """Up to ``limit`` events after ``since`` that ``viewer`` may see, in order.

    The SQL narrows by tenant (and visitor); :func:`domain.may_see` then
    applies the same rule that live fan-out uses.
    """
    return [r for r in map(record_from_row, _event_rows_after(tx, viewer, since, limit)) if domain.may_see(viewer, r)]


def _event_rows_after(tx: Tx, viewer: domain.Viewer, since: int, limit: int, columns: str = "*") -> list[Row]:
    """The rows behind :func:`events_after` and :func:`replay_frames`: narrowed by SQL, not yet by ``may_see``;
    ``columns`` of the events table (default: all)."""
    if viewer.is_agent:
        rows = tx.all(
            f"SELECT {columns} FROM events WHERE tenant_id = ? AND event_id > ? ORDER BY event_id LIMIT ?",
            (viewer.tenant_id, since, limit),
        )
    else:
        # Two range scans of events_visitor: the visitor's own events and the
        # tenant-wide ones (visitor_id IS NULL), not every tenant event after
        # the cursor. "+tenant_id" keeps the planner off events_tenant.
        # A verified visitor's scope also holds the visitors of the same identity.
        scope = sorted(viewer.visitor_scope)
        marks = ", ".join("?" * len(scope))
        rows = tx.all(
            f"SELECT * FROM (SELECT {columns} FROM events WHERE visitor_id IN ({marks}) AND event_id > ?"
            " AND +tenant_id = ? AND visitor_payload IS NOT NULL ORDER BY event_id LIMIT ?) AS visitor_events"
            f" UNION ALL SELECT * FROM (SELECT {columns} FROM events WHERE visitor_id IS NULL AND event_id > ?"
            " AND +tenant_id = ? AND visitor_payload IS NOT NULL ORDER BY event_id LIMIT ?) AS tenant_events"
            " ORDER BY event_id LIMIT ?",
            (*scope, since, viewer.tenant_id, limit, since, viewer.tenant_id, limit, limit),
        )
    return rows


#: What :func:`replay_frames` reads of an event, by audience: the one payload that audience gets (as ``data``),
#: and whether visitors never see the event (``domain.may_see`` needs no more of the other payload).
_REPLAY_COLUMNS = {
    True: "event_id, tenant_id, kind, conversation_id, visitor_id, created_at, payload AS data,"
    " visitor_payload IS NULL AS agent_only",
    False: "event_id, tenant_id, kind, conversation_id, visitor_id, created_at, visitor_payload AS data,"
    " visitor_payload IS NULL AS agent_only",
}


def replay_frames(tx: Tx, viewer: domain.Viewer, since: int, limit: int) -> tuple[list[str], int, bool]:
    """The push frames of what :func:`events_after` returns, each built around the stored JSON as it is: no
    decoding, no encoding (a reconnect storm replays thousands; issue 12). The frames are the ones live fan-out
    sends for the same events (``protocol.encode_stored_event``).

    Returns (frames, the last event_id read, whether ``limit`` rows were read: then more may follow after it).
    """
    frames: list[str] = []
    rows = _event_rows_after(tx, viewer, since, limit, _REPLAY_COLUMNS[viewer.is_agent])
    for row in rows:
        data = row["data"]
        record = EventRecord(
            row["event_id"],
            row["tenant_id"],
            row["kind"],
            row["conversation_id"],
            row["visitor_id"],
            data,  # the audience's payload: may_see reads only whether visitors have one
            None if row["agent_only"] else data,
            row["created_at"],
        )
        if not domain.may_see(viewer, record):
            continue
        frames.append(
            protocol.encode_stored_event(
                record.kind, data, event_id=record.event_id, conversation_id=record.conversation_id
            )
        )
    return frames, int(rows[-1]["event_id"]) if rows else since, len(rows) >= limit


def last_event_id(tx: Tx) -> int:
    """The newest event_id ever handed out (never below the pruned floor)."""
    return cursor_state(tx)[0]


def prune_events(tx: Tx, before_event_id: int) -> int:
    """Delete events up to ``before_event_id``; cursors older than that then
    get ``reset_required``. Returns the number deleted."""
    floor = int(get_meta(tx, "events_floor") or 0)
    if before_event_id <= floor:
        return 0
    n = tx.run("DELETE FROM events WHERE event_id <= ?", (before_event_id,))
    set_meta(tx, "events_floor", str(before_event_id))
    return n


#: The newest event id and the pruned floor (the ``meta`` row :func:`prune_events` writes), in one statement.
CURSOR_STATE_SQL = (
    "SELECT (SELECT COALESCE(MAX(event_id), 0) FROM events) AS newest,"
    " (SELECT value FROM meta WHERE key = 'events_floor') AS pruned"
)


def cursor_state(tx: Tx) -> tuple[int, int]:
    """(newest event_id, never below the floor; pruned floor): what a resume cursor is checked against.
    One statement (it was three: issue 12, the reconnect storm)."""
    row = tx.one(CURSOR_STATE_SQL)
    assert row is not None
    return cursor_of(row)


def cursor_of(row: Row) -> tuple[int, int]:
    """:func:`cursor_state` from a row holding :data:`CURSOR_STATE_SQL`'s ``newest`` and ``pruned`` columns."""
    floor = int(row["pruned"] or 0)
    return max(int(row["newest"]), floor), floor


def prune_before(tx: Tx, created_before_ms: int) -> tuple[int, int]:
    """Delete every event created before ``created_before_ms`` (and any older
    id): (events deleted, the new floor). Cursors at or below the floor then
    get ``reset_required``."""
    row = tx.one("SELECT MAX(event_id) AS e FROM events WHERE created_at < ?", (created_before_ms,))
    upto = int(row["e"]) if row and row["e"] is not None else 0
    return prune_events(tx, upto), upto


def new_epoch(tx: Tx, epoch: str) -> None:
    """Name the database anew (after a restore): every client's cursor then
    needs a reset. Nodes pick it up when they start."""
    set_meta(tx, "epoch", epoch)
