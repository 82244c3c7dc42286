"""The snooze menu: presets, a custom time, and "until the visitor replies"
(PROTOCOL.md, "Snooze"). The presets come from the Qt-free core
(``console/core/snooze.py``); this only shows them and asks for a custom time."""

from __future__ import annotations

import datetime as dt

from frontdesk.console.core.snooze import snooze_presets
from PySide6.QtCore import QCoreApplication, QDateTime, Signal
from PySide6.QtWidgets import QDateTimeEdit, QDialog, QDialogButtonBox, QLabel, QMenu, QVBoxLayout, QWidget

__all__ = ["CustomSnoozeDialog", "SnoozeMenu"]


class CustomSnoozeDialog(QDialog):
    """Asks for a snooze's end, at least a minute from now."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(QCoreApplication.translate("Snooze", "Snooze until…"))
        self.edit = QDateTimeEdit(QDateTime.currentDateTime().addSecs(3600))
        self.edit.setCalendarPopup(True)
        self.edit.setMinimumDateTime(QDateTime.currentDateTime().addSecs(60))
        self.edit.setDisplayFormat("ddd d MMM yyyy HH:mm")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                QCoreApplication.translate(
                    "Snooze", "The conversation comes back at this time, or earlier if the visitor writes."
                )
            )
        )
        layout.addWidget(self.edit)
        layout.addWidget(buttons)

    def until_ms(self) -> int:
        """The chosen time, in ms since the epoch."""
        return int(self.edit.dateTime().toMSecsSinceEpoch())


class SnoozeMenu(QMenu):
    """The presets, then "Custom time…"; ``snooze_requested`` carries the end
    in ms, or None for "until the visitor replies"."""

    snooze_requested = Signal(object)  # int | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(QCoreApplication.translate("Snooze", "Snooze"))
        self.aboutToShow.connect(self._on_about_to_show)
        self._fill()

    def _fill(self) -> None:
        self.clear()
        for label, until in snooze_presets(dt.datetime.now().astimezone()):
            action = self.addAction(label)
            action.triggered.connect(lambda _=False, u=until: self.snooze_requested.emit(u))
        self.addSeparator()
        self.addAction(QCoreApplication.translate("Snooze", "Custom time…")).triggered.connect(self._on_custom)

    def _on_about_to_show(self) -> None:
        self._fill()  # the presets follow the clock

    def _on_custom(self) -> None:
        dialog = CustomSnoozeDialog(self.parentWidget())
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.snooze_requested.emit(dialog.until_ms())
