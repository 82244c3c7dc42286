"""The connection: status states, a dropped socket, and catching up from the cursor.

The widget's socket is routed through Playwright (``page.route_web_socket``),
so a test can hold frames back or drop the connection while the server runs.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.support import RunningServer
from tests.widget.conftest import RECONNECT_TIMEOUT, Agent, Widget, open_widget, stored_token

YELLOW, RED = "rgb(234, 179, 8)", "rgb(220, 38, 38)"


class Proxy:
    """Every widget socket of a page, forwarded to the real server, frames recorded."""

    def __init__(self, page: Page, server: RunningServer) -> None:
        self.routes: list[WebSocketRoute] = []
        self.sent: list[dict[str, Any]] = []
        self.hold = threading.Event()  # set: keep page frames back
        self.lose_next_ack = threading.Event()  # set: drop the socket right after the next message.send
        self.held: list[tuple[WebSocketRoute, str | bytes]] = []
        page.route_web_socket(f"{server.ws_url}/v1/visitor*", self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        upstream = ws.connect_to_server()
        self.routes.append(ws)

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            self.sent.append(frame)
            if self.lose_next_ack.is_set() and frame["type"] == "message.send":
                # The server gets and stores it, but the connection dies before the widget hears back.
                self.lose_next_ack.clear()
                upstream.send(message)
                ws.close(code=1001, reason="lost")
            elif self.hold.is_set():
                self.held.append((upstream, message))
            else:
                upstream.send(message)

        ws.on_message(from_page)
        upstream.on_message(ws.send)

    def release(self) -> None:
        self.hold.clear()
        for upstream, message in self.held:
            upstream.send(message)
        self.held.clear()

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [f for f in self.sent if f.get("type") == type_]


def dot(widget: Widget) -> str:
    return str(widget.status.locator("i").evaluate("e => getComputedStyle(e).backgroundColor"))


def test_status_dot_connecting_then_online(page: Page, server: RunningServer) -> None:
    """A yellow "Connecting…" in the footer until the server answers hello; then the footer hides and the
    header speaks of availability only."""
    proxy = Proxy(page, server)
    proxy.hold.set()
    cached = json.dumps({"cfg": {"business_name": "Cached"}, "open": True})  # the first widget's record
    page.add_init_script(f"localStorage.setItem({json.dumps('frontdesk:' + server.site_key)}, {json.dumps(cached)})")
    page.goto(server.http_url + "/")
    widget = Widget(page)
    expect(widget.status).to_have_attribute("data-state", "connecting")
    expect(widget.status).to_have_text("Connecting\u2026")
    assert dot(widget) == YELLOW
    expect(widget.host.locator("#t")).to_have_text("Cached")  # drawn at once from the cached config
    proxy.release()
    widget.wait_online()
    expect(widget.status).to_be_hidden()
    expect(widget.host.locator(".ps")).to_have_text("Away right now")  # availability (no agent here), not the link
    expect(widget.host.locator("#t")).not_to_have_text("Cached")


def test_dropped_socket_reconnects_and_catches_up_from_its_cursor(
    page: Page, server: RunningServer, agent: Agent
) -> None:
    """After a drop the widget reconnects with since/epoch, gets what it missed once, and sends what was queued."""
    proxy = Proxy(page, server)
    widget = open_widget(page, server.http_url + "/")
    widget.send("First")
    conv = agent.wait_event("message.created", body="First")["data"]["conversation_id"]
    agent.reply(conv, "Reply one")
    expect(widget.message("Reply one")).to_be_visible()
    first_hello = proxy.of_type("hello")[0]
    assert "since" not in first_hello
    histories = len(proxy.of_type("history"))

    proxy.hold.set()  # the next socket's frames are held: the widget stays disconnected
    proxy.routes[0].close(code=1001, reason="going away")
    expect(widget.status).not_to_have_attribute("data-state", "online")
    agent.reply(conv, "Missed while you were away")
    agent.reply(conv, "And another one")
    widget.send("Queued during the drop")
    expect(widget.message("Queued during the drop")).to_have_attribute("data-status", "pending")
    assert dot(widget) in (YELLOW, RED)

    proxy.release()
    widget.wait_online(timeout=RECONNECT_TIMEOUT * 1000)
    expect(widget.message("And another one")).to_be_visible()
    expect(widget.message("Queued during the drop")).to_have_attribute("data-status", "sent")
    resume = proxy.of_type("hello")[-1]
    stored = stored_token(page, server.site_key)
    assert resume["token"] == stored and "token" not in first_hello  # the same visitor, resumed
    assert resume["epoch"] and resume["since"] >= 1
    assert len(proxy.of_type("history")) == histories, "a resume replays events instead of refetching history"
    expect(widget.bodies).to_have_text(
        ["First", "Reply one", "Missed while you were away", "And another one", "Queued during the drop"]
    )
    assert [m["body"] for m in agent.messages(conv)].count("Queued during the drop") == 1


def test_show_earlier_messages_pages_back_through_history(page: Page, server: RunningServer, agent: Agent) -> None:
    """A long conversation opens on its last 50 messages; "Show earlier messages" loads the rest."""
    widget = open_widget(page, server.http_url + "/")
    widget.send("Start")
    conv = agent.wait_event("message.created", body="Start")["data"]["conversation_id"]
    for i in range(1, 61):
        agent.reply(conv, f"Line {i}")
        if i % 15 == 0:
            page.wait_for_timeout(1000)  # stay under the agent's request rate limit
    expect(widget.message("Line 60")).to_be_visible()
    page.reload()
    widget = Widget(page)
    widget.wait_online()
    expect(widget.messages).to_have_count(50)
    more = widget.host.get_by_role("button", name="Show earlier messages")
    more.click()
    expect(widget.messages).to_have_count(61)
    expect(more).to_be_hidden()
    expect(widget.bodies.first).to_have_text("Start")


def test_lost_ack_is_resent_with_the_same_client_id_and_stored_once(
    page: Page, server: RunningServer, agent: Agent
) -> None:
    """A message whose ack is lost stays pending, is resent on reconnect with the same client_id, and is stored once."""
    proxy = Proxy(page, server)
    widget = open_widget(page, server.http_url + "/")
    proxy.lose_next_ack.set()
    widget.send("Did you get this?")
    created = agent.wait_event("message.created", body="Did you get this?")  # stored at once
    widget.wait_online(timeout=RECONNECT_TIMEOUT * 1000)
    expect(widget.message("Did you get this?")).to_have_attribute("data-status", "sent")
    sends = proxy.of_type("message.send")
    assert len(sends) == 2 and sends[0]["client_id"] == sends[1]["client_id"]
    assert len(proxy.routes) == 2
    assert [m["body"] for m in agent.messages(created["data"]["conversation_id"])] == ["Did you get this?"]
    expect(widget.message("Did you get this?")).to_have_count(1)
