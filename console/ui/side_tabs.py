"""A tab widget whose titles form a list on the left: the settings dialog has more
sections than a row of tabs can show without scroll arrows.

It offers the part of :class:`QTabWidget`'s interface the dialog and its tests use
(``addTab``, ``count``, ``tabText``, ``widget``, ``currentIndex``,
``setCurrentIndex``, ``setCurrentWidget``, ``currentChanged``), so pages are added
the same way.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QSize, Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QStackedWidget, QWidget

__all__ = ["SideTabs"]


class SideTabs(QWidget):
    """Section titles in a list on the left, the chosen section's page on the right."""

    #: The index of the page now shown.
    currentChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.nav = QListWidget()
        self.nav.setObjectName("settingsNav")
        self.nav.setAccessibleName(QCoreApplication.translate("SideTabs", "Settings sections"))
        self.nav.setFixedWidth(190)
        self.stack = QStackedWidget()
        self.stack.setObjectName("settingsPages")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.nav.currentRowChanged.connect(self._on_nav_current_row_changed)

    def addTab(self, page: QWidget, title: str) -> int:
        """Add a section; returns its index."""
        index = self.stack.addWidget(page)
        item = QListWidgetItem(title)
        item.setSizeHint(QSize(0, 34))  # a row each section, easy to hit
        self.nav.addItem(item)
        if self.nav.currentRow() < 0:
            self.nav.setCurrentRow(0)
        return index

    def count(self) -> int:
        return self.stack.count()

    def tabText(self, index: int) -> str:
        item = self.nav.item(index)
        return item.text() if item is not None else ""

    def widget(self, index: int) -> QWidget | None:
        return self.stack.widget(index)

    def currentIndex(self) -> int:
        return self.stack.currentIndex()

    def setCurrentIndex(self, index: int) -> None:
        self.nav.setCurrentRow(index)

    def setCurrentWidget(self, page: QWidget) -> None:
        self.nav.setCurrentRow(self.stack.indexOf(page))

    def _on_nav_current_row_changed(self, row: int) -> None:
        if 0 <= row < self.stack.count() and row != self.stack.currentIndex():
            self.stack.setCurrentIndex(row)
            self.currentChanged.emit(row)
