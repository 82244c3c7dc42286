"""The right pane: who the visitor is, where they are, and their history."""

from __future__ import annotations

import time
from collections.abc import Callable

from frontdesk.console.core import VisitorRow
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QListView, QVBoxLayout, QWidget

from .formatting import local_datetime, visitor_local_time
from .models import Roles, VisitorConversationsModel

__all__ = ["VisitorPane"]

_FIELDS = (
    ("user_id", "User ID"),
    ("email", "Email"),
    ("browser", "Browser"),
    ("os", "OS"),
    ("page", "Current page"),
    ("referrer", "Referrer"),
    ("local_time", "Local time"),
    ("first_seen", "First seen"),
)


def _label(name: str, text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class VisitorPane(QFrame):
    """Name, email, browser and OS, current page, referrer, local time, first
    seen, and the visitor's earlier conversations (click to open one)."""

    #: The agent picked one of the visitor's other conversations.
    conversation_selected = Signal(int)

    def __init__(
        self,
        conversations: VisitorConversationsModel,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("visitorPane")
        self._clock = clock
        self._visitor: VisitorRow | None = None
        self.name_label = _label("visitorName")
        self.name_label.setWordWrap(True)
        self.badge = _label("verifiedBadge", "Verified")
        self.badge.hide()
        #: A claimed identity (``identify`` without a valid hash): never shown as the user's own.
        self.unverified_badge = _label("unverifiedBadge", "Unverified")
        self.unverified_badge.setToolTip("The site claimed this visitor's identity without proof (no valid user_hash).")
        self.unverified_badge.hide()
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(9)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        for key, title in _FIELDS:
            value = _label("fieldValue")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = value
            form.addRow(_label("fieldName", title), value)
        self.history_title = _label("sectionTitle", "Conversations")
        self.history = QListView()
        self.history.setObjectName("historyList")
        self.history.setModel(conversations)
        self.history.setFrameShape(QFrame.Shape.NoFrame)
        self.history.setWordWrap(True)
        self.history.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.history.clicked.connect(self._on_history_clicked)
        self.history.activated.connect(self._on_history_clicked)
        self.placeholder = _label("emptyState", "Visitor details appear here")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)

        self.body = QWidget()
        inner = QVBoxLayout(self.body)
        inner.setContentsMargins(20, 18, 20, 16)
        inner.setSpacing(12)
        inner.addWidget(_label("paneTitle", "Visitor"))
        inner.addWidget(self.name_label)
        inner.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignLeft)
        inner.addWidget(self.unverified_badge, 0, Qt.AlignmentFlag.AlignLeft)
        inner.addLayout(form)
        inner.addSpacing(6)
        inner.addWidget(self.history_title)
        inner.addWidget(self.history, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.placeholder, 1)
        self.set_visitor(None)

    @property
    def visitor(self) -> VisitorRow | None:
        """The visitor shown."""
        return self._visitor

    def set_visitor(self, visitor: VisitorRow | None, fallback_name: str = "") -> None:
        """Show ``visitor`` (None: only ``fallback_name``, or the placeholder)."""
        self._visitor = visitor
        has = visitor is not None or bool(fallback_name)
        self.body.setVisible(has)
        self.placeholder.setVisible(not has)
        if visitor is None:
            self.name_label.setText(fallback_name)
            self.badge.hide()
            self.unverified_badge.hide()
            for value in self.values.values():
                value.setText("—")
            return
        self.name_label.setText(visitor.display_name)
        self.badge.setVisible(visitor.verified)
        self.unverified_badge.setVisible(visitor.identity_unverified)
        user_id = visitor.user_id
        if user_id is not None:
            user_id = f"{user_id} (verified)" if visitor.verified else f"{user_id} (unverified)"
        page = visitor.page_url or ""
        if visitor.page_title and page:
            page = f"{visitor.page_title}\n{page}"
        texts = {
            "user_id": user_id,
            "email": visitor.email,
            "browser": visitor.browser,
            "os": visitor.os,
            "page": page,
            "referrer": visitor.referrer,
            "local_time": None,
            "first_seen": local_datetime(visitor.first_seen).strftime("%d %b %Y, %H:%M")
            if visitor.first_seen
            else None,
        }
        for key, text in texts.items():
            self.values[key].setText(text or "—")
        self.tick()

    def set_name(self, name: str, unverified: bool) -> None:
        """Update the name shown (from the conversation's row) and whether the
        identity it stands for is unverified."""
        if self._visitor is None:
            self.name_label.setText(name)
            self.unverified_badge.setVisible(unverified)

    def tick(self) -> None:
        """Update the visitor's local time (called every minute)."""
        if self._visitor is None:
            return
        text = visitor_local_time(self._visitor.timezone, int(self._clock() * 1000))
        self.values["local_time"].setText(text or "—")

    def _on_history_clicked(self, index: QModelIndex) -> None:
        value = index.data(Roles.ID)
        if value:
            self.conversation_selected.emit(int(value))
