"""What the visitor sees and can do around the chat: config, retries, typing,
unread count, away, metadata and the JavaScript API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.support import TIMEOUT, RunningServer
from tests.widget.conftest import Agent, Widget, open_widget


def visitor_of(agent: Agent) -> dict[str, object]:
    """The only visitor with a conversation, as agents see them."""
    conv = agent.request("snapshot")["conversations"][0]
    return dict(agent.request("visitor.get", visitor_id=conv["visitor_id"])["visitor"])


def test_live_config_changes_colour_greeting_and_position(page: Page, server: RunningServer, agent: Agent) -> None:
    """A config.set from an admin restyles an open widget at once, with no reload."""
    widget = open_widget(page, server.http_url + "/")
    expect(widget.greeting).to_have_text("Hi there! How can we help?")
    page.evaluate("window.__same_page = true")

    agent.request(
        "config.set",
        config={
            "color": "#fde047",
            "greeting": "Welcome to Lumen! Ask us anything.",
            "position": "left",
            "business_name": "Lumen Support",
        },
    )
    expect(widget.greeting).to_have_text("Welcome to Lumen! Ask us anything.")
    expect(widget.host.locator("#t")).to_have_text("Lumen Support")
    expect(widget.launcher).to_have_css("background-color", "rgb(253, 224, 71)")
    # A light colour gets dark text: contrast holds against the tenant's colour.
    expect(widget.host.locator(".h")).to_have_css("color", "rgb(17, 24, 39)")
    box = widget.launcher.bounding_box()
    assert box is not None and box["x"] < 100
    assert page.evaluate("window.__same_page") is True

    agent.request("config.set", config={"color": "#7c3aed", "position": "right"})
    expect(widget.launcher).to_have_css("background-color", "rgb(124, 58, 237)")
    expect(widget.host.locator(".h")).to_have_css("color", "rgb(255, 255, 255)")
    box = widget.launcher.bounding_box()
    assert box is not None and box["x"] > 1000


def test_failed_message_retries_with_the_same_client_id(page: Page, server: RunningServer, agent: Agent) -> None:
    """A refused message turns failed with Retry; Retry resends the same client_id and it is stored once."""
    sends: list[dict[str, object]] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda p: sends.append(json.loads(p))))
    agent.request("config.set", config={"require_identity": True})
    widget = open_widget(page, server.http_url + "/")
    widget.send("Please keep me")
    failed = widget.message("Please keep me", "visitor")
    expect(failed).to_have_attribute("data-status", "failed")
    retry = failed.get_by_role("button", name="Retry sending message")
    expect(retry).to_be_visible()
    expect(failed).to_contain_text("Not sent")

    agent.request("config.set", config={"require_identity": False})
    retry.click()
    expect(failed).to_have_attribute("data-status", "sent")
    created = agent.wait_event("message.created", body="Please keep me")
    ids = {f["client_id"] for f in sends if f["type"] == "message.send"}
    assert len([f for f in sends if f["type"] == "message.send"]) == 2 and len(ids) == 1
    assert [m["body"] for m in agent.messages(created["data"]["conversation_id"])] == ["Please keep me"]


def test_typing_is_shown_and_sent_throttled(page: Page, server: RunningServer, agent: Agent) -> None:
    """The agent's typing shows as "… is typing"; the visitor's typing reaches agents, throttled."""
    frames: list[dict[str, object]] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda p: frames.append(json.loads(p))))
    widget = open_widget(page, server.http_url + "/")
    widget.send("Hi")
    conv = agent.wait_event("message.created", body="Hi")["data"]["conversation_id"]

    agent.request("typing", conversation_id=conv, is_typing=True)
    expect(widget.typing).to_be_visible()
    expect(widget.typing).to_contain_text("is typing")
    agent.reply(conv, "Here is the answer")
    expect(widget.typing).to_be_hidden()

    widget.composer.press_sequentially("I am typing a long question", delay=20)
    event = agent.wait_event("typing", conversation_id=conv, is_typing=True)
    assert event["data"]["conversation_id"] == conv
    typing = [f for f in frames if f["type"] == "typing" and f["is_typing"]]
    assert 1 <= len(typing) <= 2, "typing must be throttled (one frame per 3 s), not one frame per key"
    widget.composer.press("Enter")
    agent.wait_event("typing", conversation_id=conv, is_typing=False)


def test_unread_count_on_the_launcher_and_announcements(page: Page, server: RunningServer, agent: Agent) -> None:
    """Agent messages while the panel is closed count on the launcher; opening clears it; the live region announces."""
    widget = open_widget(page, server.http_url + "/")
    widget.send("Question")
    conv = agent.wait_event("message.created", body="Question")["data"]["conversation_id"]
    widget.host.locator(".cl").click()
    expect(widget.panel).to_be_hidden()
    expect(widget.badge).to_be_hidden()

    agent.reply(conv, "First answer")
    agent.reply(conv, "Second answer")
    expect(widget.badge).to_have_text("2")
    expect(widget.launcher).to_have_attribute("aria-label", "Chat with us, 2 unread messages")
    expect(widget.host.locator("[aria-live=polite]")).to_have_text("Admin: Second answer")

    page.reload()  # the count survives a reload: it comes from the server's unread_visitor
    widget = Widget(page)
    widget.wait_online()
    expect(widget.badge).to_have_text("2")
    widget.launcher.click()
    expect(widget.badge).to_be_hidden()
    expect(widget.launcher).to_have_attribute("aria-label", "Chat with us")
    event = agent.wait_event("seen", conversation_id=conv)
    assert event["data"]["side"] == "visitor"


def test_sound_plays_for_agent_messages_when_enabled(page: Page, server: RunningServer, agent: Agent) -> None:
    """A new agent message while the panel is closed plays a short sound, unless the tenant turned sound off."""
    page.add_init_script("""
      window.__tones = 0;
      const Orig = window.AudioContext;
      window.AudioContext = class extends Orig {
        createOscillator() { window.__tones++; return super.createOscillator(); }
      };
    """)
    widget = open_widget(page, server.http_url + "/")
    widget.send("Ping")
    conv = agent.wait_event("message.created", body="Ping")["data"]["conversation_id"]
    widget.launcher.click()  # close; the click is the user gesture that allows audio
    agent.reply(conv, "Pong")
    expect(widget.badge).to_have_text("1")
    page.wait_for_function("window.__tones == 1")  # widget/sound.js loads on the first chime

    agent.request("config.set", config={"sound": False})
    page.wait_for_timeout(300)
    agent.reply(conv, "Quiet pong")
    expect(widget.badge).to_have_text("2")
    assert page.evaluate("window.__tones") == 1


def test_away_message_and_leaving_an_email(page: Page, server: RunningServer, agents: Callable[..., Agent]) -> None:
    """With no agent online the away message shows and the visitor can leave a message and an email."""
    widget = open_widget(page, server.http_url + "/")
    expect(widget.away).to_be_visible()
    expect(widget.away).to_contain_text("We're away right now")
    expect(widget.host.locator(".ps")).to_have_text("Away right now")
    widget.send("Call me back please")
    expect(widget.message("Call me back please")).to_have_attribute("data-status", "sent")
    widget.away.get_by_label("Your email address").fill("visitor@example.com")
    widget.away.get_by_role("button", name="Save").click()
    expect(widget.away).to_contain_text("reply to visitor@example.com")

    agent = agents()
    assert visitor_of(agent)["email"] == "visitor@example.com"
    expect(widget.away).to_be_hidden()  # an agent came online: presence is pushed live
    expect(widget.host.locator(".ps")).to_contain_text("Online · we reply")
    agent.close()
    expect(widget.away).to_be_visible()


def test_business_hours_outside_shows_away(page: Page, server: RunningServer, agent: Agent) -> None:
    """Outside business hours the widget is away even with agents online."""
    agent.request("config.set", config={"business_hours": {"enabled": True, "timezone": "UTC", "days": {}}})
    widget = open_widget(page, server.http_url + "/")
    expect(widget.away).to_be_visible()


def test_metadata_on_connect_and_navigation(page: Page, server: RunningServer, agent: Agent) -> None:
    """The widget reports URL, title, referrer, language, time zone and browser; and each SPA navigation."""
    page.goto(server.http_url + "/#from-test")
    widget = Widget(page)
    widget.wait_online()
    widget.open()
    widget.send("Where am I?")
    agent.wait_event("message.created", body="Where am I?")
    visitor = visitor_of(agent)
    assert visitor["page_url"] == server.http_url + "/#from-test"
    assert str(visitor["page_title"]).startswith("Lumen")
    assert visitor["language"] == "en-GB"
    assert visitor["timezone"] == "Europe/London"
    assert "Chrom" in str(visitor["browser"])

    page.evaluate("document.title = 'Pricing · Lumen'; history.pushState({}, '', '/pricing')")
    deadline = time.monotonic() + TIMEOUT * 2
    while visitor_of(agent)["page_url"] != server.http_url + "/pricing" and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    visitor = visitor_of(agent)
    assert visitor["page_url"] == server.http_url + "/pricing"
    assert visitor["page_title"] == "Pricing · Lumen"
    assert visitor["referrer"] == server.http_url + "/#from-test"


def test_javascript_api(page: Page, server: RunningServer, agent: Agent) -> None:
    """window.Frontdesk: open(), close(), identify({name, email}) and on('message', fn)."""
    widget = open_widget(page, server.http_url + "/", open_panel=False)
    page.evaluate("""() => {
      window.__got = [];
      window.Frontdesk.on('message', m => window.__got.push([m.author_kind, m.body]));
    }""")
    page.evaluate("window.Frontdesk.open()")
    expect(widget.panel).to_be_visible()
    expect(widget.composer).to_be_focused()
    page.evaluate("window.Frontdesk.close()")
    expect(widget.panel).to_be_hidden()
    page.evaluate("window.Frontdesk.identify({name: 'Grace Hopper', email: 'grace@example.com'})")
    page.evaluate("window.Frontdesk.open()")
    widget.send("API hello")
    conv = agent.wait_event("message.created", body="API hello")["data"]["conversation_id"]
    agent.reply(conv, "API reply")
    expect(widget.message("API reply")).to_be_visible()
    assert page.evaluate("window.__got") == [["visitor", "API hello"], ["agent", "API reply"]]
    visitor = visitor_of(agent)
    assert (visitor["name"], visitor["email"], visitor["verified"]) == ("Grace Hopper", "grace@example.com", False)


def test_identify_with_user_hash_verifies_the_visitor(page: Page, server: RunningServer, agent: Agent) -> None:
    """identify({user_id, user_hash, ts}) with the tenant's HMAC lets a visitor chat where identity is required."""
    agent.request("config.set", config={"require_identity": True})
    widget = open_widget(page, server.http_url + "/")
    ts = int(time.time())
    user_hash = hmac.new(server.identity_secret.encode(), f"user-42:{ts}".encode(), hashlib.sha256).hexdigest()
    page.evaluate(
        "a => window.Frontdesk.identify({user_id: 'user-42', user_hash: a[0], ts: a[1], name: 'Ada L.'})",
        [user_hash, ts],
    )
    widget.send("Verified hello")
    expect(widget.message("Verified hello")).to_have_attribute("data-status", "sent")
    visitor = visitor_of(agent)
    assert (visitor["user_id"], visitor["verified"], visitor["name"]) == ("user-42", True, "Ada L.")


def test_queued_calls_before_load_are_replayed(page: Page, server: RunningServer) -> None:
    """Calls queued in window.Frontdesk.q before the async script ran are applied when it loads."""
    page.add_init_script("window.Frontdesk = {q: [['open', []]]}")
    widget = open_widget(page, server.http_url + "/", open_panel=False)
    expect(widget.panel).to_be_visible()


def test_a_panel_restored_open_after_a_reload_emits_open(page: Page, server: RunningServer) -> None:
    """A page that listens for `open` hears it when the panel comes back open after a reload, as when clicked."""
    page.add_init_script(
        "window.__opened = 0; window.Frontdesk = {q: [['on', ['open', () => { window.__opened += 1; }]]]}"
    )
    widget = open_widget(page, server.http_url + "/")
    expect(widget.panel).to_be_visible()
    assert page.evaluate("window.__opened") == 1
    page.reload()
    widget = Widget(page)
    widget.wait_online()
    expect(widget.panel).to_be_visible()
    assert page.evaluate("window.__opened") == 1


def test_closed_widget_previews_a_new_agent_message(page: Page, server: RunningServer, agent: Agent) -> None:
    """With the panel closed, a new agent message peeks above the launcher; clicking it opens the chat."""
    widget = open_widget(page, server.http_url + "/")
    widget.send("Anyone there?")
    conv = agent.wait_event("message.created", body="Anyone there?")["data"]["conversation_id"]
    widget.launcher.click()
    expect(widget.panel).to_be_hidden()
    peek = widget.host.locator(".pk")
    expect(peek).to_be_hidden()
    agent.reply(conv, "Yes, Ada here. What can I do for you?")
    expect(peek).to_be_visible()
    expect(peek).to_contain_text("Admin")
    expect(peek).to_contain_text("Yes, Ada here.")
    peek.get_by_role("button", name="Dismiss").click()
    expect(peek).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    agent.reply(conv, "Still here if you need me")
    expect(peek).to_contain_text("Still here")
    peek.get_by_role("button", name="Still here").click()
    expect(widget.panel).to_be_visible()
    expect(peek).to_be_hidden()
    expect(widget.composer).to_be_focused()


def test_business_hours_changes_apply_live(page: Page, server: RunningServer, agent: Agent) -> None:
    """Closing or opening business hours from the console switches an open widget between away and online."""
    all_day = {day: [["00:00", "23:59"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    widget = open_widget(page, server.http_url + "/")
    expect(widget.away).to_be_hidden()
    agent.request(
        "config.set", config={"business_hours": {"enabled": True, "timezone": "Pacific/Auckland", "days": {}}}
    )
    expect(widget.away).to_be_visible()
    agent.request(
        "config.set", config={"business_hours": {"enabled": True, "timezone": "Pacific/Auckland", "days": all_day}}
    )
    expect(widget.away).to_be_hidden()


def test_agent_seen_marks_the_last_visitor_message_seen(page: Page, server: RunningServer, agent: Agent) -> None:
    """When an agent reads the conversation, the visitor's last message turns from Sent to Seen."""
    widget = open_widget(page, server.http_url + "/")
    widget.send("Is anyone reading this?")
    created = agent.wait_event("message.created", body="Is anyone reading this?")
    mine = widget.message("Is anyone reading this?", "visitor")
    expect(mine.locator(".mt")).to_contain_text("Sent")
    agent.request("seen", conversation_id=created["data"]["conversation_id"], seq=created["data"]["seq"])
    expect(mine.locator(".mt")).to_contain_text("Seen")
