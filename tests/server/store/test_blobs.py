"""The blob store contract (server/store/blobs/__init__.py), run against every backend: files on disk and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from frontdesk.server.store import open_store
from frontdesk.server.store.blobs import CHUNK_BYTES, BlobNotFound, BlobStore, BlobTooLarge, open_blob_store
from frontdesk.server.store.blobs.disk import DiskBlobStore

T = TypeVar("T")


@pytest.fixture(params=["disk", pytest.param("postgres", marks=pytest.mark.postgres)])
def blob_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL whose blob store is the backend under test (PostgreSQL migrated, so its tables exist)."""
    if request.param == "disk":
        yield f"sqlite:///{tmp_path / 'frontdesk.db'}"
        return
    url: str = request.getfixturevalue("pg_url")

    async def migrate() -> None:
        store = open_store(url)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    yield url


def run(url: str, scenario: Callable[[BlobStore], Awaitable[T]]) -> T:
    async def main() -> T:
        blobs = open_blob_store(url)
        await blobs.open()
        try:
            return await scenario(blobs)
        finally:
            await blobs.close()

    return asyncio.run(main())


async def collect(blobs: BlobStore, name: str) -> list[bytes]:
    return [chunk async for chunk in blobs.read(name)]


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_stream_stored_reads_back_identical_in_bounded_chunks(blob_url: str) -> None:
    """Content put as many small pieces comes back byte for byte, named by its SHA-256, in chunks ≤ CHUNK_BYTES."""
    data = os.urandom(CHUNK_BYTES * 2 + 12345)

    async def scenario(blobs: BlobStore) -> None:
        ref = await blobs.put(pieces(data, 10_000), max_bytes=len(data))
        assert ref.sha256 == hashlib.sha256(data).hexdigest() and ref.size == len(data)
        chunks = await collect(blobs, ref.sha256)
        assert b"".join(chunks) == data and max(map(len, chunks)) <= CHUNK_BYTES and len(chunks) >= 3
        assert await blobs.size(ref.sha256) == len(data)
        assert await blobs.read_all(ref.sha256, max_bytes=len(data)) == data
        with pytest.raises(BlobTooLarge):
            await blobs.read_all(ref.sha256, max_bytes=len(data) - 1)

    run(blob_url, scenario)


def test_the_same_content_is_stored_once_even_when_put_at_the_same_time(blob_url: str) -> None:
    """Two puts of equal bytes (one of them concurrent) give one reference; deleting it removes the bytes."""
    data = b"invoice #2041\n" * 1000

    async def scenario(blobs: BlobStore) -> None:
        first, second = await asyncio.gather(blobs.put(data, max_bytes=10**6), blobs.put(data, max_bytes=10**6))
        third = await blobs.put(pieces(data, 7), max_bytes=10**6)
        assert first == second == third
        assert await blobs.delete(first.sha256) is True
        assert await blobs.delete(first.sha256) is False
        with pytest.raises(BlobNotFound):
            await blobs.size(first.sha256)
        with pytest.raises(BlobNotFound):
            await collect(blobs, first.sha256)

    run(blob_url, scenario)


def test_content_over_the_limit_is_refused_and_nothing_of_it_is_kept(blob_url: str) -> None:
    """A put past max_bytes raises BlobTooLarge as the bytes arrive, and leaves no blob and no partial file."""
    data = os.urandom(CHUNK_BYTES + 10)
    consumed = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal consumed
        for chunk in [data[:CHUNK_BYTES], data[CHUNK_BYTES:], b"never read" * 1000]:
            consumed += 1
            yield chunk

    async def scenario(blobs: BlobStore) -> None:
        with pytest.raises(BlobTooLarge):
            await blobs.put(counted(), max_bytes=CHUNK_BYTES)
        assert consumed == 2  # refused at the first byte over, not after reading everything
        with pytest.raises(BlobNotFound):
            await blobs.size(hashlib.sha256(data).hexdigest())
        if isinstance(blobs, DiskBlobStore):
            assert list((blobs.root / "tmp").iterdir()) == []
        else:
            import psycopg

            with psycopg.connect(blob_url) as conn:
                assert conn.execute("SELECT COUNT(*) FROM blob_chunks").fetchone() == (0,)

    run(blob_url, scenario)


@pytest.mark.parametrize("name", ["", "../../etc/passwd", "A" * 64, "0" * 63, "g" * 64, "0" * 64 + "/x"])
def test_a_malformed_or_unknown_name_is_not_found(blob_url: str, name: str) -> None:
    """Names that are not 64 lowercase hex digits, or name nothing stored, read as BlobNotFound."""

    async def scenario(blobs: BlobStore) -> None:
        with pytest.raises(BlobNotFound):
            await blobs.size(name)
        with pytest.raises(BlobNotFound):
            await collect(blobs, name)
        if len(name) == 64 and set(name) <= set("0123456789abcdef"):
            assert await blobs.delete(name) is False

    run(blob_url, scenario)


def test_the_disk_store_removes_what_an_interrupted_put_left_and_keeps_its_folder_private(tmp_path: Path) -> None:
    """A temporary file left by a crash is deleted on open; the blob folder is readable by its owner only."""
    root = tmp_path / "frontdesk.db.blobs"
    (root / "tmp").mkdir(parents=True)
    (root / "tmp" / "leftover").write_bytes(b"half a file")

    async def scenario() -> None:
        blobs = DiskBlobStore(root)
        await blobs.open()
        ref = await blobs.put(b"kept", max_bytes=10)
        assert blobs.path_of(ref.sha256).read_bytes() == b"kept"

    asyncio.run(scenario())
    assert list((root / "tmp").iterdir()) == []
    assert root.stat().st_mode & 0o077 == 0


def test_an_unknown_database_url_has_no_blob_store() -> None:
    """open_blob_store refuses a URL no backend understands."""
    with pytest.raises(ValueError, match="no blob store"):
        open_blob_store("mysql://x/y")


@pytest.mark.postgres
def test_the_postgresql_backup_procedure_carries_the_files(pg_url: str, tmp_path: Path) -> None:
    """OPERATIONS.md's PostgreSQL backup (``pg_dump -Fc``, then ``pg_restore --clean``) puts back a file whose
    bytes were deleted after the dump: on PostgreSQL the bytes are rows, so the dump holds them."""
    import shutil
    import subprocess

    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not installed")
    data = os.urandom(CHUNK_BYTES + 777)

    async def migrate() -> None:
        store = open_store(pg_url)
        await store.open()
        await store.close()

    asyncio.run(migrate())

    async def put(blobs: BlobStore) -> str:
        return (await blobs.put(data, max_bytes=len(data))).sha256

    async def delete(blobs: BlobStore) -> bool:
        return await blobs.delete(name)

    name = run(pg_url, put)
    subprocess.run(["pg_dump", "-Fc", "-f", str(tmp_path / "db.dump"), pg_url], check=True, capture_output=True)
    assert run(pg_url, delete)
    subprocess.run(["pg_restore", "--clean", "-d", pg_url, str(tmp_path / "db.dump")], check=True, capture_output=True)

    async def read_back(blobs: BlobStore) -> bytes:
        return await blobs.read_all(name, max_bytes=len(data))

    assert run(pg_url, read_back) == data
