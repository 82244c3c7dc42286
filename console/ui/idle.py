"""Availability in the app: the agent's Online/Away switch and the OS-idle
auto-away (issue 13, item 5).

:class:`IdleWatcher` asks an injected *idle source* how long the user has
not touched the keyboard or mouse, every :attr:`IdleWatcher.POLL_MS`. Past the
preference ``away_after_minutes`` it asks to go Away (``auto``); the first poll
that sees activity again brings the agent back, but only from an *automatic*
away: an agent who chose Away stays Away.

Idle sources, best first (:func:`system_idle_source`):

- X11: the XScreenSaver extension (``libXss``) through ctypes, which knows
  input to every application on the display;
- otherwise (Wayland, macOS, Windows, no libXss): :class:`QtInputIdle`, which
  sees only input to this app (a busy agent in another window counts as
  idle; the preference's minutes should then be generous).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal

__all__ = ["IdleSource", "IdleWatcher", "QtInputIdle", "system_idle_source", "x11_idle_source"]

log = logging.getLogger("frontdesk.console.ui.idle")

#: Seconds since the user's last input.
IdleSource = Callable[[], float]


class _XScreenSaverInfo(ctypes.Structure):
    _fields_ = [  # ctypes layout
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),
        ("event_mask", ctypes.c_ulong),
    ]


def x11_idle_source() -> IdleSource | None:
    """The X server's idle time (XScreenSaverQueryInfo), or None without an
    X display or libXss."""
    if not os.environ.get("DISPLAY"):
        return None
    xlib_name, xss_name = ctypes.util.find_library("X11"), ctypes.util.find_library("Xss")
    if not xlib_name or not xss_name:
        return None
    try:
        xlib, xss = ctypes.cdll.LoadLibrary(xlib_name), ctypes.cdll.LoadLibrary(xss_name)
        xlib.XOpenDisplay.restype = ctypes.c_void_p
        xlib.XDefaultRootWindow.restype = ctypes.c_ulong
        xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(_XScreenSaverInfo)
        xss.XScreenSaverQueryInfo.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_XScreenSaverInfo)]
        display = xlib.XOpenDisplay(None)
        if not display:
            return None
        info = xss.XScreenSaverAllocInfo()
        root = xlib.XDefaultRootWindow(display)
    except (OSError, AttributeError) as exc:
        log.debug("no XScreenSaver idle time: %s", exc)
        return None

    def idle() -> float:
        if not xss.XScreenSaverQueryInfo(display, root, info):
            return 0.0
        return float(info.contents.idle) / 1000

    return idle


class QtInputIdle(QObject):
    """Idle time from this app's own input events (an application event filter)."""

    _INPUT = frozenset(
        {
            QEvent.Type.KeyPress,
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseMove,
            QEvent.Type.Wheel,
            QEvent.Type.TouchBegin,
        }
    )

    def __init__(self, clock: Callable[[], float] = time.monotonic, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._clock = clock
        self._last = clock()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in self._INPUT:
            self._last = self._clock()
        return False

    def __call__(self) -> float:
        return max(0.0, self._clock() - self._last)


def system_idle_source(app: QObject, owner: QObject) -> IdleSource:
    """The best idle source here: X11's, else this app's input events (a
    filter on ``app`` that lives as long as ``owner``)."""
    source = x11_idle_source()
    if source is not None:
        return source
    watcher = QtInputIdle(parent=owner)
    app.installEventFilter(watcher)
    return watcher


class IdleWatcher(QObject):
    """Turns idle time into Away/back requests (see the module docstring)."""

    #: Go Away (True) or come back (False); the owner calls the server.
    away_requested = Signal(bool)

    POLL_MS = 15_000

    def __init__(self, source: IdleSource, minutes: Callable[[], int], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._minutes = minutes
        #: True while the agent is Away because they were idle (not by choice).
        self.auto_away = False
        self._timer = QTimer(self)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self.poll)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def poll(self, away_now: bool | None = None) -> None:
        """Look at the idle time once. ``away_now`` is the agent's current
        availability (None: as this watcher last asked)."""
        minutes = self._minutes()
        idle = self._source()
        if minutes > 0 and idle >= minutes * 60:
            if not self.auto_away and not away_now:
                self.auto_away = True
                self.away_requested.emit(True)
        elif self.auto_away:
            self.auto_away = False
            self.away_requested.emit(False)

    def chose(self) -> None:
        """The agent used the switch: whatever they chose is theirs, not automatic."""
        self.auto_away = False
