"""The widget speaks the visitor's language (PROTOCOL.md, "Widget language"), in real Chromium:
German from the browser's locale, the tenant's default for a language we do not ship, an admin's
override arriving live, right-to-left text, and the catalogue held to widget.js and its language files."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from frontdesk.server.protocol import WIDGET_LANGUAGES, WIDGET_STRINGS, WIDGET_TENANT_TEXTS
from playwright.sync_api import BrowserContext, expect

from tests.support import RunningServer
from tests.widget.conftest import ROOT, WIDGET_JS, Agent, open_widget, watched
from tests.widget.test_assets import get

LANGUAGE_FILES = {lang: ROOT / "widget" / f"i18n-{lang}.js" for lang in WIDGET_LANGUAGES if lang != "en"}


def _unescape(literal: str) -> str:
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1), 16)), literal)


def _js(text: str) -> str:
    """How widget.js writes ``text``: non-ASCII as \\uXXXX."""
    return "".join(c if ord(c) < 128 else f"\\u{ord(c):04x}" for c in text)


def test_every_shown_string_is_in_the_catalogue_and_every_language() -> None:
    """Each catalogue string is built into widget.js in English, every t('…') is one of them (or a tenant
    text), and each language file translates every one, in the catalogue's order."""
    modules = [p for p in (ROOT / "widget").glob("*.js") if not p.name.startswith("i18n-")]
    src = "\n".join(p.read_text("utf-8") for p in [WIDGET_JS, *modules])
    for text in WIDGET_STRINGS:
        assert any(f"{a}{_js(text)}{b}" in src for a, b in (("'", "'"), (">", "<"), ('="', '"'))), text
    direct = {_unescape(m) for m in re.findall(r"\bt\('((?:[^'\\]|\\.)*)'\)", src)}
    assert direct <= set(WIDGET_STRINGS) | set(WIDGET_TENANT_TEXTS), direct - set(WIDGET_STRINGS)
    for lang, path in LANGUAGE_FILES.items():
        keys = re.findall(r'^  "((?:[^"\\]|\\.)*)": ', path.read_text("utf-8"), re.M)
        assert keys == list(WIDGET_STRINGS), lang


def test_language_files_are_served_gzipped_with_an_etag(server: RunningServer) -> None:
    """/widget/i18n-de.js: gzipped, with an ETag that gives 304."""
    status, headers, _ = get(server, "/widget/i18n-de.js", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and headers["ETag"]
    status, _, _ = get(server, "/widget/i18n-de.js", {"If-None-Match": headers["ETag"]})
    assert status == 304


def test_german_browser_gets_german_words(new_context: Callable[..., BrowserContext], server: RunningServer) -> None:
    """locale de-DE: the template, the status line and the composer are German; only de is fetched."""
    page = watched(new_context(locale="de-DE").new_page())
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/widget/i18n-" in r.url else None)
    widget = open_widget(page, server.http_url + "/")
    expect(widget.composer).to_have_attribute("placeholder", "Nachricht schreiben\u2026")
    expect(widget.host.get_by_role("button", name="Chat schließen")).to_be_visible()
    expect(widget.host.locator(".ps")).to_have_text("Gerade nicht erreichbar")  # no agent online
    expect(widget.host.locator(".fd")).to_have_attribute("lang", "de")
    assert [u.rsplit("/", 1)[1] for u in fetched] == ["i18n-de.js"]
    assert page.errors == []  # type: ignore[attr-defined]


def test_unsupported_locale_falls_back_to_the_tenants_language(
    new_context: Callable[..., BrowserContext], server: RunningServer, agent: Agent
) -> None:
    """A Japanese browser gets the tenant's default language (French here), not English."""
    agent.request("config.set", config={"language": "fr"})
    page = watched(new_context(locale="ja-JP").new_page())
    widget = open_widget(page, server.http_url + "/")
    expect(widget.composer).to_have_attribute("placeholder", "Écrivez un message\u2026")
    expect(widget.host.locator(".ps")).to_have_text("En ligne \u00b7 nous répondons en quelques minutes")


def test_an_admin_override_reaches_an_open_widget_live(
    new_context: Callable[..., BrowserContext], server: RunningServer, agent: Agent
) -> None:
    """Overrides of a string, the greeting and the launcher label for German show in an open widget at once."""
    page = watched(new_context(locale="de-DE").new_page())
    widget = open_widget(page, server.http_url + "/")
    expect(widget.composer).to_have_attribute("placeholder", "Nachricht schreiben\u2026")
    agent.request(
        "config.set",
        config={
            "translations": {
                "de": {"Write a message\u2026": "Ihre Frage\u2026", "greeting": "Moin!", "launcher_label": "Hilfe"},
                "fr": {"greeting": "Bonjour !"},
            }
        },
    )
    expect(widget.composer).to_have_attribute("placeholder", "Ihre Frage\u2026")
    expect(widget.greeting).to_have_text("Moin!")
    expect(widget.launcher).to_have_attribute("aria-label", "Hilfe")


@pytest.mark.parametrize("bad", [{"xx": {}}, {"de": {"Not a widget string": "x"}}, {"de": {"Save": 5}}])
def test_bad_translations_are_refused(agent: Agent, bad: dict[str, object]) -> None:
    """An unknown language or string, or a text that is not one, is refused by config.set."""
    with pytest.raises(Exception, match="translations"):
        agent.request("config.set", config={"translations": bad})


def test_arabic_renders_right_to_left(
    new_context: Callable[..., BrowserContext], server: RunningServer, agent: Agent
) -> None:
    """Arabic from the visitor and from an agent, and in the composer, is laid out right to left; English stays LTR."""
    page = watched(new_context(locale="ar-EG").new_page())
    widget = open_widget(page, server.http_url + "/")
    widget.send("مرحبا، أحتاج إلى مساعدة")
    conv = agent.wait_event("message.created", body="مرحبا، أحتاج إلى مساعدة")["data"]["conversation_id"]
    agent.reply(conv, "أهلا! كيف يمكننا المساعدة؟")
    agent.reply(conv, "Hello in English")
    expect(widget.bodies).to_have_count(3)
    directions = widget.bodies.evaluate_all("nodes => nodes.map((n) => getComputedStyle(n).direction)")
    assert directions == ["rtl", "rtl", "ltr"]
    widget.composer.fill("نص عربي")
    assert widget.composer.evaluate("n => getComputedStyle(n).direction") == "rtl"
