"""The settings dialog's section list (console/ui/side_tabs.py)."""

from __future__ import annotations

from typing import Any

from frontdesk.console.ui.side_tabs import SideTabs
from PySide6.QtWidgets import QLabel


def test_sections_are_listed_in_order_and_chosen_from_the_list(qtbot: Any) -> None:
    """addTab returns each index; choosing a row (or a page) shows that page and emits currentChanged once."""
    tabs = SideTabs()
    qtbot.addWidget(tabs)
    pages = [QLabel(name) for name in ("Widget", "Agents", "Identity")]
    assert [tabs.addTab(page, page.text()) for page in pages] == [0, 1, 2]
    assert (tabs.count(), tabs.currentIndex()) == (3, 0)
    assert [tabs.tabText(n) for n in range(3)] == ["Widget", "Agents", "Identity"] and tabs.tabText(9) == ""
    changes: list[int] = []
    tabs.currentChanged.connect(changes.append)
    tabs.nav.setCurrentRow(2)
    assert (tabs.currentIndex(), tabs.stack.currentWidget()) == (2, pages[2])
    tabs.setCurrentWidget(pages[1])
    tabs.setCurrentIndex(1)  # already shown: no signal
    assert changes == [2, 1] and tabs.widget(1) is pages[1]
