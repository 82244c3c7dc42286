"""The export dialog: one conversation or the inbox's filtered set, as JSON, CSV or PDF.

The work is Qt-free (:mod:`frontdesk.console.core.export`): for an admin who is online it comes from the server
(``run_server_export``: every stored message, resolution times, team, labels, attachments; the server records
it), otherwise from this console's cache (``run_export``), and the dialog says so and which columns are then
empty. This dialog picks what and where, shows its progress, and cancels it. The PDF is laid out here: the
transcripts' HTML in a ``QTextDocument``, printed to a ``QPdfWriter``. A cache export by an admin is recorded on
the server (``export.record``) when online.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from frontdesk.console.core import Cache, OfflineError, ServerError
from frontdesk.console.core.export import (
    CACHE_GAPS,
    FORMATS,
    ExportCancelled,
    ExportRequest,
    ExportStream,
    run_export,
    run_server_export,
)
from PySide6.QtCore import QCoreApplication, QMarginsF, Qt, Signal
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from .tasks import spawn

__all__ = ["ExportDialog", "write_pdf"]

log = logging.getLogger("frontdesk.console.ui.export")

#: Records an export on the server: (what, format, conversation_id or None, filter text, rows).
Recorder = Callable[[str, str, int | None, str, int], Awaitable[None]]
#: Where an export would come from now: "server" (an admin, online), "offline" or "not_admin" (the cache).
SourceOf = Callable[[], str]


def write_pdf(parts: Sequence[str], path: Path) -> None:
    """Lay out the transcripts' HTML on A4 pages, one conversation after another, into a PDF at ``path``."""
    writer = QPdfWriter(str(path))
    writer.setTitle(QCoreApplication.translate("ExportDialog", "Frontdesk conversations"))
    writer.setCreator("Frontdesk")
    a4 = QPageSize(QPageSize.PageSizeId.A4)
    margins = QMarginsF(15, 15, 15, 15)
    writer.setPageLayout(QPageLayout(a4, QPageLayout.Orientation.Portrait, margins, QPageLayout.Unit.Millimeter))
    document = QTextDocument()
    document.setHtml("<hr>".join(parts) or "<p>No conversations.</p>")
    document.print_(writer)


class ExportDialog(QDialog):
    """Choose the scope (this conversation / the inbox's list), the format, the notes and the file; export with
    a progress bar; Cancel stops it between two conversations and writes nothing."""

    #: The export finished: (path, rows).
    exported = Signal(str, int)

    def __init__(
        self,
        cache: Cache,
        *,
        current: int | None,
        listed: Callable[[], list[int]],
        describe_list: str,
        record: Recorder | None = None,
        stream: ExportStream | None = None,
        source: SourceOf = lambda: "offline",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle(self.tr("Export conversations — Frontdesk"))
        self._cache = cache
        self._stream = stream
        self._source = source
        #: Where the last export came from ("server" or "cache"), for tests and the status line.
        self.last_source = ""
        self._current = current
        self._listed = listed
        self._describe = describe_list
        self._record = record
        self._cancel = False
        self._task: asyncio.Task[None] | None = None
        self.one_radio = QRadioButton(self.tr("This conversation"))
        self.one_radio.setEnabled(current is not None)
        self.list_radio = QRadioButton(self.tr("The conversations listed ({list})").format(list=describe_list))
        scope = QButtonGroup(self)
        scope.addButton(self.one_radio)
        scope.addButton(self.list_radio)
        (self.one_radio if current is not None else self.list_radio).setChecked(True)
        self.format_combo = QComboBox()
        for key, (_, _, _, label) in FORMATS.items():
            self.format_combo.addItem(label, key)
        self.format_combo.currentIndexChanged.connect(self._on_format_combo_current_index_changed)
        self.notes_check = QCheckBox(self.tr("Include private notes (JSON and PDF)"))
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("exportPath")
        self.path_edit.setPlaceholderText(self.tr("Choose where to save…"))
        self.browse_button = QPushButton(self.tr("Browse…"))
        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        self.progress = QProgressBar()
        self.progress.setObjectName("exportProgress")
        self.progress.setValue(0)
        self.status_label = QLabel("")
        self.status_label.setObjectName("exportStatus")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setWordWrap(True)
        self.export_button = QPushButton(self.tr("Export"))
        self.export_button.setObjectName("primary")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.clicked.connect(self.reject)
        form = QFormLayout()
        form.addRow(self.tr("Export"), self.one_radio)
        form.addRow("", self.list_radio)
        form.addRow(self.tr("Format"), self.format_combo)
        form.addRow("", self.notes_check)
        form.addRow(self.tr("Save to"), path_row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        self.source_label = QLabel("")
        self.source_label.setTextFormat(Qt.TextFormat.PlainText)
        self.source_label.setWordWrap(True)
        self.source_label.setObjectName("hint")
        layout.addWidget(self.source_label)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        self.set_running(False)
        self.show_source()
        self.resize(560, self.sizeHint().height())

    def source_text(self, source: str) -> str:
        """What the dialog says about where the file comes from (and, from the cache, what it lacks)."""
        if source == "server":
            return self.tr(
                "The file comes from the server: every stored message, resolution times, team, labels and attachments."
            )
        gaps = CACHE_GAPS[self.format]
        if source == "not_admin":
            return self.tr(
                "Exports from the server are for admins, so the file comes from this console's cache: %1."
            ).replace("%1", gaps)
        return self.tr("Offline: the file comes from this console's cache: %1.").replace("%1", gaps)

    def show_source(self) -> None:
        """Say where an export would come from now (called when the dialog opens and the format changes)."""
        self.source_label.setText(self.source_text(self._source()))

    @property
    def format(self) -> str:
        return str(self.format_combo.currentData())

    def set_format(self, key: str) -> None:
        self.format_combo.setCurrentIndex(self.format_combo.findData(key))

    def set_running(self, running: bool) -> None:
        """Lock the choices while an export runs; only Cancel works then."""
        for widget in (self.one_radio, self.list_radio, self.format_combo, self.notes_check, self.path_edit):
            widget.setEnabled(not running and (widget is not self.one_radio or self._current is not None))
        self.browse_button.setEnabled(not running)
        self.export_button.setEnabled(not running)
        self.close_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _on_format_combo_current_index_changed(self, _index: int) -> None:
        self.show_source()
        suffix = FORMATS[self.format][2]
        text = self.path_edit.text().strip()
        if text:
            self.path_edit.setText(str(Path(text).with_suffix(suffix)))

    def _on_browse_button_clicked(self) -> None:
        suffix = FORMATS[self.format][2]
        name, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export to"), self.tr("frontdesk-export") + suffix, f"*{suffix}"
        )
        if name:
            self.path_edit.setText(name)

    def _on_cancel_button_clicked(self) -> None:
        self._cancel = True
        self.status_label.setText(self.tr("Cancelling…"))

    def _on_export_button_clicked(self) -> None:
        text = self.path_edit.text().strip()
        if not text:
            self.status_label.setText(self.tr("Choose a file to save to."))
            return
        self._task = spawn(self.export(Path(text)), name="export")

    async def export(self, path: Path) -> None:
        """Run the export to ``path`` with the dialog's choices (what the Export button starts): from the server
        when :attr:`source` says so, else (or when the server cannot be reached) from the cache."""
        one = self.one_radio.isChecked() and self._current is not None
        ids = [self._current] if one and self._current is not None else self._listed()
        request = ExportRequest(tuple(ids), self.format, self.notes_check.isChecked())
        self._cancel = False
        self.set_running(True)
        self.progress.setRange(0, max(1, len(ids)))
        self.progress.setValue(0)
        source = self._source()
        self.show_source()
        try:
            rows: int | None = None
            fell_back = ""
            if source == "server" and self._stream is not None:
                self.status_label.setText(
                    self.tr("Exporting %1 from the server…").replace("%1", self._count(len(ids), "conversation"))
                )
                try:
                    rows = await self._from_server(request, path, one)
                    self.last_source = "server"
                except (OfflineError, ServerError) as exc:
                    if isinstance(exc, ServerError) and exc.code not in ("forbidden", "unauthorized"):
                        raise
                    log.info("export from the server failed (%s); exporting from the cache", exc)
                    self.progress.setValue(0)
                    fell_back = self.tr("The server could not be reached (%1), so ").replace("%1", str(exc))
                    source = "offline"
            if rows is None:
                self.status_label.setText(
                    self.tr("Exporting %1 from the cache…").replace("%1", self._count(len(ids), "conversation"))
                )
                rows = await run_export(
                    self._cache,
                    request,
                    path,
                    progress=lambda done, _total: self.progress.setValue(done),
                    cancelled=lambda: self._cancel,
                    write_pdf=write_pdf,
                )
                self.last_source = "cache"
        except ExportCancelled:
            self.progress.setValue(0)
            self.status_label.setText(self.tr("Cancelled. Nothing was written."))
            return
        except OSError as exc:
            self.status_label.setText(
                self.tr("Could not write %1: %2").replace("%1", str(path)).replace("%2", str(exc.strerror or exc))
            )
            return
        except (ServerError, ValueError) as exc:
            self.status_label.setText(self.tr("Could not export from the server: %1").replace("%1", str(exc)))
            return
        finally:
            self.set_running(False)
        what = self._count(rows, "message" if self.format == "messages" else "conversation")
        if self.last_source == "server":
            self.status_label.setText(
                self.tr("Exported %1 from the server to %2.").replace("%1", what).replace("%2", str(path))
            )
        else:
            self.status_label.setText(
                fell_back
                + self.tr("Exported %1 from this console's cache to %2 (%3).")
                .replace("%1", what)
                .replace("%2", str(path))
                .replace("%3", CACHE_GAPS[self.format])
            )
        self.exported.emit(str(path), rows)
        if self._record is not None and self.last_source == "cache":  # the server records its own exports
            what_kind = "conversation" if one else FORMATS[self.format][0]
            try:
                await self._record(
                    what_kind, FORMATS[self.format][1], self._current if one else None, self._describe, rows
                )
            except Exception as exc:  # offline, or not an admin: the file is written all the same
                log.info("export not recorded on the server: %s", exc)

    def _count(self, n: int, what: str) -> str:
        """ "1 conversation", "3 messages"…"""
        words = {
            ("conversation", True): self.tr("1 conversation"),
            ("conversation", False): self.tr("%1 conversations"),
            ("message", True): self.tr("1 message"),
            ("message", False): self.tr("%1 messages"),
        }
        return words[(what, n == 1)].replace("%1", f"{n:,}")

    async def _from_server(self, request: ExportRequest, path: Path, one: bool) -> int:
        assert self._stream is not None
        describe = ("PDF: " if request.format == "pdf" else "") + (
            f"conversation {self._current}" if one else self._describe
        )

        def received(n: int) -> None:
            self.status_label.setText(
                self.tr("Exporting from the server… %1 KB received").replace("%1", f"{n // 1024:,}")
            )

        return await run_server_export(
            self._stream,
            request,
            path,
            describe=describe,
            progress=lambda done, _total: self.progress.setValue(done),
            received=received,
            cancelled=lambda: self._cancel,
            write_pdf=write_pdf,
        )
