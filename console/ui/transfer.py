"""The transfer dialog: an agent and/or a team, and a note for them (PROTOCOL.md, "Transfer")."""

from __future__ import annotations

from collections.abc import Sequence

from frontdesk.console.core import AgentRow
from frontdesk.server.protocol import Team
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

__all__ = ["TransferDialog"]


class TransferDialog(QDialog):
    """Choose who takes the conversation over; the note goes with it as a private note."""

    def __init__(self, agents: Sequence[AgentRow], teams: Sequence[Team], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(QCoreApplication.translate("Transfer", "Transfer the conversation"))
        self.agent_combo = QComboBox()
        self.agent_combo.addItem(QCoreApplication.translate("Transfer", "Nobody in particular"), None)
        for agent in agents:
            if agent.active:
                dot = "●" if agent.online else "○"
                self.agent_combo.addItem(
                    f"{dot}  {agent.name}"
                    + (QCoreApplication.translate("Transfer", "   (away)") if agent.away else ""),
                    agent.id,
                )
        self.team_combo = QComboBox()
        self.team_combo.addItem(QCoreApplication.translate("Transfer", "Keep its team"), None)
        for team in teams:
            self.team_combo.addItem(team.name, team.id)
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText(
            QCoreApplication.translate("Transfer", "A note for them (only agents see it)")
        )
        self.note_edit.setFixedHeight(90)
        form = QFormLayout()
        form.addRow(QCoreApplication.translate("Transfer", "Agent"), self.agent_combo)
        form.addRow(QCoreApplication.translate("Transfer", "Team"), self.team_combo)
        form.addRow(QCoreApplication.translate("Transfer", "Note"), self.note_edit)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.transfer_button: QPushButton = self.buttons.addButton(
            QCoreApplication.translate("Transfer", "Transfer"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.agent_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.team_combo.currentIndexChanged.connect(self._on_choice_changed)
        self._on_choice_changed()

    def _on_choice_changed(self, *_args: object) -> None:
        self.transfer_button.setEnabled(self.agent_id() is not None or self.team_id() is not None)

    def agent_id(self) -> int | None:
        """The chosen agent, or None."""
        value = self.agent_combo.currentData()
        return value if isinstance(value, int) else None

    def team_id(self) -> int | None:
        """The chosen team, or None."""
        value = self.team_combo.currentData()
        return value if isinstance(value, int) else None

    def note(self) -> str:
        return self.note_edit.toPlainText().strip()
