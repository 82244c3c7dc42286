"""Fixtures for the widget tests: a real Chromium through Playwright, the
server as a subprocess (``server`` from ``tests/conftest.py``), and the agent
side as a protocol-level client.

Playwright's sync API is used, so the agent client is synchronous too
(``websockets.sync``): no second event loop fights Playwright's.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server.protocol import ClientProtocol, Endpoint
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support import SCALE, TIMEOUT, RunningServer, ServerError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Milliseconds Playwright waits for anything that should be quick.
UI_TIMEOUT_MS = TIMEOUT * 2 * 1000
#: Seconds a reconnect may take: the widget's backoff is capped at 10 s, and a
#: restarted server may itself take a while to listen on a busy machine.
RECONNECT_TIMEOUT = 40 * SCALE

ROOT = Path(__file__).resolve().parents[2]
WIDGET_JS = ROOT / "widget" / "widget.js"
AXE_DIR = Path(__file__).resolve().parent / ".axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
#: How `make` installs axe-core (also run on demand by the `axe_source` fixture).
AXE_INSTALL = ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(AXE_DIR), "axe-core@4"]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """The machine's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install the chromium package")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """A factory of fresh browser contexts (separate localStorage: separate visitors)."""
    made: list[BrowserContext] = []

    def make(**kwargs: Any) -> BrowserContext:
        kwargs.setdefault("viewport", {"width": 1280, "height": 800})
        kwargs.setdefault("locale", "en-GB")
        kwargs.setdefault("timezone_id", "Europe/London")
        ctx = browser.new_context(**kwargs)
        ctx.set_default_timeout(UI_TIMEOUT_MS)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    """A page in a fresh context, collecting uncaught page errors in ``page.errors``."""
    return watched(new_context().new_page())


def watched(page: Page) -> Page:
    """Record the page's uncaught errors and console warnings for assertions."""
    errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.errors = errors  # type: ignore[attr-defined]
    page.console = console  # type: ignore[attr-defined]
    return page


# -- the page side ---------------------------------------------------------------------


class Widget:
    """Locators into the widget's shadow root (Playwright's CSS pierces open shadow roots)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.host = page.locator("frontdesk-chat")
        self.launcher = self.host.locator("button.l")
        self.panel = self.host.locator("[role=dialog]")
        self.status = self.host.locator(".cs")
        self.composer = self.host.locator("form.c textarea")  # not the rating card's comment box
        self.messages = self.host.locator("ol > li")
        #: The message bubbles' text, in display order.
        self.bodies = self.host.locator("ol > li .bu")
        self.greeting = self.host.locator(".gr .bu")
        self.badge = self.host.locator(".b")
        self.typing = self.host.locator(".ty")
        self.away = self.host.locator(".aw")
        self.prechat = self.host.locator("form.pf")

    def wait_online(self, timeout: float = UI_TIMEOUT_MS) -> None:
        expect(self.status).to_have_attribute("data-state", "online", timeout=timeout)

    def open(self) -> None:
        if self.launcher.get_attribute("aria-expanded") != "true":
            self.launcher.click()
        expect(self.panel).to_be_visible()
        expect(self.panel).to_have_css("transform", "none")  # the open transition is over

    def send(self, text: str) -> None:
        self.composer.fill(text)
        self.composer.press("Enter")

    def message(self, text: str, author: str | None = None) -> Any:
        sel = "ol > li" if author is None else f"ol > li[data-author={author}]"
        return self.host.locator(sel).filter(has_text=text)


#: Where widget.js keeps its record for a site in localStorage (schema version 2;
#: the first widget's unversioned record lived under ``frontdesk:SITE``).
STORAGE_KEY = "frontdesk.widget:{site}"


def stored_record(page: Page, site_key: str) -> Any:
    """The widget's localStorage record for ``site_key`` (None if there is none)."""
    return page.evaluate("k => JSON.parse(localStorage.getItem(k))", STORAGE_KEY.format(site=site_key))


def stored_token(page: Page, site_key: str) -> str | None:
    """The visitor token the widget keeps for ``site_key``, if any."""
    record = stored_record(page, site_key) or {}
    return (record.get("session") or {}).get("token")


def open_widget(page: Page, url: str, *, open_panel: bool = True) -> Widget:
    """Load ``url`` (a page embedding the widget), wait until it is online, open it."""
    page.goto(url)
    widget = Widget(page)
    widget.wait_online()
    if open_panel:
        widget.open()
    return widget


# -- the agent side --------------------------------------------------------------------


class Agent:
    """A protocol-level agent: what the console does on the wire, synchronously.

    One reader thread files replies by ``ref`` and keeps pushed events in
    :attr:`events` until a test takes them with :meth:`wait_event`. The
    protocol side (refs, typed decoding) is ``protocol.ClientProtocol``, as
    for every Python client; a reply that does not fit its typed result fails
    the request.
    """

    def __init__(self, server: RunningServer, email: str | None = None, password: str | None = None) -> None:
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(server.agent_url, compression=None, open_timeout=TIMEOUT)
        )
        self._cond = threading.Condition()
        self._replies: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.closed = False
        self._protocol = ClientProtocol(Endpoint.AGENT, ref_prefix="a")
        self._unfit: dict[str, str] = {}  # ref -> why its reply does not fit the protocol
        self._reader = threading.Thread(target=self._read, name="agent-reader", daemon=True)
        self._reader.start()
        self.login = self.request(
            "login", email=email or server.admin_email, password=password or server.admin_password
        )
        self.request("subscribe")

    def _read(self) -> None:
        try:
            for raw in self.ws:
                with self._cond:
                    incoming = self._protocol.receive(raw)
                    if incoming.answers is not None:
                        self._replies[incoming.answers] = incoming.raw
                        if incoming.error is not None:
                            self._unfit[incoming.answers] = str(incoming.error)
                    else:
                        self.events.append(incoming.raw)
                    self._cond.notify_all()
        except (ConnectionClosed, OSError):
            pass
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Send a request; its reply (raises :class:`ServerError` on an error frame)."""
        with self._cond:
            ref, text = self._protocol.request(type_, **fields)
        self.ws.send(text)
        with self._cond:
            if not self._cond.wait_for(lambda: ref in self._replies or self.closed, TIMEOUT):
                raise TimeoutError(f"no reply to {type_}")
            if ref not in self._replies:
                raise ConnectionError(f"socket closed before the reply to {type_}")
            frame = self._replies.pop(ref)
            unfit = self._unfit.pop(ref, None)
        if unfit is not None:
            raise AssertionError(f"the reply to {type_} does not fit the protocol ({unfit}): {frame}")
        if frame["type"] == "error":
            raise ServerError(frame)
        return frame

    def wait_event(self, kind: str, timeout: float = TIMEOUT, **match: Any) -> dict[str, Any]:
        """Take the first pushed event of ``kind`` whose ``data`` matches ``match``."""

        def find() -> dict[str, Any] | None:
            for frame in self.events:
                data = frame.get("data") or {}
                if frame.get("kind") == kind and all(data.get(k) == v for k, v in match.items()):
                    self.events.remove(frame)
                    return frame
            return None

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                frame = find()
                if frame is not None:
                    return frame
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0:
                    raise TimeoutError(f"no {kind} event matching {match}; last events: {self.events[-5:]}")
                self._cond.wait(remaining)

    def reply(self, conversation_id: int, body: str) -> dict[str, Any]:
        return self.request("reply", conversation_id=conversation_id, client_id=str(uuid.uuid4()), body=body)

    def messages(self, conversation_id: int) -> list[dict[str, Any]]:
        return list(self.request("history", conversation_id=conversation_id, limit=200)["messages"])

    def close(self) -> None:
        self._stack.close()
        self._reader.join(TIMEOUT)


@pytest.fixture
def agents(server: RunningServer) -> Iterator[Callable[..., Agent]]:
    """A factory of logged-in, subscribed agents (the admin by default); closed after the test."""
    made: list[Agent] = []

    def make(email: str | None = None, password: str | None = None) -> Agent:
        agent = Agent(server, email, password)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        with contextlib.suppress(Exception):
            agent.close()


@pytest.fixture
def agent(agents: Callable[..., Agent]) -> Agent:
    """The demo tenant's admin, logged in and subscribed. Its presence makes agents online."""
    return agents()


# -- a second website, on another origin ------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def foreign_site(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Serve HTML pages from another origin (127.0.0.1 on another port).

    Call it with the page's HTML; it returns the page's URL.
    """
    root = tmp_path / "site"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    port = httpd.server_address[1]
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="foreign-site", daemon=True)
    thread.start()
    count = 0

    def publish(html: str) -> str:
        nonlocal count
        count += 1
        name = f"page{count}.html"
        (root / name).write_text(html, encoding="utf-8")
        return f"http://127.0.0.1:{port}/{name}"

    yield publish
    httpd.shutdown()
    httpd.server_close()
    thread.join(TIMEOUT)


def embed_page(server: RunningServer, body: str = "", title: str = "Another website") -> str:
    """A minimal host page that embeds the widget with the standard tag."""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><main><h1>{title}</h1>{body}</main>"
        f'<script src="{server.http_url}/widget.js" data-site="{server.site_key}" async></script></body></html>'
    )


# -- axe-core -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's browser build, installed from the npm registry on first use."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install axe-core: " + " ".join(AXE_INSTALL))
        AXE_DIR.mkdir(exist_ok=True)
        subprocess.run([npm, *AXE_INSTALL[1:]], check=True, capture_output=True, timeout=300 * SCALE)
    return AXE_JS.read_text(encoding="utf-8")
