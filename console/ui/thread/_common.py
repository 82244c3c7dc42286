"""What the thread pane's widgets share: geometry constants and a plain-text label."""

from __future__ import annotations

from PySide6.QtCore import (
    Qt,
)
from PySide6.QtWidgets import (
    QLabel,
)

__all__ = ["GAP", "MARGIN_X", "MAX_FRACTION", "PAD_X", "PAD_Y", "RADIUS", "plain_label"]


MARGIN_X = 24
PAD_X = 14
PAD_Y = 9
GAP = 6
MAX_FRACTION = 0.68
RADIUS = 14


def plain_label(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if name:
        label.setObjectName(name)
    return label
