"""The agent's own profile: display name and password (issue 13, item 5).

Changes go to the server (``me.update``); a new password needs the current
one and ends the agent's other sessions, not this one. Visitors see the new
name on the agent's messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from frontdesk.console.core import AgentRow, CoreError
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from .tasks import asyncSlot

__all__ = ["ProfileDialog"]

#: What the dialog calls: the core's ``update_me``.
UpdateMe = Callable[..., Awaitable[AgentRow]]


class ProfileDialog(QDialog):
    """Name, and optionally a new password (with the current one)."""

    MIN_PASSWORD = 8

    def __init__(
        self, me: AgentRow, update_me: UpdateMe, parent: QWidget | None = None, *, email_api: Any = None
    ) -> None:
        super().__init__(parent)
        #: The core's ``email_request``, for the notification-emails switch (issue 16); None: no switch.
        self._email_api = email_api
        self.notify = QCheckBox(
            QCoreApplication.translate("Profile", "Email me about new conversations and assignments while I am offline")
        )
        self.notify.setEnabled(False)  # until the server said what it is
        self._notify_was: bool | None = None
        self.setObjectName("profileDialog")
        self.setWindowTitle(QCoreApplication.translate("Profile", "Your profile — Frontdesk"))
        self._me = me
        self._update_me = update_me
        self.name = QLineEdit(me.name)
        self.name.setMaxLength(200)
        self.current = QLineEdit()
        self.new = QLineEdit()
        self.confirm = QLineEdit()
        for box in (self.current, self.new, self.confirm):
            box.setEchoMode(QLineEdit.EchoMode.Password)
        self.new.setPlaceholderText(
            QCoreApplication.translate("Profile", "at least {MIN_PASSWORD} characters; leave empty to keep").format(
                MIN_PASSWORD=self.MIN_PASSWORD
            )
        )
        self.error = QLabel("")
        self.error.setObjectName("errorText")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.hide()
        form = QFormLayout()
        form.addRow(QCoreApplication.translate("Profile", "Display name"), self.name)
        form.addRow(QCoreApplication.translate("Profile", "Current password"), self.current)
        form.addRow(QCoreApplication.translate("Profile", "New password"), self.new)
        form.addRow(QCoreApplication.translate("Profile", "New password again"), self.confirm)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addWidget(QLabel(me.email))
        layout.addLayout(form)
        if email_api is not None:
            layout.addWidget(self.notify)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    async def load_notify(self) -> None:
        """Ask the server whether my notification emails are on (``email.notify.get``)."""
        if self._email_api is None:
            return
        try:
            reply = await self._email_api.email_request("email.notify.get")
        except CoreError:
            return  # offline or refused: the switch stays disabled
        self._notify_was = bool(reply.enabled)
        self.notify.setChecked(self._notify_was)
        self.notify.setEnabled(True)

    async def _save_notify(self) -> None:
        changed = self._notify_was is not None and self.notify.isChecked() != self._notify_was
        if self._email_api is not None and changed:
            await self._email_api.email_request("email.notify.set", enabled=self.notify.isChecked())
            self._notify_was = self.notify.isChecked()

    def problem(self) -> str | None:
        """What is wrong with the form before asking the server, or None."""
        if not self.name.text().strip():
            return QCoreApplication.translate("Profile", "The display name cannot be empty.")
        if self.new.text() or self.confirm.text():
            if len(self.new.text()) < self.MIN_PASSWORD:
                return QCoreApplication.translate("Profile", "The new password needs at least {n} characters.").format(
                    n=self.MIN_PASSWORD
                )
            if self.new.text() != self.confirm.text():
                return QCoreApplication.translate("Profile", "The two new passwords differ.")
            if not self.current.text():
                return QCoreApplication.translate("Profile", "Enter your current password to set a new one.")
        return None

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    @asyncSlot()
    async def _on_buttons_accepted(self) -> None:
        await self.save()

    async def save(self) -> bool:
        """Send the changes; True (and the dialog accepted) when the server took them."""
        problem = self.problem()
        if problem is not None:
            self._show_error(problem)
            return False
        name = self.name.text().strip()
        fields: dict[str, str] = {}
        if name != self._me.name:
            fields["name"] = name
        if self.new.text():
            fields["password"] = self.new.text()
            fields["current_password"] = self.current.text()
        self.buttons.setEnabled(False)
        try:
            await self._save_notify()
            if fields:
                self._me = await self._update_me(**fields)
        except CoreError as exc:
            forbidden = getattr(exc, "code", "") == "forbidden"
            self._show_error(
                QCoreApplication.translate("Profile", "The current password is wrong.")
                if forbidden
                else QCoreApplication.translate("Profile", "Could not save: {exc}").format(exc=exc)
            )
            return False
        finally:
            self.buttons.setEnabled(True)
        self.accept()
        return True
