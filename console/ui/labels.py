"""The console's one way to make a label of plain text: text from the server or
a visitor is never read as rich text (HTML) by Qt's guess."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

__all__ = ["plain_label"]


def plain_label(text: str = "", name: str = "", *, wrap: bool = False) -> QLabel:
    """A QLabel showing ``text`` as plain text, with object name ``name`` (for the style sheet) when given,
    word-wrapped when ``wrap``."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if wrap:
        label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    return label
