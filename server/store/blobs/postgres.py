"""Blobs in PostgreSQL: what a file uploaded to node A needs to be served by node B with no other service.

Two tables (migration 0010): ``blobs`` (name, size) and ``blob_chunks`` (name, index, up to :data:`CHUNK_BYTES` of
``bytea``). A put writes its chunks under a temporary name inside one transaction and renames them at the end, when
the SHA-256 is known; a crash or a refused put rolls the whole transaction back, so there is never a partial blob.
The same content stored twice, even at once from two nodes, keeps one copy (the ``blobs`` primary key decides).
Reads fetch one chunk per round trip, so a download holds one chunk in memory at a time. ``pg_dump`` carries the
blobs with the rest of the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from . import CHUNK_BYTES, BlobNotFound, BlobRef, BlobStore, BlobTooLarge, as_chunks, check_name

__all__ = ["PostgresBlobStore"]


class PostgresBlobStore(BlobStore):
    """Blobs in the PostgreSQL database at ``url``, through a small pool of ``connections`` connections."""

    def __init__(self, url: str, *, connections: int = 4) -> None:
        self.url = url
        self._size = connections
        self._idle: asyncio.Queue[Any] | None = None
        self._all: list[Any] = []

    async def open(self) -> None:
        self._idle = asyncio.Queue()
        for _ in range(self._size):
            await self._idle.put(None)  # connections are made on first use

    async def close(self) -> None:
        for conn in self._all:
            with contextlib.suppress(Exception):
                await conn.close()
        self._all.clear()
        self._idle = None

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[Any]:
        import psycopg

        if self._idle is None:
            raise RuntimeError("blob store is not open")
        conn = await self._idle.get()
        try:
            if conn is None or conn.closed or conn.broken:
                conn = await psycopg.AsyncConnection.connect(self.url, application_name="frontdesk-blobs")
                self._all.append(conn)
            yield conn
        finally:
            await self._idle.put(conn)

    async def put(self, data: bytes | AsyncIterable[bytes], *, max_bytes: int) -> BlobRef:
        digest = hashlib.sha256()
        size = 0
        pending = bytearray()
        temporary = "tmp-" + uuid.uuid4().hex
        index = 0
        async with self._conn() as conn, conn.transaction():

            async def flush(final: bool) -> None:
                nonlocal index
                while len(pending) >= CHUNK_BYTES or (final and pending):
                    part = bytes(pending[:CHUNK_BYTES])
                    del pending[:CHUNK_BYTES]
                    await conn.execute(
                        "INSERT INTO blob_chunks (sha256, idx, data) VALUES (%s, %s, %s)", (temporary, index, part)
                    )
                    index += 1

            async for chunk in as_chunks(data):
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(f"the content is over {max_bytes} bytes")  # rolls the chunks back
                digest.update(chunk)
                pending += chunk
                await flush(False)
            await flush(True)
            ref = BlobRef(digest.hexdigest(), size)
            cur = await conn.execute(
                "INSERT INTO blobs (sha256, size, created_at) VALUES (%s, %s, %s) ON CONFLICT (sha256) DO NOTHING"
                " RETURNING sha256",
                (ref.sha256, size, int(time.time() * 1000)),
            )
            if await cur.fetchone() is None:  # already stored: keep that copy
                await conn.execute("DELETE FROM blob_chunks WHERE sha256 = %s", (temporary,))
            else:
                await conn.execute("UPDATE blob_chunks SET sha256 = %s WHERE sha256 = %s", (ref.sha256, temporary))
        return ref

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        check_name(sha256)
        await self.size(sha256)
        index = 0
        while True:
            async with self._conn() as conn:
                cur = await conn.execute("SELECT data FROM blob_chunks WHERE sha256 = %s AND idx = %s", (sha256, index))
                row = await cur.fetchone()
                await conn.rollback()  # end the read's implicit transaction: no snapshot held between chunks
            if row is None:
                return
            yield bytes(row[0])
            index += 1

    async def size(self, sha256: str) -> int:
        check_name(sha256)
        async with self._conn() as conn:
            cur = await conn.execute("SELECT size FROM blobs WHERE sha256 = %s", (sha256,))
            row = await cur.fetchone()
            await conn.rollback()
        if row is None:
            raise BlobNotFound("no such blob")
        return int(row[0])

    async def delete(self, sha256: str) -> bool:
        check_name(sha256)
        async with self._conn() as conn, conn.transaction():
            await conn.execute("DELETE FROM blob_chunks WHERE sha256 = %s", (sha256,))
            cur = await conn.execute("DELETE FROM blobs WHERE sha256 = %s RETURNING sha256", (sha256,))
            return await cur.fetchone() is not None
