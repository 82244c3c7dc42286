"""Rows the cache hands to the UI: frozen dataclasses, plain values only.

Times are integers in milliseconds since the Unix epoch (as on the wire),
except ``ConsoleCore.last_synced_at`` which is unix seconds (a float).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final, Literal

__all__ = [
    "FILTERS",
    "AgentRow",
    "ConversationRow",
    "Delivery",
    "Filter",
    "Notification",
    "OutboxAction",
    "OutboxItem",
    "ThreadItem",
    "ThreadKind",
    "VisitorRow",
]

#: Inbox filters, as the server's ``snapshot`` names them.
Filter = Literal["all", "mine", "unassigned", "open", "pending", "resolved"]
FILTERS: Final[tuple[str, ...]] = ("all", "mine", "unassigned", "open", "pending", "resolved")

ThreadKind = Literal["visitor", "agent", "system", "note"]
Delivery = Literal["sent", "pending", "failed"]
OutboxAction = Literal["reply", "note", "resolve", "reopen", "pend", "assign", "unassign"]


@dataclasses.dataclass(frozen=True, slots=True)
class AgentRow:
    """An agent of the tenant (PROTOCOL.md, "Agent")."""

    id: int
    email: str
    name: str
    role: str  #: "admin" or "agent"
    active: bool
    online: bool

    @property
    def is_admin(self) -> bool:
        """True for the admin role (settings and agent management)."""
        return self.role == "admin"

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> AgentRow:
        """Build from a protocol Agent object."""
        return cls(
            id=int(obj["id"]),
            email=str(obj.get("email") or ""),
            name=str(obj.get("name") or ""),
            role=str(obj.get("role") or "agent"),
            active=bool(obj.get("active", True)),
            online=bool(obj.get("online", False)),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationRow:
    """One inbox line. ``status`` and ``assignee_id`` already include this
    console's pending (not yet acked) actions, so the inbox reacts at once."""

    id: int
    visitor_id: int
    visitor_name: str  #: the visitor's name, or "Visitor #ID"
    visitor_email: str | None
    status: str  #: "open", "pending" or "resolved"
    assignee_id: int | None
    assignee_name: str | None
    preview: str  #: last message text, shortened by the server
    created_at: int
    last_activity: int  #: ms; the inbox is ordered by it, newest first
    last_seq: int
    unread: int  #: visitor messages since an agent last marked it seen
    pending_actions: int  #: outbox items for it not yet acked
    failed_actions: int  #: outbox items for it the server rejected


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadItem:
    """One line of a conversation thread: a message, a private note, or an
    action of this console still in (or failed in) the outbox.

    ``key`` is stable and unique within the thread (``m<id>``, ``n<id>`` for
    stored items, ``o<outbox_id>`` for outbox ones) so a view can keep its
    selection across reloads.
    """

    kind: ThreadKind
    key: str
    id: int | None  #: server id of the message/note; None while in the outbox
    seq: int | None  #: per-conversation seq (notes have their own counter)
    author_name: str
    body: str
    created_at: int
    delivery: Delivery
    error: str | None = None  #: the server's reason when delivery is "failed"
    outbox_id: int | None = None  #: for retry()/discard() on outbox items


@dataclasses.dataclass(frozen=True, slots=True)
class VisitorRow:
    """A visitor as agents see them (PROTOCOL.md, "Visitor")."""

    id: int
    name: str | None
    email: str | None
    user_id: str | None
    verified: bool
    browser: str | None
    os: str | None
    language: str | None
    timezone: str | None  #: IANA name; the UI computes the visitor's local time
    page_url: str | None
    page_title: str | None
    referrer: str | None
    first_seen: int | None
    last_seen: int | None

    @property
    def display_name(self) -> str:
        """The name to show: the visitor's name, or "Visitor #ID"."""
        return self.name or f"Visitor #{self.id}"


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxItem:
    """An action taken in the console, stored before it is sent.

    ``state`` is "pending" (not acked yet: it is, or will be, sent) or
    "failed" (the server rejected it; ``error`` holds its reason and
    ``error_code`` its code). Acked items leave the outbox.
    """

    id: int
    client_id: str
    action: OutboxAction
    conversation_id: int
    payload: dict[str, Any]  #: the request's other fields ("body", "agent_id")
    state: Literal["pending", "failed"]
    error: str | None
    error_code: str | None
    created_at: int
    attempts: int


@dataclasses.dataclass(frozen=True, slots=True)
class Notification:
    """Something worth a desktop notification. The UI decides whether to
    show it (it knows what is on screen and whether the window is active).

    ``new_conversation`` comes with a conversation's first visitor message
    (``body`` is that message); ``new_message`` with each later one. None is
    raised for the conversation the UI marked as focused."""

    kind: Literal["new_conversation", "new_message"]
    conversation_id: int
    title: str
    body: str
