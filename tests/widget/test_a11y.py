"""Keyboard use, focus management, the mobile layout, axe-core, and the screenshots."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import BrowserContext, Page, expect

from tests.support import RunningServer
from tests.widget.conftest import ROOT, Agent, Widget, open_widget, watched
from tests.widget.test_attach import drop

SCREENSHOTS = ROOT / "docs" / "screenshots"


def _billing_page_png() -> bytes:
    """A made-up billing page, as a visitor's screenshot."""
    image = Image.new("RGB", (600, 360), "#ffffff")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 600, 52), fill="#0f766e")
    for row in range(4):
        draw.rectangle((24, 84 + row * 60, 380 - row * 50, 100 + row * 60), fill="#d1d5db")
        draw.rectangle((24, 110 + row * 60, 260, 120 + row * 60), fill="#e5e7eb")
    draw.rectangle((420, 84, 576, 200), fill="#fef3c7", outline="#f59e0b", width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_keyboard_only_chat_and_focus_management(page: Page, server: RunningServer, agent: Agent) -> None:
    """Keyboard only: reach the launcher, open (focus moves in), Shift+Enter, Enter, Escape (focus returns)."""
    page.goto(server.http_url + "/")
    widget = Widget(page)
    widget.wait_online()
    page.keyboard.press("Shift+Tab")  # the launcher is the last stop in the page's tab order
    expect(widget.launcher).to_be_focused()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    expect(widget.composer).to_be_focused()

    page.keyboard.type("First line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    page.keyboard.press("Enter")
    created = agent.wait_event("message.created", body="First line\nsecond line")
    expect(widget.composer).to_have_value("")
    expect(widget.message("second line")).to_have_attribute("data-status", "sent")
    assert created["data"]["author_kind"] == "visitor"

    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    page.keyboard.press("Space")
    expect(widget.composer).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(widget.host.locator("[role=region]")).to_be_focused()  # the scrollable conversation is reachable
    page.keyboard.press("Shift+Tab")
    expect(widget.host.get_by_role("button", name="Close chat")).to_be_focused()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()


def test_mobile_panel_is_full_screen(new_context: Callable[..., BrowserContext], server: RunningServer) -> None:
    """Under 480 px wide the open panel fills the screen and the launcher steps aside."""
    page = watched(new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page())
    widget = open_widget(page, server.http_url + "/")
    box = widget.panel.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}
    expect(widget.launcher).to_be_hidden()
    # Full screen, the panel is modal: Tab cycles inside it.
    close = widget.host.get_by_role("button", name="Close chat")
    expect(widget.composer).to_be_focused()
    page.keyboard.type("hi")
    page.keyboard.press("Tab")
    expect(widget.host.get_by_role("button", name="Attach a file")).to_be_focused()  # uploads are on by default
    page.keyboard.press("Tab")  # to the send button, now enabled
    page.keyboard.press("Tab")
    expect(close).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(widget.host.get_by_role("button", name="Send message")).to_be_focused()
    close.tap()
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_visible()
    launcher = widget.launcher.bounding_box()
    assert (
        launcher is not None and launcher["x"] + launcher["width"] <= 390 and launcher["y"] + launcher["height"] <= 844
    )


def test_desktop_panel_sits_above_the_launcher(page: Page, server: RunningServer) -> None:
    """On a desktop the panel is a card above the launcher, inside the viewport."""
    widget = open_widget(page, server.http_url + "/")
    panel, launcher = widget.panel.bounding_box(), widget.launcher.bounding_box()
    assert panel is not None and launcher is not None
    assert panel["width"] == 380 and panel["y"] >= 0
    assert panel["y"] + panel["height"] < launcher["y"]
    # Right edges align (the launcher's centre is 30 px in from its edge; hover may scale it).
    assert abs(panel["x"] + panel["width"] - (launcher["x"] + launcher["width"] / 2 + 30)) < 1


def run_axe(page: Page, axe_source: str) -> list[dict[str, object]]:
    """Inject axe-core and return the serious and critical violations on the page."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_no_serious_violations_with_the_panel_open(
    page: Page, server: RunningServer, agents: Callable[..., Agent], axe_source: str
) -> None:
    """axe-core on the demo page, panel open (pre-chat form and away notice, then a chat): nothing serious."""
    agent = agents()
    agent.request(
        "config.set",
        config={
            "prechat": {
                "enabled": True,
                "fields": [{"name": "name", "required": True}, {"name": "email", "required": False}],
            }
        },
    )
    agent.close()
    widget = open_widget(page, server.http_url + "/")
    expect(widget.prechat).to_be_visible()
    expect(widget.away).to_be_visible()
    expect(widget.away.get_by_label("Your email address")).to_be_hidden()  # the pre-chat form asks for it
    assert run_axe(page, axe_source) == []

    agent = agents()
    widget.prechat.get_by_label("Name").fill("Test User")
    widget.prechat.get_by_role("button", name="Start chat").click()
    widget.send("Hello! Is https://example.com/pricing up to date?")
    conv = agent.wait_event("message.created")["data"]["conversation_id"]
    agent.reply(conv, "Yes, it is. Anything else?")
    agent.request("typing", conversation_id=conv, is_typing=True)
    expect(widget.typing).to_be_visible()
    assert run_axe(page, axe_source) == []


def test_axe_on_mobile_with_a_custom_colour(
    new_context: Callable[..., BrowserContext], server: RunningServer, agent: Agent, axe_source: str
) -> None:
    """Contrast holds against a light tenant colour, at mobile size too."""
    agent.request("config.set", config={"color": "#facc15"})
    page = watched(new_context(viewport={"width": 390, "height": 844}).new_page())
    widget = open_widget(page, server.http_url + "/")
    widget.send("Hello there")
    expect(widget.message("Hello there")).to_have_attribute("data-status", "sent")
    assert run_axe(page, axe_source) == []


def test_screenshots(new_context: Callable[..., BrowserContext], server: RunningServer, tmp_path: Path) -> None:
    """Screenshots of the demo page with the panel open at desktop and mobile sizes, closed with a reply waiting,
    and the end-of-chat rating card after a resolve.

    Set FRONTDESK_UPDATE_SCREENSHOTS=1 to write them to docs/screenshots/.
    """
    password = server.add_agent("ada@lumen.test", "Ada")
    admin = Agent(server)
    admin.request(
        "config.set",
        config={
            "business_name": "Lumen",
            "greeting": "Hi! Questions about plans, payments or your account? We're here to help.",
        },
    )
    admin.close()
    ada = Agent(server, "ada@lumen.test", password)
    shots = []
    try:
        for name, viewport in (("desktop", {"width": 1440, "height": 900}), ("mobile", {"width": 390, "height": 844})):
            page = watched(new_context(viewport=viewport, device_scale_factor=2 if name == "mobile" else 1).new_page())
            widget = open_widget(page, server.http_url + "/")
            page.evaluate("Frontdesk.identify({name: 'Sam'})")
            question = "Hi! Can I switch from Solo to Studio in the middle of the month?"
            widget.send(question)
            conv = ada.wait_event("message.created", body=question)["data"]["conversation_id"]
            ada.reply(conv, "Yes! You only pay the difference for the days left, and your invoices carry over.")
            expect(widget.message("invoices carry over")).to_be_visible()
            widget.send("Perfect, thanks!")
            expect(widget.message("Perfect")).to_have_attribute("data-status", "sent")
            ada.request("typing", conversation_id=conv, is_typing=True)
            expect(widget.typing).to_be_visible()
            widget.composer.fill("One more thing")
            page.mouse.move(0, 0)
            page.wait_for_timeout(400)  # let the panel's open transition finish
            path = tmp_path / f"widget-{name}.png"
            page.screenshot(path=path)
            assert path.stat().st_size > 20_000
            shots.append(path)
            ada.request("typing", conversation_id=conv, is_typing=False)
            if name == "desktop":  # and the page itself, with a reply waiting on the closed launcher
                widget.host.get_by_role("button", name="Close chat").click()
                ada.reply(conv, "Sure, what is it? I can also send you a link to the plan comparison.")
                expect(widget.host.locator(".pk")).to_be_visible()
                page.mouse.move(0, 0)
                page.wait_for_timeout(400)
                path = tmp_path / "widget-closed.png"
                page.screenshot(path=path)
                shots.append(path)
        # A visitor's screenshot, sent by dropping it on the panel (issue 14).
        page = watched(new_context(viewport={"width": 1440, "height": 900}).new_page())
        widget = open_widget(page, server.http_url + "/")
        question = "The billing page still shows my old plan:"
        widget.send(question)
        conv = ada.wait_event("message.created", body=question)["data"]["conversation_id"]
        drop(page, "billing.png", "image/png", _billing_page_png())
        expect(widget.host.locator("ol > li:has(img[alt='billing.png'])")).to_have_attribute("data-status", "sent")
        ada.reply(conv, "Thanks for the screenshot! That's a display lag: your Studio plan is active.")
        expect(widget.message("display lag")).to_be_visible()
        page.mouse.move(0, 0)
        page.wait_for_timeout(400)
        path = tmp_path / "widget-attachment.png"
        page.screenshot(path=path)
        shots.append(path)
        # The end-of-chat card after a resolve (issue 16): stars chosen, a comment typed.
        page = watched(new_context(viewport={"width": 1440, "height": 900}).new_page())
        widget = open_widget(page, server.http_url + "/")
        question = "Could you resend my last invoice?"
        widget.send(question)
        conv = ada.wait_event("message.created", body=question)["data"]["conversation_id"]
        ada.reply(conv, "Done! It's in your inbox, and under Billing too.")
        expect(widget.message("under Billing")).to_be_visible()
        ada.request("resolve", conversation_id=conv)
        card = widget.host.locator("section.csat")
        expect(card).to_be_visible()
        card.get_by_role("button", name="4 of 5").click()
        card.get_by_role("textbox", name="Comment (optional)").fill("Quick, thank you")
        page.mouse.move(0, 0)
        page.wait_for_timeout(400)
        path = tmp_path / "widget-csat.png"
        page.screenshot(path=path)
        shots.append(path)
    finally:
        ada.close()
    if os.environ.get("FRONTDESK_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copy(path, SCREENSHOTS / path.name)
