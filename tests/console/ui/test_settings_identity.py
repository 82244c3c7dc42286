"""The settings dialog's Identity tab: the identity secret shown on request,
rotated, and its rotation ended, with failures shown in the tab."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.core import AgentRow, OfflineError, ServerError
from frontdesk.console.core.cache import Cache
from frontdesk.console.ui.models import AgentsModel
from frontdesk.console.ui.settings_dialog import SettingsDialog
from PySide6.QtWidgets import QLineEdit

from tests.console import wireobj as W

from .conftest import ME, FakeCore, run


class IdentityCore(FakeCore):
    """A FakeCore that also keeps an identity secret, as the server does."""

    def __init__(self, cache: Cache, me: AgentRow) -> None:
        super().__init__(cache, me)
        self.secret: dict[str, Any] = {"secret": "a" * 64, "previous": None, "rotated_at": None}
        #: Set to make the next identity_secret call fail with it.
        self.identity_error: Exception | None = None

    async def identity_secret(self, action: str = "get") -> dict[str, Any]:
        self.calls.append(("identity_secret", action))
        if self.identity_error is not None:
            raise self.identity_error
        if action == "rotate":
            self.secret = {"secret": "b" * 64, "previous": self.secret["secret"], "rotated_at": 1}
        elif action == "end_rotation":
            self.secret = {**self.secret, "previous": None}
        return dict(self.secret)


@pytest.fixture
def core(cache: Cache) -> IdentityCore:
    return IdentityCore(cache, W.agent(ME))


@pytest.fixture
def dialog(qtbot: Any, core: IdentityCore) -> SettingsDialog:
    agents = AgentsModel(core)  # type: ignore[arg-type]
    dialog = SettingsDialog(core, agents)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    run(qtbot, dialog.load())
    identity = next(n for n in range(dialog.tabs.count()) if dialog.tabs.tabText(n) == "Identity")
    dialog.tabs.setCurrentIndex(identity)
    return dialog


def _identity_tab(dialog: SettingsDialog) -> int:
    """The Identity tab's index (tabs added later, "Language & privacy", come after it)."""
    return next(n for n in range(dialog.tabs.count()) if dialog.tabs.tabText(n) == "Identity")


def test_the_secret_is_fetched_only_when_asked(qtbot: Any, core: IdentityCore, dialog: SettingsDialog) -> None:
    """Opening the dialog does not fetch the secret; Show does, and displays it in clear."""
    assert [c for c in core.calls if c[0] == "identity_secret"] == []
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Identity"
    assert dialog.identity_secret_edit.text() == ""
    dialog.show_secret_button.click()
    qtbot.waitUntil(lambda: dialog.identity_secret_edit.text() == "a" * 64)
    assert dialog.identity_secret_edit.echoMode() is QLineEdit.EchoMode.Normal
    assert core.calls[-1] == ("identity_secret", "get")
    assert not dialog.end_rotation_button.isEnabled() and dialog.previous_secret_label.isHidden()


def test_rotate_shows_both_secrets_until_the_rotation_ends(
    qtbot: Any, core: IdentityCore, dialog: SettingsDialog
) -> None:
    """Rotate shows the new secret and the previous one still accepted; End rotation drops the previous."""
    assert run(qtbot, dialog.identity_secret("rotate"))
    assert dialog.identity_secret_edit.text() == "b" * 64
    assert "a" * 64 in dialog.previous_secret_label.text() and dialog.previous_secret_label.isVisible()
    assert dialog.end_rotation_button.isEnabled()
    dialog.end_rotation_button.click()
    qtbot.waitUntil(lambda: not dialog.end_rotation_button.isEnabled())
    assert core.calls[-1] == ("identity_secret", "end_rotation")
    assert dialog.previous_secret_label.isHidden() and dialog.identity_secret_edit.text() == "b" * 64


@pytest.mark.parametrize(
    "error", [OfflineError(), ServerError("forbidden", "admins only: identity_secret.get")], ids=["offline", "refused"]
)
def test_a_failure_is_shown_in_the_tab(
    qtbot: Any, core: IdentityCore, dialog: SettingsDialog, error: Exception
) -> None:
    """Offline or refused, the tab says why and shows no secret."""
    core.identity_error = error
    assert not run(qtbot, dialog.identity_secret("get"))
    assert dialog.identity_error.isVisible() and "Could not reach the identity secret" in dialog.identity_error.text()
    assert dialog.identity_secret_edit.text() == ""
