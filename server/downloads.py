"""Serving files through signed links, streamed in bounded memory (PROTOCOL.md, "Attachments", "Reading").

``websockets`` answers plain HTTP from its opening-handshake hook with a :class:`~websockets.http11.Response`
whose body is built whole: 20 concurrent downloads of a 20 MB file would hold 400 MB. So a download does not
return a body. :func:`stream_file` writes the response itself to the connection's transport, one blob chunk at a
time, waiting on the connection's own flow control (``drain``: the transport's buffer stays under the server's
``write_limit``), then closes the transport and waits until the connection has seen it close. The library then
finds the connection closed and sends nothing of its own (``ServerConnection.handshake``: "Don't respond if the
connection was closed during the handshake"). Memory per download: one chunk plus the socket buffer.

The library bounds the whole handshake, hook included, with ``open_timeout``; the server therefore turns that off
and bounds the request itself (``guard.GuardedConnection.request_timeout``), and a download bounds each write
(:data:`WRITE_TIMEOUT_S`): a reader that stops reading is cut off, a slow one that keeps reading is served.

Headers on every file: ``X-Content-Type-Options: nosniff``, ``Content-Security-Policy: sandbox``, and
``Content-Disposition: attachment`` for anything but an image the server re-encoded (or a thumbnail it made),
so SVG and HTML (which are never accepted anyway) could never render inline.
"""

from __future__ import annotations

import asyncio
import http
import logging
import urllib.parse
from typing import Final

from websockets.asyncio.server import ServerConnection

from . import links as link_sign
from . import media
from .files import LinkKeys
from .store import Store
from .store import files as file_ops
from .store.blobs import BlobNotFound, BlobStore

__all__ = ["FILES_PREFIX", "WRITE_TIMEOUT_S", "stream_file"]

log = logging.getLogger("frontdesk.server.downloads")

#: The path of every file link.
FILES_PREFIX: Final = "/v1/files/"
#: The longest a download waits for the client to take more bytes before it gives up on it.
WRITE_TIMEOUT_S: Final = 30.0


def _head(status: http.HTTPStatus, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _disposition(kind: str, name: str) -> str:
    quoted = urllib.parse.quote(name, safe="")
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"


async def _finish(connection: ServerConnection) -> None:
    """Close the transport once what was written is out, and wait until the connection knows it is closed."""
    connection.transport.close()
    try:
        await asyncio.wait_for(asyncio.shield(connection.connection_lost_waiter), WRITE_TIMEOUT_S)
    except TimeoutError:
        connection.transport.abort()
        await asyncio.shield(connection.connection_lost_waiter)


async def _plain(connection: ServerConnection, status: http.HTTPStatus, text: str, server: str) -> None:
    body = (text + "\n").encode()
    connection.transport.write(
        _head(
            status,
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("X-Content-Type-Options", "nosniff"),
                ("Cache-Control", "no-store"),
                ("Connection", "close"),
                ("Server", server),
            ],
        )
        + body
    )
    await _finish(connection)


async def stream_file(
    connection: ServerConnection,
    path: str,
    query: str,
    *,
    store: Store,
    blobs: BlobStore,
    link_keys: LinkKeys,
    now_s: float,
    server: str,
) -> None:
    """Answer ``GET /v1/files/<id>?exp=…&sig=…[&v=thumb]`` on ``connection``'s transport (module doc): 200 with
    the bytes, 403 for an expired or forged link, 404 for a file that is gone. Returns once the connection is
    closed; the caller then returns any response from the hook (it is not sent)."""
    file_id = path[len(FILES_PREFIX) :]
    params = urllib.parse.parse_qs(query)
    exp_text = params.get("exp", [""])[0]
    signature = params.get("sig", [""])[0]
    thumb = params.get("v", [""])[0] == "thumb"
    row = await store.read(file_ops.file_row, file_id) if 0 < len(file_id) <= 64 else None
    if row is None:
        await _plain(connection, http.HTTPStatus.NOT_FOUND, "no such file", server)
        return
    key = await link_keys.key(int(row["tenant_id"]))
    expires = int(exp_text) if exp_text.isdigit() and len(exp_text) < 16 else -1
    verdict = link_sign.verify_link([key], file_id, expires, signature, now_s)
    if verdict != link_sign.LinkCheck.OK:
        await _plain(
            connection, http.HTTPStatus.FORBIDDEN, f"this link is not valid ({verdict}); ask for a new one", server
        )
        return
    if thumb and row["thumb_sha256"] is None:
        await _plain(connection, http.HTTPStatus.NOT_FOUND, "this file has no thumbnail", server)
        return
    name = str(row["name"])
    if thumb:
        blob, mime, inline = str(row["thumb_sha256"]), str(row["thumb_mime"]), True
    else:
        blob, mime = str(row["sha256"]), str(row["mime"])
        # Inline only what this server re-encoded itself: images (PROTOCOL.md, "Reading").
        inline = media.kind_of(mime) == "images" and row["width"] is not None
    try:
        size = await blobs.size(blob)
    except BlobNotFound:
        await _plain(connection, http.HTTPStatus.NOT_FOUND, "no such file", server)
        return
    headers = [
        ("Content-Type", mime if not mime.startswith("text/") else f"{mime}; charset=utf-8"),
        ("Content-Length", str(size)),
        ("Content-Disposition", _disposition("inline" if inline else "attachment", name)),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "sandbox"),
        ("Cache-Control", "private, max-age=300"),
        ("Cross-Origin-Resource-Policy", "cross-origin"),
        ("Access-Control-Allow-Origin", "*"),
        ("Referrer-Policy", "no-referrer"),
        ("Connection", "close"),
        ("Server", server),
    ]
    transport = connection.transport
    transport.write(_head(http.HTTPStatus.OK, headers))
    try:
        async for chunk in blobs.read(blob):
            if transport.is_closing():
                break
            transport.write(chunk)
            await asyncio.wait_for(connection.drain(), WRITE_TIMEOUT_S)
    except TimeoutError:
        log.info("a download of %s stalled; dropping it", file_id)
        transport.abort()
    except BlobNotFound:  # deleted while being read: the client sees a short body
        transport.abort()
    await _finish(connection)
