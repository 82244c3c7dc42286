"""The outbox drainer and the actions that feed it.

Every action (reply, note, resolve, assign ...) is first stored in the durable
outbox (applied optimistically), then sent when online, in order, one request
at a time. An ack drops the item and stores what the server returned; a
rejection marks it failed with the server's reason. Two answers mean "not
processed, try again later" (PROTOCOL.md, "Errors"): ``rate_limited`` and
``unavailable`` (the server's storage is in trouble). For those the item stays
pending and is resent after a growing, jittered delay.

A reply or note may carry files (PROTOCOL.md, "Attachments"). They are copied
into the cache folder when queued, so the outbox holds them whatever happens to
the originals; the drainer uploads each (resuming an upload a lost connection
or a restart cut, from the key it stored), stores each attachment id as it
gets it, then sends the request with ``attachment_ids`` and the item's one
``client_id``: a resend after a restart is stored once. The copies go when the
server acked the item (or the agent discarded it).
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from frontdesk.server.protocol import MAX_BODY_CHARS, Result

from ._base import CoreBase, SessionEnded
from ._io import run_io
from ._link import _Link
from .cache import outbox_files
from .exceptions import ServerError
from .rows import LocalFile, OutboxAction, OutboxItem
from .uploads import UploadError, upload_file
from .words import translate

__all__ = ["RETRYABLE", "DrainMixin"]

log = logging.getLogger("frontdesk.console.sync")

#: Error codes after which an outbox item stays queued and is resent later.
#: ``pending``: one of its files is still being scanned (PROTOCOL.md, "Attachments").
RETRYABLE: Final = frozenset({"rate_limited", "unavailable", "pending"})
#: Upload errors after which the next attempt starts the file afresh (the server dropped it).
_RESTART: Final = frozenset({"upload_failed", "not_found"})


def _refused(code: str, name: str, message: str) -> str:
    """An upload refusal in words, for the thread (the server's message is for developers); translated."""
    if code == "too_large":
        text = translate("Outbox", "{name} is too large to send")
    elif code == "unsupported_type":
        text = translate("Outbox", "Files like {name} cannot be sent (the kinds accepted are set in Settings)")
    elif code == "unreadable":
        text = translate("Outbox", "{name} could not be read")
    else:
        text = translate("Outbox", "{name} could not be sent: {message}")
    return text.format(name=name, message=message)


_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")


class DrainMixin(CoreBase):
    """The outbox: actions queue here, and drain in order when online."""

    async def _drain(self, link: _Link) -> None:
        """Send pending outbox items in order, one at a time, until the link dies."""
        while True:
            item = self.cache.next_pending()
            if item is None:
                self._outbox_wakeup.clear()
                if self.cache.next_pending() is None:
                    await self._outbox_wakeup.wait()
                continue
            await self._send_item(link, item)

    async def _send_item(self, link: _Link, item: OutboxItem) -> None:
        fields: dict[str, Any] = {"conversation_id": item.conversation_id, "client_id": item.client_id}
        fields.update(item.payload)
        files = outbox_files(item.payload)
        fields.pop("files", None)  # the request carries their attachment_ids instead
        await self.cache.outbox_attempt(item.id)
        try:
            if files:
                fields["attachment_ids"] = await self._upload_files(link, item, files)
            reply = await link.request(Result, item.action, **fields)
        except UploadError as exc:
            if exc.code == "rate_limited":
                await asyncio.sleep(self._outbox_backoff.next_delay())
                return
            log.info("outbox item %d: upload refused: %s", item.id, exc.code)
            name = next((f.name for f in files if f.id is None), translate("Outbox", "the file"))
            words = _refused(exc.code, f"\u201c{name}\u201d", exc.message)
            self._announce(await self.cache.outbox_failed(item.id, exc.code, words))
            return
        except ServerError as exc:
            if exc.code in RETRYABLE:
                # Not processed: the same item (same client_id) again, later.
                delay = self._outbox_backoff.next_delay()
                log.info("outbox item %d (%s): %s, resending in %.1f s", item.id, item.action, exc.code, delay)
                await asyncio.sleep(delay)
                return
            if exc.code == "unauthorized":
                raise SessionEnded(exc.message) from None
            log.info("outbox item %d (%s) rejected: %s", item.id, item.action, exc.code)
            self._announce(await self.cache.outbox_failed(item.id, exc.code, exc.message or exc.code))
            return
        self._outbox_backoff.reset()
        log.debug("outbox item %d (%s) acked", item.id, item.action)
        self._announce(await self.cache.outbox_acked(item, reply))
        await _drop_copies(files)

    async def _upload_files(self, link: _Link, item: OutboxItem, files: Sequence[LocalFile]) -> list[str]:
        """Upload the item's files not uploaded yet, storing each key and id as the
        server gives it; their attachment ids, in order."""
        total = sum(f.size for f in files)
        done = sum(f.size for f in files if f.id is not None)
        ids: list[str] = []
        for index, f in enumerate(files):
            if f.id is not None:
                ids.append(f.id)
                continue

            async def keep_key(key: str, index: int = index) -> None:
                await self.cache.outbox_file_progress(item.id, index, key, None)

            def progress(received: int, _size: int, base: int = done) -> None:
                self._emit("on_upload_progress", item.id, base + received, total)

            path = Path(f.path)
            if not await run_io(path.is_file):
                raise UploadError("unreadable", "the copy in the cache folder is gone")
            try:
                attachment = await upload_file(
                    link, path, f.name, resume=f.upload, on_key=keep_key, on_progress=progress
                )
            except UploadError as exc:
                if exc.code in _RESTART:
                    await self.cache.outbox_file_progress(item.id, index, None, None)
                raise
            await self.cache.outbox_file_progress(item.id, index, None, attachment.id)
            done += f.size
            ids.append(attachment.id)
        return ids

    async def _stash(self, paths: Sequence[Path]) -> list[dict[str, Any]]:
        """Copy files into the cache folder (the outbox owns its copies); their payload entries."""
        limit = self._upload_limit()
        out: list[dict[str, Any]] = []
        try:
            await self._stash_each(paths, limit, out)
        except BaseException:
            for entry in out:  # a later file was refused: the copies made so far go
                await run_io(shutil.rmtree, Path(entry["path"]).parent, True)
            self._stashing.difference_update(Path(entry["path"]).parent for entry in out)
            raise
        return out

    async def _stash_each(self, paths: Sequence[Path], limit: int | None, out: list[dict[str, Any]]) -> None:
        for path in paths:
            size = (await run_io(path.stat)).st_size
            if size == 0:
                raise ValueError(translate("Outbox", "\u201c{name}\u201d is empty").format(name=path.name))
            if limit is not None and size > limit:
                raise ValueError(
                    translate("Outbox", "\u201c{name}\u201d is too large to send: the limit is {mb} MB").format(
                        name=path.name, mb=limit // 1_000_000
                    )
                )
            # Beside the cache file: one folder per server and agent, one per file inside.
            folder = self.cache.path.with_suffix(".outbox") / uuid.uuid4().hex
            name = _UNSAFE_NAME.sub("_", path.name)[:200] or "file"
            self._stashing.add(folder)  # until queued: no pruning
            await run_io(folder.mkdir, parents=True, mode=0o700)
            await run_io(shutil.copyfile, path, folder / name)
            out.append({"path": str(folder / name), "name": path.name[:255] or "file", "size": size})

    def _upload_limit(self) -> int | None:
        """The tenant's largest upload in bytes (``max_upload_mb``, MB of 1,000,000), if known."""
        config = self._cache.config() if self._cache is not None else None
        mb = (config or {}).get("max_upload_mb")  # own data: the cache's stored config values
        return int(mb) * 1_000_000 if isinstance(mb, int) else None  # own data

    async def _queue(self, action: OutboxAction, conversation_id: int, payload: dict[str, Any]) -> int:
        outbox_id, applied = await self.cache.queue(action, conversation_id, str(uuid.uuid4()), payload, self._now_ms())
        self._announce(applied)
        self._outbox_wakeup.set()
        return outbox_id

    @staticmethod
    def _check_body(body: str, files: bool = False) -> str:
        if not body.strip() and not files:
            raise ValueError("the message is empty")
        if len(body) > MAX_BODY_CHARS:
            raise ValueError(f"the message is longer than {MAX_BODY_CHARS} characters")
        return body

    # -- actions: durable outbox first, then the server ----------------------------

    async def reply(self, conversation_id: int, body: str, files: Sequence[Path] = ()) -> int:
        """Queue a reply to the visitor, with ``files`` attached (copied into the
        cache folder first); returns its outbox id. ValueError for an empty or
        too long body (empty is fine with files), or a file over the tenant's limit."""
        payload: dict[str, Any] = {"body": self._check_body(body, bool(files))}
        if files:
            payload["files"] = await self._stash(files)
        try:
            return await self._queue("reply", conversation_id, payload)
        finally:
            self._stashing.difference_update(Path(f.path).parent for f in outbox_files(payload))

    async def note(self, conversation_id: int, body: str, files: Sequence[Path] = ()) -> int:
        """Queue a private note, with ``files`` as :meth:`reply`; returns its outbox id."""
        payload: dict[str, Any] = {"body": self._check_body(body, bool(files))}
        if files:
            payload["files"] = await self._stash(files)
        try:
            return await self._queue("note", conversation_id, payload)
        finally:
            self._stashing.difference_update(Path(f.path).parent for f in outbox_files(payload))

    async def resolve(self, conversation_id: int) -> int:
        """Queue resolving the conversation; returns its outbox id."""
        return await self._queue("resolve", conversation_id, {})

    async def reopen(self, conversation_id: int) -> int:
        """Queue reopening the conversation; returns its outbox id."""
        return await self._queue("reopen", conversation_id, {})

    async def pend(self, conversation_id: int) -> int:
        """Queue marking the conversation pending; returns its outbox id."""
        return await self._queue("pend", conversation_id, {})

    async def assign(self, conversation_id: int, agent_id: int) -> int:
        """Queue assigning the conversation; returns its outbox id."""
        return await self._queue("assign", conversation_id, {"agent_id": agent_id})

    async def unassign(self, conversation_id: int) -> int:
        """Queue removing the assignee; returns its outbox id."""
        return await self._queue("unassign", conversation_id, {})

    async def snooze(self, conversation_id: int, until: int | None) -> int:
        """Queue snoozing the conversation until ``until`` (ms) or, when None,
        until the visitor writes; returns its outbox id. ValueError for a time
        not in the future (PROTOCOL.md, "Snooze")."""
        if until is not None and until <= self._now_ms():
            raise ValueError("a snooze must end in the future")
        return await self._queue("snooze", conversation_id, {} if until is None else {"until": until})

    async def transfer(
        self, conversation_id: int, *, agent_id: int | None = None, team_id: int | None = None, note: str = ""
    ) -> int:
        """Queue handing the conversation to an agent and/or a team, with a
        private note (PROTOCOL.md, "Transfer"); returns its outbox id.
        ValueError without a target."""
        if agent_id is None and team_id is None:
            raise ValueError("choose an agent or a team")
        payload: dict[str, Any] = {}
        if agent_id is not None:
            payload["agent_id"] = agent_id
        if team_id is not None:
            payload["team_id"] = team_id
        if note.strip():
            payload["note"] = self._check_body(note)
        return await self._queue("transfer", conversation_id, payload)

    async def edit_message(self, conversation_id: int, seq: int, body: str) -> int:
        """Queue replacing the text of this agent's message ``seq``; returns its
        outbox id. The server refuses (``conflict``) once its edit window has
        passed; the item then fails with that reason."""
        return await self._queue("message.edit", conversation_id, {"seq": seq, "body": self._check_body(body)})

    async def delete_message(self, conversation_id: int, seq: int) -> int:
        """Queue deleting this agent's message ``seq``; returns its outbox id."""
        return await self._queue("message.delete", conversation_id, {"seq": seq})

    async def retry(self, outbox_id: int) -> None:
        """Send a failed outbox item again, with a fresh client_id (a rejected
        request stored nothing, and the server may remember the old id)."""
        self._announce(await self.cache.outbox_retry(outbox_id, str(uuid.uuid4())))
        self._outbox_wakeup.set()

    async def discard(self, outbox_id: int) -> None:
        """Drop an outbox item (failed, or pending and not yet acked: if it is
        in flight it may still be stored by the server), and its files' copies."""
        item = self.cache.outbox_item(outbox_id)
        self._announce(await self.cache.outbox_discard(outbox_id))
        if item is not None:
            await _drop_copies(outbox_files(item.payload))


async def _drop_copies(files: Sequence[LocalFile]) -> None:
    """Delete the outbox's copies of these files (each has a folder of its own)."""
    for f in files:
        await run_io(shutil.rmtree, Path(f.path).parent, True)
