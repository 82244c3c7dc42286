"""The latency CDF as a PNG, drawn with PySide6's QPainter offscreen.

PySide6 is already a dependency of the console, so the plot needs nothing
new; a server-only install without it reports that --plot is unavailable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

__all__ = ["plot_cdf"]

Series = tuple[str, Sequence[tuple[float, float]]]
_COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"]


def plot_cdf(path: str, series: Sequence[Series], title: str) -> None:
    """Draw one CDF line per (label, [(ms, fraction)]) on a log-ms axis."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPainterPath, QPen

    _app = QGuiApplication.instance() or QGuiApplication([])
    width, height = 1000, 620
    left, right, top, bottom = 80, 30, 60, 70
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    values = [ms for _, pts in series for ms, _ in pts if ms > 0]
    lo = 10 ** math.floor(math.log10(min(values))) if values else 0.1
    hi = 10 ** math.ceil(math.log10(max(values))) if values else 100.0
    hi = max(hi, lo * 10)
    plot = QRectF(left, top, width - left - right, height - top - bottom)

    def x_of(ms: float) -> float:
        ms = max(ms, lo)
        return plot.left() + (math.log10(ms) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * plot.width()

    def y_of(frac: float) -> float:
        return plot.bottom() - frac * plot.height()

    font = QFont()
    font.setPixelSize(13)
    painter.setFont(font)
    grid = QPen(QColor("#e5e7eb"))
    axis = QPen(QColor("#374151"))
    decade = lo
    while decade <= hi * 1.0001:
        for mult in range(1, 10):
            v = decade * mult
            if v > hi * 1.0001:
                break
            painter.setPen(grid if mult > 1 else QPen(QColor("#cbd5e1")))
            painter.drawLine(QPointF(x_of(v), plot.top()), QPointF(x_of(v), plot.bottom()))
        painter.setPen(axis)
        label = f"{decade:g}"
        painter.drawText(QRectF(x_of(decade) - 40, plot.bottom() + 6, 80, 20), Qt.AlignmentFlag.AlignHCenter, label)
        decade *= 10
    for frac in (0.0, 0.25, 0.5, 0.75, 0.9, 1.0):
        painter.setPen(grid)
        painter.drawLine(QPointF(plot.left(), y_of(frac)), QPointF(plot.right(), y_of(frac)))
        painter.setPen(axis)
        painter.drawText(
            QRectF(0, y_of(frac) - 10, left - 8, 20),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            f"{frac:g}",
        )
    painter.setPen(axis)
    painter.drawRect(plot)
    painter.drawText(
        QRectF(plot.left(), height - 36, plot.width(), 20),
        Qt.AlignmentFlag.AlignHCenter,
        "visitor → agent latency (ms, log scale)",
    )
    painter.save()
    painter.translate(18, plot.center().y())
    painter.rotate(-90)
    painter.drawText(QRectF(-100, -10, 200, 20), Qt.AlignmentFlag.AlignHCenter, "fraction of deliveries ≤ x")
    painter.restore()
    bold = QFont(font)
    bold.setPixelSize(16)
    bold.setBold(True)
    painter.setFont(bold)
    painter.drawText(QRectF(0, 14, width, 24), Qt.AlignmentFlag.AlignHCenter, title)
    painter.setFont(font)
    for i, (label, pts) in enumerate(series):
        color = QColor(_COLORS[i % len(_COLORS)])
        pen = QPen(color)
        pen.setWidthF(2.2)
        painter.setPen(pen)
        line = QPainterPath()
        for j, (ms, frac) in enumerate(pts):
            point = QPointF(x_of(ms), y_of(frac))
            if j == 0:
                line.moveTo(QPointF(x_of(ms), y_of(0.0)))
            line.lineTo(point)
        painter.drawPath(line)
        ly = plot.top() + 14 + i * 22
        painter.drawLine(QPointF(plot.left() + 14, ly), QPointF(plot.left() + 44, ly))
        painter.setPen(axis)
        painter.drawText(QPointF(plot.left() + 52, ly + 5), label)
    painter.end()
    if not image.save(path):  # the format follows the .png suffix
        raise OSError(f"could not write {path}")
