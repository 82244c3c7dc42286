"""The widget's one status (issue 13, item 6): availability in the header, the connection in the footer
only when it is not fine, an online dot visible on any tenant colour, an away box that never covers the
newest message."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.support import RunningServer
from tests.widget.conftest import Agent, open_widget


def test_header_and_footer_never_disagree(page: Page, server: RunningServer, agent: Agent) -> None:
    """Online with an agent there: the header says so and the footer shows no connection status at all."""
    widget = open_widget(page, server.http_url + "/")
    expect(widget.host.locator(".ps")).to_have_text("Online \u00b7 we reply in a few minutes")
    expect(widget.status).to_be_hidden()
    expect(widget.host.locator(".h")).to_have_class("h here")


def test_away_header_with_a_hidden_connection_status(page: Page, server: RunningServer) -> None:
    """No agent online: the header says "Away right now" and the footer does not claim "Online"."""
    widget = open_widget(page, server.http_url + "/")
    expect(widget.host.locator(".ps")).to_have_text("Away right now")
    expect(widget.status).to_be_hidden()
    expect(widget.host.locator(".h")).not_to_have_class("h here")


def test_the_online_dot_has_a_white_ring_on_a_green_header(page: Page, server: RunningServer, agent: Agent) -> None:
    """On a header the colour of the dot itself, the dot keeps a white ring and a dark edge around it."""
    agent.request("config.set", config={"color": "#22c55e"})
    widget = open_widget(page, server.http_url + "/")
    dot = widget.host.locator(".here .pd")
    expect(dot).to_have_css("background-color", "rgb(34, 197, 94)")
    shadow = dot.evaluate("e => getComputedStyle(e).boxShadow")
    assert "rgb(255, 255, 255)" in shadow and "rgba(0, 0, 0" in shadow, shadow


def test_the_away_box_never_covers_the_newest_message(page: Page, server: RunningServer, agent: Agent) -> None:
    """On a short screen the away box shrinks (and scrolls) so the newest message stays whole in view above it."""
    agent.close()
    page.set_viewport_size({"width": 600, "height": 400})
    widget = open_widget(page, server.http_url + "/")
    expect(widget.away).to_be_visible()
    for i in range(12):
        widget.send(f"Line {i} of a long question")
    newest = widget.message("Line 11 of a long question")
    expect(newest).to_have_attribute("data-status", "sent")
    box = widget.host.locator(".m").bounding_box()
    away = widget.away.bounding_box()
    last = newest.locator(".bu").bounding_box()
    assert box and away and last
    assert box["y"] - 1 <= last["y"], (last, box)  # all of it, not just its last line
    assert last["y"] + last["height"] <= min(box["y"] + box["height"], away["y"]) + 1, (last, box, away)


def test_an_agent_going_away_turns_the_header_away(page: Page, server: RunningServer, agent: Agent) -> None:
    """The only agent online setting themselves Away (availability.set) shows "Away right now" and the away box;
    back Online restores "we reply in a few minutes"."""
    widget = open_widget(page, server.http_url + "/")
    expect(widget.host.locator(".ps")).to_have_text("Online \u00b7 we reply in a few minutes")
    agent.request("availability.set", away=True)
    expect(widget.host.locator(".ps")).to_have_text("Away right now")
    expect(widget.away).to_be_visible()
    agent.request("availability.set", away=False)
    expect(widget.host.locator(".ps")).to_have_text("Online \u00b7 we reply in a few minutes")
    expect(widget.away).to_be_hidden()
