"""Conversations: starting one, its status and assignee, what each side has
read, and the inbox's reads.

Conversations are returned as the protocol's
:class:`~frontdesk.server.protocol.Conversation` (the inbox's with their
visitor). A conversation outside the caller's scope (another tenant's,
another visitor's) is indistinguishable from none: ``NotFound``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .. import domain, protocol
from ..domain import ConversationStatus, StatusAction
from ..exceptions import Conflict, NotFound
from . import csat
from ._sql import (
    Row,
    Tx,
    conversation_fields,
    conversation_obj,
    idempotent,
    now_ms,
    remember,
    visitor_obj,
    visitor_scope,
)
from .events import append_event, event_insert, last_event_id, next_event_id_sql

__all__ = [
    "Started",
    "assign",
    "begin_latest_conversation_row",
    "change_status",
    "get_conversation",
    "latest_conversation_row",
    "list_conversations",
    "mark_seen",
    "new_conversation_row",
    "record_visitor_reopen",
    "scope_conversations",
    "snapshot",
    "start_conversation",
    "visitor_conversations",
]


def conversation_row(tx: Tx, tenant_id: int, conversation_id: int, visitor_id: int | None = None) -> Row:
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
    """The visitor's own open (not resolved) conversation, if any."""
    return tx.one("SELECT * FROM conversations WHERE visitor_id = ? AND status <> 'resolved'", (visitor_id,))


def open_conversation_in(tx: Tx, visitor_id: int, scope: Sequence[int]) -> Row | None:
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


def latest_conversation_row(tx: Tx, tenant_id: int, visitor_id: int, scope: Sequence[int] | None = None) -> Row | None:
    """The visitor's *latest* conversation (PROTOCOL.md, "Several conversations
    per visitor"): the open one of its scope if there is one, else the most
    recently started one; None before the first. Only this one may be written
    in (a resolved latest one reopens); the earlier ones are read-only.
    ``scope``: the visitor's :func:`visitor_scope`, when the caller read it in
    this transaction already."""
    scope = visitor_scope(tx, tenant_id, visitor_id) if scope is None else scope
    if not scope:
        return None
    found = open_conversation_in(tx, visitor_id, scope)
    if found is not None:
        return found
    marks = ", ".join("?" * len(scope))
    return tx.one(
        f"SELECT * FROM conversations WHERE tenant_id = ? AND visitor_id IN ({marks}) ORDER BY id DESC LIMIT 1",
        (tenant_id, *scope),
    )


def begin_latest_conversation_row(
    tx: Tx, tenant_id: int, visitor_id: int
) -> Callable[[], tuple[list[int], Row | None]]:
    """:func:`latest_conversation_row` and :func:`visitor_scope` in two steps: send the reads an unverified
    visitor needs (:meth:`Tx.ahead`: its row, and its open or else newest conversation), and return a function
    giving (scope, latest conversation). A verified visitor's scope may hold other visitors: that function then
    reads them as :func:`latest_conversation_row` does. Reads only, so sending them early changes nothing."""
    fetch_visitor = tx.ahead(
        "SELECT user_id, verified FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id)
    )
    # At most one conversation of a visitor is open (a unique partial index): that one, else the newest.
    fetch_latest = tx.ahead(
        "SELECT * FROM conversations WHERE tenant_id = ? AND visitor_id = ?"
        " ORDER BY (status <> 'resolved') DESC, id DESC LIMIT 1",
        (tenant_id, visitor_id),
    )

    def finish() -> tuple[list[int], Row | None]:
        visitor, latest = fetch_visitor(), fetch_latest()
        if visitor is None:
            return [], None
        if not visitor["verified"] or visitor["user_id"] is None:
            return [visitor_id], latest
        scope = visitor_scope(tx, tenant_id, visitor_id)
        return scope, latest_conversation_row(tx, tenant_id, visitor_id, scope)

    return finish


def record_visitor_reopen(tx: Tx, tenant_id: int, row: Row) -> None:
    """A visitor's message reopened the resolved conversation ``row``: its
    ``conversation.updated`` (change ``open``, no actor), the start of a new
    episode for reports; appended after the message's own event."""
    _conversation_changed(tx, tenant_id, row, None, ConversationStatus.OPEN.value)


class Started(NamedTuple):
    """What :func:`start_conversation` found or made."""

    conversation: protocol.Conversation
    created: bool  #: False: an open conversation already existed


def start_conversation(tx: Tx, tenant_id: int, visitor_id: int) -> Started:
    """The visitor's open conversation (or the open one of its verified
    scope), created if none (``conversation.created``); ``NotFound`` for an
    erased visitor. The unique partial index on open conversations makes a
    double start impossible."""
    row, created = start_conversation_row(tx, tenant_id, visitor_id)
    return Started(conversation_obj(row), created)


def start_conversation_row(tx: Tx, tenant_id: int, visitor_id: int) -> tuple[Row, bool]:
    """:func:`start_conversation` for the store's own operations: (row, created).

    The unique partial index on open conversations makes a double start
    impossible; the single writer makes the check-then-insert race-free.
    """
    existing = open_conversation_of(tx, visitor_id)
    if existing is not None:
        return existing, False
    scope = visitor_scope(tx, tenant_id, visitor_id)
    if not scope:  # erased while this request was on its way
        raise NotFound("no such visitor")
    existing = open_conversation_in(tx, visitor_id, scope)
    if existing is not None:
        return existing, False
    return new_conversation_row(tx, tenant_id, visitor_id), True


def new_conversation_row(tx: Tx, tenant_id: int, visitor_id: int) -> Row:
    """A new open conversation of the visitor, and its ``conversation.created``; for a caller that found, in
    this transaction, that the visitor (not erased) has no open conversation in its scope
    (:func:`start_conversation_row`, or a visitor's first message). One round trip on PostgreSQL: the visitor's
    row is read with the INSERT (:meth:`Tx.ahead`), and the event's id is taken by the INSERT, so the event goes
    without a round trip of its own (:meth:`Tx.defer`)."""
    now = now_ms()
    # The visitor's row (which the INSERT does not change) is asked for first, so both answers come back together.
    fetch_visitor = tx.ahead("SELECT * FROM visitors WHERE id = ?", (visitor_id,))
    row = tx.one(
        "INSERT INTO conversations (tenant_id, visitor_id, status, created_at, last_activity)"
        f" VALUES (?, ?, 'open', ?, ?) RETURNING *, {next_event_id_sql(tx)} AS next_event_id",
        (tenant_id, visitor_id, now, now),
    )
    assert row is not None
    event_id = int(row.pop("next_event_id"))
    visitor = fetch_visitor()
    assert visitor is not None
    conv = conversation_obj(row)
    sql, params = event_insert(
        tx,
        tenant_id,
        "conversation.created",
        protocol.ConversationWithVisitor(**conversation_fields(row), visitor=visitor_obj(visitor)),
        conversation_id=row["id"],
        visitor_id=visitor_id,
        visitor_payload=conv,
        created_at=now,
        event_id=event_id,
    )
    tx.defer(sql, params)
    return row


def _conversation_changed(
    tx: Tx, tenant_id: int, row: Row, actor_id: int | None, change: str
) -> protocol.ConversationChange:
    """Append ``conversation.updated`` for ``row``; ``actor_id`` is the agent
    who changed it (None: the visitor)."""
    fields = conversation_fields(row)
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
    tx: Tx,
    tenant_id: int,
    *,
    agent_id: int,
    conversation_id: int,
    action: StatusAction,
    client_id: str | None,
    survey: csat.SurveyAsk | None = None,
) -> protocol.ConversationChange:
    """Resolve, reopen or pend. ``Conflict`` when the status does not allow it
    (e.g. someone else resolved it meanwhile). A resolve with ``survey`` opens
    the episode's satisfaction survey in the same transaction (:mod:`.csat`)."""
    sender, scope = f"agent:{agent_id}", f"{action.value}:{conversation_id}"
    prior = idempotent(tx, protocol.ConversationChange, sender, scope, client_id)
    if prior is not None:
        return prior
    conv = conversation_row(tx, tenant_id, conversation_id)
    try:
        if conv["snoozed"] and action is StatusAction.REOPEN:  # reopening a snoozed conversation wakes it
            target = ConversationStatus.OPEN
        else:
            target = domain.next_status(ConversationStatus(conv["status"]), action)
    except domain.TransitionError as exc:
        raise Conflict(str(exc)) from None
    other = open_conversation_of(tx, conv["visitor_id"])
    if target is ConversationStatus.OPEN and other is not None and other["id"] != conv["id"]:
        raise Conflict("the visitor already has another open conversation")
    # Any status change ends a snooze (migration 0013; its wake-up job then finds nothing to do).
    row = tx.one(
        "UPDATE conversations SET status = ?, snoozed = 0 WHERE id = ? RETURNING *", (target.value, conv["id"])
    )
    assert row is not None
    result = _conversation_changed(tx, tenant_id, row, agent_id, target.value)
    if survey is not None and target is ConversationStatus.RESOLVED:
        csat.open_survey(
            tx,
            tenant_id,
            row,
            agent_id=row["assignee_id"] or agent_id,
            episode=result.event_id,
            scale=survey.scale,
            now=survey.now,
            window_ms=survey.window_ms,
            email_after_ms=survey.email_after_ms,
        )
    remember(tx, sender, scope, client_id, result)
    return result


def note_assigned(tx: Tx, agent_id: int, now: int | None) -> None:
    """Remember when ``agent_id`` was last given a conversation (the auto-assigner's tie-break)."""
    tx.run("UPDATE agents SET last_assigned_at = ? WHERE id = ?", (now if now is not None else now_ms(), agent_id))


def assign(
    tx: Tx,
    tenant_id: int,
    *,
    agent_id: int,
    conversation_id: int,
    assignee_id: int | None,
    client_id: str | None,
    now: int | None = None,
) -> protocol.ConversationChange:
    """Set or clear the assignee; the assignee must be an active agent of the
    same tenant. An assignee's ``last_assigned_at`` becomes ``now`` (the
    handlers' clock; default the wall clock): the auto-assigner's ties go to
    the agent assigned longest ago, by whatever means (store/assignment.py)."""
    sender, scope = f"agent:{agent_id}", f"assign:{conversation_id}"
    prior = idempotent(tx, protocol.ConversationChange, sender, scope, client_id)
    if prior is not None:
        return prior
    conv = conversation_row(tx, tenant_id, conversation_id)
    if assignee_id is not None:
        target = tx.one("SELECT * FROM agents WHERE id = ? AND tenant_id = ?", (assignee_id, tenant_id))
        if target is None:
            raise NotFound(f"no agent {assignee_id} in this tenant")
        if not target["active"]:
            raise Conflict(f"{target['name']} is disabled")
    row = tx.one(
        "UPDATE conversations SET assignee_id = ?, assign_reason = ?, queued_at = NULL WHERE id = ? RETURNING *",
        (assignee_id, "manual" if assignee_id else None, conv["id"]),
    )
    assert row is not None
    if assignee_id is not None:
        note_assigned(tx, assignee_id, now)
    result = _conversation_changed(tx, tenant_id, row, agent_id, "assigned" if assignee_id else "unassigned")
    remember(tx, sender, scope, client_id, result)
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
    conv = conversation_row(tx, tenant_id, conversation_id, visitor_id)
    column = "unread_visitor" if side == "visitor" else "unread_agent"
    if conv[column] == 0 or seq <= 0:
        return False
    row = tx.one(f"UPDATE conversations SET {column} = 0 WHERE id = ? RETURNING *", (conv["id"],))
    assert row is not None
    _conversation_changed(tx, tenant_id, row, actor_id if side == "agent" else None, f"seen_by_{side}")
    return True


def get_conversation(
    tx: Tx, tenant_id: int, conversation_id: int, visitor_id: int | None = None
) -> protocol.Conversation:
    """The conversation if the caller may act on it (an agent of the tenant:
    ``visitor_id`` None; a visitor: in its scope), else ``NotFound``."""
    return conversation_obj(conversation_row(tx, tenant_id, conversation_id, visitor_id))


def _status_clause(statuses: Sequence[str], params: list[Any]) -> str:
    """SQL keeping conversations whose wire status is one of ``statuses``:
    "snoozed" is a flag over the stored status (migration 0013)."""
    stored = [s for s in statuses if s != "snoozed"]
    parts = []
    if stored:
        parts.append(f"(c.status IN ({', '.join('?' for _ in stored)}) AND c.snoozed = 0)")
        params += stored
    if "snoozed" in statuses:
        parts.append("c.snoozed = 1")
    return "(" + " OR ".join(parts or ["1 = 0"]) + ")"


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
    team_id: int | None = None,
    label_id: int | None = None,
) -> tuple[list[protocol.ConversationWithVisitor], str | None]:
    """A page of conversations with their visitor, newest activity first,
    and the cursor of the next page (None at the end); only ``team_id``'s and
    those with ``label_id`` when given (PROTOCOL.md, "Teams", "Labels")."""
    where = ["c.tenant_id = ?"]
    params: list[Any] = [tenant_id]
    # The filter's rule is declared once (protocol.SNAPSHOT_FILTER_RULES, which the console's tabs follow too);
    # its SQL is derived from it here.
    rule = protocol.SNAPSHOT_FILTER_RULES.get(filter or "all", protocol.SNAPSHOT_FILTER_RULES["all"])
    if set(rule.statuses) != set(protocol.SNAPSHOT_FILTER_RULES["all"].statuses):
        where.append(_status_clause(rule.statuses, params))
    if rule.assignee == "me":
        where.append("c.assignee_id = ?")
        params.append(me)
    elif rule.assignee == "none":
        where.append("c.assignee_id IS NULL")
    if visitor_id is not None:
        where.append("c.visitor_id = ?")
        params.append(visitor_id)
    if team_id is not None:
        where.append("c.team_id = ?")
        params.append(team_id)
    if label_id is not None:
        where.append("c.label_ids LIKE ?")
        params.append(f"%,{int(label_id)},%")
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
        out.append(protocol.ConversationWithVisitor(**conversation_fields(r), visitor=visitor))
    next_cursor = f"{rows[-1]['last_activity']}:{rows[-1]['id']}" if more and rows else None
    return out, next_cursor


def visitor_conversations(tx: Tx, tenant_id: int, visitor_id: int) -> list[protocol.Conversation]:
    """Every conversation of one visitor, most recent first."""
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
    # "+tenant_id": SQLite's planner otherwise searches conversations_inbox by tenant (every conversation of it).
    rows = tx.all(
        f"SELECT * FROM conversations WHERE +tenant_id = ? AND visitor_id IN ({marks})"
        " ORDER BY last_activity DESC, id DESC",
        (tenant_id, *scope),
    )
    return [conversation_obj(r) for r in rows]


def snapshot(
    tx: Tx,
    tenant_id: int,
    *,
    epoch: str,
    filter: str,
    me: int | None,
    query: str | None,
    visitor_id: int | None,
    cursor: str | None,
    limit: int,
    team_id: int | None = None,
    label_id: int | None = None,
) -> protocol.SnapshotResult:
    """The agent's ``snapshot`` reply: a page of :func:`list_conversations` and
    the event cursor, from one snapshot (so the page is as of that
    ``last_event_id``). ``NotFound`` for a malformed page cursor."""
    conversations, next_cursor = list_conversations(
        tx,
        tenant_id,
        filter=filter,
        me=me,
        query=query,
        visitor_id=visitor_id,
        cursor=cursor,
        limit=limit,
        team_id=team_id,
        label_id=label_id,
    )
    return protocol.SnapshotResult(
        conversations=conversations, next_cursor=next_cursor, epoch=epoch, last_event_id=last_event_id(tx)
    )
