"""The thread's list view: keeps the bottom in sight, asks for older messages
at the top, and offers copy / retry / discard."""

from __future__ import annotations

import functools
from collections.abc import Callable

from frontdesk.console.core import ThreadItem
from PySide6.QtCore import (
    QAbstractItemModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QListView,
    QMenu,
    QWidget,
)

from ..models import Roles
from ._delegate import ThreadDelegate

_Index = QModelIndex | QPersistentModelIndex

__all__ = ["ThreadView"]


class ThreadView(QListView):
    """The thread list: sticks to the bottom, asks for older items at the top."""

    #: Scrolled to the top while older messages may exist.
    older_requested = Signal()
    #: Context menu actions on an outbox item.
    retry_requested = Signal(int)
    discard_requested = Signal(int)
    #: An http(s) link in a message was clicked; carries the URL.
    link_activated = Signal(str)
    #: Context menu actions on this agent's own message (a ThreadItem).
    edit_requested = Signal(object)
    delete_requested = Signal(object)
    #: An admin asked for the texts an edited or deleted message had (a ThreadItem).
    originals_requested = Signal(object)
    #: A stored file was clicked or "Open" chosen (an Attachment): view or open it.
    attachment_activated = Signal(object)
    #: "Save as…" chosen on a stored file (an Attachment).
    attachment_save_requested = Signal(object)
    #: Accept or discard a held email reply (PROTOCOL.md, "Email"); carries its id.
    held_accept_requested = Signal(int)
    held_reject_requested = Signal(int)

    def __init__(
        self,
        my_name: Callable[[], str | None],
        parent: QWidget | None = None,
        *,
        may_change: Callable[[ThreadItem], bool] = lambda item: False,
        is_admin: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__(parent)
        self.is_admin = is_admin
        #: Whether an own message may still be edited or deleted (its window is open).
        self.may_change = may_change
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
        self.delegate.link_activated.connect(self.link_activated)
        self.delegate.attachment_activated.connect(self.attachment_activated)
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
        over = over or (index.isValid() and self.delegate.link_at(index, event.position().toPoint()) is not None)
        over = over or (index.isValid() and self.delegate.attachment_at(index, event.position().toPoint()) is not None)
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
        for label, action in self.item_actions(row):
            menu.addAction(label, action)
        menu.popup(self.viewport().mapToGlobal(pos))

    def item_actions(self, row: ThreadItem) -> list[tuple[str, Callable[[], None]]]:
        """The context menu of ``row``: (label, action) pairs."""
        actions: list[tuple[str, Callable[[], None]]] = [
            (QCoreApplication.translate("View", "Copy text"), self.copy_selected)
        ]
        if row.held_id is not None:
            held_id = row.held_id
            actions.append(
                (self.tr("Accept: post as the visitor's message"), lambda: self.held_accept_requested.emit(held_id))
            )
            actions.append((self.tr("Discard this email"), lambda: self.held_reject_requested.emit(held_id)))
            return actions
        if row.outbox_id is not None:
            outbox_id = row.outbox_id
            if row.delivery == "failed":
                actions.append(
                    (QCoreApplication.translate("View", "Retry"), lambda: self.retry_requested.emit(outbox_id))
                )
            actions.append(
                (QCoreApplication.translate("View", "Discard"), lambda: self.discard_requested.emit(outbox_id))
            )
        elif row.mine and not row.deleted and row.seq is not None and self.may_change(row):
            actions.append((QCoreApplication.translate("View", "Edit message"), lambda: self.edit_requested.emit(row)))
            actions.append(
                (QCoreApplication.translate("View", "Delete message"), lambda: self.delete_requested.emit(row))
            )
        if (row.edited or row.deleted) and row.seq is not None and self.is_admin():
            actions.append(
                (
                    QCoreApplication.translate("View", "Show the original text"),
                    lambda: self.originals_requested.emit(row),
                )
            )
        for attachment in row.attachments if not row.deleted else ():
            actions.append(
                (
                    QCoreApplication.translate("View", "Open {name}").format(name=attachment.name),
                    functools.partial(self.attachment_activated.emit, attachment),
                )
            )
            actions.append(
                (
                    QCoreApplication.translate("View", "Save {name} as…").format(name=attachment.name),
                    functools.partial(self.attachment_save_requested.emit, attachment),
                )
            )
        return actions
