"""Downloads stream in bounded memory (issue 14): 20 concurrent downloads of a 20 MB file add at most 64 MB to the
server's RSS, measured on a ``frontdesk serve`` subprocess."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.server.files_support import http_get, upload
from tests.support import RunningServer, WsClient

pytestmark = pytest.mark.slow


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_twenty_concurrent_downloads_of_20_mb_add_at_most_64_mb(server: RunningServer) -> None:
    """The peak RSS while 20 clients download one 20 MB file at once is within 64 MB of the RSS before."""
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("noise.bin", os.urandom(19_900_000))
    data = payload.getvalue()
    assert len(data) <= 20_000_000

    async def prepare() -> str:
        visitor, _ = await WsClient.visitor(server)
        sent = await upload(visitor, data, "big.zip")
        links = (await visitor.request("file.links", ids=[sent["id"]]))["links"]
        await visitor.close()
        return str(links[sent["id"]]["url"])

    url = asyncio.run(prepare())
    assert server.process is not None
    pid = server.process.pid
    assert http_get(server, url)[2] == data  # one download first: allocator and caches warmed
    before = _rss(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(lambda _: http_get(server, url), range(20)))
    finally:
        done.set()
        sampler.join()
    assert all(status == 200 and body == data for status, _, body in results)
    grew, base = (peak - before) / 2**20, before / 2**20
    print(f"20 downloads of {len(data) / 1e6:.1f} MB: peak RSS {grew:.1f} MB above {base:.1f} MB")
    assert peak - before <= 64 * 1024 * 1024, f"RSS grew by {(peak - before) / 2**20:.1f} MB"
