"""Held email replies in the cache (PROTOCOL.md, "Email", *Held replies*): mail to a conversation's reply address
from someone other than the visitor, waiting for any agent to accept (post it as the visitor's message) or reject.

Kept from ``email.held`` events (:func:`apply_held`, on the writer thread: ``held`` stores one, ``accepted`` or
``rejected`` drops it) and from ``email.held.list`` on each connect (:func:`replace_held`); shown in the thread as
a system line keyed ``h<id>`` (:func:`held_item`). Erasure drops a visitor's with their conversations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from frontdesk.server.protocol import HeldEmail, HeldEmailUpdated

from ..rows import ThreadItem
from ._schema import Db

__all__ = ["HELD_COLUMNS", "apply_held", "held_item", "held_text", "replace_held"]

HELD_COLUMNS: Final = ("id", "conversation_id", "visitor_id", "sender", "body", "created_at")


def _store(db: Db, held: HeldEmail) -> None:
    db.execute(
        f"INSERT INTO held_emails ({', '.join(HELD_COLUMNS)}) VALUES ({', '.join('?' * len(HELD_COLUMNS))})"  # noqa: S608
        " ON CONFLICT (id) DO NOTHING",
        [getattr(held, c) for c in HELD_COLUMNS],
    )


def apply_held(db: Db, data: HeldEmailUpdated) -> None:
    """One ``email.held`` event: keep a held reply, or drop one an agent accepted or rejected."""
    if data.state == "held":
        _store(db, data)
    else:
        db.execute("DELETE FROM held_emails WHERE id = ?", [data.id])


def replace_held(db: Db, held: Iterable[HeldEmail]) -> list[tuple[int, int]]:
    """Hold exactly ``held`` (the server's ``email.held.list``); the (conversation, held id) pairs that came or went."""
    before = {int(r[0]): int(r[1]) for r in db.execute("SELECT id, conversation_id FROM held_emails")}
    items = list(held)
    db.execute("DELETE FROM held_emails")
    for h in items:
        _store(db, h)
    now = {h.id: h.conversation_id for h in items}
    return [(cid, hid) for hid, cid in before.items() if hid not in now] + [
        (cid, hid) for hid, cid in now.items() if hid not in before
    ]


def held_text(sender: str, body: str) -> str:
    """The thread's line for a held reply."""
    return (
        f"Email from {sender}, held for review: it is not from the visitor's address.\n"
        f"“{body}”\n"
        "Accept it to post it as the visitor's message, or discard it (right-click, or the bar below)."
    )


def held_item(r: Sequence[Any]) -> ThreadItem:
    """A row of :data:`HELD_COLUMNS` as a system line of the thread."""
    return ThreadItem(
        kind="system",
        key=f"h{r[0]}",
        id=None,
        seq=None,
        author_name="",
        body=held_text(str(r[3]), str(r[4])),
        created_at=int(r[5]),
        delivery="sent",
        held_id=int(r[0]),
        held_sender=str(r[3]),
    )
