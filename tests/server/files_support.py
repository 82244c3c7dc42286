"""Helpers for the attachment tests: upload over the socket, fetch a link, make small files."""

from __future__ import annotations

import asyncio
import io
import struct
import urllib.error
import urllib.request
from typing import Any

from PIL import Image

from tests.support import ServerAddress, WsClient


def frame(handle: int, offset: int, data: bytes) -> bytes:
    """A binary upload frame (PROTOCOL.md, "Attachments")."""
    return struct.pack(">IQ", handle, offset) + data


async def send_bytes(client: WsClient, begun: dict[str, Any], data: bytes) -> None:
    """Send ``data`` from the reply's offset in chunks, keeping within the window (waits for file.progress)."""
    offset, chunk, window = begun["offset"], begun["chunk"], begun["window"]
    acked = offset
    while offset < len(data):
        while offset - acked >= window:
            progress = await client.next_event("file.progress", upload=begun["upload"])
            acked = progress["data"]["received"]
        part = data[offset : offset + chunk]
        await client.send_raw(frame(begun["handle"], offset, part))
        offset += len(part)


async def upload(client: WsClient, data: bytes, name: str = "file.bin") -> dict[str, Any]:
    """Upload ``data`` and return the ``file.finish`` reply (the Attachment)."""
    begun = await client.request("file.begin", name=name, size=len(data))
    await send_bytes(client, begun, data)
    await client.next_event("file.progress", upload=begun["upload"], received=len(data))
    return await client.request("file.finish", upload=begun["upload"])


def http_get(server: ServerAddress, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` on the server: (status, headers, body)."""
    try:
        with urllib.request.urlopen(server.http_url + path, timeout=30) as response:  # noqa: S310 - our test server
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def fetch(server: ServerAddress, path: str) -> tuple[int, dict[str, str], bytes]:
    return await asyncio.to_thread(http_get, server, path)


def jpeg_with_exif(size: tuple[int, int] = (64, 48)) -> bytes:
    """A small JPEG carrying EXIF with a GPS tag and a camera make."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 128, 255)).save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels (a decompression bomb's shape)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
