"""Reconnecting and quitting (issue 13, item 5): the backoff cap that brings the console back within 2 s of
the server, the OS's network-back signal (injected: QNetworkInformation has no useful backend here), the
"Reconnect now" action, and the question before quitting with changes waiting to sync."""

from __future__ import annotations

import random
from typing import Any

from frontdesk.console.core import Backoff, ConnectionState
from frontdesk.console.core._base import RECONNECT_CAP_S
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.preferences import Preferences
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtNetwork import QNetworkInformation

from .conftest import FakeCore, conversation, fill, run


class _Network(QObject):
    """Stands in for QNetworkInformation.instance()."""

    reachabilityChanged = Signal(QNetworkInformation.Reachability)  # Qt's name for it


def _window(qtbot: Any, core: FakeCore, prefs: Preferences, network: QObject | None = None) -> MainWindow:
    fill(qtbot, core, [conversation(1, "Maya")])
    win = MainWindow(core, prefs, use_tray=False, network=network)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    return win


def test_the_reconnect_wait_never_exceeds_the_cap() -> None:
    """Whatever the number of failed attempts, the console's next try is at most RECONNECT_CAP_S away, so it is
    back within 2 s of the server returning (plus the connect itself)."""
    backoff = Backoff(initial=0.5, maximum=RECONNECT_CAP_S, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(200)]
    assert RECONNECT_CAP_S < 2.0 and max(delays) <= RECONNECT_CAP_S and min(delays) >= 0.25


def test_network_back_and_reconnect_now_skip_the_wait(
    qtbot: Any, core: FakeCore, prefs: Preferences, monkeypatch: Any
) -> None:
    """Offline, the OS saying the network is Online, and the "Reconnect now" action, each ask the core to try at
    once; a network going away does not, nor the network coming back while already online."""
    calls: list[str] = []
    monkeypatch.setattr(core, "reconnect_now", lambda: calls.append("now"), raising=False)
    network = _Network()
    win = _window(qtbot, core, prefs, network)
    network.reachabilityChanged.emit(QNetworkInformation.Reachability.Online)
    assert calls == []  # online already
    core.state = ConnectionState.OFFLINE
    network.reachabilityChanged.emit(QNetworkInformation.Reachability.Disconnected)
    assert calls == []
    network.reachabilityChanged.emit(QNetworkInformation.Reachability.Online)
    assert calls == ["now"]
    win.reconnect_action.trigger()
    assert calls == ["now", "now"]


def test_quitting_with_pending_changes_asks_first(qtbot: Any, core: FakeCore, prefs: Preferences) -> None:
    """Quit with nothing pending closes at once; with queued changes it asks (naming how many), and "No" keeps
    the window open; the window's own close button asks the same."""
    win = _window(qtbot, core, prefs)
    win.show()
    asked: list[int] = []
    answer = [False]

    def ask(pending: int) -> bool:
        asked.append(pending)
        return answer[0]

    win.ask_quit = ask
    run(qtbot, core.reply(1, "queued while offline"))
    assert core.outbox_count == 1
    assert not win.request_quit()
    assert asked == [1] and win.isVisible()
    spontaneous = QCloseEvent()
    spontaneous.setAccepted(True)
    spontaneous.spontaneous = lambda: True  # type: ignore[method-assign]
    win.closeEvent(spontaneous)
    assert not spontaneous.isAccepted() and asked == [1, 1]
    answer[0] = True
    assert win.request_quit()
    assert not win.isVisible()
