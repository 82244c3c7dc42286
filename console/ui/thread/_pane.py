"""The centre pane: header, thread, typing indicator and composer."""

from __future__ import annotations

from collections.abc import Callable

from frontdesk.console.core import AgentRow, ThreadItem
from PySide6.QtCore import (
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
        self.loading_label = plain_label("Loading earlier messages…", "hint")
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loading_label.hide()
        model.loading_changed.connect(self.loading_label.setVisible)
        self.typing_label = plain_label("", "typingLabel")
        self.typing_label.setContentsMargins(24, 0, 24, 4)
        self.typing_label.hide()
        self.composer = Composer()
        self.empty = plain_label("Select a conversation from the inbox", "emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.loading_label)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.typing_label)
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

    def set_typing(self, text: str | None) -> None:
        """Show ``text`` (e.g. "Visitor is typing…") or hide the indicator."""
        self.typing_label.setText(text or "")
        self.typing_label.setVisible(bool(text))
