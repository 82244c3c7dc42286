"""Attachments in the console's window (PROTOCOL.md, "Attachments"): the thin Qt
side of :mod:`frontdesk.console.core.uploads` and :mod:`~frontdesk.console.core.downloads`.

:class:`AttachmentsController` wires the composer's files to the core's outbox
(reply or note with files), the core's upload progress to the thread's tiles,
thumbnails into the thread (fetched once, then from the cache folder), a click
on a file to :class:`AttachmentViewer` (images) or the system's application
(anything else), "Save as…", and the visitor pane's list of files. Views never
touch the network: every fetch goes through the core.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from frontdesk.console.core import Attachment, ConsoleCore, CoreError, DownloadError, ThreadChanges
from PySide6.QtCore import QCoreApplication, QObject, Qt, QUrl
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from .formatting import local_datetime
from .tasks import asyncSlot, spawn
from .thread._composer import human_size
from .thread._delegate import shows_as_image

__all__ = ["AttachmentViewer", "AttachmentsController"]


log = logging.getLogger("frontdesk.console.ui")


class AttachmentViewer(QDialog):
    """An image at full size (scaled down to fit), with Save as… and Open."""

    def __init__(self, attachment: Attachment, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentViewer")
        self.setWindowTitle(attachment.name)
        self.attachment = attachment
        self.path = path
        self.image = QLabel()
        self.image.setObjectName("viewerImage")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setAccessibleName(attachment.name)
        pixmap = QPixmap(str(path))
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is not None and not pixmap.isNull():
            pixmap = pixmap.scaled(
                min(pixmap.width(), int(screen.width() * 0.8)),
                min(pixmap.height(), int(screen.height() * 0.75)),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        self.image.setPixmap(pixmap)
        scroll = QScrollArea()
        scroll.setWidget(self.image)
        scroll.setWidgetResizable(True)
        caption = QLabel(f"{attachment.name} · {human_size(attachment.size)}")
        caption.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_button = QPushButton(QCoreApplication.translate("Attachments", "Save as…"))
        self.open_button = QPushButton(QCoreApplication.translate("Attachments", "Open"))
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(caption)
        layout.addWidget(self.buttons)
        if not pixmap.isNull():
            self.resize(max(360, pixmap.width() + 40), max(240, pixmap.height() + 110))


class AttachmentsController(QObject):
    """Attachments between the window's widgets and the core. The window makes one."""

    def __init__(
        self,
        core: ConsoleCore,
        window: Any,
        *,
        open_url: Callable[[QUrl], Any],
        open_id: Callable[[], int],
    ) -> None:
        super().__init__(window)
        self.core = core
        self._window = window
        self._open_url = open_url
        self._open_id = open_id
        self._thumbs: dict[str, QPixmap] = {}
        self._asked: set[str] = set()
        self._visitor_id = 0
        #: Where Save as… writes (tests replace it): the chosen path, or "" when cancelled.
        self.ask_save_path: Callable[[Attachment], str] = self._ask_save_path
        #: The viewer last opened (tests look at it).
        self.viewer: AttachmentViewer | None = None
        pane = window.thread_pane
        self._view = pane.view
        self._delegate = pane.view.delegate
        self._delegate.thumbnail_for = self.thumbnail_for
        pane.composer.files_submitted.connect(self._on_composer_files_submitted)
        pane.view.attachment_activated.connect(self._on_attachment_activated)
        pane.view.attachment_save_requested.connect(self._on_attachment_save_requested)
        signals = window.bridge.signals
        signals.upload_progress.connect(self._on_bridge_upload_progress)
        signals.thread_changed.connect(self._on_bridge_thread_changed)
        window.visitor.visitor_shown.connect(self._on_visitor_shown)
        window.visitor.file_activated.connect(self._on_attachment_activated)

    # -- sending

    @asyncSlot(str, bool, list)
    async def _on_composer_files_submitted(self, body: str, is_note: bool, files: list[str]) -> None:
        conversation_id = self._open_id()
        if not conversation_id:
            return
        paths = [Path(f) for f in files]
        try:
            if is_note:
                await self.core.note(conversation_id, body, paths)
            else:
                await self.core.reply(conversation_id, body, paths)
        except (ValueError, OSError, CoreError) as exc:
            self._say(QCoreApplication.translate("Attachments", "Could not attach: {exc}").format(exc=exc))

    def _on_bridge_upload_progress(self, outbox_id: int, received: int, total: int) -> None:
        self._delegate.upload_progress[outbox_id] = (received, total)
        self._view.viewport().update()

    # -- thumbnails

    def thumbnail_for(self, attachment: Attachment) -> QPixmap | None:
        """The image's thumbnail if at hand; otherwise fetch it (once) and repaint when it comes."""
        pixmap = self._thumbs.get(attachment.id)
        if pixmap is not None:
            return pixmap
        cached = self.core.downloads.cached(attachment, thumbnail=True)
        if cached is not None:
            pixmap = QPixmap(str(cached))
            self._thumbs[attachment.id] = pixmap
            return pixmap
        if attachment.id not in self._asked:
            self._asked.add(attachment.id)
            spawn(self._fetch_thumbnail(attachment), name=f"thumbnail-{attachment.id}")
        return None

    async def _fetch_thumbnail(self, attachment: Attachment) -> None:
        try:
            path = await self.core.downloads.fetch(attachment, thumbnail=True)
        except (DownloadError, CoreError) as exc:
            log.info("thumbnail of %s not fetched: %s", attachment.id, exc)
            self._asked.discard(attachment.id)  # asked again at the next paint (e.g. back online)
            return
        self._thumbs[attachment.id] = QPixmap(str(path))
        self._view.viewport().update()

    # -- opening and saving

    async def fetch(self, attachment: Attachment) -> Path | None:
        """The file, downloaded if need be (a fresh link when the old one expired);
        None, said in the status bar, when it cannot be."""
        try:
            return await self.core.downloads.fetch(attachment)
        except (DownloadError, CoreError) as exc:
            self._say(
                QCoreApplication.translate("Attachments", "Could not download {name}: {exc}").format(
                    name=attachment.name, exc=exc
                )
            )
            return None

    @asyncSlot(object)
    async def _on_attachment_activated(self, attachment: Attachment) -> None:
        await self.open_attachment(attachment)

    async def open_attachment(self, attachment: Attachment) -> None:
        """An image opens in the viewer; any other file in the system's application for it."""
        path = await self.fetch(attachment)
        if path is None:
            return
        if shows_as_image(attachment):
            self.viewer = AttachmentViewer(attachment, path, self._window)
            self.viewer.save_button.clicked.connect(lambda: spawn(self.save_attachment(attachment), name="save"))
            self.viewer.open_button.clicked.connect(lambda: self.open_with_system(attachment, path))
            self.viewer.show()
        else:
            self.open_with_system(attachment, path)

    def open_with_system(self, attachment: Attachment, path: Path) -> None:
        """Hand the file to the desktop (QDesktopServices), under its own name in a folder of its own."""
        named = path.with_suffix(".named") / Path(attachment.name).name
        if not named.is_file():
            named.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copyfile(path, named)
        self._open_url(QUrl.fromLocalFile(str(named)))

    @asyncSlot(object)
    async def _on_attachment_save_requested(self, attachment: Attachment) -> None:
        await self.save_attachment(attachment)

    async def save_attachment(self, attachment: Attachment) -> Path | None:
        """Save as…: ask where, download if need be, copy there; the path written (None if cancelled)."""
        target = self.ask_save_path(attachment)
        if not target:
            return None
        path = await self.fetch(attachment)
        if path is None:
            return None
        shutil.copyfile(path, target)
        self._say(QCoreApplication.translate("Attachments", "Saved {name}").format(name=Path(target).name))
        return Path(target)

    def _ask_save_path(self, attachment: Attachment) -> str:
        return QFileDialog.getSaveFileName(
            self._window, QCoreApplication.translate("Attachments", "Save as"), attachment.name
        )[0]

    # -- the visitor pane's files

    def _on_visitor_shown(self, visitor_id: int) -> None:
        self._visitor_id = visitor_id
        self.refresh_visitor_files()

    def _on_bridge_thread_changed(self, changes: ThreadChanges) -> None:
        if self._visitor_id:
            self.refresh_visitor_files()

    def refresh_visitor_files(self) -> None:
        """List the files of the visitor shown (from the cache), newest first."""
        files: list[tuple[str, object]] = []
        if self._visitor_id:
            for _conversation, sent_at, attachment in self.core.cache.visitor_attachments(self._visitor_id):
                when = local_datetime(sent_at).strftime("%d %b")
                files.append((f"{attachment.name} · {human_size(attachment.size)} · {when}", attachment))
        self._window.visitor.set_files(files)

    def _say(self, text: str) -> None:
        self._window.status.showMessage(text, 8000)
