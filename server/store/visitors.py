"""Visitors: the people chatting from the widget, and their erasure.

Visitors are returned as the protocol's
:class:`~frontdesk.server.protocol.Visitor`. A visitor verified as a user
shares its conversations with the other visitors verified as the same user
(:func:`visitor_scope`). :func:`erase_visitor` is the data-protection
erasure: every feature that stores visitor data extends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .. import domain, protocol
from ..exceptions import Conflict, NotFound
from ._sql import Row, Tx, now_ms, visitor_obj, visitor_scope
from .conversations import scope_conversations
from .events import append_event, cursor_state

__all__ = [
    "VISITOR_FIELDS",
    "HelloState",
    "create_visitor",
    "erase_visitor",
    "get_visitor",
    "hello_state",
    "identify_visitor",
    "resume_visitor",
    "update_visitor",
    "visitor_name",
    "visitor_scope",
]


class HelloState(NamedTuple):
    """What a visitor's ``hello`` reply reads, from one snapshot."""

    last_event_id: int  #: the newest event id (the cursor check)
    floor: int  #: the pruned floor (the cursor check)
    conversations: list[protocol.Conversation]  #: of the visitor's scope, most recent first
    scope: list[int]  #: :func:`visitor_scope`


#: The visitor columns a hello, page or profile update may set.
VISITOR_FIELDS = (
    "name",
    "email",
    "user_id",
    "verified",
    "user_agent",
    "browser",
    "os",
    "language",
    "timezone",
    "page_url",
    "page_title",
    "referrer",
)


def create_visitor(tx: Tx, tenant_id: int, token_hash: str, fields: Mapping[str, Any]) -> protocol.Visitor:
    """A new visitor holding the token ``token_hash``, with ``fields`` (:data:`VISITOR_FIELDS`)."""
    now = now_ms()
    cols = [k for k in VISITOR_FIELDS if fields.get(k) is not None]
    row = tx.one(
        f"INSERT INTO visitors (tenant_id, token_hash, first_seen, last_seen{''.join(', ' + c for c in cols)})"
        f" VALUES (?, ?, ?, ?{', ?' * len(cols)}) RETURNING *",
        (tenant_id, token_hash, now, now, *(fields[c] for c in cols)),
    )
    assert row is not None
    return visitor_obj(row)


def update_visitor(tx: Tx, tenant_id: int, visitor_id: int, fields: Mapping[str, Any]) -> protocol.Visitor:
    """Update some visitor fields (:data:`VISITOR_FIELDS`) and ``last_seen``;
    ``NotFound`` for another tenant's visitor or an erased one. Agents hear
    of a change to what they display through ``visitor.updated``."""
    return visitor_obj(_update(tx, tenant_id, visitor_id, fields))


def _update(tx: Tx, tenant_id: int, visitor_id: int, fields: Mapping[str, Any]) -> Row:
    old = tx.one("SELECT * FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id))
    if old is None:
        raise NotFound("no such visitor")
    cols = [k for k in VISITOR_FIELDS if k in fields]
    sets = "".join(f", {c} = ?" for c in cols)
    row = tx.one(
        f"UPDATE visitors SET last_seen = ?{sets} WHERE id = ? RETURNING *",
        (now_ms(), *(fields[c] for c in cols), visitor_id),
    )
    assert row is not None
    # Only a change agents would see is an event: a reconnect that reports the
    # same page and browser costs no event (and no push to every agent).
    if any(row[c] != old[c] for c in cols):
        append_event(tx, tenant_id, "visitor.updated", visitor_obj(row), visitor_id=visitor_id)
    return row


def identify_visitor(
    tx: Tx, tenant_id: int, visitor_id: int, user_id: str | None, verified: bool, fields: Mapping[str, Any]
) -> protocol.Visitor:
    """Store an identity claim the handler has checked (PROTOCOL.md,
    "Identity"), with its name and email in ``fields``.

    A visitor verified as one user cannot become another (``Conflict``: the
    site starts a new visitor instead), or that user's other devices would
    see the new user's chats. An unverified claim of the user a visitor is
    already verified as changes nothing of its identity.
    """
    row = tx.one("SELECT * FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id))
    if row is None:
        raise NotFound("no such visitor")
    out = dict(fields)
    if user_id is not None:
        if row["verified"] and row["user_id"] != user_id:
            raise Conflict("this visitor is verified as another user; start a new visitor (hello without a token)")
        if verified or not row["verified"]:
            out["user_id"] = user_id
            out["verified"] = int(verified)
    return update_visitor(tx, tenant_id, visitor_id, out)


def resume_visitor(tx: Tx, tenant_id: int, token_hash: str, fields: Mapping[str, Any]) -> protocol.Visitor | None:
    """The visitor holding ``token_hash`` in this tenant, with ``fields`` and
    ``last_seen`` updated; None for an unknown token (or another tenant's)."""
    row = tx.one("SELECT id FROM visitors WHERE token_hash = ? AND tenant_id = ?", (token_hash, tenant_id))
    return None if row is None else update_visitor(tx, tenant_id, int(row["id"]), fields)


def hello_state(tx: Tx, tenant_id: int, visitor_id: int) -> HelloState:
    """Everything a visitor's hello reply reads, in one snapshot: the cursor
    state, the conversations of the visitor (and of the visitors sharing its
    verified identity), and that scope (:func:`visitor_scope`)."""
    last, floor = cursor_state(tx)
    scope = visitor_scope(tx, tenant_id, visitor_id)
    return HelloState(last, floor, scope_conversations(tx, tenant_id, scope), scope)


def erase_visitor(tx: Tx, tenant_id: int, visitor_id: int) -> int:
    """Remove every trace of a visitor (a data-protection erasure): messages,
    notes, events, idempotency records, queued jobs, conversations and the visitor row.
    Returns the number of conversations removed."""
    if tx.one("SELECT 1 FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id)) is None:
        raise NotFound("no such visitor")
    conv = "SELECT id FROM conversations WHERE visitor_id = ?"
    tx.run(f"DELETE FROM message_originals WHERE conversation_id IN ({conv})", (visitor_id,))  # store/edits.py
    tx.run(f"DELETE FROM messages WHERE conversation_id IN ({conv})", (visitor_id,))
    tx.run(f"DELETE FROM notes WHERE conversation_id IN ({conv})", (visitor_id,))
    tx.run(
        f"DELETE FROM events WHERE visitor_id = ? OR conversation_id IN ({conv})",
        (visitor_id, visitor_id),
    )
    # Agents' records are scoped "<what>:<id>" (notes, status changes,
    # assignment); each keeps a copy of what it wrote. (Bare "<id>" scopes were
    # messages' records before migration 0007; messages are their own records now.)
    tx.run(
        "DELETE FROM client_writes WHERE sender = ? OR EXISTS (SELECT 1 FROM conversations c WHERE c.visitor_id = ?"
        " AND (client_writes.scope = CAST(c.id AS TEXT) OR client_writes.scope LIKE ('%:' || CAST(c.id AS TEXT))))",
        (f"visitor:{visitor_id}", visitor_id),
    )
    tx.run("DELETE FROM jobs WHERE visitor_id = ?", (visitor_id,))  # queued emails and the like (store/jobs.py)
    n = tx.run("DELETE FROM conversations WHERE visitor_id = ?", (visitor_id,))
    tx.run("DELETE FROM rate_buckets WHERE key = ?", (f"visitor:{visitor_id}",))
    tx.run("DELETE FROM visitors WHERE id = ?", (visitor_id,))
    append_event(tx, tenant_id, "visitor.erased", {"visitor_id": visitor_id})
    return n


def visitor_name(tx: Tx, visitor_id: int) -> str:
    """A visitor's display name, as their messages carry it (PROTOCOL.md, "Message")."""
    row = tx.one("SELECT name FROM visitors WHERE id = ?", (visitor_id,))
    return domain.display_name(None if row is None else row["name"], visitor_id)


def get_visitor(tx: Tx, tenant_id: int, visitor_id: int) -> protocol.Visitor | None:
    """The tenant's visitor with this id, or None (another tenant's, or erased)."""
    row = tx.one("SELECT * FROM visitors WHERE id = ? AND tenant_id = ?", (visitor_id, tenant_id))
    return None if row is None else visitor_obj(row)
