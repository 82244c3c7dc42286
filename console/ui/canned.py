"""The composer's canned-response completion: "/" opens a list that filters as you type (issue 15).

The list is a popup that never takes the keyboard: typing goes on in the composer, which hands Up, Down, Enter,
Tab and Esc to :class:`CannedCompleter` while it is shown. Which responses match, in which order, and how their
variables are filled is the core's (``ConsoleCore.complete_canned``, ``fill_canned``); prompts (``{{?order
number}}``) are asked in :class:`PromptDialog` before the text goes in at the cursor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from frontdesk.server import canned_text
from frontdesk.server.protocol import CannedResponse
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

__all__ = ["CannedCompleter", "PromptDialog", "active_token"]

#: Provides the ranked matches for what follows "/".
Complete = Callable[[str], Sequence[CannedResponse]]
#: Fills a response's body (variables from the open conversation, prompts from the answers).
Fill = Callable[[CannedResponse, dict[str, str]], str]
#: Asks the agent the prompts; their answers, or None when cancelled.
Ask = Callable[[QWidget, CannedResponse, list[str]], "dict[str, str] | None"]

_TOKEN = re.compile(r"(?:^|(?<=\s))/(\S*)\Z")


def active_token(text_before_cursor: str) -> str | None:
    """What follows a "/" that starts a word right before the cursor ("/th" → "th"), or None."""
    m = _TOKEN.search(text_before_cursor)
    return None if m is None else m.group(1)


class PromptDialog(QDialog):
    """Asks the prompts of a canned response (``{{?order number}}``), one field each."""

    def __init__(self, parent: QWidget | None, response: CannedResponse, prompts: list[str]) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"/{response.shortcut}: {response.title}")
        self.fields: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for prompt in prompts:
            field = QLineEdit()
            field.setObjectName("cannedPrompt")
            form.addRow(prompt[:1].upper() + prompt[1:], field)
            self.fields[prompt] = field
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def answers(self) -> dict[str, str]:
        """The answers, by prompt."""
        return {prompt: field.text().strip() for prompt, field in self.fields.items()}


def ask_prompts(parent: QWidget, response: CannedResponse, prompts: list[str]) -> dict[str, str] | None:
    """Show :class:`PromptDialog`; the answers, or None when cancelled."""
    dialog = PromptDialog(parent, response, prompts)
    return dialog.answers() if dialog.exec() == QDialog.DialogCode.Accepted else None


class CannedCompleter(QListWidget):
    """The completion popup under the composer's cursor."""

    #: A response went in (its id): the core counts the use.
    used = Signal(int)

    def __init__(self, edit: QPlainTextEdit) -> None:
        super().__init__(edit)
        self.setObjectName("cannedCompletion")
        self.setWindowFlags(Qt.WindowType.ToolTip | Qt.WindowType.FramelessWindowHint)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setUniformItemSizes(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setStyleSheet(
            "QListWidget#cannedCompletion { background: #ffffff; border: 1px solid #cbd5e1; border-radius: 6px;"
            " padding: 4px; font-size: 13px; }"
            " QListWidget#cannedCompletion::item { padding: 5px 8px; border-radius: 4px; color: #111827; }"
            " QListWidget#cannedCompletion::item:selected { background: #2563eb; color: #ffffff; }"
        )
        self.text_edit = edit
        self.complete: Complete | None = None
        self.fill: Fill | None = None
        self.ask: Ask = ask_prompts
        self._matches: list[CannedResponse] = []
        self.itemClicked.connect(self._on_item_clicked)
        edit.textChanged.connect(self.refresh)
        edit.cursorPositionChanged.connect(self.refresh)

    def _text_before_cursor(self) -> str:
        cursor = self.text_edit.textCursor()
        block = cursor.block().text()
        return block[: cursor.positionInBlock()]

    def refresh(self) -> None:
        """Show the matches of the "/word" before the cursor, or hide."""
        typed = active_token(self._text_before_cursor())
        if typed is None or self.complete is None:
            self.hide()
            return
        matches = list(self.complete(typed))
        self._matches = matches
        self.clear()
        for n, response in enumerate(matches):
            first_line = response.body.splitlines()[0] if response.body else ""
            item = QListWidgetItem(f"/{response.shortcut}    {response.title}  —  {first_line[:70]}")
            item.setData(Qt.ItemDataRole.UserRole, n)
            item.setToolTip(response.body)
            self.addItem(item)
        if not matches:
            self.hide()
            return
        self.setCurrentRow(0)
        rows = min(len(matches), 8)
        # As wide as the lines need, up to 640, never wider than the composer (a line too long is elided).
        width = min(640, max(460, self.sizeHintForColumn(0) + 24), self.text_edit.viewport().width())
        self.resize(width, rows * max(self.sizeHintForRow(0), 20) + 12)
        self.move(self._placement())
        self.show()

    def _placement(self) -> QPoint:
        """Where the popup goes: under the cursor, but inside the composer's right edge when it fits there, and
        always on the screen (above the cursor when there is no room below)."""
        viewport = self.text_edit.viewport()
        cursor = self.text_edit.cursorRect()
        below = viewport.mapToGlobal(QPoint(cursor.left(), cursor.bottom() + 4))
        x, y = below.x(), below.y()
        left = viewport.mapToGlobal(QPoint(0, 0)).x()
        right = viewport.mapToGlobal(QPoint(viewport.width(), 0)).x()
        x = max(left, min(x, right - self.width()))
        screen = self.text_edit.screen().availableGeometry()
        x = max(screen.left(), min(x, screen.right() + 1 - self.width()))
        if y + self.height() > screen.bottom() + 1:
            y = viewport.mapToGlobal(QPoint(0, cursor.top() - 4)).y() - self.height()
        return QPoint(x, max(screen.top(), y))

    def handle_key(self, event: QKeyEvent) -> bool:
        """The composer's keys while shown: Up/Down choose, Enter/Tab insert, Esc hides. True when taken."""
        if not self.isVisible():
            return False
        key = event.key()
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            step = -1 if key == Qt.Key.Key_Up else 1
            self.setCurrentRow(max(0, min(self.count() - 1, self.currentRow() + step)))
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab):
            row = self.currentRow()
            if 0 <= row < len(self._matches):
                self.insert(self._matches[row])
            return True
        if key == Qt.Key.Key_Escape:
            self.hide()
            return True
        return False

    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        self.insert(self._matches[int(item.data(Qt.ItemDataRole.UserRole))])

    def insert(self, response: CannedResponse) -> bool:
        """Replace the "/word" before the cursor with ``response`` filled in (after asking its prompts).
        False when the agent cancelled the prompts (the "/word" stays)."""
        self.hide()
        prompts = canned_text.prompts(response.body)
        answers: dict[str, str] = {}
        if prompts:
            asked = self.ask(self.text_edit, response, prompts)
            if asked is None:
                self.refresh()  # back to the list, the "/word" as it was
                return False
            answers = asked
        text = self.fill(response, answers) if self.fill is not None else canned_text.fill(response.body, {}, answers)
        cursor = self.text_edit.textCursor()
        typed = active_token(self._text_before_cursor())
        if typed is not None:
            cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(typed) + 1)
        cursor.insertText(text)
        self.text_edit.setTextCursor(cursor)
        self.text_edit.setFocus()
        self.hide()
        self.used.emit(response.id)
        return True
