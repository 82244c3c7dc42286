"""Identity verification through the real widget: a verified user's earlier
conversation on a second device (a second browser context), and a forged
claim of the same user refused."""

from __future__ import annotations

import time
from collections.abc import Callable

from frontdesk.server.domain import identity_hash
from playwright.sync_api import BrowserContext, Page, expect

from tests.support import RunningServer
from tests.widget.conftest import Agent, Widget, open_widget, watched


def _identify(page: Page, user_id: str, ts: int, user_hash: str) -> None:
    """What the site's page does once its backend signed the user in."""
    page.evaluate(
        "([u, t, h]) => window.Frontdesk.identify({user_id: u, ts: t, user_hash: h, name: 'Known User'})",
        [user_id, ts, user_hash],
    )


def _device(new_context: Callable[..., BrowserContext], server: RunningServer) -> tuple[Page, Widget]:
    page = watched(new_context().new_page())
    return page, open_widget(page, server.http_url + "/")


def test_a_verified_user_sees_their_conversation_on_a_second_device(
    new_context: Callable[..., BrowserContext], server: RunningServer, agent: Agent
) -> None:
    """Laptop and phone (two browser contexts) verified as one user: the phone shows the laptop's messages and
    the agent's reply, and what the phone sends lands in the same conversation."""
    now = int(time.time())
    good = identity_hash(server.identity_secret, "user-42", now)
    laptop, on_laptop = _device(new_context, server)
    _identify(laptop, "user-42", now, good)
    agent.wait_event("visitor.updated", user_id="user-42", verified=True)
    on_laptop.send("Sent from my laptop")
    created = agent.wait_event("message.created", body="Sent from my laptop")
    conversation = created["conversation_id"]
    agent.reply(conversation, "Hello on every device")
    expect(on_laptop.message("Hello on every device", "agent")).to_be_visible()

    phone, on_phone = _device(new_context, server)
    expect(on_phone.message("Sent from my laptop")).to_have_count(0)  # anonymous: nothing of the user yet
    _identify(phone, "user-42", now, good)
    laptop_visitor = created["data"]["conversation"]["visitor_id"]
    while agent.wait_event("visitor.updated", user_id="user-42", verified=True)["data"]["id"] == laptop_visitor:
        pass  # the laptop's own updates; wait for the phone's
    phone.reload()  # the site's next page: the widget's hello now lists the user's conversations
    on_phone = Widget(phone)
    on_phone.wait_online()
    on_phone.open()
    expect(on_phone.message("Sent from my laptop", "visitor")).to_be_visible()
    expect(on_phone.message("Hello on every device", "agent")).to_be_visible()
    on_phone.send("And now from my phone")
    from_phone = agent.wait_event("message.created", body="And now from my phone")
    assert from_phone["conversation_id"] == conversation
    expect(on_laptop.message("And now from my phone", "visitor")).to_be_visible()
    assert laptop.errors == [] and phone.errors == []  # type: ignore[attr-defined]


def test_a_forged_claim_of_the_user_is_refused_and_shows_nothing(
    new_context: Callable[..., BrowserContext], server: RunningServer, agent: Agent
) -> None:
    """A third browser claiming the same user with a made-up hash is refused (forbidden), stored as nobody, and
    shows none of the user's messages, before or after a reload."""
    now = int(time.time())
    owner, on_owner = _device(new_context, server)
    _identify(owner, "user-42", now, identity_hash(server.identity_secret, "user-42", now))
    agent.wait_event("visitor.updated", user_id="user-42", verified=True)
    on_owner.send("My private question")
    agent.wait_event("message.created", body="My private question")

    forger, on_forger = _device(new_context, server)
    with forger.expect_console_message(lambda m: "identify refused" in m.text):
        _identify(forger, "user-42", now, "0" * 64)
    forger.reload()
    on_forger = Widget(forger)
    on_forger.wait_online()
    on_forger.open()
    # A fence: the widget asked for any history before this send, so once it shows as sent, the history is in.
    on_forger.send("Anyone there?")
    expect(on_forger.message("Anyone there?", "visitor")).to_have_attribute("data-status", "sent")
    expect(on_forger.message("My private question")).to_have_count(0)
    theirs = agent.wait_event("message.created", body="Anyone there?")
    mine = agent.request("snapshot")["conversations"]
    owners = {c["id"]: c["visitor"] for c in mine}
    assert owners[theirs["conversation_id"]]["user_id"] is None  # the forged claim stored nothing
    assert [v["verified"] for v in owners.values() if v["user_id"] == "user-42"] == [True]
