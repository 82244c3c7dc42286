"""The store's operations, written once in portable SQL.

Each function takes a :class:`Tx` (one open transaction) and does one whole
operation: the backends (SQLite, PostgreSQL) only decide how transactions are
opened, batched and committed. SQL here uses ``?`` placeholders and only what
both databases speak (``RETURNING``, partial indexes, ``LIKE``).

Write operations append their events to ``tx.events``; the backend publishes
them after COMMIT, never before (DESIGN.md, "The write path").
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from .. import domain, protocol
from ..domain import ConversationStatus, EventRecord, StatusAction
from ..exceptions import Conflict, NotFound, RateLimited

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

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute ``sql``; the number of rows it changed."""


def now_ms() -> int:
    """Wall-clock time in integer milliseconds, the protocol's time unit."""
    return time.time_ns() // 1_000_000


def _dumps(obj: Any) -> str:
    return protocol.encode(obj)  # orjson when installed: each message stores ~4 JSON documents


# --------------------------------------------------------------------------
# Wire objects (PROTOCOL.md, "Objects").


def _message_fields(row: Row, author_name: str | None) -> JSONDict:
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
    return protocol.Message(**_message_fields(row, author_name))


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


def _conversation_fields(row: Row) -> JSONDict:
    return {
        "id": row["id"],
        "visitor_id": row["visitor_id"],
        "status": row["status"],
        "assignee_id": row["assignee_id"],
        "created_at": row["created_at"],
        "last_activity": row["last_activity"],
        "last_seq": row["last_seq"],
        "unread_agent": row["unread_agent"],
        "unread_visitor": row["unread_visitor"],
        "preview": row["preview"],
    }


def conversation_obj(row: Row) -> protocol.Conversation:
    return protocol.Conversation(**_conversation_fields(row))


def visitor_obj(row: Row) -> protocol.Visitor:
    return protocol.Visitor(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        display_name=domain.display_name(row["name"], row["id"]),
        user_id=row["user_id"],
        verified=bool(row["verified"]),
        browser=row["browser"],
        os=row["os"],
        language=row["language"],
        timezone=row["timezone"],
        page_url=row["page_url"],
        page_title=row["page_title"],
        referrer=row["referrer"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
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


def with_presence(agent: protocol.AgentProfile, online: bool) -> protocol.Agent:
    """The Agent object: the stored profile plus whether they are online now."""
    return protocol.Agent(
        **{name: getattr(agent, name) for name in protocol.wire_fields(protocol.AgentProfile)}, online=online
    )


def tenant_obj(row: Row) -> protocol.Tenant:
    return protocol.Tenant(id=row["id"], slug=row["slug"], name=row["name"], site_key=row["site_key"])


def preview_of(body: str) -> str:
    """One line of at most 140 characters for the inbox."""
    line = " ".join(body.split())
    return line if len(line) <= 140 else line[:139] + "…"


# --------------------------------------------------------------------------
# Events.


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
) -> int:
    """Append one event to the log and to ``tx.events``; its ``event_id``.

    ``payload`` (agents) and ``visitor_payload`` (visitors; None: they never
    see it) are the kind's :data:`protocol.EVENT_DATA` types, kept as JSON."""
    created = created_at or now_ms()
    payload = protocol.to_wire(payload)
    visitor_payload = None if visitor_payload is None else protocol.to_wire(visitor_payload)
    row = tx.one(
        "INSERT INTO events (tenant_id, kind, conversation_id, visitor_id, payload, visitor_payload, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING event_id",
        (
            tenant_id,
            kind,
            conversation_id,
            visitor_id,
            _dumps(payload),
            None if visitor_payload is None else _dumps(visitor_payload),
            created,
        ),
    )
    assert row is not None
    event_id = int(row["event_id"])
    tx.events.append(
        EventRecord(event_id, tenant_id, kind, conversation_id, visitor_id, payload, visitor_payload, created)
    )
    return event_id


def _set_event_payload(tx: Tx, event_id: int, data: Any, visitor_data: Any) -> None:
    """Fill in a payload that needed the event's own id (messages carry it)."""
    payload = protocol.to_wire(data)
    visitor_payload = (
        payload if visitor_data is data else None if visitor_data is None else protocol.to_wire(visitor_data)
    )
    text = _dumps(payload)
    visitor_text = text if visitor_payload is payload else None if visitor_payload is None else _dumps(visitor_payload)
    tx.run("UPDATE events SET payload = ?, visitor_payload = ? WHERE event_id = ?", (text, visitor_text, event_id))
    for i, rec in enumerate(tx.events):
        if rec.event_id == event_id:
            tx.events[i] = EventRecord(
                rec.event_id,
                rec.tenant_id,
                rec.kind,
                rec.conversation_id,
                rec.visitor_id,
                payload,
                visitor_payload,
                rec.created_at,
            )


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


def events_after(tx: Tx, viewer: domain.Viewer, since: int, limit: int) -> list[EventRecord]:
    """Up to ``limit`` events after ``since`` that ``viewer`` may see, in order.

    The SQL narrows by tenant (and visitor); :func:`domain.may_see` then
    applies the same rule that live fan-out uses.
    """
    if viewer.is_agent:
        rows = tx.all(
            "SELECT * FROM events WHERE tenant_id = ? AND event_id > ? ORDER BY event_id LIMIT ?",
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
            f"SELECT * FROM (SELECT * FROM events WHERE visitor_id IN ({marks}) AND event_id > ? AND +tenant_id = ?"
            " AND visitor_payload IS NOT NULL ORDER BY event_id LIMIT ?) AS visitor_events"
            " UNION ALL SELECT * FROM (SELECT * FROM events WHERE visitor_id IS NULL AND event_id > ?"
            " AND +tenant_id = ? AND visitor_payload IS NOT NULL ORDER BY event_id LIMIT ?) AS tenant_events"
            " ORDER BY event_id LIMIT ?",
            (*scope, since, viewer.tenant_id, limit, since, viewer.tenant_id, limit, limit),
        )
    return [r for r in map(record_from_row, rows) if domain.may_see(viewer, r)]


def last_event_id(tx: Tx) -> int:
    row = tx.one("SELECT COALESCE(MAX(event_id), 0) AS m FROM events")
    floor = int(get_meta(tx, "events_floor") or 0)
    return max(int(row["m"]) if row else 0, floor)


def get_meta(tx: Tx, key: str) -> str | None:
    row = tx.one("SELECT value FROM meta WHERE key = ?", (key,))
    return None if row is None else str(row["value"])


def set_meta(tx: Tx, key: str, value: str) -> None:
    if tx.run("UPDATE meta SET value = ? WHERE key = ?", (value, key)) == 0:
        tx.run("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))


def prune_events(tx: Tx, before_event_id: int) -> int:
    """Delete events up to ``before_event_id``; cursors older than that then
    get ``reset_required``. Returns the number deleted."""
    floor = int(get_meta(tx, "events_floor") or 0)
    if before_event_id <= floor:
        return 0
    n = tx.run("DELETE FROM events WHERE event_id <= ?", (before_event_id,))
    set_meta(tx, "events_floor", str(before_event_id))
    return n


# --------------------------------------------------------------------------
# Tenants and configuration.


def create_tenant(tx: Tx, slug: str, name: str, site_key: str, secret: str, config: JSONDict) -> JSONDict:
    merged = {**domain.DEFAULT_CONFIG, "business_name": name, **config}
    row = tx.one(
        "INSERT INTO tenants (slug, name, site_key, secret, config, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        (slug, name, site_key, secret, _dumps(merged), now_ms()),
    )
    assert row is not None
    return row


def tenant_config(row: Row) -> JSONDict:
    """A tenant's full configuration: defaults overlaid with what is stored."""
    stored = json.loads(row["config"]) if row.get("config") else {}
    return {**domain.DEFAULT_CONFIG, **stored}


def set_config(tx: Tx, tenant_id: int, patch: JSONDict, actor_id: int) -> protocol.WidgetConfig:
    """Apply a validated partial configuration; emits ``config.updated``."""
    row = tx.one("SELECT * FROM tenants WHERE id = ?", (tenant_id,))
    if row is None:
        raise NotFound("no such tenant")
    config = {**tenant_config(row), **patch}
    tx.run("UPDATE tenants SET config = ? WHERE id = ?", (_dumps(config), tenant_id))
    append_event(
        tx,
        tenant_id,
        "config.updated",
        protocol.ConfigUpdated.of({**config, "updated_by": actor_id}),
        visitor_payload=protocol.PublicConfig.of(config),
    )
    return protocol.WidgetConfig.of(config)


# --------------------------------------------------------------------------
# Agents.


def create_agent(
    tx: Tx, tenant_id: int, email: str, name: str, role: str, password_hash: str, *, emit: bool = True
) -> protocol.AgentProfile:
    if tx.one("SELECT 1 FROM agents WHERE tenant_id = ? AND email = ?", (tenant_id, email)):
        raise Conflict(f"an agent with email {email} already exists")
    row = tx.one(
        "INSERT INTO agents (tenant_id, email, name, role, password_hash, active, created_at)"
        " VALUES (?, ?, ?, ?, ?, 1, ?) RETURNING *",
        (tenant_id, email, name, role, password_hash, now_ms()),
    )
    assert row is not None
    agent = agent_obj(row)
    if emit:
        append_event(tx, tenant_id, "agent.updated", _agent_updated(agent, sessions_revoked=False))
    return agent


def _agent_updated(agent: protocol.AgentProfile, *, sessions_revoked: bool) -> protocol.AgentUpdated:
    fields = {name: getattr(agent, name) for name in protocol.wire_fields(protocol.AgentProfile)}
    return protocol.AgentUpdated(**fields, sessions_revoked=sessions_revoked)


def update_agent(tx: Tx, tenant_id: int, agent_id: int, changes: Mapping[str, Any]) -> protocol.AgentProfile:
    """Apply ``changes`` (name, role, active, password_hash). Disabling or a new
    password revokes the agent's tokens in the same transaction."""
    row = tx.one("SELECT * FROM agents WHERE id = ? AND tenant_id = ?", (agent_id, tenant_id))
    if row is None:
        raise NotFound("no such agent in this tenant")
    allowed = {"name", "role", "active", "password_hash"}
    sets = {k: (int(v) if k == "active" else v) for k, v in changes.items() if k in allowed and v is not None}
    if sets:
        assignments = ", ".join(f"{k} = ?" for k in sets)
        tx.run(f"UPDATE agents SET {assignments} WHERE id = ?", (*sets.values(), agent_id))
    revoked = sets.get("active") == 0 or "password_hash" in sets
    if revoked:
        tx.run("DELETE FROM agent_tokens WHERE agent_id = ?", (agent_id,))
    new = tx.one("SELECT * FROM agents WHERE id = ?", (agent_id,))
    assert new is not None
    agent = agent_obj(new)
    # sessions_revoked tells every node to close the agent's open sockets
    # (PROTOCOL.md, agent.updated): a disabled agent's and a new password's.
    append_event(tx, tenant_id, "agent.updated", _agent_updated(agent, sessions_revoked=revoked))
    return agent


def count_active_admins(tx: Tx, tenant_id: int) -> int:
    row = tx.one("SELECT COUNT(*) AS n FROM agents WHERE tenant_id = ? AND role = 'admin' AND active = 1", (tenant_id,))
    return int(row["n"]) if row else 0


# --------------------------------------------------------------------------
# Visitors.

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
)


def create_visitor(tx: Tx, tenant_id: int, token_hash: str, fields: Mapping[str, Any]) -> Row:
    now = now_ms()
    cols = [k for k in VISITOR_FIELDS if fields.get(k) is not None]
    row = tx.one(
        f"INSERT INTO visitors (tenant_id, token_hash, first_seen, last_seen{''.join(', ' + c for c in cols)})"
        f" VALUES (?, ?, ?, ?{', ?' * len(cols)}) RETURNING *",
        (tenant_id, token_hash, now, now, *(fields[c] for c in cols)),
    )
    assert row is not None
    return row


def update_visitor(tx: Tx, tenant_id: int, visitor_id: int, fields: Mapping[str, Any]) -> Row:
    """Update some visitor fields and ``last_seen``. Agents hear of a change to
    what they display through ``visitor.updated``."""
    old = tx.one("SELECT * FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id))
    if old is None:
        raise NotFound("no such visitor")
    cols = [k for k in VISITOR_FIELDS if k in fields]
    sets = "".join(f", {c} = ?" for c in cols)
    row = tx.one(
        f"UPDATE visitors SET last_seen = ?{sets} WHERE id = ? RETURNING *",
        (now_ms(), *(fields[c] for c in cols), visitor_id),
    )
    assert row is not None
    # Only a change agents would see is an event: a reconnect that reports the
    # same page and browser costs no event (and no push to every agent).
    if any(row[c] != old[c] for c in cols):
        append_event(tx, tenant_id, "visitor.updated", visitor_obj(row), visitor_id=visitor_id)
    return row


def identify_visitor(
    tx: Tx, tenant_id: int, visitor_id: int, user_id: str | None, verified: bool, fields: Mapping[str, Any]
) -> Row:
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


def resume_visitor(tx: Tx, tenant_id: int, token_hash: str, fields: Mapping[str, Any]) -> Row | None:
    """The visitor holding ``token_hash`` in this tenant, with ``fields`` and
    ``last_seen`` updated; None for an unknown token (or another tenant's)."""
    row = tx.one("SELECT id FROM visitors WHERE token_hash = ? AND tenant_id = ?", (token_hash, tenant_id))
    return None if row is None else update_visitor(tx, tenant_id, int(row["id"]), fields)


def cursor_state(tx: Tx) -> tuple[int, int]:
    """(newest event_id, pruned floor): what a resume cursor is checked against."""
    return last_event_id(tx), int(get_meta(tx, "events_floor") or 0)


def hello_state(tx: Tx, tenant_id: int, visitor_id: int) -> tuple[int, int, list[protocol.Conversation], list[int]]:
    """Everything a visitor's hello reply reads, in one snapshot: the cursor
    state, the conversations of the visitor (and of the visitors sharing its
    verified identity), and that scope (:func:`visitor_scope`)."""
    last, floor = cursor_state(tx)
    scope = visitor_scope(tx, tenant_id, visitor_id)
    return last, floor, scope_conversations(tx, tenant_id, scope), scope


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


def identity_secrets(tx: Tx, tenant_id: int) -> list[str]:
    """The identity secrets a ``user_hash`` may be made with: the current one
    and, during a rotation, the previous one."""
    row = tx.one("SELECT secret, secret_previous FROM tenants WHERE id = ?", (tenant_id,))
    if row is None:
        raise NotFound("no such tenant")
    return [s for s in (row["secret"], row["secret_previous"]) if s]


def identity_secret_state(tx: Tx, tenant_id: int) -> JSONDict:
    """What an admin sees of the tenant's identity secrets."""
    row = tx.one("SELECT secret, secret_previous, secret_rotated_at FROM tenants WHERE id = ?", (tenant_id,))
    if row is None:
        raise NotFound("no such tenant")
    return {"secret": row["secret"], "previous": row["secret_previous"], "rotated_at": row["secret_rotated_at"]}


def rotate_identity_secret(tx: Tx, tenant_id: int, new_secret: str | None) -> JSONDict:
    """Start a rotation (``new_secret``: it becomes current, the current one
    stays valid as the previous, replacing any older previous) or end one
    (None: the previous secret stops being accepted)."""
    state = identity_secret_state(tx, tenant_id)
    if new_secret is None:
        tx.run("UPDATE tenants SET secret_previous = NULL WHERE id = ?", (tenant_id,))
    else:
        tx.run(
            "UPDATE tenants SET secret = ?, secret_previous = ?, secret_rotated_at = ? WHERE id = ?",
            (new_secret, state["secret"], now_ms(), tenant_id),
        )
    return identity_secret_state(tx, tenant_id)


# --------------------------------------------------------------------------
# Limits kept in the database, so that they hold across every node.


def take_token(tx: Tx, key: str, per_second: float, burst: float) -> None:
    """Take one token from the shared bucket ``key`` (full at ``burst``,
    refilled at ``per_second``), or raise :class:`RateLimited`; the caller's
    write then rolls back, the bucket with it. Inside the write transaction:
    SQLite's single writer, and on PostgreSQL the cluster-wide write lock,
    make every take exact.

    One statement (an upsert computing the refill), because on PostgreSQL
    each statement is a round trip on the message's write path. A node whose
    clock is behind the bucket's stamp adds nothing rather than taking away.
    """
    now = now_ms()
    refill = "CASE WHEN ? > rate_buckets.stamp THEN (? - rate_buckets.stamp) * ? ELSE 0 END"
    level = f"rate_buckets.tokens + {refill}"
    row = tx.one(
        "INSERT INTO rate_buckets (key, tokens, stamp) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
        f" tokens = (CASE WHEN {level} > ? THEN ? ELSE {level} END) - 1, stamp = ? RETURNING tokens",
        (key, float(burst) - 1, now, now, now, per_second / 1000, burst, burst, now, now, per_second / 1000, now),
    )
    assert row is not None
    tokens = float(row["tokens"])
    if tokens < 0:
        raise RateLimited("you are sending messages too fast", -tokens / per_second)


def login_attempt(tx: Tx, account: str, limit: int, window_ms: int) -> int:
    """Count a login attempt for ``account`` (trimmed, case-folded email)
    *before* the password is checked, or raise :class:`RateLimited` when it
    already has ``limit`` failures within ``window_ms``. Returns the
    attempt's id: :func:`login_succeeded` takes the account's attempts back.
    One transaction per attempt, so the count is exact across nodes."""
    now = now_ms()
    tx.run("DELETE FROM login_failures WHERE at <= ?", (now - window_ms,))
    rows = tx.all("SELECT at FROM login_failures WHERE account = ? ORDER BY at DESC, id DESC LIMIT ?", (account, limit))
    if len(rows) >= limit:
        raise RateLimited("too many failed logins", (int(rows[-1]["at"]) + window_ms - now) / 1000)
    row = tx.one("INSERT INTO login_failures (account, at) VALUES (?, ?) RETURNING id", (account, now))
    assert row is not None
    return int(row["id"])


def login_succeeded(tx: Tx, account: str) -> None:
    """A correct password clears the account's failures."""
    tx.run("DELETE FROM login_failures WHERE account = ?", (account,))


def erase_visitor(tx: Tx, tenant_id: int, visitor_id: int) -> int:
    """Remove every trace of a visitor (a data-protection erasure): messages,
    notes, events, idempotency records, queued jobs, conversations and the visitor row.
    Returns the number of conversations removed."""
    if tx.one("SELECT 1 FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id)) is None:
        raise NotFound("no such visitor")
    conv = "SELECT id FROM conversations WHERE visitor_id = ?"
    tx.run(f"DELETE FROM message_originals WHERE conversation_id IN ({conv})", (visitor_id,))  # store/edits.py
    tx.run(f"DELETE FROM messages WHERE conversation_id IN ({conv})", (visitor_id,))
    tx.run(f"DELETE FROM notes WHERE conversation_id IN ({conv})", (visitor_id,))
    tx.run(
        f"DELETE FROM events WHERE visitor_id = ? OR conversation_id IN ({conv})",
        (visitor_id, visitor_id),
    )
    # Agents' records are scoped "<id>" (messages) or "<what>:<id>" (notes,
    # status changes, assignment); each keeps a copy of what it wrote.
    tx.run(
        "DELETE FROM client_writes WHERE sender = ? OR EXISTS (SELECT 1 FROM conversations c WHERE c.visitor_id = ?"
        " AND (client_writes.scope = CAST(c.id AS TEXT) OR client_writes.scope LIKE ('%:' || CAST(c.id AS TEXT))))",
        (f"visitor:{visitor_id}", visitor_id),
    )
    tx.run("DELETE FROM jobs WHERE visitor_id = ?", (visitor_id,))  # queued emails and the like (store/jobs.py)
    n = tx.run("DELETE FROM conversations WHERE visitor_id = ?", (visitor_id,))
    tx.run("DELETE FROM rate_buckets WHERE key = ?", (f"visitor:{visitor_id}",))
    tx.run("DELETE FROM visitors WHERE id = ?", (visitor_id,))
    append_event(tx, tenant_id, "visitor.erased", {"visitor_id": visitor_id})
    return n


# --------------------------------------------------------------------------
# Conversations and messages.


def _conversation(tx: Tx, tenant_id: int, conversation_id: int, visitor_id: int | None = None) -> Row:
    """The conversation in the caller's scope, or NotFound (another tenant's or
    another visitor's conversation is indistinguishable from none). A
    visitor's scope includes the visitors of the same verified identity
    (:func:`visitor_scope`)."""
    row = tx.one("SELECT * FROM conversations WHERE id = ? AND tenant_id = ?", (conversation_id, tenant_id))
    if row is None or (
        visitor_id is not None
        and row["visitor_id"] != visitor_id
        and row["visitor_id"] not in visitor_scope(tx, tenant_id, visitor_id)
    ):
        raise NotFound(f"no conversation {conversation_id}")
    return row


def open_conversation_of(tx: Tx, visitor_id: int) -> Row | None:
    return tx.one("SELECT * FROM conversations WHERE visitor_id = ? AND status <> 'resolved'", (visitor_id,))


def _open_conversation_in(tx: Tx, visitor_id: int, scope: Sequence[int]) -> Row | None:
    """The open conversation of ``visitor_id`` or, failing that, the most
    recent open one of the visitors of its scope."""
    if len(scope) <= 1:
        return open_conversation_of(tx, visitor_id)
    marks = ", ".join("?" * len(scope))
    return tx.one(
        f"SELECT * FROM conversations WHERE visitor_id IN ({marks}) AND status <> 'resolved'"
        " ORDER BY (visitor_id = ?) DESC, last_activity DESC, id DESC LIMIT 1",
        (*scope, visitor_id),
    )


def start_conversation(tx: Tx, tenant_id: int, visitor_id: int) -> tuple[Row, bool]:
    """The visitor's open conversation, created if none: (row, created).

    The unique partial index on open conversations makes a double start
    impossible; the single writer makes the check-then-insert race-free.
    """
    existing = open_conversation_of(tx, visitor_id)
    if existing is not None:
        return existing, False
    scope = visitor_scope(tx, tenant_id, visitor_id)
    if not scope:  # erased while this request was on its way
        raise NotFound("no such visitor")
    existing = _open_conversation_in(tx, visitor_id, scope)
    if existing is not None:
        return existing, False
    now = now_ms()
    row = tx.one(
        "INSERT INTO conversations (tenant_id, visitor_id, status, created_at, last_activity)"
        " VALUES (?, ?, 'open', ?, ?) RETURNING *",
        (tenant_id, visitor_id, now, now),
    )
    assert row is not None
    visitor = tx.one("SELECT * FROM visitors WHERE id = ?", (visitor_id,))
    assert visitor is not None
    conv = conversation_obj(row)
    append_event(
        tx,
        tenant_id,
        "conversation.created",
        protocol.ConversationWithVisitor(**_conversation_fields(row), visitor=visitor_obj(visitor)),
        conversation_id=row["id"],
        visitor_id=visitor_id,
        visitor_payload=conv,
    )
    return row, True


def _idempotent(tx: Tx, cls: type[_R], sender: str, scope: str | None, client_id: str | None) -> _R | None:
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


def _remember(tx: Tx, sender: str, scope: str, client_id: str | None, result: protocol.Result) -> None:
    if client_id is not None:
        tx.run(
            "INSERT INTO client_writes (sender, scope, client_id, result, created_at) VALUES (?, ?, ?, ?, ?)",
            (sender, scope, client_id, _dumps(result), now_ms()),
        )


def _agent_name(tx: Tx, agent_id: int | None) -> str | None:
    if agent_id is None:
        return None
    row = tx.one("SELECT name FROM agents WHERE id = ?", (agent_id,))
    return None if row is None else str(row["name"])


def _visitor_name(tx: Tx, visitor_id: int) -> str:
    """A visitor's display name, as their messages carry it (PROTOCOL.md, "Message")."""
    row = tx.one("SELECT name FROM visitors WHERE id = ?", (visitor_id,))
    return domain.display_name(None if row is None else row["name"], visitor_id)


def post_message(
    tx: Tx,
    tenant_id: int,
    *,
    author_kind: str,
    author_id: int,
    conversation_id: int | None,
    client_id: str,
    body: str,
    budget: tuple[float, float] | None = None,
) -> protocol.MessageAck:
    """Store one visitor or agent message (DESIGN.md, write path step 3).

    In this one transaction: the idempotency check, the conversation's next
    ``seq``, the message, its ``message.created`` event, and the conversation's
    last activity, preview, unread count and status. A repeated ``client_id``
    returns the original result and stores nothing.

    A visitor without ``conversation_id`` writes to their open conversation
    (created if needed); an agent may not write to a resolved conversation.
    ``budget`` (per second, burst) charges the visitor's shared message bucket
    (:func:`take_token`) once the message is known to be new.
    """
    sender = f"{author_kind}:{author_id}"
    is_visitor = author_kind == "visitor"
    prior = _idempotent(
        tx, protocol.MessageAck, sender, None if conversation_id is None else str(conversation_id), client_id
    )
    if prior is not None:
        return prior
    if is_visitor and budget is not None:
        take_token(tx, f"visitor:{author_id}", *budget)
    now = now_ms()
    if conversation_id is None:
        if not is_visitor:
            raise NotFound("conversation_id is required")
        conv, _ = start_conversation(tx, tenant_id, author_id)
    else:
        conv = _conversation(tx, tenant_id, conversation_id, author_id if is_visitor else None)
    status = ConversationStatus(conv["status"])
    if is_visitor:
        new_status = domain.status_after_visitor_message(status)
        if status is ConversationStatus.RESOLVED and (
            _open_conversation_in(tx, author_id, visitor_scope(tx, tenant_id, author_id)) is not None
        ):
            raise Conflict("this conversation is closed; write in your open conversation")
        unread = "unread_agent = unread_agent + 1"
        assignee_id = conv["assignee_id"]
    else:
        if status is ConversationStatus.RESOLVED:
            raise Conflict("the conversation was resolved; reopen it to reply")
        new_status = status
        unread = "unread_visitor = unread_visitor + 1"
        # The first agent to answer an unassigned conversation takes it.
        assignee_id = conv["assignee_id"] if conv["assignee_id"] is not None else author_id
    updated = tx.one(
        f"UPDATE conversations SET last_seq = last_seq + 1, last_activity = ?, preview = ?, status = ?,"
        f" assignee_id = ?, {unread} WHERE id = ? RETURNING *",
        (now, preview_of(body), new_status.value, assignee_id, conv["id"]),
    )
    assert updated is not None
    seq = int(updated["last_seq"])
    author_name = _visitor_name(tx, author_id) if is_visitor else _agent_name(tx, author_id)
    conversation = conversation_obj(updated)
    event_id = append_event(
        tx, tenant_id, "message.created", {}, conversation_id=conv["id"], visitor_id=conv["visitor_id"], created_at=now
    )
    row = tx.one(
        "INSERT INTO messages (conversation_id, seq, author_kind, author_id, client_id, body, created_at, event_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (conv["id"], seq, author_kind, author_id, client_id, body, now, event_id),
    )
    assert row is not None
    fields = _message_fields(row, author_name)
    message = protocol.Message(**fields)
    data = protocol.MessageCreated(**fields, conversation=conversation)
    _set_event_payload(tx, event_id, data, data)
    result = protocol.MessageAck(
        client_id=client_id,
        conversation_id=conv["id"],
        seq=seq,
        event_id=event_id,
        server_time=now,
        message=message,
        conversation=conversation,
    )
    _remember(tx, sender, str(conv["id"]), client_id, result)
    return result


def post_note(
    tx: Tx, tenant_id: int, *, agent_id: int, conversation_id: int, client_id: str, body: str
) -> protocol.NoteAck:
    """Store a private note; visitors never see it (no visitor payload)."""
    sender = f"agent:{agent_id}"
    prior = _idempotent(tx, protocol.NoteAck, sender, f"note:{conversation_id}", client_id)
    if prior is not None:
        return prior
    conv = _conversation(tx, tenant_id, conversation_id)
    now = now_ms()
    updated = tx.one(
        "UPDATE conversations SET last_note_seq = last_note_seq + 1 WHERE id = ? RETURNING last_note_seq",
        (conv["id"],),
    )
    assert updated is not None
    seq = int(updated["last_note_seq"])
    event_id = append_event(tx, tenant_id, "note.created", {}, conversation_id=conv["id"], created_at=now)
    row = tx.one(
        "INSERT INTO notes (conversation_id, seq, agent_id, client_id, body, created_at, event_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (conv["id"], seq, agent_id, client_id, body, now, event_id),
    )
    assert row is not None
    note = note_obj(row, _agent_name(tx, agent_id))
    _set_event_payload(tx, event_id, note, None)
    result = protocol.NoteAck(
        client_id=client_id, conversation_id=conv["id"], seq=seq, event_id=event_id, server_time=now, note=note
    )
    _remember(tx, sender, f"note:{conv['id']}", client_id, result)
    return result


def _conversation_changed(
    tx: Tx, tenant_id: int, row: Row, actor_id: int | None, change: str
) -> protocol.ConversationChange:
    """Append ``conversation.updated`` for ``row``; ``actor_id`` is the agent
    who changed it (None: the visitor)."""
    fields = _conversation_fields(row)
    event_id = append_event(
        tx,
        tenant_id,
        "conversation.updated",
        protocol.ConversationUpdated(**fields, change=change, actor_id=actor_id),
        conversation_id=row["id"],
        visitor_id=row["visitor_id"],
        visitor_payload=protocol.VisitorConversationUpdated(**fields, change=change),
    )
    return protocol.ConversationChange(conversation=protocol.Conversation(**fields), event_id=event_id)


def change_status(
    tx: Tx, tenant_id: int, *, agent_id: int, conversation_id: int, action: StatusAction, client_id: str | None
) -> protocol.ConversationChange:
    """Resolve, reopen or pend. ``Conflict`` when the status does not allow it
    (e.g. someone else resolved it meanwhile)."""
    sender, scope = f"agent:{agent_id}", f"{action.value}:{conversation_id}"
    prior = _idempotent(tx, protocol.ConversationChange, sender, scope, client_id)
    if prior is not None:
        return prior
    conv = _conversation(tx, tenant_id, conversation_id)
    try:
        target = domain.next_status(ConversationStatus(conv["status"]), action)
    except domain.TransitionError as exc:
        raise Conflict(str(exc)) from None
    other = open_conversation_of(tx, conv["visitor_id"])
    if target is ConversationStatus.OPEN and other is not None and other["id"] != conv["id"]:
        raise Conflict("the visitor already has another open conversation")
    row = tx.one("UPDATE conversations SET status = ? WHERE id = ? RETURNING *", (target.value, conv["id"]))
    assert row is not None
    result = _conversation_changed(tx, tenant_id, row, agent_id, target.value)
    _remember(tx, sender, scope, client_id, result)
    return result


def assign(
    tx: Tx, tenant_id: int, *, agent_id: int, conversation_id: int, assignee_id: int | None, client_id: str | None
) -> protocol.ConversationChange:
    """Set or clear the assignee; the assignee must be an active agent of the
    same tenant."""
    sender, scope = f"agent:{agent_id}", f"assign:{conversation_id}"
    prior = _idempotent(tx, protocol.ConversationChange, sender, scope, client_id)
    if prior is not None:
        return prior
    conv = _conversation(tx, tenant_id, conversation_id)
    if assignee_id is not None:
        target = tx.one("SELECT * FROM agents WHERE id = ? AND tenant_id = ?", (assignee_id, tenant_id))
        if target is None:
            raise NotFound(f"no agent {assignee_id} in this tenant")
        if not target["active"]:
            raise Conflict(f"{target['name']} is disabled")
    row = tx.one("UPDATE conversations SET assignee_id = ? WHERE id = ? RETURNING *", (assignee_id, conv["id"]))
    assert row is not None
    result = _conversation_changed(tx, tenant_id, row, agent_id, "assigned" if assignee_id else "unassigned")
    _remember(tx, sender, scope, client_id, result)
    return result


def mark_seen(
    tx: Tx,
    tenant_id: int,
    *,
    side: str,
    visitor_id: int | None,
    conversation_id: int,
    seq: int,
    actor_id: int | None = None,
) -> bool:
    """Reset one side's unread count; ``actor_id`` is the agent who read (None
    for the visitor). Returns whether anything changed (an event is written
    only then, so repeated ``seen`` frames cost no events)."""
    conv = _conversation(tx, tenant_id, conversation_id, visitor_id)
    column = "unread_visitor" if side == "visitor" else "unread_agent"
    if conv[column] == 0 or seq <= 0:
        return False
    row = tx.one(f"UPDATE conversations SET {column} = 0 WHERE id = ? RETURNING *", (conv["id"],))
    assert row is not None
    _conversation_changed(tx, tenant_id, row, actor_id if side == "agent" else None, f"seen_by_{side}")
    return True


# --------------------------------------------------------------------------
# Reads.


def get_conversation(tx: Tx, tenant_id: int, conversation_id: int, visitor_id: int | None = None) -> Row:
    return _conversation(tx, tenant_id, conversation_id, visitor_id)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_conversations(
    tx: Tx,
    tenant_id: int,
    *,
    filter: str,
    me: int | None,
    query: str | None,
    visitor_id: int | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[protocol.ConversationWithVisitor], str | None]:
    """A page of conversations with their visitor, newest activity first,
    and the cursor of the next page (None at the end)."""
    where = ["c.tenant_id = ?"]
    params: list[Any] = [tenant_id]
    if filter in ("open", "pending", "resolved"):
        where.append("c.status = ?")
        params.append(filter)
    elif filter == "mine":
        where.append("c.assignee_id = ? AND c.status <> 'resolved'")
        params.append(me)
    elif filter == "unassigned":
        where.append("c.assignee_id IS NULL AND c.status <> 'resolved'")
    if visitor_id is not None:
        where.append("c.visitor_id = ?")
        params.append(visitor_id)
    if query:
        pattern = _like(query)
        where.append(
            "(v.name LIKE ? ESCAPE '\\' OR v.email LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m"
            " WHERE m.conversation_id = c.id AND m.body LIKE ? ESCAPE '\\'))"
        )
        params += [pattern, pattern, pattern]
    if cursor:
        try:
            last_activity, last_id = (int(p) for p in cursor.split(":", 1))
        except ValueError:
            raise NotFound("invalid cursor") from None
        where.append("(c.last_activity < ? OR (c.last_activity = ? AND c.id < ?))")
        params += [last_activity, last_activity, last_id]
    rows = tx.all(
        "SELECT c.*, v.id AS v_id, v.name AS v_name, v.email AS v_email, v.user_id AS v_user_id,"
        " v.verified AS v_verified, v.browser AS v_browser, v.os AS v_os, v.language AS v_language,"
        " v.timezone AS v_timezone, v.page_url AS v_page_url, v.page_title AS v_page_title,"
        " v.referrer AS v_referrer, v.first_seen AS v_first_seen, v.last_seen AS v_last_seen"
        " FROM conversations c JOIN visitors v ON v.id = c.visitor_id"
        f" WHERE {' AND '.join(where)} ORDER BY c.last_activity DESC, c.id DESC LIMIT ?",
        (*params, limit + 1),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    out = []
    for r in rows:
        visitor = visitor_obj({k[2:]: v for k, v in r.items() if k.startswith("v_")})
        out.append(protocol.ConversationWithVisitor(**_conversation_fields(r), visitor=visitor))
    next_cursor = f"{rows[-1]['last_activity']}:{rows[-1]['id']}" if more and rows else None
    return out, next_cursor


def history(
    tx: Tx,
    tenant_id: int,
    conversation_id: int,
    *,
    visitor_id: int | None,
    before_seq: int | None,
    limit: int,
    include_notes: bool,
) -> protocol.HistoryResult:
    """A page of messages (oldest first) and, for agents, the notes written in
    the same stretch of the conversation."""
    _conversation(tx, tenant_id, conversation_id, visitor_id)
    rows = tx.all(
        "SELECT m.*, a.name AS agent_name, v.name AS visitor_name FROM messages m"
        " LEFT JOIN agents a ON m.author_kind = 'agent' AND a.id = m.author_id"
        " LEFT JOIN visitors v ON m.author_kind = 'visitor' AND v.id = m.author_id"
        " WHERE m.conversation_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?",
        (conversation_id, before_seq or 2**62, limit + 1),
    )
    has_more = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    messages = [message_obj(r, _author_name(r)) for r in rows]
    if not include_notes:
        return protocol.HistoryResult(messages=messages, has_more=has_more)
    low = rows[0]["event_id"] if rows and has_more else 0
    high = 2**62
    if before_seq is not None:
        nxt = tx.one(
            "SELECT event_id FROM messages WHERE conversation_id = ? AND seq >= ? ORDER BY seq LIMIT 1",
            (conversation_id, before_seq),
        )
        high = nxt["event_id"] if nxt else high
    notes = tx.all(
        "SELECT n.*, a.name AS agent_name FROM notes n JOIN agents a ON a.id = n.agent_id"
        " WHERE n.conversation_id = ? AND n.event_id >= ? AND n.event_id < ? ORDER BY n.seq",
        (conversation_id, low, high),
    )
    return protocol.AgentHistoryResult(
        messages=messages, has_more=has_more, notes=[note_obj(n, n["agent_name"]) for n in notes]
    )


def _author_name(row: Row) -> str | None:
    if row["author_kind"] == "visitor":
        return domain.display_name(row["visitor_name"], row["author_id"])
    return None if row["agent_name"] is None else str(row["agent_name"])


def visitor_conversations(tx: Tx, tenant_id: int, visitor_id: int) -> list[protocol.Conversation]:
    rows = tx.all(
        "SELECT * FROM conversations WHERE tenant_id = ? AND visitor_id = ? ORDER BY last_activity DESC",
        (tenant_id, visitor_id),
    )
    return [conversation_obj(r) for r in rows]


def scope_conversations(tx: Tx, tenant_id: int, scope: Sequence[int]) -> list[protocol.Conversation]:
    """The conversations of every visitor in ``scope``, most recent first."""
    if not scope:
        return []
    if len(scope) == 1:
        return visitor_conversations(tx, tenant_id, scope[0])
    marks = ", ".join("?" * len(scope))
    rows = tx.all(
        f"SELECT * FROM conversations WHERE tenant_id = ? AND visitor_id IN ({marks})"
        " ORDER BY last_activity DESC, id DESC",
        (tenant_id, *scope),
    )
    return [conversation_obj(r) for r in rows]
