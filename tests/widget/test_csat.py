"""The end-of-chat card (widget/csat.js, loaded lazily): the rating prompt after a resolve, a rating and a
changed one reaching the agents, and the transcript downloaded as text, in real Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.support import RunningServer
from tests.widget.conftest import Agent, open_widget


def assert_above_the_resolved_note(host: Locator, card: Locator) -> None:
    """The rating card comes before the resolved note and its "New conversation" (history.js), whichever of
    the two lazily loaded modules drew first: rate this conversation, then start another."""
    expect(host.locator(".hn")).to_be_visible()
    assert card.evaluate(
        "(c) => !!(c.compareDocumentPosition(c.parentNode.querySelector('.hn')) & Node.DOCUMENT_POSITION_FOLLOWING)"
    )


def test_a_resolve_shows_the_rating_prompt_and_the_rating_reaches_the_agents(
    page: Page, server: RunningServer, agent: Agent
) -> None:
    """After the agent resolves, the widget loads csat.js once and asks for 1-5 stars; the visitor's rating and
    comment reach the agents as csat.submitted, and the visitor can change it."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url) if "/widget/" in r.url else None)
    widget = open_widget(page, server.http_url + "/")
    widget.send("Hello")
    conv = agent.wait_event("message.created", body="Hello")["data"]["conversation_id"]
    agent.reply(conv, "Sorted!")
    expect(widget.message("Sorted!")).to_be_visible()
    assert urls == []  # nothing loaded before it is needed
    agent.request("resolve", conversation_id=conv)
    card = widget.host.locator("section.csat")
    expect(card).to_be_visible()
    expect(card.locator("h3")).to_have_text("How did we do?")
    assert_above_the_resolved_note(widget.host, card)
    stars = card.get_by_role("button", name="4 of 5")
    stars.click()
    expect(stars).to_have_attribute("aria-pressed", "true")
    card.get_by_role("textbox", name="Comment (optional)").fill("Quick and kind")
    card.get_by_role("button", name="Send rating").click()
    heard = agent.wait_event("csat.submitted", conversation_id=conv)["data"]
    assert (heard["rating"], heard["comment"]) == (4, "Quick and kind")
    expect(card.locator(".ok")).to_be_visible()
    card.get_by_role("button", name="5 of 5").click()
    card.get_by_role("button", name="Change rating").click()
    assert agent.wait_event("csat.submitted", conversation_id=conv, rating=5)["data"]["comment"] == "Quick and kind"
    assert urls.count(f"{server.http_url}/widget/csat.js") == 1  # once (history.js comes with a resolve too)
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_visitor_who_was_away_at_the_resolve_finds_the_card_on_coming_back(
    page: Page, server: RunningServer, agent: Agent
) -> None:
    """The visitor leaves the page, the agent resolves meanwhile; back on the site, the widget shows the rating
    card from hello (no csat.requested was ever pushed to it) and the rating reaches the agents."""
    widget = open_widget(page, server.http_url + "/")
    widget.send("Can I change my delivery address?")
    conv = agent.wait_event("message.created", body="Can I change my delivery address?")["data"]["conversation_id"]
    agent.reply(conv, "Done, it goes to the new one.")
    expect(widget.message("Done, it goes to the new one.")).to_be_visible()
    page.goto("about:blank")
    agent.request("resolve", conversation_id=conv)
    widget = open_widget(page, server.http_url + "/")
    card = widget.host.locator("section.csat")
    expect(card.locator("h3")).to_have_text("How did we do?")
    assert_above_the_resolved_note(widget.host, card)
    card.get_by_role("button", name="5 of 5").click()
    card.get_by_role("button", name="Send rating").click()
    assert agent.wait_event("csat.submitted", conversation_id=conv)["data"]["rating"] == 5
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_transcript_downloads_as_text(page: Page, server: RunningServer, agent: Agent, tmp_path: Path) -> None:
    """The card's "Download transcript" saves a .txt of the thread, both sides with their names; "Email me the
    transcript" asks the server, which answers here that the site sends no email."""
    widget = open_widget(page, server.http_url + "/")
    widget.send("Where is my order?")
    conv = agent.wait_event("message.created", body="Where is my order?")["data"]["conversation_id"]
    agent.reply(conv, "It ships today.")
    expect(widget.message("It ships today.")).to_be_visible()
    agent.request("resolve", conversation_id=conv)
    button = widget.host.get_by_role("button", name="Download transcript")
    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename.startswith("transcript-") and download.suggested_filename.endswith(".txt")
    target = tmp_path / "t.txt"
    download.save_as(target)
    text = target.read_text(encoding="utf-8")
    assert "You:\nWhere is my order?" in text
    assert f"{agent.login['agent']['name']}:\nIt ships today." in text
    # By email: this demo site sends no email, and the card says so (the request reached the server).
    widget.host.get_by_role("button", name="Email me the transcript").click()
    expect(widget.host.locator("section.csat .er")).to_contain_text("does not send email")
