"""widget.js and the demo page as files and as served over HTTP."""

from __future__ import annotations

import gzip
import http.client
import re

from tests.support import TIMEOUT, RunningServer
from tests.widget.conftest import ROOT, WIDGET_JS

#: docs/PERFORMANCE.md, "Widget size": the budget, gzip -9.
MAX_GZIPPED_BYTES = 15 * 1024


def test_widget_stays_within_its_size_budget() -> None:
    """widget.js is at most 15 KB gzipped (gzip -9), as docs/PERFORMANCE.md records."""
    size = len(gzip.compress(WIDGET_JS.read_bytes(), compresslevel=9, mtime=0))
    assert size <= MAX_GZIPPED_BYTES, f"widget.js is {size} bytes gzipped; the budget is {MAX_GZIPPED_BYTES}"
    perf = (ROOT / "docs" / "PERFORMANCE.md").read_text(encoding="utf-8")
    assert "## Widget size" in perf and "gzip -9 -c widget/widget.js | wc -c" in perf


def test_widget_sets_user_text_only_as_text() -> None:
    """No HTML sinks but the one constant template; no eval; no third-party code."""
    src = WIDGET_JS.read_text(encoding="utf-8")
    assert src.count(".innerHTML") == 1 and "root.innerHTML = TEMPLATE;" in src
    for sink in (
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "import(",
        "importScripts",
    ):
        assert sink not in src, sink
    # Only the page's own server is contacted: no other URL appears in the code.
    urls = set(re.findall(r"https?://[\w.-]+", src)) - {"https://chat.example.com"}
    assert not urls, urls


def get(server: RunningServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP GET against the server: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_widget_is_served_with_content_type_and_etag(server: RunningServer) -> None:
    """GET /widget.js: application/javascript with an ETag; If-None-Match gives 304."""
    status, headers, body = get(server, "/widget.js")
    assert status == 200
    assert headers["Content-Type"].startswith("application/javascript")
    assert body == WIDGET_JS.read_bytes()
    etag = headers["ETag"]
    assert etag
    status, _, body = get(server, "/widget.js", {"If-None-Match": etag})
    assert (status, body) == (304, b"")


def test_demo_page_embeds_the_widget_for_the_demo_tenant(server: RunningServer) -> None:
    """GET / is the landing page with the one-tag embed for the demo tenant's site key."""
    status, headers, body = get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    html = body.decode()
    assert f'<script src="/widget.js" data-site="{server.site_key}" async></script>' in html
    assert "{{" not in html
    assert '<html lang="en">' in html and "<main" in html
