"""The agent's own profile from the console (console/ui/profile.py), end to end: a new display name reaches
visitors, a new password needs the current one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from frontdesk.console.ui.profile import ProfileDialog

from tests.support import RunningServer, WsClient, new_client_id

from .conftest import run
from .test_e2e import LONG_MS, Console, _visitor, consoles, visitors  # noqa: F401 - fixtures


def test_rename_and_change_password(
    qtbot: Any,
    server: RunningServer,
    tmp_path: Path,
    consoles: list[Console],  # noqa: F811
    visitors: list[WsClient],  # noqa: F811
) -> None:
    """The dialog refuses a mismatch locally and a wrong current password from the server; a new name shows
    in the visitor's history and in the console; the new password logs in."""
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    visitor = _visitor(qtbot, server, visitors)
    sent = run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="hi"))
    cid = int(sent["conversation_id"])
    run(qtbot, admin.core.reply(cid, "Hello!"))
    qtbot.waitUntil(lambda: admin.core.outbox_count == 0, timeout=LONG_MS)

    dialog = admin.window.open_profile()
    assert isinstance(dialog, ProfileDialog)
    dialog.name.setText("Sam Agent")
    dialog.new.setText("a-new-password")
    dialog.confirm.setText("a-different-one")
    assert not run(qtbot, dialog.save())
    assert "differ" in dialog.error.text()
    dialog.confirm.setText("a-new-password")
    dialog.current.setText("not-my-password")
    assert not run(qtbot, dialog.save(), LONG_MS)
    assert dialog.error.text() == "The current password is wrong."
    dialog.current.setText(server.admin_password)
    assert run(qtbot, dialog.save(), LONG_MS)
    assert admin.core.me is not None and admin.core.me.name == "Sam Agent"
    history = run(qtbot, visitor.request("history", conversation_id=cid))
    assert history["messages"][-1]["author_name"] == "Sam Agent"
    fresh = run(qtbot, WsClient.connect(server.agent_url))
    run(qtbot, fresh.request("login", email=server.admin_email, password="a-new-password"))
    run(qtbot, fresh.close())
