"""The composer: reply or private note, canned responses, typing signals."""

from __future__ import annotations

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QKeyEvent,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..canned import CANNED, Canned
from ._common import plain_label

_Index = QModelIndex | QPersistentModelIndex

__all__ = ["Composer", "ComposerEdit"]


class ComposerEdit(QPlainTextEdit):
    """The composer's text box: Enter sends, Shift+Enter starts a new line."""

    #: Enter was pressed (without Shift).
    send_requested = Signal()
    #: "/" typed into an empty box: show canned responses.
    canned_requested = Signal()
    #: Esc while :attr:`editing` (an own message): leave edit mode.
    cancel_requested = Signal()
    editing = False

    def event(self, event: QEvent) -> bool:
        # Esc is a window shortcut too: while editing it belongs to this box.
        if (
            self.editing
            and event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.editing:
            self.cancel_requested.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.send_requested.emit()
            return
        if event.text() == "/" and not self.toPlainText():
            super().keyPressEvent(event)
            self.canned_requested.emit()
            return
        super().keyPressEvent(event)

    def insertFromMimeData(self, source: object) -> None:
        # Paste plain text only: never rich text from the clipboard.
        from PySide6.QtCore import QMimeData

        if isinstance(source, QMimeData) and source.hasText():
            self.insertPlainText(source.text())


class Composer(QFrame):
    """Reply / Private note toggle, the text box, canned responses and Send."""

    #: The agent sent something: (body, is_note).
    submitted = Signal(str, bool)
    #: The agent started (True) or stopped (False) typing a reply.
    typing_changed = Signal(bool)
    #: The agent saved an edit of their message: (seq, new body).
    edit_submitted = Signal(int, str)

    TYPING_IDLE_MS = 4000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setProperty("note", False)
        self.reply_button = QPushButton("Reply")
        self.note_button = QPushButton("Private note")
        self.reply_button.setObjectName("segLeft")
        self.note_button.setObjectName("segRight")
        self._modes = QButtonGroup(self)
        for n, button in enumerate((self.reply_button, self.note_button)):
            button.setCheckable(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            self._modes.addButton(button, n)
        self.reply_button.setChecked(True)
        self._modes.idToggled.connect(self._on_modes_id_toggled)

        self.edit = ComposerEdit()
        self.edit.setObjectName("composerEdit")
        self.edit.setTabChangesFocus(True)
        self.edit.setFixedHeight(84)
        self.edit.send_requested.connect(self._on_edit_send_requested)
        self.edit.canned_requested.connect(self._on_edit_canned_requested)
        self.edit.cancel_requested.connect(self.cancel_editing)
        self.edit.textChanged.connect(self._on_edit_text_changed)

        self.canned_button = QToolButton()
        self.canned_button.setObjectName("cannedButton")
        self.canned_button.setText("Canned ▾")
        self.canned_button.setToolTip("Canned responses (type / in an empty box)")
        self.canned_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.canned_menu = self._build_canned_menu()
        self.canned_button.setMenu(self.canned_menu)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primary")
        self.send_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.send_button.clicked.connect(self._on_edit_send_requested)
        self.hint = plain_label("Enter to send · Shift+Enter for a new line", "hint")

        top = QHBoxLayout()
        top.setSpacing(0)
        top.addWidget(self.reply_button)
        top.addWidget(self.note_button)
        top.addStretch(1)
        top.addWidget(self.hint)
        bottom = QHBoxLayout()
        bottom.setSpacing(8)
        bottom.addWidget(self.canned_button)
        bottom.addStretch(1)
        bottom.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.edit)
        layout.addLayout(bottom)

        self._typing = False
        self._typing_timer = QTimer(self)
        self._typing_timer.setSingleShot(True)
        self._typing_timer.setInterval(self.TYPING_IDLE_MS)
        self._typing_timer.timeout.connect(self._stop_typing)
        self._visitor_name = "the visitor"
        #: The seq of the agent's own message being edited, or None (writing a new one).
        self.editing_seq: int | None = None
        self._draft = ""
        self._update_placeholder()

    # -- mode

    @property
    def is_note(self) -> bool:
        """True in Private note mode."""
        return self.note_button.isChecked()

    def set_note_mode(self, note: bool) -> None:
        """Switch between Reply and Private note."""
        (self.note_button if note else self.reply_button).setChecked(True)

    def set_visitor_name(self, name: str) -> None:
        """Name the visitor in the placeholder."""
        self._visitor_name = name
        self._update_placeholder()

    def _update_placeholder(self) -> None:
        if self.is_note:
            self.edit.setPlaceholderText("Write a private note: only your team sees it")
        else:
            self.edit.setPlaceholderText(f"Reply to {self._visitor_name}…  (type / for canned responses)")

    def _on_modes_id_toggled(self, button_id: int, checked: bool) -> None:
        if not checked:
            return
        note = button_id == 1
        self.setProperty("note", note)
        self.send_button.setText("Add note" if note else "Send")
        for widget in (self, self.edit, self.send_button):
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self._update_placeholder()
        if note:
            self._stop_typing()

    # -- canned responses

    def _build_canned_menu(self) -> QMenu:
        menu = QMenu(self)
        for canned in CANNED:
            action = menu.addAction(f"{canned.title}    {canned.shortcut}")
            action.setData(canned.shortcut)
            action.triggered.connect(lambda _checked=False, c=canned: self.insert_canned(c))
        return menu

    def insert_canned(self, canned: Canned) -> None:
        """Put ``canned``'s text in the box (replacing a lone "/" shortcut)."""
        text = self.edit.toPlainText()
        if text.startswith("/") and " " not in text:
            self.edit.setPlainText(canned.text)
        else:
            self.edit.insertPlainText(canned.text)
        cursor = self.edit.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.edit.setTextCursor(cursor)
        self.edit.setFocus()

    def _on_edit_canned_requested(self) -> None:
        rect = self.edit.cursorRect()
        self.canned_menu.popup(self.edit.viewport().mapToGlobal(rect.bottomLeft()))

    # -- sending and typing

    def start_editing(self, seq: int, body: str) -> None:
        """Put the agent's message ``seq`` in the box to edit it (Esc cancels);
        what was being written comes back afterwards."""
        if self.editing_seq is None:
            self._draft = self.edit.toPlainText()
        self.editing_seq = seq
        self.edit.editing = True
        self.set_note_mode(False)
        self.edit.setPlainText(body)
        self.send_button.setText("Save edit")
        self.hint.setText("Editing your message · Esc to cancel")
        self.edit.moveCursor(self.edit.textCursor().MoveOperation.End)
        self.edit.setFocus()

    def cancel_editing(self) -> None:
        """Leave edit mode, restoring the draft."""
        if self.editing_seq is None:
            return
        self.editing_seq = None
        self.edit.editing = False
        self.send_button.setText("Send")
        self.hint.setText("Enter to send · Shift+Enter for a new line")
        self.edit.setPlainText(self._draft)
        self._draft = ""

    def _on_edit_send_requested(self) -> None:
        body = self.edit.toPlainText().strip()
        if not body:
            return
        if self.editing_seq is not None:
            seq = self.editing_seq
            self.cancel_editing()
            self.edit_submitted.emit(seq, body)
            return
        self.edit.clear()
        self._stop_typing()
        self.submitted.emit(body, self.is_note)

    def _on_edit_text_changed(self) -> None:
        if self.is_note or not self.edit.toPlainText():
            self._stop_typing()
            return
        if not self._typing:
            self._typing = True
            self.typing_changed.emit(True)
        self._typing_timer.start()

    def _stop_typing(self) -> None:
        self._typing_timer.stop()
        if self._typing:
            self._typing = False
            self.typing_changed.emit(False)
