"""Small dialogs: keyboard shortcuts help and the agent's preferences."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, Qt, QTime
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from .labels import plain_label
from .preferences import SCHEMA, Preferences

__all__ = ["HelpDialog", "PreferencesDialog"]


def _plain(text: str = "", name: str = "") -> QLabel:
    return plain_label(text, name)


class HelpDialog(QDialog):
    """Lists every action that has a keyboard shortcut (built from the actions
    themselves, so the list cannot drift from the real bindings)."""

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("helpDialog")
        self.setWindowTitle(QCoreApplication.translate("Dialogs", "Keyboard shortcuts — Frontdesk"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        layout.addWidget(_plain(QCoreApplication.translate("Dialogs", "Keyboard shortcuts"), "dialogTitle"))
        grid = QGridLayout()
        grid.setHorizontalSpacing(28)
        grid.setVerticalSpacing(8)
        #: (action text, shortcut text) rows shown.
        self.rows: list[tuple[str, str]] = []
        for action in actions:
            keys = [k for k in (s.toString(s.SequenceFormat.NativeText) for s in action.shortcuts()) if k]
            if not keys:
                continue
            text = action.text().replace("&", "").rstrip("…").strip()
            self.rows.append((text, " / ".join(keys)))
        for n, (text, shown) in enumerate(self.rows):
            grid.addWidget(_plain(shown, "shortcutKeys"), n, 0, Qt.AlignmentFlag.AlignRight)
            grid.addWidget(_plain(text), n, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class PreferencesDialog(QDialog):
    """Checkboxes for the boolean preferences (sound, each notification kind)."""

    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preferencesDialog")
        self.setWindowTitle(QCoreApplication.translate("Dialogs", "Preferences — Frontdesk"))
        self._preferences = preferences
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(_plain(QCoreApplication.translate("Dialogs", "Notifications"), "dialogTitle"))
        #: Checkbox per boolean setting name.
        self.checks: dict[str, QCheckBox] = {}
        for setting in SCHEMA:
            if setting.type is not bool:
                continue
            check = QCheckBox(QCoreApplication.translate("Preferences", setting.description))
            check.setChecked(preferences.get_bool(setting.name))
            check.toggled.connect(lambda on, name=setting.name: self._preferences.set(name, bool(on)))
            self.checks[setting.name] = check
            layout.addWidget(check)
        #: The quiet hours' bounds ("HH:MM" preferences), by setting name.
        self.times: dict[str, QTimeEdit] = {}
        row = QHBoxLayout()
        row.setContentsMargins(24, 0, 0, 0)
        for name, label in (
            ("quiet_from", QCoreApplication.translate("Dialogs", "From")),
            ("quiet_until", QCoreApplication.translate("Dialogs", "until")),
        ):
            edit = QTimeEdit()
            edit.setObjectName(name)
            edit.setDisplayFormat("HH:mm")
            edit.setTime(QTime.fromString(preferences.get_str(name), "HH:mm"))
            edit.timeChanged.connect(lambda t, name=name: self._preferences.set(name, t.toString("HH:mm")))
            self.times[name] = edit
            row.addWidget(_plain(label))
            row.addWidget(edit)
        row.addStretch(1)
        layout.addLayout(row)
        quiet = self.checks.get("quiet_hours")
        if quiet is not None:
            for edit in self.times.values():
                edit.setEnabled(quiet.isChecked())
                quiet.toggled.connect(edit.setEnabled)
        #: Spin box per whole-number setting (minutes).
        self.numbers: dict[str, QSpinBox] = {}
        for setting in SCHEMA:
            if setting.type is not int:
                continue
            box = QSpinBox()
            box.setRange(0, 480)
            box.setSuffix(QCoreApplication.translate("Dialogs", " min"))
            box.setSpecialValueText(QCoreApplication.translate("Dialogs", "never"))
            box.setValue(int(preferences.get(setting.name)))
            box.valueChanged.connect(lambda value, name=setting.name: self._preferences.set(name, int(value)))
            self.numbers[setting.name] = box
            row = QHBoxLayout()
            row.addWidget(_plain(QCoreApplication.translate("Preferences", setting.description)), 1)
            row.addWidget(box)
            layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addSpacing(6)
        layout.addWidget(buttons)
