"""Messages and private notes: posting them (the hot write path) and reading
a conversation's history.

:func:`post_message` is the write path of DESIGN.md; its result is the
protocol's :class:`~frontdesk.server.protocol.MessageAck`, and a repeated
``client_id`` returns the original result and stores nothing.
"""

from __future__ import annotations

from .. import domain, protocol
from ..domain import ConversationStatus
from ..exceptions import Conflict, NotFound, RateLimited
from ._sql import (
    Row,
    Tx,
    conversation_obj,
    idempotent,
    message_fields,
    message_obj,
    note_obj,
    now_ms,
    preview_of,
    remember,
    visitor_scope,
)
from .agents import agent_name
from .conversations import conversation_row, open_conversation_in, start_conversation_row
from .events import append_event, set_event_payload
from .visitors import visitor_name

__all__ = ["history", "post_message", "post_note", "take_token"]


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
    prior = idempotent(
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
        conv, _ = start_conversation_row(tx, tenant_id, author_id)
    else:
        conv = conversation_row(tx, tenant_id, conversation_id, author_id if is_visitor else None)
    status = ConversationStatus(conv["status"])
    if is_visitor:
        new_status = domain.status_after_visitor_message(status)
        if status is ConversationStatus.RESOLVED and (
            open_conversation_in(tx, author_id, visitor_scope(tx, tenant_id, author_id)) is not None
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
    author_name = visitor_name(tx, author_id) if is_visitor else agent_name(tx, author_id)
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
    fields = message_fields(row, author_name)
    message = protocol.Message(**fields)
    data = protocol.MessageCreated(**fields, conversation=conversation)
    set_event_payload(tx, event_id, data, data)
    result = protocol.MessageAck(
        client_id=client_id,
        conversation_id=conv["id"],
        seq=seq,
        event_id=event_id,
        server_time=now,
        message=message,
        conversation=conversation,
    )
    remember(tx, sender, str(conv["id"]), client_id, result)
    return result


def post_note(
    tx: Tx, tenant_id: int, *, agent_id: int, conversation_id: int, client_id: str, body: str
) -> protocol.NoteAck:
    """Store a private note; visitors never see it (no visitor payload)."""
    sender = f"agent:{agent_id}"
    prior = idempotent(tx, protocol.NoteAck, sender, f"note:{conversation_id}", client_id)
    if prior is not None:
        return prior
    conv = conversation_row(tx, tenant_id, conversation_id)
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
    note = note_obj(row, agent_name(tx, agent_id))
    set_event_payload(tx, event_id, note, None)
    result = protocol.NoteAck(
        client_id=client_id, conversation_id=conv["id"], seq=seq, event_id=event_id, server_time=now, note=note
    )
    remember(tx, sender, f"note:{conv['id']}", client_id, result)
    return result


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
    conversation_row(tx, tenant_id, conversation_id, visitor_id)
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
