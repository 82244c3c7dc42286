"""The agent's own notification-emails switch in the profile dialog (issue 16), end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from frontdesk.console.ui.profile import ProfileDialog

from tests.support import RunningServer, WsClient

from .conftest import run
from .test_e2e import LONG_MS, Console, consoles  # noqa: F401 - fixtures


def test_an_agent_switches_their_notification_emails_off(
    qtbot: Any,
    server: RunningServer,
    tmp_path: Path,
    consoles: list[Console],  # noqa: F811
) -> None:
    """The dialog shows the server's value (on by default); unticked and saved, the server has it off."""
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    dialog = admin.window.open_profile()
    assert isinstance(dialog, ProfileDialog)
    qtbot.waitUntil(dialog.notify.isEnabled, timeout=LONG_MS)
    assert dialog.notify.isChecked()
    dialog.notify.setChecked(False)
    assert run(qtbot, dialog.save(), LONG_MS)

    async def server_value() -> bool:
        agent, _ = await WsClient.agent(server, subscribe=False)
        try:
            return bool((await agent.request("email.notify.get"))["enabled"])
        finally:
            await agent.close()

    assert run(qtbot, server_value(), LONG_MS) is False
