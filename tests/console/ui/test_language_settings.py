"""The settings dialog's "Language & privacy" tab (issue 19 items 1 and 4): default language, per-language
overrides of widget strings and of the tenant's texts, IP storage; saved as config keys."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.ui.language_settings import ROW_KEYS
from frontdesk.console.ui.models import AgentsModel
from frontdesk.console.ui.settings_dialog import SettingsDialog
from frontdesk.server.protocol import WIDGET_STRINGS

from .conftest import FakeCore, run


@pytest.fixture
def settings(qtbot: Any, core: FakeCore) -> SettingsDialog:
    core.config.update({"language": "en", "store_ip": True, "translations": {"fr": {"Save": "Garder"}}})
    agents = AgentsModel(core)
    agents.refresh()
    dialog = SettingsDialog(core, agents)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    run(qtbot, dialog.load())
    return dialog


def test_every_widget_string_can_be_overridden(settings: SettingsDialog) -> None:
    """The table lists the greeting, away message, launcher label and every widget string."""
    assert set(ROW_KEYS) == {"greeting", "away_message", "launcher_label", *WIDGET_STRINGS}
    assert settings.language_tab.table.rowCount() == len(ROW_KEYS)


def test_overrides_language_and_ip_storage_are_saved(qtbot: Any, core: FakeCore, settings: SettingsDialog) -> None:
    """Overrides typed per language, the default language and IP storage off go to config.set; others stay."""
    tab = settings.language_tab
    tab.set_override("de", "Write a message\u2026", "Ihre Frage\u2026")
    tab.set_override("de", "greeting", "Moin!")
    tab.language_combo.setCurrentIndex(tab.language_combo.findData("de"))
    tab.store_ip_check.setChecked(False)
    assert run(qtbot, settings.save())
    sent = [c[1] for c in core.calls if c[0] == "set_config"][-1]
    assert sent == {
        "language": "de",
        "store_ip": False,
        "translations": {
            "fr": {"Save": "Garder"},
            "de": {"Write a message\u2026": "Ihre Frage\u2026", "greeting": "Moin!"},
        },
    }
    tab.set_override("fr", "Save", "")  # emptied: the widget's own word again
    assert settings.changes()["translations"] == {
        "de": {"Write a message\u2026": "Ihre Frage\u2026", "greeting": "Moin!"}
    }
