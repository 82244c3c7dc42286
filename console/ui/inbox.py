"""The left pane: inbox filters, search and the conversation list."""

from __future__ import annotations

from frontdesk.console.core import ConversationRow
from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from .fitting import ChipBar
from .models import FILTER_LABELS, InboxModel, Roles, filter_label, status_label
from .search import SearchModel, search_note
from .theme import C
from .translation import QT_TRANSLATE_NOOP

__all__ = ["InboxDelegate", "InboxPane"]

_Index = QModelIndex | QPersistentModelIndex

ROW_HEIGHT = 78
#: Shown beside a visitor's name when their claimed identity is not verified.
UNVERIFIED_TAG = QT_TRANSLATE_NOOP("Inbox", "Unverified")
PAD = 16

#: What each filter says when it has nothing (issue 13, item 6).
EMPTY_TEXT: dict[str, str] = {
    "mine": QT_TRANSLATE_NOOP("Inbox", "Nothing assigned to you.\nConversations you take or are given appear here."),
    "unassigned": QT_TRANSLATE_NOOP(
        "Inbox", "No unassigned conversations.\nNew ones wait here until someone takes them."
    ),
    "open": QT_TRANSLATE_NOOP("Inbox", "No open conversations.\nNew conversations appear here as they arrive."),
    "pending": QT_TRANSLATE_NOOP("Inbox", "Nothing pending.\nConversations waiting on the visitor appear here."),
    "snoozed": QT_TRANSLATE_NOOP(
        "Inbox", "Nothing snoozed.\nSnoozed conversations come back on time, or when the visitor writes."
    ),
    "resolved": QT_TRANSLATE_NOOP("Inbox", "Nothing resolved yet.\nResolved conversations are kept here."),
    "all": QT_TRANSLATE_NOOP("Inbox", "No conversations yet.\nThey appear here as visitors write."),
}


class InboxDelegate(QStyledItemDelegate):
    """Paints an inbox row: name, time, preview, status, assignee, unread badge."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        base = parent.font()
        self._name = QFont(base)
        self._name.setPointSizeF(base.pointSizeF() * 1.02)
        self._name.setWeight(QFont.Weight.Medium)
        self._name_unread = QFont(self._name)
        self._name_unread.setBold(True)
        self._small = QFont(base)
        self._small.setPointSizeF(base.pointSizeF() * 0.88)
        self._small_bold = QFont(self._small)
        self._small_bold.setBold(True)
        self._preview = QFont(base)
        self._preview.setPointSizeF(base.pointSizeF() * 0.95)

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(260, ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        row = index.data(Roles.ROW)
        if not isinstance(row, ConversationRow):
            return
        rect: QRect = option.rect
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hover = bool(state & QStyle.StateFlag.State_MouseOver)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if selected:
            painter.fillRect(rect, C.ACCENT_SOFT)
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), C.ACCENT)
        elif hover:
            painter.fillRect(rect, C.HOVER)
        painter.setPen(QPen(C.DIVIDER, 1))
        painter.drawLine(rect.left() + PAD, rect.bottom(), rect.right() - PAD, rect.bottom())

        unread = row.unread > 0
        left, right = rect.left() + PAD, rect.right() - PAD
        top = rect.top() + 11

        # Line 1: name ........ time
        time_text = str(index.data(Roles.TIME) or "")
        painter.setFont(self._small_bold if unread else self._small)
        small_fm = QFontMetrics(self._small)
        time_w = small_fm.horizontalAdvance(time_text) + 6
        painter.setPen(C.ACCENT if unread else C.MUTED)
        line1 = QRect(left, top, right - left, QFontMetrics(self._name).height())
        painter.drawText(line1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, time_text)
        name_font = self._name_unread if unread else self._name
        painter.setFont(name_font)
        painter.setPen(C.TEXT)
        name_rect = QRect(left, top, right - left - time_w - 8, line1.height())
        tag_w = 0
        if row.identity_unverified:
            # A claimed, unverified identity: say so next to the name (issue 20).
            tag_text = QCoreApplication.translate("Inbox", UNVERIFIED_TAG)
            tag_w = small_fm.horizontalAdvance(tag_text) + 12
            name_rect.setWidth(max(0, name_rect.width() - tag_w - 6))
        name_text = QFontMetrics(name_font).elidedText(row.visitor_name, Qt.TextElideMode.ElideRight, name_rect.width())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name_text)
        if tag_w:
            name_w = QFontMetrics(name_font).horizontalAdvance(name_text)
            tag = QRect(
                left + name_w + 6, top + (line1.height() - small_fm.height() - 2) // 2, tag_w, small_fm.height() + 2
            )
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(C.WARN_SOFT)
            painter.drawRoundedRect(tag, 7, 7)
            painter.setFont(self._small_bold)
            painter.setPen(C.WARN)
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, tag_text)

        # Line 2: preview ........ unread badge
        top2 = line1.bottom() + 4
        preview_fm = QFontMetrics(self._preview)
        badge_w = 0
        if unread:
            count = str(row.unread) if row.unread < 100 else "99+"
            badge_w = max(20, small_fm.horizontalAdvance(count) + 12)
            badge = QRect(right - badge_w, top2 + 1, badge_w, 18)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(C.ACCENT)
            painter.drawRoundedRect(badge, 9, 9)
            painter.setFont(self._small_bold)
            painter.setPen(C.SURFACE)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, count)
        preview = str(index.data(Roles.PREVIEW) or "")
        painter.setFont(self._preview)
        preview_rect = QRect(left, top2, right - left - (badge_w + 8 if badge_w else 0), preview_fm.height())
        shown = preview_fm.elidedText(
            preview or QCoreApplication.translate("Inbox", "No messages yet"),
            Qt.TextElideMode.ElideRight,
            preview_rect.width(),
        )
        _paint_highlights(painter, preview_rect, preview_fm, preview, shown, index.data(Roles.HIGHLIGHTS))
        painter.setPen(C.TEXT if unread else C.TEXT_2)
        painter.drawText(preview_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)

        # Line 3: ● Status · Assignee
        top3 = preview_rect.bottom() + 5
        dot = C.STATUS.get(row.status, C.MUTED)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(dot)
        painter.drawEllipse(QRect(left, top3 + small_fm.height() // 2 - 3, 7, 7))
        painter.setFont(self._small)
        painter.setPen(C.MUTED)
        assignee = row.assignee_name or QCoreApplication.translate("Inbox", "Unassigned")
        extra = ""
        if row.failed_actions:
            extra = "  ·  " + QCoreApplication.translate("Inbox", "not delivered")
        elif row.pending_actions:
            extra = "  ·  syncing…"
        text = f"{status_label(row.status)}  ·  {assignee}{extra}"
        line3 = QRect(left + 13, top3, right - left - 13, small_fm.height())
        if row.failed_actions:
            painter.setPen(C.FAILED)
        painter.drawText(
            line3,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            small_fm.elidedText(text, Qt.TextElideMode.ElideRight, line3.width()),
        )
        painter.restore()


def _paint_highlights(painter: QPainter, rect: QRect, fm: QFontMetrics, text: str, shown: str, spans: object) -> None:
    """Mark the ``[start, end)`` spans of ``text`` (a search snippet) behind
    the part of it that is ``shown`` (elided on the right)."""
    if not spans or not isinstance(spans, list | tuple):
        return
    visible = len(shown) if shown == text else max(0, len(shown) - 1)  # minus the ellipsis
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(C.MATCH)
    for start, end in spans:
        end = min(end, visible)
        if start >= end:
            continue
        x0 = rect.left() + fm.horizontalAdvance(text[:start])
        x1 = rect.left() + fm.horizontalAdvance(text[:end])
        painter.drawRoundedRect(QRect(x0 - 1, rect.top(), x1 - x0 + 2, rect.height()), 3, 3)


class InboxPane(QFrame):
    """Filter tabs, a search box over the cache, and the conversation list."""

    #: The agent picked a conversation (0 when the selection was cleared).
    conversation_selected = Signal(int)

    SEARCH_DELAY_MS = 200

    def __init__(
        self, model: InboxModel, parent: QWidget | None = None, *, search_model: SearchModel | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("inboxPane")
        self.model = model
        self.search_model = search_model
        title = QLabel(QCoreApplication.translate("Inbox", "Inbox"))
        title.setObjectName("paneTitle")
        title.setTextFormat(Qt.TextFormat.PlainText)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText(QCoreApplication.translate("Inbox", "Search messages, names, emails"))
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(self.SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._on_search_timer_timeout)
        self.search.textChanged.connect(self._on_search_text_changed)

        self.filter_buttons: dict[str, QPushButton] = {}
        self._filters = QButtonGroup(self)
        self._filters.setExclusive(True)
        for n, (name, _english) in enumerate(FILTER_LABELS):
            label = filter_label(name)
            button = QPushButton(label)
            button.setObjectName("filterChip")
            button.setCheckable(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setToolTip(
                QCoreApplication.translate("Inbox", "{label} (Ctrl+{key})").format(label=label, key=n + 1)
            )
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self._filters.addButton(button, n)
            self.filter_buttons[name] = button
        #: The chips that fit, and a More menu for the others (never clipped).
        self.chip_bar = ChipBar(list(self.filter_buttons.values()))
        self.filter_buttons[model.filter].setChecked(True)
        self._filters.idClicked.connect(self._on_filters_id_clicked)

        self.view = QListView()
        self.view.setObjectName("inboxList")
        self.view.setModel(model)
        self.view.setItemDelegate(InboxDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setMouseTracking(True)
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.selectionModel().currentChanged.connect(self._on_selection_current_changed)
        self.empty_label = QLabel("")
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.empty_label.setWordWrap(True)
        model.modelReset.connect(self._update_empty)
        model.rowsInserted.connect(self._update_empty)
        model.rowsRemoved.connect(self._update_empty)
        model.total_changed.connect(self._update_empty)
        model.refreshed.connect(self._on_model_refreshed)
        self._open_id = 0

        head = QHBoxLayout()
        #: The title row: console/ui/workflow.py puts the team/label box after the title.
        self.head = head
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.count_label)
        top = QVBoxLayout()
        top.setContentsMargins(16, 14, 16, 10)
        top.setSpacing(10)
        top.addLayout(head)
        top.addWidget(self.search)
        top.addWidget(self.chip_bar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        divider = QFrame()
        divider.setObjectName("divider")
        divider.setFixedHeight(1)
        layout.addWidget(divider)
        layout.addWidget(self.view, 1)
        if search_model is not None:
            self._build_search(search_model, top, layout)
        layout.addWidget(self.empty_label, 1)
        self._update_empty()

    # -- filters and search

    def set_filter(self, name: str) -> None:
        """Show filter ``name`` (as if its chip was clicked)."""
        self.filter_buttons[name].setChecked(True)
        self.model.set_filter(name)
        self._on_search_scope_changed()

    def _on_filters_id_clicked(self, button_id: int) -> None:
        self.model.set_filter(FILTER_LABELS[button_id][0])
        self._on_search_scope_changed()

    def _on_search_text_changed(self, text: str) -> None:
        del text
        self._search_timer.start()

    def _on_search_timer_timeout(self) -> None:
        if self.search_model is not None:
            self._run_search()
        else:
            self.model.set_query(self.search.text())

    def apply_search_now(self) -> None:
        """Apply the search text without waiting for the typing pause."""
        self._search_timer.stop()
        self._on_search_timer_timeout()

    def _update_empty(self) -> None:
        if self.searching:
            self._update_search_empty()
            return
        total = self.model.total
        self.count_label.setText(str(total) if total else "")
        empty = self.model.rowCount() == 0
        if empty:
            if self.model.query:
                self.empty_label.setText(QCoreApplication.translate("Inbox", "No conversations match your search."))
            else:
                self.empty_label.setText(
                    QCoreApplication.translate("Inbox", EMPTY_TEXT[self.model.filter])
                    if self.model.filter in EMPTY_TEXT
                    else QCoreApplication.translate("Inbox", "Nothing here.")
                )
        self.empty_label.setVisible(empty)
        self.view.setVisible(not empty)

    # -- selection

    def current_conversation_id(self) -> int:
        """The selected conversation, 0 for none."""
        index = self._list().currentIndex()
        value = index.data(Roles.ID) if index.isValid() else None
        return int(value) if value else 0

    def select_conversation(self, conversation_id: int) -> bool:
        """Select ``conversation_id`` if it is in the list; True when found."""
        model = self._list_model()
        row = model.row_of(conversation_id)
        if row is None:
            return False
        self._list().setCurrentIndex(model.index(row, 0))
        self._list().scrollTo(model.index(row, 0))
        return True

    def move_selection(self, step: int) -> None:
        """Select the next (step 1) or previous (step -1) conversation."""
        model, view = self._list_model(), self._list()
        rows = model.rowCount()
        if not rows:
            return
        current = view.currentIndex().row() if view.currentIndex().isValid() else -1
        target = min(max(current + step, 0), rows - 1)
        if current < 0:
            target = 0
        if target == rows - 1 and model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())
        view.setCurrentIndex(model.index(target, 0))

    def _on_selection_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        del previous
        if self.model.syncing:
            # Rows moved or vanished under the selection (e.g. the open
            # conversation was resolved): that is not the agent picking another.
            return
        value = current.data(Roles.ID) if current.isValid() else None
        self._open_id = int(value) if value else 0
        if self._open_id:
            self.conversation_selected.emit(self._open_id)

    def _on_model_refreshed(self) -> None:
        """Keep the open conversation highlighted, wherever it moved."""
        selection = self.view.selectionModel()
        blocked = selection.blockSignals(True)
        try:
            row = self.model.row_of(self._open_id) if self._open_id else None
            if row is None:
                selection.clear()
            else:
                index = self.model.index(row, 0)
                selection.setCurrentIndex(index, selection.SelectionFlag.ClearAndSelect)
        finally:
            selection.blockSignals(blocked)
        self.view.viewport().update()

    def set_open_conversation(self, conversation_id: int) -> None:
        """Highlight ``conversation_id`` (opened from elsewhere) without re-emitting."""
        self._open_id = conversation_id
        self._on_model_refreshed()

    # -- search across every status (console/core/search.py, console/ui/search.py)

    @property
    def searching(self) -> bool:
        """Whether the list shows search results (the search box has text)."""
        return self.search_model is not None and self.search_model.results is not None

    def _build_search(self, search_model: SearchModel, top: QVBoxLayout, layout: QVBoxLayout) -> None:
        self.scope_chip = QPushButton("")
        self.scope_chip.setObjectName("filterChip")
        self.scope_chip.setCheckable(True)
        self.scope_chip.setCursor(Qt.CursorShape.PointingHandCursor)
        self.scope_chip.setToolTip(
            QCoreApplication.translate(
                "Inbox", "Search only the conversations of the current tab (default: every status)"
            )
        )
        self.scope_chip.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.scope_chip.toggled.connect(self._on_scope_chip_toggled)
        self.search_note = QLabel("")
        self.search_note.setObjectName("countLabel")
        self.search_note.setTextFormat(Qt.TextFormat.PlainText)
        self.search_note.setWordWrap(True)
        self.search_bar = QWidget()
        bar = QHBoxLayout(self.search_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.scope_chip)
        bar.addWidget(self.search_note, 1)
        top.addWidget(self.search_bar)
        self.results_view = QListView()
        self.results_view.setObjectName("searchResults")
        self.results_view.setModel(search_model)
        self.results_view.setItemDelegate(InboxDelegate(self.results_view))
        self.results_view.setUniformItemSizes(True)
        self.results_view.setMouseTracking(True)
        self.results_view.setFrameShape(QFrame.Shape.NoFrame)
        self.results_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.results_view.selectionModel().currentChanged.connect(self._on_results_current_changed)
        layout.addWidget(self.results_view, 1)
        search_model.results_changed.connect(self._on_search_model_results_changed)
        self.search_bar.hide()
        self.results_view.hide()
        self._update_scope_chip()

    def _scope(self) -> str:
        """The search's scope: every status, or the current tab's when the chip is on."""
        return self.model.filter if self.scope_chip.isChecked() else "all"

    def _run_search(self) -> None:
        assert self.search_model is not None
        text = self.search.text().strip()
        if text:
            self.search_model.search(text, self._scope())
        else:
            self.search_model.clear()

    def _update_scope_chip(self) -> None:
        self.scope_chip.setText(
            QCoreApplication.translate("Inbox", "Only in {label}").format(label=filter_label(self.model.filter))
        )

    def _on_search_scope_changed(self) -> None:
        if self.search_model is None:
            return
        self._update_scope_chip()
        if self.searching and self.scope_chip.isChecked():
            self._run_search()

    def _on_scope_chip_toggled(self, checked: bool) -> None:
        del checked
        if self.searching:
            self._run_search()

    def _list(self) -> QListView:
        """The list on screen: the search results while searching, else the inbox."""
        return self.results_view if self.searching else self.view

    def _list_model(self) -> InboxModel | SearchModel:
        return self.search_model if self.searching and self.search_model is not None else self.model

    def _on_search_model_results_changed(self) -> None:
        assert self.search_model is not None
        self.search_bar.setVisible(self.searching)
        self.search_note.setText(search_note(self.search_model.results))
        if self.searching:
            selection = self.results_view.selectionModel()
            blocked = selection.blockSignals(True)
            try:
                row = self.search_model.row_of(self._open_id) if self._open_id else None
                if row is not None:
                    selection.setCurrentIndex(self.search_model.index(row, 0), selection.SelectionFlag.ClearAndSelect)
            finally:
                selection.blockSignals(blocked)
        else:
            self.results_view.hide()
        self._update_empty()

    def _update_search_empty(self) -> None:
        assert self.search_model is not None
        results = self.search_model.results
        found = self.search_model.rowCount()
        self.count_label.setText(str(found) if found else "")
        if not found and results is not None:
            text = QCoreApplication.translate("Inbox", "No conversations match “{query}”.").format(query=results.text)
            if results.from_cache_only:
                text += "\n" + QCoreApplication.translate(
                    "Inbox", "Only the local cache was searched: the server could not be asked."
                )
            elif results.state.value == "searching":
                text = QCoreApplication.translate("Inbox", "Searching…")
            self.empty_label.setText(text)
        self.empty_label.setVisible(not found)
        self.results_view.setVisible(bool(found))
        self.view.setVisible(False)

    def _on_results_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        del previous
        assert self.search_model is not None
        conversation_id = self.search_model.conversation_id(current.row()) if current.isValid() else 0
        if conversation_id:
            self._open_id = conversation_id
            self.conversation_selected.emit(conversation_id)
