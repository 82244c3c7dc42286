"""Agents: their accounts, roles and login sessions.

Agents are returned as the protocol's
:class:`~frontdesk.server.protocol.AgentProfile`; only the login path sees an
:class:`Account` (the profile with its password hash). The tenant's "at least
one active admin" rule is checked inside the write that would break it
(:func:`update_agent`), so two concurrent demotions cannot both pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .. import protocol
from ..exceptions import Conflict, NotFound, RateLimited
from ._sql import Tx, agent_obj, now_ms
from .events import append_event

__all__ = [
    "Account",
    "account_by_token",
    "accounts_by_email",
    "agent_by_email",
    "agent_name",
    "count_active_admins",
    "create_agent",
    "end_session",
    "list_agents",
    "login_attempt",
    "login_succeeded",
    "start_session",
    "update_agent",
    "with_presence",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Account:
    """An agent as the login path needs it: the profile and the password hash."""

    profile: protocol.AgentProfile
    password_hash: str


def create_agent(
    tx: Tx, tenant_id: int, email: str, name: str, role: str, password_hash: str, *, emit: bool = True
) -> protocol.AgentProfile:
    """A new active agent (``Conflict`` when the email is taken in this tenant);
    ``agent.updated`` tells the tenant's consoles unless ``emit`` is false
    (the first admin, created with the tenant)."""
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
    """Apply ``changes`` (name, role, active, password_hash; None: unchanged)
    and append ``agent.updated``. Disabling or a new password revokes the
    agent's tokens in the same transaction.

    ``NotFound`` for an agent of another tenant; ``Conflict`` when the change
    would leave the tenant without an active admin (disabling or demoting the
    last one). The check runs in this write transaction, which the single
    writer (SQLite) or the tenant's write lock (PostgreSQL) serializes
    with every other write of the tenant: two concurrent demotions cannot both pass it.
    """
    row = tx.one("SELECT * FROM agents WHERE id = ? AND tenant_id = ?", (agent_id, tenant_id))
    if row is None:
        raise NotFound("no such agent in this tenant")
    allowed = {"name", "role", "active", "password_hash"}
    sets = {k: (int(v) if k == "active" else v) for k, v in changes.items() if k in allowed and v is not None}
    demoting = (
        row["role"] == "admin" and row["active"] and (sets.get("role", "admin") != "admin" or sets.get("active") == 0)
    )
    if demoting and count_active_admins(tx, tenant_id) <= 1:
        raise Conflict("a tenant needs at least one active admin")
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
    """How many active admins the tenant has."""
    row = tx.one("SELECT COUNT(*) AS n FROM agents WHERE tenant_id = ? AND role = 'admin' AND active = 1", (tenant_id,))
    return int(row["n"]) if row else 0


def with_presence(agent: protocol.AgentProfile, online: bool) -> protocol.Agent:
    """The Agent object: the stored profile plus whether they are online now."""
    return protocol.Agent(
        **{name: getattr(agent, name) for name in protocol.wire_fields(protocol.AgentProfile)}, online=online
    )


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


def agent_name(tx: Tx, agent_id: int | None) -> str | None:
    """An agent's name, as their messages and notes carry it (None: no such agent)."""
    if agent_id is None:
        return None
    row = tx.one("SELECT name FROM agents WHERE id = ?", (agent_id,))
    return None if row is None else str(row["name"])


def list_agents(tx: Tx, tenant_id: int) -> list[protocol.AgentProfile]:
    """Every agent of the tenant, active or not, by name."""
    rows = tx.all("SELECT * FROM agents WHERE tenant_id = ? ORDER BY name, id", (tenant_id,))
    return [agent_obj(r) for r in rows]


def agent_by_email(tx: Tx, tenant_id: int, email: str) -> protocol.AgentProfile | None:
    """The tenant's agent with this (lower-case) email, or None."""
    row = tx.one("SELECT * FROM agents WHERE tenant_id = ? AND email = ?", (tenant_id, email))
    return None if row is None else agent_obj(row)


def accounts_by_email(tx: Tx, email: str, tenant_slug: str | None) -> list[Account]:
    """The accounts a login with ``email`` may mean: the one of the tenant
    ``tenant_slug``, or without a slug, that email's account in every tenant."""
    if tenant_slug:
        rows = tx.all(
            "SELECT a.* FROM agents a JOIN tenants t ON t.id = a.tenant_id WHERE a.email = ? AND t.slug = ?",
            (email, tenant_slug),
        )
    else:
        rows = tx.all("SELECT * FROM agents WHERE email = ?", (email,))
    return [Account(agent_obj(r), str(r["password_hash"])) for r in rows]


def account_by_token(tx: Tx, token_hash: str) -> Account | None:
    """The account a session token (its hash) belongs to, or None (revoked or unknown)."""
    row = tx.one(
        "SELECT a.* FROM agent_tokens t JOIN agents a ON a.id = t.agent_id WHERE t.token_hash = ?", (token_hash,)
    )
    return None if row is None else Account(agent_obj(row), str(row["password_hash"]))


def start_session(tx: Tx, token_hash: str, agent_id: int, account: str | None = None) -> None:
    """Store a new session token (its hash); with ``account``, the successful
    login also clears that account's failed attempts (:func:`login_succeeded`)."""
    tx.run(
        "INSERT INTO agent_tokens (token_hash, agent_id, created_at) VALUES (?, ?, ?)",
        (token_hash, agent_id, now_ms()),
    )
    if account is not None:
        login_succeeded(tx, account)


def end_session(tx: Tx, token_hash: str) -> None:
    """Revoke one session token (logout); unknown tokens are ignored."""
    tx.run("DELETE FROM agent_tokens WHERE token_hash = ?", (token_hash,))
