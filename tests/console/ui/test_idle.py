"""OS-idle auto-away (console/ui/idle.py), with injected idle sources and clocks: no test waits for real time."""

from __future__ import annotations

import os
from typing import Any

import pytest
from frontdesk.console.ui.idle import IdleWatcher, QtInputIdle, x11_idle_source
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent


class _Idle:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def test_idle_past_the_preference_goes_away_and_activity_comes_back(qtbot: Any) -> None:
    """Idle for the preference's minutes asks once to go Away; the first activity after asks to come back."""
    idle, minutes = _Idle(), [10]
    watcher = IdleWatcher(idle, lambda: minutes[0])
    asked: list[bool] = []
    watcher.away_requested.connect(asked.append)
    idle.seconds = 9 * 60
    watcher.poll(away_now=False)
    assert asked == []
    idle.seconds = 10 * 60
    watcher.poll(away_now=False)
    watcher.poll(away_now=True)
    assert asked == [True] and watcher.auto_away
    idle.seconds = 2
    watcher.poll(away_now=True)
    assert asked == [True, False] and not watcher.auto_away


def test_a_chosen_away_is_not_undone_by_activity_and_zero_turns_it_off(qtbot: Any) -> None:
    """An agent who chose Away stays Away on activity; away_after_minutes 0 never goes Away."""
    idle, minutes = _Idle(), [0]
    watcher = IdleWatcher(idle, lambda: minutes[0])
    asked: list[bool] = []
    watcher.away_requested.connect(asked.append)
    idle.seconds = 10_000
    watcher.poll(away_now=False)
    assert asked == []
    minutes[0] = 5
    watcher.poll(away_now=True)  # already Away by choice: nothing to do
    idle.seconds = 0
    watcher.poll(away_now=True)
    assert asked == []
    watcher.poll(away_now=False)
    idle.seconds = 600
    watcher.poll(away_now=False)
    watcher.chose()  # the agent pressed the switch meanwhile
    idle.seconds = 0
    watcher.poll(away_now=True)
    assert asked == [True]


def test_qt_input_events_reset_the_idle_time(qtbot: Any) -> None:
    """Without X11, input events to the app reset the idle time, read on the injected clock."""
    now = [100.0]
    source = QtInputIdle(clock=lambda: now[0])
    now[0] = 160.0
    assert source() == 60.0
    source.eventFilter(QObject(), QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier))
    assert source() == 0.0
    source.eventFilter(QObject(), QEvent(QEvent.Type.Paint))  # not input
    now[0] = 170.0
    assert source() == 10.0


def test_no_x_display_means_no_x11_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without DISPLAY the XScreenSaver source is not used (the app falls back to its own input events)."""
    monkeypatch.delenv("DISPLAY", raising=False)
    assert x11_idle_source() is None


def test_x11_source_reads_the_x_servers_idle_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a real X server (Xvfb) with libXss, the XScreenSaver source answers the display's idle seconds."""
    import shutil
    import subprocess

    if shutil.which("Xvfb") is None:
        pytest.skip("no Xvfb")
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-nolisten", "tcp"], pass_fds=(write,))
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            display = pipe.readline().strip()
        monkeypatch.setenv("DISPLAY", f":{display}")
        source = x11_idle_source()
        if source is None:
            pytest.skip("no libXss")
        assert source() >= 0.0
    finally:
        xvfb.terminate()
        xvfb.wait(10)
