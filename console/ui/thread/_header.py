"""The thread's header: who, status, assignee, and the actions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from frontdesk.console.core import AgentRow, ConversationRow
from frontdesk.console.core.cache import rating_text
from frontdesk.console.core.rows import CsatRow
from frontdesk.console.core.snooze import snoozed_text
from PySide6.QtCore import (
    QCoreApplication,
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
from ..models import status_label
from ..snooze import SnoozeMenu
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
    snooze_requested = Signal(object)  # until (ms) or None: until the visitor replies
    transfer_clicked = Signal()

    def __init__(self, agents: Callable[[], list[AgentRow]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("threadHeader")
        self._agents = agents
        self.title = plain_label("", "threadTitle")
        #: Shown beside the name when the visitor's claimed identity is not verified.
        self.unverified_badge = plain_label(QCoreApplication.translate("Header", "Unverified"), "unverifiedBadge")
        self.unverified_badge.setToolTip(
            QCoreApplication.translate(
                "Header", "The site claimed this visitor's identity without proof (no valid user_hash)."
            )
        )
        self.unverified_badge.hide()
        # Elided: a long note ("2 changes waiting to sync") must not widen the
        # pane and squeeze the inbox's filter chips (issue 13, item 6).
        self.subtitle = ElidedLabel()
        self.subtitle.setObjectName("threadSubtitle")
        self.status_chip = plain_label("", "statusChip")
        #: Collision awareness: who else has it open or is typing a reply (hidden when nobody).
        self.collision_label = ElidedLabel()
        self.collision_label.setObjectName("collisionLabel")
        self.collision_label.hide()
        #: The latest satisfaction survey of the conversation (PROTOCOL.md, "Satisfaction surveys").
        self.csat_label = ElidedLabel()
        self.csat_label.setObjectName("csatLabel")
        self.csat_label.hide()
        self.assign_me_button = QPushButton(QCoreApplication.translate("Header", "Assign to me"))
        self.assign_me_button.clicked.connect(self.assign_me_clicked)
        self.assign_button = QToolButton()
        self.assign_button.setObjectName("assignButton")
        self.assign_button.setText(QCoreApplication.translate("Header", "Assign ▾"))
        self.assign_button.setToolTip(QCoreApplication.translate("Header", "Assign to… (Ctrl+Shift+A)"))
        self.assign_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.assign_menu = QMenu(self)
        self.assign_menu.aboutToShow.connect(self._on_assign_menu_about_to_show)
        self.assign_button.setMenu(self.assign_menu)
        self.snooze_button = QToolButton()
        self.snooze_button.setObjectName("snoozeButton")
        self.snooze_button.setText(QCoreApplication.translate("Header", "Snooze ▾"))
        self.snooze_button.setToolTip(QCoreApplication.translate("Header", "Snooze (Ctrl+Shift+Z)"))
        self.snooze_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.snooze_menu = SnoozeMenu(self)
        self.snooze_menu.snooze_requested.connect(self.snooze_requested)
        self.snooze_button.setMenu(self.snooze_menu)
        self.transfer_button = QPushButton(QCoreApplication.translate("Header", "Transfer…"))
        self.transfer_button.setToolTip(
            QCoreApplication.translate("Header", "Transfer to an agent or a team, with a note (Ctrl+Shift+T)")
        )
        self.transfer_button.clicked.connect(self.transfer_clicked)
        self.resolve_button = QPushButton(QCoreApplication.translate("Header", "Resolve"))
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
        #: The conversation's labels as coloured chips (console/ui/workflow.py fills it).
        self.label_chips = QHBoxLayout()
        self.label_chips.setSpacing(4)
        title_row.addLayout(self.label_chips)
        title_row.addStretch(1)
        # Centred beside the taller buttons, at their own height (a chip given the row's height is a big pill).
        names.addStretch(1)
        names.addLayout(title_row)
        names.addStretch(1)
        #: The names' column, then the action buttons (console/ui/workflow.py inserts its Labels button).
        self.top_row = QHBoxLayout()
        self.top_row.setSpacing(8)
        self.top_row.addLayout(names, 1)
        self.top_row.addWidget(self.assign_me_button)
        self.top_row.addWidget(self.assign_button)
        self.top_row.addWidget(self.snooze_button)
        self.top_row.addWidget(self.transfer_button)
        self.top_row.addWidget(self.resolve_button)
        # The email and assignee, who else is here and the rating get the header's whole width, under the
        # buttons: beside them the names' column is a few hundred pixels at a laptop's width, where the assignee
        # read "Assign…" and "… is typing a reply" came last and was elided away (issue 15, item 6).
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 12, 16, 12)
        layout.setSpacing(2)
        layout.addLayout(self.top_row)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.collision_label)
        layout.addWidget(self.csat_label)
        self._conversation: ConversationRow | None = None
        #: Called with each conversation shown (console/ui/workflow.py: its labels).
        self.on_conversation: Callable[[ConversationRow], None] | None = None

    def set_conversation(self, conversation: ConversationRow | None, me: AgentRow | None) -> None:
        """Show ``conversation`` (its status and assignee decide the buttons)."""
        self._conversation = conversation
        if conversation is None:
            return
        self.title.setText(conversation.visitor_name)
        self.unverified_badge.setVisible(conversation.identity_unverified)
        status = conversation.status
        self.status_chip.setText(status_label(status))
        self.status_chip.setProperty("status", status)
        self.status_chip.style().unpolish(self.status_chip)
        self.status_chip.style().polish(self.status_chip)
        if conversation.assignee_id is None:
            who = QCoreApplication.translate("Header", "Unassigned")
        elif me is not None and conversation.assignee_id == me.id:
            who = QCoreApplication.translate("Header", "Assigned to you")
        else:
            who = QCoreApplication.translate("Header", "Assigned to {name}").format(
                name=conversation.assignee_name
                or QCoreApplication.translate("Header", "agent #{id}").format(id=conversation.assignee_id)
            )
        bits = [who]
        if status == "snoozed":
            bits.append(snoozed_text(conversation.snoozed_until, dt.datetime.now().astimezone()))
        if conversation.visitor_email:
            bits.insert(0, conversation.visitor_email)
        if conversation.pending_actions:
            n = conversation.pending_actions
            bits.append(
                QCoreApplication.translate("Header", "1 change waiting to sync")
                if n == 1
                else QCoreApplication.translate("Header", "%n changes waiting to sync", None, n)
            )
        if conversation.failed_actions:
            bits.append(QCoreApplication.translate("Header", "%n not delivered", None, conversation.failed_actions))
        self.subtitle.setText("  ·  ".join(bits))
        self.resolve_button.setText(
            QCoreApplication.translate("Header", "Reopen")
            if status == "resolved"
            else QCoreApplication.translate("Header", "Resolve")
        )
        self.resolve_button.setToolTip(
            QCoreApplication.translate("Header", "Reopen (Ctrl+E)")
            if status == "resolved"
            else QCoreApplication.translate("Header", "Resolve (Ctrl+E)")
        )
        mine = me is not None and conversation.assignee_id == me.id
        self.assign_me_button.setVisible(not mine)
        self.snooze_button.setVisible(status != "resolved")
        self.transfer_button.setVisible(status != "resolved")
        if self.on_conversation is not None:
            self.on_conversation(conversation)

    def set_collision(self, text: str) -> None:
        """Show who else is here (``collision_text``), or nothing."""
        self.collision_label.setText(text)
        self.collision_label.setToolTip(text)
        self.collision_label.setVisible(bool(text))

    def set_csat(self, surveys: list[CsatRow]) -> None:
        """Show the newest survey of the conversation (hidden when there is none)."""
        self.csat_label.setVisible(bool(surveys))
        if not surveys:
            return
        latest = surveys[0]
        text = QCoreApplication.translate("Header", "Rating: {rating}").format(
            rating=rating_text(latest.scale, latest.rating)
        )
        if latest.comment:
            text += f" — “{latest.comment}”"
        if latest.agent_name:
            text += "  ·  " + QCoreApplication.translate("Header", "for {name}").format(name=latest.agent_name)
        self.csat_label.setText(text)
        self.csat_label.setToolTip(text)

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
            menu.addAction(
                QCoreApplication.translate("Header", "No agents known yet (connect to load them)")
            ).setEnabled(False)
        for agent in agents:
            away = agent.online and agent.away
            label = f"{'●' if agent.online else '○'}  {agent.name}" + ("   (away)" if away else "")
            action = menu.addAction(
                label + (QCoreApplication.translate("Header", "   (assigned)") if agent.id == current else "")
            )
            action.setToolTip(
                (
                    QCoreApplication.translate("Header", "Away")
                    if away
                    else QCoreApplication.translate("Header", "Online")
                )
                if agent.online
                else QCoreApplication.translate("Header", "Offline")
            )
            action.setEnabled(agent.id != current)
            action.triggered.connect(lambda _checked=False, a=agent.id: self.assign_requested.emit(a))
        menu.addSeparator()
        unassign = menu.addAction(QCoreApplication.translate("Header", "Unassign"))
        unassign.setEnabled(current is not None)
        unassign.triggered.connect(self.unassign_clicked)
