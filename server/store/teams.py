"""Teams: groups of agents of one tenant (PROTOCOL.md, "Teams").

A conversation may belong to one team (``conversations.team_id``, migration 0012); the inbox filters by it. Every
change appends ``team.updated`` (agents only). A member or team of another tenant is indistinguishable from none:
``NotFound``, checked before anything is written, so nothing is half-applied.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import protocol
from ..exceptions import Conflict, NotFound
from ._sql import Row, Tx, now_ms
from .events import append_event

__all__ = ["create_team", "delete_team", "list_teams", "team_of", "teams_of_agent", "update_team"]


def _members(tx: Tx, team_id: int) -> list[int]:
    return [int(r["agent_id"]) for r in tx.all("SELECT agent_id FROM team_members WHERE team_id = ?", (team_id,))]


def _team(tx: Tx, row: Row) -> protocol.Team:
    return protocol.Team(id=row["id"], name=row["name"], member_ids=sorted(_members(tx, row["id"])))


def team_of(tx: Tx, tenant_id: int, team_id: int) -> Row:
    """The tenant's team row, or ``NotFound`` (another tenant's team included)."""
    row = tx.one("SELECT * FROM teams WHERE id = ? AND tenant_id = ?", (team_id, tenant_id))
    if row is None:
        raise NotFound(f"no team {team_id} in this tenant")
    return row


def list_teams(tx: Tx, tenant_id: int) -> list[protocol.Team]:
    """The tenant's teams, by name."""
    rows = tx.all("SELECT * FROM teams WHERE tenant_id = ? ORDER BY lower(name), id", (tenant_id,))
    members: dict[int, list[int]] = {int(r["id"]): [] for r in rows}
    if rows:
        for m in tx.all(
            "SELECT tm.team_id, tm.agent_id FROM team_members tm JOIN teams t ON t.id = tm.team_id"
            " WHERE t.tenant_id = ? ORDER BY tm.agent_id",
            (tenant_id,),
        ):
            members[int(m["team_id"])].append(int(m["agent_id"]))
    return [protocol.Team(id=r["id"], name=r["name"], member_ids=members[int(r["id"])]) for r in rows]


def teams_of_agent(tx: Tx, tenant_id: int, agent_id: int) -> list[int]:
    """The ids of the teams ``agent_id`` is a member of."""
    rows = tx.all(
        "SELECT t.id FROM teams t JOIN team_members tm ON tm.team_id = t.id WHERE t.tenant_id = ? AND tm.agent_id = ?"
        " ORDER BY t.id",
        (tenant_id, agent_id),
    )
    return [int(r["id"]) for r in rows]


def _check_name(tx: Tx, tenant_id: int, name: str, team_id: int | None) -> str:
    name = " ".join(name.split())
    other = tx.one("SELECT id FROM teams WHERE tenant_id = ? AND lower(name) = lower(?)", (tenant_id, name))
    if other is not None and other["id"] != team_id:
        raise Conflict(f"a team named {name!r} already exists")
    return name


def _check_members(tx: Tx, tenant_id: int, member_ids: Sequence[int]) -> list[int]:
    ids = sorted(set(member_ids))
    if not ids:
        return ids
    marks = ", ".join("?" * len(ids))
    found = {
        int(r["id"])
        for r in tx.all(f"SELECT id FROM agents WHERE tenant_id = ? AND id IN ({marks})", (tenant_id, *ids))
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"no agent {missing[0]} in this tenant")
    return ids


def _set_members(tx: Tx, team_id: int, ids: Sequence[int]) -> None:
    tx.run("DELETE FROM team_members WHERE team_id = ?", (team_id,))
    for agent_id in ids:
        tx.run("INSERT INTO team_members (team_id, agent_id) VALUES (?, ?)", (team_id, agent_id))


def _changed(tx: Tx, tenant_id: int, team: protocol.Team, *, deleted: bool = False) -> int:
    return append_event(
        tx,
        tenant_id,
        "team.updated",
        protocol.TeamUpdated(id=team.id, name=team.name, member_ids=team.member_ids, deleted=deleted),
    )


def create_team(tx: Tx, tenant_id: int, name: str, member_ids: Sequence[int] | None) -> protocol.TeamResult:
    """A new team (``Conflict``: the name is taken, case aside; ``NotFound``: a member outside the tenant)."""
    name = _check_name(tx, tenant_id, name, None)
    ids = _check_members(tx, tenant_id, member_ids or ())
    row = tx.one(
        "INSERT INTO teams (tenant_id, name, created_at) VALUES (?, ?, ?) RETURNING *", (tenant_id, name, now_ms())
    )
    assert row is not None
    _set_members(tx, row["id"], ids)
    team = protocol.Team(id=row["id"], name=name, member_ids=ids)
    return protocol.TeamResult(team=team, event_id=_changed(tx, tenant_id, team))


def update_team(
    tx: Tx, tenant_id: int, team_id: int, *, name: str | None, member_ids: Sequence[int] | None
) -> protocol.TeamResult:
    """Rename the team and/or replace its members (None: unchanged)."""
    row = team_of(tx, tenant_id, team_id)
    if name is not None:
        name = _check_name(tx, tenant_id, name, team_id)
        tx.run("UPDATE teams SET name = ? WHERE id = ?", (name, team_id))
    if member_ids is not None:
        _set_members(tx, team_id, _check_members(tx, tenant_id, member_ids))
    team = _team(tx, {**row, "name": name if name is not None else row["name"]})
    return protocol.TeamResult(team=team, event_id=_changed(tx, tenant_id, team))


def delete_team(tx: Tx, tenant_id: int, team_id: int) -> protocol.Deleted:
    """Delete a team: its conversations leave it (``team_id`` null), its canned responses go."""
    row = team_of(tx, tenant_id, team_id)
    team = _team(tx, row)
    tx.run("UPDATE conversations SET team_id = NULL WHERE tenant_id = ? AND team_id = ?", (tenant_id, team_id))
    tx.run("DELETE FROM canned_responses WHERE tenant_id = ? AND team_id = ?", (tenant_id, team_id))
    tx.run("DELETE FROM team_members WHERE team_id = ?", (team_id,))
    tx.run("DELETE FROM teams WHERE id = ?", (team_id,))
    return protocol.Deleted(event_id=_changed(tx, tenant_id, team, deleted=True))
