"""The login dialog: server URL, email, password and "remember me".

The dialog does no I/O itself: it is given ``attempt``, an async callable the
app wires to the core's ``login``; it shows a :class:`LoginError`'s kind as a
clear sentence next to the form (wrong password, server unreachable,
throttled, disabled).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from frontdesk.console.core import AgentRow, LoginError
from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .tasks import asyncSlot
from .translation import QT_TRANSLATE_NOOP

__all__ = ["LoginAttempt", "LoginDialog", "validate_server_url"]

log = logging.getLogger("frontdesk.console.ui.login")

#: ``attempt(server_url, email, password, remember)``; raises LoginError.
LoginAttempt = Callable[[str, str, str, bool], Awaitable[AgentRow]]

_MESSAGES = {
    "wrong_credentials": QT_TRANSLATE_NOOP("Login", "Wrong email or password."),
    "unreachable": QT_TRANSLATE_NOOP("Login", "Can't reach the server. Check the address and your network."),
    "throttled": QT_TRANSLATE_NOOP("Login", "Too many failed attempts. Wait a few minutes, then try again."),
    "disabled": QT_TRANSLATE_NOOP("Login", "This account is disabled. Ask an admin to enable it."),
}


def validate_server_url(text: str) -> str | None:
    """Why ``text`` is not a usable server URL, or None when it is."""
    text = text.strip()
    if not text:
        return QCoreApplication.translate("Login", "Enter the server address, e.g. https://chat.example.com")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return QCoreApplication.translate("Login", "The address starts with http:// or https://")
    if not parts.hostname:
        return QCoreApplication.translate("Login", "The address needs a host name")
    try:
        _ = parts.port
    except ValueError:
        return QCoreApplication.translate("Login", "The port is not a number between 0 and 65535")
    return None


class LoginDialog(QDialog):
    """Asks for the server and credentials, and reports why a login failed."""

    #: Login succeeded; carries the agent.
    logged_in = Signal(object)

    def __init__(
        self,
        attempt: LoginAttempt,
        *,
        server_url: str,
        email: str = "",
        keyring_available: bool = True,
        message: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("loginDialog")
        self.setWindowTitle(QCoreApplication.translate("Login", "Sign in — Frontdesk"))
        self.setModal(True)
        self.setMinimumWidth(420)
        self._attempt = attempt
        self.agent: AgentRow | None = None

        title = QLabel(QCoreApplication.translate("Login", "Sign in to Frontdesk"))
        title.setObjectName("loginTitle")
        subtitle = QLabel(QCoreApplication.translate("Login", "Your team's shared inbox."))
        subtitle.setObjectName("loginSubtitle")

        self.server_edit = QLineEdit(server_url)
        self.server_edit.setPlaceholderText(QCoreApplication.translate("Login", "https://chat.example.com"))
        self.email_edit = QLineEdit(email)
        self.email_edit.setPlaceholderText(QCoreApplication.translate("Login", "you@example.com"))
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember_check = QCheckBox(QCoreApplication.translate("Login", "Remember me on this computer"))
        self.remember_check.setChecked(True)
        self.keyring_note = QLabel(
            QCoreApplication.translate(
                "Login", "No system keyring is available: you stay signed in only until the console is closed."
            )
        )
        self.keyring_note.setObjectName("hint")
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setVisible(not keyring_available)
        if not keyring_available:
            self.remember_check.setChecked(False)
            self.remember_check.setEnabled(False)
            self.remember_check.setToolTip(
                QCoreApplication.translate("Login", "Needs a system keyring (e.g. GNOME Keyring, KWallet).")
            )

        self.error_label = QLabel(message)
        self.error_label.setObjectName("formError")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(bool(message))

        self.sign_in_button = QPushButton(QCoreApplication.translate("Login", "Sign in"))
        self.sign_in_button.setObjectName("primary")
        self.sign_in_button.setDefault(True)
        self.sign_in_button.clicked.connect(self._on_sign_in_button_clicked)

        for label in (title, subtitle, self.keyring_note, self.error_label):
            label.setTextFormat(Qt.TextFormat.PlainText)

        form = QFormLayout()
        form.setSpacing(10)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.addRow(QCoreApplication.translate("Login", "Server"), self.server_edit)
        form.addRow(QCoreApplication.translate("Login", "Email"), self.email_edit)
        form.addRow(QCoreApplication.translate("Login", "Password"), self.password_edit)
        form.addRow("", self.remember_check)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(6)
        layout.addLayout(form)
        layout.addWidget(self.keyring_note)
        layout.addWidget(self.error_label)
        layout.addSpacing(4)
        layout.addWidget(self.sign_in_button)

        (self.password_edit if email else self.email_edit).setFocus()

    @property
    def error_text(self) -> str:
        """The error shown, or ``""``."""
        return self.error_label.text() if self.error_label.isVisibleTo(self) else ""

    def show_error(self, text: str) -> None:
        """Show ``text`` under the form."""
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _local_error(self) -> str | None:
        problem = validate_server_url(self.server_edit.text())
        if problem:
            self.server_edit.setFocus()
            return problem
        if "@" not in self.email_edit.text():
            self.email_edit.setFocus()
            return QCoreApplication.translate("Login", "Enter your email address.")
        if not self.password_edit.text():
            self.password_edit.setFocus()
            return QCoreApplication.translate("Login", "Enter your password.")
        return None

    @asyncSlot()
    async def _on_sign_in_button_clicked(self) -> None:
        problem = self._local_error()
        if problem:
            self.show_error(problem)
            return
        self.show_error("")
        self.sign_in_button.setEnabled(False)
        self.sign_in_button.setText(QCoreApplication.translate("Login", "Signing in…"))
        try:
            agent = await self._attempt(
                self.server_edit.text().strip(),
                self.email_edit.text().strip(),
                self.password_edit.text(),
                self.remember_check.isChecked(),
            )
        except LoginError as exc:
            log.info("login failed: %s", exc.kind)
            self.show_error(
                QCoreApplication.translate("Login", _MESSAGES[exc.kind])
                if exc.kind in _MESSAGES
                else exc.message or QCoreApplication.translate("Login", "Sign-in failed.")
            )
            if exc.kind == "wrong_credentials":
                self.password_edit.selectAll()
                self.password_edit.setFocus()
            return
        finally:
            self.sign_in_button.setEnabled(True)
            self.sign_in_button.setText(QCoreApplication.translate("Login", "Sign in"))
        self.agent = agent
        self.password_edit.clear()
        self.logged_in.emit(agent)
        self.accept()
