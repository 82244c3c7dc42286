"""Editing and deleting one's own message (PROTOCOL.md, "Editing and deleting").

A message row holds only its current text. The text it had before each edit
or its deletion goes to ``message_originals`` (migration 0009), which only
admins read (:func:`originals`) and visitor erasure empties.

The event log must not keep what the author took back: a resuming client
replays the stored events, and those of this message still hold the old text
(its ``message.created``, its earlier ``message.updated``, and the
conversation ``preview`` of every event written while it was the newest
message). So an edit rewrites those stored payloads to the message's current
state, in the same transaction that appends the new ``message.updated``. A
client that resumes therefore never receives the original or deleted text,
and ``history`` reads the message rows, which hold only the current one.

Every function takes a :class:`~frontdesk.server.store._sql.Tx` and runs
through ``Store.write``/``read``; ``now`` is passed in (time is injected,
DESIGN.md), never read here.
"""

from __future__ import annotations

import json
from typing import Any

from .. import protocol
from ..exceptions import Conflict, Forbidden, NotFound
from . import _sql
from ._sql import Row, Tx
from .agents import agent_name
from .conversations import conversation_row
from .events import append_event
from .files import attachments_of, delete_message_files

__all__ = ["DELETED_PREVIEW", "change_message", "originals"]

#: The conversation preview once its newest message was deleted.
DELETED_PREVIEW = "Message deleted"


def change_message(
    tx: Tx,
    tenant_id: int,
    *,
    agent_id: int,
    conversation_id: int,
    seq: int,
    body: str | None,
    now: int,
    window_ms: int,
    client_id: str | None = None,
) -> protocol.MessageChange:
    """Edit (``body`` given) or delete (``body`` None) the agent's own message.

    Refuses with ``NotFound`` (no such message in the tenant), ``Forbidden``
    (someone else's message) or ``Conflict`` (already deleted, or older than
    ``window_ms`` at ``now``). Appends ``message.updated`` and scrubs the
    replaced text from the stored events (see the module docstring). A
    repeated ``client_id`` returns the first result and changes nothing.
    """
    change = "edited" if body is not None else "deleted"
    sender, scope = f"agent:{agent_id}", f"{'edit' if body is not None else 'delete'}:{conversation_id}"
    prior = _sql.idempotent(tx, protocol.MessageChange, sender, scope, client_id)
    if prior is not None:
        return prior
    conv = conversation_row(tx, tenant_id, conversation_id)
    row = tx.one("SELECT * FROM messages WHERE conversation_id = ? AND seq = ?", (conv["id"], seq))
    if row is None:
        raise NotFound(f"no message {seq} in conversation {conversation_id}")
    if row["author_kind"] != "agent" or row["author_id"] != agent_id:
        raise Forbidden("only its author may edit or delete a message")
    if row["deleted"]:
        raise Conflict("the message was deleted")
    if now - int(row["created_at"]) > window_ms:
        raise Conflict(f"messages can be changed for {window_ms // 60_000} minutes after sending")
    new_body = body if body is not None else ""
    tx.run(
        "UPDATE messages SET body = ?, edited_at = ?, deleted = ? WHERE id = ?",
        (new_body, now if body is not None else row["edited_at"], int(body is None), row["id"]),
    )
    new = tx.one("SELECT * FROM messages WHERE id = ?", (row["id"],))
    assert new is not None
    newest = int(conv["last_seq"]) == seq
    preview = _sql.preview_of(new_body) if body is not None else DELETED_PREVIEW
    if newest:
        updated = tx.one("UPDATE conversations SET preview = ? WHERE id = ? RETURNING *", (preview, conv["id"]))
        assert updated is not None
        conv = updated
    author_name = agent_name(tx, agent_id)
    fields = _sql.message_fields(new, author_name)
    if body is None:  # a deleted message's files go with it (store/files.py)
        delete_message_files(tx, int(new["id"]), now=now)
    attached = attachments_of(tx, message_ids=[int(new["id"])])[0].get(int(new["id"]))
    if attached:
        fields["attachments"] = attached  # an edit keeps the message's files
    conversation = _sql.conversation_obj(conv)
    data = protocol.MessageUpdated(**fields, conversation=conversation)
    event_id = append_event(
        tx,
        tenant_id,
        "message.updated",
        data,
        conversation_id=conv["id"],
        visitor_id=conv["visitor_id"],
        visitor_payload=data,
        created_at=now,
    )
    tx.run(
        "INSERT INTO message_originals (message_id, conversation_id, body, change, agent_id, changed_at, event_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (row["id"], conv["id"], row["body"], change, agent_id, now, event_id),
    )
    _scrub(tx, new, author_name, preview, event_id)
    result = protocol.MessageChange(message=protocol.Message(**fields), conversation=conversation, event_id=event_id)
    _sql.remember(tx, sender, scope, client_id, result)
    return result


def _scrub(tx: Tx, message: Row, author_name: str | None, preview: str, new_event_id: int) -> None:
    """Rewrite the stored events and the write record that still hold the
    message's earlier text to its current state.

    ``preview`` replaces the conversation preview in every event written from
    the message on, up to the next message: in that stretch the preview was
    this message's text.
    """
    current = _sql.message_fields(message, author_name)
    nxt = tx.one(
        "SELECT event_id FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT 1",
        (message["conversation_id"], message["seq"]),
    )
    until = int(nxt["event_id"]) if nxt is not None else new_event_id
    rows = tx.all(
        "SELECT event_id, kind, payload, visitor_payload FROM events WHERE conversation_id = ? AND event_id < ?"
        " AND (event_id = ? OR (event_id > ? AND event_id < ?)"
        " OR event_id IN (SELECT event_id FROM message_originals WHERE message_id = ?))",
        (message["conversation_id"], new_event_id, message["event_id"], message["event_id"], until, message["id"]),
    )
    for event in rows:
        in_stretch = message["event_id"] <= event["event_id"] < until
        texts: list[str | None] = []
        for column in ("payload", "visitor_payload"):
            text = event[column]
            if text is None:
                texts.append(None)
                continue
            data = json.loads(text)
            _redact(data, event["kind"], message["id"], current, preview if in_stretch else None)
            texts.append(_sql.dumps(data))
        tx.run("UPDATE events SET payload = ?, visitor_payload = ? WHERE event_id = ?", (*texts, event["event_id"]))
    # The author's own write record (a resend of the reply's client_id returns it).
    record = tx.one(
        "SELECT result FROM client_writes WHERE sender = ? AND scope = ? AND client_id = ?",
        (f"agent:{message['author_id']}", str(message["conversation_id"]), message["client_id"]),
    )
    if record is not None:
        ack = json.loads(record["result"])
        if isinstance(ack.get("message"), dict):
            ack["message"].update({k: current[k] for k in ("body", "edited_at", "deleted")})
        if isinstance(ack.get("conversation"), dict):
            ack["conversation"]["preview"] = preview
        tx.run(
            "UPDATE client_writes SET result = ? WHERE sender = ? AND scope = ? AND client_id = ?",
            (
                _sql.dumps(ack),
                f"agent:{message['author_id']}",
                str(message["conversation_id"]),
                message["client_id"],
            ),
        )


def _redact(data: Any, kind: str, message_id: int, current: dict[str, Any], preview: str | None) -> None:
    """Bring one stored event payload in line with the message's current state."""
    if not isinstance(data, dict):
        return
    if kind in ("message.created", "message.updated") and data.get("id") == message_id:
        data.update({k: current[k] for k in ("body", "edited_at", "deleted")})
        if current["deleted"] and data.get("attachments"):
            data["attachments"] = []  # deleted with the message
    if preview is None:
        return
    if kind == "conversation.updated" and "preview" in data:
        data["preview"] = preview
    elif isinstance(data.get("conversation"), dict) and "preview" in data["conversation"]:
        data["conversation"]["preview"] = preview


def originals(tx: Tx, tenant_id: int, conversation_id: int, seq: int) -> protocol.MessageOriginalsResult:
    """The texts message ``seq`` had before each edit and its deletion, oldest
    first (admins only: the handler checks the role)."""
    conv = conversation_row(tx, tenant_id, conversation_id)
    row = tx.one("SELECT id FROM messages WHERE conversation_id = ? AND seq = ?", (conv["id"], seq))
    if row is None:
        raise NotFound(f"no message {seq} in conversation {conversation_id}")
    found = tx.all(
        "SELECT body, change, agent_id, changed_at FROM message_originals WHERE message_id = ? ORDER BY id",
        (row["id"],),
    )
    return protocol.MessageOriginalsResult(originals=[protocol.MessageOriginal(**r) for r in found])
