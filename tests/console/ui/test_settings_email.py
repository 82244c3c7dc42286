"""The settings dialog's Email tab: the SMTP form, Send test email, the last failure, held replies and
the agent's own notification emails."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from frontdesk.console.core import ServerError
from frontdesk.console.core.cache import Cache
from frontdesk.console.ui.models import AgentsModel
from frontdesk.console.ui.settings_dialog import SettingsDialog
from frontdesk.server import protocol as p

from tests.console import wireobj as W

from .conftest import ME, FakeCore, run


class EmailCore(FakeCore):
    """A FakeCore that answers email.* requests the way the server does, from memory."""

    def __init__(self, cache: Cache, me: Any) -> None:
        super().__init__(cache, me)
        self.settings = p.EmailSettings(
            enabled=False,
            host="",
            port=587,
            security="starttls",
            username="",
            password_set=False,
            from_address="",
            reply_domain="",
            delay_minutes=2,
            imap_host="",
            imap_port=993,
            imap_security="tls",
            imap_username="",
            imap_password_set=False,
            imap_mailbox="INBOX",
            last_error="",
            last_error_at=None,
        )
        self.notify = False
        self.held = [
            p.HeldEmail(id=7, conversation_id=3, visitor_id=4, sender="bob@example.net", body="hi", created_at=1)
        ]
        #: What the next email.test raises, if anything.
        self.test_error: Exception | None = None

    async def email_request(self, kind: str, **fields: Any) -> p.Result:
        self.calls.append((kind, fields))
        if kind == "email.settings.get":
            return p.EmailSettingsResult(email=self.settings, notify=self.notify)
        if kind == "email.settings.set":
            if fields.get("host") == "bad host":
                raise ServerError("invalid", "field 'host' is not a host name or address")
            password = fields.pop("password", None)
            fields.pop("imap_password", None)
            self.settings = dataclasses.replace(
                self.settings, **fields, password_set=self.settings.password_set or bool(password)
            )
            return p.EmailSettingsResult(email=self.settings, notify=self.notify)
        if kind == "email.test":
            if self.test_error is not None:
                self.settings = dataclasses.replace(self.settings, last_error="could not send", last_error_at=1)
                raise self.test_error
            return p.Result()
        if kind == "email.held.list":
            return p.HeldEmailsResult(held=list(self.held))
        if kind in ("email.held.accept", "email.held.reject"):
            self.held = [h for h in self.held if h.id != fields["held_id"]]
            return p.Result()
        if kind == "email.notify.set":
            self.notify = fields["enabled"]
            return p.EmailNotifyResult(enabled=self.notify)
        raise AssertionError(kind)


@pytest.fixture
def core(cache: Cache) -> EmailCore:
    return EmailCore(cache, W.agent(ME))


@pytest.fixture
def dialog(qtbot: Any, core: EmailCore) -> SettingsDialog:
    dialog = SettingsDialog(core, AgentsModel(core))  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    run(qtbot, dialog.load())
    assert dialog.email_page is not None
    dialog.tabs.setCurrentWidget(dialog.email_page)
    qtbot.waitUntil(lambda: any(c[0] == "email.held.list" for c in core.calls))
    return dialog


def test_the_form_shows_the_settings_and_saves_them(qtbot: Any, core: EmailCore, dialog: SettingsDialog) -> None:
    """Opening the tab loads the settings and my switch; Save sends the form, the password only when typed."""
    page = dialog.email_page
    assert page is not None
    assert page.port_spin.value() == 587 and not page.notify_check.isChecked()
    page.enabled_check.setChecked(True)
    page.host_edit.setText("smtp.acme.test")
    page.from_edit.setText("support@acme.test")
    page.imap_host_edit.setText("imap.acme.test")
    assert run(qtbot, page.save())
    sent = next(f for k, f in reversed(core.calls) if k == "email.settings.set")
    assert (sent["enabled"], sent["host"], sent["from_address"]) == (True, "smtp.acme.test", "support@acme.test")
    assert (sent["imap_host"], sent["imap_mailbox"]) == ("imap.acme.test", "INBOX")
    assert "password" not in sent and "imap_password" not in sent
    page.password_edit.setText("s3cret")
    assert run(qtbot, page.save())
    assert page.password_edit.placeholderText() == "stored; type to replace" and page.password_edit.text() == ""


def test_a_refused_setting_is_shown_and_test_email_failures_are_visible(
    qtbot: Any, core: EmailCore, dialog: SettingsDialog
) -> None:
    """The server's `invalid` for a malformed host is shown; a failed test email shows the error and last failure."""
    page = dialog.email_page
    assert page is not None
    page.host_edit.setText("bad host")
    assert not run(qtbot, page.save())
    assert "not a host name" in page.error_label.text()
    page.host_edit.setText("smtp.acme.test")
    page.test_edit.setText("ops@acme.test")
    assert run(qtbot, page.send_test())
    assert ("email.test", {"to": "ops@acme.test"}) in core.calls and "sent" in page.status_label.text()
    core.test_error = ServerError("invalid", "could not send the test email: connection refused")
    assert not run(qtbot, page.send_test())
    assert "connection refused" in page.error_label.text()
    assert "could not send" in page.status_label.text()


def test_held_replies_are_accepted_and_notifications_switched(
    qtbot: Any, core: EmailCore, dialog: SettingsDialog
) -> None:
    """A held reply is listed and accepted (then gone); the notification box sends email.notify.set."""
    page = dialog.email_page
    assert page is not None
    assert page.held_list.count() == 1 and "bob@example.net" in page.held_list.item(0).text()
    page.held_list.setCurrentRow(0)
    assert run(qtbot, page.decide(True))
    assert ("email.held.accept", {"held_id": 7}) in core.calls and page.held_list.count() == 0
    assert run(qtbot, page.set_notify(True))
    assert page.notify_check.isChecked() and core.notify is True
