"""The widget tells a waiting visitor their place in the auto-assignment queue (PROTOCOL.md, "Auto-assignment")."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.support import RunningServer
from tests.widget.conftest import Agent, open_widget


def test_the_header_shows_the_place_in_line_until_an_agent_takes_it(
    page: Page, server: RunningServer, agents: Callable[..., Agent]
) -> None:
    """With auto-assignment on and no free agent (capacity 0), the header says "#1 in line"; once the capacity
    lets the online agent take it, the header says who is there again."""
    agent = agents()
    agent.request("config.set", config={"auto_assign": True, "agent_capacity": 0})
    widget = open_widget(page, server.http_url + "/")
    widget.send("Is anyone there?")
    status = widget.host.locator(".ps")
    expect(status).to_have_text("#1 in line")
    agent.request("config.set", config={"agent_capacity": 1})
    expect(status).to_contain_text("Online · we reply")
    agent.close()
