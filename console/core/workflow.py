"""Teams, labels and canned responses in the console's core (issue 15; PROTOCOL.md, "Teams", "Labels",
"Canned responses").

- Teams, labels and canned responses are cached: the lists are read on every connect (:meth:`_refresh_workflow`)
  and kept current by ``team.updated``, ``label.updated`` and ``canned.updated``; so the inbox's team and label
  filters, the thread header's labels and the composer's completion all work offline.
- Putting a label on a conversation or taking it off goes through the outbox like any action (applied at once).
- Admin changes (teams, labels, tenant and team canned responses) and saving one's own canned responses are
  online calls.
- The completion: :func:`rank_canned` orders the responses for what follows "/" (shortcut prefix first, then title
  and body matches, each by this agent's use count), and :meth:`WorkflowMixin.fill_canned` fills a body's variables
  for a conversation, with the agent's answers to its prompts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from frontdesk.server import canned_text
from frontdesk.server.protocol import (
    CannedListResult,
    CannedResponse,
    CannedResult,
    Deleted,
    Label,
    LabelResult,
    LabelsResult,
    Result,
    Team,
    TeamResult,
    TeamsResult,
)

from ._base import CoreBase
from ._link import _Link
from .rows import OutboxAction

__all__ = ["WorkflowMixin", "canned_values", "rank_canned"]

_R = TypeVar("_R", bound=Result)


def rank_canned(
    responses: Sequence[CannedResponse], uses: Mapping[int, int], typed: str, *, limit: int = 20
) -> list[CannedResponse]:
    """The responses matching ``typed`` (what follows "/"), best first: those whose shortcut starts with it, then
    those whose title or body holds it; within each, the most used by this agent first, then by shortcut."""
    text = typed.strip().lower()

    def tier(c: CannedResponse) -> int | None:
        if c.shortcut.lower().startswith(text):
            return 0
        if text in c.title.lower() or text in c.body.lower():
            return 1
        return None

    ranked = [(t, -uses.get(c.id, 0), c.shortcut.lower(), c.id, c) for c in responses if (t := tier(c)) is not None]
    ranked.sort(key=lambda r: r[:4])
    return [r[4] for r in ranked[:limit]]


def _first_word(text: str | None) -> str | None:
    words = (text or "").split()
    return words[0] if words else None


def canned_values(
    *, visitor_name: str | None, visitor_email: str | None, agent_name: str | None, conversation_id: int | None
) -> dict[str, str | None]:
    """The variables' values (``canned_text.VARIABLES``) for a conversation. A visitor without a name of their own
    ("Visitor #12") has no first name: the default applies."""
    named = visitor_name if visitor_name and not visitor_name.startswith("Visitor #") else None
    return {
        "visitor.name": visitor_name,
        "visitor.first_name": _first_word(named),
        "visitor.email": visitor_email,
        "agent.name": agent_name,
        "agent.first_name": _first_word(agent_name),
        "conversation.id": None if conversation_id is None else str(conversation_id),
    }


class WorkflowMixin(CoreBase):
    """Teams, labels and canned responses: the calls of :class:`~.ConsoleCore`."""

    async def _call(self, result: type[_R], kind: str, **fields: Any) -> _R:  # pragma: no cover - SyncMixin's
        raise NotImplementedError

    async def _queue(
        self, action: OutboxAction, conversation_id: int, payload: dict[str, Any]
    ) -> int:  # pragma: no cover - DrainMixin's
        raise NotImplementedError

    async def _refresh_workflow(self, link: _Link) -> None:
        """Read teams, labels and canned responses (personal ones are never pushed) on every connect."""
        teams = (await link.request(TeamsResult, "teams")).teams
        labels = (await link.request(LabelsResult, "labels")).labels
        canned = (await link.request(CannedListResult, "canned.list")).responses
        await self.cache.store_workflow(teams, labels, canned)
        self._emit("on_workflow_changed")

    # -- reads (the cache; offline too) --------------------------------------------------------------

    def my_team_ids(self) -> set[int]:
        """The teams this agent is a member of."""
        me = self.me.id if self.me is not None else None
        return {t.id for t in self.cache.teams() if me in t.member_ids}

    def usable_canned(self) -> list[CannedResponse]:
        """The canned responses this agent may use: the tenant's, their teams', and their own."""
        me = self.me.id if self.me is not None else None
        teams = self.my_team_ids()
        return [
            c
            for c in self.cache.canned_responses()
            if c.scope == "tenant"
            or (c.scope == "team" and c.team_id in teams)
            or (c.scope == "personal" and c.agent_id == me)
        ]

    def complete_canned(self, typed: str, limit: int = 20) -> list[CannedResponse]:
        """The completion list for "/``typed``" (see :func:`rank_canned`)."""
        return rank_canned(self.usable_canned(), self.cache.canned_uses(), typed, limit=limit)

    def fill_canned(self, response: CannedResponse, conversation_id: int | None, answers: Mapping[str, str]) -> str:
        """``response``'s body for ``conversation_id``: variables filled from the cache, prompts from ``answers``."""
        row = self.cache.conversation(conversation_id) if conversation_id is not None else None
        values = canned_values(
            visitor_name=row.visitor_name if row is not None else None,
            visitor_email=row.visitor_email if row is not None else None,
            agent_name=self.me.name if self.me is not None else None,
            conversation_id=conversation_id,
        )
        return canned_text.fill(response.body, values, answers)

    async def used_canned(self, canned_id: int) -> None:
        """Count one use of a canned response (the completion ranks by it)."""
        await self.cache.used_canned(canned_id, self._now_ms())

    # -- labels on conversations (the outbox) --------------------------------------------------------

    async def add_label(self, conversation_id: int, label_id: int) -> int:
        """Queue putting a label on the conversation; returns its outbox id."""
        return await self._queue("label.add", conversation_id, {"label_id": label_id})

    async def remove_label(self, conversation_id: int, label_id: int) -> int:
        """Queue taking a label off the conversation; returns its outbox id."""
        return await self._queue("label.remove", conversation_id, {"label_id": label_id})

    # -- admin and own changes (online only; OfflineError / ServerError) -----------------------------

    async def _refreshed(self) -> None:
        """Re-read the lists after one of our own changes (its event may come after the reply)."""
        teams = (await self._call(TeamsResult, "teams")).teams
        labels = (await self._call(LabelsResult, "labels")).labels
        canned = (await self._call(CannedListResult, "canned.list")).responses
        await self.cache.store_workflow(teams, labels, canned)
        self._emit("on_workflow_changed")

    async def create_team(self, name: str, member_ids: Sequence[int] = ()) -> Team:
        """Admin: a new team."""
        team = (await self._call(TeamResult, "team.create", name=name, member_ids=list(member_ids))).team
        await self._refreshed()
        return team

    async def update_team(
        self, team_id: int, *, name: str | None = None, member_ids: Sequence[int] | None = None
    ) -> Team:
        """Admin: rename a team and/or replace its members."""
        fields: dict[str, Any] = {"team_id": team_id}
        if name is not None:
            fields["name"] = name
        if member_ids is not None:
            fields["member_ids"] = list(member_ids)
        team = (await self._call(TeamResult, "team.update", **fields)).team
        await self._refreshed()
        return team

    async def delete_team(self, team_id: int) -> None:
        """Admin: delete a team."""
        await self._call(Deleted, "team.delete", team_id=team_id)
        await self._refreshed()

    async def create_label(self, name: str, color: str) -> Label:
        """Admin: a new label (``#rrggbb``)."""
        label = (await self._call(LabelResult, "label.create", name=name, color=color)).label
        await self._refreshed()
        return label

    async def update_label(self, label_id: int, *, name: str | None = None, color: str | None = None) -> Label:
        """Admin: rename and/or recolour a label."""
        fields: dict[str, Any] = {"label_id": label_id}
        if name is not None:
            fields["name"] = name
        if color is not None:
            fields["color"] = color
        label = (await self._call(LabelResult, "label.update", **fields)).label
        await self._refreshed()
        return label

    async def delete_label(self, label_id: int) -> None:
        """Admin: delete a label (it leaves every conversation)."""
        await self._call(Deleted, "label.delete", label_id=label_id)
        await self._refreshed()

    async def save_canned(
        self,
        *,
        scope: str,
        shortcut: str,
        title: str,
        body: str,
        canned_id: int | None = None,
        team_id: int | None = None,
    ) -> CannedResponse:
        """Create or replace a canned response (tenant and team scopes: admins). An unknown variable is refused
        here at once (``canned_text.TemplateError``, a ValueError), as the server would."""
        canned_text.check(body)
        fields: dict[str, Any] = {"scope": scope, "shortcut": shortcut, "title": title, "body": body}
        if canned_id is not None:
            fields["canned_id"] = canned_id
        if team_id is not None:
            fields["team_id"] = team_id
        response = (await self._call(CannedResult, "canned.save", **fields)).response
        await self.cache.store_canned_response(response)
        self._emit("on_workflow_changed")
        return response

    async def delete_canned(self, canned_id: int) -> None:
        """Delete a canned response (one's own, or as an admin a tenant or team one)."""
        await self._call(Deleted, "canned.delete", canned_id=canned_id)
        await self.cache.drop_canned_response(canned_id)
        self._emit("on_workflow_changed")
