"""The centre pane: a conversation's header, thread and composer.

The thread is a ``QListView`` over :class:`~.models.ThreadModel` painted by
:class:`ThreadDelegate`: visitor, agent, system and private-note messages
each have their own look, with day separators, and this agent's messages
show their delivery state (sending, sent, failed with a Retry link). Text is
painted with ``QPainter.drawText``, which never interprets markup, so user
text is always plain.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from frontdesk.console.core import AgentRow, ConversationRow, ThreadItem
from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPen,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .canned import CANNED, Canned
from .formatting import clock_time
from .models import DayMarker, Roles, ThreadModel
from .theme import C

__all__ = ["Composer", "ConversationHeader", "ThreadDelegate", "ThreadPane", "ThreadView"]

_Index = QModelIndex | QPersistentModelIndex

MARGIN_X = 24
PAD_X = 14
PAD_Y = 9
GAP = 6
MAX_FRACTION = 0.68
RADIUS = 14


def _plain(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if name:
        label.setObjectName(name)
    return label


_TEXT_OPTION = QTextOption()
# Wrap at word boundaries, and inside a word only when it is wider than the
# bubble (long URLs).
_TEXT_OPTION.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)


def _layout_text(text: str, font: QFont, max_width: int) -> tuple[QTextLayout, int, int]:
    """Lay ``text`` out as plain text within ``max_width``; (layout, width, height)."""
    # QTextLayout breaks lines on U+2028, not on "\n".
    layout = QTextLayout(text.replace("\r\n", "\n").replace("\n", "\u2028"), font)
    layout.setTextOption(_TEXT_OPTION)
    layout.beginLayout()
    height = 0.0
    widest = 0.0
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(max_width)
        line.setPosition(QPointF(0, height))
        height += line.height()
        widest = max(widest, line.naturalTextWidth())
    layout.endLayout()
    return layout, math.ceil(widest) + 1, math.ceil(height)


@dataclasses.dataclass(slots=True)
class _Geometry:
    """Where each part of one thread item is painted, relative to its row."""

    height: int
    bubble: QRect
    text: QRect
    header: QRect | None
    meta: QRect
    retry: QRect | None
    layout: QTextLayout


class ThreadDelegate(QStyledItemDelegate):
    """Paints thread items as chat bubbles; handles the Retry link."""

    #: The agent clicked Retry on a failed item; carries its outbox id.
    retry_requested = Signal(int)

    def __init__(self, view: QListView, my_name: Callable[[], str | None]) -> None:
        super().__init__(view)
        self._view = view
        self._my_name = my_name
        base = view.font()
        self._body_font = QFont(base)
        self._body_font.setPointSizeF(base.pointSizeF() * 1.02)
        self._meta_font = QFont(base)
        self._meta_font.setPointSizeF(base.pointSizeF() * 0.86)
        self._header_font = QFont(self._meta_font)
        self._header_font.setBold(True)
        self._day_font = QFont(self._meta_font)
        self._day_font.setWeight(QFont.Weight.DemiBold)
        self._cache: dict[tuple[str, str, int], _Geometry] = {}

    # -- geometry

    def _width(self) -> int:
        return max(200, self._view.viewport().width())

    def _is_mine(self, item: ThreadItem) -> bool:
        if item.outbox_id is not None:
            return True
        name = self._my_name()
        return item.kind in ("agent", "note") and name is not None and item.author_name == name

    def _meta_text(self, item: ThreadItem) -> str:
        parts = [item.author_name or ("Visitor" if item.kind == "visitor" else "")]
        parts.append(clock_time(item.created_at))
        if self._is_mine(item):
            parts.append({"pending": "Sending…", "sent": "Sent", "failed": "Not delivered"}[item.delivery])
        return " · ".join(p for p in parts if p)

    def _geometry(self, item: ThreadItem, width: int) -> _Geometry:
        cache_key = (item.key, item.delivery, width)
        cached = self._cache.get(cache_key)
        if cached is not None and cached.layout.text() == item.body.replace("\r\n", "\n").replace("\n", "\u2028"):
            return cached
        if len(self._cache) > 4000:
            self._cache.clear()
        geometry = self._compute_geometry(item, width)
        self._cache[cache_key] = geometry
        return geometry

    def _compute_geometry(self, item: ThreadItem, width: int) -> _Geometry:
        meta_fm = QFontMetrics(self._meta_font)
        if item.kind == "system":
            max_w = int(width * 0.8)
            layout, text_w, text_h = _layout_text(item.body, self._meta_font, max_w)
            box = QRect((width - text_w) // 2, GAP + 4, text_w, text_h)
            return _Geometry(box.bottom() + GAP + 6, box, box, None, QRect(), None, layout)
        max_text_w = int(width * MAX_FRACTION) - 2 * PAD_X
        layout, text_w, text_h = _layout_text(item.body or " ", self._body_font, max_text_w)
        text = QRect(0, 0, text_w, text_h)
        header_h = meta_fm.height() + 4 if item.kind == "note" else 0
        inner_w = text.width()
        if item.kind == "note":
            inner_w = max(inner_w, QFontMetrics(self._header_font).horizontalAdvance("PRIVATE NOTE") + 4)
        inner_w = min(max(inner_w, 24), max_text_w)
        bubble_w = inner_w + 2 * PAD_X
        bubble_h = text.height() + 2 * PAD_Y + header_h
        right = item.kind in ("agent", "note")
        x = width - MARGIN_X - bubble_w if right else MARGIN_X
        bubble = QRect(x, GAP, bubble_w, bubble_h)
        header = QRect(x + PAD_X, GAP + PAD_Y, inner_w, header_h) if header_h else None
        text_rect = QRect(x + PAD_X, GAP + PAD_Y + header_h, inner_w, text.height())
        meta_h = meta_fm.height()
        meta_w = int(width * 0.9)
        meta = QRect(width - MARGIN_X - meta_w if right else MARGIN_X + 2, bubble.bottom() + 5, meta_w, meta_h)
        retry = None
        if item.delivery == "failed" and item.outbox_id is not None:
            link_w = QFontMetrics(self._header_font).horizontalAdvance("Retry") + 2
            retry = QRect(meta.right() - link_w + 1, meta.top(), link_w, meta_h)
            meta = QRect(meta.left(), meta.top(), meta.width() - link_w - 12, meta_h)
        return _Geometry(meta.bottom() + GAP + 4, bubble, text_rect, header, meta, retry, layout)

    # -- QStyledItemDelegate overrides

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        row = index.data(Roles.ROW)
        width = self._width()
        if isinstance(row, DayMarker):
            return QSize(width, 44)
        if isinstance(row, ThreadItem):
            return QSize(width, self._geometry(row, width).height)
        return QSize(width, 0)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        row = index.data(Roles.ROW)
        rect: QRect = option.rect
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(rect.topLeft())
        if isinstance(row, DayMarker):
            self._paint_day(painter, row, rect.width())
        elif isinstance(row, ThreadItem):
            selected = bool(option.state & QStyle.StateFlag.State_Selected)
            self._paint_item(painter, row, rect.width(), selected)
        painter.restore()

    def _paint_day(self, painter: QPainter, marker: DayMarker, width: int) -> None:
        fm = QFontMetrics(self._day_font)
        label_w = fm.horizontalAdvance(marker.label) + 24
        y = 22
        painter.setPen(QPen(C.DIVIDER, 1))
        painter.drawLine(MARGIN_X, y, (width - label_w) // 2 - 8, y)
        painter.drawLine((width + label_w) // 2 + 8, y, width - MARGIN_X, y)
        painter.setFont(self._day_font)
        painter.setPen(C.MUTED)
        painter.drawText(QRect((width - label_w) // 2, 8, label_w, 28), Qt.AlignmentFlag.AlignCenter, marker.label)

    def _paint_item(self, painter: QPainter, item: ThreadItem, width: int, selected: bool) -> None:
        geo = self._geometry(item, width)
        if item.kind == "system":
            painter.setPen(C.MUTED)
            geo.layout.draw(painter, QPointF(geo.text.topLeft()))
            return
        mine = self._is_mine(item)
        if item.kind == "visitor":
            fill, border, ink = C.VISITOR_BUBBLE, None, C.TEXT
        elif item.kind == "note":
            fill, border, ink = C.NOTE_BG, C.NOTE_BORDER, C.TEXT
        elif mine:
            fill, border, ink = C.AGENT_BUBBLE, None, C.AGENT_TEXT
        else:
            fill, border, ink = C.OTHER_AGENT_BUBBLE, None, C.TEXT
        if item.delivery == "failed":
            fill, border, ink = C.FAILED_SOFT, QColor("#fda29b"), C.TEXT
        if item.delivery == "pending":
            painter.setOpacity(0.72)
        if selected:
            fill = fill.darker(106)
        painter.setPen(QPen(border, 1) if border is not None else Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(geo.bubble.adjusted(0, 0, -1, -1) if border else geo.bubble, RADIUS, RADIUS)
        if geo.header is not None:
            painter.setFont(self._header_font)
            painter.setPen(C.NOTE_TEXT)
            painter.drawText(geo.header, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, "PRIVATE NOTE")
        painter.setPen(ink)
        geo.layout.draw(painter, QPointF(geo.text.topLeft()))
        painter.setOpacity(1.0)
        painter.setFont(self._meta_font)
        align = Qt.AlignmentFlag.AlignRight if item.kind in ("agent", "note") else Qt.AlignmentFlag.AlignLeft
        meta = self._meta_text(item)
        if item.delivery == "failed" and item.error:
            meta += f": {item.error}"
        painter.setPen(C.FAILED if item.delivery == "failed" else C.MUTED)
        fm = QFontMetrics(self._meta_font)
        painter.drawText(
            geo.meta,
            align | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(meta, Qt.TextElideMode.ElideLeft, geo.meta.width()),
        )
        if geo.retry is not None:
            painter.setFont(self._header_font)
            painter.setPen(C.ACCENT)
            painter.drawText(geo.retry, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, "Retry")

    def retry_rect(self, index: _Index) -> QRect | None:
        """Where the Retry link of the item at ``index`` is, in view coordinates."""
        row = index.data(Roles.ROW)
        if not isinstance(row, ThreadItem):
            return None
        geo = self._geometry(row, self._width())
        if geo.retry is None:
            return None
        return geo.retry.translated(self._view.visualRect(self._view.model().index(index.row(), 0)).topLeft())

    def editorEvent(
        self, event: QEvent, model: QAbstractItemModel, option: QStyleOptionViewItem, index: _Index
    ) -> bool:
        if event.type() == QEvent.Type.MouseButtonRelease and isinstance(event, QMouseEvent):
            rect = self.retry_rect(index)
            row = index.data(Roles.ROW)
            if rect is not None and rect.contains(event.position().toPoint()) and isinstance(row, ThreadItem):
                assert row.outbox_id is not None
                self.retry_requested.emit(row.outbox_id)
                return True
        return super().editorEvent(event, model, option, index)


class ThreadView(QListView):
    """The thread list: sticks to the bottom, asks for older items at the top."""

    #: Scrolled to the top while older messages may exist.
    older_requested = Signal()
    #: Context menu actions on an outbox item.
    retry_requested = Signal(int)
    discard_requested = Signal(int)

    def __init__(self, my_name: Callable[[], str | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("threadView")
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setUniformItemSizes(False)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMouseTracking(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_self_custom_context_menu_requested)
        self.delegate = ThreadDelegate(self, my_name)
        self.delegate.retry_requested.connect(self.retry_requested)
        self.setItemDelegate(self.delegate)
        self._stick_to_bottom = True
        self._anchor_from_bottom: int | None = None
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_scrollbar_range_changed)
        bar.valueChanged.connect(self._on_scrollbar_value_changed)

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        if model is not None:
            model.rowsAboutToBeInserted.connect(self._on_model_rows_about_to_be_inserted)
            model.modelReset.connect(self._on_model_model_reset)

    def _on_model_model_reset(self) -> None:
        self._stick_to_bottom = True
        self._anchor_from_bottom = None
        QTimer.singleShot(0, self.scrollToBottom)

    def _on_model_rows_about_to_be_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        del parent, last
        bar = self.verticalScrollBar()
        if first == 0 and self.model() is not None and self.model().rowCount() > 0:
            # Older items go above: keep what the agent is reading in place.
            self._anchor_from_bottom = bar.maximum() - bar.value()

    def _on_scrollbar_range_changed(self, minimum: int, maximum: int) -> None:
        del minimum
        bar = self.verticalScrollBar()
        if self._anchor_from_bottom is not None:
            bar.setValue(maximum - self._anchor_from_bottom)
            self._anchor_from_bottom = None
        elif self._stick_to_bottom:
            bar.setValue(maximum)
        if maximum == 0:
            self.older_requested.emit()

    def _on_scrollbar_value_changed(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._stick_to_bottom = value >= bar.maximum() - 4
        if value == bar.minimum() and bar.maximum() > 0:
            self.older_requested.emit()

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.scheduleDelayedItemsLayout()  # bubble heights depend on the width

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        rect = self.delegate.retry_rect(index) if index.isValid() else None
        over = rect is not None and rect.contains(event.position().toPoint())
        self.viewport().setCursor(Qt.CursorShape.PointingHandCursor if over else Qt.CursorShape.ArrowCursor)
        super().mouseMoveEvent(event)

    def _selected_item(self) -> ThreadItem | None:
        index = self.currentIndex()
        row = index.data(Roles.ROW) if index.isValid() else None
        return row if isinstance(row, ThreadItem) else None

    def copy_selected(self) -> None:
        """Copy the selected message's text."""
        item = self._selected_item()
        if item is not None:
            QGuiApplication.clipboard().setText(item.body)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selected()
            return
        super().keyPressEvent(event)

    def _on_self_custom_context_menu_requested(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        row = index.data(Roles.ROW) if index.isValid() else None
        if not isinstance(row, ThreadItem):
            return
        self.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction("Copy text", self.copy_selected)
        if row.outbox_id is not None:
            outbox_id = row.outbox_id
            if row.delivery == "failed":
                menu.addAction("Retry", lambda: self.retry_requested.emit(outbox_id))
            menu.addAction("Discard", lambda: self.discard_requested.emit(outbox_id))
        menu.popup(self.viewport().mapToGlobal(pos))


class ComposerEdit(QPlainTextEdit):
    """The composer's text box: Enter sends, Shift+Enter starts a new line."""

    #: Enter was pressed (without Shift).
    send_requested = Signal()
    #: "/" typed into an empty box: show canned responses.
    canned_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.send_requested.emit()
            return
        if event.text() == "/" and not self.toPlainText():
            super().keyPressEvent(event)
            self.canned_requested.emit()
            return
        super().keyPressEvent(event)

    def insertFromMimeData(self, source: object) -> None:
        # Paste plain text only: never rich text from the clipboard.
        from PySide6.QtCore import QMimeData

        if isinstance(source, QMimeData) and source.hasText():
            self.insertPlainText(source.text())


class Composer(QFrame):
    """Reply / Private note toggle, the text box, canned responses and Send."""

    #: The agent sent something: (body, is_note).
    submitted = Signal(str, bool)
    #: The agent started (True) or stopped (False) typing a reply.
    typing_changed = Signal(bool)

    TYPING_IDLE_MS = 4000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setProperty("note", False)
        self.reply_button = QPushButton("Reply")
        self.note_button = QPushButton("Private note")
        self.reply_button.setObjectName("segLeft")
        self.note_button.setObjectName("segRight")
        self._modes = QButtonGroup(self)
        for n, button in enumerate((self.reply_button, self.note_button)):
            button.setCheckable(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            self._modes.addButton(button, n)
        self.reply_button.setChecked(True)
        self._modes.idToggled.connect(self._on_modes_id_toggled)

        self.edit = ComposerEdit()
        self.edit.setObjectName("composerEdit")
        self.edit.setTabChangesFocus(True)
        self.edit.setFixedHeight(84)
        self.edit.send_requested.connect(self._on_edit_send_requested)
        self.edit.canned_requested.connect(self._on_edit_canned_requested)
        self.edit.textChanged.connect(self._on_edit_text_changed)

        self.canned_button = QToolButton()
        self.canned_button.setObjectName("cannedButton")
        self.canned_button.setText("Canned ▾")
        self.canned_button.setToolTip("Canned responses (type / in an empty box)")
        self.canned_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.canned_menu = self._build_canned_menu()
        self.canned_button.setMenu(self.canned_menu)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primary")
        self.send_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.send_button.clicked.connect(self._on_edit_send_requested)
        self.hint = _plain("Enter to send · Shift+Enter for a new line", "hint")

        top = QHBoxLayout()
        top.setSpacing(0)
        top.addWidget(self.reply_button)
        top.addWidget(self.note_button)
        top.addStretch(1)
        top.addWidget(self.hint)
        bottom = QHBoxLayout()
        bottom.setSpacing(8)
        bottom.addWidget(self.canned_button)
        bottom.addStretch(1)
        bottom.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.edit)
        layout.addLayout(bottom)

        self._typing = False
        self._typing_timer = QTimer(self)
        self._typing_timer.setSingleShot(True)
        self._typing_timer.setInterval(self.TYPING_IDLE_MS)
        self._typing_timer.timeout.connect(self._stop_typing)
        self._visitor_name = "the visitor"
        self._update_placeholder()

    # -- mode

    @property
    def is_note(self) -> bool:
        """True in Private note mode."""
        return self.note_button.isChecked()

    def set_note_mode(self, note: bool) -> None:
        """Switch between Reply and Private note."""
        (self.note_button if note else self.reply_button).setChecked(True)

    def set_visitor_name(self, name: str) -> None:
        """Name the visitor in the placeholder."""
        self._visitor_name = name
        self._update_placeholder()

    def _update_placeholder(self) -> None:
        if self.is_note:
            self.edit.setPlaceholderText("Write a private note: only your team sees it")
        else:
            self.edit.setPlaceholderText(f"Reply to {self._visitor_name}…  (type / for canned responses)")

    def _on_modes_id_toggled(self, button_id: int, checked: bool) -> None:
        if not checked:
            return
        note = button_id == 1
        self.setProperty("note", note)
        self.send_button.setText("Add note" if note else "Send")
        for widget in (self, self.edit, self.send_button):
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self._update_placeholder()
        if note:
            self._stop_typing()

    # -- canned responses

    def _build_canned_menu(self) -> QMenu:
        menu = QMenu(self)
        for canned in CANNED:
            action = menu.addAction(f"{canned.title}    {canned.shortcut}")
            action.setData(canned.shortcut)
            action.triggered.connect(lambda _checked=False, c=canned: self.insert_canned(c))
        return menu

    def insert_canned(self, canned: Canned) -> None:
        """Put ``canned``'s text in the box (replacing a lone "/" shortcut)."""
        text = self.edit.toPlainText()
        if text.startswith("/") and " " not in text:
            self.edit.setPlainText(canned.text)
        else:
            self.edit.insertPlainText(canned.text)
        cursor = self.edit.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.edit.setTextCursor(cursor)
        self.edit.setFocus()

    def _on_edit_canned_requested(self) -> None:
        rect = self.edit.cursorRect()
        self.canned_menu.popup(self.edit.viewport().mapToGlobal(rect.bottomLeft()))

    # -- sending and typing

    def _on_edit_send_requested(self) -> None:
        body = self.edit.toPlainText().strip()
        if not body:
            return
        self.edit.clear()
        self._stop_typing()
        self.submitted.emit(body, self.is_note)

    def _on_edit_text_changed(self) -> None:
        if self.is_note or not self.edit.toPlainText():
            self._stop_typing()
            return
        if not self._typing:
            self._typing = True
            self.typing_changed.emit(True)
        self._typing_timer.start()

    def _stop_typing(self) -> None:
        self._typing_timer.stop()
        if self._typing:
            self._typing = False
            self.typing_changed.emit(False)


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
        self.title = _plain("", "threadTitle")
        self.subtitle = _plain("", "threadSubtitle")
        self.status_chip = _plain("", "statusChip")
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
            label = f"{'●' if agent.online else '○'}  {agent.name}" + ("   (assigned)" if agent.id == current else "")
            action = menu.addAction(label)
            action.setToolTip("Online" if agent.online else "Offline")
            action.setEnabled(agent.id != current)
            action.triggered.connect(lambda _checked=False, a=agent.id: self.assign_requested.emit(a))
        menu.addSeparator()
        unassign = menu.addAction("Unassign")
        unassign.setEnabled(current is not None)
        unassign.triggered.connect(self.unassign_clicked)


class ThreadPane(QWidget):
    """Header, thread view, typing indicator and composer, or an empty state."""

    def __init__(
        self,
        model: ThreadModel,
        agents: Callable[[], list[AgentRow]],
        my_name: Callable[[], str | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("threadPane")
        self.model = model
        self.header = ConversationHeader(agents)
        self.view = ThreadView(my_name)
        self.view.setModel(model)
        self.loading_label = _plain("Loading earlier messages…", "hint")
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loading_label.hide()
        model.loading_changed.connect(self.loading_label.setVisible)
        self.typing_label = _plain("", "typingLabel")
        self.typing_label.setContentsMargins(24, 0, 24, 4)
        self.typing_label.hide()
        self.composer = Composer()
        self.empty = _plain("Select a conversation from the inbox", "emptyState")
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
