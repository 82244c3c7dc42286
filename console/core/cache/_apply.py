"""The rules that turn the server's objects and events into cache rows.

Each function runs on the writer thread, inside the caller's transaction, and
takes the protocol layer's typed objects (never wire dicts). What a write changed
is collected in an :class:`Applied`, which the core turns into listener calls.

Optimistic actions: the ``conversations`` table keeps the server's ``status``
and ``assignee_id`` as last heard, and ``eff_status`` / ``eff_assignee_id``:
the same with this console's pending outbox actions applied in order
(:func:`recompute`). The inbox shows and filters on the ``eff_`` columns, so
an action shows at once; when the server rejects it, recomputing from the
server's columns undoes it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from typing import Any, Final, Literal

from frontdesk.server.protocol import (
    EVENT_KINDS,
    AgentPresence,
    AgentUpdated,
    Attachment,
    CannedUpdated,
    ConfigUpdated,
    Conversation,
    ConversationUpdated,
    ConversationWithVisitor,
    Csat,
    EventFrame,
    HeldEmailUpdated,
    LabelUpdated,
    Message,
    MessageCreated,
    MessageUpdated,
    PrivateNote,
    SeenUpTo,
    TeamUpdated,
    Visitor,
    VisitorErased,
    WidgetConfig,
    from_wire,
    to_wire,
    wire_fields,
)

from ..rows import AgentRow, Notification, unknown_visitor
from ._activity import TRAIL_CHANGES, record_activity
from ._csat import apply_csat
from ._held import apply_held
from ._schema import Db, set_meta
from ._workflow import apply_workflow_event, label_ids_of, label_ids_text, pending_labels

__all__ = [
    "PREVIEW_CHARS",
    "VISITOR_COLUMNS",
    "Applied",
    "apply_event",
    "apply_message",
    "apply_message_update",
    "config_values",
    "insert_item",
    "recompute",
    "replace_agents",
    "set_cursor",
    "upsert_agent",
    "upsert_conversation",
    "upsert_visitor",
]

log = logging.getLogger("frontdesk.console.cache")

#: Longest preview kept for an inbox line.
PREVIEW_CHARS: Final = 200

#: The ``visitors`` table's columns: the Visitor object's fields (PROTOCOL.md,
#: "Visitor"), declared once in the protocol layer.
VISITOR_COLUMNS: Final[tuple[str, ...]] = wire_fields(Visitor)


def config_values(config: WidgetConfig) -> dict[str, Any]:
    """The widget configuration as the plain mapping the cache keeps and the
    settings dialog edits (the WidgetConfig fields only: no ``updated_by``)."""
    return {name: getattr(config, name) for name in wire_fields(WidgetConfig)}


@dataclasses.dataclass
class Applied:
    """What a write changed: the core turns it into listener calls."""

    conversations: set[int] = dataclasses.field(default_factory=set)
    threads: set[int] = dataclasses.field(default_factory=set)
    #: The thread items that changed (or went), by conversation: ``m<id>``,
    #: ``n<id>`` for messages and notes, ``o<outbox id>`` for outbox items.
    items: dict[int, set[str]] = dataclasses.field(default_factory=dict)
    reload_all: bool = False
    agents: bool = False
    config: dict[str, Any] | None = None
    outbox: bool = False
    notifications: list[Notification] = dataclasses.field(default_factory=list)
    cursor: int | None = None
    #: Teams, labels or canned responses changed (_workflow.py).
    workflow: bool = False

    def touch(self, conversation_id: int, key: str) -> None:
        """Record that thread item ``key`` of a conversation changed."""
        self.threads.add(conversation_id)
        self.items.setdefault(conversation_id, set()).add(key)

    def merge(self, other: Applied) -> None:
        """Fold ``other`` (a later write) into this one."""
        self.conversations |= other.conversations
        self.threads |= other.threads
        for cid, keys in other.items.items():
            self.items.setdefault(cid, set()).update(keys)
        self.reload_all = self.reload_all or other.reload_all
        self.agents = self.agents or other.agents
        self.workflow = self.workflow or other.workflow
        self.config = other.config if other.config is not None else self.config
        self.outbox = self.outbox or other.outbox
        self.notifications.extend(other.notifications)
        self.cursor = other.cursor if other.cursor is not None else self.cursor


def set_cursor(db: Db, epoch: str | None, last_event_id: int | None) -> None:
    """Store the resume cursor."""
    set_meta(db, "epoch", epoch)
    set_meta(db, "last_event_id", last_event_id)


_UPSERT_VISITOR: Final = (
    f"INSERT INTO visitors ({', '.join(VISITOR_COLUMNS)}) VALUES ({', '.join('?' for _ in VISITOR_COLUMNS)}) "  # noqa: S608
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in VISITOR_COLUMNS if c != 'id')}"
)


def upsert_visitor(db: Db, v: Visitor) -> None:
    """Store a visitor."""
    # ``attributes`` (an object: cache migration 12) is kept as its JSON text.
    db.execute(
        _UPSERT_VISITOR,
        [
            (json.dumps(to_wire(v.attributes)) if v.attributes else None) if c == "attributes" else getattr(v, c)
            for c in VISITOR_COLUMNS
        ],
    )


def upsert_agent(db: Db, agent: AgentRow) -> None:
    """Store an agent."""
    db.execute(
        "INSERT INTO agents (id, email, name, role, active, online, away) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name, role = excluded.role, "
        "active = excluded.active, online = excluded.online, away = excluded.away",
        [agent.id, agent.email, agent.name, agent.role, int(agent.active), int(agent.online), int(agent.away)],
    )


def update_agent_profile(db: Db, agent: AgentUpdated) -> None:
    """Store an agent's profile (``agent.updated``); a known agent keeps its presence."""
    db.execute(
        "INSERT INTO agents (id, email, name, role, active, online, away) VALUES (?, ?, ?, ?, ?, 0, ?) "
        "ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name, role = excluded.role, "
        "active = excluded.active, away = excluded.away",
        [agent.id, agent.email, agent.name, agent.role, int(agent.active), int(agent.away)],
    )


def replace_agents(db: Db, agents: Sequence[AgentRow]) -> None:
    """Make the agent table exactly ``agents`` (unless the list is empty)."""
    for a in agents:
        upsert_agent(db, a)
    ids = [a.id for a in agents]
    if ids:
        db.execute(f"DELETE FROM agents WHERE id NOT IN ({', '.join('?' for _ in ids)})", ids)  # noqa: S608


def upsert_conversation(db: Db, c: Conversation, version: int | None, *, force: bool = False) -> int:
    """Store the server's view of a conversation (and its visitor, when it
    comes with one).

    ``version`` is the ``event_id`` this state is as of (an event's own id,
    a write reply's ``event_id``). Events and write replies travel on
    different paths (the applier and the outbox), and a resent write returns
    its *original* reply, so an older state can arrive after a newer one: it
    is ignored. ``None`` (a state of unknown age, e.g. ``visitor.get``) only
    inserts a conversation not cached yet. ``force`` (a snapshot, as of
    ``version``) overwrites whatever is cached.
    """
    cid = c.id
    if isinstance(c, ConversationWithVisitor):
        upsert_visitor(db, c.visitor)
    old = db.execute("SELECT version FROM conversations WHERE id = ?", [cid]).fetchone()
    if old is not None and not force and (version is None or version < old[0]):
        return cid
    row = {
        "version": version or 0,
        "visitor_id": c.visitor_id,
        "status": c.status,
        "assignee_id": c.assignee_id,
        "created_at": c.created_at,
        "last_activity": c.last_activity,
        "last_seq": c.last_seq,
        "unread": c.unread_agent,
        "preview": c.preview[:PREVIEW_CHARS],
        "team_id": c.team_id,
        "label_ids": label_ids_text(c.label_ids),
        "snoozed_until": c.snoozed_until,
    }
    db.execute(
        "INSERT INTO conversations (id, visitor_id, status, assignee_id, eff_status, eff_assignee_id, "
        "created_at, last_activity, last_seq, unread, preview, version, team_id, label_ids, eff_label_ids, "
        "snoozed_until) "
        "VALUES (:id, :visitor_id, :status, :assignee_id, :status, :assignee_id, :created_at, "
        ":last_activity, :last_seq, :unread, :preview, :version, :team_id, :label_ids, :label_ids, :snoozed_until) "
        "ON CONFLICT (id) DO UPDATE SET visitor_id = excluded.visitor_id, status = excluded.status, "
        "assignee_id = excluded.assignee_id, created_at = excluded.created_at, "
        "last_activity = excluded.last_activity, last_seq = excluded.last_seq, unread = excluded.unread, "
        "preview = excluded.preview, version = excluded.version, team_id = excluded.team_id, "
        "label_ids = excluded.label_ids, snoozed_until = excluded.snoozed_until",
        {"id": cid, **row},
    )
    recompute(db, cid)
    return cid


def recompute(db: Db, cid: int) -> None:
    """Set the conversation's ``eff_`` columns and outbox counts: the server's
    state with this console's pending actions applied in order."""
    row = db.execute("SELECT status, assignee_id, label_ids FROM conversations WHERE id = ?", [cid]).fetchone()
    if row is None:
        return
    status, assignee, label_text = row
    labels = label_ids_of(label_text)
    pending = failed = 0
    for action, payload, state in db.execute(
        "SELECT action, payload, state FROM outbox WHERE conversation_id = ? ORDER BY id", [cid]
    ).fetchall():
        if state == "failed":
            failed += 1
            continue
        pending += 1
        if action == "resolve":
            status = "resolved"
        elif action == "reopen":
            status = "open"
        elif action == "pend":
            status = "pending"
        elif action == "snooze":
            status = "snoozed"
        elif action == "transfer":
            assignee = json.loads(payload).get("agent_id")  # own data: our outbox payload; a team alone: none
        elif action == "assign":
            assignee = json.loads(payload)["agent_id"]  # our own outbox payload: {"agent_id": int}
        elif action == "unassign":
            assignee = None
        elif action in ("label.add", "label.remove"):  # our own outbox payload: {"label_id": int}
            labels = pending_labels(labels, action, json.loads(payload)["label_id"])
    db.execute(
        "UPDATE conversations SET eff_status = ?, eff_assignee_id = ?, pending_actions = ?, "
        "failed_actions = ?, eff_label_ids = ? WHERE id = ?",
        [status, assignee, pending, failed, label_ids_text(labels), cid],
    )


def insert_item(db: Db, m: Message | PrivateNote) -> bool:
    """Store a message or note; False when it was already there."""
    cur = db.execute(
        "INSERT OR IGNORE INTO items (kind, server_id, conversation_id, seq, author_kind, author_id, "
        "author_name, body, created_at, edited_at, deleted, attachments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            "note" if isinstance(m, PrivateNote) else "message",
            m.id,
            m.conversation_id,
            m.seq,
            m.author_kind,
            m.author_id,
            m.author_name,
            m.body,
            m.created_at,
            m.edited_at if isinstance(m, Message) else None,
            int(isinstance(m, Message) and m.deleted),
            attachments_json(m),
        ],
    )
    if cur.rowcount == 0 and isinstance(m, Message) and (m.edited_at is not None or m.deleted):
        # Already cached, and since edited or deleted (a history page, a resent reply's record).
        _update_item(db, m)
    return cur.rowcount > 0


def attachments_json(m: Message | PrivateNote) -> str | None:
    """A message's files as the cache keeps them: the Attachment objects as JSON, None without any."""
    return json.dumps(to_wire(m.attachments)) if m.attachments else None


def stored_attachments(text: str | None) -> tuple[Attachment, ...]:
    """The files of a cached item (its ``attachments`` column), as Attachment objects."""
    if not text:
        return ()
    return tuple(from_wire(Attachment, a) for a in json.loads(text))


def _update_item(db: Db, m: Message) -> int:
    """Give a cached message its current text, files and edit state; the rows changed."""
    return db.execute(
        "UPDATE items SET body = ?, edited_at = ?, deleted = ?, attachments = ? "
        "WHERE kind = 'message' AND server_id = ?",
        [m.body, m.edited_at, int(m.deleted), attachments_json(m), m.id],
    ).rowcount


def apply_message_update(db: Db, m: Message, conversation: Conversation, out: Applied, version: int | None) -> None:
    """An agent edited or deleted a message (``message.updated``, or the reply
    to this console's own ``message.edit``/``message.delete``): the cached item
    and the conversation's preview follow. Never notifies."""
    if _update_item(db, m):
        out.touch(m.conversation_id, f"m{m.id}")
    upsert_conversation(db, conversation, version)
    out.conversations.add(m.conversation_id)


def _drop_acked(db: Db, client_id: str) -> int | None:
    """An item the server stored (seen by its client_id) leaves the outbox;
    returns its outbox id."""
    row = db.execute("SELECT id FROM outbox WHERE client_id = ?", [client_id]).fetchone()
    if row is None:
        return None
    db.execute("DELETE FROM outbox WHERE id = ?", [row[0]])
    return int(row[0])


def _visitor_label(db: Db, cid: int) -> str:
    """The visitor's display name (the server's), for a notification."""
    row = db.execute(
        "SELECT coalesce(v.display_name, v.name) FROM conversations c JOIN visitors v ON v.id = c.visitor_id "
        "WHERE c.id = ?",
        [cid],
    ).fetchone()
    return str(row[0]) if row is not None and row[0] else unknown_visitor()


def _team_member_me(db: Db, team_id: int | None) -> int | None:
    """This console's agent id when they are a member of ``team_id`` (cached teams), else None."""
    me_row = db.execute("SELECT value FROM meta WHERE key = 'me'").fetchone()
    team = db.execute("SELECT member_ids FROM teams WHERE id = ?", [team_id]).fetchone() if team_id else None
    if me_row is None or team is None:
        return None
    me = json.loads(me_row[0]).get("id")  # own data: the cache's "me" record
    return me if isinstance(me, int) and me in json.loads(team[0]) else None  # own data: the cached team


def _assignee(db: Db, cid: int) -> int | None:
    row = db.execute("SELECT assignee_id FROM conversations WHERE id = ?", [cid]).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def apply_message(db: Db, m: Message | PrivateNote, out: Applied, notify: bool, version: int | None) -> None:
    """Store a message or note (from an event or a write reply)."""
    cid = m.conversation_id
    private = isinstance(m, PrivateNote)
    acked = _drop_acked(db, m.client_id)
    inserted = insert_item(db, m)
    if acked is not None:
        out.outbox = True
        out.touch(cid, f"o{acked}")
        recompute(db, cid)
    if inserted:
        out.touch(cid, f"{'n' if private else 'm'}{m.id}")
    if inserted and not private:
        visitor = m.author_kind == "visitor"
        if isinstance(m, MessageCreated):
            if visitor and m.conversation.status == "open":
                old = db.execute("SELECT status FROM conversations WHERE id = ?", [cid]).fetchone()
                if old is not None and old[0] == "resolved":  # the trail: the visitor's message reopened it
                    line = record_activity(db, cid, version, "open", None, None, at=m.created_at - 1)
                    if line is not None:
                        out.touch(cid, f"a{line}")
            # The server sends the conversation as it is after this message.
            upsert_conversation(db, m.conversation, version)
        else:
            db.execute(
                "UPDATE conversations SET last_activity = max(last_activity, ?), "
                "preview = CASE WHEN ? >= last_seq THEN ? ELSE preview END, last_seq = max(last_seq, ?), "
                "unread = unread + ? WHERE id = ?",
                [m.created_at, m.seq, m.body[:PREVIEW_CHARS], m.seq, 1 if visitor else 0, cid],
            )
        if visitor and notify:
            # A conversation is announced with its first message, not when the
            # widget merely opened it: one notification, with something to read.
            label, text = _visitor_label(db, cid), m.body[:PREVIEW_CHARS]
            kind: Literal["new_conversation", "new_message"] = "new_conversation" if m.seq == 1 else "new_message"
            out.notifications.append(Notification(kind, cid, label, text, assignee_id=_assignee(db, cid)))
    if inserted or acked is not None:
        out.conversations.add(cid)


def apply_event(db: Db, ev: EventFrame, out: Applied, notify: bool) -> None:
    """Apply one event (its data is the kind's typed object, or None when it
    did not decode). Idempotent: a replayed event changes nothing."""
    data = ev.data
    if isinstance(data, MessageUpdated):  # message.updated (before Message: it is one)
        apply_message_update(db, data, data.conversation, out, ev.event_id)
    elif isinstance(data, Message | PrivateNote):  # message.created (a MessageCreated), note.created
        apply_message(db, data, out, notify, ev.event_id)
    elif isinstance(data, Conversation):  # conversation.created / .updated
        c = data
        existed = db.execute("SELECT 1 FROM conversations WHERE id = ?", [c.id]).fetchone()
        before = _assignee(db, c.id)
        upsert_conversation(db, c, ev.event_id)
        out.conversations.add(c.id)
        change = c.change if isinstance(c, ConversationUpdated) else None
        actor_id = c.actor_id if isinstance(c, ConversationUpdated) else None
        if change is not None and change in TRAIL_CHANGES:
            team_id = c.team_id if change == "transferred" else None
            line = record_activity(db, c.id, ev.event_id, change, actor_id, c.assignee_id, team_id=team_id)
            if line is not None:
                out.touch(c.id, f"a{line}")
        if existed is None and notify and c.status != "resolved" and c.last_seq > 0:
            out.notifications.append(
                Notification(
                    "new_conversation", c.id, _visitor_label(db, c.id), c.preview, assignee_id=_assignee(db, c.id)
                )
            )
        if change == "seen_by_visitor" and c.last_seq:
            # The durable side of the visitor's ``seen`` (replayed on resume):
            # everything up to last_seq was read; when is unknown here.
            db.execute(
                "UPDATE conversations SET visitor_seen_seq = ?, visitor_seen_at = NULL "
                "WHERE id = ? AND visitor_seen_seq < ?",
                [c.last_seq, c.id, c.last_seq],
            )
        if (
            existed is not None
            and notify
            and change in ("assigned", "auto_assigned", "transferred")
            and c.assignee_id is not None
            and (c.assignee_id != before or change == "transferred")
        ):
            # Assigned or transferred: the core keeps it only for the new assignee.
            out.notifications.append(
                Notification(
                    "assigned",
                    c.id,
                    _visitor_label(db, c.id),
                    c.preview,
                    assignee_id=c.assignee_id,
                    actor_id=actor_id,
                )
            )
        if existed is not None and notify and change == "transferred" and c.assignee_id is None:
            # Transferred to a team (PROTOCOL.md, "Transfer"): each of its members hears of it.
            member = _team_member_me(db, c.team_id)
            if member is not None:
                out.notifications.append(
                    Notification(
                        "assigned", c.id, _visitor_label(db, c.id), c.preview, assignee_id=member, actor_id=actor_id
                    )
                )
    elif isinstance(data, SeenUpTo):
        if data.side == "agent":
            db.execute("UPDATE conversations SET unread = 0 WHERE id = ?", [data.conversation_id])
            out.conversations.add(data.conversation_id)
        elif data.side == "visitor" and data.seq > 0:
            # Ephemeral and live: the receipt's time is when it arrived.
            db.execute(
                "UPDATE conversations SET visitor_seen_seq = ?, visitor_seen_at = ? WHERE id = ? "
                "AND (visitor_seen_seq < ? OR (visitor_seen_seq = ? AND visitor_seen_at IS NULL))",
                [data.seq, int(time.time() * 1000), data.conversation_id, data.seq, data.seq],
            )
            out.conversations.add(data.conversation_id)
    elif isinstance(data, AgentUpdated):
        # agent.updated carries no presence (an Agent profile): keep what presence said.
        update_agent_profile(db, data)
        out.agents = True
        # The assignee's name shows on inbox lines.
        out.reload_all = True
    elif isinstance(data, AgentPresence):
        # Ephemeral (no event_id): an agent came online or went offline.
        db.execute("UPDATE agents SET online = ? WHERE id = ?", [int(data.online), data.agent_id])
        out.agents = True
    elif isinstance(data, Visitor):  # visitor.updated
        upsert_visitor(db, data)
        ids = [r[0] for r in db.execute("SELECT id FROM conversations WHERE visitor_id = ?", [data.id])]
        out.conversations.update(ids)
    elif isinstance(data, VisitorErased):
        # A data-protection erasure: leave no trace in the cache either.
        vid = data.visitor_id
        conv = "SELECT id FROM conversations WHERE visitor_id = ?"
        db.execute(f"DELETE FROM items WHERE conversation_id IN ({conv})", [vid])  # noqa: S608
        db.execute(f"DELETE FROM activity WHERE conversation_id IN ({conv})", [vid])  # noqa: S608
        db.execute(f"DELETE FROM outbox WHERE conversation_id IN ({conv})", [vid])  # noqa: S608
        db.execute(f"DELETE FROM csat WHERE conversation_id IN ({conv})", [vid])  # noqa: S608 (cache/_csat.py)
        db.execute("DELETE FROM held_emails WHERE visitor_id = ?", [vid])  # cache/_held.py
        db.execute("DELETE FROM conversations WHERE visitor_id = ?", [vid])
        db.execute("DELETE FROM visitors WHERE id = ?", [vid])
        db.execute("DELETE FROM reports")  # their satisfaction comments (cache/_reports.py)
        out.reload_all = True
        out.outbox = True
    elif isinstance(data, TeamUpdated | LabelUpdated | CannedUpdated):
        apply_workflow_event(db, data, out)
    elif isinstance(data, Csat):  # csat.requested / csat.submitted (cache/_csat.py)
        apply_csat(db, data)
        out.conversations.add(data.conversation_id)
    elif isinstance(data, HeldEmailUpdated):  # email.held (cache/_held.py)
        apply_held(db, data)
        out.touch(data.conversation_id, f"h{data.id}")
    elif isinstance(data, ConfigUpdated):
        out.config = config_values(data)
        set_meta(db, "config", out.config)
        if not data.store_ip and db.execute("SELECT 1 FROM visitors WHERE ip IS NOT NULL LIMIT 1").fetchone():
            # IP storage switched off: the server forgot the addresses (PROTOCOL.md, "Location"); so do we.
            db.execute("UPDATE visitors SET ip = NULL WHERE ip IS NOT NULL")
            out.reload_all = True
    elif data is None and ev.kind in EVENT_KINDS:
        log.warning("ignoring event %s: malformed %r data", ev.event_id, ev.kind)
    else:
        log.debug("ignoring event kind %r", ev.kind)
