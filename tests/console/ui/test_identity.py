"""An identity the site claimed without proof shows as *Unverified* wherever
the visitor's name or user id appears: inbox row, thread header, visitor panel
(issue 20 item 2)."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.ui.inbox import UNVERIFIED_TAG
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.models import Roles
from frontdesk.console.ui.preferences import Preferences
from PySide6.QtCore import Qt

from tests.console import wireobj as W

from .conftest import NOW, FakeCore, conversation, fill, run, visitor


@pytest.fixture
def window(qtbot: Any, core: FakeCore, prefs: Preferences) -> MainWindow:
    claimed = conversation(1, "Maya Patel", last_activity=NOW)
    claimed["visitor"] = visitor(1, "Maya Patel", user_id="u-123", verified=False)
    proven = conversation(2, "Lucas", last_activity=NOW - 60_000)
    proven["visitor"] = visitor(2, "Lucas", user_id="u-456", verified=True)
    anonymous = conversation(3, "Ines", last_activity=NOW - 120_000)  # a pre-chat name, no identity claimed
    fill(qtbot, core, [claimed, proven, anonymous])
    win = MainWindow(core, prefs, use_tray=False)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    win.show()
    qtbot.waitExposed(win)
    return win


def _row(win: MainWindow, cid: int) -> Any:
    model = win.inbox_model
    row = model.row_of(cid)
    assert row is not None
    return model.index(row, 0)


def test_inbox_row_says_unverified_for_a_claimed_identity(window: MainWindow) -> None:
    """The inbox row of an unverified claim is flagged (painted tag, accessible text, tooltip); others are not."""
    claimed, proven, anonymous = (_row(window, c) for c in (1, 2, 3))
    assert claimed.data(Roles.UNVERIFIED) is True
    assert claimed.data(Qt.ItemDataRole.AccessibleTextRole) == "Maya Patel (unverified)"
    assert "Unverified" in claimed.data(Qt.ItemDataRole.ToolTipRole) and "u-123" in claimed.data(
        Qt.ItemDataRole.ToolTipRole
    )
    assert claimed.data() == "Maya Patel"  # the name itself is unchanged
    for other in (proven, anonymous):
        assert other.data(Roles.UNVERIFIED) is False
        assert "(unverified)" not in other.data(Qt.ItemDataRole.AccessibleTextRole)
    assert UNVERIFIED_TAG == "Unverified"


def test_inbox_delegate_paints_the_unverified_tag(qtbot: Any, window: MainWindow) -> None:
    """The painted inbox row of an unverified claim differs from the same row once verified."""
    view = window.inbox.view
    rect = view.visualRect(_row(window, 1))
    before = view.viewport().grab(rect).toImage()
    row = window.inbox_model.conversation(0)
    assert row is not None and row.id == 1
    import dataclasses

    window.inbox_model._rows[0] = dataclasses.replace(row, visitor_verified=True)
    view.viewport().repaint()
    after = view.viewport().grab(rect).toImage()
    assert before != after


def test_thread_header_and_visitor_panel_say_unverified(qtbot: Any, window: MainWindow) -> None:
    """Opening the claimed visitor shows Unverified beside the name in the header and the panel, with the user id."""
    window.open_conversation(1)
    header, pane = window.thread_pane.header, window.visitor
    qtbot.waitUntil(lambda: pane.visitor is not None)
    assert header.title.text() == "Maya Patel" and header.unverified_badge.isVisibleTo(window)
    assert pane.unverified_badge.isVisibleTo(window) and not pane.badge.isVisibleTo(window)
    assert pane.values["user_id"].text() == "u-123 (unverified)"


def test_verified_and_anonymous_visitors_are_not_flagged(qtbot: Any, window: MainWindow) -> None:
    """A verified identity shows Verified (not Unverified); a visitor who claimed none shows neither."""
    header, pane = window.thread_pane.header, window.visitor
    window.open_conversation(2)
    qtbot.waitUntil(lambda: pane.visitor is not None and pane.visitor.id == 2)
    assert pane.badge.isVisibleTo(window) and not pane.unverified_badge.isVisibleTo(window)
    assert not header.unverified_badge.isVisibleTo(window)
    assert pane.values["user_id"].text() == "u-456 (verified)"
    window.open_conversation(3)
    qtbot.waitUntil(lambda: pane.visitor is not None and pane.visitor.id == 3)
    assert not pane.badge.isVisibleTo(window) and not pane.unverified_badge.isVisibleTo(window)
    assert not header.unverified_badge.isVisibleTo(window)
    assert pane.values["user_id"].text() == "—"


def test_a_live_identify_turns_the_open_conversation_unverified(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """A visitor.updated that claims a user id (verified false) flags the open header and the inbox row at once."""
    window.open_conversation(3)
    assert not window.thread_pane.header.unverified_badge.isVisibleTo(window)
    claim = visitor(3, "Ines", user_id="u-999", verified=False)
    event = {"type": "event", "kind": "visitor.updated", "event_id": 7, "data": claim}
    applied = run(qtbot, core.cache.apply_events(W.events([event])))
    core.announce(applied)
    assert window.thread_pane.header.unverified_badge.isVisibleTo(window)
    assert _row(window, 3).data(Roles.UNVERIFIED) is True
    qtbot.waitUntil(lambda: window.visitor.values["user_id"].text() == "u-999 (unverified)")
