"""The durable outbox: actions stored before they are sent, in order.

An item is ``pending`` (not acked yet: it is, or will be, sent) or ``failed``
(the server rejected it; it keeps the reason). Acked items leave the outbox in
the same transaction that stores what the server returned. Every change
recomputes the conversation's optimistic columns (:func:`._apply.recompute`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final, cast

from frontdesk.server.protocol import ConversationChange, MessageAck, MessageChange, NoteAck, Result

from ..rows import LocalFile, OutboxAction, OutboxItem
from ._apply import Applied, apply_message, apply_message_update, recompute, upsert_conversation
from ._schema import Db
from ._writer import Store

__all__ = ["OUTBOX_COLUMNS", "OutboxMixin", "outbox_files", "outbox_item"]

OUTBOX_COLUMNS: Final = (
    "id, client_id, action, conversation_id, payload, state, error, error_code, created_at, attempts"
)


def outbox_item(r: Sequence[Any]) -> OutboxItem:
    """An outbox row (selected with :data:`OUTBOX_COLUMNS`) as an item."""
    return OutboxItem(
        id=r[0],
        client_id=r[1],
        action=cast(OutboxAction, r[2]),
        conversation_id=r[3],
        payload=json.loads(r[4]),
        state=r[5],
        error=r[6],
        error_code=r[7],
        created_at=r[8],
        attempts=r[9],
    )


def outbox_files(payload: dict[str, Any]) -> tuple[LocalFile, ...]:
    """The files of a reply or note in the outbox (its payload's ``files``): copies in
    the cache folder, with the upload key and attachment id once the server gave them."""
    files = payload.get("files", ())  # own data: the outbox's payload
    return tuple(
        LocalFile(path=f["path"], name=f["name"], size=f["size"], upload=f.get("upload"), id=f.get("id"))  # own data
        for f in files
    )


class OutboxMixin(Store):
    """The outbox's writes and reads, as methods of :class:`~.Cache`."""

    async def queue(
        self, action: OutboxAction, conversation_id: int, client_id: str, payload: dict[str, Any], now_ms: int
    ) -> tuple[int, Applied]:
        """Store an action in the outbox (durably) and apply it optimistically.
        Returns its outbox id and what changed."""
        outbox_id = 0

        def job(db: Db) -> Applied:
            nonlocal outbox_id
            cur = db.execute(
                "INSERT INTO outbox (client_id, action, conversation_id, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                [client_id, action, conversation_id, json.dumps(payload), now_ms],
            )
            recompute(db, conversation_id)
            outbox_id = int(cast(int, cur.lastrowid))
            out = Applied(conversations={conversation_id}, outbox=True)
            out.touch(conversation_id, f"o{outbox_id}")
            return out

        applied = await self.write_applied(job)
        return outbox_id, applied

    async def queue_action(
        self, action: OutboxAction, conversation_id: int, client_id: str, payload: dict[str, Any], now_ms: int
    ) -> int:
        """:meth:`queue`, returning only the outbox id."""
        return (await self.queue(action, conversation_id, client_id, payload, now_ms))[0]

    async def outbox_acked(self, item: OutboxItem, reply: Result) -> Applied:
        """The server stored ``item``: drop it, and store what the reply returned
        (a :class:`MessageAck`'s message and conversation, a :class:`NoteAck`'s
        note, a :class:`ConversationChange`'s conversation) in the same
        transaction."""

        def job(db: Db) -> Applied:
            out = Applied(outbox=True, conversations={item.conversation_id})
            out.touch(item.conversation_id, f"o{item.id}")
            db.execute("DELETE FROM outbox WHERE id = ?", [item.id])
            if isinstance(reply, MessageChange):  # message.edit, message.delete
                apply_message_update(db, reply.message, reply.conversation, out, reply.event_id)
            elif isinstance(reply, MessageAck):
                apply_message(db, reply.message, out, False, reply.event_id)
                upsert_conversation(db, reply.conversation, reply.event_id)
            elif isinstance(reply, NoteAck):
                apply_message(db, reply.note, out, False, reply.event_id)
            elif isinstance(reply, ConversationChange):
                upsert_conversation(db, reply.conversation, reply.event_id)
            recompute(db, item.conversation_id)
            return out

        return await self.write_applied(job)

    async def outbox_failed(self, outbox_id: int, code: str, message: str) -> Applied:
        """The server rejected the item: mark it failed with its reason and
        undo its optimistic effect."""

        def job(db: Db) -> Applied:
            row = db.execute("SELECT conversation_id FROM outbox WHERE id = ?", [outbox_id]).fetchone()
            if row is None:
                return Applied()
            db.execute(
                "UPDATE outbox SET state = 'failed', error = ?, error_code = ? WHERE id = ?",
                [message, code, outbox_id],
            )
            recompute(db, row[0])
            out = Applied(outbox=True, conversations={row[0]})
            out.touch(row[0], f"o{outbox_id}")
            return out

        return await self.write_applied(job)

    async def outbox_file_progress(self, outbox_id: int, index: int, upload: str | None, id: str | None) -> None:
        """Record an outbox item's file ``index``: the upload key of its attempt, then
        its attachment id. Durable, so a restarted console resumes or reuses it."""

        def job(db: Db) -> None:
            row = db.execute("SELECT payload FROM outbox WHERE id = ?", [outbox_id]).fetchone()
            if row is None:
                return
            payload = json.loads(row[0])
            payload["files"][index].update({"upload": upload, "id": id})
            db.execute("UPDATE outbox SET payload = ? WHERE id = ?", [json.dumps(payload), outbox_id])

        await self.write(job)

    async def outbox_attempt(self, outbox_id: int) -> None:
        """Count a send attempt (for diagnostics and the retry backoff)."""
        await self.write(lambda db: db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [outbox_id]))

    async def outbox_retry(self, outbox_id: int, new_client_id: str) -> Applied:
        """Make a failed item pending again, under a fresh client_id."""

        def job(db: Db) -> Applied:
            row = db.execute(
                "SELECT conversation_id FROM outbox WHERE id = ? AND state = 'failed'", [outbox_id]
            ).fetchone()
            if row is None:
                return Applied()
            db.execute(
                "UPDATE outbox SET state = 'pending', error = NULL, error_code = NULL, client_id = ? WHERE id = ?",
                [new_client_id, outbox_id],
            )
            recompute(db, row[0])
            out = Applied(outbox=True, conversations={row[0]})
            out.touch(row[0], f"o{outbox_id}")
            return out

        return await self.write_applied(job)

    async def outbox_discard(self, outbox_id: int) -> Applied:
        """Delete an outbox item and undo its optimistic effect."""

        def job(db: Db) -> Applied:
            row = db.execute("SELECT conversation_id FROM outbox WHERE id = ?", [outbox_id]).fetchone()
            if row is None:
                return Applied()
            db.execute("DELETE FROM outbox WHERE id = ?", [outbox_id])
            recompute(db, row[0])
            out = Applied(outbox=True, conversations={row[0]})
            out.touch(row[0], f"o{outbox_id}")
            return out

        return await self.write_applied(job)

    # -- reads ---------------------------------------------------------------------

    def outbox(self, state: str | None = None) -> list[OutboxItem]:
        """Outbox items in order; ``state`` "pending" or "failed" filters."""
        sql = f"SELECT {OUTBOX_COLUMNS} FROM outbox"  # noqa: S608
        params: list[Any] = []
        if state is not None:
            sql += " WHERE state = ?"
            params.append(state)
        return [outbox_item(r) for r in self._db.execute(sql + " ORDER BY id", params).fetchall()]

    def outbox_item(self, outbox_id: int) -> OutboxItem | None:
        """One outbox item, or None when it is gone (acked or discarded)."""
        r = self._db.execute(f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?", [outbox_id]).fetchone()  # noqa: S608
        return None if r is None else outbox_item(r)

    def next_pending(self) -> OutboxItem | None:
        """The oldest pending outbox item: the next to send."""
        r = self._db.execute(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY id LIMIT 1"  # noqa: S608
        ).fetchone()
        return None if r is None else outbox_item(r)

    def outbox_count(self) -> int:
        """How many outbox items wait for the server (failed ones excluded)."""
        return int(self._db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0])
