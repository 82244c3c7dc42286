"""HTTP routes answered from the handshake hook: /healthz, /widget.js, /, and 404s."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.support import RunningServer


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - a local test server
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_healthz_reports_status_version_schema_and_connections(server: RunningServer) -> None:
    """/healthz answers JSON with status, version, schema version, open connections and storage writability."""
    status, headers, body = get(server.http_url + "/healthz")
    health = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert health["status"] == "ok" and health["schema_version"] >= 1 and health["connections"] == 0
    assert health["version"]
    assert health["storage"] == {"writable": True, "error": None}


def test_widget_js_has_a_js_content_type_and_an_etag(server: RunningServer) -> None:
    """/widget.js is JavaScript with an ETag, and a matching If-None-Match gets 304."""
    status, headers, body = get(server.http_url + "/widget.js")
    assert status == 200 and headers["Content-Type"].startswith("application/javascript")
    assert body and headers["ETag"].startswith('"')
    status, _, body = get(server.http_url + "/widget.js", {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""


def test_widget_js_is_gzipped_for_clients_that_accept_it(server: RunningServer) -> None:
    """With Accept-Encoding: gzip the script travels compressed and decompresses to the same bytes."""
    import gzip

    _, _, plain = get(server.http_url + "/widget.js")
    status, headers, body = get(server.http_url + "/widget.js", {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == plain and len(body) < len(plain) / 2


def test_the_demo_page_embeds_the_demo_tenant(server: RunningServer) -> None:
    """/ is an HTML page whose widget tag carries the demo tenant's site key."""
    status, headers, body = get(server.http_url + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert server.site_key.encode() in body and b"widget.js" in body


@pytest.mark.parametrize("path", ["/nope", "/v1/other", "/../etc/passwd", "/widget.js.map"])
def test_unknown_paths_get_404(server: RunningServer, path: str) -> None:
    """Anything else is a plain 404."""
    status, _, body = get(server.http_url + path)
    assert status == 404 and b"not found" in body


def test_plain_http_to_a_socket_endpoint_asks_for_an_upgrade(server: RunningServer) -> None:
    """A plain GET on /v1/agent is told to upgrade (426), not served."""
    status, _, _ = get(server.http_url + "/v1/agent")
    assert status == 426
