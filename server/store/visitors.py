"""Visitors: the people chatting from the widget, and their erasure.

Visitors are returned as the protocol's
:class:`~frontdesk.server.protocol.Visitor`. A visitor verified as a user
shares its conversations with the other visitors verified as the same user
(:func:`visitor_scope`). :func:`erase_visitor` is the data-protection
erasure: every feature that stores visitor data extends it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from .. import domain, protocol, visitor_context
from ..exceptions import Conflict, NotFound
from . import jobs
from ._sql import Row, Tx, conversation_obj, dumps, now_ms, visitor_obj, visitor_scope
from .csat import latest_survey
from .events import CURSOR_STATE_SQL, append_event, cursor_of, cursor_state, replay_frames
from .files import erase_visitor_files
from .reports import project_all

__all__ = [
    "VISITOR_FIELDS",
    "HelloState",
    "create_visitor",
    "erase_visitor",
    "find_visitors",
    "get_visitor",
    "hello_state",
    "identify_visitor",
    "resume_visitor",
    "scrub_ip_batch",
    "scrub_ips",
    "set_attributes",
    "update_visitor",
    "visitor_name",
    "visitor_scope",
]


class HelloState(NamedTuple):
    """What a visitor's ``hello`` reply reads, from one snapshot."""

    last_event_id: int  #: the newest event id (the cursor check)
    floor: int  #: the pruned floor (the cursor check)
    conversations: list[protocol.Conversation]  #: of the visitor's scope, most recent first
    scope: list[int]  #: :func:`visitor_scope`
    #: The first replay page after the hello's cursor (:func:`~.events.replay_frames`), read in the same
    #: snapshot; None when no cursor was given or it is out of range (then there is nothing to replay).
    replay: tuple[list[str], int, bool] | None = None
    #: The newest survey of the most recent conversation when that one is resolved (the widget shows its
    #: card to a visitor who comes back: PROTOCOL.md, "Satisfaction surveys"); None otherwise.
    survey: protocol.Csat | None = None


#: The visitor columns a hello, page or profile update may set.
VISITOR_FIELDS = (
    "name",
    "email",
    "user_id",
    "verified",
    "user_agent",
    "browser",
    "os",
    "language",
    "timezone",
    "page_url",
    "page_title",
    "referrer",
    # Migration 0015: the location looked up at hello (server/visitor_context.py); ip only while store_ip is on.
    "ip",
    "country",
    "region",
    "city",
)

#: A hello this long after the last one starts a new visit (``visits``).
VISIT_GAP_MS = 30 * 60_000


def create_visitor(tx: Tx, tenant_id: int, token_hash: str, fields: Mapping[str, Any]) -> protocol.Visitor:
    """A new visitor holding the token ``token_hash``, with ``fields`` (:data:`VISITOR_FIELDS`)."""
    now = now_ms()
    cols = [k for k in VISITOR_FIELDS if fields.get(k) is not None]
    row = tx.one(
        f"INSERT INTO visitors (tenant_id, token_hash, first_seen, last_seen{''.join(', ' + c for c in cols)})"
        f" VALUES (?, ?, ?, ?{', ?' * len(cols)}) RETURNING *",
        (tenant_id, token_hash, now, now, *(fields[c] for c in cols)),
    )
    assert row is not None
    return visitor_obj(row)


def update_visitor(tx: Tx, tenant_id: int, visitor_id: int, fields: Mapping[str, Any]) -> protocol.Visitor:
    """Update some visitor fields (:data:`VISITOR_FIELDS`) and ``last_seen``;
    ``NotFound`` for another tenant's visitor or an erased one. Agents hear
    of a change to what they display through ``visitor.updated``."""
    old = tx.one("SELECT * FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id))
    if old is None:
        raise NotFound("no such visitor")
    return visitor_obj(_update(tx, tenant_id, old, fields))


def _update(tx: Tx, tenant_id: int, old: Row, fields: Mapping[str, Any]) -> Row:
    """Write ``fields`` and ``last_seen`` over the visitor row ``old`` (read in this transaction): one
    statement, plus the event when agents would see a change."""
    cols = [k for k in VISITOR_FIELDS if k in fields]
    sets = "".join(f", {c} = ?" for c in cols)
    row = tx.one(
        f"UPDATE visitors SET last_seen = ?{sets} WHERE id = ? RETURNING *",
        (now_ms(), *(fields[c] for c in cols), old["id"]),
    )
    assert row is not None
    # Only a change agents would see is an event (resume_visitor has its own rule for a reconnect).
    if any(row[c] != old[c] for c in cols):
        append_event(tx, tenant_id, "visitor.updated", visitor_obj(row), visitor_id=int(row["id"]))
    return row


def identify_visitor(
    tx: Tx, tenant_id: int, visitor_id: int, user_id: str | None, verified: bool, fields: Mapping[str, Any]
) -> protocol.Visitor:
    """Store an identity claim the handler has checked (PROTOCOL.md,
    "Identity"), with its name and email in ``fields``.

    A visitor verified as one user cannot become another (``Conflict``: the
    site starts a new visitor instead), or that user's other devices would
    see the new user's chats. An unverified claim of the user a visitor is
    already verified as changes nothing of its identity.
    """
    row = tx.one("SELECT * FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id))
    if row is None:
        raise NotFound("no such visitor")
    out = dict(fields)
    if user_id is not None:
        if row["verified"] and row["user_id"] != user_id:
            raise Conflict("this visitor is verified as another user; start a new visitor (hello without a token)")
        if verified or not row["verified"]:
            out["user_id"] = user_id
            out["verified"] = int(verified)
    return update_visitor(tx, tenant_id, visitor_id, out)


def resume_visitor(tx: Tx, tenant_id: int, token_hash: str, fields: Mapping[str, Any]) -> protocol.Visitor | None:
    """The visitor holding ``token_hash`` in this tenant, with ``fields`` and
    ``last_seen`` updated; None for an unknown token (or another tenant's).
    A hello :data:`VISIT_GAP_MS` or more after the last one counts a new visit.

    One statement when ``fields`` change nothing agents see (a reconnect from the
    same page: the reconnect storm of issue 12), an ``UPDATE`` that matches only
    then; else a second ``UPDATE`` writes them, plus the ``visitor.updated``
    event (two statements for an unknown token). Each decides the visit from
    the row it updates, so both give what reading the row first would."""
    now = now_ms()
    cols = [k for k in VISITOR_FIELDS if k in fields]
    values = tuple(fields[c] for c in cols)
    same = " IS ?" if tx.dialect == "sqlite" else " IS NOT DISTINCT FROM ?"  # NULL-safe equality
    visit = "last_seen = ?, visits = CASE WHEN last_seen <= ? THEN COALESCE(NULLIF(visits, 0), 1) + 1 ELSE visits END"
    row = tx.one(
        f"UPDATE visitors SET {visit} WHERE token_hash = ? AND tenant_id = ?"
        f"{''.join(f' AND {c}{same}' for c in cols)} RETURNING *",
        (now, now - VISIT_GAP_MS, token_hash, tenant_id, *values),
    )
    if row is not None:
        return visitor_obj(row)
    # A field differs (the writer runs one job at a time; on PostgreSQL under
    # the tenant's lock), or no such visitor: then this one finds nothing either.
    row = tx.one(
        f"UPDATE visitors SET {visit}{''.join(f', {c} = ?' for c in cols)} WHERE token_hash = ? AND tenant_id = ?"
        " RETURNING *",
        (now, now - VISIT_GAP_MS, *values, token_hash, tenant_id),
    )
    if row is None:
        return None
    visitor = visitor_obj(row)
    append_event(tx, tenant_id, "visitor.updated", visitor, visitor_id=visitor.id)
    return visitor


def set_attributes(
    tx: Tx, tenant_id: int, visitor_id: int, update: Mapping[str, dict[str, Any] | None]
) -> protocol.Visitor:
    """Apply checked custom attributes (``visitor_context.validate_attributes``)
    to the visitor's; raises that module's error (the write rolls back) for a
    verified attribute the update may not change, or a set over its bounds.
    Agents hear of a change through ``visitor.updated``."""
    row = tx.one("SELECT * FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id))
    if row is None:
        raise NotFound("no such visitor")
    current = json.loads(row["attributes"]) if row["attributes"] else {}
    merged = visitor_context.merge_attributes(current, update)
    if merged == current:
        return visitor_obj(row)
    new = tx.one(
        "UPDATE visitors SET attributes = ?, attributes_text = ? WHERE id = ? RETURNING *",
        (json.dumps(merged, separators=(",", ":")), visitor_context.attributes_text(merged), visitor_id),
    )
    assert new is not None
    append_event(tx, tenant_id, "visitor.updated", visitor_obj(new), visitor_id=visitor_id)
    return visitor_obj(new)


def find_visitors(tx: Tx, tenant_id: int, words: list[str], limit: int = 50) -> list[protocol.Visitor]:
    """The tenant's visitors whose name, email, user id, location or custom
    attributes hold every word (a case-insensitive substring), most recently
    seen first."""
    if not words:
        return []
    haystack = (
        "LOWER(COALESCE(name, '') || ' ' || COALESCE(email, '') || ' ' || COALESCE(user_id, '') || ' ' ||"
        " COALESCE(country, '') || ' ' || COALESCE(region, '') || ' ' || COALESCE(city, '') || ' ' ||"
        " COALESCE(attributes_text, ''))"
    )
    where = " AND ".join(f"{haystack} LIKE ?" for _ in words)
    rows = tx.all(
        f"SELECT * FROM visitors WHERE tenant_id = ? AND {where} ORDER BY last_seen DESC, id DESC LIMIT ?",
        (tenant_id, *(f"%{w.lower()}%" for w in words), limit),
    )
    return [visitor_obj(r) for r in rows]


def hello_state(
    tx: Tx,
    tenant_id: int,
    visitor_id: int,
    viewer: domain.Viewer | None = None,
    since: int | None = None,
    limit: int = 2000,
) -> HelloState:
    """Everything a visitor's hello reply reads, in one snapshot: the cursor
    state, the conversations of the visitor (and of the visitors sharing its
    verified identity), and that scope: the ``viewer``'s when given (the one
    its live events and replay go through, so the list and the events agree;
    the visitor row is not read again), else :func:`visitor_scope`. With a
    ``viewer`` and a cursor ``since`` within the cursor state (the floor up to
    the newest event), also the first ``limit`` events of the replay after it,
    as :func:`~.events.replay_frames` reads them. When the most recent conversation is resolved, also its
    newest survey."""
    assert viewer is None or viewer.visitor_id == visitor_id
    scope = visitor_scope(tx, tenant_id, visitor_id) if viewer is None else sorted(viewer.visitor_scope)
    last, floor, conversations = _cursor_and_conversations(tx, tenant_id, scope)
    replay = None
    if viewer is not None and since is not None and floor <= since <= last:
        replay = replay_frames(tx, viewer, since, limit)
    survey = None
    if conversations and conversations[0].status == "resolved":
        survey = latest_survey(tx, tenant_id, conversations[0].id)
    return HelloState(last, floor, conversations, scope, replay, survey)


def _cursor_and_conversations(tx: Tx, tenant_id: int, scope: list[int]) -> tuple[int, int, list[protocol.Conversation]]:
    """:func:`~.events.cursor_state` and :func:`~.conversations.scope_conversations` (the same order) in one
    statement: the cursor's one row joined to the scope's conversations, a row of NULLs when there are none
    (issue 12: a resuming visitor's hello reads the cursor, its conversations and its replay, and no more)."""
    if not scope:
        return (*cursor_state(tx), [])
    marks = ", ".join("?" * len(scope))
    # "+c.tenant_id": SQLite's planner otherwise takes a tenant-wide index (every conversation of the tenant)
    # over conversations_visitor for the join.
    rows = tx.all(
        f"SELECT c.*, cur.newest, cur.pruned FROM ({CURSOR_STATE_SQL}) AS cur LEFT JOIN conversations AS c"
        f" ON +c.tenant_id = ? AND c.visitor_id IN ({marks}) ORDER BY c.last_activity DESC, c.id DESC",
        (tenant_id, *scope),
    )
    last, floor = cursor_of(rows[0])
    return last, floor, [conversation_obj(r) for r in rows if r["id"] is not None]


def erase_visitor(tx: Tx, tenant_id: int, visitor_id: int) -> int:
    """Remove every trace of a visitor (a data-protection erasure): messages,
    notes, events, idempotency records, queued jobs (emails too), webhook deliveries, email reply threads
    and held replies, conversations and the visitor row.
    Returns the number of conversations removed."""
    if tx.one("SELECT 1 FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id)) is None:
        raise NotFound("no such visitor")
    # The facts of every event so far first: the visitor's episode and reply rows then go below, while the
    # tenant's hourly counts keep what they did (docs/REPORTS.md, "Erasure").
    project_all(tx, tenant_id)
    conv = "SELECT id FROM conversations WHERE visitor_id = ?"
    tx.run(f"DELETE FROM message_originals WHERE conversation_id IN ({conv})", (visitor_id,))  # store/edits.py
    tx.run(f"DELETE FROM messages WHERE conversation_id IN ({conv})", (visitor_id,))
    tx.run(f"DELETE FROM notes WHERE conversation_id IN ({conv})", (visitor_id,))
    tx.run(
        f"DELETE FROM events WHERE visitor_id = ? OR conversation_id IN ({conv})",
        (visitor_id, visitor_id),
    )
    # Agents' records are scoped "<what>:<id>" (notes, status changes,
    # assignment); each keeps a copy of what it wrote. (Bare "<id>" scopes were
    # messages' records before migration 0007; messages are their own records now.)
    tx.run(
        "DELETE FROM client_writes WHERE sender = ? OR EXISTS (SELECT 1 FROM conversations c WHERE c.visitor_id = ?"
        " AND (client_writes.scope = CAST(c.id AS TEXT) OR client_writes.scope LIKE ('%:' || CAST(c.id AS TEXT))))",
        (f"visitor:{visitor_id}", visitor_id),
    )
    tx.run("DELETE FROM jobs WHERE visitor_id = ?", (visitor_id,))  # queued emails and the like (store/jobs.py)
    tx.run("DELETE FROM csat_surveys WHERE visitor_id = ?", (visitor_id,))  # ratings and comments (store/csat.py)
    tx.run("DELETE FROM export_records WHERE visitor_id = ?", (visitor_id,))  # exports naming them (store/exports.py)
    for table in ("report_episodes", "report_replies"):  # their episodes' durations (store/reports.py)
        tx.run(f"DELETE FROM {table} WHERE conversation_id IN ({conv})", (visitor_id,))
    erase_visitor_files(tx, visitor_id)  # rows now, blobs by the files.gc job it queues (store/files.py)
    tx.run("DELETE FROM webhook_deliveries WHERE visitor_id = ?", (visitor_id,))  # store/webhooks.py
    tx.run("DELETE FROM email_threads WHERE visitor_id = ?", (visitor_id,))  # store/mail.py: reply tokens
    tx.run("DELETE FROM email_held WHERE visitor_id = ?", (visitor_id,))  # and held email replies
    n = tx.run("DELETE FROM conversations WHERE visitor_id = ?", (visitor_id,))
    tx.run(
        "DELETE FROM rate_buckets WHERE key IN (?, ?)", (f"visitor:{visitor_id}", f"transcript:{visitor_id}")
    )  # message and transcript-email budgets (store/mail.py)
    tx.run("DELETE FROM visitors WHERE id = ?", (visitor_id,))
    append_event(tx, tenant_id, "visitor.erased", {"visitor_id": visitor_id})
    return n


#: The stored JSON copies a visitor object (with its ``ip``) can sit in: (table, key column, JSON columns).
#: Events carry visitors (``visitor.updated``, conversations with their visitor), webhook deliveries
#: and queued jobs carry the events' data.
_IP_COPIES = (
    ("events", "event_id", ("payload", "visitor_payload")),
    ("webhook_deliveries", "id", ("body",)),
    ("jobs", "id", ("payload",)),
)

#: A table's key past every row (its scrub is done).
_DONE = 2**62

#: A set ``ip`` in JSON text: compact (protocol.encode) or with a space (json.dumps, the jobs' payloads).
_IP_PATTERNS = ['%"ip":"%', '%"ip": "%']


def _without_ip(value: Any) -> tuple[Any, bool]:
    """``value`` (JSON data) with every string ``"ip"`` set to null (the Visitor object's field, PROTOCOL.md
    "Visitor", is the only ``ip`` on the wire); and whether anything changed."""
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "ip" and isinstance(item, str):
                out[key], changed = None, True
            else:
                out[key], sub = _without_ip(item)
                changed = changed or sub
        return out, changed
    if isinstance(value, list):
        items = [_without_ip(item) for item in value]
        return [i for i, _ in items], any(c for _, c in items)
    return value, False


#: Rows of each copy rewritten in one transaction; a tenant with more goes on in :data:`IP_SCRUB_JOB`
#: jobs, one batch each, so a big tenant's scrub never holds the writer for long.
IP_SCRUB_BATCH = 2000
#: The job that goes on scrubbing (payload: ``{"after": {table: last key done}}``; server/app.py runs it).
IP_SCRUB_JOB = "visitor.ip_scrub"


def scrub_ips(tx: Tx, tenant_id: int) -> int:
    """Forget every stored IP address of the tenant's visitors (``store_ip`` switched off, PROTOCOL.md
    "Location"): the visitors' ``ip`` column, and the copies in events, webhook deliveries and queued
    jobs. The country, region and city stay. In this transaction, up to :data:`IP_SCRUB_BATCH` copies
    per table; past that, an :data:`IP_SCRUB_JOB` job goes on (:func:`scrub_ip_batch`). The number of
    rows rewritten here."""
    n = tx.run("UPDATE visitors SET ip = NULL WHERE tenant_id = ? AND ip IS NOT NULL", (tenant_id,))
    return n + scrub_ip_batch(tx, tenant_id, {})


def scrub_ip_batch(tx: Tx, tenant_id: int, after: Mapping[str, int]) -> int:
    """One batch of :func:`scrub_ips`: the copies after the keys in ``after`` (per table), up to
    :data:`IP_SCRUB_BATCH` per table; when a table may hold more, the next batch is queued as an
    :data:`IP_SCRUB_JOB` job in this transaction. The number of rows rewritten.

    A copy is found by its JSON text (``"ip":"``), then rewritten through the JSON data, so only ``ip``
    fields change."""
    n, done, more = 0, dict(after), False
    for table, key, columns in _IP_COPIES:
        holding = " OR ".join(f"{c} LIKE ? OR {c} LIKE ?" for c in columns)
        found = tx.all(
            f"SELECT {key}, {', '.join(columns)} FROM {table} WHERE tenant_id = ? AND {key} > ? AND ({holding})"
            f" ORDER BY {key} LIMIT ?",
            (tenant_id, done.get(table, 0), *(_IP_PATTERNS * len(columns)), IP_SCRUB_BATCH),
        )
        for row in found:
            sets: dict[str, str] = {}
            for column in columns:
                if row[column] is None:
                    continue
                data, changed = _without_ip(json.loads(row[column]))
                if changed:
                    sets[column] = dumps(data)
            if sets:
                assignments = ", ".join(f"{c} = ?" for c in sets)
                tx.run(f"UPDATE {table} SET {assignments} WHERE {key} = ?", (*sets.values(), row[key]))
                n += 1
        if len(found) == IP_SCRUB_BATCH:
            done[table], more = int(found[-1][key]), True
        else:
            done[table] = _DONE
    if more:
        jobs.enqueue(tx, IP_SCRUB_JOB, {"after": done}, now=now_ms(), tenant_id=tenant_id)
    return n


def visitor_name(tx: Tx, visitor_id: int) -> str:
    """A visitor's display name, as their messages carry it (PROTOCOL.md, "Message")."""
    row = tx.one("SELECT name FROM visitors WHERE id = ?", (visitor_id,))
    return domain.display_name(None if row is None else row["name"], visitor_id)


def get_visitor(tx: Tx, tenant_id: int, visitor_id: int) -> protocol.Visitor | None:
    """The tenant's visitor with this id, or None (another tenant's, or erased)."""
    row = tx.one("SELECT * FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id))
    return None if row is None else visitor_obj(row)
