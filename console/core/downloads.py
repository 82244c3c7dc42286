"""Attachments' bytes, fetched with httpx from signed links (PROTOCOL.md,
"Attachments", "Reading"), Qt-free.

A file is served only through a short-lived signed link (``file.links``, valid
a few minutes). :class:`Downloads` keeps the links it was given until shortly
before they expire, asks for fresh ones when they have (or when the server
says 403: expired or forged), and keeps each fetched file (or thumbnail) in the
cache folder, so a thumbnail is fetched once and a file saved or opened twice
is downloaded once. Bodies are streamed to disk, never held whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final

import httpx
from frontdesk.server.protocol import Attachment, FileLink

from ._io import run_io

__all__ = ["DownloadError", "Downloads", "http_base", "prune_files"]

log = logging.getLogger("frontdesk.console.files")

#: A link this close to its expiry is not used: the download might outlast it.
LINK_MARGIN_S: Final = 30.0
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class DownloadError(Exception):
    """The file could not be fetched (gone, refused, or the network failed)."""


def http_base(server_url: str) -> str:
    """The server's HTTP origin for a base URL, ``http(s)://`` or ``ws(s)://`` (files share its origin)."""
    url = server_url.strip().rstrip("/")
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if url.startswith(ws):
            url = http + url[len(ws) :]
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    return url.removesuffix("/v1/agent")


class Downloads:
    """Fetch attachments into ``folder``.

    ``ask_links(ids)`` is the ``file.links`` request (the core's online call);
    ``clock`` gives Unix seconds (tests replace it); ``transport`` is an httpx
    transport for tests (``httpx.MockTransport``), None for the network.
    """

    def __init__(
        self,
        base_url: str,
        folder: Path,
        ask_links: Callable[[Sequence[str]], Awaitable[dict[str, FileLink]]],
        clock: Callable[[], float],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = http_base(base_url)
        self.folder = folder
        self._ask_links = ask_links
        self._clock = clock
        self._transport = transport
        self._links: dict[str, FileLink] = {}
        self._fetching: dict[Path, asyncio.Future[Path]] = {}

    def path_for(self, attachment: Attachment, thumbnail: bool = False) -> Path:
        """Where the file (or its thumbnail) is kept once fetched."""
        name = (
            attachment.id if _SAFE_ID.fullmatch(attachment.id) else hashlib.sha256(attachment.id.encode()).hexdigest()
        )
        return self.folder / (name + (".thumb" if thumbnail else ""))

    def cached(self, attachment: Attachment, thumbnail: bool = False) -> Path | None:
        """The file's local copy when it was fetched before, else None (no I/O beyond a stat)."""
        path = self.path_for(attachment, thumbnail)
        return path if path.is_file() else None

    async def link(self, attachment_id: str, *, fresh: bool = False) -> FileLink:
        """A signed link to the file valid for a while yet; a new one when the kept one
        is about to expire (or ``fresh``). DownloadError when the server gives none."""
        known = self._links.get(attachment_id)
        if fresh or known is None or known.expires_at - self._clock() < LINK_MARGIN_S:
            self._links.update(await self._ask_links([attachment_id]))
            known = self._links.get(attachment_id)
        if known is None:
            raise DownloadError("the server has no link to this file (deleted, or not yours to read)")
        return known

    async def fetch(self, attachment: Attachment, thumbnail: bool = False) -> Path:
        """The file's (or thumbnail's) local path, downloading it first if needed.
        Concurrent calls for one file share one download."""
        path = self.path_for(attachment, thumbnail and attachment.thumbnail)
        if await run_io(path.is_file):
            return path
        running = self._fetching.get(path)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self._fetching[path] = future
        try:
            await self._download(attachment, path, thumbnail and attachment.thumbnail)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a failure nobody else awaited is not "never retrieved"
            raise
        finally:
            self._fetching.pop(path, None)
        future.set_result(path)
        return path

    async def _download(self, attachment: Attachment, path: Path, thumbnail: bool) -> None:
        await run_io(self.folder.mkdir, parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(path.name + ".part")
        async with httpx.AsyncClient(base_url=self.base_url, transport=self._transport, timeout=60.0) as client:
            for attempt in range(2):
                link = await self.link(attachment.id, fresh=attempt > 0)
                url = link.thumbnail_url if thumbnail and link.thumbnail_url else link.url
                try:
                    async with client.stream("GET", url) as response:
                        if response.status_code == 403 and attempt == 0:
                            log.info("link to %s refused (expired?): asking for a fresh one", attachment.id)
                            continue
                        if response.status_code != 200:
                            raise DownloadError(f"the server answered {response.status_code}")
                        fd = await run_io(os.open, partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
                        try:
                            async for block in response.aiter_bytes(256 * 1024):
                                await run_io(_write_all, fd, block)
                        finally:
                            await run_io(os.close, fd)
                except httpx.HTTPError as exc:
                    raise DownloadError(f"the download failed: {exc}") from exc
                await run_io(os.replace, partial, path)
                return
        raise DownloadError("the server refused a fresh link")


def prune_files(downloads: Path, keep_ids: set[str], outbox: Path, keep_copies: set[str], busy: set[Path]) -> int:
    """Delete what the cache no longer refers to (a visitor's erasure, a conversation gone):
    downloaded files whose attachment id is not in ``keep_ids``, and outbox copies (one
    folder each) not in ``keep_copies`` and not ``busy`` (being copied). Returns how many."""
    gone = 0
    keep_names = {i if _SAFE_ID.fullmatch(i) else hashlib.sha256(i.encode()).hexdigest() for i in keep_ids}
    if downloads.is_dir():
        for entry in downloads.iterdir():
            if entry.name.split(".", 1)[0] not in keep_names:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                gone += 1
    kept_folders = {Path(p).parent for p in keep_copies}
    if outbox.is_dir():
        for folder in outbox.iterdir():
            if folder not in kept_folders and folder not in busy:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
    return gone


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
