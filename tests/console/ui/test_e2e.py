"""End to end: the real console (core + UI) against a real server subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import ConnectionState, ConsoleCore, MemoryTokenStore, ServerError, ThreadItem
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.models import Roles
from frontdesk.console.ui.preferences import Preferences
from PySide6.QtCore import Qt

from tests.support import SCALE, TIMEOUT, RunningServer, WsClient, new_client_id
from tests.support import ServerError as WireError

from .conftest import run

LONG_MS = int(3 * TIMEOUT * 1000)


class _Sound:
    def __init__(self) -> None:
        self.played = 0

    def play(self) -> None:
        self.played += 1


class Console:
    """One running console: a real core and its main window."""

    def __init__(self, qtbot: Any, server: RunningServer, folder: Path, email: str, password: str) -> None:
        self.qtbot = qtbot
        self.core = ConsoleCore(server.http_url, folder, MemoryTokenStore())
        run(qtbot, self.core.login(email, password, remember=False), LONG_MS)
        # Not qtbot.addWidget: the window must outlive pytest-qt's widget
        # cleanup until close() has stopped the core.
        self.window = MainWindow(self.core, Preferences(folder / "prefs.json"), use_tray=False, sound=_Sound())  # type: ignore[arg-type]
        self.window.attach()
        self.window.show()
        run(qtbot, self.core.start())
        qtbot.waitUntil(lambda: self.core.state is ConnectionState.ONLINE, timeout=LONG_MS)

    def inbox_ids(self) -> list[int]:
        model = self.window.inbox_model
        return [model.index(r, 0).data(Roles.ID) for r in range(model.rowCount())]

    def close(self) -> None:
        run(self.qtbot, self.window.settle(), LONG_MS)  # as the console does when it stops
        self.window.detach()
        run(self.qtbot, self.core.stop(), LONG_MS)
        self.window.close()
        self.window.deleteLater()


@pytest.fixture
def consoles(qtbot: Any, aloop: Any, server: RunningServer, tmp_path: Path) -> Iterator[list[Console]]:
    """Consoles opened by the test; stopped afterwards."""
    opened: list[Console] = []
    yield opened
    for console in opened:
        console.close()


@pytest.fixture
def visitors(qtbot: Any, aloop: Any) -> Iterator[list[WsClient]]:
    """Visitor sockets opened by the test; closed afterwards."""
    opened: list[WsClient] = []
    yield opened
    for client in opened:
        run(qtbot, client.close())


def _visitor(qtbot: Any, server: RunningServer, visitors: list[WsClient], **hello: Any) -> WsClient:
    client, _ = run(qtbot, WsClient.visitor(server, **hello))
    visitors.append(client)
    return client


def test_visitor_message_reaches_console_and_reply_reaches_visitor(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console], visitors: list[WsClient]
) -> None:
    """A visitor writes; the console lists it and shows a banner; the agent's reply reaches the visitor."""
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    visitor = _visitor(qtbot, server, visitors, meta={"url": "https://example.com/pricing", "timezone": "Europe/Paris"})
    sent = run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="Hello, is anyone there?"))
    cid = int(sent["conversation_id"])
    window = admin.window
    qtbot.waitUntil(lambda: cid in admin.inbox_ids(), timeout=LONG_MS)
    qtbot.waitUntil(window.banner.isVisible, timeout=LONG_MS)
    assert "Hello, is anyone there?" in window.banner.body
    assert not window.notifier.uses_tray

    window.inbox.select_conversation(cid)
    qtbot.waitUntil(lambda: window.thread_model.message_count() == 1, timeout=LONG_MS)
    edit = window.thread_pane.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "Yes! How can I help?")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    event = run(
        qtbot,
        visitor.next_event("message.created", body="Yes! How can I help?", timeout=3 * TIMEOUT),
        LONG_MS,
    )
    assert event["data"]["author_kind"] == "agent"

    def delivered() -> bool:
        model = window.thread_model
        last = model.item(model.rowCount() - 1)
        return isinstance(last, ThreadItem) and last.body == "Yes! How can I help?" and last.delivery == "sent"

    qtbot.waitUntil(delivered, timeout=LONG_MS)
    assert window.status.outbox_text == ""


def test_an_erased_visitors_open_conversation_leaves_the_screen(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console], visitors: list[WsClient]
) -> None:
    """`frontdesk visitor erase` while the agent has the visitor's thread open clears the thread and the details."""
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    visitor = _visitor(qtbot, server, visitors)
    run(qtbot, visitor.request("profile.update", name="Erin Erasable"))
    sent = run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="please forget me"))
    cid = int(sent["conversation_id"])
    window = admin.window
    qtbot.waitUntil(lambda: cid in admin.inbox_ids(), timeout=LONG_MS)
    window.inbox.select_conversation(cid)
    qtbot.waitUntil(lambda: window.thread_model.message_count() == 1, timeout=LONG_MS)
    assert window.thread_pane.view.isVisible()
    server.cli("visitor", "erase", "--id", str(sent["message"]["author_id"]))
    qtbot.waitUntil(lambda: cid not in admin.inbox_ids(), timeout=LONG_MS)
    qtbot.waitUntil(lambda: window.thread_model.rowCount() == 0, timeout=LONG_MS)
    assert not window.thread_pane.view.isVisible() and window.thread_pane.empty.isVisible()
    assert window.history_model.visitor is None and window.history_model.rowCount() == 0


def test_resolve_and_assign_in_one_console_appear_in_another(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console], visitors: list[WsClient]
) -> None:
    """Assigning to Grace and resolving in Ada's console show up in Grace's console."""
    grace_password = server.add_agent("grace@demo.test", "Grace")
    ada = Console(qtbot, server, tmp_path / "ada", server.admin_email, server.admin_password)
    grace = Console(qtbot, server, tmp_path / "grace", "grace@demo.test", grace_password)
    consoles.extend([ada, grace])
    visitor = _visitor(qtbot, server, visitors)
    cid = int(run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="Help!"))["conversation_id"])
    qtbot.waitUntil(lambda: cid in ada.inbox_ids() and cid in grace.inbox_ids(), timeout=LONG_MS)
    grace_id = grace.core.me.id  # type: ignore[union-attr]

    ada.window.inbox.select_conversation(cid)
    ada.window.thread_pane.header.assign_requested.emit(grace_id)
    grace.window.inbox.set_filter("mine")
    qtbot.waitUntil(lambda: grace.inbox_ids() == [cid], timeout=LONG_MS)
    assert grace.window.inbox_model.index(0, 0).data(Roles.ASSIGNEE) == "Grace"

    grace.window.inbox.set_filter("open")
    grace.window.inbox.select_conversation(cid)
    ada.window.resolve_action.trigger()
    qtbot.waitUntil(lambda: cid not in grace.inbox_ids(), timeout=LONG_MS)
    qtbot.waitUntil(lambda: grace.window.thread_pane.header.resolve_button.text() == "Reopen", timeout=LONG_MS)
    grace.window.inbox.set_filter("resolved")
    assert grace.inbox_ids() == [cid]


def test_settings_change_reaches_an_open_widget_live(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console], visitors: list[WsClient]
) -> None:
    """An admin saves a new greeting and colour; a connected visitor gets config.updated at once."""
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    visitor = _visitor(qtbot, server, visitors)
    dialog = admin.window.open_settings()
    assert dialog is not None
    qtbot.waitUntil(dialog.save_button.isEnabled, timeout=LONG_MS)
    dialog.greeting_edit.setPlainText("Welcome to Demo! Ask us anything.")
    dialog.color_edit.setText("#0f766e")
    with qtbot.waitSignal(dialog.saved, timeout=LONG_MS):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    event = run(qtbot, visitor.next_event("config.updated", timeout=3 * TIMEOUT), LONG_MS)
    assert event["data"]["greeting"] == "Welcome to Demo! Ask us anything."
    assert event["data"]["color"] == "#0f766e"
    assert "allowed_origins" not in event["data"]
    dialog.reject()


def test_a_config_the_server_refuses_is_shown_next_to_its_field(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console]
) -> None:
    """The server's invalid error (which names the key) is shown beside that field, not swallowed."""
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    with pytest.raises(ServerError) as caught:
        run(qtbot, admin.core.set_config({"color": "blue"}), LONG_MS)
    assert caught.value.code == "invalid"
    dialog = admin.window.open_settings()
    assert dialog is not None
    qtbot.waitUntil(dialog.save_button.isEnabled, timeout=LONG_MS)
    dialog.show_error("color", caught.value.message)
    assert "color" in dialog.error_text("color")
    dialog.reject()


def test_plain_agent_cannot_open_settings_and_server_refuses(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console]
) -> None:
    """A plain agent has no Settings action, and a forged config.set gets forbidden."""
    password = server.add_agent("bob@demo.test", "Bob")
    bob = Console(qtbot, server, tmp_path / "bob", "bob@demo.test", password)
    consoles.append(bob)
    assert not bob.window.settings_action.isVisible()
    assert bob.window.open_settings() is None
    with pytest.raises(ServerError) as caught:
        run(qtbot, bob.core.set_config({"greeting": "pwned"}), LONG_MS)
    assert caught.value.code == "forbidden"
    client, _ = run(qtbot, WsClient.agent(server, "bob@demo.test", password, subscribe=False))
    try:
        with pytest.raises(WireError) as wire:
            run(qtbot, client.request("config.set", config={"greeting": "pwned"}))
        assert wire.value.code == "forbidden"
    finally:
        run(qtbot, client.close())


def test_offline_reply_is_queued_and_delivered_on_reconnect(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console], visitors: list[WsClient]
) -> None:
    """With the server down the console says Offline and queues a reply; it is delivered once it is back."""
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    visitor = _visitor(qtbot, server, visitors)
    hello = run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="Still there?"))
    cid = int(hello["conversation_id"])
    qtbot.waitUntil(lambda: cid in admin.inbox_ids(), timeout=LONG_MS)
    run(qtbot, visitor.close())
    visitors.remove(visitor)
    server.stop()
    qtbot.waitUntil(lambda: admin.window.status.connection.state != "online", timeout=LONG_MS)
    admin.window.inbox.select_conversation(cid)
    admin.window.thread_pane.composer.edit.setPlainText("Back in a minute")
    qtbot.keyClick(admin.window.thread_pane.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: admin.window.status.outbox_text == "1 pending", timeout=LONG_MS)
    server.start()
    qtbot.waitUntil(lambda: admin.core.state is ConnectionState.ONLINE, timeout=int(40_000 * SCALE))
    qtbot.waitUntil(lambda: admin.window.status.outbox_text == "", timeout=LONG_MS)
    agent, _ = run(qtbot, WsClient.agent(server, subscribe=False))
    try:
        history = run(qtbot, agent.request("history", conversation_id=cid))
    finally:
        run(qtbot, agent.close())
    assert [m["body"] for m in history["messages"]] == ["Still there?", "Back in a minute"]


def test_smoke_flag_builds_the_window_and_exits_zero(tmp_path: Path) -> None:
    """`frontdesk console --smoke` builds the main window offscreen on an empty cache and exits 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "frontdesk.console.app", "--smoke", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60 * SCALE,
    )
    assert proc.returncode == 0, proc.stderr


def test_the_inbox_search_finds_an_uncached_visitor_by_attribute(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console], visitors: list[WsClient]
) -> None:
    """Typed in the inbox's search box, a custom attribute value finds the conversation of a visitor this
    console holds nothing of: the search asks the server (visitor.find, then visitor.get) and lists it."""
    visitor = _visitor(qtbot, server, visitors)
    sent = run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="About my order"))
    cid = int(sent["conversation_id"])
    run(qtbot, visitor.request("attributes.set", attributes={"plan": "Rhodium"}))
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    qtbot.waitUntil(lambda: cid in admin.inbox_ids(), timeout=LONG_MS)

    def forget(db: Any) -> None:  # as if this console had never synced it
        db.execute("DELETE FROM items WHERE conversation_id = ?", [cid])
        db.execute("DELETE FROM conversations WHERE id = ?", [cid])
        db.execute("DELETE FROM visitors")

    run(qtbot, admin.core.cache.write(forget))
    inbox = admin.window.inbox
    inbox.search.setFocus()
    qtbot.keyClicks(inbox.search, "rhodium")
    model = inbox.search_model
    assert model is not None

    def found() -> list[int]:
        return [model.index(r, 0).data(Roles.ID) for r in range(model.rowCount())]

    qtbot.waitUntil(lambda: found() == [cid], timeout=LONG_MS)
    assert inbox.results_view.isVisible()
