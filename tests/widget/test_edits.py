"""An agent's edited or deleted message in the widget: "edited" and "Message deleted", live, after a
reload (history) and after a resume (replayed events), never the taken-back text (PROTOCOL.md,
"Editing and deleting")."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.support import RunningServer
from tests.widget.conftest import RECONNECT_TIMEOUT, Agent, Widget, open_widget
from tests.widget.test_reconnect import Proxy


def edit(agent: Agent, ack: dict[str, object], body: str | None) -> None:
    fields = {"conversation_id": ack["conversation_id"], "seq": ack["seq"]}
    if body is None:
        agent.request("message.delete", **fields)
    else:
        agent.request("message.edit", body=body, **fields)


def test_edit_and_delete_show_live_and_after_a_reload(page: Page, server: RunningServer, agent: Agent) -> None:
    """The widget replaces an edited message's text and marks it "edited"; a deleted one reads "Message
    deleted"; a reload (history) shows the same."""
    widget = open_widget(page, server.http_url + "/")
    widget.send("Hello")
    conv = agent.wait_event("message.created", body="Hello")["data"]["conversation_id"]
    wrong = agent.reply(conv, "Your order 1234 ships today")
    gone = agent.reply(conv, "Meant for someone else")
    expect(widget.message("Meant for someone else")).to_be_visible()
    edit(agent, wrong, "Your order ships tomorrow")
    edit(agent, gone, None)
    expect(widget.bodies).to_have_text(["Hello", "Your order ships tomorrow", "Message deleted"])
    expect(widget.message("Your order ships tomorrow").locator(".mt")).to_contain_text("edited")
    expect(widget.message("Message deleted")).to_have_class("r del sent")
    page.reload()
    Widget(page).wait_online()
    expect(widget.bodies).to_have_text(["Hello", "Your order ships tomorrow", "Message deleted"])
    expect(widget.message("Your order ships tomorrow").locator(".mt")).to_contain_text("edited")


def test_a_resuming_widget_never_receives_the_taken_back_text(page: Page, server: RunningServer, agent: Agent) -> None:
    """Edits and a deletion made while the widget was disconnected arrive in the replay on resume; no frame
    the widget receives holds the original or deleted text."""
    received: list[str] = []
    sockets: list[object] = []

    def watch(ws: object) -> None:
        sockets.append(ws)
        if len(sockets) > 1:  # the resumed socket, not the one dropped
            ws.on("framereceived", lambda payload: received.append(str(payload)))  # type: ignore[attr-defined]

    page.on("websocket", watch)
    proxy = Proxy(page, server)
    widget = open_widget(page, server.http_url + "/")
    widget.send("Hello")
    conv = agent.wait_event("message.created", body="Hello")["data"]["conversation_id"]
    early = agent.reply(conv, "Typo-ed answer")
    expect(widget.message("Typo-ed answer")).to_be_visible()

    proxy.hold.set()
    proxy.routes[0].close(code=1001, reason="going away")
    expect(widget.status).not_to_have_attribute("data-state", "online")
    late = agent.reply(conv, "Secret sent by mistake")
    edit(agent, early, "Corrected answer")
    edit(agent, late, None)
    proxy.release()
    widget.wait_online(timeout=RECONNECT_TIMEOUT * 1000)
    expect(widget.bodies).to_have_text(["Hello", "Corrected answer", "Message deleted"])
    assert proxy.of_type("hello")[-1].get("since"), "a resume, not a fresh start"
    leaks = [f for f in received if "Secret sent by mistake" in f or "Typo-ed answer" in f]
    assert received and not leaks, leaks
