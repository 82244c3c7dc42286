"""Scanning files with clamd (PROTOCOL.md, "Attachments", "Scanning"): the ``INSTREAM`` command of ClamAV's
daemon, over its Unix socket or TCP. A file is clean when clamd answers ``stream: OK``, infected on ``… FOUND``;
anything else (clamd down, an error) raises, and the file stays pending."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

from .exceptions import FrontdeskError

__all__ = ["ScanError", "clamd_scanner", "scan_file"]

_CHUNK = 64 * 1024


class ScanError(FrontdeskError):
    """clamd could not say whether a file is clean."""


async def _connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if address.startswith("tcp://"):
        host, _, port = address[len("tcp://") :].rpartition(":")
        return await asyncio.open_connection(host, int(port))
    return await asyncio.open_unix_connection(address)


async def scan_file(address: str, path: Path, *, timeout: float = 60.0) -> bool:
    """Whether clamd at ``address`` finds ``path`` clean (True) or infected (False); :class:`ScanError` otherwise."""
    try:
        reader, writer = await asyncio.wait_for(_connect(address), timeout)
    except (OSError, TimeoutError) as exc:
        raise ScanError(f"cannot reach clamd at {address}: {exc}") from None
    try:
        writer.write(b"zINSTREAM\0")
        with open(path, "rb") as handle:  # noqa: ASYNC230 - small reads between awaits
            while chunk := handle.read(_CHUNK):
                writer.write(struct.pack(">I", len(chunk)) + chunk)
                await writer.drain()
        writer.write(struct.pack(">I", 0))
        await writer.drain()
        answer = (await asyncio.wait_for(reader.read(4096), timeout)).rstrip(b"\0\n").decode("utf-8", "replace")
    except (OSError, TimeoutError) as exc:
        raise ScanError(f"clamd at {address} failed: {exc}") from None
    finally:
        writer.close()
    if answer.endswith("OK"):
        return True
    if answer.endswith("FOUND"):
        return False
    raise ScanError(f"clamd at {address} answered {answer[:200]!r}")


def clamd_scanner(address: str) -> Callable[[Path], Awaitable[bool]]:
    """A :data:`frontdesk.server.files.Scanner` for clamd at ``address``."""

    async def scan(path: Path) -> bool:
        return await scan_file(address, path)

    return scan
