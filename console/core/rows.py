"""Rows the cache hands to the UI: frozen dataclasses, plain values only.

Times are integers in milliseconds since the Unix epoch (as on the wire),
except ``ConsoleCore.last_synced_at`` which is unix seconds (a float).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final, Literal

from frontdesk.server.protocol import SNAPSHOT_FILTER_RULES, SNAPSHOT_FILTERS, Agent, Attachment, Visitor

from .words import translate

__all__ = [
    "FILTERS",
    "UNKNOWN_VISITOR",
    "AgentRow",
    "Attachment",
    "ConversationChanges",
    "ConversationRow",
    "CsatRow",
    "Delivery",
    "LocalFile",
    "MembershipKey",
    "Notification",
    "OutboxAction",
    "OutboxItem",
    "ThreadChanges",
    "ThreadItem",
    "ThreadKind",
    "VisitorRow",
    "matches_filter",
    "unknown_visitor",
]

#: Inbox filters: the server's ``snapshot`` filters, with the same rules
#: (``protocol.SNAPSHOT_FILTER_RULES``).
FILTERS: Final[tuple[str, ...]] = SNAPSHOT_FILTERS

ThreadKind = Literal["visitor", "agent", "system", "note"]
Delivery = Literal["sent", "pending", "failed"]
OutboxAction = Literal[
    "reply",
    "note",
    "resolve",
    "reopen",
    "pend",
    "assign",
    "unassign",
    "message.edit",
    "message.delete",
    "label.add",
    "label.remove",
    "snooze",
    "transfer",
]


#: The name shown for a visitor whose details the cache does not hold yet;
#: once it does, the server's ``display_name`` (the name, or "Visitor #ID").
UNKNOWN_VISITOR: Final = "A visitor"


def unknown_visitor() -> str:
    """:data:`UNKNOWN_VISITOR`, translated (console/core/words.py)."""
    return translate("Rows", "A visitor")


@dataclasses.dataclass(frozen=True, slots=True)
class AgentRow:
    """An agent of the tenant (PROTOCOL.md, "Agent")."""

    id: int
    email: str
    name: str
    role: str  #: "admin" or "agent"
    active: bool
    online: bool
    away: bool = False  #: set themselves Away (availability.set), or went idle

    @classmethod
    def of(cls, agent: Agent) -> AgentRow:
        """The row of a protocol Agent."""
        return cls(agent.id, agent.email, agent.name, agent.role, agent.active, agent.online, agent.away)

    @property
    def is_admin(self) -> bool:
        """True for the admin role (settings and agent management)."""
        return self.role == "admin"


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationRow:
    """One inbox line. ``status`` and ``assignee_id`` already include this
    console's pending (not yet acked) actions, so the inbox reacts at once."""

    id: int
    visitor_id: int
    visitor_name: str  #: the visitor's ``display_name`` (their name, or "Visitor #ID")
    visitor_email: str | None
    status: str  #: "open", "pending", "resolved" or "snoozed"
    assignee_id: int | None
    assignee_name: str | None
    preview: str  #: last message text, shortened by the server
    created_at: int
    last_activity: int  #: ms; the inbox is ordered by it, newest first
    last_seq: int
    unread: int  #: visitor messages since an agent last marked it seen
    pending_actions: int  #: outbox items for it not yet acked
    failed_actions: int  #: outbox items for it the server rejected
    visitor_user_id: str | None = None  #: the user id the visitor's site claimed (identify)
    visitor_verified: bool = False  #: the claim was verified with the tenant's identity secret
    visitor_seen_seq: int = 0  #: the visitor read the messages up to this seq (their widget's ``seen``)
    visitor_seen_at: int | None = None  #: when (ms) the console heard it live; None: only replayed
    team_id: int | None = None  #: the team whose inbox it is in (PROTOCOL.md, "Teams")
    label_ids: tuple[int, ...] = ()  #: its labels, this console's pending label changes applied
    snoozed_until: int | None = None  #: snoozed: when it wakes (ms); None while snoozed: until the visitor writes

    @property
    def identity_unverified(self) -> bool:
        """True when the visitor claims an identity (a user id, and with it
        perhaps a name) that the server did not verify: the UI says
        *Unverified* wherever it shows the name or user id."""
        return self.visitor_user_id is not None and not self.visitor_verified


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
    mine: bool = False  #: a message this agent wrote (they may edit or delete it for a while)
    edited: bool = False  #: its author edited it (PROTOCOL.md, "Editing and deleting")
    deleted: bool = False  #: its author deleted it; ``body`` is empty
    attachments: tuple[Attachment, ...] = ()  #: its stored files (PROTOCOL.md, "Attachments")
    files: tuple[LocalFile, ...] = ()  #: an outbox item's files, not uploaded yet (copies in the cache folder)
    held_id: int | None = None  #: a held email reply (``h<id>``) an agent may accept or reject (PROTOCOL.md, "Email")
    held_sender: str = ""  #: the held reply's From address


@dataclasses.dataclass(frozen=True, slots=True)
class LocalFile:
    """A file attached in the console and waiting in the outbox: its copy in the
    cache folder, and, once uploaded, its attachment id."""

    path: str
    name: str
    size: int
    upload: str | None = None  #: the server's upload key of the last attempt (to resume it)
    id: str | None = None  #: the attachment id, once the upload finished


@dataclasses.dataclass(slots=True, kw_only=True)
class VisitorRow(Visitor):
    """A visitor as agents see them: the protocol's Visitor (PROTOCOL.md,
    "Visitor"; its fields are declared there, once), as cached. ``timezone``
    is an IANA name: the UI computes the visitor's local time."""

    @property
    def identity_unverified(self) -> bool:
        """True when the visitor claims a user id (``identify``) that the
        server did not verify (see :attr:`ConversationRow.identity_unverified`)."""
        return self.user_id is not None and not self.verified


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
    (``body`` is that message); ``new_message`` with each later one. None of
    these is raised for the conversation the UI marked as focused.
    ``assigned``: another agent assigned (or transferred) the conversation to
    this console's agent; raised even when it is focused (the window may be
    in the background: the UI decides).

    ``assignee_id`` is the conversation's assignee after the change (the UI
    tells "a message in mine" from "in unassigned" by it); ``actor_id`` is
    who assigned it."""

    kind: Literal["new_conversation", "new_message", "assigned"]
    conversation_id: int
    title: str
    body: str
    assignee_id: int | None = None
    actor_id: int | None = None


#: A conversation's inbox membership key: (status, assignee_id) with this
#: console's pending actions applied. Filters depend on nothing else.
MembershipKey = tuple[str, int | None]


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationChanges:
    """What changed in the inbox, as the core computed it from a cache write.

    ``reset``: reload everything (a snapshot, a logout, an erasure, an agent's
    new name on every line). Otherwise ``rows`` maps each changed conversation
    to its new row, read when the change is announced (None: it is gone); a
    model can move, insert and remove rows without re-reading its window, and
    recounts its filter (a count adjusted by old and new filter keys drifts
    when writes commit faster than they are announced). ``unread_total`` is
    the tray badge's new figure.
    """

    reset: bool = False
    rows: Mapping[int, ConversationRow | None] = dataclasses.field(default_factory=dict)
    unread_total: int = 0

    @property
    def ids(self) -> list[int]:
        """The changed conversations, sorted ([] for a reset)."""
        return [] if self.reset else sorted(self.rows)


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadChanges:
    """What changed in one conversation's thread: ``items`` maps each changed
    item's key to its new value (None: it is gone, e.g. an acked outbox item
    replaced by the stored message). ``reset``: re-read the thread."""

    conversation_id: int
    items: Mapping[str, ThreadItem | None] = dataclasses.field(default_factory=dict)
    reset: bool = False


def matches_filter(filter: str, key: MembershipKey | None, me: int | None) -> bool:
    """Whether a conversation with membership ``key`` is in ``filter``
    (``protocol.SNAPSHOT_FILTER_RULES``, which the cache's SQL follows too:
    ``Cache.conversations``). None: not there."""
    if key is None:
        return False
    return SNAPSHOT_FILTER_RULES[filter].matches(*key, me)


@dataclasses.dataclass(frozen=True, slots=True)
class CsatRow:
    """A satisfaction survey as the console shows it (PROTOCOL.md, "Satisfaction surveys")."""

    id: int
    conversation_id: int
    agent_id: int | None  #: who handled the conversation
    scale: str  #: five or thumbs
    rating: int | None  #: None: not rated yet
    comment: str | None
    created_at: int
    rated_at: int | None
    agent_name: str | None
