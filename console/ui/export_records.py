"""The settings dialog's Exports page: who exported what, when (PROTOCOL.md, "Exports"; admins only)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from frontdesk.console.core import OfflineError, ServerError
from frontdesk.server.protocol import ExportEntry
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .formatting import local_datetime

__all__ = ["ExportRecordsPage"]

COLUMNS = ("When", "Who", "What", "Format", "Filter", "Rows")


def describe_filter(text: str) -> str:
    """A record's filter (JSON of the fields set) as a short line."""
    try:
        fields = json.loads(text)
    except ValueError:
        return text
    if not isinstance(fields, dict) or not fields:
        return "everything"
    return ", ".join(f"{k} {v}" for k, v in fields.items())


class ExportRecordsPage(QWidget):
    """A table of the tenant's export records, newest first, loaded when first shown and on Refresh."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[list[ExportEntry]]],
        agent_name: Callable[[int], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("exportRecordsPage")
        self._fetch = fetch
        self._agent_name = agent_name
        self.loaded_once = False
        intro = QLabel(
            self.tr("Every export of conversations, from the console or GET /v1/export/…, is recorded here.")
        )
        intro.setTextFormat(Qt.TextFormat.PlainText)
        intro.setWordWrap(True)
        intro.setObjectName("hint")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("exportRecords")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setObjectName("hint")
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.clicked.connect(self._on_refresh_button_clicked)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)

    def _on_refresh_button_clicked(self) -> None:
        from .tasks import spawn

        spawn(self.load(), name="export-records")

    async def load(self) -> None:
        """Fetch the records and fill the table (the reason shown when it cannot)."""
        self.loaded_once = True
        self.status.setText(self.tr("Loading…"))
        try:
            records = await self._fetch()
        except (OfflineError, ServerError) as exc:
            self.status.setText(self.tr("Could not load the exports: {reason}").format(reason=exc.message))
            return
        self.set_records(records)

    def set_records(self, records: list[ExportEntry]) -> None:
        self.table.setRowCount(len(records))
        for n, r in enumerate(records):
            cells = (
                local_datetime(r.created_at).strftime("%d %b %Y, %H:%M"),
                self._agent_name(r.agent_id),
                r.kind,
                r.format.upper(),
                describe_filter(r.filter),
                str(r.rows),
            )
            for c, text in enumerate(cells):
                self.table.setItem(n, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.status.setText(
            (self.tr("1 export") if len(records) == 1 else self.tr("{n} exports").format(n=len(records)))
            if records
            else self.tr("No exports yet.")
        )
