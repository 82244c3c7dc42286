"""Blobs as files on disk: the embedded default, beside the SQLite database.

Layout: ``<root>/ab/cd/<sha256>`` (two levels of fan-out keep folders small). A put streams into a temporary file in
``<root>/tmp/``, hashing as it goes; then fsync, rename to its name (atomic on one file system), fsync of the folder.
A crash leaves at most a temporary file, which :meth:`DiskBlobStore.open` removes: never a half-written blob under a
real name.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

from . import CHUNK_BYTES, BlobNotFound, BlobRef, BlobStore, BlobTooLarge, as_chunks, check_name

__all__ = ["DiskBlobStore"]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DiskBlobStore(BlobStore):
    """Content-addressed files under ``root`` (created, mode 0700, on :meth:`open`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    def path_of(self, sha256: str) -> Path:
        check_name(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def open(self) -> None:
        def prepare() -> None:
            self._tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.root, 0o700)
            for leftover in self._tmp.iterdir():  # puts a crash interrupted
                with contextlib.suppress(OSError):
                    leftover.unlink()

        await asyncio.to_thread(prepare)

    async def put(self, data: bytes | AsyncIterable[bytes], *, max_bytes: int) -> BlobRef:
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = await asyncio.to_thread(tempfile.mkstemp, dir=self._tmp)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in as_chunks(data):
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLarge(f"the content is over {max_bytes} bytes")
                    digest.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
                await asyncio.to_thread(out.flush)
                await asyncio.to_thread(os.fsync, out.fileno())
            ref = BlobRef(digest.hexdigest(), size)
            final = self.path_of(ref.sha256)

            def place() -> None:
                final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.replace(tmp, final)  # the same content under the same name: replacing it changes nothing
                _fsync_dir(final.parent)

            await asyncio.to_thread(place)
            return ref
        finally:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        path = self.path_of(sha256)
        try:
            handle = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise BlobNotFound("no such blob") from None
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            handle.close()

    async def size(self, sha256: str) -> int:
        try:
            return (await asyncio.to_thread(self.path_of(sha256).stat)).st_size
        except FileNotFoundError:
            raise BlobNotFound("no such blob") from None

    async def delete(self, sha256: str) -> bool:
        path = self.path_of(sha256)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            return False
        await asyncio.to_thread(_fsync_dir, path.parent)
        return True
