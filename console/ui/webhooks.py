"""The settings dialog's Webhooks tab: endpoints, their secrets, the delivery log and redelivery.

Admins only, online only (``webhook.*`` requests, docs/PROTOCOL.md "Webhooks"); nothing is cached.
A new or rotated signing secret is shown once, in the tab, for the admin to copy. The delivery log of
the selected webhook is a table model (:class:`DeliveriesModel`) that the view only displays; a failed
or delivered entry can be sent again.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from frontdesk.console.core import OfflineError, ServerError
from frontdesk.server import protocol as p
from PySide6.QtCore import QAbstractTableModel, QCoreApplication, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .formatting import local_datetime
from .labels import plain_label
from .tasks import asyncSlot
from .translation import QT_TRANSLATE_NOOP

__all__ = ["DEFAULT_EVENTS", "DeliveriesModel", "WebhooksApi", "WebhooksPage"]

log = logging.getLogger("frontdesk.console.ui.webhooks")

#: The events a new webhook starts with ticked.
DEFAULT_EVENTS = ("conversation.created", "message.created")

_Index = QModelIndex | QPersistentModelIndex


class WebhooksApi(Protocol):
    """The core call the tab uses (``ConsoleCore.webhook_request``)."""

    async def webhook_request(self, kind: str, **fields: Any) -> p.Result: ...


def _plain(text: str = "", name: str = "") -> QLabel:
    return plain_label(text, name, wrap=True)


#: A delivery's status (the wire's word), in words to translate.
_DELIVERY_STATUS = {
    "pending": QT_TRANSLATE_NOOP("Webhooks", "pending"),
    "delivered": QT_TRANSLATE_NOOP("Webhooks", "delivered"),
    "failed": QT_TRANSLATE_NOOP("Webhooks", "failed"),
}


class DeliveriesModel(QAbstractTableModel):
    """A webhook's delivery log, newest first: when, event, status, attempts, outcome."""

    HEADERS = (
        QT_TRANSLATE_NOOP("Webhooks", "When"),
        QT_TRANSLATE_NOOP("Webhooks", "Event"),
        QT_TRANSLATE_NOOP("Webhooks", "Status"),
        QT_TRANSLATE_NOOP("Webhooks", "Attempts"),
        QT_TRANSLATE_NOOP("Webhooks", "Outcome"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[p.WebhookDelivery] = []

    def set_rows(self, rows: list[p.WebhookDelivery]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation is Qt.Orientation.Horizontal:
            return QCoreApplication.translate("Webhooks", self.HEADERS[section])
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            last = local_datetime(row.updated_at).strftime("%Y-%m-%d %H:%M:%S")
            return QCoreApplication.translate("Webhooks", "Last attempt: {time}").format(time=last)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if column == 0:  # when the event was logged: the log's order (newest first)
            return local_datetime(row.created_at).strftime("%Y-%m-%d %H:%M:%S")
        if column == 1:
            return row.kind
        if column == 2:
            return QCoreApplication.translate("Webhooks", _DELIVERY_STATUS.get(row.status, row.status))
        if column == 3:
            return str(row.attempts)
        if row.last_error:
            return row.last_error
        return "" if row.response_status is None else f"HTTP {row.response_status}"


def _describe(hook: p.Webhook) -> str:
    tr = QCoreApplication.translate
    if hook.enabled:
        state = tr("Webhooks", "on")
    elif hook.disabled_reason:
        state = tr("Webhooks", "off: {reason}").format(reason=hook.disabled_reason)
    else:
        state = tr("Webhooks", "off")
    extra = ", " + tr("Webhooks", "rotating") if hook.rotating else ""
    return f"{hook.url} — {', '.join(hook.events)} ({state}{extra})"


class WebhooksPage(QWidget):
    """Add, switch on/off, rotate, delete webhooks; read a webhook's delivery log and redeliver."""

    def __init__(self, api: WebhooksApi, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._api = api
        self.webhooks: list[p.Webhook] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(10)
        intro = _plain(
            QCoreApplication.translate(
                "Webhooks",
                "Frontdesk POSTs the events you choose to your URL, signed the Standard Webhooks way "
                "(webhook-id, webhook-timestamp, webhook-signature headers). Failed deliveries are retried "
                "for 24 hours; an endpoint that keeps failing is switched off.",
            ),
            "hint",
        )
        layout.addWidget(intro)

        self.hooks_list = QListWidget()
        self.hooks_list.setObjectName("webhooksList")
        self.hooks_list.setAccessibleName(QCoreApplication.translate("Webhooks", "Webhooks"))
        self.hooks_list.setMaximumHeight(110)
        self.hooks_list.currentRowChanged.connect(self._on_hooks_list_current_row_changed)
        layout.addWidget(self.hooks_list)

        self.toggle_button = QPushButton(QCoreApplication.translate("Webhooks", "Switch off"))
        self.toggle_button.clicked.connect(self._on_toggle_button_clicked)
        self.rotate_button = QPushButton(QCoreApplication.translate("Webhooks", "Rotate secret"))
        self.rotate_button.clicked.connect(self._on_rotate_button_clicked)
        self.end_rotation_button = QPushButton(QCoreApplication.translate("Webhooks", "End rotation"))
        self.end_rotation_button.clicked.connect(self._on_end_rotation_button_clicked)
        self.delete_button = QPushButton(QCoreApplication.translate("Webhooks", "Delete"))
        self.delete_button.clicked.connect(self._on_delete_button_clicked)
        actions = QHBoxLayout()
        actions.addStretch(1)
        for button in (self.toggle_button, self.rotate_button, self.end_rotation_button, self.delete_button):
            actions.addWidget(button)
        layout.addLayout(actions)

        self.secret_label = _plain("", "hint")
        self.secret_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.secret_label.hide()
        layout.addWidget(self.secret_label)

        add = QGridLayout()
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText(
            QCoreApplication.translate("Webhooks", "https://example.com/frontdesk-webhook")
        )
        self.url_edit.setAccessibleName(QCoreApplication.translate("Webhooks", "Webhook URL"))
        self.description_edit = QLineEdit()
        self.description_edit.setPlaceholderText(QCoreApplication.translate("Webhooks", "Description (optional)"))
        self.description_edit.setMaxLength(200)
        self.add_button = QPushButton(QCoreApplication.translate("Webhooks", "Add webhook"))
        self.add_button.clicked.connect(self._on_add_button_clicked)
        add.addWidget(self.url_edit, 0, 0, 1, 2)
        add.addWidget(self.description_edit, 0, 2)
        add.addWidget(self.add_button, 0, 3)
        self.event_boxes: dict[str, QCheckBox] = {}
        for n, kind in enumerate(p.WEBHOOK_EVENTS):
            box = QCheckBox(kind)
            box.setChecked(kind in DEFAULT_EVENTS)
            self.event_boxes[kind] = box
            add.addWidget(box, 1 + n // 4, n % 4)
        layout.addLayout(add)

        self.error_label = _plain("", "fieldError")
        self.error_label.hide()
        layout.addWidget(self.error_label)

        layout.addWidget(
            _plain(QCoreApplication.translate("Webhooks", "Delivery log of the selected webhook"), "sectionTitle")
        )
        self.deliveries_model = DeliveriesModel(self)
        self.deliveries_view = QTableView()
        self.deliveries_view.setObjectName("webhookDeliveries")
        self.deliveries_view.setModel(self.deliveries_model)
        self.deliveries_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.deliveries_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.deliveries_view.verticalHeader().hide()
        header = self.deliveries_view.horizontalHeader()
        for column in range(4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.deliveries_view, 1)
        self.redeliver_button = QPushButton(QCoreApplication.translate("Webhooks", "Redeliver"))
        self.redeliver_button.clicked.connect(self._on_redeliver_button_clicked)
        self.refresh_button = QPushButton(QCoreApplication.translate("Webhooks", "Refresh"))
        self.refresh_button.clicked.connect(self._on_refresh_button_clicked)
        log_actions = QHBoxLayout()
        log_actions.addStretch(1)
        log_actions.addWidget(self.refresh_button)
        log_actions.addWidget(self.redeliver_button)
        layout.addLayout(log_actions)
        self._update_buttons()

    # ------------------------------------------------------------------ calls

    async def _request(self, kind: str, **fields: Any) -> Any:
        """One request; None (with the reason shown) when it failed."""
        self.error_label.hide()
        try:
            return await self._api.webhook_request(kind, **fields)
        except (OfflineError, ServerError) as exc:
            self.error_label.setText(
                QCoreApplication.translate("Webhooks", "Webhooks: {message}").format(message=exc.message)
            )
            self.error_label.show()
            return None

    def selected(self) -> p.Webhook | None:
        row = self.hooks_list.currentRow()
        return self.webhooks[row] if 0 <= row < len(self.webhooks) else None

    async def load(self, select: int | None = None) -> bool:
        """Fetch the webhooks (and the selected one's log); ``select``: a webhook id to select."""
        current = self.selected()
        reply = await self._request("webhook.list")
        if reply is None:
            return False
        self.webhooks = list(reply.webhooks)
        want = select if select is not None else (current.id if current else None)
        self.hooks_list.blockSignals(True)
        self.hooks_list.clear()
        for hook in self.webhooks:
            self.hooks_list.addItem(QListWidgetItem(_describe(hook)))
        row = next((n for n, h in enumerate(self.webhooks) if h.id == want), 0 if self.webhooks else -1)
        self.hooks_list.setCurrentRow(row)
        self.hooks_list.blockSignals(False)
        self._update_buttons()
        return await self.load_deliveries()

    async def load_deliveries(self) -> bool:
        hook = self.selected()
        if hook is None:
            self.deliveries_model.set_rows([])
            return True
        reply = await self._request("webhook.deliveries", webhook_id=hook.id)
        if reply is None:
            return False
        self.deliveries_model.set_rows(reply.deliveries)
        self._update_buttons()
        return True

    async def add(self) -> bool:
        """Create a webhook from the form; its secret is shown once."""
        events = [kind for kind, box in self.event_boxes.items() if box.isChecked()]
        if not self.url_edit.text().strip():
            return self._fail(QCoreApplication.translate("Webhooks", "Enter the URL to send events to."))
        if not events:
            return self._fail(QCoreApplication.translate("Webhooks", "Tick at least one event."))
        reply = await self._request(
            "webhook.create",
            url=self.url_edit.text().strip(),
            events=",".join(events),
            description=self.description_edit.text().strip(),
        )
        if reply is None:
            return False
        self.url_edit.clear()
        self.description_edit.clear()
        self._show_secret(reply.secret, QCoreApplication.translate("Webhooks", "This webhook's signing secret"))
        return await self.load(select=reply.webhook.id)

    async def toggle(self) -> bool:
        hook = self.selected()
        if hook is None:
            return False
        if await self._request("webhook.update", webhook_id=hook.id, enabled=not hook.enabled) is None:
            return False
        return await self.load()

    async def rotate(self) -> bool:
        hook = self.selected()
        if hook is None:
            return False
        reply = await self._request("webhook.rotate_secret", webhook_id=hook.id)
        if reply is None:
            return False
        self._show_secret(
            reply.secret,
            QCoreApplication.translate(
                "Webhooks", "The new signing secret (the old one also signs until you end the rotation)"
            ),
        )
        return await self.load()

    async def end_rotation(self) -> bool:
        hook = self.selected()
        if hook is None or await self._request("webhook.end_rotation", webhook_id=hook.id) is None:
            return False
        return await self.load()

    async def delete(self) -> bool:
        hook = self.selected()
        if hook is None or await self._request("webhook.delete", webhook_id=hook.id) is None:
            return False
        self.secret_label.hide()
        return await self.load()

    async def redeliver(self) -> bool:
        rows = self.deliveries_view.selectionModel().selectedRows()
        if not rows:
            return self._fail(QCoreApplication.translate("Webhooks", "Select a delivery to send again."))
        delivery = self.deliveries_model.rows[rows[0].row()]
        if await self._request("webhook.redeliver", delivery_id=delivery.id) is None:
            return False
        return await self.load_deliveries()

    # ------------------------------------------------------------------ view state

    def _fail(self, message: str) -> bool:
        self.error_label.setText(message)
        self.error_label.show()
        return False

    def _show_secret(self, secret: str, what: str) -> None:
        self.secret_label.setText(
            QCoreApplication.translate(
                "Webhooks", "{what}, shown this once — copy it to your receiver now:\n{secret}"
            ).format(what=what, secret=secret)
        )
        self.secret_label.show()

    def _update_buttons(self) -> None:
        hook = self.selected()
        for button in (self.toggle_button, self.rotate_button, self.delete_button):
            button.setEnabled(hook is not None)
        self.end_rotation_button.setEnabled(hook is not None and hook.rotating)
        self.toggle_button.setText(
            QCoreApplication.translate("Webhooks", "Switch on")
            if hook is not None and not hook.enabled
            else QCoreApplication.translate("Webhooks", "Switch off")
        )
        self.redeliver_button.setEnabled(bool(self.deliveries_model.rows))

    # ------------------------------------------------------------------ slots

    @asyncSlot(int)
    async def _on_hooks_list_current_row_changed(self, row: int) -> None:
        self._update_buttons()
        await self.load_deliveries()

    @asyncSlot()
    async def _on_add_button_clicked(self) -> None:
        await self.add()

    @asyncSlot()
    async def _on_toggle_button_clicked(self) -> None:
        await self.toggle()

    @asyncSlot()
    async def _on_rotate_button_clicked(self) -> None:
        await self.rotate()

    @asyncSlot()
    async def _on_end_rotation_button_clicked(self) -> None:
        await self.end_rotation()

    @asyncSlot()
    async def _on_delete_button_clicked(self) -> None:
        await self.delete()

    @asyncSlot()
    async def _on_redeliver_button_clicked(self) -> None:
        await self.redeliver()

    @asyncSlot()
    async def _on_refresh_button_clicked(self) -> None:
        await self.load()
