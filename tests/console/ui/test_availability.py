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
    assert button.text() == "● You: Available"
    button.click()
    qtbot.waitUntil(lambda: button.text() == "● You: Away", timeout=LONG_MS)
    pushed = run(qtbot, visitor.next_event("presence"), LONG_MS)
    assert pushed["data"] == {"agents_online": False}
    qtbot.waitUntil(lambda: _away_in_list(bea, me.id), timeout=LONG_MS)
    menu = QMenu()
    bea.window.thread_pane.header.fill_assign_menu(menu)
    assert f"●  {me.name}   (away)" in [a.text() for a in menu.actions()]
    button.click()
    qtbot.waitUntil(lambda: button.text() == "● You: Available", timeout=LONG_MS)
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
    assert button.text() == "● You: Available"


def test_an_idle_away_survives_a_restart_and_activity_still_brings_the_agent_back(
    qtbot: Any,
    server: RunningServer,
    tmp_path: Path,
    consoles: list[Console],  # noqa: F811
) -> None:
    """The console quits while its agent is Away because idle (the laptop closed overnight); the next start finds
    them Away on the server and, as they use the computer again, brings them back. An Away they chose stays."""
    first = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    idle = [5 * 60.0]
    first.window.idle._source = lambda: idle[0]
    first.window.preferences.set("away_after_minutes", 5)
    first.window.idle.poll(away_now=first.window.away)
    qtbot.waitUntil(lambda: first.window.away, timeout=LONG_MS)
    first.close()

    again = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(again)
    assert again.window.away and again.window.idle.auto_away
    again.window.idle._source = lambda: 1.0
    again.window.idle.poll(away_now=again.window.away)
    qtbot.waitUntil(lambda: not again.window.away, timeout=LONG_MS)

    again.window.availability_button.click()  # chosen, not idle
    qtbot.waitUntil(lambda: again.window.away, timeout=LONG_MS)
    consoles.remove(again)
    again.close()
    chosen = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(chosen)
    assert chosen.window.away and not chosen.window.idle.auto_away
    chosen.window.idle._source = lambda: 1.0
    chosen.window.idle.poll(away_now=chosen.window.away)
    assert chosen.window.away
