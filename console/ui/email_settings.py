"""The settings dialog's Email tab: SMTP settings, "Send test email", the last sending failure,
held email replies, and the agent's own notification emails.

Online only (``email.*`` requests, docs/PROTOCOL.md "Email"); nothing is cached. The SMTP password is
never shown: the field is empty, says whether one is stored, and a typed one replaces it on save.
Malformed values are refused by the server naming the field, shown next to the form.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from frontdesk.console.core import OfflineError, ServerError
from frontdesk.server import protocol as p
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .formatting import local_datetime
from .labels import plain_label
from .tasks import asyncSlot

__all__ = ["EmailApi", "EmailPage"]

log = logging.getLogger("frontdesk.console.ui.email")


class EmailApi(Protocol):
    """The core call the tab uses (``ConsoleCore.email_request``)."""

    async def email_request(self, kind: str, **fields: Any) -> p.Result: ...


def _plain(text: str = "", name: str = "") -> QLabel:
    return plain_label(text, name, wrap=True)


class EmailPage(QWidget):
    """SMTP settings with a test button, held replies to accept or reject, and my notification emails."""

    def __init__(self, api: EmailApi, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._api = api
        self.settings: p.EmailSettings | None = None
        self.held: list[p.HeldEmail] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(10)
        layout.addWidget(
            _plain(
                QCoreApplication.translate(
                    "EmailSettings",
                    "Replies a visitor has not seen in the chat go to them by email after the delay, and their "
                    "answers by email come back into the conversation (see docs/OPERATIONS.md, \u201cEmail\u201d).",
                ),
                "hint",
            )
        )
        form = QFormLayout()
        self.enabled_check = QCheckBox(
            QCoreApplication.translate("EmailSettings", "Send replies by email to visitors who left")
        )
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText(QCoreApplication.translate("EmailSettings", "smtp.example.com"))
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(587)
        self.security_combo = QComboBox()
        self.security_combo.addItems(list(p.SMTP_SECURITY))
        self.username_edit = QLineEdit()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setAccessibleName(QCoreApplication.translate("EmailSettings", "SMTP password"))
        self.from_edit = QLineEdit()
        self.from_edit.setPlaceholderText(QCoreApplication.translate("EmailSettings", "support@example.com"))
        self.reply_domain_edit = QLineEdit()
        self.reply_domain_edit.setPlaceholderText(QCoreApplication.translate("EmailSettings", "reply.example.com"))
        self.delay_spin = QSpinBox()
        self.delay_spin.setRange(0, 1440)
        self.delay_spin.setSuffix(QCoreApplication.translate("EmailSettings", " min"))
        self.delay_spin.setValue(2)
        form.addRow(self.enabled_check)
        form.addRow(QCoreApplication.translate("EmailSettings", "SMTP host"), self.host_edit)
        form.addRow(QCoreApplication.translate("EmailSettings", "Port"), self.port_spin)
        form.addRow(QCoreApplication.translate("EmailSettings", "Security"), self.security_combo)
        form.addRow(QCoreApplication.translate("EmailSettings", "User"), self.username_edit)
        form.addRow(QCoreApplication.translate("EmailSettings", "Password"), self.password_edit)
        form.addRow(QCoreApplication.translate("EmailSettings", "From address"), self.from_edit)
        form.addRow(QCoreApplication.translate("EmailSettings", "Reply domain"), self.reply_domain_edit)
        form.addRow(QCoreApplication.translate("EmailSettings", "Email after"), self.delay_spin)
        self.imap_host_edit = QLineEdit()
        self.imap_host_edit.setPlaceholderText(
            QCoreApplication.translate("EmailSettings", "imap.example.com (empty: no polling)")
        )
        self.imap_port_spin = QSpinBox()
        self.imap_port_spin.setRange(1, 65535)
        self.imap_port_spin.setValue(993)
        self.imap_security_combo = QComboBox()
        self.imap_security_combo.addItems(list(p.SMTP_SECURITY))
        self.imap_username_edit = QLineEdit()
        self.imap_password_edit = QLineEdit()
        self.imap_password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.imap_password_edit.setAccessibleName(QCoreApplication.translate("EmailSettings", "IMAP password"))
        self.imap_mailbox_edit = QLineEdit("INBOX")
        form.addRow(QCoreApplication.translate("EmailSettings", "Replies by IMAP from"), self.imap_host_edit)
        form.addRow(QCoreApplication.translate("EmailSettings", "IMAP port"), self.imap_port_spin)
        form.addRow(QCoreApplication.translate("EmailSettings", "IMAP security"), self.imap_security_combo)
        form.addRow(QCoreApplication.translate("EmailSettings", "IMAP user"), self.imap_username_edit)
        form.addRow(QCoreApplication.translate("EmailSettings", "IMAP password"), self.imap_password_edit)
        form.addRow(QCoreApplication.translate("EmailSettings", "IMAP folder"), self.imap_mailbox_edit)
        layout.addLayout(form)
        self.save_button = QPushButton(QCoreApplication.translate("EmailSettings", "Save email settings"))
        self.save_button.clicked.connect(self._on_save_button_clicked)
        self.test_edit = QLineEdit()
        self.test_edit.setPlaceholderText(QCoreApplication.translate("EmailSettings", "you@example.com"))
        self.test_edit.setAccessibleName(QCoreApplication.translate("EmailSettings", "Test email address"))
        self.test_button = QPushButton(QCoreApplication.translate("EmailSettings", "Send test email"))
        self.test_button.clicked.connect(self._on_test_button_clicked)
        row = QHBoxLayout()
        row.addWidget(self.test_edit, 1)
        row.addWidget(self.test_button)
        row.addWidget(self.save_button)
        layout.addLayout(row)
        self.status_label = _plain("", "hint")
        layout.addWidget(self.status_label)
        self.error_label = _plain("", "fieldError")
        self.error_label.hide()
        layout.addWidget(self.error_label)

        layout.addWidget(
            _plain(
                QCoreApplication.translate("EmailSettings", "Email replies from another address, held for you"),
                "sectionTitle",
            )
        )
        self.held_list = QListWidget()
        self.held_list.setObjectName("heldEmails")
        self.held_list.setMinimumHeight(80)
        layout.addWidget(self.held_list, 1)
        self.accept_button = QPushButton(QCoreApplication.translate("EmailSettings", "Accept into the conversation"))
        self.accept_button.clicked.connect(self._on_accept_button_clicked)
        self.reject_button = QPushButton(QCoreApplication.translate("EmailSettings", "Reject"))
        self.reject_button.clicked.connect(self._on_reject_button_clicked)
        held_row = QHBoxLayout()
        held_row.addStretch(1)
        held_row.addWidget(self.reject_button)
        held_row.addWidget(self.accept_button)
        layout.addLayout(held_row)
        self.notify_check = QCheckBox(
            QCoreApplication.translate(
                "EmailSettings", "Email me about new conversations and assignments while I am offline"
            )
        )
        self.notify_check.setChecked(True)
        self.notify_check.clicked.connect(self._on_notify_check_clicked)
        layout.addWidget(self.notify_check)

    # ------------------------------------------------------------------ calls

    async def _request(self, kind: str, **fields: Any) -> Any:
        self.error_label.hide()
        try:
            return await self._api.email_request(kind, **fields)
        except (OfflineError, ServerError) as exc:
            self.error_label.setText(
                QCoreApplication.translate("EmailSettings", "Email: {message}").format(message=exc.message)
            )
            self.error_label.show()
            return None

    async def load(self) -> bool:
        """Fetch the settings and the held replies."""
        reply = await self._request("email.settings.get")
        if reply is None:
            return False
        self.show_settings(reply.email)
        self.notify_check.setChecked(reply.notify)
        return await self.load_held()

    async def load_held(self) -> bool:
        reply = await self._request("email.held.list")
        if reply is None:
            return False
        self.held = list(reply.held)
        self.held_list.clear()
        for held in self.held:
            text = QCoreApplication.translate("EmailSettings", "#{id} from {sender}: {body}").format(
                id=held.conversation_id, sender=held.sender, body=held.body[:120]
            )
            self.held_list.addItem(QListWidgetItem(text))
        has = bool(self.held)
        self.accept_button.setEnabled(has)
        self.reject_button.setEnabled(has)
        return True

    def show_settings(self, settings: p.EmailSettings) -> None:
        self.settings = settings
        self.enabled_check.setChecked(settings.enabled)
        self.host_edit.setText(settings.host)
        self.port_spin.setValue(settings.port)
        self.security_combo.setCurrentText(settings.security)
        self.username_edit.setText(settings.username)
        self.password_edit.clear()
        self.password_edit.setPlaceholderText(
            QCoreApplication.translate("EmailSettings", "stored; type to replace")
            if settings.password_set
            else QCoreApplication.translate("EmailSettings", "not set")
        )
        self.from_edit.setText(settings.from_address)
        self.reply_domain_edit.setText(settings.reply_domain)
        self.delay_spin.setValue(settings.delay_minutes)
        self.imap_host_edit.setText(settings.imap_host)
        self.imap_port_spin.setValue(settings.imap_port)
        self.imap_security_combo.setCurrentText(settings.imap_security)
        self.imap_username_edit.setText(settings.imap_username)
        self.imap_password_edit.clear()
        self.imap_password_edit.setPlaceholderText(
            QCoreApplication.translate("EmailSettings", "stored; type to replace")
            if settings.imap_password_set
            else QCoreApplication.translate("EmailSettings", "not set")
        )
        self.imap_mailbox_edit.setText(settings.imap_mailbox)
        if settings.last_error:
            when = local_datetime(settings.last_error_at).strftime("%Y-%m-%d %H:%M") if settings.last_error_at else ""
            self.status_label.setText(
                QCoreApplication.translate("EmailSettings", "Last sending failure {when}: {last_error}").format(
                    when=when, last_error=settings.last_error
                )
            )
        else:
            self.status_label.setText(QCoreApplication.translate("EmailSettings", "No sending failures."))

    def form(self) -> dict[str, Any]:
        """The fields to send with ``email.settings.set`` (the password only when one was typed)."""
        fields: dict[str, Any] = {
            "enabled": self.enabled_check.isChecked(),
            "host": self.host_edit.text().strip(),
            "port": self.port_spin.value(),
            "security": self.security_combo.currentText(),
            "username": self.username_edit.text().strip(),
            "from_address": self.from_edit.text().strip(),
            "reply_domain": self.reply_domain_edit.text().strip(),
            "delay_minutes": self.delay_spin.value(),
            "imap_host": self.imap_host_edit.text().strip(),
            "imap_port": self.imap_port_spin.value(),
            "imap_security": self.imap_security_combo.currentText(),
            "imap_username": self.imap_username_edit.text().strip(),
            "imap_mailbox": self.imap_mailbox_edit.text().strip() or "INBOX",
        }
        if self.password_edit.text():
            fields["password"] = self.password_edit.text()
        if self.imap_password_edit.text():
            fields["imap_password"] = self.imap_password_edit.text()
        return fields

    async def save(self) -> bool:
        reply = await self._request("email.settings.set", **self.form())
        if reply is None:
            return False
        self.show_settings(reply.email)
        return True

    async def send_test(self) -> bool:
        """Save, then send a test email to the address typed; the outcome is shown in the tab."""
        to = self.test_edit.text().strip()
        if not to:
            self.error_label.setText(
                QCoreApplication.translate("EmailSettings", "Type the address to send the test email to.")
            )
            self.error_label.show()
            return False
        if not await self.save():
            return False
        if await self._request("email.test", to=to) is None:
            await self._refresh_status()
            return False
        self.status_label.setText(QCoreApplication.translate("EmailSettings", "Test email sent to {to}.").format(to=to))
        return True

    async def _refresh_status(self) -> None:
        try:
            reply = await self._api.email_request("email.settings.get")
        except (OfflineError, ServerError):
            return
        assert isinstance(reply, p.EmailSettingsResult)
        self.show_settings(reply.email)

    async def decide(self, accept: bool) -> bool:
        row = self.held_list.currentRow()
        if not 0 <= row < len(self.held):
            return False
        kind = "email.held.accept" if accept else "email.held.reject"
        if await self._request(kind, held_id=self.held[row].id) is None:
            return False
        return await self.load_held()

    async def set_notify(self, enabled: bool) -> bool:
        reply = await self._request("email.notify.set", enabled=enabled)
        if reply is None:
            self.notify_check.setChecked(not enabled)
            return False
        self.notify_check.setChecked(reply.enabled)
        return True

    # ------------------------------------------------------------------ slots

    @asyncSlot()
    async def _on_save_button_clicked(self) -> None:
        await self.save()

    @asyncSlot()
    async def _on_test_button_clicked(self) -> None:
        await self.send_test()

    @asyncSlot()
    async def _on_accept_button_clicked(self) -> None:
        await self.decide(True)

    @asyncSlot()
    async def _on_reject_button_clicked(self) -> None:
        await self.decide(False)

    @asyncSlot(bool)
    async def _on_notify_check_clicked(self, checked: bool) -> None:
        await self.set_notify(checked)
