"""Modules the widget loads lazily (Frontdesk.load): widget/NAME.js, served by
the server gzipped and with an ETag, fetched once, handed the widget's core."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.support import RunningServer
from tests.widget.conftest import ROOT, open_widget, stored_token
from tests.widget.test_assets import get


@pytest.fixture
def probe_module() -> Iterator[str]:
    """A module file beside widget.js for the length of a test; its name."""
    name = f"probe-{uuid.uuid4().hex[:12]}"
    path: Path = ROOT / "widget" / f"{name}.js"
    path.write_text(
        "window.__probeRuns = (window.__probeRuns || 0) + 1;\n"
        f"Frontdesk.define('{name}', (core) => ({{connection: core.state.connection,"
        " token: core.state.session.token, shadow: !!core.root().querySelector('.fd')}));\n",
        encoding="utf-8",
    )
    try:
        yield name
    finally:
        path.unlink()


def test_module_is_served_gzipped_with_an_etag(server: RunningServer, probe_module: str) -> None:
    """GET /widget/NAME.js: the file, gzipped for browsers that accept it, with an ETag that gives 304."""
    source = (ROOT / "widget" / f"{probe_module}.js").read_bytes()
    status, headers, body = get(server, f"/widget/{probe_module}.js", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("application/javascript")
    assert gzip.decompress(body) == source
    status, _, body = get(server, f"/widget/{probe_module}.js", {"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")


@pytest.mark.parametrize("path", ["/widget/no-such-module.js", "/widget/../pyproject.toml", "/widget/Demo.JS"])
def test_only_module_files_are_served(server: RunningServer, path: str) -> None:
    """A missing module, a path out of the widget folder or a name outside [a-z0-9-] is a 404."""
    status, _, _ = get(server, path)
    assert status == 404


def test_widget_loads_a_module_once_and_hands_it_the_core(page: Page, server: RunningServer, probe_module: str) -> None:
    """Frontdesk.load(NAME) fetches widget/NAME.js once, however often it is called, and resolves to its exports."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url) if "/widget/" in r.url else None)
    open_widget(page, server.http_url + "/", open_panel=False)
    first, second = page.evaluate("name => Promise.all([Frontdesk.load(name), Frontdesk.load(name)])", probe_module)
    assert first == second == {"connection": "online", "token": stored_token(page, server.site_key), "shadow": True}
    assert page.evaluate("name => Frontdesk.load(name).then(m => m.connection)", probe_module) == "online"
    assert urls == [f"{server.http_url}/widget/{probe_module}.js"]
    assert page.evaluate("window.__probeRuns") == 1
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_module_that_does_not_load_rejects_and_may_be_tried_again(page: Page, server: RunningServer) -> None:
    """A module the server does not have rejects its promise; a later load() asks the server again."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url) if "/widget/" in r.url else None)
    open_widget(page, server.http_url + "/", open_panel=False)
    script = "name => Frontdesk.load(name).then(() => 'loaded', (e) => e.message)"
    assert "did not load" in page.evaluate(script, "not-here")
    assert "did not load" in page.evaluate(script, "not-here")
    assert urls == [f"{server.http_url}/widget/not-here.js"] * 2


@pytest.mark.parametrize("name", ["../evil", "%2e%2e/x", "../../uploads/x?", "x/../../healthz#", "__proto__", "Demo"])
def test_a_module_name_that_is_not_a_plain_name_is_refused_without_a_request(
    page: Page, server: RunningServer, name: str
) -> None:
    """load() takes only the names the route serves: no dot segment, query, fragment or prototype key is fetched."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url) if r.resource_type == "script" else None)
    open_widget(page, server.http_url + "/", open_panel=False)
    urls.clear()
    script = "name => Frontdesk.load(name).then(() => 'loaded', (e) => e.message)"
    assert page.evaluate(script, name) == "[Frontdesk] bad module name"
    assert urls == []


def test_alternating_assets_are_each_served_gzipped_and_whole(server: RunningServer, probe_module: str) -> None:
    """widget.js and a module, asked for in turn, each come back gzipped and equal to their own file."""
    for _ in range(2):
        for path in ("/widget.js", f"/widget/{probe_module}.js"):
            status, _, body = get(server, path, {"Accept-Encoding": "gzip"})
            name = "widget.js" if path == "/widget.js" else f"{probe_module}.js"
            assert status == 200 and gzip.decompress(body) == (ROOT / "widget" / name).read_bytes()
