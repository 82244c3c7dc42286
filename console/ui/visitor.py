"""The right pane: who the visitor is, where they are, and their history."""

from __future__ import annotations

import time
from collections.abc import Callable

from frontdesk.console.core import VisitorRow
from frontdesk.console.core.cache import rating_text
from frontdesk.console.core.rows import CsatRow
from frontdesk.console.core.visitor_info import attribute_lines, place
from PySide6.QtCore import QCoreApplication, QLocale, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .formatting import local_datetime, visitor_local_time
from .models import Roles, VisitorConversationsModel
from .translation import QT_TRANSLATE_NOOP

__all__ = ["VisitorPane"]

_FIELDS = (
    ("user_id", QT_TRANSLATE_NOOP("Visitor", "User ID")),
    ("email", QT_TRANSLATE_NOOP("Visitor", "Email")),
    ("location", QT_TRANSLATE_NOOP("Visitor", "Location")),
    ("ip", QT_TRANSLATE_NOOP("Visitor", "IP address")),
    ("language", QT_TRANSLATE_NOOP("Visitor", "Language")),
    ("browser", QT_TRANSLATE_NOOP("Visitor", "Browser")),
    ("os", QT_TRANSLATE_NOOP("Visitor", "OS")),
    ("page", QT_TRANSLATE_NOOP("Visitor", "Current page")),
    ("referrer", QT_TRANSLATE_NOOP("Visitor", "Referrer")),
    ("local_time", QT_TRANSLATE_NOOP("Visitor", "Local time")),
    ("first_seen", QT_TRANSLATE_NOOP("Visitor", "First seen")),
    ("last_seen", QT_TRANSLATE_NOOP("Visitor", "Last seen")),
    ("visits", QT_TRANSLATE_NOOP("Visitor", "Visits")),
)


def _country_name(code: str | None) -> str | None:
    """The country's English name from Qt's locale data, else None (the code is shown)."""
    if not code:
        return None
    territory = QLocale.codeToTerritory(code)
    if territory == QLocale.Country.AnyTerritory:
        return None
    return QLocale.territoryToString(territory)


def _when(ms: int | None) -> str | None:
    return local_datetime(ms).strftime("%d %b %Y, %H:%M") if ms else None


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
    #: The visitor shown changed (their id, or 0 for none).
    visitor_shown = Signal(int)
    #: A file in the visitor's history was opened (an Attachment).
    file_activated = Signal(object)

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
        self.badge = _label("verifiedBadge", QCoreApplication.translate("Visitor", "Verified"))
        self.badge.hide()
        #: A claimed identity (``identify`` without a valid hash): never shown as the user's own.
        self.unverified_badge = _label("unverifiedBadge", QCoreApplication.translate("Visitor", "Unverified"))
        self.unverified_badge.setToolTip(
            QCoreApplication.translate(
                "Visitor", "The site claimed this visitor's identity without proof (no valid user_hash)."
            )
        )
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
            form.addRow(_label("fieldName", QCoreApplication.translate("Visitor", title)), value)
        #: The site's custom attributes (Frontdesk.setAttributes, identify): verified and unverified apart.
        self.attributes_title = _label("sectionTitle", QCoreApplication.translate("Visitor", "Attributes"))
        self.attributes = QFormLayout()
        self.attributes.setContentsMargins(0, 0, 0, 0)
        self.attributes.setHorizontalSpacing(12)
        self.attributes.setVerticalSpacing(6)
        self.attributes.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.csat_title = _label("sectionTitle", QCoreApplication.translate("Visitor", "Ratings"))
        self.csat_list = _label("csatList")
        self.csat_list.setWordWrap(True)
        self.history_title = _label("sectionTitle", QCoreApplication.translate("Visitor", "Conversations"))
        self.history = QListView()
        self.history.setObjectName("historyList")
        self.history.setModel(conversations)
        self.history.setFrameShape(QFrame.Shape.NoFrame)
        self.history.setWordWrap(True)
        self.history.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.history.clicked.connect(self._on_history_clicked)
        self.history.activated.connect(self._on_history_clicked)
        #: Files sent in the visitor's conversations, newest first (filled by the attachments controller).
        self.files_title = _label("sectionTitle", QCoreApplication.translate("Visitor", "Files"))
        self.files = QListWidget()
        self.files.setObjectName("visitorFiles")
        self.files.setFrameShape(QFrame.Shape.NoFrame)
        self.files.itemActivated.connect(self._on_files_item_activated)
        self.files.itemDoubleClicked.connect(self._on_files_item_activated)
        self.files_title.hide()
        self.files.hide()
        self.placeholder = _label("emptyState", QCoreApplication.translate("Visitor", "Visitor details appear here"))
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)

        self.body = QWidget()
        inner = QVBoxLayout(self.body)
        inner.setContentsMargins(20, 18, 20, 16)
        inner.setSpacing(12)
        inner.addWidget(_label("paneTitle", QCoreApplication.translate("Visitor", "Visitor")))
        inner.addWidget(self.name_label)
        inner.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignLeft)
        inner.addWidget(self.unverified_badge, 0, Qt.AlignmentFlag.AlignLeft)
        inner.addLayout(form)
        inner.addSpacing(6)
        inner.addWidget(self.attributes_title)
        inner.addLayout(self.attributes)
        inner.addWidget(self.csat_title)
        inner.addWidget(self.csat_list)
        inner.addWidget(self.history_title)
        inner.addWidget(self.history, 1)
        inner.addWidget(self.files_title)
        inner.addWidget(self.files)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.placeholder, 1)
        self.set_visitor(None)
        self.set_csat([])

    @property
    def visitor(self) -> VisitorRow | None:
        """The visitor shown."""
        return self._visitor

    def set_visitor(self, visitor: VisitorRow | None, fallback_name: str = "") -> None:
        """Show ``visitor`` (None: only ``fallback_name``, or the placeholder)."""
        self._visitor = visitor
        self.visitor_shown.emit(visitor.id if visitor is not None else 0)
        has = visitor is not None or bool(fallback_name)
        self.body.setVisible(has)
        self.placeholder.setVisible(not has)
        if visitor is None:
            self.name_label.setText(fallback_name)
            self.badge.hide()
            self.unverified_badge.hide()
            for value in self.values.values():
                value.setText("—")
            self._show_attributes(None)
            return
        self.name_label.setText(visitor.display_name)
        self.badge.setVisible(visitor.verified)
        self.unverified_badge.setVisible(visitor.identity_unverified)
        user_id = visitor.user_id
        if user_id is not None:
            user_id = (
                QCoreApplication.translate("Visitor", "{user_id} (verified)")
                if visitor.verified
                else QCoreApplication.translate("Visitor", "{user_id} (unverified)")
            ).format(user_id=user_id)
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
            "first_seen": _when(visitor.first_seen),
            "last_seen": _when(visitor.last_seen),
            "location": place(visitor, _country_name(visitor.country)),
            "ip": visitor.ip,
            "language": visitor.language,
            "visits": str(visitor.visits),
        }
        for key, text in texts.items():
            self.values[key].setText(text or "—")
        self._show_attributes(visitor)
        self.tick()

    def _show_attributes(self, visitor: VisitorRow | None) -> None:
        """One row per attribute: verified ones marked so, the page's own marked unverified."""
        while self.attributes.rowCount():
            self.attributes.removeRow(0)
        lines = attribute_lines(visitor) if visitor is not None else []
        self.attributes_title.setVisible(bool(lines))
        for line in lines:
            value = _label("attributeVerified" if line.verified else "attributeUnverified")
            value.setText(
                QCoreApplication.translate("Visitor", "{value}  ✓ verified").format(value=line.value)
                if line.verified
                else QCoreApplication.translate("Visitor", "{value}  (unverified)").format(value=line.value)
            )
            value.setToolTip(
                QCoreApplication.translate("Visitor", "Passed through a verified identity (identify with user_hash).")
                if line.verified
                else QCoreApplication.translate(
                    "Visitor", "Set by the page (Frontdesk.setAttributes): the visitor could have changed it."
                )
            )
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.attributes.addRow(_label("fieldName", line.name), value)

    def set_csat(self, surveys: list[CsatRow]) -> None:
        """The visitor's ratings, newest first (the section hides when there are none)."""
        rated = [s for s in surveys if s.rating is not None]
        self.csat_title.setVisible(bool(rated))
        self.csat_list.setVisible(bool(rated))
        lines = []
        for s in rated[:5]:
            when = local_datetime(s.rated_at or s.created_at).strftime("%d %b")
            line = f"{rating_text(s.scale, s.rating)}  {when}" + (f" · {s.agent_name}" if s.agent_name else "")
            lines.append(line + (f"\n“{s.comment}”" if s.comment else ""))
        self.csat_list.setText("\n".join(lines))

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

    def set_files(self, files: list[tuple[str, object]]) -> None:
        """Show the visitor's files: (label, Attachment) pairs, newest first; hidden when none."""
        self.files.clear()
        for label, attachment in files:
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, attachment)
            item.setToolTip(label)
            self.files.addItem(item)
        self.files_title.setVisible(bool(files))
        self.files.setVisible(bool(files))

    def _on_files_item_activated(self, item: QListWidgetItem) -> None:
        self.file_activated.emit(item.data(Qt.ItemDataRole.UserRole))

    def _on_history_clicked(self, index: QModelIndex) -> None:
        value = index.data(Roles.ID)
        if value:
            self.conversation_selected.emit(int(value))
