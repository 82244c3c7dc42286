"""Transfer: hand a conversation to another agent or to a team, with a note
(issue 15, item 4; PROTOCOL.md, "Transfer").

One transaction: every target is checked before anything is written (another
tenant's agent or team is ``NotFound``, a disabled agent ``Conflict``), so a
refused transfer changes nothing. Then the conversation's assignee and team,
its ``assign_reason`` (``transfer``), the ``conversation.updated`` event with
change ``transferred`` (the receiver's console notifies them from it; the
trail shows it), and the note as a private note.

A transfer to a team alone leaves the conversation unassigned in that team's
inbox: with the team's auto-assignment on, its queue takes it from there
(store/assignment.py).
"""

from __future__ import annotations

import uuid

from .. import protocol
from ..exceptions import Conflict, NotFound
from ._sql import Tx, idempotent, remember
from .conversations import _conversation_changed, conversation_row, note_assigned
from .messages import post_note
from .teams import team_of

__all__ = ["transfer"]


def transfer(
    tx: Tx,
    tenant_id: int,
    *,
    agent_id: int,
    conversation_id: int,
    to_agent_id: int | None,
    to_team_id: int | None,
    note: str | None,
    client_id: str | None,
    now: int | None = None,
) -> protocol.ConversationChange:
    """Transfer the conversation to ``to_agent_id`` and/or ``to_team_id`` (at
    least one), with an optional private ``note``; the ``transferred`` change.
    A receiving agent's ``last_assigned_at`` becomes ``now`` (as for ``assign``)."""
    sender, scope = f"agent:{agent_id}", f"transfer:{conversation_id}"
    prior = idempotent(tx, protocol.ConversationChange, sender, scope, client_id)
    if prior is not None:
        return prior
    if to_agent_id is None and to_team_id is None:
        raise Conflict("a transfer needs an agent or a team", field="agent_id")
    conv = conversation_row(tx, tenant_id, conversation_id)
    if conv["status"] == "resolved":
        raise Conflict("the conversation is resolved; reopen it to transfer it")
    if to_team_id is not None:
        team_of(tx, tenant_id, to_team_id)
    if to_agent_id is not None:
        target = tx.one("SELECT name, active FROM agents WHERE id = ? AND tenant_id = ?", (to_agent_id, tenant_id))
        if target is None:
            raise NotFound(f"no agent {to_agent_id} in this tenant", field="agent_id")
        if not target["active"]:
            raise Conflict(f"{target['name']} is disabled; choose someone else", field="agent_id")
    row = tx.one(
        "UPDATE conversations SET assignee_id = ?, team_id = ?, assign_reason = ?, queued_at = NULL"
        " WHERE id = ? RETURNING *",
        (
            to_agent_id,
            to_team_id if to_team_id is not None else conv["team_id"],
            "transfer" if to_agent_id is not None else None,
            conv["id"],
        ),
    )
    assert row is not None
    if to_agent_id is not None:
        note_assigned(tx, to_agent_id, now)
    result = _conversation_changed(tx, tenant_id, row, agent_id, "transferred")
    if note is not None and note.strip():
        post_note(tx, tenant_id, agent_id=agent_id, conversation_id=conv["id"], client_id=str(uuid.uuid4()), body=note)
    remember(tx, sender, scope, client_id, result)
    return result
