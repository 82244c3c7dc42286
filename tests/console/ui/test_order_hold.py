"""The inbox keeps its order under the agent's keyboard (issue 13, item 4): while the composer has the focus,
or shortly after a key was pressed in the list (on the window's injected clock), rows change in place and
move only when that ends."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.models import Roles
from frontdesk.console.ui.preferences import Preferences
from PySide6.QtCore import Qt

from tests.console import wireobj as W

from .conftest import NOW, FakeCore, conversation, fill, message, run


class _Clock:
    def __init__(self) -> None:
        self.now = NOW / 1000

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def window(qtbot: Any, core: FakeCore, prefs: Preferences, clock: _Clock) -> MainWindow:
    fill(
        qtbot,
        core,
        [
            conversation(1, "Maya", last_seq=1, preview="First", last_activity=NOW),
            conversation(2, "Lucas", last_seq=1, preview="Second", last_activity=NOW - 60_000),
            conversation(3, "Noor", last_seq=1, preview="Third", last_activity=NOW - 120_000),
        ],
        [message(10, 1, 1, "First"), message(20, 2, 1, "Second"), message(30, 3, 1, "Third")],
    )
    win = MainWindow(core, prefs, use_tray=False, clock=clock)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    win.show()
    qtbot.waitExposed(win)
    return win


def _ids(win: MainWindow) -> list[int]:
    model = win.inbox_model
    return [model.index(r, 0).data(Roles.ID) for r in range(model.rowCount())]


def _arrive(qtbot: Any, core: FakeCore, cid: int, seq: int, body: str, event_id: int) -> None:
    arrived = message(cid * 10 + seq, cid, seq, body, at=NOW + 5000)
    arrived["conversation"] = {"id": cid, "last_seq": seq, "last_activity": NOW + 5000, "preview": body}
    frame = {"type": "event", "kind": "message.created", "event_id": event_id, "data": arrived}
    core.announce(run(qtbot, core.cache.apply_events(W.events([frame]))))


def test_no_resort_while_the_composer_has_the_focus(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """A message to the bottom row while the agent types leaves the order alone (its preview updates in place);
    the row moves up once the composer loses the focus."""
    window.open_conversation(3)
    window.activateWindow()
    edit = window.thread_pane.composer.edit
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus)
    assert window.inbox_model.order_held
    _arrive(qtbot, core, 2, 2, "Moved?", 60)
    assert _ids(window) == [1, 2, 3]
    assert window.inbox_model.conversation(1).preview == "Moved?"  # type: ignore[union-attr]
    window.inbox.view.setFocus()
    qtbot.waitUntil(lambda: not window.inbox_model.order_held)
    assert _ids(window) == [2, 1, 3]


def test_no_resort_right_after_a_key_in_the_list(qtbot: Any, window: MainWindow, core: FakeCore, clock: _Clock) -> None:
    """A key pressed in the inbox holds the order for ORDER_HOLD_S on the injected clock; after that the held
    changes apply."""
    window.activateWindow()
    view = window.inbox.view
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    view.setCurrentIndex(window.inbox_model.index(0, 0))
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert window.inbox_model.order_held
    _arrive(qtbot, core, 3, 2, "Jump", 61)
    assert _ids(window) == [1, 2, 3]
    clock.now += MainWindow.ORDER_HOLD_S / 2
    window.update_order_hold()
    assert _ids(window) == [1, 2, 3]
    clock.now += MainWindow.ORDER_HOLD_S
    window.update_order_hold()
    assert not window.inbox_model.order_held
    assert _ids(window) == [3, 1, 2]
