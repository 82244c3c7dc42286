"""The thread's item delegate: paints visitor, agent, system and note bubbles,
day separators and delivery states, always as plain text; and a message's files
(PROTOCOL.md, "Attachments"): image thumbnails, named cards with their size, and
an outbox item's files with its upload progress."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable

from frontdesk.console.core import Attachment, LocalFile, ThreadItem
from PySide6.QtCore import (
    QAbstractItemModel,
    QCoreApplication,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QTextCharFormat,
    QTextLayout,
    QTextLine,
    QTextOption,
)
from PySide6.QtWidgets import (
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from ..formatting import clock_time
from ..models import DayMarker, Roles, ThreadModel
from ..theme import C
from ._common import GAP, MARGIN_X, MAX_FRACTION, PAD_X, PAD_Y, RADIUS
from ._composer import human_size

_Index = QModelIndex | QPersistentModelIndex

__all__ = ["ThreadDelegate"]


_TEXT_OPTION = QTextOption()
# Wrap at word boundaries, and inside a word only when it is wider than the
# bubble (long URLs).
_TEXT_OPTION.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)


#: An http(s) link in a message (the only schemes made clickable).
_URL = re.compile(r"\bhttps?://[^\s<>\"\u2028]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}"


def find_links(text: str) -> list[tuple[int, int, str]]:
    """The http(s) links in ``text``: (start, end, url), end exclusive.
    Trailing punctuation is left out ("see https://x.io/a." links /a), but a
    closing bracket stays when the link opened one (Wikipedia's "(film)")."""
    links = []
    for match in _URL.finditer(text):
        url = match.group(0)
        while url and url[-1] in _TRAILING:
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        if len(url) > len("https://"):
            links.append((match.start(), match.start() + len(url), url))
    return links


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


def shown_body(item: ThreadItem) -> str:
    """The text a bubble shows: a deleted message says so (PROTOCOL.md, "Editing and deleting")."""
    return QCoreApplication.translate("Delegate", "Message deleted") if item.deleted else item.body


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
    links: list[tuple[int, int, str]] = dataclasses.field(default_factory=list)
    #: Each file's tile (relative to the row) and the file: stored, or in the outbox.
    tiles: list[tuple[QRect, Attachment | LocalFile]] = dataclasses.field(default_factory=list)


#: The largest thumbnail drawn in the thread, and a file card's size.
THUMB_W, THUMB_H, CARD_W, CARD_H, TILE_GAP = 220, 160, 240, 46, 6


def shows_as_image(attachment: Attachment) -> bool:
    """An image the server re-encoded (it has a thumbnail): drawn as one, opened in the viewer."""
    return attachment.thumbnail and attachment.mime.startswith("image/")


def _tile_size(file: Attachment | LocalFile, max_w: int) -> QSize:
    if isinstance(file, Attachment) and shows_as_image(file):
        w, h = file.width or THUMB_W, file.height or THUMB_H
        scale = min(1.0, min(THUMB_W, max_w) / w, THUMB_H / h)
        return QSize(max(48, round(w * scale)), max(48, round(h * scale)))
    return QSize(min(CARD_W, max_w), CARD_H)


class ThreadDelegate(QStyledItemDelegate):
    """Paints thread items as chat bubbles; handles the Retry link."""

    #: The agent clicked Retry on a failed item; carries its outbox id.
    retry_requested = Signal(int)
    #: The agent clicked an http(s) link in a message; carries the URL.
    link_activated = Signal(str)
    #: The agent clicked a stored file's tile; carries its Attachment.
    attachment_activated = Signal(object)

    def __init__(self, view: QListView, my_name: Callable[[], str | None]) -> None:
        super().__init__(view)
        #: A stored image's thumbnail when it is at hand (None: a placeholder is drawn,
        #: and the callable may start fetching it). The attachments controller sets it.
        self.thumbnail_for: Callable[[Attachment], QPixmap | None] = lambda attachment: None
        #: Upload progress of outbox items with files: outbox id -> (received, total).
        self.upload_progress: dict[int, tuple[int, int]] = {}
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
        if item.outbox_id is not None or item.mine:  # mine: by author id, so a rename keeps it
            return True
        name = self._my_name()
        return item.kind in ("agent", "note") and name is not None and item.author_name == name

    def _meta_text(self, item: ThreadItem) -> str:
        parts = [item.author_name or ("Visitor" if item.kind == "visitor" else "")]
        parts.append(clock_time(item.created_at))
        if self._is_mine(item):
            model = self._view.model()
            receipt = model.receipt(item) if isinstance(model, ThreadModel) and item.delivery == "sent" else None
            delivery = {
                "pending": QCoreApplication.translate("Delegate", "Sending…"),
                "sent": QCoreApplication.translate("Delegate", "Sent"),
                "failed": QCoreApplication.translate("Delegate", "Not delivered"),
            }
            parts.append(receipt or delivery[item.delivery])
        if item.edited and not item.deleted:
            parts.append(QCoreApplication.translate("Delegate", "edited"))
        return " · ".join(p for p in parts if p)

    def _geometry(self, item: ThreadItem, width: int) -> _Geometry:
        cache_key = (item.key, item.delivery, width)
        cached = self._cache.get(cache_key)
        if cached is not None and cached.layout.text() == shown_body(item).replace("\r\n", "\n").replace(
            "\n", "\u2028"
        ):
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
        files: list[Attachment | LocalFile] = [] if item.deleted else [*item.attachments, *item.files]
        layout, text_w, text_h = _layout_text(shown_body(item) or " ", self._body_font, max_text_w)
        if files and not shown_body(item):
            text_w, text_h = 0, 0  # files only
        sizes = [_tile_size(f, max_text_w) for f in files]
        files_h = sum(s.height() + TILE_GAP for s in sizes)
        text_w = max([text_w, *(s.width() for s in sizes)])
        text = QRect(0, 0, text_w, text_h)
        header_h = meta_fm.height() + 4 if item.kind == "note" else 0
        inner_w = text.width()
        if item.kind == "note":
            inner_w = max(
                inner_w,
                QFontMetrics(self._header_font).horizontalAdvance(
                    QCoreApplication.translate("Delegate", "PRIVATE NOTE")
                )
                + 4,
            )
        inner_w = min(max(inner_w, 24), max_text_w)
        bubble_w = inner_w + 2 * PAD_X
        bubble_h = text.height() + 2 * PAD_Y + header_h + files_h - (TILE_GAP if files and not text_h else 0)
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
            link_w = (
                QFontMetrics(self._header_font).horizontalAdvance(QCoreApplication.translate("Delegate", "Retry")) + 2
            )
            retry = QRect(meta.right() - link_w + 1, meta.top(), link_w, meta_h)
            meta = QRect(meta.left(), meta.top(), meta.width() - link_w - 12, meta_h)
        links = find_links(layout.text()) if text_h else []
        tiles: list[tuple[QRect, Attachment | LocalFile]] = []
        y = text_rect.bottom() + 1 + (TILE_GAP if text_h else 0)
        for f, size in zip(files, sizes, strict=True):
            tiles.append((QRect(x + PAD_X, y, size.width(), size.height()), f))
            y += size.height() + TILE_GAP
        return _Geometry(meta.bottom() + GAP + 4, bubble, text_rect, header, meta, retry, layout, links, tiles)

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
            painter.drawText(
                geo.header,
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                QCoreApplication.translate("Delegate", "PRIVATE NOTE"),
            )
        painter.setPen(C.MUTED if item.deleted else ink)
        if geo.text.height():
            geo.layout.draw(painter, QPointF(geo.text.topLeft()), self._link_formats(geo, ink if mine else C.ACCENT))
        for tile, file in geo.tiles:
            self._paint_tile(painter, tile, file, item)
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
            painter.drawText(
                geo.retry,
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                QCoreApplication.translate("Delegate", "Retry"),
            )

    def _paint_tile(self, painter: QPainter, tile: QRect, file: Attachment | LocalFile, item: ThreadItem) -> None:
        """One file: a thumbnail, or a card with its name and size (and upload progress)."""
        painter.save()
        if isinstance(file, Attachment) and shows_as_image(file):
            pixmap = self.thumbnail_for(file)
            if pixmap is not None and not pixmap.isNull():
                painter.drawPixmap(tile, pixmap)
                painter.restore()
                return
        painter.setPen(QPen(C.DIVIDER, 1))
        painter.setBrush(QColor("#ffffff"))
        painter.drawRoundedRect(tile.adjusted(0, 0, -1, -1), 8, 8)
        text = tile.adjusted(10, 5, -10, -5)
        painter.setFont(self._header_font)
        painter.setPen(C.TEXT)
        name_fm = QFontMetrics(self._header_font)
        name = name_fm.elidedText(file.name, Qt.TextElideMode.ElideMiddle, text.width())
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name)
        painter.setFont(self._meta_font)
        painter.setPen(C.MUTED)
        detail = human_size(file.size)
        progress = self.upload_progress.get(item.outbox_id) if item.outbox_id is not None else None
        if isinstance(file, LocalFile) and item.delivery == "pending" and file.id is None:
            detail += " · " + (
                QCoreApplication.translate("Delegate", "uploading")
                if progress
                else QCoreApplication.translate("Delegate", "waiting to upload")
            )
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, detail)
        if isinstance(file, LocalFile) and progress is not None and item.delivery == "pending":
            received, total = progress
            bar = QRect(tile.left() + 1, tile.bottom() - 3, tile.width() - 2, 3)
            painter.fillRect(bar, C.DIVIDER)
            painter.fillRect(QRect(bar.left(), bar.top(), round(bar.width() * received / max(total, 1)), 3), C.ACCENT)
        painter.restore()

    def attachment_at(self, index: _Index, pos: QPoint) -> Attachment | LocalFile | None:
        """The file whose tile is under ``pos`` (view coordinates) in the item at ``index``, or None."""
        row = index.data(Roles.ROW)
        if not isinstance(row, ThreadItem) or not (row.attachments or row.files):
            return None
        origin = self._view.visualRect(self._view.model().index(index.row(), 0)).topLeft()
        for tile, file in self._geometry(row, self._width()).tiles:
            if tile.translated(origin).contains(pos):
                return file
        return None

    @staticmethod
    def _link_formats(geo: _Geometry, colour: QColor) -> list[QTextLayout.FormatRange]:
        ranges = []
        for start, end, _url in geo.links:
            fmt = QTextCharFormat()
            fmt.setForeground(colour)
            fmt.setFontUnderline(True)
            span = QTextLayout.FormatRange()
            span.start, span.length, span.format = start, end - start, fmt
            ranges.append(span)
        return ranges

    def link_at(self, index: _Index, pos: QPoint) -> str | None:
        """The http(s) link under ``pos`` (view coordinates) in the item at ``index``, or None."""
        row = index.data(Roles.ROW)
        if not isinstance(row, ThreadItem) or row.kind == "system":
            return None
        geo = self._geometry(row, self._width())
        if not geo.links:
            return None
        top_left = self._view.visualRect(self._view.model().index(index.row(), 0)).topLeft() + geo.text.topLeft()
        x, y = pos.x() - top_left.x(), pos.y() - top_left.y()
        for n in range(geo.layout.lineCount()):
            line = geo.layout.lineAt(n)
            if line.y() <= y < line.y() + line.height() and 0 <= x <= line.naturalTextWidth():
                cursor = line.xToCursor(x, QTextLine.CursorPosition.CursorOnCharacter)
                return next((url for start, end, url in geo.links if start <= cursor < end), None)
        return None

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
            if event.button() == Qt.MouseButton.LeftButton:
                url = self.link_at(index, event.position().toPoint())
                if url is not None:
                    self.link_activated.emit(url)
                    return True
                file = self.attachment_at(index, event.position().toPoint())
                if isinstance(file, Attachment):
                    self.attachment_activated.emit(file)
                    return True
            rect = self.retry_rect(index)
            row = index.data(Roles.ROW)
            if rect is not None and rect.contains(event.position().toPoint()) and isinstance(row, ThreadItem):
                assert row.outbox_id is not None
                self.retry_requested.emit(row.outbox_id)
                return True
        return super().editorEvent(event, model, option, index)
