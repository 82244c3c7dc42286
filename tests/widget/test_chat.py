"""The visitor's side of a chat, through the real widget in Chromium.

The original product's manual tests, plus persistence and an outage. The agent
side is a protocol-level client (:class:`Agent`).
"""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support import RunningServer
from tests.widget.conftest import RECONNECT_TIMEOUT, Agent, Widget, open_widget, stored_token, watched


def test_test_user_says_hello_and_gets_the_reply(page: Page, server: RunningServer, agent: Agent) -> None:
    """Manual test 1: "Test User" fills the pre-chat form and sends "Hello!"; the agent gets it and the reply shows."""
    agent.request(
        "config.set",
        config={
            "prechat": {
                "enabled": True,
                "fields": [{"name": "name", "required": True}, {"name": "email", "required": False}],
            }
        },
    )
    widget = open_widget(page, server.http_url + "/")
    expect(widget.prechat).to_be_visible()
    expect(widget.composer).to_be_hidden()
    expect(widget.greeting).to_have_text("Hi there! How can we help?")
    widget.prechat.get_by_label("Name").fill("Test User")
    widget.prechat.get_by_role("button", name="Start chat").click()
    expect(widget.composer).to_be_focused()
    widget.send("Hello!")

    created = agent.wait_event("message.created", body="Hello!")
    assert created["data"]["author_kind"] == "visitor"
    conv = created["conversation_id"] or created["data"]["conversation_id"]
    visitor = agent.request("visitor.get", visitor_id=agent.request("snapshot")["conversations"][0]["visitor_id"])
    assert visitor["visitor"]["name"] == "Test User"
    expect(widget.message("Hello!", "visitor")).to_have_attribute("data-status", "sent")

    agent.reply(conv, "Hi Test User! How can I help?")
    expect(widget.message("Hi Test User! How can I help?", "agent")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]
    noise = [line for line in page.console if line.startswith(("error", "warning"))]  # type: ignore[attr-defined]
    assert noise == [], "a normal chat logs nothing to the console"


def test_alice_and_bob_each_get_only_their_own_replies(
    new_context: Callable[..., BrowserContext], server: RunningServer, agent: Agent
) -> None:
    """Manual test 2: two visitors in two browser contexts; each sees only the replies meant for them."""
    pages: dict[str, Page] = {}
    widgets: dict[str, Widget] = {}
    convs: dict[str, int] = {}
    for name in ("Alice", "Bob"):
        pages[name] = watched(new_context().new_page())
        widgets[name] = open_widget(pages[name], server.http_url + "/")
        pages[name].evaluate("name => window.Frontdesk.identify({name})", name)
        widgets[name].send(f"Hi, this is {name}")
        convs[name] = agent.wait_event("message.created", body=f"Hi, this is {name}")["data"]["conversation_id"]
    assert convs["Alice"] != convs["Bob"]

    for name in ("Alice", "Bob"):
        agent.reply(convs[name], f"Hello {name}, only for you")
    for name in ("Alice", "Bob"):
        expect(widgets[name].message(f"Hello {name}, only for you", "agent")).to_be_visible()
    for name, other in (("Alice", "Bob"), ("Bob", "Alice")):
        expect(widgets[name].message(f"Hello {other}")).to_have_count(0)
        expect(widgets[name].message(f"this is {other}")).to_have_count(0)
        expect(widgets[name].messages).to_have_count(2)


def test_reload_and_new_tab_resume_the_same_conversation(
    new_context: Callable[..., BrowserContext], server: RunningServer, agent: Agent
) -> None:
    """The session lives in localStorage: a reload and a new tab show the same visitor, conversation and history."""
    ctx = new_context()
    page = watched(ctx.new_page())
    widget = open_widget(page, server.http_url + "/")
    widget.send("Do you ship to Norway?")
    conv = agent.wait_event("message.created", body="Do you ship to Norway?")["data"]["conversation_id"]
    agent.reply(conv, "We do, in 3 to 5 days.")
    expect(widget.message("We do, in 3 to 5 days.")).to_be_visible()

    page.reload()
    widget = Widget(page)
    widget.wait_online()
    expect(widget.panel).to_be_visible()  # it was open before the reload
    expect(widget.bodies).to_have_text(["Do you ship to Norway?", "We do, in 3 to 5 days."])

    tab = watched(ctx.new_page())
    other = open_widget(tab, server.http_url + "/")
    expect(other.message("We do, in 3 to 5 days.", "agent")).to_be_visible()
    other.send("Great, thanks!")
    assert agent.wait_event("message.created", body="Great, thanks!")["data"]["conversation_id"] == conv
    # The first tab sees what the second one sent: same visitor, same conversation.
    expect(widget.message("Great, thanks!", "visitor")).to_be_visible()
    assert len(agent.request("snapshot")["conversations"]) == 1


@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill"])
def test_outage_shows_offline_queues_and_delivers_exactly_once(
    page: Page, server: RunningServer, agents: Callable[..., Agent], crash: bool
) -> None:
    """Server down (stopped or killed): Offline, a pending message; back: Online, delivered once, the reply arrives."""
    agent = agents()
    widget = open_widget(page, server.http_url + "/")
    widget.send("Before the outage")
    conv = agent.wait_event("message.created", body="Before the outage")["data"]["conversation_id"]
    agent.close()

    server.stop(signal.SIGKILL if crash else signal.SIGTERM)
    expect(widget.status).to_have_attribute("data-state", "offline")
    expect(widget.status).to_have_text("Offline")
    widget.send("Written while offline")
    pending = widget.message("Written while offline", "visitor")
    expect(pending).to_have_attribute("data-status", "pending")
    expect(widget.host.locator(".of")).to_be_visible()

    server.start()
    widget.wait_online(timeout=RECONNECT_TIMEOUT * 1000)
    expect(widget.status).to_be_hidden()  # the connection is fine: nothing to say
    expect(pending).to_have_attribute("data-status", "sent")

    agent = agents()
    bodies = [m["body"] for m in agent.messages(conv)]
    assert bodies == ["Before the outage", "Written while offline"]
    agent.reply(conv, "Sorry about that, we are back.")
    expect(widget.message("Sorry about that, we are back.", "agent")).to_be_visible()
    page.wait_for_timeout(500)
    assert [m["body"] for m in agent.messages(conv)].count("Written while offline") == 1
    expect(widget.message("Written while offline")).to_have_count(1)


def test_an_erased_visitor_starts_over_with_an_empty_thread(page: Page, server: RunningServer, agent: Agent) -> None:
    """After a data-protection erasure the old token is unknown: a new visitor, with nothing old shown."""
    widget = open_widget(page, server.http_url + "/")
    widget.send("Please forget me")
    agent.wait_event("message.created", body="Please forget me")
    visitor_id = agent.request("snapshot")["conversations"][0]["visitor_id"]
    old_token = stored_token(page, server.site_key)
    server.cli("visitor", "erase", "--tenant", server.tenant_slug, "--id", str(visitor_id))

    page.reload()
    widget = Widget(page)
    widget.wait_online()
    expect(widget.greeting).to_be_visible()
    expect(widget.messages).to_have_count(0)
    assert stored_token(page, server.site_key) not in (None, old_token)
    widget.send("Hello again")
    created = agent.wait_event("message.created", body="Hello again")
    assert [m["body"] for m in agent.messages(created["data"]["conversation_id"])] == ["Hello again"]
    expect(widget.bodies).to_have_text(["Hello again"])
