"""The Reports view's charts: line charts over the report's buckets (pyqtgraph) and the busiest-hours heatmap
(painted). Both only display what they are given, and save themselves as PNG (:func:`save_png`).

pyqtgraph draws on the Qt the console already ships (a 1.9 MB wheel plus numpy); QtCharts would have needed
PySide6-Addons, a 175 MB wheel, for three charts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QEvent, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QToolTip, QWidget

from .theme import C

__all__ = ["SERIES_COLORS", "WEEKDAYS", "Heatmap", "LineChart", "save_png", "unit_for"]

#: The lines' colours, in the order the series are given.
SERIES_COLORS = ("#2563eb", "#12b76a", "#f5a524", "#7a5af8", "#f04438")
_TITLE_SIZE = "10pt"  #: a chart's title (pyqtgraph takes CSS sizes)


translate = QCoreApplication.translate  # lupdate reads translate("Reports", "…") calls


def _tr(text: object) -> str:
    """A string marked elsewhere (QT_TRANSLATE_NOOP), in the user's language."""
    return QCoreApplication.translate("Reports", str(text))


#: The heatmap's rows (marked for lupdate; translated where drawn).
WEEKDAYS = (
    QT_TRANSLATE_NOOP("Reports", "Mon"),
    QT_TRANSLATE_NOOP("Reports", "Tue"),
    QT_TRANSLATE_NOOP("Reports", "Wed"),
    QT_TRANSLATE_NOOP("Reports", "Thu"),
    QT_TRANSLATE_NOOP("Reports", "Fri"),
    QT_TRANSLATE_NOOP("Reports", "Sat"),
    QT_TRANSLATE_NOOP("Reports", "Sun"),
)


def unit_for(seconds: Sequence[float | None]) -> tuple[str, float]:
    """The unit a chart of durations reads best in (its name and its length in seconds), from the largest."""
    top = max((s for s in seconds if s is not None), default=0.0)
    if top >= 2 * 86400:
        return translate("Reports", "days"), 86400.0
    if top >= 2 * 3600:
        return translate("Reports", "hours"), 3600.0
    if top >= 120:
        return translate("Reports", "minutes"), 60.0
    return translate("Reports", "seconds"), 1.0


def save_png(widget: QWidget, path: Path) -> bool:
    """Save what ``widget`` shows as a PNG at ``path`` (at the screen's pixel ratio); False when it could not."""
    return bool(widget.grab().save(str(path), "PNG"))


class LineChart(QWidget):
    """Lines over the report's buckets (the x axis names them), with a legend; a missing value breaks its line."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background=C.SURFACE.name())
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=False, y=True, alpha=0.12)
        item = self.plot.getPlotItem()
        item.setTitle(title, color=C.TEXT.name(), size=_TITLE_SIZE)
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(C.BORDER.name()))
            axis.setTextPen(pg.mkPen(C.TEXT_2.name()))
            axis.enableAutoSIPrefix(False)  # "seconds (x0.001)" reads worse than 0.02
        self.legend = item.addLegend(offset=(10, 6), labelTextColor=C.TEXT_2.name())
        self.plot.setMinimumHeight(220)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        #: Over the plot when no series has a figure in the period.
        self.empty_label = QLabel(translate("Reports", "No figures in this period"))
        self.empty_label.setObjectName("hint")
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.empty_label.hide()
        layout = QGridLayout(self)  # one cell: the label floats over the plot
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 0, 0)
        layout.addWidget(self.empty_label, 0, 0, Qt.AlignmentFlag.AlignCenter)
        #: What is drawn: each series' name and values (for the tests and the PNG's caller).
        self.series: dict[str, list[float | None]] = {}
        self.labels: list[str] = []

    def set_data(
        self,
        labels: Sequence[str],
        series: Sequence[tuple[str, Sequence[float | None]]],
        y_label: str = "",
        *,
        counts: bool = False,
    ) -> None:
        """Draw ``series`` (name, one value per label) over ``labels``, the buckets' short names; ``counts``: the
        values are whole numbers (no ticks between them when they are few)."""
        item = self.plot.getPlotItem()
        item.clear()
        self.legend.clear()
        self.labels = list(labels)
        self.series = {name: list(values) for name, values in series}
        x = np.arange(len(labels), dtype=float)
        for n, (name, values) in enumerate(series):
            y = np.array([math.nan if v is None else float(v) for v in values], dtype=float)
            color = SERIES_COLORS[n % len(SERIES_COLORS)]
            if not np.isfinite(y).any():
                continue  # nothing to draw (pyqtgraph's bounds would warn of an all-NaN slice)
            single = len(labels) == 1 or int(np.isfinite(y).sum()) <= 1
            item.plot(
                x,
                y,
                pen=pg.mkPen(color, width=2),
                name=name,
                connect="finite",
                symbol="o" if single or len(labels) <= 45 else None,
                symbolSize=5,
                symbolPen=pg.mkPen(color),
                symbolBrush=pg.mkBrush(color),
            )
        step = max(1, math.ceil(len(labels) / 10))
        item.getAxis("bottom").setTicks([[(i, labels[i]) for i in range(0, len(labels), step)], []])
        item.setLabel("left", y_label, color=C.TEXT_2.name())
        finite = [float(v) for _, values in series for v in values if v is not None]
        top = max(finite, default=0.0)
        self.empty_label.setVisible(not finite)
        item.setYRange(0, top * 1.1 if top > 0 else 1, padding=0)
        left = item.getAxis("left")
        if counts and top <= 10:
            left.setTickSpacing(major=1, minor=1)
        else:
            left.setTickSpacing()  # pyqtgraph's own
        item.setXRange(-0.5, max(0.5, len(labels) - 0.5), padding=0)


class Heatmap(QWidget):
    """New conversations by weekday (rows, Monday first) and hour (columns) in the tenant's time zone; the
    darker, the busier. Hovering a cell tells its count."""

    LEFT = 44
    TOP = 8
    BOTTOM = 26

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reportHeatmap")
        self.setMinimumSize(QSize(520, 220))
        self.setMouseTracking(True)
        self.counts: list[list[int]] = [[0] * 24 for _ in range(7)]

    def set_counts(self, counts: Sequence[Sequence[int]]) -> None:
        """Show ``counts[weekday][hour]`` (7 × 24; missing cells count 0)."""
        self.counts = [[int(row[h]) if h < len(row) else 0 for h in range(24)] for row in list(counts)[:7]]
        while len(self.counts) < 7:
            self.counts.append([0] * 24)
        self.update()

    def _grid(self) -> tuple[float, float]:
        width = max(1.0, (self.width() - self.LEFT - 8) / 24)
        height = max(1.0, (self.height() - self.TOP - self.BOTTOM) / 7)
        return width, height

    def cell_color(self, count: int) -> QColor:
        """The colour of a cell: from the surface (none) to the accent (the busiest hour)."""
        top = max((c for row in self.counts for c in row), default=0)
        if count <= 0 or top <= 0:
            return QColor("#f2f4f7")
        t = 0.15 + 0.85 * (count / top)
        low, high = QColor("#eaf1ff"), C.ACCENT
        return QColor(
            round(low.red() + (high.red() - low.red()) * t),
            round(low.green() + (high.green() - low.green()) * t),
            round(low.blue() + (high.blue() - low.blue()) * t),
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        del event
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), C.SURFACE)
        width, height = self._grid()
        painter.setPen(C.TEXT_2)
        for d, name in enumerate(WEEKDAYS):
            rect = QRect(0, round(self.TOP + d * height), self.LEFT - 8, round(height))
            painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, _tr(name))
        for h in range(0, 24, 3):
            rect = QRect(round(self.LEFT + h * width), round(self.TOP + 7 * height + 4), round(width * 3), 18)
            painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, f"{h:02d}:00")
        numbers = width >= 26 and height >= 18  # room to write each count in its cell
        font = painter.font()
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
        painter.setFont(font)
        for d in range(7):
            for h in range(24):
                count = self.counts[d][h]
                color = self.cell_color(count)
                cell = QRect(int(self.LEFT + h * width + 1), int(self.TOP + d * height + 1), 0, 0)
                cell.setSize(QSize(max(1, int(width - 2)), max(1, int(height - 2))))
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(color)
                painter.drawRoundedRect(cell, 3, 3)
                if numbers and count:
                    painter.setPen(C.SURFACE if color.lightness() < 165 else C.TEXT)
                    painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, str(count))
        painter.end()

    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        """The (weekday, hour) under ``pos``, or None."""
        width, height = self._grid()
        h = math.floor((pos.x() - self.LEFT) / width)
        d = math.floor((pos.y() - self.TOP) / height)
        return (d, h) if 0 <= d < 7 and 0 <= h < 24 else None

    def event(self, event: QEvent) -> bool:
        if isinstance(event, QHelpEvent):
            cell = self.cell_at(event.pos())
            if cell is None:
                QToolTip.hideText()
            else:
                d, h = cell
                text = translate("Reports", "{day} {start:02d}:00–{end:02d}:00: {count} new conversations").format(
                    day=_tr(WEEKDAYS[d]), start=h, end=(h + 1) % 24, count=self.counts[d][h]
                )
                QToolTip.showText(event.globalPos(), text, self)
            return True
        return super().event(event)
