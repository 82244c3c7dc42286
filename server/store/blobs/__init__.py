"""File bytes behind one interface (DESIGN.md, "Files as blobs behind one interface").

An attachment is two things: a database row with its metadata (owner, name, type, size; the store's business) and
its bytes, which live here. Bytes are content-addressed: a blob's name is the SHA-256 of its content, so storing the
same file twice stores it once, and a name can never point at other bytes than it was made from.

Backends, chosen by the database URL the server runs on:

- ``sqlite:///…`` → :class:`~frontdesk.server.store.blobs.disk.DiskBlobStore`: files in a ``<database>.blobs/``
  folder beside the database, written to a temporary file, fsynced, renamed into place and the folder fsynced, so a
  blob acked is a blob that survives a power loss (the database row is committed after :meth:`BlobStore.put`
  returns).
- ``postgresql://…`` → :class:`~frontdesk.server.store.blobs.postgres.PostgresBlobStore`: the bytes in PostgreSQL
  itself, in chunks, so every node reads what any node stored and ``pg_dump`` backs them up with everything else.
  An S3-compatible store could take this place behind the same interface later.

Both read and write in bounded memory: :meth:`BlobStore.put` takes an async iterator of chunks and
:meth:`BlobStore.read` yields chunks of at most :data:`CHUNK_BYTES`, so 20 concurrent downloads of a 20 MB file
hold a few chunks each, never the files. Every backend passes the same contract suite
(``tests/server/store/test_blobs.py``).

Exceptions: :class:`BlobTooLarge` (the content passed ``max_bytes``; nothing was kept), :class:`BlobNotFound`.
"""

from __future__ import annotations

import abc
import dataclasses
import re
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

from ...exceptions import FrontdeskError

__all__ = [
    "CHUNK_BYTES",
    "BlobError",
    "BlobNotFound",
    "BlobRef",
    "BlobStore",
    "BlobTooLarge",
    "open_blob_store",
]

#: The most bytes :meth:`BlobStore.read` yields at once, and the chunk size PostgreSQL stores.
CHUNK_BYTES = 256 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BlobError(FrontdeskError):
    """A blob could not be stored or read."""


class BlobTooLarge(BlobError):
    """The content grew past the ``max_bytes`` it was allowed; nothing of it was kept."""


class BlobNotFound(BlobError):
    """No blob has that name (never stored, or deleted)."""


@dataclasses.dataclass(frozen=True)
class BlobRef:
    """A stored blob: its name (the SHA-256 of its content, hex) and its size in bytes."""

    sha256: str
    size: int


def check_name(sha256: str) -> str:
    """``sha256`` if it is a blob name (64 lowercase hex digits); :class:`BlobNotFound` otherwise, so a malformed
    name reads as "no such blob" and never reaches a path or a query."""
    if not _SHA256.fullmatch(sha256):
        raise BlobNotFound("no such blob")
    return sha256


async def as_chunks(data: bytes | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """``data`` as an async iterator of chunks (bytes are one chunk)."""
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
        return
    async for chunk in data:
        yield chunk


class BlobStore(abc.ABC):
    """Content-addressed bytes. Every method is safe to call from the event loop (blocking work runs elsewhere)."""

    async def open(self) -> None:  # noqa: B027 - optional for a backend
        """Prepare the backend (make folders, check connectivity)."""

    async def close(self) -> None:  # noqa: B027 - optional for a backend
        """Release what :meth:`open` took."""

    @abc.abstractmethod
    async def put(self, data: bytes | AsyncIterable[bytes], *, max_bytes: int) -> BlobRef:
        """Store ``data`` durably and return its :class:`BlobRef`.

        Raises :class:`BlobTooLarge` as soon as more than ``max_bytes`` arrive, keeping nothing. Storing content
        that is already stored keeps one copy and returns the same reference. When this returns, the bytes survive
        a crash: the caller may commit the row that refers to them.
        """

    @abc.abstractmethod
    def read(self, sha256: str) -> AsyncIterator[bytes]:
        """The blob's bytes, in chunks of at most :data:`CHUNK_BYTES`. Raises :class:`BlobNotFound` (on the first
        ``__anext__``) for a name that is not stored."""

    @abc.abstractmethod
    async def size(self, sha256: str) -> int:
        """The blob's size in bytes; :class:`BlobNotFound` if it is not stored."""

    @abc.abstractmethod
    async def delete(self, sha256: str) -> bool:
        """Forget the blob; whether it was there. The caller checks that no row refers to it any more."""

    async def read_all(self, sha256: str, *, max_bytes: int) -> bytes:
        """The whole blob, for small blobs the server processes itself (thumbnails); :class:`BlobTooLarge` past
        ``max_bytes``."""
        parts: list[bytes] = []
        total = 0
        async for chunk in self.read(sha256):
            total += len(chunk)
            if total > max_bytes:
                raise BlobTooLarge(f"blob is over {max_bytes} bytes")
            parts.append(chunk)
        return b"".join(parts)


def open_blob_store(db_url: str) -> BlobStore:
    """The blob store that goes with the database at ``db_url`` (module doc); not yet opened."""
    if db_url.startswith("sqlite:///"):
        from .. import sqlite_path
        from .disk import DiskBlobStore

        database = Path(sqlite_path(db_url))
        return DiskBlobStore(database.with_name(database.name + ".blobs"))
    if db_url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresBlobStore

        return PostgresBlobStore(db_url)
    raise ValueError(f"no blob store for the database URL {db_url!r}")
