"""How the UI observes the core: a listener with one method per change.

The UI's Qt models implement :class:`CoreListener` (usually by subclassing
:class:`CoreListenerBase` and overriding what they need) and turn calls into
Qt signals / row changes. Calls happen on the asyncio loop's thread, after the
cache has been updated; each carries what changed, so a listener applies it
instead of re-reading.
A listener that raises is logged and does not break the core.
"""

from __future__ import annotations

from typing import Any, Protocol

from .rows import AgentRow, ConversationChanges, Notification, ThreadChanges
from .state import ConnectionState

__all__ = ["CoreListener", "CoreListenerBase"]


class CoreListener(Protocol):
    """Everything the core announces. See :class:`CoreListenerBase` for docs."""

    def on_state_changed(self, state: ConnectionState) -> None: ...
    def on_conversations_changed(self, changes: ConversationChanges) -> None: ...
    def on_thread_changed(self, changes: ThreadChanges) -> None: ...
    def on_outbox_changed(self, count: int) -> None: ...
    def on_agents_changed(self, agents: list[AgentRow]) -> None: ...
    def on_workflow_changed(self) -> None: ...
    def on_config_changed(self, config: dict[str, Any]) -> None: ...
    def on_synced(self, at: float) -> None: ...
    def on_notification(self, notification: Notification) -> None: ...
    def on_typing(self, conversation_id: int, is_typing: bool, who: str | None) -> None: ...
    def on_collision_changed(self, conversation_id: int, viewers: list[str], typing: list[str]) -> None: ...
    def on_session_ended(self, reason: str) -> None: ...
    def on_upload_progress(self, outbox_id: int, received: int, total: int) -> None: ...


class CoreListenerBase:
    """A :class:`CoreListener` whose methods do nothing; override some."""

    def on_state_changed(self, state: ConnectionState) -> None:
        """The connection state changed (Offline / Connecting / Online)."""

    def on_conversations_changed(self, changes: ConversationChanges) -> None:
        """Conversations changed, were added or went away: their new rows and
        old filter keys (see :class:`ConversationChanges`), or ``reset``."""

    def on_thread_changed(self, changes: ThreadChanges) -> None:
        """Messages, notes or outbox items of one conversation changed: their
        new values (see :class:`ThreadChanges`)."""

    def on_outbox_changed(self, count: int) -> None:
        """The number of pending outbox items (not counting failed ones)."""

    def on_agents_changed(self, agents: list[AgentRow]) -> None:
        """The agent list or someone's presence changed; ``agents`` is the new list."""

    def on_workflow_changed(self) -> None:
        """Teams, labels or canned responses changed (read them from the cache)."""

    def on_config_changed(self, config: dict[str, Any]) -> None:
        """The tenant's widget configuration changed (full config)."""

    def on_synced(self, at: float) -> None:
        """The cache caught up with the server at ``at`` (unix seconds)."""

    def on_notification(self, notification: Notification) -> None:
        """A new conversation or visitor message (see :class:`Notification`)."""

    def on_typing(self, conversation_id: int, is_typing: bool, who: str | None) -> None:
        """Someone is (or stopped) typing; ``who`` is None for the visitor,
        else the other agent's name."""

    def on_collision_changed(self, conversation_id: int, viewers: list[str], typing: list[str]) -> None:
        """Who else has ``conversation_id`` open (``viewers``) or is typing a
        reply in it (``typing``) changed: other agents' names, sorted."""

    def on_session_ended(self, reason: str) -> None:
        """The token is no longer valid (revoked, agent disabled, logged out
        elsewhere); the core has stopped. The UI shows the login screen."""

    def on_upload_progress(self, outbox_id: int, received: int, total: int) -> None:
        """The files of outbox item ``outbox_id`` are uploading: ``received`` of
        ``total`` bytes are on the server (PROTOCOL.md, "Attachments")."""
