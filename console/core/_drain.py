"""The outbox drainer and the actions that feed it.

Every action (reply, note, resolve, assign ...) is first stored in the durable
outbox (applied optimistically), then sent when online, in order, one request
at a time. An ack drops the item and stores what the server returned; a
rejection marks it failed with the server's reason. Two answers mean "not
processed, try again later" (PROTOCOL.md, "Errors"): ``rate_limited`` and
``unavailable`` (the server's storage is in trouble). For those the item stays
pending and is resent after a growing, jittered delay.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Final

from frontdesk.server.protocol import MAX_BODY_CHARS, Result

from ._base import CoreBase, SessionEnded
from ._link import _Link
from .exceptions import ServerError
from .rows import OutboxAction, OutboxItem

__all__ = ["RETRYABLE", "DrainMixin"]

log = logging.getLogger("frontdesk.console.sync")

#: Error codes after which an outbox item stays queued and is resent later.
RETRYABLE: Final = frozenset({"rate_limited", "unavailable"})


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
        await self.cache.outbox_attempt(item.id)
        try:
            reply = await link.request(Result, item.action, **fields)
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

    async def _queue(self, action: OutboxAction, conversation_id: int, payload: dict[str, Any]) -> int:
        outbox_id, applied = await self.cache.queue(action, conversation_id, str(uuid.uuid4()), payload, self._now_ms())
        self._announce(applied)
        self._outbox_wakeup.set()
        return outbox_id

    @staticmethod
    def _check_body(body: str) -> str:
        if not body.strip():
            raise ValueError("the message is empty")
        if len(body) > MAX_BODY_CHARS:
            raise ValueError(f"the message is longer than {MAX_BODY_CHARS} characters")
        return body

    # -- actions: durable outbox first, then the server ----------------------------

    async def reply(self, conversation_id: int, body: str) -> int:
        """Queue a reply to the visitor; returns its outbox id. ValueError
        for an empty or too long body."""
        return await self._queue("reply", conversation_id, {"body": self._check_body(body)})

    async def note(self, conversation_id: int, body: str) -> int:
        """Queue a private note; returns its outbox id."""
        return await self._queue("note", conversation_id, {"body": self._check_body(body)})

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
        in flight it may still be stored by the server)."""
        self._announce(await self.cache.outbox_discard(outbox_id))
