"""Uploads on the socket (PROTOCOL.md, "Attachments"), Qt-free.

:class:`Upload` is the state machine of one file's upload, sans I/O: it is told
what the server answered (:meth:`Upload.begun`, :meth:`Upload.progress`,
:meth:`Upload.finished`, :meth:`Upload.failed`) and says which binary frames may
go next (:meth:`Upload.next_span`, then :meth:`Upload.frame` with those bytes),
keeping at most ``window`` bytes beyond
the server's last ``received``. :func:`upload_file` drives one over a link.

States (each transition guarded)::

    NEW --begun--> SENDING --all sent--> FINISHING --finished--> DONE
     \\______________\\___________________\\--failed--> FAILED
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import os
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final, Protocol

from frontdesk.server.protocol import UPLOAD_FRAME_HEADER, Attachment, FileBeginResult, FileProgress

from ._io import run_io

__all__ = ["InvalidUploadState", "Upload", "UploadError", "UploadLink", "UploadState", "upload_file"]

#: How long ``file.finish`` may take: the server stores, fsyncs and re-encodes an image first.
FINISH_TIMEOUT_S: Final = 120.0


class UploadState(enum.Enum):
    NEW = "new"  #: nothing asked yet
    SENDING = "sending"  #: file.begin answered; binary frames going out
    FINISHING = "finishing"  #: every byte sent; file.finish asked
    DONE = "done"  #: the server answered with the Attachment
    FAILED = "failed"  #: refused or dropped; ``error`` says why


class InvalidUploadState(Exception):
    """A transition the upload's state does not allow."""


class UploadError(Exception):
    """The server refused or dropped the upload: ``code`` is its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_NEXT: Final[dict[UploadState, frozenset[UploadState]]] = {
    UploadState.NEW: frozenset({UploadState.SENDING, UploadState.FAILED}),
    UploadState.SENDING: frozenset({UploadState.FINISHING, UploadState.FAILED}),
    UploadState.FINISHING: frozenset({UploadState.DONE, UploadState.FAILED}),
    UploadState.DONE: frozenset(),
    UploadState.FAILED: frozenset(),
}


@dataclasses.dataclass
class Upload:
    """One file's upload of ``size`` bytes, sans I/O."""

    size: int
    state: UploadState = UploadState.NEW
    key: str | None = None  #: the server's upload key (survives a reconnect: ``resume``)
    handle: int = 0
    sent: int = 0  #: the next byte to send
    received: int = 0  #: what the server durably holds
    chunk: int = 0
    window: int = 0
    attachment: Attachment | None = None
    error: UploadError | None = None

    def _to(self, new: UploadState) -> None:
        if new not in _NEXT[self.state]:
            raise InvalidUploadState(f"an upload cannot go from {self.state.value} to {new.value}")
        self.state = new

    def begun(self, reply: FileBeginResult) -> None:
        """``file.begin`` answered: send from ``reply.offset`` under ``reply.upload``."""
        self._to(UploadState.SENDING)
        self.key, self.handle, self.chunk, self.window = reply.upload, reply.handle, reply.chunk, reply.window
        self.sent = self.received = reply.offset

    def progress(self, received: int) -> None:
        """``file.progress``: the server holds ``received`` bytes (it never goes back)."""
        self.received = max(self.received, min(received, self.size))

    def next_span(self) -> tuple[int, int] | None:
        """(offset, length) of the next frame's data the window allows, or None
        (wait for progress, or all sent)."""
        if self.state is not UploadState.SENDING:
            raise InvalidUploadState(f"no frames to send while {self.state.value}")
        if self.sent >= self.size or self.sent - self.received >= self.window:
            return None
        return self.sent, min(self.chunk, self.size - self.sent, self.window - (self.sent - self.received))

    def frame(self, data: bytes) -> bytes:
        """The binary frame carrying ``data`` (the bytes of :meth:`next_span`), counted as sent."""
        span = self.next_span()
        if span is None or len(data) != span[1]:
            raise UploadError("unreadable", "the file changed while it was being sent")
        frame = struct.pack(">IQ", self.handle, self.sent) + data
        assert len(frame) == UPLOAD_FRAME_HEADER + len(data)
        self.sent += len(data)
        return frame

    @property
    def all_sent(self) -> bool:
        return self.state is UploadState.SENDING and self.sent >= self.size

    def finishing(self) -> None:
        if not self.all_sent:
            raise InvalidUploadState("file.finish before every byte was sent")
        self._to(UploadState.FINISHING)

    def finished(self, attachment: Attachment) -> None:
        self._to(UploadState.DONE)
        self.attachment = attachment

    def failed(self, error: UploadError) -> None:
        self._to(UploadState.FAILED)
        self.error = error


class UploadLink(Protocol):
    """What :func:`upload_file` needs of the console's link (``_Link``)."""

    async def begin_upload(self, name: str, size: int, resume: str | None) -> FileBeginResult: ...
    async def send_bytes(self, data: bytes) -> None: ...
    async def finish_upload(self, key: str, timeout: float) -> Attachment: ...
    def watch_upload(self, key: str, on_news: Callable[[FileProgress | Exception], None]) -> Callable[[], None]:
        """Call ``on_news`` with the upload's progress events, its unsolicited errors (an
        :class:`UploadError`) and the link's end (its close exception); returns the unwatch."""
        ...


async def upload_file(
    link: UploadLink,
    path: Path,
    name: str,
    *,
    resume: str | None = None,
    on_key: Callable[[str], Awaitable[None]] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Attachment:
    """Upload ``path`` as ``name`` over ``link``; the stored Attachment.

    ``resume`` is the key of an earlier attempt (the server answers with what
    it holds of it, or a fresh upload). ``on_key`` hears the key as soon as the
    server gives it (store it, to resume after a restart); ``on_progress``
    hears (received, size). Raises :class:`UploadError` when the server refuses
    or drops it; the link's own errors (closed, timeout) pass through.
    """
    f = await run_io(path.open, "rb")
    try:
        size = await run_io(lambda: os.fstat(f.fileno()).st_size)

        def read(offset: int, n: int) -> bytes:
            f.seek(offset)
            return f.read(n)

        upload = Upload(size=size)
        upload.begun(await link.begin_upload(name, size, resume))
        assert upload.key is not None
        if on_key is not None:
            await on_key(upload.key)
        moved = asyncio.Event()
        problem: list[Exception] = []

        def heard(news: FileProgress | Exception) -> None:
            if isinstance(news, Exception):
                problem.append(news)
            else:
                upload.progress(news.received)
                if on_progress is not None:
                    on_progress(upload.received, size)
            moved.set()

        unwatch = link.watch_upload(upload.key, heard)
        try:
            if on_progress is not None:
                on_progress(upload.received, size)
            while not upload.all_sent:
                if problem:
                    raise problem[0]
                span = upload.next_span()
                if span is None:
                    moved.clear()
                    await moved.wait()
                    continue
                await link.send_bytes(upload.frame(await run_io(read, *span)))
            if problem:
                raise problem[0]
            upload.finishing()
            try:
                attachment = await link.finish_upload(upload.key, FINISH_TIMEOUT_S)
            except UploadError:
                # The server dropped the upload before finish came (its error frame came first,
                # in socket order): that error is the reason, not finish's not_found.
                if problem:
                    raise problem[0] from None
                raise
        finally:
            unwatch()
    finally:
        await run_io(f.close)
    upload.finished(attachment)
    if on_progress is not None:
        on_progress(size, size)
    return attachment
