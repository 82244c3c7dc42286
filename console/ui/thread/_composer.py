"""The composer: reply or private note, canned responses, typing signals, and
files attached by button, drag-and-drop or paste."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from frontdesk.server.protocol import CannedResponse
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeyEvent,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..canned import CannedCompleter
from ._common import plain_label

_Index = QModelIndex | QPersistentModelIndex

__all__ = ["Composer", "ComposerEdit"]


class ComposerEdit(QPlainTextEdit):
    """The composer's text box: Enter sends, Shift+Enter starts a new line."""

    #: Enter was pressed (without Shift).
    send_requested = Signal()
    #: Esc while :attr:`editing` (an own message): leave edit mode.
    cancel_requested = Signal()
    #: Files dropped or pasted into the box (local paths): attach them.
    files_added = Signal(list)
    editing = False
    #: The canned-response completion; it takes Up, Down, Enter, Tab and Esc while shown.
    completer: CannedCompleter | None = None

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
        if self.completer is not None and self.completer.handle_key(event):
            return
        if event.key() == Qt.Key.Key_Escape and self.editing:
            self.cancel_requested.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.send_requested.emit()
            return
        super().keyPressEvent(event)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return bool(local_files(source)) or source.hasImage() or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        # Files (dropped, or copied in a file manager) and pasted images are
        # attached; otherwise plain text only: never rich text from the clipboard.
        files = local_files(source)
        if files:
            self.files_added.emit(files)
        elif source.hasImage() and not source.hasText():
            pasted = pasted_image(source)
            if pasted is not None:
                self.files_added.emit([pasted])
        elif source.hasText():
            self.insertPlainText(source.text())


def local_files(source: QMimeData) -> list[str]:
    """The local files a drag or the clipboard carries (paths), if any."""
    if not source.hasUrls():
        return []
    return [url.toLocalFile() for url in source.urls() if url.isLocalFile() and Path(url.toLocalFile()).is_file()]


def pasted_image(source: QMimeData) -> str | None:
    """A pasted image saved as a PNG in a private temporary folder (the outbox copies it); its path."""
    image = source.imageData()
    if not isinstance(image, QImage) or image.isNull():
        return None
    path = Path(tempfile.mkdtemp(prefix="frontdesk-paste-")) / f"pasted-image-{uuid.uuid4().hex[:6]}.png"
    return str(path) if image.save(str(path)) else None  # PNG, from the suffix


def human_size(size: int) -> str:
    """A file size for people: 512 B, 48 KB, 2.5 MB (units of 1,000, as the server's limit)."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{round(size / 1000)} KB"
    return f"{size / 1_000_000:.1f}".removesuffix(".0") + " MB"


class _FileChip(QFrame):
    """An attached file in the composer: its name and size, and a button to take it off."""

    def __init__(self, path: Path, on_remove: Callable[[Path], None]) -> None:
        super().__init__()
        self.setObjectName("fileChip")
        self.path = path
        name = QLabel(f"{path.name} · {human_size(path.stat().st_size)}")
        name.setTextFormat(Qt.TextFormat.PlainText)
        remove = QToolButton()
        remove.setText("✕")
        remove.setAccessibleName(QCoreApplication.translate("Composer", "Remove {name}").format(name=path.name))
        remove.setToolTip(QCoreApplication.translate("Composer", "Remove {name}").format(name=path.name))
        remove.clicked.connect(lambda: on_remove(path))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 2, 2)
        layout.setSpacing(4)
        layout.addWidget(name)
        layout.addWidget(remove)


class Composer(QFrame):
    """Reply / Private note toggle, the text box, canned responses and Send."""

    #: The agent sent something: (body, is_note).
    submitted = Signal(str, bool)
    #: The agent started (True) or stopped (False) typing a reply.
    typing_changed = Signal(bool)
    #: The agent saved an edit of their message: (seq, new body).
    edit_submitted = Signal(int, str)
    #: The agent sent files (and maybe text): (body, is_note, list of local paths).
    files_submitted = Signal(str, bool, list)

    TYPING_IDLE_MS = 4000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setProperty("note", False)
        self.reply_button = QPushButton(QCoreApplication.translate("Composer", "Reply"))
        self.note_button = QPushButton(QCoreApplication.translate("Composer", "Private note"))
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
        self.completer = CannedCompleter(self.edit)
        self.edit.completer = self.completer
        self.edit.cancel_requested.connect(self.cancel_editing)
        self.edit.textChanged.connect(self._on_edit_text_changed)

        self.canned_button = QToolButton()
        self.canned_button.setObjectName("cannedButton")
        self.canned_button.setText(QCoreApplication.translate("Composer", "Canned ▾"))
        self.canned_button.setToolTip(
            QCoreApplication.translate("Composer", "Canned responses (type / in an empty box)")
        )
        self.canned_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.canned_menu = QMenu(self)
        self.canned_menu.aboutToShow.connect(self._fill_canned_menu)
        self.canned_button.setMenu(self.canned_menu)
        self.send_button = QPushButton(QCoreApplication.translate("Composer", "Send"))
        self.send_button.setObjectName("primary")
        self.send_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.send_button.clicked.connect(self._on_edit_send_requested)
        self.hint = plain_label(
            QCoreApplication.translate("Composer", "Enter to send · Shift+Enter for a new line"), "hint"
        )
        self.attach_button = QToolButton()
        self.attach_button.setObjectName("attachButton")
        self.attach_button.setText(QCoreApplication.translate("Composer", "Attach…"))
        self.attach_button.setToolTip(
            QCoreApplication.translate("Composer", "Attach files (or drop or paste them into the box)")
        )
        self.attach_button.setAccessibleName(QCoreApplication.translate("Composer", "Attach files"))
        self.attach_button.clicked.connect(self._on_attach_button_clicked)
        self.edit.files_added.connect(self.add_files)
        #: The files attached to what is being written, in order.
        self.files: list[Path] = []
        self.file_strip = QWidget()
        self.file_strip.setObjectName("fileStrip")
        self._strip_layout = QHBoxLayout(self.file_strip)
        self._strip_layout.setContentsMargins(0, 0, 0, 0)
        self._strip_layout.setSpacing(6)
        self._strip_layout.addStretch(1)
        self.file_strip.hide()
        self.setAcceptDrops(True)
        #: Picks files to attach; tests replace it.
        self.pick_files: Callable[[], list[str]] = lambda: QFileDialog.getOpenFileNames(
            self, QCoreApplication.translate("Composer", "Attach files")
        )[0]

        top = QHBoxLayout()
        top.setSpacing(0)
        top.addWidget(self.reply_button)
        top.addWidget(self.note_button)
        top.addStretch(1)
        top.addWidget(self.hint)
        bottom = QHBoxLayout()
        bottom.setSpacing(8)
        bottom.addWidget(self.canned_button)
        bottom.addWidget(self.attach_button)
        bottom.addStretch(1)
        bottom.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.edit)
        layout.addWidget(self.file_strip)
        layout.addLayout(bottom)

        self._typing = False
        self._typing_timer = QTimer(self)
        self._typing_timer.setSingleShot(True)
        self._typing_timer.setInterval(self.TYPING_IDLE_MS)
        self._typing_timer.timeout.connect(self._stop_typing)
        self._visitor_name = QCoreApplication.translate("Composer", "the visitor")
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
            self.edit.setPlaceholderText(
                QCoreApplication.translate("Composer", "Write a private note: only your team sees it")
            )
        else:
            self.edit.setPlaceholderText(
                QCoreApplication.translate(
                    "Composer", "Reply to {_visitor_name}…  (type / for canned responses)"
                ).format(_visitor_name=self._visitor_name)
            )

    def _on_modes_id_toggled(self, button_id: int, checked: bool) -> None:
        if not checked:
            return
        note = button_id == 1
        self.setProperty("note", note)
        self.send_button.setText(
            QCoreApplication.translate("Composer", "Add note")
            if note
            else QCoreApplication.translate("Composer", "Send")
        )
        for widget in (self, self.edit, self.send_button):
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self._update_placeholder()
        if note:
            self._stop_typing()

    # -- canned responses

    def _fill_canned_menu(self) -> None:
        """The button's menu: every usable response, most used first."""
        self.canned_menu.clear()
        complete = self.completer.complete if self.completer is not None else None
        responses = list(complete("")) if complete is not None else []
        if not responses:
            self.canned_menu.addAction(
                QCoreApplication.translate("Composer", "No canned responses yet (Frontdesk › Canned responses…)")
            ).setEnabled(False)
        for response in responses:
            action = self.canned_menu.addAction(f"{response.title}    /{response.shortcut}")
            action.triggered.connect(lambda _checked=False, r=response: self.insert_canned(r))

    def insert_canned(self, response: CannedResponse) -> bool:
        """Insert ``response`` at the cursor, filled in (replacing a "/word" being typed there)."""
        assert self.completer is not None
        return self.completer.insert(response)

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
        self.send_button.setText(QCoreApplication.translate("Composer", "Save edit"))
        self.hint.setText(QCoreApplication.translate("Composer", "Editing your message · Esc to cancel"))
        self.edit.moveCursor(self.edit.textCursor().MoveOperation.End)
        self.edit.setFocus()

    def cancel_editing(self) -> None:
        """Leave edit mode, restoring the draft."""
        if self.editing_seq is None:
            return
        self.editing_seq = None
        self.edit.editing = False
        self.send_button.setText(QCoreApplication.translate("Composer", "Send"))
        self.hint.setText(QCoreApplication.translate("Composer", "Enter to send · Shift+Enter for a new line"))
        self.edit.setPlainText(self._draft)
        self._draft = ""

    # -- files

    def add_files(self, paths: list[str]) -> None:
        """Attach these local files to what is being written (not while editing a message)."""
        if self.editing_seq is not None:
            return
        for text in paths:
            path = Path(text)
            if path in self.files or not path.is_file():
                continue
            self.files.append(path)
            self._strip_layout.insertWidget(self._strip_layout.count() - 1, _FileChip(path, self.remove_file))
        self.file_strip.setVisible(bool(self.files))

    def remove_file(self, path: Path) -> None:
        """Take an attached file off."""
        if path in self.files:
            self.files.remove(path)
        for n in range(self._strip_layout.count()):
            item = self._strip_layout.itemAt(n)
            chip = item.widget() if item is not None else None
            if isinstance(chip, _FileChip) and chip.path == path:
                chip.deleteLater()
                self._strip_layout.removeWidget(chip)
                break
        self.file_strip.setVisible(bool(self.files))

    def _on_attach_button_clicked(self) -> None:
        self.add_files(self.pick_files())
        self.edit.setFocus()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_files(event.mimeData()) and self.editing_seq is None:
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        files = local_files(event.mimeData())
        if files:
            self.add_files(files)
            event.acceptProposedAction()
        else:
            super().dropEvent(event)

    def _on_edit_send_requested(self) -> None:
        body = self.edit.toPlainText().strip()
        if self.files and self.editing_seq is None:
            files = [str(p) for p in self.files]
            for path in list(self.files):
                self.remove_file(path)
            self.edit.clear()
            self._stop_typing()
            self.files_submitted.emit(body, self.is_note, files)
            return
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

    # -- reply_assignee_only (collision awareness)

    def set_reply_blocked(self, reason: str | None) -> None:
        """Disable Reply with ``reason`` (the tenant lets only the assignee
        reply) and keep Private note; None enables Reply again."""
        blocked = reason is not None
        if blocked and not self.is_note:
            self.set_note_mode(True)
        elif not blocked and not self.reply_button.isEnabled():
            self.set_note_mode(False)
        self.reply_button.setEnabled(not blocked)
        self.reply_button.setToolTip(reason or "")
