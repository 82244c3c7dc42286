"""Turns the core's listener callbacks into Qt signals.

The core calls its listeners on the asyncio loop's thread, which under qasync
is the Qt GUI thread, so the signals are delivered directly. Models and
widgets connect to these signals and never register with the core
themselves; that keeps one place to see everything the UI reacts to.
"""

from __future__ import annotations

from typing import Any

from frontdesk.console.core import (
    AgentRow,
    ConnectionState,
    ConversationChanges,
    CoreListenerBase,
    Notification,
    ThreadChanges,
)
from PySide6.QtCore import QObject, Signal

__all__ = ["CoreBridge"]


class _Signals(QObject):
    state_changed = Signal(object)  # ConnectionState
    conversations_changed = Signal(object)  # ConversationChanges
    thread_changed = Signal(object)  # ThreadChanges
    outbox_changed = Signal(int)  # pending count
    agents_changed = Signal(list)  # list[AgentRow]
    workflow_changed = Signal()  # teams, labels or canned responses
    config_changed = Signal(dict)
    synced = Signal(float)  # unix seconds
    notification_raised = Signal(object)  # Notification
    typing_changed = Signal(int, bool, object)  # conversation id, is typing, who (str | None)
    collision_changed = Signal(int, list, list)  # conversation id, other viewers' names, other typers' names
    session_ended = Signal(str)  # reason
    upload_progress = Signal(int, int, int)  # outbox id, bytes received, total


class CoreBridge(CoreListenerBase):
    """A :class:`CoreListener` whose calls re-emit as Qt signals on :attr:`signals`.

    Not a QObject itself (the listener protocol's method names would clash
    with Qt's naming); the signals live on a small QObject.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        self.signals = _Signals(parent)

    def on_state_changed(self, state: ConnectionState) -> None:
        """Re-emit as ``state_changed``."""
        self.signals.state_changed.emit(state)

    def on_conversations_changed(self, changes: ConversationChanges) -> None:
        """Re-emit as ``conversations_changed``."""
        self.signals.conversations_changed.emit(changes)

    def on_thread_changed(self, changes: ThreadChanges) -> None:
        """Re-emit as ``thread_changed``."""
        self.signals.thread_changed.emit(changes)

    def on_outbox_changed(self, count: int) -> None:
        """Re-emit as ``outbox_changed``."""
        self.signals.outbox_changed.emit(count)

    def on_agents_changed(self, agents: list[AgentRow]) -> None:
        """Re-emit as ``agents_changed``."""
        self.signals.agents_changed.emit(list(agents))

    def on_workflow_changed(self) -> None:
        """Re-emit as ``workflow_changed``."""
        self.signals.workflow_changed.emit()

    def on_config_changed(self, config: dict[str, Any]) -> None:
        """Re-emit as ``config_changed``."""
        self.signals.config_changed.emit(dict(config))

    def on_synced(self, at: float) -> None:
        """Re-emit as ``synced``."""
        self.signals.synced.emit(float(at))

    def on_notification(self, notification: Notification) -> None:
        """Re-emit as ``notification_raised``."""
        self.signals.notification_raised.emit(notification)

    def on_typing(self, conversation_id: int, is_typing: bool, who: str | None) -> None:
        """Re-emit as ``typing_changed``."""
        self.signals.typing_changed.emit(conversation_id, is_typing, who)

    def on_collision_changed(self, conversation_id: int, viewers: list[str], typing: list[str]) -> None:
        """Re-emit as ``collision_changed``."""
        self.signals.collision_changed.emit(conversation_id, list(viewers), list(typing))

    def on_session_ended(self, reason: str) -> None:
        """Re-emit as ``session_ended``."""
        self.signals.session_ended.emit(reason)

    def on_upload_progress(self, outbox_id: int, received: int, total: int) -> None:
        """Re-emit as ``upload_progress``."""
        self.signals.upload_progress.emit(outbox_id, received, total)
