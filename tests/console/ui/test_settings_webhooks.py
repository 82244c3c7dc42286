"""The settings dialog's Webhooks tab: add (secret shown once), rotate, switch off, the delivery log
and redelivery, with the server's refusals shown in the tab."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.core import ServerError
from frontdesk.console.core.cache import Cache
from frontdesk.console.ui.formatting import local_datetime
from frontdesk.console.ui.models import AgentsModel
from frontdesk.console.ui.settings_dialog import SettingsDialog
from frontdesk.console.ui.webhooks import DeliveriesModel
from frontdesk.server import protocol as p
from PySide6.QtCore import Qt

from tests.console import wireobj as W

from .conftest import ME, FakeCore, run


def _delivery(id_: int, status: str) -> p.WebhookDelivery:
    return p.WebhookDelivery(
        id=id_,
        webhook_id=1,
        event_id=10 + id_,
        kind="message.created",
        msg_id=f"msg_1_{10 + id_}",
        status=status,
        attempts=2,
        response_status=500 if status == "failed" else 204,
        last_error="HTTP 500" if status == "failed" else "",
        created_at=1_700_000_000_000 + id_ * 60_000,
        updated_at=1_700_000_000_000 + id_ * 60_000 + 3_600_000,  # retried an hour later
    )


class WebhookCore(FakeCore):
    """A FakeCore that answers webhook.* requests the way the server does, from memory."""

    def __init__(self, cache: Cache, me: Any) -> None:
        super().__init__(cache, me)
        self.hooks: dict[int, p.Webhook] = {}
        self.deliveries = [_delivery(2, "failed"), _delivery(1, "delivered")]
        #: Set to make the next webhook request fail with it.
        self.webhook_error: Exception | None = None

    async def webhook_request(self, kind: str, **fields: Any) -> p.Result:
        self.calls.append((kind, fields))
        if self.webhook_error is not None:
            error, self.webhook_error = self.webhook_error, None
            raise error
        if kind == "webhook.list":
            return p.WebhooksResult(webhooks=list(self.hooks.values()))
        if kind == "webhook.create":
            hook = p.Webhook(
                id=len(self.hooks) + 1,
                url=fields["url"],
                events=fields["events"].split(","),
                description=fields["description"],
                enabled=True,
                disabled_reason="",
                failures=0,
                rotating=False,
                created_at=1,
            )
            self.hooks[hook.id] = hook
            return p.WebhookSecretResult(webhook=hook, secret="whsec_first")
        hook = self.hooks.get(fields.get("webhook_id", 1))
        assert hook is not None
        if kind == "webhook.rotate_secret":
            hook.rotating = True
            return p.WebhookSecretResult(webhook=hook, secret="whsec_second")
        if kind == "webhook.end_rotation":
            hook.rotating = False
            return p.WebhookResult(webhook=hook)
        if kind == "webhook.update":
            hook.enabled = bool(fields["enabled"])
            return p.WebhookResult(webhook=hook)
        if kind == "webhook.deliveries":
            return p.WebhookDeliveriesResult(deliveries=self.deliveries)
        if kind == "webhook.redeliver":
            return p.WebhookDeliveryResult(delivery=_delivery(fields["delivery_id"], "pending"))
        raise AssertionError(kind)


@pytest.fixture
def core(cache: Cache) -> WebhookCore:
    return WebhookCore(cache, W.agent(ME))


@pytest.fixture
def dialog(qtbot: Any, core: WebhookCore) -> SettingsDialog:
    dialog = SettingsDialog(core, AgentsModel(core))  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    run(qtbot, dialog.load())
    return dialog


def test_the_tab_loads_when_first_shown(qtbot: Any, core: WebhookCore, dialog: SettingsDialog) -> None:
    """The Webhooks tab asks for the list only once it is opened."""
    assert not [c for c in core.calls if c[0] == "webhook.list"]
    page = dialog.webhooks_page
    assert page is not None
    dialog.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: any(c[0] == "webhook.list" for c in core.calls))


def test_adding_shows_the_secret_once_and_the_log(qtbot: Any, core: WebhookCore, dialog: SettingsDialog) -> None:
    """Add sends the URL and ticked events, shows the secret, selects the webhook and fills its delivery log."""
    page = dialog.webhooks_page
    assert page is not None
    page.url_edit.setText("https://crm.example.com/hook")
    page.event_boxes["conversation.updated"].setChecked(True)
    assert run(qtbot, page.add())
    create = next(fields for kind, fields in core.calls if kind == "webhook.create")
    assert create["url"] == "https://crm.example.com/hook"
    assert set(create["events"].split(",")) == {"conversation.created", "conversation.updated", "message.created"}
    assert "whsec_first" in page.secret_label.text() and page.secret_label.isVisibleTo(page)
    assert page.hooks_list.count() == 1 and page.selected() is not None
    assert [r.status for r in page.deliveries_model.rows] == ["failed", "delivered"]
    assert page.redeliver_button.isEnabled()

    page.deliveries_view.selectRow(0)
    assert run(qtbot, page.redeliver())
    assert ("webhook.redeliver", {"delivery_id": 2}) in core.calls


def test_rotation_and_switching_off(qtbot: Any, core: WebhookCore, dialog: SettingsDialog) -> None:
    """Rotate shows the new secret and enables End rotation; Switch off sends enabled=false and relabels the button."""
    page = dialog.webhooks_page
    assert page is not None
    page.url_edit.setText("https://crm.example.com/hook")
    assert run(qtbot, page.add())
    assert not page.end_rotation_button.isEnabled()
    assert run(qtbot, page.rotate())
    assert "whsec_second" in page.secret_label.text() and page.end_rotation_button.isEnabled()
    assert run(qtbot, page.end_rotation())
    assert not page.end_rotation_button.isEnabled()
    assert run(qtbot, page.toggle())
    assert ("webhook.update", {"webhook_id": 1, "enabled": False}) in core.calls
    assert page.toggle_button.text() == "Switch on"


def test_a_refused_url_is_shown_in_the_tab(qtbot: Any, core: WebhookCore, dialog: SettingsDialog) -> None:
    """The server's `invalid` (a URL resolving to loopback) is shown in the tab and nothing is added."""
    page = dialog.webhooks_page
    assert page is not None
    page.url_edit.setText("http://localhost/hook")
    core.webhook_error = ServerError("invalid", "field 'url': the URL resolves to 127.0.0.1, a loopback address")
    assert not run(qtbot, page.add())
    assert "127.0.0.1" in page.error_label.text() and page.error_label.isVisibleTo(page)
    assert page.hooks_list.count() == 0
    assert page.url_edit.text() == "http://localhost/hook"  # kept, to correct


def test_the_deliveries_model_passes_the_model_tester(qtmodeltester: Any) -> None:
    """DeliveriesModel is a well-behaved table model."""
    model = DeliveriesModel()
    model.set_rows([_delivery(2, "failed"), _delivery(1, "delivered")])
    qtmodeltester.check(model)
    assert model.data(model.index(0, 4)) == "HTTP 500" and model.data(model.index(1, 4)) == "HTTP 204"
    # "When" is when the event was logged, so the newest-first log reads in order; the last try is in the tooltip.
    logged = [local_datetime(1_700_000_000_000 + i * 60_000).strftime("%Y-%m-%d %H:%M:%S") for i in (2, 1)]
    assert [model.data(model.index(r, 0)) for r in (0, 1)] == logged
    retried = local_datetime(1_700_000_000_000 + 2 * 60_000 + 3_600_000).strftime("%Y-%m-%d %H:%M:%S")
    assert model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole) == f"Last attempt: {retried}"
