"""The main window wired to a (fake) core over a real cache."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.core import ConnectionState, Notification, ThreadItem
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.models import Roles
from frontdesk.console.ui.preferences import Preferences
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from tests.console import wireobj as W

from .conftest import NOW, WAIT_MS, FakeCore, agent, conversation, fill, message, run


class _Sound:
    def __init__(self) -> None:
        self.played = 0

    def play(self) -> None:
        self.played += 1


@pytest.fixture
def window(qtbot: Any, core: FakeCore, prefs: Preferences) -> MainWindow:
    fill(
        qtbot,
        core,
        [
            conversation(1, "Maya Patel", unread=2, last_seq=2, preview="Anyone there?", last_activity=NOW),
            conversation(2, "Lucas", assignee_id=2, last_seq=1, last_activity=NOW - 60_000),
            conversation(3, "<b>Bold</b> Name", last_seq=1, last_activity=NOW - 120_000),
        ],
        [
            message(10, 1, 1, "Hello"),
            message(11, 1, 2, "Anyone there?"),
            message(20, 2, 1, "Order missing"),
            message(30, 3, 1, "<i>not italic</i>"),
        ],
    )
    win = MainWindow(core, prefs, use_tray=False, sound=_Sound())  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    win.show()
    qtbot.waitExposed(win)
    return win


def _ids(win: MainWindow) -> list[int]:
    model = win.inbox_model
    return [model.index(r, 0).data(Roles.ID) for r in range(model.rowCount())]


def test_opens_on_the_cached_inbox(window: MainWindow) -> None:
    """The window shows the cached open conversations at once, newest first, unread in bold."""
    assert _ids(window) == [1, 2, 3]
    assert window.inbox_model.index(0, 0).data(Qt.ItemDataRole.FontRole).bold()
    assert window.status.connection.text == "Online"
    assert window.windowTitle() == "(2) Frontdesk"


def test_selecting_a_conversation_shows_thread_and_visitor(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """Clicking a row opens its thread and the visitor's details, and marks it seen."""
    window.inbox.select_conversation(1)
    assert window.open_conversation_id == 1
    assert core.focused_conversation == 1
    bodies = [window.thread_model.index(r, 0).data() for r in range(window.thread_model.rowCount())]
    assert bodies[-2:] == ["Hello", "Anyone there?"]
    assert window.thread_pane.header.title.text() == "Maya Patel"
    assert window.visitor.name_label.text() == "Maya Patel"
    assert window.visitor.values["browser"].text() == "Firefox 133"
    assert window.visitor.values["page"].text() == "Pricing\nhttps://example.com/pricing"
    assert "Europe/London" in window.visitor.values["local_time"].text()
    qtbot.waitUntil(lambda: ("seen", 1) in core.calls, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.inbox_model.conversation(0).unread == 0, timeout=WAIT_MS)  # type: ignore[union-attr]


def test_clicking_a_conversation_puts_the_keyboard_in_its_composer(qtbot: Any, window: MainWindow) -> None:
    """A row clicked in the inbox opens the conversation and the agent can type the reply at once."""
    view = window.inbox.view
    view.setFocus()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(view.model().index(1, 0)).center())
    assert window.open_conversation_id == 2
    qtbot.waitUntil(lambda: window.thread_pane.composer.edit.hasFocus(), timeout=WAIT_MS)
    qtbot.keyClicks(window.thread_pane.composer.edit, "On its way")
    assert window.thread_pane.composer.edit.toPlainText() == "On its way"


def test_user_text_is_plain(window: MainWindow) -> None:
    """Names and messages with markup are shown literally (labels are PlainText)."""
    window.inbox.select_conversation(3)
    assert window.thread_pane.header.title.text() == "<b>Bold</b> Name"
    for label in window.findChildren(QLabel):
        assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()
    last = window.thread_model.item(window.thread_model.rowCount() - 1)
    assert isinstance(last, ThreadItem) and last.body == "<i>not italic</i>"


def test_reply_from_the_composer_is_pending_then_failed_with_retry(
    qtbot: Any, window: MainWindow, core: FakeCore
) -> None:
    """Enter queues a reply (shown pending at once); a rejection shows it failed with a Retry that works."""
    window.inbox.select_conversation(1)
    edit = window.thread_pane.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "On it!")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ("reply", 1, "On it!") in core.calls, timeout=WAIT_MS)
    model = window.thread_model
    last = model.item(model.rowCount() - 1)
    assert isinstance(last, ThreadItem) and (last.body, last.delivery) == ("On it!", "pending")
    assert window.status.outbox_text == "1 pending"
    assert last.outbox_id is not None
    run(qtbot, core.fail(last.outbox_id, 1, "conflict", "resolved by Grace meanwhile"))
    failed = model.item(model.rowCount() - 1)
    assert isinstance(failed, ThreadItem) and failed.delivery == "failed"
    assert failed.error == "resolved by Grace meanwhile"
    index = model.index(model.rowCount() - 1, 0)
    window.thread_pane.view.scrollTo(index)
    rect = window.thread_pane.view.delegate.retry_rect(index)
    assert rect is not None
    qtbot.mouseClick(window.thread_pane.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: ("retry", failed.outbox_id) in core.calls, timeout=WAIT_MS)


def test_private_note_from_the_composer(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """Ctrl+Shift+N switches to note mode and the text is sent as a private note."""
    window.inbox.select_conversation(2)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.thread_pane.composer.is_note
    window.thread_pane.composer.edit.setPlainText("Checked with the courier")
    qtbot.keyClick(window.thread_pane.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ("note", 2, "Checked with the courier") in core.calls, timeout=WAIT_MS)
    last = window.thread_model.item(window.thread_model.rowCount() - 1)
    assert isinstance(last, ThreadItem) and last.kind == "note"


def test_actions_resolve_assign_and_unassign(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """Ctrl+E resolves, Ctrl+I assigns to me, Unassign unassigns; the inbox follows at once."""
    window.inbox.select_conversation(1)
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: ("assign", 1, 1) in core.calls, timeout=WAIT_MS)
    assert window.thread_pane.header.subtitle.full_text().endswith("Assigned to you  ·  1 change waiting to sync")
    window.unassign_action.trigger()
    qtbot.waitUntil(lambda: ("unassign", 1) in core.calls, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: ("resolve", 1) in core.calls, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: 1 not in _ids(window), timeout=WAIT_MS)  # "All open" no longer lists it
    assert window.open_conversation_id == 1  # ...but it stays on screen
    assert window.thread_pane.header.resolve_button.text() == "Reopen"
    window.thread_pane.header.assign_requested.emit(3)
    qtbot.waitUntil(lambda: ("assign", 1, 3) in core.calls, timeout=WAIT_MS)


def test_assign_menu_lists_agents_with_presence(window: MainWindow) -> None:
    """Assign to… lists the active agents with a presence dot, and Unassign."""
    window.inbox.select_conversation(2)
    menu = window.thread_pane.header.assign_menu
    window.thread_pane.header.fill_assign_menu(menu)
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["●  Ada Lovelace", "○  Alan Turing", "●  Grace Hopper   (assigned)", "Unassign"]


def test_keyboard_moves_through_the_inbox_and_filters(qtbot: Any, window: MainWindow) -> None:
    """Ctrl+Down/Up move through conversations; Ctrl+2 switches to Unassigned."""
    window.inbox.search.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    assert window.open_conversation_id == 1
    qtbot.keyClick(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    assert window.open_conversation_id == 2
    qtbot.keyClick(window, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
    assert window.open_conversation_id == 1
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.inbox_model.filter == "unassigned"
    assert _ids(window) == [1, 3]


def test_search_box_filters_from_the_cache(qtbot: Any, window: MainWindow) -> None:
    """Typing in the search box (after a short pause) lists the matching conversations (more in test_search.py)."""
    qtbot.keyClicks(window.inbox.search, "missing")
    results = window.search_model
    qtbot.waitUntil(
        lambda: [results.index(r, 0).data(Roles.ID) for r in range(results.rowCount())] == [2], timeout=WAIT_MS
    )


def test_help_lists_the_shortcuts(qtbot: Any, window: MainWindow) -> None:
    """F1 opens a help dialog listing every shortcut, built from the actions themselves."""
    dialog = window.open_help()
    shown = dict(dialog.rows)
    assert shown["Resolve or reopen"] == "Ctrl+E"
    assert shown["Next conversation"].startswith("Ctrl+Down")
    assert "Keyboard shortcuts" in shown
    dialog.close()


def test_notification_banner_and_unread_count(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """A new conversation notification shows the banner (no tray here); Open shows the conversation."""
    core.emit("on_notification", Notification("new_conversation", 2, "New conversation", "Lucas: Order missing"))
    assert window.banner.isVisible()
    assert window.banner.title == "New conversation"
    qtbot.mouseClick(window.banner.open_button, Qt.MouseButton.LeftButton)
    assert window.open_conversation_id == 2
    assert window.notifier.sound.played == 1  # type: ignore[attr-defined]


def test_typing_indicator_and_connection_state(window: MainWindow, core: FakeCore) -> None:
    """The visitor's typing shows under the thread; the status bar follows the connection."""
    window.inbox.select_conversation(1)
    core.emit("on_typing", 1, True, None)
    assert window.thread_pane.typing_label.text() == "Maya Patel is typing…"
    core.emit("on_typing", 2, True, None)
    assert window.thread_pane.typing_label.text() == "Maya Patel is typing…"
    core.emit("on_typing", 1, False, None)
    assert window.thread_pane.typing_label.isHidden()
    core.emit("on_state_changed", ConnectionState.OFFLINE)
    assert window.status.connection.text == "Offline"
    core.emit("on_synced", 1_764_120_000.0)
    assert window.status.synced_text.startswith("synced")


def test_plain_agent_cannot_open_settings(qtbot: Any, core: FakeCore, prefs: Preferences) -> None:
    """For a plain agent the Settings action is hidden and disabled, and open_settings refuses."""
    core.me = W.agent(agent(2, "Grace Hopper"))
    win = MainWindow(core, prefs, use_tray=False)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    assert not win.settings_action.isVisible() and not win.settings_action.isEnabled()
    assert win.open_settings() is None


def test_admin_opens_settings(qtbot: Any, window: MainWindow) -> None:
    """An admin gets the settings dialog, loaded from the server."""
    dialog = window.open_settings()
    assert dialog is not None
    qtbot.waitUntil(dialog.save_button.isEnabled, timeout=WAIT_MS)
    assert dialog.business_name_edit.text() == "Example"
    dialog.reject()


def test_scrolling_to_the_top_loads_older_messages(qtbot: Any, core: FakeCore, prefs: Preferences) -> None:
    """The thread shows the latest page; scrolling to the top loads older ones, keeping the view in place."""
    msgs = [message(1000 + s, 9, s, f"message number {s}", at=NOW + s * 1000) for s in range(1, 181)]
    fill(qtbot, core, [conversation(9, "Long Talker", last_seq=180)], msgs)
    win = MainWindow(core, prefs, use_tray=False)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    win.show()
    win.inbox.select_conversation(9)
    model = win.thread_model
    assert model.oldest_seq() == 81
    bar = win.thread_pane.view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=WAIT_MS)
    bar.setValue(bar.minimum())
    qtbot.waitUntil(lambda: model.oldest_seq() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bar.value() > bar.minimum(), timeout=WAIT_MS)


def test_tray_badge_icon_draws_the_count(qapp: Any) -> None:
    """The tray icon gets a badge with the unread count (and none at zero)."""
    from frontdesk.console.ui.notifications import badge_icon
    from frontdesk.console.ui.theme import app_icon

    base = app_icon()
    with_badge = badge_icon(base, 7).pixmap(64, 64).toImage()
    without = badge_icon(base, 0).pixmap(64, 64).toImage()
    assert not with_badge.isNull()
    assert with_badge != without


def test_mark_pending_and_typing_expiry(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """Ctrl+Shift+P marks an open conversation pending; a typing indicator without a stop expires."""
    window.inbox.select_conversation(1)
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: ("pend", 1) in core.calls, timeout=WAIT_MS)
    window._typing_timer.setInterval(50)
    core.emit("on_typing", 1, True, None)
    assert window.thread_pane.typing_label.isVisibleTo(window)
    qtbot.waitUntil(window.thread_pane.typing_label.isHidden, timeout=WAIT_MS)


def test_visitor_message_on_screen_is_marked_seen_once(
    qtbot: Any, window: MainWindow, core: FakeCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A visitor message in the conversation on screen is marked seen once, after the change, without re-entry."""
    monkeypatch.setattr(window, "_is_on_screen", lambda cid: cid == window.open_conversation_id)
    window.open_conversation(1)
    qtbot.waitUntil(lambda: core.calls.count(("seen", 1)) == 1, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: window.thread_model.conversation is not None and not window.thread_model.conversation.unread
    )
    arrived = message(12, 1, 3, "Still there?", at=NOW + 1000)
    arrived["conversation"] = conversation(1, last_seq=3, unread=1, last_activity=NOW + 1000, preview="Still there?")
    frame = {"type": "event", "kind": "message.created", "event_id": 50, "data": arrived}
    core.announce(run(qtbot, core.cache.apply_events(W.events([frame]))))
    qtbot.waitUntil(lambda: core.calls.count(("seen", 1)) == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.thread_model.conversation.unread)  # type: ignore[union-attr]
    assert core.calls.count(("seen", 1)) == 2
    assert window.windowTitle() == "Frontdesk"  # the unread count went back to zero


def test_message_arriving_in_the_background_is_seen_when_the_window_is_activated(
    qtbot: Any, window: MainWindow, core: FakeCore
) -> None:
    """Open conversation, window in the background: the message stays unread and notifies; activating marks it seen."""
    from PySide6.QtWidgets import QWidget

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    window.open_conversation(1)
    qtbot.waitUntil(lambda: core.calls.count(("seen", 1)) == 1, timeout=WAIT_MS)
    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: not window.isActiveWindow(), timeout=WAIT_MS)
    assert core.focused_conversation is None  # the core may notify about it now
    arrived = message(12, 1, 3, "Still there?", at=NOW + 1000)
    arrived["conversation"] = {"id": 1, "last_seq": 3, "unread_agent": 1, "last_activity": NOW + 1000}
    frame = {"type": "event", "kind": "message.created", "event_id": 50, "data": arrived}
    core.announce(run(qtbot, core.cache.apply_events(W.events([frame]))))
    qtbot.waitUntil(lambda: window.thread_model.conversation.unread == 1, timeout=WAIT_MS)  # type: ignore[union-attr]
    assert window.notifier.notify_core(Notification("new_message", 1, "Maya Patel", "Still there?"))
    assert core.calls.count(("seen", 1)) == 1
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: core.calls.count(("seen", 1)) == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.thread_model.conversation.unread, timeout=WAIT_MS)  # type: ignore[union-attr]
    assert core.focused_conversation == 1


def test_my_messages_show_seen_with_the_time_once_the_visitor_read_them(
    qtbot: Any, window: MainWindow, core: FakeCore
) -> None:
    """The widget's ``seen`` turns "Sent" into "Seen HH:MM" on the newest read reply, "Seen" on older ones."""
    from frontdesk.console.ui.formatting import clock_time

    window.open_conversation(1)
    frames = [
        {"type": "event", "kind": "message.created", "event_id": 60 + n, "data": reply}
        for n, reply in enumerate(
            [
                message(13, 1, 3, "We are here", kind="agent", author="Ada Lovelace", at=NOW + 1000),
                message(14, 1, 4, "How can I help?", kind="agent", author="Ada Lovelace", at=NOW + 2000),
            ]
        )
    ]
    core.announce(run(qtbot, core.cache.apply_events(W.events(frames))))
    delegate = window.thread_pane.view.delegate
    model = window.thread_model

    def metas() -> list[str]:
        rows = [model.item(r) for r in range(model.rowCount())]
        return [delegate._meta_text(i) for i in rows if isinstance(i, ThreadItem) and i.kind == "agent"]

    qtbot.waitUntil(lambda: len(metas()) == 2, timeout=WAIT_MS)
    assert all(m.endswith("· Sent") for m in metas())
    seen = {"type": "event", "kind": "seen", "data": {"conversation_id": 1, "seq": 4, "side": "visitor"}}
    with qtbot.waitSignal(model.dataChanged, timeout=WAIT_MS):
        core.announce(run(qtbot, core.cache.apply_events(W.events([seen]))))
    row = model.conversation
    assert row is not None and row.visitor_seen_at is not None
    first, newest = metas()
    assert first.endswith("· Seen")
    assert newest.endswith(f"· Seen {clock_time(row.visitor_seen_at)}")


def test_http_links_in_messages_open_in_the_system_browser(qtbot: Any, core: FakeCore, prefs: Preferences) -> None:
    """Clicking an http(s) link in a message opens it (the injected openUrl); other text and schemes do nothing."""
    from frontdesk.console.ui.thread._delegate import find_links
    from PySide6.QtCore import QPoint, QUrl

    text = "see https://x.io/a. or (https://en.wikipedia.org/wiki/Up_(film)) ftp://no"
    wiki = "https://en.wikipedia.org/wiki/Up_(film)"
    assert find_links(text) == [(4, 18, "https://x.io/a"), (text.index(wiki), text.index(wiki) + len(wiki), wiki)]
    assert find_links("javascript:alert(1) file:///etc/passwd http://") == []
    body = "Prices: https://example.com/pricing. Thanks"
    fill(qtbot, core, [conversation(1, "Maya", last_seq=1)], [message(10, 1, 1, body)])
    opened: list[QUrl] = []
    window = MainWindow(core, prefs, use_tray=False, sound=_Sound(), open_url=opened.append)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    window.attach()
    window.show()
    qtbot.waitExposed(window)
    window.open_conversation(1)
    view, model = window.thread_pane.view, window.thread_model
    row = next(r for r in range(model.rowCount()) if isinstance(model.item(r), ThreadItem))
    index = model.index(row, 0)
    qtbot.waitUntil(lambda: view.visualRect(index).height() > 0, timeout=WAIT_MS)
    geo = view.delegate._geometry(model.item(row), view.delegate._width())  # type: ignore[arg-type]
    line = geo.layout.lineAt(0)
    origin = view.visualRect(index).topLeft() + geo.text.topLeft()

    def at(char: int) -> QPoint:
        return origin + QPoint(int(line.cursorToX(char)[0]) + 2, int(line.height() / 2))

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at(2))  # "Prices"
    assert opened == []
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at(body.index("example")))
    assert opened == [QUrl("https://example.com/pricing")]
