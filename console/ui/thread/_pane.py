"""The centre pane: header, thread, typing indicator and composer."""

from __future__ import annotations

from collections.abc import Callable

from frontdesk.console.core import AgentRow, ThreadItem
from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import (
    QVBoxLayout,
    QWidget,
)

from ..models import ThreadModel
from ._common import plain_label
from ._composer import Composer
from ._header import ConversationHeader
from ._held import HeldBar
from ._view import ThreadView

_Index = QModelIndex | QPersistentModelIndex

__all__ = ["ThreadPane"]


class ThreadPane(QWidget):
    """Header, thread view, typing indicator and composer, or an empty state."""

    def __init__(
        self,
        model: ThreadModel,
        agents: Callable[[], list[AgentRow]],
        my_name: Callable[[], str | None],
        parent: QWidget | None = None,
        *,
        may_change: Callable[[ThreadItem], bool] = lambda item: False,
        is_admin: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("threadPane")
        self.model = model
        self.header = ConversationHeader(agents)
        self.view = ThreadView(my_name, may_change=may_change, is_admin=is_admin)
        self.view.setModel(model)
        self.loading_label = plain_label(QCoreApplication.translate("Pane", "Loading earlier messages…"), "hint")
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loading_label.hide()
        model.loading_changed.connect(self.loading_label.setVisible)
        self.typing_label = plain_label("", "typingLabel")
        self.typing_label.setContentsMargins(24, 0, 24, 4)
        self.typing_label.hide()
        #: Why this agent may not reply here (``reply_assignee_only``), above the composer; hidden otherwise.
        self.reply_blocked_label = plain_label("", "replyBlockedBanner")
        self.reply_blocked_label.setWordWrap(True)
        self.reply_blocked_label.setContentsMargins(24, 6, 24, 6)
        self.reply_blocked_label.hide()
        #: Email replies held for review in this conversation, with Accept / Discard (._held).
        self.held_bar = HeldBar()
        self.held_bar.set_model(model)
        self.composer = Composer()
        self.empty = plain_label(
            QCoreApplication.translate("Pane", "Select a conversation from the inbox"), "emptyState"
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.loading_label)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.typing_label)
        layout.addWidget(self.reply_blocked_label)
        layout.addWidget(self.held_bar)
        layout.addWidget(self.composer)
        layout.addWidget(self.empty, 1)
        self.set_has_conversation(False)

    def set_has_conversation(self, has: bool) -> None:
        """Show the thread widgets, or the empty state."""
        for widget in (self.header, self.view, self.composer):
            widget.setVisible(has)
        self.empty.setVisible(not has)
        if not has:
            self.typing_label.hide()
            self.held_bar.hide()
        else:
            self.held_bar.setVisible(bool(self.held_bar.held))
            self.set_reply_blocked(None)

    def set_typing(self, text: str | None) -> None:
        """Show ``text`` (e.g. "Visitor is typing…") or hide the indicator."""
        self.typing_label.setText(text or "")
        self.typing_label.setVisible(bool(text))

    def set_reply_blocked(self, reason: str | None) -> None:
        """Say why replying is not allowed here (the composer keeps private
        notes only), or lift that (None)."""
        self.reply_blocked_label.setText(reason or "")
        self.reply_blocked_label.setVisible(bool(reason))
        self.composer.set_reply_blocked(reason)
