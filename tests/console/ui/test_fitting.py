"""Layout that never clips: the filter chips' overflow menu, the elided header note, the empty texts."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.core.notifier import ASSETS
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.preferences import Preferences
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QPushButton

from .conftest import NOW, WAIT_MS, FakeCore, conversation, fill, message


class _Sound:
    def play(self) -> None:
        pass


@pytest.fixture
def window(qtbot: Any, core: FakeCore, prefs: Preferences) -> MainWindow:
    fill(
        qtbot,
        core,
        [conversation(1, "Maya Patel", last_seq=1, last_activity=NOW, preview="Anyone there?")],
        [message(10, 1, 1, "Anyone there?")],
    )
    win = MainWindow(core, prefs, use_tray=False, sound=_Sound())  # type: ignore[arg-type]
    # The app's own style sheet (on the window, not the shared QApplication): the chips' real sizes.
    win.setStyleSheet((ASSETS / "style.qss").read_text(encoding="utf-8").replace("@ASSETS@", ASSETS.as_posix()))
    qtbot.addWidget(win)
    win.attach()
    win.show()
    qtbot.waitExposed(win)
    return win


def _text_fits(chip: QPushButton) -> bool:
    return QFontMetrics(chip.font()).horizontalAdvance(chip.text()) <= chip.width()


def _assert_no_chip_clipped(window: MainWindow) -> None:
    bar = window.inbox.chip_bar
    assert bar.geometry().right() < window.inbox.width()
    for chip in bar.chips:
        if chip in bar.overflow:
            assert not chip.isVisible()
            continue
        assert chip.isVisible(), chip.text()
        assert chip.width() >= chip.sizeHint().width() and _text_fits(chip), chip.text()
        assert chip.geometry().right() < bar.width(), chip.text()
    if bar.overflow:
        assert bar.more.isVisible() and bar.more.geometry().right() < bar.width()
        assert bar.more.width() >= bar.more.sizeHint().width()


def test_filter_chips_never_clip_with_the_sync_note(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """At 1035 px, with "changes waiting to sync" in the header, and narrower: chips fit or go to More."""
    window.inbox.select_conversation(1)
    window.assign_me_action.trigger()
    window.resolve_action.trigger()
    qtbot.waitUntil(lambda: "waiting to sync" in window.thread_pane.header.subtitle.full_text(), timeout=WAIT_MS)
    for width in (1280, 1035, 700):  # 700: as narrow as the window goes
        window.resize(width, 760)
        qtbot.wait(20)
        qtbot.wait(1)  # the layouts settle on the next event-loop turn
        _assert_no_chip_clipped(window)
    window.splitter.setSizes([280, 400, 300])  # the inbox at its narrowest
    qtbot.wait(1)
    _assert_no_chip_clipped(window)


def test_an_overflowing_filter_is_reachable_and_named(qtbot: Any, window: MainWindow) -> None:
    """A filter chosen from the More menu is applied, and the More button then carries its name."""
    bar = window.inbox.chip_bar
    bar.resize(160, bar.height())
    bar.relayout()
    assert bar.overflow
    last = bar.overflow[-1]
    bar._fill_menu()
    action = next(a for a in bar.menu.actions() if a.text() == last.text())
    action.trigger()
    assert last.isChecked()
    name = next(n for n, b in window.inbox.filter_buttons.items() if b is last)
    assert window.inbox_model.filter == name
    assert bar.more.text() == f"{last.text()} ▾"


def test_each_filter_has_its_own_empty_text(qtbot: Any, window: MainWindow) -> None:
    """The empty Resolved tab does not talk about new conversations arriving; each tab says its own thing."""
    texts = {}
    for name in ("resolved", "pending", "mine"):
        window.inbox.set_filter(name)
        qtbot.waitUntil(window.inbox.empty_label.isVisible, timeout=WAIT_MS)
        texts[name] = window.inbox.empty_label.text()
    assert "resolved" in texts["resolved"].lower() and "arrive" not in texts["resolved"]
    assert len(set(texts.values())) == 3


def test_the_header_note_elides_instead_of_widening(qtbot: Any, window: MainWindow) -> None:
    """A long subtitle asks for no width: it is cut with "…" and the whole text is its tooltip."""
    window.inbox.select_conversation(1)
    subtitle = window.thread_pane.header.subtitle
    assert subtitle.isVisible()
    subtitle.setText("someone@example.org  ·  Assigned to you  ·  12 changes waiting to sync  ·  3 not delivered")
    subtitle.resize(120, subtitle.height())
    assert subtitle.text().endswith("…") and subtitle.toolTip() == subtitle.full_text()
    assert subtitle.minimumSizeHint().width() < 60


def test_the_banner_moves_nothing_under_the_pointer(qtbot: Any, window: MainWindow) -> None:
    """The in-window notification floats over the content: the inbox and thread stay where they were."""
    before = (window.splitter.geometry(), window.inbox.view.mapTo(window, window.inbox.view.rect().topLeft()))
    window.notifier.notify("new_conversation", 1, "Maya Patel", "Anyone there?")
    assert window.banner.isVisible()
    qtbot.wait(1)
    after = (window.splitter.geometry(), window.inbox.view.mapTo(window, window.inbox.view.rect().topLeft()))
    assert after == before
    card = window.banner.geometry()
    parent = window.banner.parentWidget()
    assert parent is not None and parent.rect().contains(card) and card.top() == window.banner.TOP
    window.resize(1035, 760)
    qtbot.waitUntil(lambda: abs(window.banner.geometry().center().x() - parent.width() // 2) <= 1, timeout=WAIT_MS)


def test_long_agent_names_are_not_cut_in_settings(qtbot: Any, core: FakeCore) -> None:
    """The settings dialog's agent list shows a long name whole (the email elides instead), with tooltips."""
    from frontdesk.console.ui.models import AgentsModel
    from frontdesk.console.ui.settings_dialog import SettingsDialog
    from PySide6.QtCore import Qt

    from tests.console import wireobj as W

    from .conftest import AGENTS, agent, run

    long_name = "Saoirse Ní Bhriain-Featherstonehaugh de la Cruz"
    wide = agent(9, long_name)
    wide["email"] = "saoirse.ni.bhriain-featherstonehaugh@support.example-company.co.uk"
    agents = AgentsModel(core)
    dialog = SettingsDialog(core, agents)  # type: ignore[arg-type]
    dialog.setStyleSheet((ASSETS / "style.qss").read_text(encoding="utf-8").replace("@ASSETS@", ASSETS.as_posix()))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tabs.setCurrentIndex(next(i for i in range(dialog.tabs.count()) if dialog.tabs.tabText(i) == "Agents"))
    run(qtbot, core.cache.store_agents(W.agents([*AGENTS, wide])))
    agents.refresh()  # the rows arrive after the dialog was built, as in the app
    view = dialog.agents_view
    row = next(r for r in range(agents.rowCount()) if agents.index(r, 0).data() == long_name)
    name_cell = agents.index(row, 0)
    needed = view.itemDelegate().sizeHint(_option(view), name_cell)
    qtbot.waitUntil(lambda: view.columnWidth(0) >= needed.width(), timeout=WAIT_MS)
    assert name_cell.data(Qt.ItemDataRole.ToolTipRole) == long_name
    assert agents.index(row, 1).data(Qt.ItemDataRole.ToolTipRole) == wide["email"]


def _option(view: Any) -> Any:
    from PySide6.QtWidgets import QStyleOptionViewItem

    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    return option
