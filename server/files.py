"""Attachments on the server: uploads over the socket, signed links, cleanup (PROTOCOL.md, "Attachments").

- :class:`Uploads` runs ``file.begin``/``file.finish``/``file.cancel`` and the binary frames between them. An upload
  in progress is this node's: its bytes go to a spool file (``<database>.uploads/`` beside SQLite, a temporary
  folder otherwise), fsynced every :data:`PROGRESS_BYTES` before ``file.progress`` says so, which is what a resume
  may count on. The type is sniffed from the first bytes (``media.sniff``) and checked against the tenant's
  ``upload_kinds`` as soon as they are in; ``file.finish`` re-encodes images (``media.process_image``), stores the
  bytes in the blob store (fsynced, ``store/blobs/``) and only then commits the row (``store/files.py``), so the
  reply means stored.
- :class:`LinkKeys` keeps each tenant's link-signing key in the one secret store (``server/secrets.py``), made on
  first use; ``file.links`` signs with it (``server/links.py``) and ``server/downloads.py`` checks with it.
- :func:`cleanup_handlers` are the job handlers of the one job table: an upload no message took by its due time is
  deleted (:data:`store.files.EXPIRE_JOB`), and blobs no row refers to any more are deleted
  (:data:`store.files.GC_JOB`, queued by erasure).

Partials are kept in memory and in the spool only: a restart or another node loses them, and a resume then starts
from byte 0 (PROTOCOL.md says so). An idle partial is dropped after :data:`PARTIAL_IDLE_MS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import shutil
import struct
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Final

from . import links as link_sign
from . import media
from . import protocol as p
from .exceptions import FrontdeskError
from .hub import Client, Hub, spawn
from .jobs import Clock, JobHandler
from .protocol import Endpoint, ErrorCode, ProtocolError
from .ratelimit import BucketMap, Rate
from .secrets import SecretKeyError, SecretStore, load_box
from .store import Store
from .store import files as file_ops
from .store.blobs import BlobStore, BlobTooLarge
from .store.jobs import Job
from .tenants import TenantCache

__all__ = [
    "LINK_TTL_S",
    "PARTIAL_IDLE_MS",
    "PROGRESS_BYTES",
    "UNREFERENCED_TTL_MS",
    "LinkKeys",
    "Scanner",
    "Uploads",
    "cleanup_handlers",
    "spool_dir_for",
]

log = logging.getLogger("frontdesk.server.files")

#: ``file.progress`` (and an fsync before it) after every this many bytes, and at the last byte.
PROGRESS_BYTES: Final = 256 * 1024
#: A partial upload untouched this long is dropped (its spool file deleted).
PARTIAL_IDLE_MS: Final = 60 * 60 * 1000
#: The default time an upload no message refers to is kept (the ``unreferenced_upload_s`` knob).
UNREFERENCED_TTL_MS: Final = 60 * 60 * 1000
#: How long a signed link is valid.
LINK_TTL_S: Final = 5 * 60
#: Uploads in progress per socket.
MAX_UPLOADS_PER_SOCKET: Final = 4
#: The secret store's name of a tenant's link-signing key.
LINK_KEY_SECRET: Final = "file_links"  # noqa: S105 - a name, not a secret
_HEADER = struct.Struct(">IQ")

#: Scans a stored file: True when clean, False when infected; raises when it cannot tell (the file stays pending).
Scanner = Callable[[Path], Awaitable[bool]]


def spool_dir_for(db_url: str) -> Path:
    """Where partial uploads go: beside the SQLite database, else a new temporary folder."""
    if db_url.startswith("sqlite:///"):
        from .store import sqlite_path

        database = Path(sqlite_path(db_url))
        return database.with_name(database.name + ".uploads")
    return Path(tempfile.mkdtemp(prefix="frontdesk-uploads-"))


def _owner(client: Client) -> tuple[str, int]:
    if client.endpoint is Endpoint.VISITOR:
        assert client.visitor_id is not None
        return "visitor", client.visitor_id
    assert client.agent_id is not None
    return "agent", client.agent_id


@dataclasses.dataclass(eq=False)
class _Upload:
    """One upload in progress on this node."""

    key: str
    tenant_id: int
    owner: tuple[str, int]
    name: str
    size: int
    path: Path
    out: BinaryIO
    kinds: frozenset[str]
    received: int = 0
    durable: int = 0  #: bytes fsynced: what a resume may count on
    head: bytearray = dataclasses.field(default_factory=bytearray)
    mime: str | None = None
    touched_ms: int = 0
    socket: int | None = None  #: ``id()`` of the socket it is attached to
    handle: int | None = None


class LinkKeys:
    """Each tenant's link-signing key, kept sealed in the secret store and made on first use.

    Without an operator key (no ``FRONTDESK_SECRET_KEYS``), keys are kept in this process only: links then stop
    working at a restart and are not valid on another node; the server says so once in its log.
    """

    def __init__(self, store: Store, *, box_loader: Callable[[], Any] = load_box) -> None:
        self.store = store
        try:
            self.secrets: SecretStore | None = SecretStore(store, box_loader())
        except SecretKeyError:
            self.secrets = None
        self._cache: dict[int, tuple[float, str]] = {}
        self._lock = asyncio.Lock()
        self._warned = False

    async def key(self, tenant_id: int) -> str:
        """The tenant's current key (re-read every minute, so a key another node made first wins everywhere)."""
        cached = self._cache.get(tenant_id)
        if cached is not None and (self.secrets is None or time.monotonic() - cached[0] < 60):
            return cached[1]
        async with self._lock:
            if self.secrets is None:
                if not self._warned:
                    log.warning("no secret key configured: file links are signed with a key kept in memory only")
                    self._warned = True
                key = link_sign.new_link_key()
            else:
                stored = await self.secrets.get(tenant_id, LINK_KEY_SECRET)
                if stored is None:
                    await self.secrets.put(tenant_id, LINK_KEY_SECRET, link_sign.new_link_key())
                    stored = await self.secrets.get(tenant_id, LINK_KEY_SECRET)
                assert stored is not None
                key = stored
            self._cache[tenant_id] = (time.monotonic(), key)
            return key


class Uploads:
    """Uploads in progress on this node, and the ``file.*`` requests (module doc)."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        hub: Hub,
        tenants: TenantCache,
        spool: Path,
        *,
        clock: Clock,
        rate: Rate,
        link_keys: LinkKeys,
        unreferenced_ttl_ms: int = UNREFERENCED_TTL_MS,
        scanner: Scanner | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.hub = hub
        self.tenants = tenants
        self.spool = spool
        self.clock = clock
        self.link_keys = link_keys
        self.unreferenced_ttl_ms = unreferenced_ttl_ms
        self.scanner = scanner
        self.by_owner = BucketMap(rate)
        self.by_ip = BucketMap(rate)
        self._uploads: dict[str, _Upload] = {}
        #: id(socket) -> handle -> upload
        self._handles: dict[int, dict[int, _Upload]] = {}
        self._next_handle = 0
        #: Image re-encodes at once: each holds the file and its decoded pixels (up to 40 Mpx) in memory.
        self._images = asyncio.Semaphore(2)

    def open(self) -> None:
        """Make the spool folder and drop what a previous run left in it."""
        if self.spool.exists():
            shutil.rmtree(self.spool, ignore_errors=True)
        self.spool.mkdir(parents=True, mode=0o700, exist_ok=True)

    def close(self) -> None:
        for upload in list(self._uploads.values()):
            self._drop(upload)
        shutil.rmtree(self.spool, ignore_errors=True)

    # -- requests --------------------------------------------------------------------

    async def begin(self, client: Client, req: p.FileBegin) -> p.FileBeginResult:
        owner = _owner(client)
        self._sweep()
        tenant = await self.tenants.get(client.tenant_id)
        config = tenant.config
        kinds = frozenset(config.get("upload_kinds", p.UPLOAD_KINDS))
        limit = int(config.get("max_upload_mb", 20)) * 1_000_000
        if req.size > limit:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"the file is over this site's limit of {limit // 1_000_000} MB",
                req.ref,
                field="size",
            )
        if not kinds:
            raise ProtocolError(ErrorCode.UNSUPPORTED_TYPE, "this site accepts no files", req.ref)
        if not (self.by_owner.take(f"{client.tenant_id}:{owner[0]}:{owner[1]}") and self.by_ip.take(client.ip)):
            raise ProtocolError(ErrorCode.RATE_LIMITED, "you are uploading too fast", req.ref)
        handles = self._handles.setdefault(id(client), {})
        resumed = self._uploads.get(req.resume) if req.resume is not None else None
        if (
            resumed is not None
            and resumed.owner == owner
            and resumed.tenant_id == client.tenant_id
            and resumed.name == req.name.strip()
            and resumed.size == req.size
        ):
            self._detach(resumed)
            await asyncio.to_thread(resumed.out.truncate, resumed.durable)
            resumed.out.seek(resumed.durable)
            resumed.received = resumed.durable
            del resumed.head[resumed.durable :]
            upload = resumed
        else:
            if len(handles) >= MAX_UPLOADS_PER_SOCKET:
                raise ProtocolError(
                    ErrorCode.RATE_LIMITED, f"at most {MAX_UPLOADS_PER_SOCKET} uploads at once per socket", req.ref
                )
            key = "u_" + secrets.token_urlsafe(18)
            path = self.spool / key
            out = await asyncio.to_thread(open, path, "w+b")
            upload = _Upload(key, client.tenant_id, owner, req.name.strip(), req.size, path, out, kinds)
            self._uploads[key] = upload
        self._next_handle = self._next_handle % 0xFFFFFFFF + 1
        upload.handle, upload.socket = self._next_handle, id(client)
        upload.touched_ms = self.clock.now_ms()
        handles[upload.handle] = upload
        return p.FileBeginResult(
            upload=upload.key,
            handle=upload.handle,
            offset=upload.received,
            chunk=p.UPLOAD_CHUNK,
            window=p.UPLOAD_WINDOW,
        )

    async def data(self, client: Client, frame: bytes) -> bool:
        """One binary frame (PROTOCOL.md, "Attachments", step 2). False when the frame itself was refused (the
        caller counts those against the socket, as it does rate-limited requests)."""
        if not client.authenticated:
            client.push(p.encode_error(None, ErrorCode.UNAUTHORIZED, "authenticate before uploading"))
            return False
        if len(frame) <= p.UPLOAD_FRAME_HEADER:
            self._fail_frame(client, None, "a binary frame is a 12-byte header and at least one byte of data")
            return False
        handle, offset = _HEADER.unpack_from(frame)
        upload = self._handles.get(id(client), {}).get(handle)
        if upload is None:
            self._fail_frame(client, None, f"no upload with handle {handle} on this socket")
            return False
        data = memoryview(frame)[p.UPLOAD_FRAME_HEADER :]
        if offset != upload.received or len(data) > p.UPLOAD_CHUNK or upload.received + len(data) > upload.size:
            self._fail_frame(
                client, upload, f"expected at most {p.UPLOAD_CHUNK} bytes at offset {upload.received} of {upload.size}"
            )
            return False
        upload.out.write(data)
        upload.received += len(data)
        upload.touched_ms = self.clock.now_ms()
        if len(upload.head) < media.SNIFF_BYTES:
            upload.head += data[: media.SNIFF_BYTES - len(upload.head)]
        if upload.mime is None and (len(upload.head) >= media.SNIFF_BYTES or upload.received == upload.size):
            mime = media.sniff(bytes(upload.head))
            kind = media.kind_of(mime)
            if kind is None or kind not in upload.kinds:
                self._drop(upload)
                what = mime or "an unknown type"
                client.push(
                    p.encode_error(
                        None,
                        ErrorCode.UNSUPPORTED_TYPE,
                        f"this site does not accept {what} files",
                        upload=upload.key,
                    )
                )
                return True  # a refusal of the content, not a misbehaving client
            upload.mime = mime
        if upload.received - upload.durable >= PROGRESS_BYTES or upload.received == upload.size:
            await asyncio.to_thread(_flush, upload.out)
            if upload.key not in self._uploads:  # cancelled meanwhile
                return True
            upload.durable = upload.received
            client.push(p.encode_event("file.progress", p.FileProgress(upload=upload.key, received=upload.received)))
        return True

    async def finish(self, client: Client, req: p.FileFinish) -> p.Attachment:
        upload = self._uploads.get(req.upload)
        if upload is None or upload.owner != _owner(client) or upload.tenant_id != client.tenant_id:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such upload", req.ref, field="upload")
        if upload.received != upload.size or upload.mime is None:
            raise ProtocolError(
                ErrorCode.INVALID, f"the upload has {upload.received} of its {upload.size} bytes", req.ref
            )
        self._detach(upload)
        self._uploads.pop(upload.key, None)  # from here on it is this request's
        try:
            return await self._store(upload, req.ref)
        finally:
            upload.out.close()
            with contextlib.suppress(OSError):
                upload.path.unlink()

    async def cancel(self, client: Client, req: p.FileCancel) -> p.Result:
        upload = self._uploads.get(req.upload)
        if upload is not None and upload.owner == _owner(client) and upload.tenant_id == client.tenant_id:
            self._drop(upload)
        return p.Result()

    async def links(self, client: Client, req: p.FileLinks) -> p.FileLinksResult:
        rows = await self.store.read(
            file_ops.readable_files, client.tenant_id, req.ids, visitor_id=client.visitor_id, agent_id=client.agent_id
        )
        key = await self.link_keys.key(client.tenant_id)
        expires = int(self.clock.now_ms() // 1000) + LINK_TTL_S
        out: dict[str, p.FileLink] = {}
        for row in rows:
            url = f"/v1/files/{row['id']}?exp={expires}&sig={link_sign.sign_link(key, row['id'], expires)}"
            thumb = f"{url}&v=thumb" if row["thumb_sha256"] is not None else None
            out[row["id"]] = p.FileLink(url=url, thumbnail_url=thumb, expires_at=expires)
        return p.FileLinksResult(links=out)

    def forget_owner(self, kind: str, owner_id: int) -> None:
        """Drop every partial upload of a visitor (erased) or agent, spool files included."""
        for upload in [u for u in self._uploads.values() if u.owner == (kind, owner_id)]:
            self._drop(upload)

    def socket_closed(self, client: Client) -> None:
        """The socket is gone: its handles go, its uploads stay resumable (until idle too long)."""
        for upload in self._handles.pop(id(client), {}).values():
            upload.socket = upload.handle = None

    # -- internals -------------------------------------------------------------------

    async def _store(self, upload: _Upload, ref: str | None) -> p.Attachment:
        assert upload.mime is not None
        await asyncio.to_thread(_flush, upload.out)
        width = height = None
        thumb_ref = None
        thumb_mime = None
        mime = upload.mime
        if media.kind_of(mime) == "images":
            try:
                async with self._images:
                    data = await asyncio.to_thread(_read_all, upload.path)
                    image = await asyncio.to_thread(media.process_image, data, mime)
            except media.ImageRefused as exc:
                code = (
                    ErrorCode.TOO_LARGE if "pixels" in str(exc) or "frames" in str(exc) else ErrorCode.UNSUPPORTED_TYPE
                )
                raise ProtocolError(code, str(exc), ref) from None
            del data
            ref_ = await self.blobs.put(image.data, max_bytes=len(image.data))
            thumb_ref = await self.blobs.put(image.thumbnail, max_bytes=len(image.thumbnail))
            thumb_mime, width, height = image.thumbnail_mime, image.width, image.height
        else:
            try:
                ref_ = await self.blobs.put(_chunks_of(upload.path), max_bytes=upload.size)
            except BlobTooLarge:  # the spool file grew behind our back: not a client's doing
                raise FrontdeskError("an upload's spool file changed size") from None
        pending = self.scanner is not None
        now = self.clock.now_ms()
        attachment = await self.store.write(
            file_ops.add_file,
            upload.tenant_id,
            file_id=file_ops.new_file_id(),
            uploader_kind=upload.owner[0],
            uploader_id=upload.owner[1],
            name=upload.name,
            mime=mime,
            size=ref_.size,
            sha256=ref_.sha256,
            width=width,
            height=height,
            thumb_sha256=None if thumb_ref is None else thumb_ref.sha256,
            thumb_mime=thumb_mime,
            status="pending" if pending else "ready",
            now=now,
            expire_at=now + self.unreferenced_ttl_ms,
        )
        if pending:
            spawn(self._scan(upload, attachment))
        return attachment

    async def _scan(self, upload: _Upload, attachment: p.Attachment) -> None:
        """Scan a stored file, then tell its uploader's sockets (``file.ready``)."""
        assert self.scanner is not None
        path = self.spool / f"scan-{attachment.id}"
        try:
            with open(path, "wb") as out:  # noqa: ASYNC230 - small writes between awaits
                row = await self.store.read(file_ops.file_row, attachment.id)
                if row is None:
                    return
                async for chunk in self.blobs.read(row["sha256"]):
                    out.write(chunk)
            clean = await self.scanner(path)
        except Exception:
            log.exception("scanning %s failed; it stays pending", attachment.id)
            return
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
        if clean:
            stored = await self.store.write(file_ops.set_ready, attachment.id)
            if stored is None:
                return
            result = file_ops.attachment_obj(stored)
        else:
            names = await self.store.write(file_ops.refuse_file, attachment.id)
            await delete_unreferenced(self.store, self.blobs, names)
            result = dataclasses.replace(attachment, status="refused")
        frame = p.encode_event("file.ready", result)
        kind, owner_id = upload.owner
        sockets = self.hub.visitor_sockets(owner_id) if kind == "visitor" else self.hub.sockets_of_agent(owner_id)
        for sock in sockets:
            if sock.tenant_id == upload.tenant_id:
                sock.push(frame)

    def _fail_frame(self, client: Client, upload: _Upload | None, message: str) -> None:
        if upload is not None:
            self._drop(upload)
        client.push(
            p.encode_error(None, ErrorCode.UPLOAD_FAILED, message, upload=None if upload is None else upload.key)
        )

    def _detach(self, upload: _Upload) -> None:
        if upload.socket is not None and upload.handle is not None:
            self._handles.get(upload.socket, {}).pop(upload.handle, None)
        upload.socket = upload.handle = None

    def _drop(self, upload: _Upload) -> None:
        self._detach(upload)
        self._uploads.pop(upload.key, None)
        upload.out.close()
        with contextlib.suppress(OSError):
            upload.path.unlink()

    def _sweep(self) -> None:
        """Drop partials idle for :data:`PARTIAL_IDLE_MS` (checked when an upload begins)."""
        cutoff = self.clock.now_ms() - PARTIAL_IDLE_MS
        for upload in [u for u in self._uploads.values() if u.touched_ms < cutoff]:
            self._drop(upload)


def _flush(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


def _read_all(path: Path) -> bytes:
    return path.read_bytes()


async def _chunks_of(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as handle:  # noqa: ASYNC230 - each read below runs in a thread
        while chunk := await asyncio.to_thread(handle.read, 256 * 1024):
            yield chunk


async def delete_unreferenced(store: Store, blobs: BlobStore, names: list[str]) -> int:
    """Delete those blobs of ``names`` no file row refers to; how many went."""
    gone = 0
    for name in await store.read(file_ops.unreferenced_blobs, names):
        gone += await blobs.delete(name)
    return gone


def cleanup_handlers(store: Store, blobs: BlobStore) -> Mapping[str, JobHandler]:
    """The job handlers of attachments' cleanup (module doc), for a :class:`~frontdesk.server.jobs.JobRunner`."""

    async def expire(job: Job) -> None:
        names = await store.write(file_ops.expire_unreferenced, str(job.payload["file_id"]))
        await delete_unreferenced(store, blobs, names)

    async def gc(job: Job) -> None:
        await delete_unreferenced(store, blobs, [str(n) for n in job.payload["names"]])

    return {file_ops.EXPIRE_JOB: expire, file_ops.GC_JOB: gc}
