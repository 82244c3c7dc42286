"""The Reports window's tables (console/ui/reports.py): the columns of the agents', teams', channels' and
satisfaction comments' tables, a model that sorts them with a missing figure last, and their CSV; and the texts
of durations and shares the cards use too. Qt's model only: no widget here."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Callable, Sequence
from typing import Any

from frontdesk.server.protocol import CsatComment
from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import QWidget

from .formatting import local_datetime

__all__ = [
    "CHANNEL_NAMES",
    "SORT_ROLE",
    "Column",
    "ReportTableModel",
    "channel_columns",
    "comment_columns",
    "csv_text",
    "duration_text",
    "percent_text",
    "rating_text",
    "row_columns",
]

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()

translate = QCoreApplication.translate  # lupdate reads translate("Reports", "…") calls


def _tr(text: object) -> str:
    """A string marked elsewhere (QT_TRANSLATE_NOOP), in the user's language."""
    return QCoreApplication.translate("Reports", str(text))


#: The role a column's sort key is read with (raw numbers; a missing figure sorts last).
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


#: The display names below are marked for lupdate with QT_TRANSLATE_NOOP and translated (_tr) where shown.
CHANNEL_NAMES = {
    "widget": QT_TRANSLATE_NOOP("Reports", "Website widget"),
    "email": QT_TRANSLATE_NOOP("Reports", "Email"),
}


def duration_text(seconds: float | None) -> str:
    """A duration as the cards and tables show it: ``45s``, ``3m 20s``, ``2h 05m``, ``3d 4h``; ``–`` for none."""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def percent_text(share: float | None) -> str:
    """A share (0–1) as a whole percentage; ``–`` for none."""
    return "–" if share is None else f"{round(share * 100)}%"


def csv_text(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A CSV file's text (RFC 4180, CRLF line ends as the csv module writes them)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


# -- columns -----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Column:
    """One column of a report table: its title, its raw value (sorting, CSV), and its text."""

    title: str
    value: Callable[[Any], Any]
    text: Callable[[Any], str] = lambda v: f"{v:,}" if isinstance(v, int) else str(v)
    csv_title: str = ""
    csv_value: Callable[[Any], Any] | None = None
    numeric: bool = True


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def row_columns(first: str) -> list[Column]:
    return [
        Column(first, lambda r: r.name, numeric=False),
        Column(translate("Reports", "Conversations"), lambda r: r.conversations),
        Column(translate("Reports", "Replies"), lambda r: r.replies),
        Column(
            translate("Reports", "Median first response"),
            lambda r: r.first_response_median,
            duration_text,
            translate("Reports", "Median first response (s)"),
            lambda r: _seconds(r.first_response_median),
        ),
        Column(
            translate("Reports", "Median resolution"),
            lambda r: r.resolution_median,
            duration_text,
            translate("Reports", "Median resolution (s)"),
            lambda r: _seconds(r.resolution_median),
        ),
        Column(
            translate("Reports", "CSAT"),
            lambda r: r.csat.score,
            percent_text,
            translate("Reports", "CSAT score (%)"),
            lambda r: _percent(r.csat.score),
        ),
        Column(translate("Reports", "Ratings"), lambda r: r.csat.responses),
    ]


def channel_columns() -> list[Column]:
    return [
        Column(
            translate("Reports", "Channel"),
            lambda c: c[0],
            lambda name: _tr(CHANNEL_NAMES.get(name, name)),
            numeric=False,
        ),
        Column(translate("Reports", "Conversations"), lambda c: c[1].conversations),
        Column(translate("Reports", "Messages in"), lambda c: c[1].messages_in),
        Column(translate("Reports", "Replies"), lambda c: c[1].messages_out),
        Column(translate("Reports", "Resolutions"), lambda c: c[1].resolutions),
        Column(
            translate("Reports", "Median first response"),
            lambda c: c[1].first_response.median,
            duration_text,
            translate("Reports", "Median first response (s)"),
            lambda c: _seconds(c[1].first_response.median),
        ),
        Column(
            translate("Reports", "CSAT"),
            lambda c: c[1].csat.score,
            percent_text,
            translate("Reports", "CSAT score (%)"),
            lambda c: _percent(c[1].csat.score),
        ),
    ]


def rating_text(comment: CsatComment) -> str:
    if comment.scale == "thumbs":  # words: an emoji font is not everywhere
        return translate("Reports", "Thumbs up") if comment.rating else translate("Reports", "Thumbs down")
    return "★" * comment.rating + "☆" * max(0, 5 - comment.rating)


def comment_columns(agent_name: Callable[[int | None], str]) -> list[Column]:
    return [
        Column(
            translate("Reports", "When"),
            lambda c: c.rated_at,
            lambda ms: local_datetime(ms).strftime("%d %b %Y, %H:%M"),
            translate("Reports", "Rated at (UTC)"),
            lambda c: dt.datetime.fromtimestamp(c.rated_at / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        ),
        Column(translate("Reports", "Agent"), lambda c: agent_name(c.agent_id), numeric=False),
        Column(translate("Reports", "Rating"), lambda c: c.rating, lambda _r: "", csv_value=lambda c: c.rating),
        Column(translate("Reports", "Comment"), lambda c: c.comment, numeric=False),
        Column(translate("Reports", "Conversation"), lambda c: c.conversation_id, lambda cid: f"#{cid}"),
    ]


class ReportTableModel(QAbstractTableModel):
    """Rows of a report (agents, teams, channels or comments) in columns; sorts by a column's raw value, a
    missing figure last either way; exports what it shows, in its order, as CSV."""

    def __init__(self, columns: Sequence[Column], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.rows: list[Any] = []
        self._text_overrides: dict[int, Callable[[Any], str]] = {}

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def set_text(self, column: int, text: Callable[[Any], str]) -> None:
        """Show ``column`` as ``text(row)`` (the rating's stars need the whole comment)."""
        self._text_overrides[column] = text

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row, column = self.rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            override = self._text_overrides.get(index.column())
            return override(row) if override is not None else column.text(column.value(row))
        if role == SORT_ROLE:
            return column.value(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            side = Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            return int(side | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
        if horizontal and 0 <= section < len(self.columns):
            return self.columns[section].title
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns):
            return
        value = self.columns[column].value
        present = [r for r in self.rows if value(r) is not None]
        missing = [r for r in self.rows if value(r) is None]

        def key(row: Any) -> Any:
            v = value(row)
            return v.casefold() if isinstance(v, str) else v

        present.sort(key=key, reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutAboutToBeChanged.emit()
        self.rows = present + missing
        self.layoutChanged.emit()

    def csv(self) -> str:
        """The table as CSV: raw figures (seconds, percentages), in the order shown."""
        headers = [c.csv_title or c.title for c in self.columns]
        rows = [[(c.csv_value or c.value)(r) for c in self.columns] for r in self.rows]
        return csv_text(headers, rows)
