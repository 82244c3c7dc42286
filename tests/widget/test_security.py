"""Safe rendering, foreign origins and Shadow DOM isolation."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.support import TIMEOUT, RunningServer
from tests.widget.conftest import Agent, embed_page, open_widget

XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def test_xss_payloads_from_either_side_render_as_text(page: Page, server: RunningServer, agent: Agent) -> None:
    """An HTML payload from the visitor or the agent shows as literal text and runs nothing."""
    widget = open_widget(page, server.http_url + "/")
    widget.send(XSS)
    conv = agent.wait_event("message.created", body=XSS)["data"]["conversation_id"]
    agent.reply(conv, "agent says " + XSS)
    expect(widget.message("agent says", "agent")).to_be_visible()

    expect(widget.bodies).to_have_text([XSS, "agent says " + XSS])
    assert widget.host.locator("img, script").count() == 0
    assert widget.host.locator("ol script, ol img").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.errors == []  # type: ignore[attr-defined]


def test_links_are_http_only_and_open_without_opener(page: Page, server: RunningServer, agent: Agent) -> None:
    """Only http(s) URLs become links, with rel="noopener noreferrer"; javascript: stays text."""
    widget = open_widget(page, server.http_url + "/")
    widget.send("hello")
    conv = agent.wait_event("message.created", body="hello")["data"]["conversation_id"]
    agent.reply(conv, "See https://example.com/docs?a=1&b=2. Or javascript:alert(1) or <a href='javascript:x'>y</a>")
    bubble = widget.message("See", "agent").locator(".bu")
    expect(bubble).to_be_visible()
    links = bubble.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.com/docs?a=1&b=2")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    expect(links).to_have_attribute("target", "_blank")


def test_foreign_origin_is_refused_and_shows_no_chat(
    page: Page, server: RunningServer, foreign_site: Callable[[str], str]
) -> None:
    """On a site whose origin is not allowed: HTTP 403, no chat, one quiet console message, and no endless retries."""
    url = foreign_site(embed_page(server))
    foreign_origin = url.split("/page")[0]
    with pytest.raises(InvalidStatus) as refused, connect(server.visitor_url, origin=Origin(foreign_origin)):
        pass
    assert refused.value.response.status_code == 403

    attempts: list[str] = []
    page.on("websocket", lambda ws: attempts.append(ws.url))
    with page.expect_console_message(lambda m: "[Frontdesk]" in m.text, timeout=TIMEOUT * 4000) as message:
        page.goto(url)
    note = message.value
    assert note.type == "warning"
    assert "Chat is off on this page" in note.text and "127.0.0.1:" in note.text
    expect(page.get_by_role("heading", name="Another website")).to_be_visible()

    tries = len(attempts)
    assert 1 <= tries <= 3
    page.wait_for_timeout(3000)
    assert len(attempts) == tries, "the widget keeps retrying a refused origin"
    expect(page.locator("frontdesk-chat")).to_have_count(0)


def test_allowed_foreign_origin_gets_the_chat(
    page: Page, server: RunningServer, agent: Agent, foreign_site: Callable[[str], str]
) -> None:
    """A site listed in allowed_origins embeds the widget from the chat server and chats normally."""
    url = foreign_site(embed_page(server))
    host = url.split("/")[2]
    agent.request("config.set", config={"allowed_origins": [host]})
    widget = open_widget(page, url)
    widget.send("Hello from another site")
    created = agent.wait_event("message.created", body="Hello from another site")
    expect(widget.message("Hello from another site")).to_have_attribute("data-status", "sent")
    visitor_id = agent.request("snapshot")["conversations"][0]["visitor_id"]
    assert agent.request("visitor.get", visitor_id=visitor_id)["visitor"]["page_url"] == url
    assert created["data"]["conversation_id"]


HOSTILE_CSS = """
<style>
  * { color: #f0f !important; font-family: "Comic Sans MS", cursive !important; letter-spacing: 4px !important; }
  button { background: #f00 !important; border: 9px solid lime !important; border-radius: 0 !important; }
  div, li, ol, textarea { display: block; padding: 40px; margin: 40px; }
  .l, .p, .m, .bu { display: none !important; }
  frontdesk-chat { font-size: 40px; line-height: 5; text-transform: uppercase; }
</style>
<p class="l">The host page's own element with class "l".</p>
<button class="bt" type="button">A host page button</button>
"""


def test_shadow_dom_keeps_styles_apart(
    page: Page, server: RunningServer, agent: Agent, foreign_site: Callable[[str], str]
) -> None:
    """Hostile host-page CSS does not break the widget, and the widget's CSS does not touch the host page."""
    url = foreign_site(embed_page(server, HOSTILE_CSS, title="Hostile styles"))
    agent.request("config.set", config={"allowed_origins": [url.split("/")[2]]})
    widget = open_widget(page, url)
    widget.send("still readable")
    expect(widget.message("still readable")).to_have_attribute("data-status", "sent")  # no re-render after this
    bubble = widget.message("still readable").locator(".bu")
    style = bubble.evaluate(
        "e => { const s = getComputedStyle(e); return [s.color, s.fontFamily, s.letterSpacing, s.textTransform] }"
    )
    assert style[0] == "rgb(255, 255, 255)"
    assert "Comic" not in style[1]
    assert style[2] == "normal" and style[3] == "none"
    launcher_bg = widget.launcher.evaluate("e => getComputedStyle(e).backgroundColor")
    assert launcher_bg == "rgb(37, 99, 235)"
    # The widget's rules (.l, .bt) never reach the host page's elements of the same class.
    host_l = page.locator("main > p.l")
    assert host_l.evaluate("e => getComputedStyle(e).position") == "static"
    assert page.locator("main > button.bt").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 0, 0)"


def test_frames_sent_by_the_widget_follow_the_protocol(page: Page, server: RunningServer, agent: Agent) -> None:
    """hello carries the visitor metadata; message.send carries a UUID client_id; no token in the URL."""
    sent: list[dict[str, object]] = []
    urls: list[str] = []

    def on_ws(ws: object) -> None:
        urls.append(ws.url)  # type: ignore[attr-defined]
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)))  # type: ignore[attr-defined]

    page.on("websocket", on_ws)
    widget = open_widget(page, server.http_url + "/")
    widget.send("frames")
    expect(widget.message("frames")).to_have_attribute("data-status", "sent")
    hello = next(f for f in sent if f["type"] == "hello")
    meta = hello["meta"]
    assert isinstance(meta, dict)
    assert meta["url"] == server.http_url + "/"
    assert meta["title"].startswith("Lumen")
    assert meta["language"] == "en-GB" and meta["timezone"] == "Europe/London"
    assert "Chrome" in meta["user_agent"]
    send = next(f for f in sent if f["type"] == "message.send")
    assert len(str(send["client_id"])) == 36 and send["ref"]
    assert urls == [f"{server.ws_url}/v1/visitor?site={server.site_key}"]
    assert all(set(f) >= {"type"} for f in sent)


def test_widget_loaded_twice_mounts_once(page: Page, server: RunningServer) -> None:
    """A second copy of the tag is ignored: one widget, one socket."""
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    open_widget(page, server.http_url + "/", open_panel=False)
    page.add_script_tag(url=f"{server.http_url}/widget.js")
    page.wait_for_timeout(500)
    expect(page.locator("frontdesk-chat")).to_have_count(1)
    assert len(sockets) == 1


def test_strict_csp_host_page_still_gets_a_styled_widget(
    page: Page, server: RunningServer, agent: Agent, foreign_site: Callable[[str], str]
) -> None:
    """A host page whose CSP forbids inline styles still gets a styled, working widget (constructed stylesheet)."""
    csp = (
        f"default-src 'self'; script-src 'self' {server.http_url}; "
        f"connect-src 'self' {server.ws_url} {server.http_url}; style-src 'self'"
    )
    html = embed_page(server, title="Strict CSP").replace(
        "<head>", f'<head><meta http-equiv="Content-Security-Policy" content="{csp}">'
    )
    url = foreign_site(html)
    agent.request("config.set", config={"allowed_origins": [url.split("/")[2]]})
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    widget = open_widget(page, url)
    expect(widget.launcher).to_have_css("background-color", "rgb(37, 99, 235)")
    expect(widget.launcher).to_have_css("position", "fixed")
    widget.send("CSP hello")
    expect(widget.message("CSP hello")).to_have_attribute("data-status", "sent")
    assert violations == []
