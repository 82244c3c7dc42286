"""Messages and private notes: posting them (the hot write path) and reading
a conversation's history.

:func:`post_message` is the write path of DESIGN.md; its result is the
protocol's :class:`~frontdesk.server.protocol.MessageAck`, and a repeated
``client_id`` returns the original result and stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Final

from .. import domain, protocol
from ..domain import ConversationStatus
from ..exceptions import Conflict, Forbidden, NotFound, RateLimited
from . import assignment
from ._sql import (
    BEGINNINGS,
    Row,
    Tx,
    conversation_obj,
    idempotent,
    message_obj,
    note_obj,
    now_ms,
    preview_of,
    remember,
)
from .agents import agent_name
from .conversations import (
    begin_latest_conversation_row,
    conversation_row,
    latest_conversation_row,
    new_conversation_row,
    record_visitor_reopen,
)
from .events import append_event, event_insert, next_event_id_sql
from .files import attachments_of, claim_files
from .visitors import visitor_name

__all__ = ["ATTACHMENT_PREVIEW", "READ_ONLY", "history", "post_message", "post_note", "take_token"]

#: The conversation preview of a message of files only (plain words: an emoji is a blank box where no font has it).
ATTACHMENT_PREVIEW: Final = "Sent an attachment"
#: The ``conflict`` message for a visitor's write in an earlier conversation (PROTOCOL.md).
READ_ONLY = "this is an earlier conversation and is read-only; write in your latest conversation or start a new one"


def take_token(tx: Tx, key: str, per_second: float, burst: float, *, now: int | None = None) -> None:
    """Take one token from the shared bucket ``key`` (full at ``burst``,
    refilled at ``per_second``), or raise :class:`RateLimited`; the caller's
    write then rolls back, the bucket with it. Inside the write transaction:
    SQLite's single writer, and on PostgreSQL the tenant's write lock,
    make every take exact.

    One statement (an upsert computing the refill), because on PostgreSQL
    each statement is a round trip on the message's write path. A node whose
    clock is behind the bucket's stamp adds nothing rather than taking away.
    ``now`` (ms) is the caller's injected clock; by default the store's.
    """
    sql, params = _take_token_statement(key, per_second, burst, now)
    row = tx.one(sql, params)
    assert row is not None
    _check_tokens(float(row["tokens"]), per_second)


def _take_token_statement(
    key: str, per_second: float, burst: float, at: int | None = None
) -> tuple[str, tuple[Any, ...]]:
    """:func:`take_token`'s upsert (sql, parameters), returning the bucket's ``tokens`` after the take."""
    now = now_ms() if at is None else at
    refill = "CASE WHEN ? > rate_buckets.stamp THEN (? - rate_buckets.stamp) * ? ELSE 0 END"
    level = f"rate_buckets.tokens + {refill}"
    return (
        "INSERT INTO rate_buckets (key, tokens, stamp) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
        f" tokens = (CASE WHEN {level} > ? THEN ? ELSE {level} END) - 1, stamp = ? RETURNING tokens",
        (key, float(burst) - 1, now, now, now, per_second / 1000, burst, burst, now, now, per_second / 1000, now),
    )


def _check_tokens(tokens: float, per_second: float) -> None:
    if tokens < 0:
        raise RateLimited("you are sending messages too fast", -tokens / per_second)


#: Where :func:`_take_token_statement`'s row (``tokens``) means the bucket ran dry, an error in the database
#: (a division by zero) rather than a value: ``Tx.defer``'s ``refusing`` form.
_REFUSED = "1 / (tokens >= 0)::int AS refused"


def _take_token_deferred(tx: Tx, key: str, per_second: float, burst: float) -> None:
    """:func:`take_token`, deferred (:meth:`Tx.defer`): ``RateLimited`` comes before COMMIT rather than at
    once, so a statement that follows must not depend on the take (only the write's outcome does)."""
    sql, params = _take_token_statement(key, per_second, burst)

    def check(row: Row | None) -> None:
        assert row is not None
        _check_tokens(float(row["tokens"]), per_second)

    refusing = f"WITH taken AS ({sql}) SELECT tokens, {_REFUSED} FROM taken" if tx.dialect == "postgres" else None
    tx.defer(sql, params, check, refusing=refusing)


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
    attachment_ids: Sequence[str] = (),
    assignee_only: bool = False,
) -> protocol.MessageAck:
    """Store one visitor or agent message (DESIGN.md, write path step 3).

    In this one transaction: the conversation's next ``seq``, last activity,
    preview, unread count, status and assignee; the message; its
    ``message.created`` event, written once with its payload. A repeated
    ``client_id`` (per sender and conversation; for a visitor without
    ``conversation_id``, per sender) returns the original result and stores
    nothing: the message row is the idempotency record (unique index
    ``messages_client``), and the original ack is rebuilt from it and its event.

    A visitor writes in their *latest* conversation (PROTOCOL.md, "Several
    conversations per visitor"): without ``conversation_id``, the open one, or
    else the newest one, reopened, or a new one before the first; an earlier
    conversation is read-only (``Conflict``). A resolved conversation the
    message reopens also gets a ``conversation.updated`` (change ``open``,
    no actor), after the message's event. An agent may not write to a
    resolved conversation (``Conflict``), nor, with ``assignee_only`` (the
    tenant's ``reply_assignee_only``), to one assigned to another agent
    (``Forbidden``). ``budget`` (per second, burst) charges the visitor's
    shared message bucket (:func:`take_token`) once the message is known to
    be new; ``RateLimited`` then rolls the whole write back.

    The common case (a visitor in their own open conversation, an agent in an
    unresolved one, a new ``client_id``) is three statements: the
    conversation's update, which also checks scope, status and
    ``client_id`` and returns the next event id and the author's name; the
    message; the event. Anything else takes the checked path below.

    ``attachment_ids`` (uploads of this sender, PROTOCOL.md "Attachments") are tied to the message in the same
    transaction (``files.claim_files``): one that is not the sender's own unsent upload rolls it all back.
    """
    return begin_post_message(
        tx, tenant_id, author_kind=author_kind, author_id=author_id, conversation_id=conversation_id,
        client_id=client_id, body=body, budget=budget, attachment_ids=attachment_ids, assignee_only=assignee_only,
    )()  # fmt: skip


def begin_post_message(
    tx: Tx,
    tenant_id: int,
    *,
    author_kind: str,
    author_id: int,
    conversation_id: int | None,
    client_id: str,
    body: str,
    budget: tuple[float, float] | None = None,
    attachment_ids: Sequence[str] = (),
    assignee_only: bool = False,
) -> Callable[[], protocol.MessageAck]:
    """:func:`post_message` in two steps (:data:`_sql.BEGINNINGS`): send the conversation's update
    (:meth:`Tx.ahead`), and return the rest, which reads its answer. A writer that holds several messages
    sends all their updates first, so that on PostgreSQL they share one round trip. That is the order
    :func:`post_message` runs them in, but for the other messages' updates in between: a message's update
    never depends on an earlier message of its batch except through a repeated ``client_id``, which the
    ``messages_client`` unique index then refuses (and the writer runs the batch again one job at a time),
    or through a conversation the earlier one started or reopened, which sends it to the checked path, where
    it finds that conversation as it would have."""
    is_visitor = author_kind == "visitor"
    now = now_ms()
    shown = body if body.strip() or not attachment_ids else ATTACHMENT_PREVIEW
    if is_visitor:
        target = "id = ?" if conversation_id is not None else "id = (SELECT id FROM conversations WHERE visitor_id = ?"
        target += "" if conversation_id is not None else " AND status <> 'resolved')"
        fetch = tx.ahead(
            f"UPDATE conversations SET {_ADVANCE}, status = 'open', unread_agent = unread_agent + 1"
            f" WHERE {target} AND tenant_id = ? AND visitor_id = ? AND status <> 'resolved'"
            f" AND NOT EXISTS ({_SAME_CLIENT_ID}{'' if conversation_id is None else ' AND conversation_id = ?'})"
            f" {_returning(tx, '(SELECT name FROM visitors WHERE id = ?)')}",
            (
                now,
                preview_of(shown),
                author_id if conversation_id is None else conversation_id,
                tenant_id,
                author_id,
                author_id,
                client_id,
                author_kind,
                *(() if conversation_id is None else (conversation_id,)),
                author_id,
            ),
        )
    elif conversation_id is not None:
        # The first agent to answer an unassigned conversation takes it.
        fetch = tx.ahead(
            f"UPDATE conversations SET {_ADVANCE}, assignee_id = COALESCE(assignee_id, ?),"
            " unread_visitor = unread_visitor + 1 WHERE id = ? AND tenant_id = ? AND status <> 'resolved'"
            f"{_ASSIGNEE_OR_NONE if assignee_only else ''}"
            f" AND NOT EXISTS ({_SAME_CLIENT_ID} AND conversation_id = ?)"
            f" {_returning(tx, '(SELECT name FROM agents WHERE id = ?)')}",
            (
                now,
                preview_of(shown),
                author_id,
                conversation_id,
                tenant_id,
                *((author_id,) if assignee_only else ()),
                author_id,
                client_id,
                author_kind,
                conversation_id,
                author_id,
            ),
        )
    else:
        raise NotFound("conversation_id is required")

    def finish() -> protocol.MessageAck:
        return _post_updated(
            tx, tenant_id, fetch(), author_kind=author_kind, author_id=author_id, conversation_id=conversation_id,
            client_id=client_id, body=body, budget=budget, now=now, attachment_ids=attachment_ids,
            assignee_only=assignee_only,
        )  # fmt: skip

    return finish


def _post_updated(
    tx: Tx,
    tenant_id: int,
    updated: Row | None,
    *,
    author_kind: str,
    author_id: int,
    conversation_id: int | None,
    client_id: str,
    body: str,
    budget: tuple[float, float] | None,
    now: int,
    attachment_ids: Sequence[str],
    assignee_only: bool,
) -> protocol.MessageAck:
    """:func:`post_message` once its conversation's update answered: ``updated`` (a row from :func:`_returning`),
    or None when its checks did not pass."""
    is_visitor = author_kind == "visitor"
    if updated is None:
        return _post_checked(
            tx,
            tenant_id,
            author_kind=author_kind,
            author_id=author_id,
            conversation_id=conversation_id,
            client_id=client_id,
            body=body,
            budget=budget,
            now=now,
            attachment_ids=attachment_ids,
            assignee_only=assignee_only,
        )
    if is_visitor and updated.get("snoozed"):
        updated = _woken(tx, updated)
    charge = (f"visitor:{author_id}", *budget) if is_visitor and budget is not None else None
    return _store_message(tx, tenant_id, updated, author_kind, author_id, client_id, body, now, charge, attachment_ids)


def _woken(tx: Tx, updated: Row) -> Row:
    """A visitor's message wakes a snoozed conversation at once (store/snooze.py): ``updated`` (a row from
    :func:`_returning`) with the snooze ended. A statement of its own, only for snoozed conversations, so the
    common write path stays as it was."""
    row = tx.one("UPDATE conversations SET snoozed = 0 WHERE id = ? RETURNING *", (updated["id"],))
    assert row is not None
    return {**updated, **row}


def _returning(tx: Tx, name_of: str) -> str:
    """The conversation update's RETURNING: the row, the ids the message and
    its event will take, and ``name_of`` (the author's name) as ``author_name``.
    PostgreSQL takes the message's id too, so that the message and its event
    go in one statement (one round trip)."""
    clause = f"RETURNING *, {next_event_id_sql(tx)} AS next_event_id, {name_of} AS author_name"
    if tx.dialect == "postgres":
        clause += ", nextval(pg_get_serial_sequence('messages', 'id')) AS next_message_id"
    return clause


#: An agent's reply under ``reply_assignee_only`` (parameter: author_id).
_ASSIGNEE_OR_NONE = " AND (assignee_id IS NULL OR assignee_id = ?)"
#: The columns every message moves (parameters: the time, the preview).
_ADVANCE = "last_seq = last_seq + 1, last_activity = ?, preview = ?"
#: A message of this sender with this client_id (parameters: author_id, client_id, author_kind);
#: the unique index messages_client answers it.
_SAME_CLIENT_ID = "SELECT 1 FROM messages WHERE author_id = ? AND client_id = ? AND author_kind = ?"


def _store_message(
    tx: Tx,
    tenant_id: int,
    updated: Row,
    author_kind: str,
    author_id: int,
    client_id: str,
    body: str,
    now: int,
    charge: tuple[str, float, float] | None = None,
    attachment_ids: Sequence[str] = (),
) -> protocol.MessageAck:
    """The message row and its event, once the conversation is ``updated``
    (a row from :func:`_returning`); ``charge`` (bucket key, per second,
    burst) takes a token from a shared bucket (:func:`take_token`) too.

    SQLite: two or three statements (no round trips there). PostgreSQL, where
    each statement is a round trip: one, the inserts and the take as one
    statement of data-modifying CTEs, the message's id taken in advance, and
    deferred (:meth:`Tx.defer`): it goes with the batch's next round trip."""
    conversation_id, seq, event_id = int(updated["id"]), int(updated["last_seq"]), int(updated["next_event_id"])
    message_columns = "conversation_id, seq, author_kind, author_id, client_id, body, created_at, event_id"
    message_values = (conversation_id, seq, author_kind, author_id, client_id, body, now, event_id)
    together = tx.dialect == "postgres"
    if together:
        message_id = int(updated["next_message_id"])
    else:
        if charge is not None:
            take_token(tx, *charge)
        row = tx.one(
            f"INSERT INTO messages ({message_columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", message_values
        )
        assert row is not None
        message_id = int(row["id"])
    name = updated["author_name"]
    fields: dict[str, Any] = {
        "id": message_id,
        "conversation_id": conversation_id,
        "seq": seq,
        "author_kind": author_kind,
        "author_id": author_id,
        "author_name": domain.display_name(name, author_id) if author_kind == "visitor" else name,
        "client_id": client_id,
        "body": body,
        "created_at": now,
        "event_id": event_id,
    }
    if attachment_ids:
        fields["attachments"] = claim_files(
            tx,
            tenant_id,
            attachment_ids,
            uploader_kind=author_kind,
            uploader_id=author_id,
            conversation_id=conversation_id,
            visitor_id=int(updated["visitor_id"]),
            message_id=message_id,
        )
    message = protocol.Message(**fields)
    conversation = conversation_obj(updated)
    data = protocol.MessageCreated(**fields, conversation=conversation)
    event_sql, event_params = event_insert(
        tx,
        tenant_id,
        "message.created",
        data,
        conversation_id=conversation_id,
        visitor_id=updated["visitor_id"],
        visitor_payload=data,
        created_at=now,
        event_id=event_id,
    )
    if not together:
        tx.run(event_sql, event_params)
    else:
        sql = (
            f"WITH stored_message AS (INSERT INTO messages (id, {message_columns})"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)), stored_event AS ({event_sql})"
        )
        params: tuple[Any, ...] = (message_id, *message_values, *event_params)
        # Deferred: nothing after it needs its result (the ids were taken by the update), so on PostgreSQL it
        # rides with the batch's next round trip and a message costs one round trip, not two.
        if charge is None:
            tx.defer(f"{sql} SELECT 1", params)
        else:
            take_sql, take_params = _take_token_statement(*charge)
            per_second = charge[1]

            def check(row: Row | None) -> None:
                assert row is not None
                _check_tokens(float(row["tokens"]), per_second)

            taken = f"{sql}, taken AS ({take_sql}) SELECT tokens"
            # Refused in the database too (_REFUSED), so that PostgreSQL can send COMMIT before it reads the
            # tokens back: the batch then runs again one job at a time, where ``check`` raises RateLimited for
            # this write alone.
            tx.defer(f"{taken} FROM taken", (*params, *take_params), check, refusing=f"{taken}, {_REFUSED} FROM taken")
    return protocol.MessageAck(
        client_id=client_id,
        conversation_id=conversation_id,
        seq=seq,
        event_id=event_id,
        server_time=now,
        message=message,
        conversation=conversation,
    )


def _post_checked(
    tx: Tx,
    tenant_id: int,
    *,
    author_kind: str,
    author_id: int,
    conversation_id: int | None,
    client_id: str,
    body: str,
    budget: tuple[float, float] | None,
    now: int,
    attachment_ids: Sequence[str] = (),
    assignee_only: bool = False,
) -> protocol.MessageAck:
    """:func:`post_message` when its one-statement checks did not pass: a
    repeated ``client_id``, no open conversation yet, a conversation of the
    visitor's verified scope, a resolved one, an earlier one (read-only), one
    assigned to another agent, or none in scope (``NotFound``)."""
    is_visitor = author_kind == "visitor"
    # Reads only, sent together (one round trip on PostgreSQL): the earlier write of this client_id, and where
    # a visitor without a conversation_id writes.
    fetch_prior = _begin_prior_ack(tx, author_kind, author_id, conversation_id, client_id)
    fetch_latest = begin_latest_conversation_row(tx, tenant_id, author_id) if conversation_id is None else None
    prior = fetch_prior()
    if prior is not None:
        return prior
    if is_visitor and budget is not None:
        _take_token_deferred(tx, f"visitor:{author_id}", *budget)
    if conversation_id is None:
        assert fetch_latest is not None
        # The visitor's latest conversation (reopened below if resolved), or their first: with none at all in
        # its scope (just read, in this transaction), a new one without looking again.
        scope, latest = fetch_latest()
        if not scope:
            raise NotFound("no such visitor")  # erased while this request was on its way
        conv = latest if latest is not None else new_conversation_row(tx, tenant_id, author_id)
    else:
        conv = conversation_row(tx, tenant_id, conversation_id, author_id if is_visitor else None)
    status = ConversationStatus(conv["status"])
    if is_visitor:
        new_status = domain.status_after_visitor_message(status)
        if status is ConversationStatus.RESOLVED:
            latest = latest_conversation_row(tx, tenant_id, author_id)
            if latest is None or latest["id"] != conv["id"]:
                raise Conflict(READ_ONLY)
        unread = "unread_agent = unread_agent + 1"
        assignee_id = conv["assignee_id"]
        name_of = "(SELECT name FROM visitors WHERE id = ?)"
    else:
        if status is ConversationStatus.RESOLVED:
            raise Conflict("the conversation was resolved; reopen it to reply")
        if assignee_only and conv["assignee_id"] not in (None, author_id):
            raise Forbidden(f"only the assignee ({agent_name(tx, conv['assignee_id'])}) may reply in this conversation")
        new_status = status
        unread = "unread_visitor = unread_visitor + 1"
        assignee_id = conv["assignee_id"] if conv["assignee_id"] is not None else author_id
        name_of = "(SELECT name FROM agents WHERE id = ?)"
    shown = body if body.strip() or not attachment_ids else ATTACHMENT_PREVIEW
    updated = tx.one(
        f"UPDATE conversations SET {_ADVANCE}, status = ?, assignee_id = ?, {unread} WHERE id = ?"
        f" {_returning(tx, name_of)}",
        (now, preview_of(shown), new_status.value, assignee_id, conv["id"], author_id),
    )
    assert updated is not None
    if is_visitor and updated.get("snoozed"):
        updated = _woken(tx, updated)
    if is_visitor and status is ConversationStatus.RESOLVED and assignee_id is not None:
        # A reopened conversation whose assignee stays offline goes back to the queue (store/assignment.py).
        assignment.reopened(tx, tenant_id, conv["id"], conv["visitor_id"], assignee_id, now=now)
    ack = _store_message(
        tx, tenant_id, updated, author_kind, author_id, client_id, body, now, attachment_ids=attachment_ids
    )
    if is_visitor and status is ConversationStatus.RESOLVED:
        record_visitor_reopen(tx, tenant_id, updated)
    return ack


def _begin_prior_ack(
    tx: Tx, author_kind: str, author_id: int, conversation_id: int | None, client_id: str
) -> Callable[[], protocol.MessageAck | None]:
    """Send the read (:meth:`Tx.ahead`) of the message this sender already stored with ``client_id`` (in
    ``conversation_id``, or in any conversation when it is None); the function returns its ack, rebuilt from
    the message and its event's data, which hold the conversation as it was then, or None for a new
    ``client_id``. Where ``frontdesk prune`` has deleted that event, the conversation is read as it is now."""
    where = "" if conversation_id is None else " AND m.conversation_id = ?"
    fetch = tx.ahead(
        "SELECT m.*, e.payload FROM messages m LEFT JOIN events e ON e.event_id = m.event_id"
        f" WHERE m.author_id = ? AND m.client_id = ? AND m.author_kind = ?{where} ORDER BY m.id LIMIT 1",
        (author_id, client_id, author_kind, *(() if conversation_id is None else (conversation_id,))),
    )
    return lambda: _prior_ack_of(tx, fetch(), author_kind, author_id, client_id)


def _prior_ack_of(
    tx: Tx, row: Row | None, author_kind: str, author_id: int, client_id: str
) -> protocol.MessageAck | None:
    """The ack of :func:`_begin_prior_ack` from its row (None: a new ``client_id``)."""
    if row is None:
        return None
    if row["payload"] is not None:
        data = protocol.from_wire(protocol.MessageCreated, json.loads(row["payload"]))
        message = protocol.Message(**{name: getattr(data, name) for name in protocol.wire_fields(protocol.Message)})
        conversation = data.conversation
    else:
        conv = conversation_row(tx, _tenant_of(tx, row["conversation_id"]), row["conversation_id"])
        author = visitor_name(tx, author_id) if author_kind == "visitor" else agent_name(tx, author_id)
        message = message_obj(row, author)
        conversation = conversation_obj(conv)
    return protocol.MessageAck(
        client_id=client_id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        event_id=message.event_id,
        server_time=message.created_at,
        message=message,
        conversation=conversation,
    )


def _tenant_of(tx: Tx, conversation_id: int) -> int:
    row = tx.one("SELECT tenant_id FROM conversations WHERE id = ?", (conversation_id,))
    assert row is not None
    return int(row["tenant_id"])


def post_note(
    tx: Tx,
    tenant_id: int,
    *,
    agent_id: int,
    conversation_id: int,
    client_id: str,
    body: str,
    attachment_ids: Sequence[str] = (),
) -> protocol.NoteAck:
    """Store a private note; visitors never see it (no visitor payload). Its
    event is written once, with its payload; a repeated ``client_id`` returns
    the original result."""
    sender = f"agent:{agent_id}"
    prior = idempotent(tx, protocol.NoteAck, sender, f"note:{conversation_id}", client_id)
    if prior is not None:
        return prior
    conv = conversation_row(tx, tenant_id, conversation_id)
    now = now_ms()
    updated = tx.one(
        "UPDATE conversations SET last_note_seq = last_note_seq + 1 WHERE id = ?"
        f" RETURNING last_note_seq, {next_event_id_sql(tx)} AS next_event_id,"
        " (SELECT name FROM agents WHERE id = ?) AS author_name",
        (conv["id"], agent_id),
    )
    assert updated is not None
    seq, event_id = int(updated["last_note_seq"]), int(updated["next_event_id"])
    row = tx.one(
        "INSERT INTO notes (conversation_id, seq, agent_id, client_id, body, created_at, event_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (conv["id"], seq, agent_id, client_id, body, now, event_id),
    )
    assert row is not None
    note = note_obj(row, updated["author_name"])
    if attachment_ids:
        note.attachments = claim_files(
            tx,
            tenant_id,
            attachment_ids,
            uploader_kind="agent",
            uploader_id=agent_id,
            conversation_id=int(conv["id"]),
            visitor_id=int(conv["visitor_id"]),
            note_id=int(row["id"]),
        )
    append_event(tx, tenant_id, "note.created", note, conversation_id=conv["id"], created_at=now, event_id=event_id)
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
    with_files, _ = attachments_of(tx, message_ids=[m.id for m in messages])
    for message in messages:
        message.attachments = with_files.get(message.id, [])
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
    note_objs = [note_obj(n, n["agent_name"]) for n in notes]
    _, note_files = attachments_of(tx, note_ids=[n.id for n in note_objs])
    for note in note_objs:
        note.attachments = note_files.get(note.id, [])
    return protocol.AgentHistoryResult(messages=messages, has_more=has_more, notes=note_objs)


def _author_name(row: Row) -> str | None:
    if row["author_kind"] == "visitor":
        return domain.display_name(row["visitor_name"], row["author_id"])
    return None if row["agent_name"] is None else str(row["agent_name"])


BEGINNINGS[post_message] = begin_post_message
