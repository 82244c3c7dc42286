"""Availability from the console, end to end (issue 13, item 5): the Online/Away switch and OS-idle
auto-away reach the server, visitors (nobody there) and colleagues (Away in the agents list)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from frontdesk.console.ui.models import Roles
from PySide6.QtWidgets import QMenu

from tests.support import RunningServer, WsClient

from .conftest import run
from .test_e2e import LONG_MS, Console, _visitor, consoles, visitors  # noqa: F401 - fixtures


def _away_in_list(console: Console, agent_id: int) -> bool:
    model = console.window.agents_model
    for row in range(model.rowCount()):
        index = model.index(row, 4)
        if model.index(row, 0).data(Roles.ID) == agent_id:
            return bool(index.data() == "Away")
    return False


def test_the_switch_and_idle_time_set_the_agent_away(
    qtbot: Any,
    server: RunningServer,
    tmp_path: Path,
    consoles: list[Console],  # noqa: F811
    visitors: list[WsClient],  # noqa: F811
) -> None:
    """The status bar switch sets the agent Away: a visitor hears nobody is there and a colleague sees "Away"
    (agents list, assign menu);
    back Online by the switch; then idle past the preference goes Away, and activity comes back."""
    password = server.add_agent("bea@demo.test", "Bea")
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    bea = Console(qtbot, server, tmp_path / "b", "bea@demo.test", password)
    consoles.append(bea)
    run(qtbot, bea.core.set_away(True))
    me = admin.core.me
    assert me is not None
    run(qtbot, bea.core.list_agents())
    visitor = _visitor(qtbot, server, visitors)
    button = admin.window.availability_button
    assert button.text() == "● Online"
    button.click()
    qtbot.waitUntil(lambda: button.text() == "● Away", timeout=LONG_MS)
    pushed = run(qtbot, visitor.next_event("presence"), LONG_MS)
    assert pushed["data"] == {"agents_online": False}
    qtbot.waitUntil(lambda: _away_in_list(bea, me.id), timeout=LONG_MS)
    menu = QMenu()
    bea.window.thread_pane.header.fill_assign_menu(menu)
    assert f"●  {me.name}   (away)" in [a.text() for a in menu.actions()]
    button.click()
    qtbot.waitUntil(lambda: button.text() == "● Online", timeout=LONG_MS)
    run(qtbot, visitor.next_event("presence", agents_online=True), LONG_MS)

    idle = [0.0]
    watcher = admin.window.idle
    watcher._source = lambda: idle[0]
    admin.window.preferences.set("away_after_minutes", 5)
    idle[0] = 5 * 60
    watcher.poll(away_now=admin.window.away)
    qtbot.waitUntil(lambda: admin.window.away, timeout=LONG_MS)
    run(qtbot, visitor.next_event("presence", agents_online=False), LONG_MS)
    idle[0] = 1
    watcher.poll(away_now=admin.window.away)
    qtbot.waitUntil(lambda: not admin.window.away, timeout=LONG_MS)
    assert button.text() == "● Online"
