"""The status bar: connection state, pending outbox items and last sync time."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStatusBar, QWidget

from .labels import plain_label
from .translation import QT_TRANSLATE_NOOP

__all__ = ["ConnectionIndicator", "StatusBar"]

#: Connection state name -> (label, colour of the dot).
_STATES: dict[str, tuple[str, str]] = {
    "online": (QT_TRANSLATE_NOOP("Statusbar", "Online"), "#12b76a"),
    "connecting": (QT_TRANSLATE_NOOP("Statusbar", "Connecting…"), "#f5a524"),
    "offline": (QT_TRANSLATE_NOOP("Statusbar", "Offline"), "#f04438"),
}


def _plain_label(text: str = "", name: str = "") -> QLabel:
    return plain_label(text, name)


class ConnectionIndicator(QWidget):
    """A coloured dot and a word: Online (green), Connecting (yellow), Offline (red)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._dot = _plain_label("●", "connectionDot")
        self._text = _plain_label("", "connectionText")
        self._hint = _plain_label(
            QCoreApplication.translate("Statusbar", "working from the cache; changes sync on reconnect"),
            "connectionHint",
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self._dot)
        layout.addWidget(self._text)
        layout.addWidget(self._hint)
        self._state = ""
        self.set_state("offline")

    @property
    def state(self) -> str:
        """The shown state's name: ``online``, ``connecting`` or ``offline``."""
        return self._state

    @property
    def text(self) -> str:
        """The word shown next to the dot."""
        return self._text.text()

    @property
    def colour(self) -> str:
        """The dot's colour, ``#rrggbb``."""
        return _STATES[self._state][1]

    def set_state(self, state: str) -> None:
        """Show ``state`` (``online``, ``connecting`` or ``offline``)."""
        label, colour = _STATES[state]
        self._state = state
        self._text.setText(QCoreApplication.translate("Statusbar", label))
        self._dot.setStyleSheet(f"color: {colour};")
        self._hint.setVisible(state == "offline")
        self.setToolTip(
            {
                "online": QCoreApplication.translate("Statusbar", "Connected to the server; changes sync live."),
                "connecting": QCoreApplication.translate("Statusbar", "Connecting to the server…"),
                "offline": QCoreApplication.translate(
                    "Statusbar", "Not connected. You can keep working: changes are queued and sent on reconnect."
                ),
            }[state]
        )


class StatusBar(QStatusBar):
    """The window's status bar: connection, outbox count and last sync."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.connection = ConnectionIndicator(self)
        self._outbox = _plain_label("", "outboxLabel")
        self._synced = _plain_label("", "syncedLabel")
        self._user = _plain_label("", "userLabel")
        self.addWidget(self.connection)
        self.addWidget(self._outbox)
        self.addPermanentWidget(self._user)
        self.addPermanentWidget(self._synced)
        self.set_outbox_count(0)
        self.set_synced(None)

    @property
    def outbox_text(self) -> str:
        """What the outbox label says (empty when nothing is pending)."""
        return self._outbox.text()

    @property
    def synced_text(self) -> str:
        """What the sync label says."""
        return self._synced.text()

    def set_outbox_count(self, count: int) -> None:
        """Show how many actions wait in the outbox."""
        if count:
            self._outbox.setText(QCoreApplication.translate("Statusbar", "%n pending", None, count))
            self._outbox.setToolTip(
                QCoreApplication.translate("Statusbar", "Actions waiting to be sent to the server, in order.")
            )
        else:
            self._outbox.setText("")
        self._outbox.setVisible(bool(count))

    def set_synced(self, at: float | None) -> None:
        """Show the last sync time (unix seconds), or that it never synced."""
        if at is None:
            self._synced.setText(QCoreApplication.translate("Statusbar", "not synced yet"))
        else:
            self._synced.setText(
                QCoreApplication.translate("Statusbar", "synced ") + dt.datetime.fromtimestamp(at).strftime("%H:%M:%S")
            )

    def set_user(self, text: str) -> None:
        """Who is logged in, e.g. ``Ada · admin``."""
        self._user.setText(text)
