"""The thread's header: who, status, assignee, and the actions."""

from __future__ import annotations

from collections.abc import Callable

from frontdesk.console.core import AgentRow, ConversationRow
from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..fitting import ElidedLabel
from ._common import plain_label

_Index = QModelIndex | QPersistentModelIndex

__all__ = ["ConversationHeader"]


class ConversationHeader(QFrame):
    """The thread's header: who, status, assignee, and the actions."""

    resolve_clicked = Signal()
    reopen_clicked = Signal()
    assign_me_clicked = Signal()
    assign_requested = Signal(int)  # agent id
    unassign_clicked = Signal()

    def __init__(self, agents: Callable[[], list[AgentRow]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("threadHeader")
        self._agents = agents
        self.title = plain_label("", "threadTitle")
        #: Shown beside the name when the visitor's claimed identity is not verified.
        self.unverified_badge = plain_label("Unverified", "unverifiedBadge")
        self.unverified_badge.setToolTip("The site claimed this visitor's identity without proof (no valid user_hash).")
        self.unverified_badge.hide()
        # Elided: a long note ("2 changes waiting to sync") must not widen the
        # pane and squeeze the inbox's filter chips (issue 13, item 6).
        self.subtitle = ElidedLabel()
        self.subtitle.setObjectName("threadSubtitle")
        self.status_chip = plain_label("", "statusChip")
        self.assign_me_button = QPushButton("Assign to me")
        self.assign_me_button.clicked.connect(self.assign_me_clicked)
        self.assign_button = QToolButton()
        self.assign_button.setObjectName("assignButton")
        self.assign_button.setText("Assign ▾")
        self.assign_button.setToolTip("Assign to… (Ctrl+Shift+A)")
        self.assign_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.assign_menu = QMenu(self)
        self.assign_menu.aboutToShow.connect(self._on_assign_menu_about_to_show)
        self.assign_button.setMenu(self.assign_menu)
        self.resolve_button = QPushButton("Resolve")
        self.resolve_button.setObjectName("primary")
        self.resolve_button.clicked.connect(self._on_resolve_button_clicked)
        for button in (self.assign_me_button, self.resolve_button):
            button.setCursor(Qt.CursorShape.PointingHandCursor)
        names = QVBoxLayout()
        names.setSpacing(2)
        title_row = QHBoxLayout()
        title_row.setSpacing(10)
        title_row.addWidget(self.title)
        title_row.addWidget(self.unverified_badge)
        title_row.addWidget(self.status_chip)
        title_row.addStretch(1)
        names.addLayout(title_row)
        names.addWidget(self.subtitle)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(names, 1)
        layout.addWidget(self.assign_me_button)
        layout.addWidget(self.assign_button)
        layout.addWidget(self.resolve_button)
        self._conversation: ConversationRow | None = None

    def set_conversation(self, conversation: ConversationRow | None, me: AgentRow | None) -> None:
        """Show ``conversation`` (its status and assignee decide the buttons)."""
        self._conversation = conversation
        if conversation is None:
            return
        self.title.setText(conversation.visitor_name)
        self.unverified_badge.setVisible(conversation.identity_unverified)
        status = conversation.status
        self.status_chip.setText(status.capitalize())
        self.status_chip.setProperty("status", status)
        self.status_chip.style().unpolish(self.status_chip)
        self.status_chip.style().polish(self.status_chip)
        if conversation.assignee_id is None:
            who = "Unassigned"
        elif me is not None and conversation.assignee_id == me.id:
            who = "Assigned to you"
        else:
            who = f"Assigned to {conversation.assignee_name or 'agent #' + str(conversation.assignee_id)}"
        bits = [who]
        if conversation.visitor_email:
            bits.insert(0, conversation.visitor_email)
        if conversation.pending_actions:
            n = conversation.pending_actions
            bits.append(f"{n} change{'s' if n != 1 else ''} waiting to sync")
        if conversation.failed_actions:
            bits.append(f"{conversation.failed_actions} not delivered")
        self.subtitle.setText("  ·  ".join(bits))
        self.resolve_button.setText("Reopen" if status == "resolved" else "Resolve")
        self.resolve_button.setToolTip("Reopen (Ctrl+E)" if status == "resolved" else "Resolve (Ctrl+E)")
        mine = me is not None and conversation.assignee_id == me.id
        self.assign_me_button.setVisible(not mine)

    def _on_resolve_button_clicked(self) -> None:
        if self._conversation is not None and self._conversation.status == "resolved":
            self.reopen_clicked.emit()
        else:
            self.resolve_clicked.emit()

    def _on_assign_menu_about_to_show(self) -> None:
        self.fill_assign_menu(self.assign_menu)

    def fill_assign_menu(self, menu: QMenu) -> None:
        """Fill ``menu`` with the active agents (with presence) and Unassign."""
        menu.clear()
        current = self._conversation.assignee_id if self._conversation else None
        agents = [a for a in self._agents() if a.active]
        if not agents:
            menu.addAction("No agents known yet (connect to load them)").setEnabled(False)
        for agent in agents:
            away = agent.online and agent.away
            label = f"{'●' if agent.online else '○'}  {agent.name}" + ("   (away)" if away else "")
            action = menu.addAction(label + ("   (assigned)" if agent.id == current else ""))
            action.setToolTip(("Away" if away else "Online") if agent.online else "Offline")
            action.setEnabled(agent.id != current)
            action.triggered.connect(lambda _checked=False, a=agent.id: self.assign_requested.emit(a))
        menu.addSeparator()
        unassign = menu.addAction("Unassign")
        unassign.setEnabled(current is not None)
        unassign.triggered.connect(self.unassign_clicked)
