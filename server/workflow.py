"""The agent workflow's handlers: teams, labels and canned responses (issue 15; PROTOCOL.md, "Teams", "Labels",
"Canned responses").

Kept apart from :mod:`.handlers` so that features grow in their own module; :func:`agent_handlers` gives the
request types → handlers that :class:`~.handlers.Handlers` registers for the agent endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import canned_text
from . import protocol as p
from .hub import Client
from .protocol import ErrorCode, ProtocolError
from .store import canned, labels, teams

if TYPE_CHECKING:
    from .handlers import Handler, Handlers

__all__ = ["WorkflowHandlers", "agent_handlers"]


class WorkflowHandlers:
    """The handlers of teams, labels and canned responses, sharing :class:`~.handlers.Handlers`' store."""

    def __init__(self, handlers: Handlers) -> None:
        self.h = handlers

    def _admin(self, client: Client, req: p.Request) -> None:
        self.h._require_admin(client, req)

    # -- teams ---------------------------------------------------------------------------------------

    async def teams(self, client: Client, req: p.Teams) -> p.TeamsResult:
        return p.TeamsResult(teams=await self.h.store.read(teams.list_teams, client.tenant_id))

    async def team_create(self, client: Client, req: p.TeamCreate) -> p.TeamResult:
        self._admin(client, req)
        return await self.h.store.write(teams.create_team, client.tenant_id, req.name, req.member_ids)

    async def team_update(self, client: Client, req: p.TeamUpdate) -> p.TeamResult:
        self._admin(client, req)
        return await self.h.store.write(
            teams.update_team, client.tenant_id, req.team_id, name=req.name, member_ids=req.member_ids
        )

    async def team_delete(self, client: Client, req: p.TeamDelete) -> p.Deleted:
        self._admin(client, req)
        return await self.h.store.write(teams.delete_team, client.tenant_id, req.team_id)

    # -- labels --------------------------------------------------------------------------------------

    @staticmethod
    def _color(req: p.LabelCreate | p.LabelUpdate) -> None:
        if req.color is not None and not p.COLOR_PATTERN.match(req.color):
            raise ProtocolError(ErrorCode.INVALID, "field 'color' must be #rrggbb", req.ref, field="color")

    async def labels(self, client: Client, req: p.Labels) -> p.LabelsResult:
        return p.LabelsResult(labels=await self.h.store.read(labels.list_labels, client.tenant_id))

    async def label_create(self, client: Client, req: p.LabelCreate) -> p.LabelResult:
        self._admin(client, req)
        self._color(req)
        return await self.h.store.write(labels.create_label, client.tenant_id, req.name, req.color)

    async def label_update(self, client: Client, req: p.LabelUpdate) -> p.LabelResult:
        self._admin(client, req)
        self._color(req)
        return await self.h.store.write(
            labels.update_label, client.tenant_id, req.label_id, name=req.name, color=req.color
        )

    async def label_delete(self, client: Client, req: p.LabelDelete) -> p.Deleted:
        self._admin(client, req)
        return await self.h.store.write(labels.delete_label, client.tenant_id, req.label_id)

    async def label_change(self, client: Client, req: p.LabelAdd | p.LabelRemove) -> p.ConversationChange:
        assert client.agent_id is not None
        return await self.h.store.write(
            labels.change_labels,
            client.tenant_id,
            agent_id=client.agent_id,
            conversation_id=req.conversation_id,
            label_id=req.label_id,
            add=isinstance(req, p.LabelAdd),
            client_id=req.client_id,
        )

    # -- canned responses ----------------------------------------------------------------------------

    async def canned_list(self, client: Client, req: p.CannedList) -> p.CannedListResult:
        assert client.agent_id is not None
        return p.CannedListResult(
            responses=await self.h.store.read(canned.list_canned, client.tenant_id, client.agent_id)
        )

    async def canned_save(self, client: Client, req: p.CannedSave) -> p.CannedResult:
        assert client.agent_id is not None
        try:
            canned_text.check(req.body)
        except canned_text.TemplateError as exc:
            raise ProtocolError(ErrorCode.INVALID, str(exc), req.ref, field="body") from None
        if req.scope == "team" and req.team_id is None:
            raise ProtocolError(ErrorCode.INVALID, "a team canned response needs team_id", req.ref, field="team_id")
        shortcut = req.shortcut.strip().lstrip("/")
        if not shortcut or any(ch.isspace() for ch in shortcut):
            raise ProtocolError(
                ErrorCode.INVALID, "field 'shortcut' must be one word (no spaces)", req.ref, field="shortcut"
            )
        response = await self.h.store.write(
            canned.save_canned,
            client.tenant_id,
            agent_id=client.agent_id,
            is_admin=client.role == "admin",
            canned_id=req.canned_id,
            scope=req.scope,
            team_id=req.team_id,
            shortcut=shortcut,
            title=req.title.strip(),
            body=req.body,
        )
        return p.CannedResult(response=response)

    async def canned_delete(self, client: Client, req: p.CannedDelete) -> p.Deleted:
        assert client.agent_id is not None
        return await self.h.store.write(
            canned.delete_canned, client.tenant_id, req.canned_id, client.agent_id, client.role == "admin"
        )


def agent_handlers(handlers: Handlers) -> dict[type[p.Request], Handler]:
    """The agent endpoint's handlers of this module, by request type."""
    w = WorkflowHandlers(handlers)
    table: dict[type[p.Request], Any] = {
        p.Teams: w.teams,
        p.TeamCreate: w.team_create,
        p.TeamUpdate: w.team_update,
        p.TeamDelete: w.team_delete,
        p.Labels: w.labels,
        p.LabelCreate: w.label_create,
        p.LabelUpdate: w.label_update,
        p.LabelDelete: w.label_delete,
        p.LabelAdd: w.label_change,
        p.LabelRemove: w.label_change,
        p.CannedList: w.canned_list,
        p.CannedSave: w.canned_save,
        p.CannedDelete: w.canned_delete,
    }
    return table
