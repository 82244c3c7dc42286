"""Say which X11 library is missing before Qt aborts without naming it.

Qt's xcb platform plugin (X11 on Linux) links a dozen ``libxcb-*`` libraries
that a full desktop has and a bare X server (Xvfb, a minimal window manager)
often lacks. When one is missing, Qt prints "Could not load the Qt platform
plugin xcb" and aborts, naming none. :func:`problem` checks them first, only
when Qt would use xcb: ``QT_QPA_PLATFORM`` is ``xcb`` (or ``xcb:...``), or it
is unset on a machine with an X ``DISPLAY`` and no Wayland one. No Qt import:
this runs before the ``QApplication`` exists.

The libraries are opened by their exact sonames (``dlopen``, the loader's own
search, which ``ctypes.util.find_library``'s ``ldconfig`` cache only
approximates); a PyInstaller bundle's own copies count too.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["XCB_LIBRARIES", "missing", "problem", "uses_xcb"]

#: (soname, Debian/Ubuntu package) for what libqxcb.so needs beyond libxcb itself.
XCB_LIBRARIES: tuple[tuple[str, str], ...] = (
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0"),
    ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
)


def uses_xcb(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will load its xcb plugin under ``env``."""
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen == "xcb" or chosen.startswith("xcb:")
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def _bundled(soname: str) -> bool:
    base = getattr(sys, "_MEIPASS", None)
    if base is None:
        return False
    return any((Path(base) / sub / soname).exists() for sub in (".", "PySide6/Qt/lib", "lib"))


def _load(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return _bundled(soname)
    return True


def missing(load: Callable[[str], bool] | None = None) -> list[str]:
    """The packages of the xcb libraries that cannot be loaded here."""
    can_load = load if load is not None else _load
    return [package for soname, package in XCB_LIBRARIES if not can_load(soname)]


def problem(env: Mapping[str, str] | None = None, *, platform: str = sys.platform) -> str | None:
    """A message naming the missing X11 libraries, or None (all there, or xcb not used)."""
    if not uses_xcb(os.environ if env is None else env, platform):
        return None
    packages = missing()
    if not packages:
        return None
    return (
        f"Qt's X11 (xcb) platform plugin cannot load: missing {', '.join(packages)}. "
        f"Install them (Debian/Ubuntu: sudo apt-get install {' '.join(packages)}), "
        "or run on Wayland (QT_QPA_PLATFORM=wayland) or offscreen."
    )
