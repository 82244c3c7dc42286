"""The settings dialog's Assignment tab (PROTOCOL.md, "Auto-assignment"): off by default, and only what
changed is sent."""

from __future__ import annotations

from typing import Any

from frontdesk.console.ui.models import AgentsModel
from frontdesk.console.ui.settings_dialog import SettingsDialog

from .conftest import FakeCore, run


def test_auto_assignment_capacity_and_grace_are_edited_and_sent(qtbot: Any, core: FakeCore) -> None:
    """A config without the keys shows the declared defaults (off, 5, 10 min); turning it on with a capacity
    of 3 sends exactly those two keys."""
    agents = AgentsModel(core)
    agents.refresh()
    dialog = SettingsDialog(core, agents)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    run(qtbot, dialog.load())
    assert "Assignment" in [dialog.tabs.tabText(n) for n in range(dialog.tabs.count())]
    assert not dialog.auto_assign_check.isChecked()
    assert (dialog.agent_capacity_spin.value(), dialog.reassign_grace_minutes_spin.value()) == (5, 10)
    dialog.auto_assign_check.setChecked(True)
    dialog.agent_capacity_spin.setValue(3)
    assert run(qtbot, dialog.save())
    assert core.calls[-1] == ("set_config", {"auto_assign": True, "agent_capacity": 3})


def test_a_team_is_switched_to_auto_assignment_by_its_checkbox(qtbot: Any, core: FakeCore) -> None:
    """Each cached team has a checkbox; checking one sends ``auto_assign_teams`` with its id."""
    from PySide6.QtCore import Qt

    from tests.console import wireobj as W

    team = {"type": "event", "kind": "team.updated", "event_id": 900, "data": {"id": 7, "name": "Billing"}}
    team["data"].update({"member_ids": [1], "deleted": False})
    run(qtbot, core.cache.apply_events(W.events([team])))
    agents = AgentsModel(core)
    agents.refresh()
    dialog = SettingsDialog(core, agents)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    run(qtbot, dialog.load())
    [item] = [dialog.auto_teams_list.item(n) for n in range(dialog.auto_teams_list.count())]
    assert item.text() == "Billing" and item.checkState() == Qt.CheckState.Unchecked
    item.setCheckState(Qt.CheckState.Checked)
    assert run(qtbot, dialog.save())
    assert core.calls[-1] == ("set_config", {"auto_assign_teams": [7]})
