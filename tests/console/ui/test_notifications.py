"""The main window's notifications over a real D-Bus session bus (no tray here: offscreen)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from frontdesk.console.core import Notification
from frontdesk.console.core.notifier import SoundPlayer, SystemNotifier
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.preferences import Preferences
from PySide6.QtWidgets import QApplication, QWidget

from tests.console.dbus_session import NotificationService, session_bus

from .conftest import NOW, WAIT_MS, FakeCore, conversation, fill, message, run

__all__ = ["session_bus"]


class _Player(SoundPlayer):
    def __init__(self) -> None:
        self.played: list[list[str]] = []
        super().__init__(which=lambda name: f"/usr/bin/{name}", platform="linux", spawn=self.played.append)


class _Sound:
    def __init__(self) -> None:
        self.played = 0

    def play(self) -> None:
        self.played += 1


@pytest.fixture
def alerts(monkeypatch: pytest.MonkeyPatch) -> list[QWidget]:
    """Every QApplication.alert (the taskbar's attention hint) the window asks for."""
    asked: list[QWidget] = []
    monkeypatch.setattr(QApplication, "alert", staticmethod(lambda widget, msec=0: asked.append(widget)))
    return asked


@pytest.fixture
def service(qtbot: Any, session_bus: str, aloop: Any) -> Iterator[NotificationService]:
    svc = run(qtbot, NotificationService().start())
    yield svc
    run(qtbot, svc.stop())


def _window(qtbot: Any, core: FakeCore, prefs: Preferences, sound: _Sound) -> MainWindow:
    fill(
        qtbot,
        core,
        [
            conversation(1, "Maya Patel", unread=1, last_seq=1, preview="Anyone there?", last_activity=NOW),
            conversation(2, "Lucas", assignee_id=2, last_seq=1, last_activity=NOW - 60_000),
        ],
        [message(10, 1, 1, "Anyone there?"), message(20, 2, 1, "Order missing")],
    )
    win = MainWindow(core, prefs, use_tray=False, sound=sound, notifier=SystemNotifier(sound=_Player()))  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    win.show()
    qtbot.waitExposed(win)
    return win


def test_desktop_notification_click_opens_and_reply_goes_to_the_outbox(
    qtbot: Any, service: NotificationService, core: FakeCore, prefs: Preferences, alerts: list[QWidget]
) -> None:
    """A visitor message becomes a D-Bus notification (sound hint, reply field); click opens, reply is queued."""
    sound = _Sound()
    window = _window(qtbot, core, prefs, sound)
    core.emit("on_notification", Notification("new_message", 1, "Maya Patel", "Anyone there?"))
    qtbot.waitUntil(lambda: len(service.sent) == 1, timeout=WAIT_MS)
    sent = service.sent[0]
    assert (sent.summary, sent.body) == ("Maya Patel", "Anyone there?")
    assert sent.hints["sound-file"].endswith("/notify.wav")
    assert "inline-reply" in sent.actions
    qtbot.waitUntil(lambda: window.notifier.delivered == ["desktop"], timeout=WAIT_MS)
    assert not window.banner.isVisible() and sound.played == 0
    assert alerts == [window]
    service.reply(sent.id, "  Coming right up  ")
    qtbot.waitUntil(lambda: ("reply", 1, "Coming right up") in core.calls, timeout=WAIT_MS)
    core.emit("on_notification", Notification("new_message", 1, "Maya Patel", "Hello?"))
    qtbot.waitUntil(lambda: len(service.sent) == 2, timeout=WAIT_MS)
    # Click once the notifier holds the server's id for it (the Notify reply is in), as a user would.
    qtbot.waitUntil(lambda: window.notifier.delivered == ["desktop", "desktop"], timeout=WAIT_MS)
    service.click(service.sent[1].id)
    qtbot.waitUntil(lambda: window.open_conversation_id == 1, timeout=WAIT_MS)
    assert core.cache.outbox_count() == 1  # queued like any reply


def test_assignment_is_notified_and_preferences_switch_it_off(
    qtbot: Any, service: NotificationService, core: FakeCore, prefs: Preferences, alerts: list[QWidget]
) -> None:
    """Assigned to me by a colleague: "Assigned to you"; a colleague's conversation's message is off by default."""
    window = _window(qtbot, core, prefs, _Sound())
    core.emit("on_notification", Notification("assigned", 2, "Lucas", "Order missing", assignee_id=1, actor_id=2))
    qtbot.waitUntil(lambda: len(service.sent) == 1, timeout=WAIT_MS)
    assert (service.sent[0].summary, service.sent[0].body) == ("Assigned to you", "Lucas: Order missing")
    assert not window.notifier.notify_core(Notification("new_message", 2, "Lucas", "hi", assignee_id=2))
    prefs.set("notify_assignment", False)
    assert not window.notifier.notify_core(Notification("assigned", 2, "Lucas", "x", assignee_id=1, actor_id=2))
    prefs.set("sound", False)
    assert window.notifier.notify_core(Notification("new_message", 1, "Maya Patel", "hi"))
    qtbot.waitUntil(lambda: len(service.sent) == 2, timeout=WAIT_MS)
    assert "sound-file" not in service.sent[1].hints


def test_without_a_notification_service_the_banner_shows(
    qtbot: Any, session_bus: str, aloop: Any, core: FakeCore, prefs: Preferences, alerts: list[QWidget]
) -> None:
    """Nobody owns org.freedesktop.Notifications (and no tray): the in-window banner and the sound."""
    sound = _Sound()
    window = _window(qtbot, core, prefs, sound)
    core.emit("on_notification", Notification("new_conversation", 1, "Maya Patel", "Anyone there?"))
    qtbot.waitUntil(lambda: window.notifier.delivered == ["banner"], timeout=WAIT_MS)
    assert window.banner.isVisible() and window.banner.title == "New conversation"
    assert sound.played == 1 and alerts == [window]


_BADGE_SCRIPT = """
import sys
from pathlib import Path
from frontdesk.console.app import identify
from frontdesk.console.ui.notifications import Banner, NotificationCenter
from frontdesk.console.ui.preferences import Preferences
from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

app = QApplication([])
identify(app)
prefs = Preferences(Path(sys.argv[1]))
center = NotificationCenter(prefs, Banner(), lambda cid: False, app_icon=QIcon(), use_tray=False)
center.set_unread(7)
QTimer.singleShot(200, lambda: center.set_unread(0))
QTimer.singleShot(400, app.quit)
app.exec()
"""


def test_the_unread_count_reaches_the_taskbar_entry_under_x11(session_bus: str, tmp_path: Any) -> None:
    """Under X11 the count goes out as Unity's LauncherEntry Update (KDE Plasma, Ubuntu's dock) for our .desktop."""
    import asyncio
    import os
    import shutil
    import subprocess
    import sys

    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus
    from frontdesk.console import _xcb

    if shutil.which("Xvfb") is None or _xcb.missing():
        pytest.fail("needs Xvfb and the xcb libraries (the Makefile's test step installs them)")
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            display = f":{pipe.readline().strip()}"

        async def main() -> list[tuple[str, str, dict[str, Any]]]:
            bus = await MessageBus(bus_address=session_bus).connect()
            updates: list[tuple[str, str, dict[str, Any]]] = []

            def on_message(message: Message) -> None:
                if message.message_type is MessageType.SIGNAL and message.member == "Update":
                    uri, props = message.body
                    updates.append((message.path, uri, {k: v.value for k, v in props.items()}))

            bus.add_message_handler(on_message)
            await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="AddMatch",
                    signature="s",
                    body=["type='signal',interface='com.canonical.Unity.LauncherEntry'"],
                )
            )
            env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "DBUS_SESSION_BUS_ADDRESS": session_bus}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _BADGE_SCRIPT, str(tmp_path / "prefs.json"), env=env
            )
            assert await asyncio.wait_for(proc.wait(), 60) == 0
            for _ in range(100):  # the signals may still be in flight when the app exits
                if len(updates) >= 2:
                    break
                await asyncio.sleep(0.02)
            bus.disconnect()
            await bus.wait_for_disconnect()
            return updates

        updates = asyncio.run(main())
    finally:
        xvfb.terminate()
        xvfb.wait()
    assert updates[0] == (
        "/com/canonical/unity/launcherentry/Frontdesk",
        "application://org.frontdesk.Console.desktop",
        {"count": 7, "count-visible": True},
    )
    assert updates[-1][2]["count-visible"] is False
