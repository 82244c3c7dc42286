"""Exports: the reads behind ``GET /v1/export/…`` and the record of every export (migration 0018).

The HTTP endpoints (``server/exports.py``) read a filtered set of conversations a page at a time
(:func:`conversation_page`), and for each page its messages, notes, events and surveys
(:func:`conversation_details`), so that no export is held whole in memory. Each export is recorded
(:func:`record_export`: who, what, when) and admins list the records (:func:`list_records`). A record
that names one visitor (their conversation, or a filter on them) carries the visitor's id, so erasing
the visitor deletes it (:mod:`.visitors`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import protocol
from ._sql import Row, Tx, dumps, label_ids_of, message_obj, note_obj, now_ms
from .files import attachments_of

__all__ = [
    "ExportFilter",
    "conversation_details",
    "conversation_page",
    "list_records",
    "record_export",
]


@dataclasses.dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which conversations an export takes: all of the tenant's unless narrowed."""

    conversation_id: int | None = None
    visitor_id: int | None = None
    status: str | None = None  #: open, pending or resolved
    since: int | None = None  #: created at or after (ms)
    until: int | None = None  #: created before (ms)
    query: str | None = None  #: how a client describes a filter of its own (``export.record``, ``describe=``)
    conversation_ids: tuple[int, ...] | None = None  #: these conversations only (``ids=``; a client's own list)

    def describe(self) -> str:
        """The filter as recorded: its set fields as JSON."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        if "conversation_ids" in fields:
            fields["conversation_ids"] = list(fields["conversation_ids"])
        return dumps(fields)


def conversation_page(tx: Tx, tenant_id: int, flt: ExportFilter, *, after_id: int, limit: int) -> list[Row]:
    """Up to ``limit`` conversations of the filter with ids above ``after_id``, in id order, each with its
    visitor's name and email, its assignee's name, its first agent reply, when it was last resolved and its
    latest rating, its team's name and its labels' names (``label_names``, when it has labels): the CSV's
    columns."""
    where = ["c.tenant_id = ?", "c.id > ?"]
    params: list[Any] = [tenant_id, after_id]
    for column, value in (
        ("c.id = ?", flt.conversation_id),
        ("c.visitor_id = ?", flt.visitor_id),
        ("c.status = ?", flt.status),
        ("c.created_at >= ?", flt.since),
        ("c.created_at < ?", flt.until),
    ):
        if value is not None:
            where.append(column)
            params.append(value)
    if flt.conversation_ids is not None:
        where.append(f"c.id IN ({', '.join('?' * len(flt.conversation_ids))})" if flt.conversation_ids else "0 = 1")
        params.extend(flt.conversation_ids)
    rows = tx.all(
        "SELECT c.*, v.name AS visitor_name, v.email AS visitor_email, a.name AS agent_name, t.name AS team_name,"
        " (SELECT MIN(m.created_at) FROM messages m WHERE m.conversation_id = c.id AND m.author_kind = 'agent')"
        " AS first_response_at,"
        " (SELECT MAX(e.created_at) FROM events e WHERE e.conversation_id = c.id AND e.kind = 'conversation.updated'"
        '  AND e.payload LIKE \'%"change":"resolved"%\') AS resolved_at,'
        " (SELECT s.rating FROM csat_surveys s WHERE s.conversation_id = c.id ORDER BY s.episode DESC LIMIT 1)"
        " AS csat_rating,"
        " (SELECT s.scale FROM csat_surveys s WHERE s.conversation_id = c.id ORDER BY s.episode DESC LIMIT 1)"
        " AS csat_scale"
        " FROM conversations c JOIN visitors v ON v.id = c.visitor_id"
        " LEFT JOIN agents a ON a.id = c.assignee_id LEFT JOIN teams t ON t.id = c.team_id"
        f" WHERE {' AND '.join(where)} ORDER BY c.id LIMIT ?",
        (*params, limit),
    )
    if any(r["label_ids"] for r in rows):
        names = {r["id"]: r["name"] for r in tx.all("SELECT id, name FROM labels WHERE tenant_id = ?", (tenant_id,))}
        for r in rows:
            r["label_names"] = [names[i] for i in label_ids_of(r["label_ids"]) if i in names]
    return rows


def conversation_details(tx: Tx, conversation_ids: list[int], *, include_notes: bool) -> dict[int, dict[str, Any]]:
    """For each conversation: its messages (with authors' names and attachments), its notes when asked, its
    events' kinds and times (``events``), its surveys and its attachments' metadata, as wire values."""
    out: dict[int, dict[str, Any]] = {
        c: {"messages": [], "notes": [], "events": [], "csat": [], "attachments": []} for c in conversation_ids
    }
    if not conversation_ids:
        return out
    marks = ", ".join("?" * len(conversation_ids))
    messages: list[protocol.Message] = []
    for r in tx.all(
        "SELECT m.*, a.name AS agent_name, v.name AS visitor_name FROM messages m"
        " LEFT JOIN agents a ON m.author_kind = 'agent' AND a.id = m.author_id"
        " LEFT JOIN visitors v ON m.author_kind = 'visitor' AND v.id = m.author_id"
        f" WHERE m.conversation_id IN ({marks}) ORDER BY m.conversation_id, m.seq",
        conversation_ids,
    ):
        name = r["agent_name"] if r["author_kind"] == "agent" else r["visitor_name"]
        messages.append(message_obj(r, name))
    notes = []
    if include_notes:
        for r in tx.all(
            "SELECT n.*, a.name AS agent_name FROM notes n LEFT JOIN agents a ON a.id = n.agent_id"
            f" WHERE n.conversation_id IN ({marks}) ORDER BY n.conversation_id, n.seq",
            conversation_ids,
        ):
            notes.append(note_obj(r, r["agent_name"]))
    # Attachment metadata (store/files.py): on each message and note, and listed per conversation.
    by_message, by_note = attachments_of(tx, message_ids=[m.id for m in messages], note_ids=[n.id for n in notes])
    for m in messages:
        m.attachments = by_message.get(m.id, [])
        out[m.conversation_id]["messages"].append(protocol.to_wire(m))
        out[m.conversation_id]["attachments"] += [protocol.to_wire(a) for a in m.attachments]
    for n in notes:
        n.attachments = by_note.get(n.id, [])
        out[n.conversation_id]["notes"].append(protocol.to_wire(n))
        out[n.conversation_id]["attachments"] += [protocol.to_wire(a) for a in n.attachments]
    for r in tx.all(
        "SELECT event_id, kind, conversation_id, created_at, payload FROM events"
        f" WHERE conversation_id IN ({marks}) AND kind NOT IN ('message.created', 'note.created')"
        " ORDER BY event_id",
        conversation_ids,
    ):
        payload = protocol.decode(r["payload"]) if r["payload"] else {}
        entry = {"event_id": r["event_id"], "kind": r["kind"], "created_at": r["created_at"]}
        if isinstance(payload, dict) and "change" in payload:
            entry["change"] = payload["change"]
            entry["actor_id"] = payload.get("actor_id")
        out[r["conversation_id"]]["events"].append(entry)
    for r in tx.all(
        f"SELECT * FROM csat_surveys WHERE conversation_id IN ({marks}) ORDER BY conversation_id, episode",
        conversation_ids,
    ):
        out[r["conversation_id"]]["csat"].append(
            {k: r[k] for k in ("agent_id", "scale", "rating", "comment", "created_at", "rated_at")}
        )
    return out


def _entry(row: Row) -> protocol.ExportEntry:
    return protocol.ExportEntry(
        id=row["id"],
        agent_id=row["agent_id"],
        kind=row["kind"],
        format=row["format"],
        filter=row["filter"],
        rows=row["rows"],
        created_at=row["created_at"],
    )


def record_export(
    tx: Tx,
    tenant_id: int,
    *,
    agent_id: int,
    kind: str,
    format: str,
    flt: ExportFilter,
    rows: int,
    now: int | None = None,
) -> protocol.ExportEntry:
    """Record that ``agent_id`` exported ``kind`` as ``format`` with the filter ``flt``. A filter on one
    conversation or visitor names that visitor on the record (erasure deletes it)."""
    visitor_id = flt.visitor_id
    if flt.conversation_id is not None and visitor_id is None:
        found = tx.one(
            "SELECT visitor_id FROM conversations WHERE id = ? AND tenant_id = ?", (flt.conversation_id, tenant_id)
        )
        visitor_id = None if found is None else found["visitor_id"]
    row = tx.one(
        "INSERT INTO export_records (tenant_id, agent_id, kind, format, filter, visitor_id, rows, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (tenant_id, agent_id, kind, format, flt.describe(), visitor_id, rows, now or now_ms()),
    )
    assert row is not None
    return _entry(row)


def list_records(tx: Tx, tenant_id: int, *, before: int | None, limit: int) -> list[protocol.ExportEntry]:
    """The tenant's export records, newest first, below the id ``before``."""
    rows = tx.all(
        "SELECT * FROM export_records WHERE tenant_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        (tenant_id, before or protocol.MAX_INT, limit),
    )
    return [_entry(r) for r in rows]
