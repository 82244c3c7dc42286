"""ConsoleCore behaviour that needs no server: listeners, offline start, no Qt."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from frontdesk.console.core import ConnectionState, ConsoleCore, CoreListenerBase, MemoryTokenStore

from .conftest import Recorder, arun, wait_until


async def _refuse(url: str) -> object:
    raise ConnectionRefusedError(url)


class Exploding(CoreListenerBase):
    def on_state_changed(self, state: ConnectionState) -> None:
        raise RuntimeError("listener bug")


def test_start_requires_a_session(tmp_path: Path) -> None:
    """start() before login()/resume() is a programming error, said clearly."""
    core = ConsoleCore("http://h:1", tmp_path, MemoryTokenStore())
    with pytest.raises(RuntimeError, match="login"):
        arun(core.start())
    assert not arun(core.resume())


def test_offline_start_keeps_retrying_and_listener_errors_are_contained(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With no server the core cycles Connecting/Offline; a raising listener is logged, not fatal."""

    async def main() -> None:
        store = MemoryTokenStore()
        store.set("http://h:1", "a@x.io", "tok")
        core = ConsoleCore("http://h:1", tmp_path, store, connect=_refuse)  # type: ignore[arg-type]
        core._accounts.remember(core.server_url, "a@x.io")
        # resume() finds no token: MemoryTokenStore was given one, so it does.
        assert await core.resume()
        rec = Recorder()
        core.add_listener(Exploding())
        core.add_listener(rec)
        core.reconnect_now()
        await core.start()
        await wait_until(lambda: rec.states.count(ConnectionState.CONNECTING) >= 2, what="two attempts")
        assert ConnectionState.ONLINE not in rec.states
        assert rec.conversations and rec.conversations[0] == []  # the UI loads the cached inbox at once
        await core.stop()
        assert core.state is ConnectionState.OFFLINE

    with caplog.at_level(logging.ERROR, logger="frontdesk.console.sync"):
        arun(main())
    assert any("listener bug" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_core_imports_no_qt() -> None:
    """The core is Qt-free: importing it (and running its bench module) loads no Qt module."""
    code = (
        "import sys, frontdesk.console.core, frontdesk.console.core.bench; "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'shiboken', 'qasync'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_core_source_has_no_qt_import() -> None:
    """No file under console/core mentions a Qt binding in an import."""
    import frontdesk.console.core as core_pkg

    root = Path(core_pkg.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text("utf-8")
        for binding in ("PySide6", "PyQt5", "PyQt6", "qasync"):
            assert f"import {binding}" not in text and f"from {binding}" not in text, path


def test_notifications_are_coalesced_per_conversation() -> None:
    """A burst (catch-up) yields one notification per conversation: its latest text, 'new' if new."""
    from frontdesk.console.core import Notification
    from frontdesk.console.core._base import coalesce as _coalesce

    burst = [
        Notification("new_conversation", 1, "Ann", "hi"),
        Notification("new_message", 2, "Bo", "a"),
        Notification("new_message", 1, "Ann", "anyone?"),
        Notification("new_message", 2, "Bo", "b"),
    ]
    assert [(n.kind, n.conversation_id, n.body) for n in _coalesce(burst)] == [
        ("new_conversation", 1, "anyone?"),
        ("new_message", 2, "b"),
    ]


def test_coalesce_keeps_an_assignment_apart_from_the_messages() -> None:
    """A batch's assignment survives beside the conversation's one message notification."""
    from frontdesk.console.core import Notification
    from frontdesk.console.core._base import coalesce

    batch = [
        Notification("new_message", 1, "Maya", "one"),
        Notification("assigned", 1, "Maya", "one", assignee_id=7, actor_id=2),
        Notification("new_message", 1, "Maya", "two"),
    ]
    assert [(n.kind, n.body) for n in coalesce(batch)] == [("new_message", "two"), ("assigned", "one")]
