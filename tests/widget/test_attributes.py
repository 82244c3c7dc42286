"""Frontdesk.setAttributes and identify's attributes, in real Chromium (issue 19 item 3)."""

from __future__ import annotations

import time

from frontdesk.server.domain import identity_hash
from playwright.sync_api import Page

from tests.support import RunningServer
from tests.widget.conftest import Agent, open_widget


def _attributes(agent: Agent, visitor_id: int) -> dict[str, object]:
    return dict(agent.request("visitor.get", visitor_id=visitor_id)["visitor"]["attributes"])


def test_set_attributes_before_and_after_connecting_reach_agents(
    page: Page, server: RunningServer, agent: Agent
) -> None:
    """A call queued before the script loaded and one made later are stored, typed and unverified;
    a Date goes as a date; identify's attributes with a valid hash are verified."""
    page.add_init_script("window.Frontdesk = {q: [['setAttributes', [{plan: 'Team', beta: true}]]]};")
    open_widget(page, server.http_url + "/", open_panel=False)
    page.evaluate("Frontdesk.setAttributes({orders: 12, signed_up: new Date(Date.UTC(2025, 2, 1))})")
    visitor_id = agent.wait_event("visitor.updated")["data"]["id"]
    deadline = time.monotonic() + 20
    while len(_attributes(agent, visitor_id)) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    got = _attributes(agent, visitor_id)
    assert got["plan"] == {"value": "Team", "type": "string", "verified": False}
    assert got["beta"] == {"value": True, "type": "boolean", "verified": False}
    assert got["orders"] == {"value": 12, "type": "number", "verified": False}
    assert got["signed_up"] == {"value": "2025-03-01T00:00:00.000Z", "type": "date", "verified": False}

    ts = int(time.time())
    claim = {"user_id": "u-7", "ts": ts, "user_hash": identity_hash(server.identity_secret, "u-7", ts)}
    page.evaluate("c => Frontdesk.identify({...c, attributes: {plan: 'Enterprise'}})", claim)
    deadline = time.monotonic() + 20
    while _attributes(agent, visitor_id)["plan"] != {"value": "Enterprise", "type": "string", "verified": True}:
        assert time.monotonic() < deadline, _attributes(agent, visitor_id)
        time.sleep(0.1)
    assert page.errors == []  # type: ignore[attr-defined]
