"""Widgets that fit whatever width they are given, instead of clipping.

- :class:`ElidedLabel`: one line of plain text that ends with "…" when too
  long, with the whole text as its tooltip; it never asks for more width than
  a few characters, so a long note cannot squeeze its neighbours.
- :class:`ChipBar`: a row of filter chips that shows as many as fit and puts
  the rest in a "More" menu (issue 13 item 6: the chips were cut to "assign"
  and "All oper" at about 1035 px).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, QSize, Qt
from PySide6.QtGui import QFontMetrics, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QLabel, QMenu, QPushButton, QSizePolicy, QToolButton, QWidget

__all__ = ["ChipBar", "ElidedLabel"]


class ElidedLabel(QLabel):
    """A one-line plain-text label that elides on the right (tooltip: the whole text)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        """The text before eliding."""
        return self._full

    def minimumSizeHint(self) -> QSize:
        return QSize(QFontMetrics(self.font()).horizontalAdvance("…") * 3, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(QFontMetrics(self.font()).horizontalAdvance(self._full) + 4, super().sizeHint().height())

    def _elide(self) -> None:
        shown = QFontMetrics(self.font()).elidedText(self._full, Qt.TextElideMode.ElideRight, max(0, self.width()))
        super().setText(shown)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.text() != QFontMetrics(self.font()).elidedText(
            self._full, Qt.TextElideMode.ElideRight, max(0, self.width())
        ):
            self._elide()  # the font changed (a style sheet was applied)
        super().paintEvent(event)


class ChipBar(QWidget):
    """Lays out ``chips`` left to right; those that do not fit go to the
    :attr:`more` button's menu. The checked chip, when it overflows, names
    the More button ("Resolved ▾") so the current filter stays visible.

    The chips keep their own signals: choosing one from the menu clicks it.
    """

    SPACING = 2

    def __init__(self, chips: Sequence[QPushButton], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chips = list(chips)
        for chip in self.chips:
            chip.setParent(self)
            chip.toggled.connect(self._on_chip_toggled)
        self.more = QToolButton(self)
        self.more.setObjectName("filterMore")
        self.more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.more.setCursor(Qt.CursorShape.PointingHandCursor)
        self.more.setToolTip(QCoreApplication.translate("Fitting", "More filters"))
        self.menu = QMenu(self.more)
        self.menu.aboutToShow.connect(self._fill_menu)
        self.more.setMenu(self.menu)
        self.more.hide()
        #: The chips currently in the More menu.
        self.overflow: list[QPushButton] = []
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def _height(self) -> int:
        return max([c.sizeHint().height() for c in self.chips] + [self.more.sizeHint().height()])

    def sizeHint(self) -> QSize:
        widths = [c.sizeHint().width() for c in self.chips]
        return QSize(sum(widths) + self.SPACING * max(0, len(widths) - 1), self._height())

    def minimumSizeHint(self) -> QSize:
        first = self.chips[0].sizeHint().width() if self.chips else 0
        return QSize(first + self.SPACING + self._more_width(), self._height())

    def _more_width(self, label: str | None = None) -> int:
        self.more.setText(
            label if label is not None else self.more.text() or QCoreApplication.translate("Fitting", "More ▾")
        )
        return self.more.sizeHint().width()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.relayout()

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        self.relayout()

    def _on_chip_toggled(self, checked: bool) -> None:
        if checked:
            self.relayout()

    def relayout(self) -> None:
        """Place the chips that fit; put the others in the More menu."""
        width, height = self.width(), self._height()
        widths = [c.sizeHint().width() for c in self.chips]
        fits_all = sum(widths) + self.SPACING * max(0, len(widths) - 1) <= width
        shown: list[QPushButton] = []
        if fits_all:
            shown = list(self.chips)
        else:
            checked = next((c for c in self.chips if c.isChecked()), None)
            label = f"{checked.text()} ▾" if checked is not None else QCoreApplication.translate("Fitting", "More ▾")
            # Room for the More button under either of its labels.
            more_w = max(self._more_width(label), self._more_width(QCoreApplication.translate("Fitting", "More ▾")))
            x = 0
            for chip, w in zip(self.chips, widths, strict=True):
                if x + w + self.SPACING + more_w > width:
                    break
                shown.append(chip)
                x += w + self.SPACING
            if checked is not None and checked in shown:
                label = QCoreApplication.translate("Fitting", "More ▾")
            self.more.setText(label)
            self.more.setProperty("current", checked is not None and checked not in shown)
            self.more.style().unpolish(self.more)
            self.more.style().polish(self.more)
        self.overflow = [c for c in self.chips if c not in shown]
        x = 0
        for chip, w in zip(self.chips, widths, strict=True):
            if chip in shown:
                chip.setGeometry(x, (height - chip.sizeHint().height()) // 2, w, chip.sizeHint().height())
                chip.show()
                x += w + self.SPACING
            else:
                chip.hide()
        if self.overflow:
            more_w = self.more.sizeHint().width()
            self.more.setGeometry(
                x, (height - self.more.sizeHint().height()) // 2, more_w, self.more.sizeHint().height()
            )
            self.more.show()
        else:
            self.more.hide()

    def _fill_menu(self) -> None:
        self.menu.clear()
        for chip in self.overflow:
            action = self.menu.addAction(chip.text())
            action.setCheckable(True)
            action.setChecked(chip.isChecked())
            action.setToolTip(chip.toolTip())
            action.triggered.connect(lambda _checked=False, c=chip: c.click())
