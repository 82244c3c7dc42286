"""The snooze menu in the thread header and the Snoozed tab (PROTOCOL.md, "Snooze"), on a fake core over a
real cache."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.core.snooze import UNTIL_REPLY
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.models import FILTER_LABELS
from frontdesk.console.ui.preferences import Preferences
from PySide6.QtCore import Qt

from .conftest import NOW, WAIT_MS, FakeCore, conversation, fill, message
from .test_mainwindow import _ids, _Sound


@pytest.fixture
def window(qtbot: Any, core: FakeCore, prefs: Preferences) -> MainWindow:
    fill(
        qtbot,
        core,
        [
            conversation(1, "Maya Patel", last_seq=1, last_activity=NOW),
            conversation(2, "Lucas", last_seq=1, last_activity=NOW - 60_000),
        ],
        [message(10, 1, 1, "Hello"), message(20, 2, 1, "Order missing")],
    )
    win = MainWindow(core, prefs, use_tray=False, sound=_Sound())  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    win.show()
    qtbot.waitExposed(win)
    return win


def _menu_action(window: MainWindow, label: str) -> Any:
    menu = window.thread_pane.header.snooze_menu
    menu.aboutToShow.emit()
    return next(a for a in menu.actions() if a.text() == label)


def test_snooze_until_the_reply_moves_the_conversation_to_the_snoozed_tab(
    qtbot: Any, window: MainWindow, core: FakeCore
) -> None:
    """ "Until the visitor replies" queues a snooze without a time; the header says so, "All open" drops the
    conversation and the Snoozed tab lists it; the button hides once it is resolved."""
    window.inbox.select_conversation(1)
    header = window.thread_pane.header
    assert header.snooze_button.isVisibleTo(window)
    _menu_action(window, UNTIL_REPLY).trigger()
    qtbot.waitUntil(lambda: ("snooze", 1) in core.calls, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: 1 not in _ids(window), timeout=WAIT_MS)
    assert "Snoozed until the visitor replies" in header.subtitle.full_text()
    assert header.status_chip.text() == "Snoozed"
    snoozed_tab = [name for name, _ in FILTER_LABELS].index("snoozed")
    window.filter_actions[snoozed_tab].trigger()
    qtbot.waitUntil(lambda: _ids(window) == [1], timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: ("resolve", 1) in core.calls, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not header.snooze_button.isVisibleTo(window), timeout=WAIT_MS)


def test_a_preset_snoozes_until_its_time(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """A preset sends its time: "For 1 hour" is about an hour from now."""
    window.inbox.select_conversation(2)
    _menu_action(window, "For 1 hour").trigger()
    qtbot.waitUntil(lambda: any(c[:2] == ("snooze", 2) for c in core.calls), timeout=WAIT_MS)
    [call] = [c for c in core.calls if c[:2] == ("snooze", 2)]
    import time

    assert abs(call[2] - (time.time() * 1000 + 3_600_000)) < 60_000


def test_transfer_dialog_needs_a_target_and_sends_agent_team_and_note(
    qtbot: Any, window: MainWindow, core: FakeCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transfer… is enabled once an agent or a team is chosen; accepting queues the transfer with the note, and
    the inbox shows the new assignee at once."""
    from frontdesk.console.ui.transfer import TransferDialog
    from frontdesk.server.protocol import Team

    window.inbox.select_conversation(1)
    dialog = TransferDialog(core.cache.agents(), [Team(id=7, name="Billing", member_ids=[3])], window)
    qtbot.addWidget(dialog)
    assert not dialog.transfer_button.isEnabled()
    target = next(a for a in core.cache.agents() if a.active and a.id != 1)
    dialog.agent_combo.setCurrentIndex(dialog.agent_combo.findData(target.id))
    dialog.team_combo.setCurrentIndex(dialog.team_combo.findData(7))
    assert dialog.transfer_button.isEnabled()
    dialog.note_edit.setPlainText("  Refund question  ")
    monkeypatch.setattr(window, "transfer_dialog", lambda: dialog)
    monkeypatch.setattr(dialog, "exec", lambda: TransferDialog.DialogCode.Accepted)
    window.thread_pane.header.transfer_button.click()
    qtbot.waitUntil(lambda: ("transfer", 1, target.id, 7, "Refund question") in core.calls, timeout=WAIT_MS)
    assert f"Assigned to {target.name}" in window.thread_pane.header.subtitle.full_text()
