"""The console names the missing X11 libraries before Qt's xcb plugin aborts (issue 13, item 6)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from frontdesk.console import _xcb
from frontdesk.console.app import main

from tests.support import SCALE


def test_xcb_is_checked_only_when_qt_would_use_it() -> None:
    """xcb chosen, or nothing chosen with an X display (and no Wayland): checked; offscreen, Wayland, macOS: not."""
    assert _xcb.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert _xcb.uses_xcb({"QT_QPA_PLATFORM": "xcb:display=:1"}, "linux")
    assert _xcb.uses_xcb({"DISPLAY": ":0"}, "linux")
    assert not _xcb.uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not _xcb.uses_xcb({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux")
    assert not _xcb.uses_xcb({}, "linux")
    assert not _xcb.uses_xcb({"DISPLAY": ":0"}, "darwin")


def test_the_message_names_each_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """libxcb-cursor0 and libxcb-keysyms1 missing: both named, with the apt-get line; all there: no message."""
    absent = {"libxcb-cursor.so.0", "libxcb-keysyms.so.1"}
    monkeypatch.setattr(_xcb, "_load", lambda soname: soname not in absent)
    message = _xcb.problem({"DISPLAY": ":0"}, platform="linux")
    assert message is not None
    assert "missing libxcb-cursor0, libxcb-keysyms1" in message
    assert "apt-get install libxcb-cursor0 libxcb-keysyms1" in message
    assert _xcb.problem({"QT_QPA_PLATFORM": "offscreen"}, platform="linux") is None
    absent.clear()
    assert _xcb.problem({"DISPLAY": ":0"}, platform="linux") is None


def test_the_real_loader_finds_what_this_machine_has() -> None:
    """libc-backed dlopen: an existing library loads, a made-up one does not."""
    assert not _xcb._load("libfrontdesk-does-not-exist.so.9")
    assert _xcb._load("libc.so.6")


def test_console_exits_with_the_message_before_creating_qt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """frontdesk-console under xcb with libxcb-cursor0 missing: exit 1 and the package named, no Qt abort."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(_xcb, "_load", lambda soname: soname != "libxcb-cursor.so.0")
    assert main([]) == 1
    assert "libxcb-cursor0" in capsys.readouterr().err


def test_verbose_prints_debug_lines(tmp_path: object) -> None:
    """`frontdesk-console -v` logs the console's own DEBUG lines (version, Qt, the window) to stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "frontdesk.console.app", "-v", "--smoke", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60 * SCALE,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if " DEBUG frontdesk.console" in line]
    assert any("frontdesk-console" in line for line in lines) and any("Qt " in line for line in lines), proc.stderr
