"""Several conversations per visitor, in the real widget (issue 15, item 7): after a resolve, "New conversation"
starts a fresh one, writing again reopens the resolved one, and the earlier ones can be read, not continued."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.support import RunningServer
from tests.widget.conftest import Agent, Widget, open_widget


def _first_chat(page: Page, server: RunningServer, agent: Agent, body: str) -> tuple[Widget, int]:
    widget = open_widget(page, server.http_url + "/")
    widget.send(body)
    created = agent.wait_event("message.created", body=body)
    return widget, int(created["data"]["conversation_id"])


def test_new_conversation_after_a_resolve(page: Page, server: RunningServer, agent: Agent) -> None:
    """Once resolved, the widget offers New conversation; it starts a second conversation with an empty thread,
    where the next message goes; the first is listed, readable and not writable."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url) if "/widget/" in r.url else None)
    widget, first = _first_chat(page, server, agent, "Where is my order?")
    assert urls == []  # nothing loaded before it is needed
    agent.reply(first, "On its way!")
    expect(widget.message("On its way!", "agent")).to_be_visible()
    agent.request("resolve", conversation_id=first)
    new = widget.host.get_by_role("button", name="New conversation")
    expect(new).to_be_visible()
    assert urls.count(f"{server.http_url}/widget/history.js") == 1  # (the rating card's csat.js loads too)
    new.click()
    expect(widget.messages).to_have_count(0)
    expect(widget.composer).to_be_focused()
    expect(new).to_be_hidden()
    widget.send("A new question")
    created = agent.wait_event("message.created", body="A new question")
    second = int(created["data"]["conversation_id"])
    assert second != first
    visitor = agent.request("visitor.get", visitor_id=created["data"]["author_id"])
    assert [(c["id"], c["status"]) for c in visitor["conversations"]] == [(second, "open"), (first, "resolved")]
    expect(widget.message("A new question", "visitor")).to_have_attribute("data-status", "sent")
    expect(widget.message("Where is my order?")).to_have_count(0)

    earlier = widget.host.locator("details.hs")
    earlier.locator("summary").click()
    item = earlier.get_by_role("button", name="Conversation of")
    expect(item).to_have_count(1)
    item.click()
    name = agent.login["agent"]["name"]
    expect(earlier.locator(".ht")).to_have_text(["You: Where is my order?", f"{name}: On its way!"])
    expect(earlier.locator(".hro")).to_have_text("This conversation is closed: it can be read, not continued.")
    assert page.errors == []  # type: ignore[attr-defined]


def test_writing_again_after_a_resolve_reopens_it(page: Page, server: RunningServer, agent: Agent) -> None:
    """Without New conversation, the next message reopens the resolved conversation (the server's one rule), and
    the offer goes away; a reload lands in the same conversation."""
    widget, first = _first_chat(page, server, agent, "Hello")
    agent.request("resolve", conversation_id=first)
    new = widget.host.get_by_role("button", name="New conversation")
    expect(new).to_be_visible()
    widget.send("One more thing")
    created = agent.wait_event("message.created", body="One more thing")
    assert created["data"]["conversation_id"] == first and created["data"]["conversation"]["status"] == "open"
    reopened = agent.wait_event("conversation.updated", change="open")
    assert reopened["data"]["actor_id"] is None
    expect(new).to_be_hidden()
    page.reload()
    widget = Widget(page)
    widget.wait_online()
    widget.open()
    expect(widget.message("One more thing", "visitor")).to_be_visible()
    expect(widget.host.locator("details.hs")).to_have_count(0)  # no earlier conversation, no list
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_resolved_one_offers_a_new_one_after_a_reload(page: Page, server: RunningServer, agent: Agent) -> None:
    """A visitor who comes back to a resolved conversation is offered New conversation at once, and it works."""
    widget, first = _first_chat(page, server, agent, "Hello")
    agent.request("resolve", conversation_id=first)
    page.reload()
    widget = Widget(page)
    widget.wait_online()
    widget.open()
    expect(widget.message("Hello", "visitor")).to_be_visible()
    new = widget.host.get_by_role("button", name="New conversation")
    expect(new).to_be_visible()
    new.click()
    expect(widget.messages).to_have_count(0)
    expect(widget.host.locator("details.hs")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


def test_axe_finds_nothing_serious_in_the_history_module(
    page: Page, server: RunningServer, agent: Agent, axe_source: str
) -> None:
    """axe-core with New conversation and an opened earlier conversation on screen: nothing serious."""
    from tests.widget.test_a11y import run_axe

    widget, first = _first_chat(page, server, agent, "Hello")
    agent.request("resolve", conversation_id=first)
    new = widget.host.get_by_role("button", name="New conversation")
    expect(new).to_be_visible()
    assert run_axe(page, axe_source) == []
    new.click()
    earlier = widget.host.locator("details.hs")
    earlier.locator("summary").click()
    earlier.get_by_role("button", name="Conversation of").click()
    expect(earlier.locator(".hro")).to_be_visible()
    assert run_axe(page, axe_source) == []
