"""What an agent changes about themselves: availability, display name and
password (PROTOCOL.md, ``availability.set`` and ``me.update``).

Each change appends ``agent.updated`` so every node and every console learns
it (visitors' "someone is there" follows ``away`` on every node:
``Handlers.on_committed``). A new password ends the agent's other sessions
but not the one that asked: its tokens but the caller's are deleted here and
returned, for the handler to close their sockets (on every node).
"""

from __future__ import annotations

from .. import protocol
from ..exceptions import NotFound
from . import _sql
from ._sql import Tx
from .agents import _agent_updated
from .events import append_event

__all__ = ["password_hash_of", "set_away", "update_self"]


def _changed(tx: Tx, tenant_id: int, agent_id: int) -> protocol.AgentProfile:
    row = tx.one("SELECT * FROM agents WHERE id = ? AND tenant_id = ?", (agent_id, tenant_id))
    if row is None:
        raise NotFound("no such agent in this tenant")
    agent = _sql.agent_obj(row)
    append_event(tx, tenant_id, "agent.updated", _agent_updated(agent, sessions_revoked=False))
    return agent


def password_hash_of(tx: Tx, tenant_id: int, agent_id: int) -> str | None:
    """The agent's stored password hash (to check a current password before a change), or None."""
    row = tx.one("SELECT password_hash FROM agents WHERE id = ? AND tenant_id = ?", (agent_id, tenant_id))
    return None if row is None else str(row["password_hash"])


def set_away(tx: Tx, tenant_id: int, agent_id: int, away: bool) -> protocol.AgentProfile:
    """Set the agent Away or back Online; an unchanged value writes nothing."""
    row = tx.one("SELECT * FROM agents WHERE id = ? AND tenant_id = ?", (agent_id, tenant_id))
    if row is None:
        raise NotFound("no such agent in this tenant")
    if bool(row["away"]) == away:
        return _sql.agent_obj(row)
    tx.run("UPDATE agents SET away = ? WHERE id = ?", (int(away), agent_id))
    return _changed(tx, tenant_id, agent_id)


def update_self(
    tx: Tx,
    tenant_id: int,
    agent_id: int,
    *,
    name: str | None,
    password_hash: str | None,
    keep_token_hash: str,
) -> tuple[protocol.AgentProfile, list[str]]:
    """Apply a new display name and/or password hash; (the agent, the hashes of
    the tokens a new password revoked: every one but ``keep_token_hash``)."""
    revoked: list[str] = []
    if name is not None:
        tx.run("UPDATE agents SET name = ? WHERE id = ? AND tenant_id = ?", (name, agent_id, tenant_id))
    if password_hash is not None:
        tx.run(
            "UPDATE agents SET password_hash = ? WHERE id = ? AND tenant_id = ?", (password_hash, agent_id, tenant_id)
        )
        rows = tx.all(
            "SELECT token_hash FROM agent_tokens WHERE agent_id = ? AND token_hash <> ?", (agent_id, keep_token_hash)
        )
        revoked = [str(r["token_hash"]) for r in rows]
        tx.run("DELETE FROM agent_tokens WHERE agent_id = ? AND token_hash <> ?", (agent_id, keep_token_hash))
    return _changed(tx, tenant_id, agent_id), revoked
