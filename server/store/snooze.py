"""Snooze: put a conversation aside until a time, or until the visitor writes
(issue 15, item 3; PROTOCOL.md, "Snooze").

A snooze is a flag over the stored status (migration 0013): the conversation
keeps its status and its place in the unique index of open conversations, and
the wire shows it as ``"snoozed"`` (``_sql.conversation_fields``). A timed
snooze's wake-up is a job in the one durable job table (:mod:`.jobs`, kind
:data:`WAKE_JOB`), enqueued in the snooze's own transaction, so it survives a
restart and runs on exactly one node. The wake-up is idempotent: it only wakes
a conversation that is still snoozed until that very time, so a visitor's
message (``messages.post_message`` clears the flag), a reopen or a later
snooze make the old job a no-op.
"""

from __future__ import annotations

from .. import protocol
from ..exceptions import Conflict
from . import jobs
from ._sql import Tx, idempotent, remember
from .conversations import _conversation_changed, conversation_row

__all__ = ["WAKE_JOB", "snooze", "wake"]

#: The job kind of a timed snooze's wake-up; payload ``{conversation_id, until}``.
WAKE_JOB = "snooze.wake"


def snooze(
    tx: Tx,
    tenant_id: int,
    *,
    agent_id: int,
    conversation_id: int,
    until: int | None,
    now: int,
    client_id: str | None,
) -> protocol.ConversationChange:
    """Snooze the conversation until ``until`` (ms), or until the visitor
    writes when it is None; ``conversation.updated`` with change ``snoozed``.

    ``Conflict`` for a resolved conversation, and for ``until`` not after
    ``now`` (the handler answers that one as ``invalid`` first). Snoozing a
    snoozed conversation again moves its wake-up (one job per conversation,
    by its dedupe key)."""
    sender, scope = f"agent:{agent_id}", f"snooze:{conversation_id}"
    prior = idempotent(tx, protocol.ConversationChange, sender, scope, client_id)
    if prior is not None:
        return prior
    if until is not None and until <= now:
        raise Conflict("a snooze must end in the future", field="until")
    conv = conversation_row(tx, tenant_id, conversation_id)
    if conv["status"] == "resolved":
        raise Conflict("cannot snooze a resolved conversation")
    row = tx.one(
        "UPDATE conversations SET snoozed = 1, snoozed_until = ? WHERE id = ? RETURNING *", (until, conv["id"])
    )
    assert row is not None
    if until is not None:
        jobs.enqueue(
            tx,
            WAKE_JOB,
            {"conversation_id": conv["id"], "until": until},
            now=now,
            due_at=until,
            tenant_id=tenant_id,
            visitor_id=conv["visitor_id"],  # erasure removes it with the conversation
            dedupe_key=f"{WAKE_JOB}:{conv['id']}",
        )
    result = _conversation_changed(tx, tenant_id, row, agent_id, "snoozed")
    remember(tx, sender, scope, client_id, result)
    return result


def wake(tx: Tx, tenant_id: int, conversation_id: int, until: int) -> protocol.ConversationChange | None:
    """The wake-up job's work: reopen the conversation if it is still snoozed
    until ``until`` (``conversation.updated``, change ``woken``, no actor);
    None when there is nothing to wake (woken already, snoozed again to
    another time, resolved, or erased)."""
    row = tx.one(
        "UPDATE conversations SET snoozed = 0, status = 'open'"
        " WHERE id = ? AND tenant_id = ? AND snoozed = 1 AND snoozed_until = ? RETURNING *",
        (conversation_id, tenant_id, until),
    )
    if row is None:
        return None
    return _conversation_changed(tx, tenant_id, row, None, "woken")
