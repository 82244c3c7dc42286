"""Colours, fonts and the stylesheet: one place for the console's look."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from PySide6.QtGui import QColor, QFont, QFontDatabase, QIcon
from PySide6.QtWidgets import QApplication

__all__ = ["ASSETS", "C", "app_icon", "apply_theme", "ui_font"]

ASSETS = Path(__file__).resolve().parent.parent / "assets"


class C:
    """Palette shared by the stylesheet and the painted delegates."""

    WINDOW = QColor("#f5f6f8")
    SURFACE = QColor("#ffffff")
    BORDER = QColor("#e4e7ec")
    DIVIDER = QColor("#eef0f3")
    TEXT = QColor("#1d2433")
    TEXT_2 = QColor("#5b6474")
    MUTED = QColor("#8a94a6")
    ACCENT = QColor("#2563eb")
    ACCENT_SOFT = QColor("#eaf1ff")
    HOVER = QColor("#f5f7fb")
    VISITOR_BUBBLE = QColor("#f1f3f6")
    AGENT_BUBBLE = QColor("#2563eb")
    AGENT_TEXT = QColor("#ffffff")
    OTHER_AGENT_BUBBLE = QColor("#e3ecff")
    NOTE_BG = QColor("#fff7dc")
    NOTE_BORDER = QColor("#f0d58a")
    NOTE_TEXT = QColor("#7a5a00")
    FAILED = QColor("#d92d20")
    FAILED_SOFT = QColor("#fef3f2")
    WARN = QColor("#9a5b00")  #: an unverified identity
    WARN_SOFT = QColor("#fff4e0")
    MATCH = QColor("#ffe68a")  #: behind a search match in a snippet
    GREEN = QColor("#12b76a")
    AMBER = QColor("#f5a524")
    RED = QColor("#f04438")

    STATUS: ClassVar[dict[str, QColor]] = {
        "open": QColor("#2563eb"),
        "pending": QColor("#f5a524"),
        "resolved": QColor("#12b76a"),
    }


#: Preferred UI font families, best first; the first installed one is used.
_FAMILIES = ("Inter", "Segoe UI", "SF Pro Text", "Cantarell", "Noto Sans", "Ubuntu", "Liberation Sans", "DejaVu Sans")


def ui_font(point_size: float = 10.0) -> QFont:
    """The UI font: the first installed of a list of clean sans families."""
    installed = set(QFontDatabase.families())
    font = QFont()
    for family in _FAMILIES:
        if family in installed:
            font.setFamily(family)
            break
    font.setPointSizeF(point_size)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    return font


def app_icon() -> QIcon:
    """The application icon."""
    return QIcon(str(ASSETS / "icon.svg"))


def apply_theme(app: QApplication) -> None:
    """Set the font, icon and stylesheet on ``app``."""
    app.setFont(ui_font())
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")
    # url() in a stylesheet set from a string resolves against the working
    # directory, so the assets folder is spelled out.
    qss = (ASSETS / "style.qss").read_text(encoding="utf-8").replace("@ASSETS@", ASSETS.as_posix())
    app.setStyleSheet(qss)
