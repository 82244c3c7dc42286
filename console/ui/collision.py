"""Collision awareness on screen (issue 15, item 6): the thread header says who
else has the conversation open and who is typing a reply; under the tenant's
``reply_assignee_only`` the composer says, before the agent types, why only
notes are open to them. The state and the words are the core's
(``frontdesk.console.core.collision``); this only places them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from frontdesk.console.core import ConversationRow
from frontdesk.console.core.collision import collision_text, reply_blocked_reason
from PySide6.QtCore import QObject

from .tasks import spawn
from .thread import ThreadPane

__all__ = ["CollisionView"]


class CollisionView(QObject):
    """Keeps the thread pane's collision line and reply block in step with the core."""

    def __init__(
        self,
        core: Any,
        pane: ThreadPane,
        conversation: Callable[[], ConversationRow | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._core = core
        self._pane = pane
        self._conversation = conversation
        self._viewing: int | None = None

    def opened(self, conversation_id: int | None) -> None:
        """The thread pane now shows ``conversation_id`` (None: nothing): tell the server, show what is known."""
        if conversation_id != self._viewing:
            self._viewing = conversation_id
            spawn(self._core.set_viewing(conversation_id), name="viewing")
        if conversation_id is None:
            self._pane.header.set_collision("")
        else:
            collision = self._core.collision
            self.show(conversation_id, collision.viewers(conversation_id), collision.typing(conversation_id))
        self.refresh_reply_block()

    def show(self, conversation_id: int, viewers: list[str], typing: list[str]) -> None:
        """The core's ``on_collision_changed``: update the header if it is this conversation."""
        if conversation_id == self._viewing:
            self._pane.header.set_collision(collision_text(viewers, typing))

    def refresh_reply_block(self, *_args: object) -> None:
        """Re-decide whether this agent may reply here (the assignee or the config changed)."""
        try:
            config = self._core.cache.config() or {}
        except RuntimeError:  # no cache (logged out)
            config = {}
        self._pane.set_reply_blocked(reply_blocked_reason(self._conversation(), self._core.me, config))
