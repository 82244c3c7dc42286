"""Collision awareness and a visitor's conversations in the main window (issue 15, items 4 and 6)."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.preferences import Preferences
from frontdesk.server.protocol import CONFIG_FIELDS, WidgetConfig
from PySide6.QtCore import Qt

from .conftest import NOW, FakeCore, conversation, fill, message, run


class _Sound:
    def play(self) -> None:
        pass


def _config(**changes: Any) -> WidgetConfig:
    values = {f.name: f.default for f in CONFIG_FIELDS}
    values.update(changes)
    return WidgetConfig(**values)


@pytest.fixture
def window(qtbot: Any, core: FakeCore, prefs: Preferences) -> MainWindow:
    fill(
        qtbot,
        core,
        [
            conversation(1, "Maya Patel", last_activity=NOW, visitor_id=7),
            conversation(2, "Lucas", assignee_id=2, last_activity=NOW - 60_000),
            conversation(3, "Maya Patel", status="resolved", last_activity=NOW - 120_000, visitor_id=7),
        ],
        [message(10, 1, 1, "Hello"), message(20, 2, 1, "Order missing"), message(30, 3, 1, "Last week")],
    )
    win = MainWindow(core, prefs, use_tray=False, sound=_Sound())  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    win.show()
    qtbot.waitExposed(win)
    return win


def test_the_header_shows_who_else_views_and_types(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """Opening a conversation tells the core (viewing); the others viewing and typing show in the header, for the
    open conversation only, and go when they leave; closing it tells the core it views none."""
    window.open_conversation(1)
    qtbot.waitUntil(lambda: core.viewing == 1)
    label = window.thread_pane.header.collision_label
    assert label.isHidden()
    core.emit("on_collision_changed", 2, ["Grace Hopper"], [])
    assert label.isHidden()
    core.emit("on_collision_changed", 1, ["Alan Turing", "Grace Hopper"], ["Grace Hopper"])
    assert label.isVisible()
    assert label.full_text() == "Alan Turing and Grace Hopper are also viewing  ·  Grace Hopper is typing a reply…"
    core.emit("on_collision_changed", 1, [], [])
    assert label.isHidden()
    window.close_conversation()
    qtbot.waitUntil(lambda: core.viewing is None)


def test_reply_assignee_only_says_why_before_typing(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """With reply_assignee_only, a conversation assigned to someone else shows the reason and leaves only notes;
    one's own or an unassigned conversation, or the setting off, allows replies again."""
    run(qtbot, core.cache.store_config(_config(reply_assignee_only=True)))
    core.emit("on_config_changed", core.cache.config())
    pane = window.thread_pane
    window.open_conversation(2)
    assert pane.reply_blocked_label.isVisible()
    assert pane.reply_blocked_label.text().startswith("Only Grace Hopper, the assignee, can reply here.")
    assert not pane.composer.reply_button.isEnabled() and pane.composer.is_note
    window.open_conversation(1)
    assert pane.reply_blocked_label.isHidden() and pane.composer.reply_button.isEnabled()
    assert not pane.composer.is_note
    window.open_conversation(2)
    assert pane.reply_blocked_label.isVisible()
    run(qtbot, core.cache.store_config(_config(reply_assignee_only=False)))
    core.emit("on_config_changed", core.cache.config())
    assert pane.reply_blocked_label.isHidden() and pane.composer.reply_button.isEnabled()


def test_the_visitor_panel_links_all_their_conversations(qtbot: Any, window: MainWindow) -> None:
    """The visitor panel lists every conversation of the visitor, the resolved one too; a click opens it."""
    window.open_conversation(1)
    model = window.history_model
    qtbot.waitUntil(lambda: model.rowCount() == 2)
    view = window.visitor.history
    rect = view.visualRect(model.index(1, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.open_conversation_id == 3)


def test_settings_turn_reply_assignee_only_on(qtbot: Any, core: FakeCore) -> None:
    """The settings dialog shows reply_assignee_only as a checkbox and saves just that key."""
    from frontdesk.console.ui.models import AgentsModel
    from frontdesk.console.ui.settings_dialog import SettingsDialog

    agents = AgentsModel(core)  # type: ignore[arg-type]
    agents.refresh()
    dialog = SettingsDialog(core, agents)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    run(qtbot, dialog.load())
    assert not dialog.reply_assignee_only_check.isChecked()
    dialog.reply_assignee_only_check.setChecked(True)
    assert run(qtbot, dialog.save())
    assert core.calls[-1] == ("set_config", {"reply_assignee_only": True})


def test_a_resolved_conversation_offers_notes_until_reopened(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """The server refuses replies in a resolved conversation: its composer says so and keeps notes; reopening
    gives Reply back."""
    pane = window.thread_pane
    window.open_conversation(3)
    assert pane.reply_blocked_label.isVisible()
    assert pane.reply_blocked_label.text().startswith("This conversation is resolved. Reopen it")
    assert not pane.composer.reply_button.isEnabled() and pane.composer.is_note
    run(qtbot, core.reopen(3))
    qtbot.waitUntil(lambda: pane.composer.reply_button.isEnabled())
    assert pane.reply_blocked_label.isHidden()


def test_the_collision_line_is_shown_whole_beside_every_header_button(
    qtbot: Any, window: MainWindow, core: FakeCore
) -> None:
    """At 1280 px, with all the header's buttons shown, the email and assignee line and who views and types fit
    on lines of the header's width: nothing is elided away (the assignee read "Assign…", the typing part "…")."""
    window.resize(1280, 800)
    window.open_conversation(2)  # someone else's: Assign to me, Assign, Snooze, Transfer and Resolve all show
    header = window.thread_pane.header
    assert header.assign_me_button.isVisible() and header.transfer_button.isVisible()
    core.emit("on_collision_changed", 2, ["Alan Turing", "Grace Hopper"], ["Grace Hopper"])
    label = header.collision_label
    qtbot.waitUntil(label.isVisible)
    qtbot.waitUntil(lambda: label.width() > 0)
    assert (
        label.text()
        == label.full_text()
        == ("Alan Turing and Grace Hopper are also viewing  ·  Grace Hopper is typing a reply…")
    )
    subtitle = header.subtitle
    assert "Assigned to Grace Hopper" in subtitle.full_text()
    assert subtitle.text() == subtitle.full_text()
    chip = header.status_chip  # beside the taller buttons, still its own height
    assert chip.height() == chip.sizeHint().height() < header.resolve_button.height()
