"""Canned responses: tenant-wide, one team's, or one agent's own (PROTOCOL.md, "Canned responses").

Who may do what is the handler's (admins: tenant and team scopes; an agent: their own personal ones); here the
rows, the tenant checks (a team of another tenant is ``NotFound``) and the events: ``canned.updated`` for tenant and
team responses. Personal ones are never pushed (colleagues' consoles would receive them): their owner's consoles
read them with ``canned.list``.
"""

from __future__ import annotations

from .. import protocol
from ..exceptions import Conflict, Forbidden, NotFound
from ._sql import Row, Tx, now_ms
from .events import append_event
from .teams import team_of

__all__ = ["canned_row", "delete_canned", "list_canned", "save_canned"]


def _obj(row: Row) -> protocol.CannedResponse:
    return protocol.CannedResponse(
        id=row["id"],
        scope=row["scope"],
        team_id=row["team_id"],
        agent_id=row["agent_id"],
        shortcut=row["shortcut"],
        title=row["title"],
        body=row["body"],
        updated_at=row["updated_at"],
    )


def canned_row(tx: Tx, tenant_id: int, canned_id: int, agent_id: int) -> Row:
    """A canned response ``agent_id`` can see: the tenant's, a team's, or their own; else ``NotFound``."""
    row = tx.one("SELECT * FROM canned_responses WHERE id = ? AND tenant_id = ?", (canned_id, tenant_id))
    if row is None or (row["scope"] == "personal" and row["agent_id"] != agent_id):
        raise NotFound(f"no canned response {canned_id}")
    return row


def list_canned(tx: Tx, tenant_id: int, agent_id: int) -> list[protocol.CannedResponse]:
    """The tenant's and every team's canned responses, and ``agent_id``'s own, by shortcut."""
    rows = tx.all(
        "SELECT * FROM canned_responses WHERE tenant_id = ? AND (scope <> 'personal' OR agent_id = ?)"
        " ORDER BY lower(shortcut), id",
        (tenant_id, agent_id),
    )
    return [_obj(r) for r in rows]


def _pushed(tx: Tx, tenant_id: int, canned: protocol.CannedResponse, *, deleted: bool = False) -> int:
    if canned.scope == "personal":
        return 0
    fields = {name: getattr(canned, name) for name in protocol.wire_fields(protocol.CannedResponse)}
    return append_event(tx, tenant_id, "canned.updated", protocol.CannedUpdated(**fields, deleted=deleted))


def save_canned(
    tx: Tx,
    tenant_id: int,
    *,
    agent_id: int,
    is_admin: bool,
    canned_id: int | None,
    scope: str,
    team_id: int | None,
    shortcut: str,
    title: str,
    body: str,
) -> protocol.CannedResponse:
    """Create (``canned_id`` None) or replace a canned response. A team scope needs the tenant's ``team_id``;
    a shortcut is unique within its scope and owner (``Conflict``). The body's variables are the caller's to check
    (:mod:`frontdesk.server.canned_text`). Tenant and team scopes are for admins (``Forbidden``), before and after."""
    if scope != "personal" and not is_admin:
        raise Forbidden("only admins manage tenant and team canned responses")
    if scope == "team":
        if team_id is None:
            raise NotFound("a team canned response needs team_id")
        team_of(tx, tenant_id, team_id)
    else:
        team_id = None
    owner = agent_id if scope == "personal" else None
    if canned_id is not None:
        old = canned_row(tx, tenant_id, canned_id, agent_id)
        if old["scope"] != "personal" and not is_admin:
            raise Forbidden("only admins manage tenant and team canned responses")
        if old["scope"] == "personal":
            owner = old["agent_id"]
    clash = tx.one(
        "SELECT id FROM canned_responses WHERE tenant_id = ? AND scope = ? AND lower(shortcut) = lower(?)"
        " AND coalesce(team_id, 0) = ? AND coalesce(agent_id, 0) = ?",
        (tenant_id, scope, shortcut, team_id or 0, owner or 0),
    )
    if clash is not None and clash["id"] != canned_id:
        raise Conflict(f"the shortcut /{shortcut} is taken in this scope")
    now = now_ms()
    if canned_id is None:
        row = tx.one(
            "INSERT INTO canned_responses (tenant_id, scope, team_id, agent_id, shortcut, title, body, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (tenant_id, scope, team_id, owner, shortcut, title, body, now),
        )
    else:
        row = tx.one(
            "UPDATE canned_responses SET scope = ?, team_id = ?, agent_id = ?, shortcut = ?, title = ?, body = ?,"
            " updated_at = ? WHERE id = ? RETURNING *",
            (scope, team_id, owner, shortcut, title, body, now, canned_id),
        )
    assert row is not None
    canned = _obj(row)
    if canned_id is not None and old["scope"] != "personal" and scope == "personal":
        _pushed(tx, tenant_id, _obj(old), deleted=True)  # it left the shared scopes
    _pushed(tx, tenant_id, canned)
    return canned


def delete_canned(tx: Tx, tenant_id: int, canned_id: int, agent_id: int, is_admin: bool) -> protocol.Deleted:
    """Delete one's own canned response or, for an admin, a tenant or team one."""
    row = canned_row(tx, tenant_id, canned_id, agent_id)
    if row["scope"] != "personal" and not is_admin:
        raise Forbidden("only admins manage tenant and team canned responses")
    tx.run("DELETE FROM canned_responses WHERE id = ?", (canned_id,))
    return protocol.Deleted(event_id=_pushed(tx, tenant_id, _obj(row), deleted=True))
