"""Collision awareness, Qt-free (issue 15, item 6): who else has a
conversation open, who else is typing a reply in it, and whether the tenant
lets only the assignee reply (PROTOCOL.md, "Collision awareness").

None of it is stored: viewers come from the ``viewing`` reply and events and
are forgotten when the connection goes (a reconnect asks again), typing comes
from the ephemeral ``typing`` events. :class:`Collision` keeps the state;
:func:`reply_blocked_reason` and :func:`collision_text` are the words the
thread shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from frontdesk.server.protocol import AgentViewing, ConversationViewer

from .rows import AgentRow, ConversationRow
from .words import translate

__all__ = ["Collision", "collision_text", "reply_blocked_reason"]


class Collision:
    """The other agents viewing and typing in each conversation, as last heard."""

    def __init__(self) -> None:
        self._viewers: dict[int, dict[int, str]] = {}
        self._typing: dict[int, dict[str, bool]] = {}

    def viewers(self, conversation_id: int) -> list[str]:
        """The names of the other agents who have it open, sorted."""
        return sorted(self._viewers.get(conversation_id, {}).values(), key=str.casefold)

    def typing(self, conversation_id: int) -> list[str]:
        """The names of the other agents typing a reply in it, sorted."""
        return sorted(self._typing.get(conversation_id, {}), key=str.casefold)

    def replace(self, conversation_id: int, viewers: Iterable[ConversationViewer], me: int | None) -> None:
        """The ``viewing`` reply: everyone else viewing ``conversation_id`` now."""
        self._viewers[conversation_id] = {v.agent_id: v.name for v in viewers if v.agent_id != me}

    def apply(self, event: AgentViewing, me: int | None) -> bool:
        """A ``viewing`` event; whether it changed who views that conversation."""
        if event.agent_id == me:
            return False
        current = self._viewers.setdefault(event.conversation_id, {})
        if event.viewing:
            changed = current.get(event.agent_id) != event.name
            current[event.agent_id] = event.name
        else:
            changed = current.pop(event.agent_id, None) is not None
            self._stop_typing(event.conversation_id, event.name)
        return changed

    def set_typing(self, conversation_id: int, name: str, is_typing: bool) -> None:
        """Another agent started or stopped typing in ``conversation_id``."""
        if is_typing:
            self._typing.setdefault(conversation_id, {})[name] = True
        else:
            self._stop_typing(conversation_id, name)

    def _stop_typing(self, conversation_id: int, name: str) -> None:
        names = self._typing.get(conversation_id)
        if names is not None:
            names.pop(name, None)

    def clear(self) -> list[int]:
        """Forget everything (the connection went); the conversations that had someone."""
        had = sorted(cid for cid, v in self._viewers.items() if v) + sorted(cid for cid, t in self._typing.items() if t)
        self._viewers.clear()
        self._typing.clear()
        return sorted(set(had))


def _names(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return translate("Collision", "{names} and {last}").format(names=", ".join(names[:-1]), last=names[-1])


def collision_text(viewers: list[str], typing: list[str]) -> str:
    """The thread header's line, e.g. "Bea is also viewing · Bea is typing a
    reply…"; empty when nobody else is there. Translated (console/core/words.py)."""
    bits = []
    if viewers:
        bits.append(
            (
                translate("Collision", "{names} is also viewing")
                if len(viewers) == 1
                else translate("Collision", "{names} are also viewing")
            ).format(names=_names(viewers))
        )
    if typing:
        bits.append(
            (
                translate("Collision", "{names} is typing a reply…")
                if len(typing) == 1
                else translate("Collision", "{names} are typing a reply…")
            ).format(names=_names(typing))
        )
    return "  ·  ".join(bits)


def reply_blocked_reason(row: ConversationRow | None, me: AgentRow | None, config: Mapping[str, Any]) -> str | None:
    """Why this agent may not reply in ``row``, or None: it is resolved (the server refuses replies there
    until it is reopened), or the tenant's ``reply_assignee_only`` is on and someone else is the assignee.
    Private notes stay open in both cases."""
    if row is None:
        return None
    if row.status == "resolved":
        return "This conversation is resolved. Reopen it (Ctrl+E) to reply; private notes are open."
    enabled = bool(config.get("reply_assignee_only"))  # own data: the configuration as the cache keeps it
    if me is None or not enabled:
        return None
    if row.assignee_id is None or row.assignee_id == me.id:
        return None
    who = row.assignee_name or translate("Collision", "agent #{id}").format(id=row.assignee_id)
    return translate(
        "Collision",
        "Only {who}, the assignee, can reply here. Assign it to yourself to reply; private notes are open to all.",
    ).format(who=who)
