"""HTTP routes answered from the handshake hook: /healthz, /widget.js, /, and 404s."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server.store.base import probe_write

from tests.support import TIMEOUT, RunningServer, init_demo, serve_in_process


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


# -- /healthz reports, it never writes ------------------------------------------------------------


async def _raw_get(port: int, path: str) -> tuple[int, bytes]:
    """One HTTP/1.1 GET on a fresh connection: (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _count_probes(store: Any) -> list[int]:
    """Make ``store`` count the probe writes it queues; the list grows by one per probe."""
    probes: list[int] = []
    write = store.write

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        if fn is probe_write:
            probes.append(1)
        return await write(fn, *args, **kwargs)

    store.write = counting
    return probes


def test_a_flood_of_healthz_requests_writes_at_most_one_probe(tmp_path: Path) -> None:
    """200 concurrent /healthz requests all answer 200 and cause at most one probe write (the
    idle timer's): a health check reports the last outcome, it does not commit."""

    async def main() -> None:
        async with serve_in_process(tmp_path) as server:
            store = server.app.store
            store.probe_interval = 3600.0  # the idle timer stays out of the count (but one may be due)
            store.health.checked_at -= 60.0  # the last outcome is a minute old
            probes = _count_probes(store)
            answers = await asyncio.wait_for(
                asyncio.gather(*(_raw_get(server.port, "/healthz") for _ in range(200))), 3 * TIMEOUT
            )
            assert {status for status, _ in answers} == {200}
            assert len(probes) <= 1, f"{len(probes)} probe writes for 200 health checks"

    asyncio.run(main())


def test_concurrent_writability_checks_share_one_probe(tmp_path: Path) -> None:
    """Probes are single-flight: 50 checks at once wait for one probe write."""

    async def main() -> None:
        async with serve_in_process(tmp_path) as server:
            store = server.app.store
            store.probe_interval = 3600.0
            await store.probe()  # whatever the timer had in flight is done
            probes = _count_probes(store)
            results = await asyncio.gather(*(store.check_writable() for _ in range(50)))
            assert results == [(True, None)] * 50 and len(probes) == 1

    asyncio.run(main())


def test_an_idle_server_probes_its_storage_by_itself(tmp_path: Path) -> None:
    """With nothing written for probe_interval, the server writes a probe itself, so /healthz stays current."""

    async def main() -> None:
        async with serve_in_process(tmp_path) as server:
            store = server.app.store
            probes = _count_probes(store)
            store.probe_interval = 0.05
            deadline = asyncio.get_running_loop().time() + TIMEOUT
            while len(probes) < 2:
                assert asyncio.get_running_loop().time() < deadline, "no idle probe was written"
                await asyncio.sleep(0.02)

    asyncio.run(main())


def test_healthz_publishes_the_cause_in_fixed_words_only(tmp_path: Path) -> None:
    """A failed write makes /healthz answer 503 with its cause in fixed words, never the full error
    (which names files, hosts and users)."""

    async def main() -> None:
        async with serve_in_process(tmp_path) as server:
            store = server.app.store
            store.probe_interval = 3600.0
            server.app.reports.close()  # the start's catch-up is a write too: a success would clear the failure
            await server.app.reports.settled()
            store.health.failed("disk full", f"cannot write {store.path}: database or disk is full")
            status, body = await _raw_get(server.port, "/healthz")
            health = json.loads(body)
            assert status == 503 and health["status"] == "unavailable"
            assert health["storage"] == {"writable": False, "error": "disk full"}
            assert str(tmp_path) not in body.decode()

    asyncio.run(main())


# -- start and stop ---------------------------------------------------------------------------


def test_a_failed_start_releases_the_database_for_the_next_one(tmp_path: Path) -> None:
    """A start whose store cannot open releases the SQLite lock: a second start in the same process works."""
    from frontdesk.server.app import FrontdeskServer, ServerSettings
    from frontdesk.server.exceptions import FrontdeskError

    db = tmp_path / "frontdesk.db"
    db.write_bytes(b"this is not a database, " * 100)
    settings = ServerSettings(db_url=f"sqlite:///{db}", host="127.0.0.1", port=0)

    async def main() -> None:
        with pytest.raises(FrontdeskError):
            await FrontdeskServer(settings).start()
        db.unlink()
        await asyncio.to_thread(init_demo, settings.db_url)
        second = FrontdeskServer(settings)
        await second.start()
        try:
            status, _ = await _raw_get(second.port, "/healthz")
            assert status == 200
        finally:
            await second.stop()

    asyncio.run(main())
