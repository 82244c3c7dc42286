"""The app flow (console/app.py): login dialog, main window, resume from the keyring, session end."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import keyring.errors
from frontdesk.console.app import _Session
from frontdesk.console.core import ConnectionState, KeyringTokenStore
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.support import TIMEOUT, RunningServer, WsClient, new_client_id

from .conftest import run

LONG_MS = int(3 * TIMEOUT * 1000)


class FakeKeyring:
    """An in-memory stand-in for a keyring backend (this machine has no real one).

    Deliberately not a ``keyring.backend.KeyringBackend`` subclass: those
    register themselves, and ``keyring`` would then pick it as the default
    backend for every later test in the process.
    """

    def __init__(self) -> None:
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


def _args(server: RunningServer, tmp_path: Path) -> argparse.Namespace:
    return argparse.Namespace(server=server.http_url, data_dir=tmp_path / "console", smoke=False, verbose=False)


def _sign_in(qtbot: Any, session: _Session, email: str, password: str) -> None:
    qtbot.waitUntil(lambda: session.dialog is not None, timeout=LONG_MS)
    dialog = session.dialog
    assert dialog is not None
    dialog.email_edit.setText(email)
    dialog.password_edit.setText(password)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)


def test_login_then_resume_offline_on_the_cached_inbox(
    qtbot: Any, aloop: Any, qapp: QApplication, server: RunningServer, tmp_path: Path
) -> None:
    """Sign in (a wrong password first), work, quit; the next start resumes from the keyring
    and shows the cached inbox at once although the server is down."""
    visitor, _ = run(qtbot, WsClient.visitor(server))
    run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="Hello"))
    run(qtbot, visitor.close())
    backend = FakeKeyring()
    tokens = KeyringTokenStore(backend=backend)
    session = _Session(qapp, _args(server, tmp_path), tokens)
    assert not run(qtbot, session.core.resume())

    login = aloop.create_task(session.login(""))
    _sign_in(qtbot, session, server.admin_email, "not-the-password")
    qtbot.waitUntil(lambda: "Wrong email or password" in session.dialog.error_text, timeout=LONG_MS)  # type: ignore[union-attr]
    _sign_in(qtbot, session, server.admin_email, server.admin_password)
    qtbot.waitUntil(login.done, timeout=LONG_MS)
    assert login.result() is True
    assert backend.passwords, "remember me keeps the token in the keyring"

    work = aloop.create_task(session.work())
    qtbot.waitUntil(
        lambda: session.window is not None and session.core.state is ConnectionState.ONLINE, timeout=LONG_MS
    )
    window = session.window
    assert window is not None
    qtbot.waitUntil(lambda: window.inbox_model.rowCount() == 1, timeout=LONG_MS)
    window.close()
    qtbot.waitUntil(work.done, timeout=LONG_MS)
    assert work.result() == ("quit", "")

    server.stop()
    again = _Session(qapp, _args(server, tmp_path), tokens)
    assert run(qtbot, again.core.resume())
    work = aloop.create_task(again.work())
    qtbot.waitUntil(lambda: again.window is not None and again.window.inbox_model.rowCount() == 1, timeout=LONG_MS)
    assert again.window is not None
    assert again.window.status.connection.state != "online"
    again.window.close()
    qtbot.waitUntil(work.done, timeout=LONG_MS)


def test_disabled_agent_is_sent_back_to_login(
    qtbot: Any, aloop: Any, qapp: QApplication, server: RunningServer, tmp_path: Path
) -> None:
    """When an admin disables the agent, the console's session ends (back to the login)."""
    password = server.add_agent("bob@demo.test", "Bob")
    session = _Session(qapp, _args(server, tmp_path), KeyringTokenStore(backend=FakeKeyring()))
    login = aloop.create_task(session.login(""))
    _sign_in(qtbot, session, "bob@demo.test", password)
    qtbot.waitUntil(login.done, timeout=LONG_MS)
    work = aloop.create_task(session.work())
    qtbot.waitUntil(lambda: session.core.state is ConnectionState.ONLINE, timeout=LONG_MS)
    bob_id = session.core.me.id  # type: ignore[union-attr]
    admin, _ = run(qtbot, WsClient.agent(server, subscribe=False))
    try:
        run(qtbot, admin.request("agent.update", agent_id=bob_id, active=False))
    finally:
        run(qtbot, admin.close())
    qtbot.waitUntil(work.done, timeout=LONG_MS)
    kind, reason = work.result()
    assert kind == "ended" and reason


def test_sign_out_forgets_the_token(
    qtbot: Any, aloop: Any, qapp: QApplication, server: RunningServer, tmp_path: Path
) -> None:
    """Sign out ends the session, revokes and forgets the token: the next start shows the login."""
    backend = FakeKeyring()
    tokens = KeyringTokenStore(backend=backend)
    session = _Session(qapp, _args(server, tmp_path), tokens)
    login = aloop.create_task(session.login(""))
    _sign_in(qtbot, session, server.admin_email, server.admin_password)
    qtbot.waitUntil(login.done, timeout=LONG_MS)
    assert backend.passwords
    work = aloop.create_task(session.work())
    qtbot.waitUntil(lambda: session.core.state is ConnectionState.ONLINE, timeout=LONG_MS)
    assert session.window is not None
    session.window.sign_out_action.trigger()
    qtbot.waitUntil(work.done, timeout=LONG_MS)
    assert work.result() == ("sign_out", "")
    assert not backend.passwords
    again = _Session(qapp, _args(server, tmp_path), tokens)
    assert not run(qtbot, again.core.resume())


def test_frontdesk_console_launcher_starts_the_console_program(tmp_path: Path) -> None:
    """`frontdesk console ARGS` runs frontdesk-console ARGS as a process and passes its output and status on."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "frontdesk.server.cli", "console", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("frontdesk console ")
    bad = subprocess.run(
        [sys.executable, "-m", "frontdesk.server.cli", "console", "--no-such-option"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "frontdesk-console" in bad.stderr


def test_bench_cache_prints_the_cold_start_as_json(tmp_path: Path) -> None:
    """`frontdesk-console --bench-cache DIR` fills a cache in DIR, times its cold start, prints one JSON object."""
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "frontdesk.console.app", "--bench-cache", str(tmp_path / "b")]
    proc = subprocess.run(
        [*command, "--bench-conversations", "20", "--bench-messages", "60"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["conversations"] == 20 and result["messages"] == 60
    assert {"open_ms", "first_page_ms", "cold_start_ms", "search_ms", "search_hits"} <= set(result)
    refused = subprocess.run([*command, "--bench-conversations", "0"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "at least 1" in refused.stderr


def test_bench_first_paint_starts_on_the_bench_cache_and_reports_the_paint(tmp_path: Path) -> None:
    """`--bench-first-paint DIR` resumes the bench agent on the cache `--bench-cache` filled, offline and
    offscreen, prints when the inbox (its default tab) first painted with rows, and its CPU time; exits cleanly."""
    import json
    import subprocess
    import sys
    import time

    app = [sys.executable, "-m", "frontdesk.console.app"]
    fill = [*app, "--bench-cache", str(tmp_path), "--bench-conversations", "5", "--bench-messages", "10"]
    subprocess.run(fill, capture_output=True, text=True, timeout=120, check=True)
    started = time.monotonic_ns()
    proc = subprocess.run(
        [*app, "--bench-first-paint", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["rows"] >= 1 and report["cpu_s"] > 0 and report["first_paint_ns"] > started
    assert "Traceback" not in proc.stderr


def test_the_network_waits_for_the_inbox_to_paint(qtbot: Any, core: Any, prefs: Any, monkeypatch: Any) -> None:
    """The start shows the cached inbox before the network starts: _first_paint returns once the inbox list has
    painted; for a window that never paints it gives up after FIRST_PAINT_WAIT (0 here: no real wait)."""
    import asyncio

    from frontdesk.console import app as console_app
    from frontdesk.console.ui.mainwindow import MainWindow
    from PySide6.QtCore import QEvent, QObject

    from .conftest import conversation, fill

    fill(qtbot, core, [conversation(1, "Maya")])
    window = MainWindow(core, prefs, use_tray=False)
    qtbot.addWidget(window)
    window.attach()
    painted: list[bool] = []

    class Count(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                painted.append(True)
            return False

    counter = Count(window)
    window.inbox.view.viewport().installEventFilter(counter)
    waiting = asyncio.get_event_loop().create_task(console_app._first_paint(window))
    window.show()
    qtbot.waitUntil(waiting.done, timeout=LONG_MS)
    assert painted and waiting.result() is None
    window.hide()
    monkeypatch.setattr(console_app, "FIRST_PAINT_WAIT", 0)
    assert run(qtbot, console_app._first_paint(window)) is None  # hidden: no paint, no hang
