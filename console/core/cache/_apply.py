"""The rules that turn the server's objects and events into cache rows.

Each function runs on the writer thread, inside the caller's transaction, and
takes typed objects from :mod:`..wire` (never wire dicts). What a write changed
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

from .. import wire
from ..rows import AgentRow, Notification, visitor_label
from ._activity import TRAIL_CHANGES, record_activity
from ._schema import Db, set_meta

__all__ = [
    "PREVIEW_CHARS",
    "Applied",
    "apply_event",
    "apply_message",
    "apply_message_update",
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
        self.config = other.config if other.config is not None else self.config
        self.outbox = self.outbox or other.outbox
        self.notifications.extend(other.notifications)
        self.cursor = other.cursor if other.cursor is not None else self.cursor


def set_cursor(db: Db, epoch: str | None, last_event_id: int | None) -> None:
    """Store the resume cursor."""
    set_meta(db, "epoch", epoch)
    set_meta(db, "last_event_id", last_event_id)


def upsert_visitor(db: Db, v: wire.Visitor) -> None:
    """Store a visitor; fields the server did not send keep their value."""
    row = dict(v.values)
    if "verified" in row:
        row["verified"] = 1 if row["verified"] else 0
    cols = list(row)  # a subset of the fixed wire.VISITOR_FIELDS names
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id") or "id = id"
    db.execute(
        f"INSERT INTO visitors ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "  # noqa: S608
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
        [row[c] for c in cols],
    )


def upsert_agent(db: Db, agent: AgentRow) -> None:
    """Store an agent."""
    db.execute(
        "INSERT INTO agents (id, email, name, role, active, online, away) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name, role = excluded.role, "
        "active = excluded.active, online = excluded.online, away = excluded.away",
        [agent.id, agent.email, agent.name, agent.role, int(agent.active), int(agent.online), int(agent.away)],
    )


def replace_agents(db: Db, agents: Sequence[AgentRow]) -> None:
    """Make the agent table exactly ``agents`` (unless the list is empty)."""
    for a in agents:
        upsert_agent(db, a)
    ids = [a.id for a in agents]
    if ids:
        db.execute(f"DELETE FROM agents WHERE id NOT IN ({', '.join('?' for _ in ids)})", ids)  # noqa: S608


def upsert_conversation(db: Db, c: wire.Conversation, version: int | None, *, force: bool = False) -> int:
    """Store the server's view of a conversation; keeps columns it lacks.

    ``version`` is the ``event_id`` this state is as of (an event's own id,
    a write reply's ``event_id``). Events and write replies travel on
    different paths (the applier and the outbox), and a resent write returns
    its *original* reply, so an older state can arrive after a newer one: it
    is ignored. ``None`` (a state of unknown age, e.g. ``visitor.get``) only
    inserts a conversation not cached yet. ``force`` (a snapshot, as of
    ``version``) overwrites whatever is cached.
    """
    cid = c.id
    if c.visitor is not None:
        upsert_visitor(db, c.visitor)
    old = db.execute(
        "SELECT visitor_id, status, assignee_id, created_at, last_activity, last_seq, unread, preview, version "
        "FROM conversations WHERE id = ?",
        [cid],
    ).fetchone()
    if old is not None and not force and (version is None or version < old[8]):
        return cid
    if old is None:
        old = (0, "open", None, 0, 0, 0, 0, "", 0)
    row = {
        "version": version or 0,
        "visitor_id": c.visitor_id if c.visitor_id is not None else old[0],
        "status": c.status if c.status is not None else old[1],
        "assignee_id": c.assignee_id if c.has_assignee else old[2],
        "created_at": c.created_at if c.created_at is not None else old[3],
        "last_activity": c.last_activity if c.last_activity is not None else old[4],
        "last_seq": c.last_seq if c.last_seq is not None else old[5],
        "unread": c.unread_agent if c.unread_agent is not None else old[6],
        "preview": c.preview[:PREVIEW_CHARS] if c.preview is not None else old[7],
    }
    db.execute(
        "INSERT INTO conversations (id, visitor_id, status, assignee_id, eff_status, eff_assignee_id, "
        "created_at, last_activity, last_seq, unread, preview, version) "
        "VALUES (:id, :visitor_id, :status, :assignee_id, :status, :assignee_id, :created_at, "
        ":last_activity, :last_seq, :unread, :preview, :version) "
        "ON CONFLICT (id) DO UPDATE SET visitor_id = excluded.visitor_id, status = excluded.status, "
        "assignee_id = excluded.assignee_id, created_at = excluded.created_at, "
        "last_activity = excluded.last_activity, last_seq = excluded.last_seq, unread = excluded.unread, "
        "preview = excluded.preview, version = excluded.version",
        {"id": cid, **row},
    )
    recompute(db, cid)
    return cid


def recompute(db: Db, cid: int) -> None:
    """Set the conversation's ``eff_`` columns and outbox counts: the server's
    state with this console's pending actions applied in order."""
    row = db.execute("SELECT status, assignee_id FROM conversations WHERE id = ?", [cid]).fetchone()
    if row is None:
        return
    status, assignee = row
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
        elif action == "assign":
            assignee = json.loads(payload).get("agent_id")  # our own outbox payload, not a wire dict
        elif action == "unassign":
            assignee = None
    db.execute(
        "UPDATE conversations SET eff_status = ?, eff_assignee_id = ?, pending_actions = ?, "
        "failed_actions = ? WHERE id = ?",
        [status, assignee, pending, failed, cid],
    )


def insert_item(db: Db, m: wire.Message) -> bool:
    """Store a message or note; False when it was already there."""
    cur = db.execute(
        "INSERT OR IGNORE INTO items (kind, server_id, conversation_id, seq, author_kind, author_id, "
        "author_name, body, created_at, edited_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            "note" if m.private else "message",
            m.id,
            m.conversation_id,
            m.seq,
            m.author_kind,
            m.author_id,
            m.author_name,
            m.body,
            m.created_at,
            m.edited_at,
            int(m.deleted),
        ],
    )
    if cur.rowcount == 0 and (m.edited_at is not None or m.deleted):
        # Already cached, and since edited or deleted (a history page, a resent reply's record).
        _update_item(db, m)
    return cur.rowcount > 0


def _update_item(db: Db, m: wire.Message) -> int:
    """Give a cached message its current text and edit state; the rows changed."""
    return db.execute(
        "UPDATE items SET body = ?, edited_at = ?, deleted = ? WHERE kind = 'message' AND server_id = ?",
        [m.body, m.edited_at, int(m.deleted), m.id],
    ).rowcount


def apply_message_update(db: Db, m: wire.Message, out: Applied, version: int | None) -> None:
    """An agent edited or deleted a message (``message.updated``, or the reply
    to this console's own ``message.edit``/``message.delete``): the cached item
    and the conversation's preview follow. Never notifies."""
    if _update_item(db, m):
        out.touch(m.conversation_id, f"m{m.id}")
    if m.conversation is not None:
        upsert_conversation(db, m.conversation, version)
        out.conversations.add(m.conversation_id)


def _drop_acked(db: Db, client_id: str | None) -> int | None:
    """An item the server stored (seen by its client_id) leaves the outbox;
    returns its outbox id."""
    if client_id is None:
        return None
    row = db.execute("SELECT id FROM outbox WHERE client_id = ?", [client_id]).fetchone()
    if row is None:
        return None
    db.execute("DELETE FROM outbox WHERE id = ?", [row[0]])
    return int(row[0])


def _visitor_label(db: Db, cid: int) -> str:
    row = db.execute(
        "SELECT v.name, c.visitor_id FROM conversations c LEFT JOIN visitors v ON v.id = c.visitor_id WHERE c.id = ?",
        [cid],
    ).fetchone()
    if row is None:
        return "A visitor"
    return visitor_label(row[1], row[0])


def _assignee(db: Db, cid: int) -> int | None:
    row = db.execute("SELECT assignee_id FROM conversations WHERE id = ?", [cid]).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def apply_message(db: Db, m: wire.Message, out: Applied, notify: bool, version: int | None) -> None:
    """Store a message or note (from an event or a write reply)."""
    cid = m.conversation_id
    acked = _drop_acked(db, m.client_id)
    inserted = insert_item(db, m)
    if acked is not None:
        out.outbox = True
        out.touch(cid, f"o{acked}")
        recompute(db, cid)
    if inserted:
        out.touch(cid, f"{'n' if m.private else 'm'}{m.id}")
    if inserted and not m.private:
        visitor = m.author_kind == "visitor"
        if m.conversation is not None:
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


def apply_event(db: Db, ev: wire.Event, out: Applied, notify: bool) -> None:
    """Apply one event. Idempotent: a replayed event changes nothing."""
    data = ev.data
    if isinstance(data, wire.MessageCreated):
        apply_message(db, data.message, out, notify, ev.event_id)
    elif isinstance(data, wire.MessageUpdated):
        apply_message_update(db, data.message, out, ev.event_id)
    elif isinstance(data, wire.ConversationChanged):
        c = data.conversation
        existed = db.execute("SELECT 1 FROM conversations WHERE id = ?", [c.id]).fetchone()
        before = _assignee(db, c.id)
        upsert_conversation(db, c, ev.event_id)
        out.conversations.add(c.id)
        if ev.kind == "conversation.updated" and data.change in TRAIL_CHANGES:
            line = record_activity(db, c.id, ev.event_id, data.change or "", data.actor_id, c.assignee_id)
            if line is not None:
                out.touch(c.id, f"a{line}")
        if existed is None and notify and c.status != "resolved" and (c.last_seq or 0) > 0:
            out.notifications.append(
                Notification(
                    "new_conversation", c.id, _visitor_label(db, c.id), c.preview or "", assignee_id=_assignee(db, c.id)
                )
            )
        if data.change == "seen_by_visitor" and c.last_seq:
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
            and data.change == "assigned"
            and c.assignee_id is not None
            and c.assignee_id != before
        ):
            # Assigned or transferred: the core keeps it only for the new assignee.
            out.notifications.append(
                Notification(
                    "assigned",
                    c.id,
                    _visitor_label(db, c.id),
                    c.preview or "",
                    assignee_id=c.assignee_id,
                    actor_id=data.actor_id,
                )
            )
    elif isinstance(data, wire.Seen):
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
    elif isinstance(data, wire.AgentUpdated):
        # agent.updated carries no presence (an Agent profile): keep what presence said.
        was = db.execute("SELECT online FROM agents WHERE id = ?", [data.agent.id]).fetchone()
        upsert_agent(db, dataclasses.replace(data.agent, online=bool(was[0])) if was else data.agent)
        out.agents = True
        # The assignee's name shows on inbox lines.
        out.reload_all = True
    elif isinstance(data, wire.Presence):
        # Ephemeral (no event_id): an agent came online or went offline.
        db.execute("UPDATE agents SET online = ? WHERE id = ?", [int(data.online), data.agent_id])
        out.agents = True
    elif isinstance(data, wire.VisitorUpdated):
        upsert_visitor(db, data.visitor)
        ids = [r[0] for r in db.execute("SELECT id FROM conversations WHERE visitor_id = ?", [data.visitor.id])]
        out.conversations.update(ids)
    elif isinstance(data, wire.VisitorErased):
        # A data-protection erasure: leave no trace in the cache either.
        vid = data.visitor_id
        conv = "SELECT id FROM conversations WHERE visitor_id = ?"
        db.execute(f"DELETE FROM items WHERE conversation_id IN ({conv})", [vid])  # noqa: S608
        db.execute(f"DELETE FROM activity WHERE conversation_id IN ({conv})", [vid])  # noqa: S608
        db.execute(f"DELETE FROM outbox WHERE conversation_id IN ({conv})", [vid])  # noqa: S608
        db.execute("DELETE FROM conversations WHERE visitor_id = ?", [vid])
        db.execute("DELETE FROM visitors WHERE id = ?", [vid])
        out.reload_all = True
        out.outbox = True
    elif isinstance(data, wire.ConfigUpdated):
        set_meta(db, "config", data.config)
        out.config = data.config
    elif isinstance(data, wire.Unknown) and ev.kind in wire.KNOWN_KINDS:
        log.warning("ignoring event %s: malformed %r data", ev.event_id, ev.kind)
    else:
        log.debug("ignoring event kind %r", ev.kind)
