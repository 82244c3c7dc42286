"""The one place the console takes the server's wire dicts apart.

Everything the core and the cache consume from the server goes through this
module: frames (reply / error / event), objects (Conversation, Message, Note,
Visitor, Agent) and the replies the console reads. What comes out are typed,
frozen dataclasses; no other module of ``console/core`` probes a wire dict
with ``.get()`` or ``isinstance``.

The server is lenient in what it omits (a conversation inside a
``message.created`` has no ``visitor``; a nested visitor may carry only some
fields), so the objects here say what was *present*: an absent field is
``None`` (or, for the nullable ``assignee_id``, ``has_assignee`` is False),
and the cache keeps what it had for it.

Why an adapter rather than the server's types: a typed protocol layer
(``frontdesk.server.protocol``, issue 10 item 1) is being written; when it
lands, these parse functions become conversions from (or re-exports of) its
types, and nothing else in the console changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final, Literal

from .rows import AgentRow

__all__ = [
    "KNOWN_KINDS",
    "VISITOR_FIELDS",
    "AgentReply",
    "AgentUpdated",
    "ConfigUpdated",
    "Conversation",
    "ConversationChanged",
    "Event",
    "EventData",
    "FrameKind",
    "HistoryPage",
    "Message",
    "MessageCreated",
    "MessageUpdated",
    "Presence",
    "Seen",
    "SessionReply",
    "SnapshotPage",
    "SubscribeReply",
    "Typing",
    "Unknown",
    "Visitor",
    "VisitorErased",
    "VisitorReply",
    "VisitorUpdated",
    "WriteReply",
    "agent",
    "agent_reply",
    "agents_reply",
    "config_reply",
    "conversation",
    "error_of",
    "event",
    "frame_kind",
    "history_reply",
    "message",
    "ref_of",
    "session_reply",
    "snapshot_reply",
    "subscribe_reply",
    "visitor",
    "visitor_reply",
    "write_reply",
]

Wire = Mapping[str, Any]

#: The Visitor object's fields as agents see them (PROTOCOL.md, "Visitor").
VISITOR_FIELDS: Final[tuple[str, ...]] = (
    "id",
    "name",
    "email",
    "user_id",
    "verified",
    "browser",
    "os",
    "language",
    "timezone",
    "page_url",
    "page_title",
    "referrer",
    "first_seen",
    "last_seen",
)


#: SQLite stores signed 64-bit integers: a larger one raises OverflowError in
#: the cache write and would roll back (and wedge) the whole batch.
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**63 - 1


def _opt_int(value: Any) -> int | None:
    """An int the cache can store, or None (absent) for anything else,
    including an int outside int64."""
    if isinstance(value, int) and not isinstance(value, bool) and _INT_MIN <= value <= _INT_MAX:
        return value
    return None


def _opt_str(value: Any) -> str | None:
    """A str the cache can store, or None (absent) for anything else,
    including a str with a lone surrogate (JSON allows ``"\\ud800"``; UTF-8,
    and so SQLite, does not: it raises UnicodeEncodeError)."""
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def _dict(value: Any) -> Wire | None:
    return value if isinstance(value, dict) else None


def _dicts(value: Any) -> list[Wire]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# ----------------------------------------------------------------------------- objects


@dataclasses.dataclass(frozen=True, slots=True)
class Visitor:
    """A Visitor object. ``values`` holds the fields the server sent (a
    nested visitor may carry only some); ``verified`` is coerced to bool."""

    id: int
    values: Mapping[str, Any]  #: field -> value, for fields present on the wire


def visitor(obj: Any) -> Visitor | None:
    """A Visitor from its wire dict; None without an integer ``id``."""
    d = _dict(obj)
    vid = _opt_int(d.get("id")) if d is not None else None
    if d is None or vid is None:
        return None
    values: dict[str, Any] = {}
    for field in VISITOR_FIELDS:
        if field not in d:
            continue
        value = d[field]
        if field == "verified":
            value = bool(value)
        elif field in ("first_seen", "last_seen"):
            value = _opt_int(value)
        elif field != "id":
            value = _opt_str(value)
        values[field] = value
    values["id"] = vid
    return Visitor(vid, values)


@dataclasses.dataclass(frozen=True, slots=True)
class Conversation:
    """A Conversation object; ``None`` marks a field that was absent."""

    id: int
    visitor_id: int | None = None
    status: str | None = None
    has_assignee: bool = False  #: whether ``assignee_id`` was present (it may be null)
    assignee_id: int | None = None
    created_at: int | None = None
    last_activity: int | None = None
    last_seq: int | None = None
    unread_agent: int | None = None
    preview: str | None = None
    visitor: Visitor | None = None


def conversation(obj: Any) -> Conversation | None:
    """A Conversation from its wire dict; None without an integer ``id``."""
    d = _dict(obj)
    cid = _opt_int(d.get("id")) if d is not None else None
    if d is None or cid is None:
        return None
    return Conversation(
        id=cid,
        visitor_id=_opt_int(d.get("visitor_id")),
        status=_opt_str(d.get("status")),
        has_assignee="assignee_id" in d,
        assignee_id=_opt_int(d.get("assignee_id")),
        created_at=_opt_int(d.get("created_at")),
        last_activity=_opt_int(d.get("last_activity")),
        last_seq=_opt_int(d.get("last_seq")),
        unread_agent=_opt_int(d.get("unread_agent")),
        preview=_opt_str(d.get("preview")),
        visitor=visitor(d.get("visitor")),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """A Message or a Note (``private``)."""

    id: int
    conversation_id: int
    seq: int
    author_kind: str  #: visitor, agent or system
    author_id: int | None
    author_name: str | None
    body: str
    created_at: int
    client_id: str | None = None
    private: bool = False
    #: In ``message.created``: the conversation as it is after this message.
    conversation: Conversation | None = None
    edited_at: int | None = None  #: its author edited it then (``message.updated``)
    deleted: bool = False  #: its author deleted it


def message(obj: Any, *, note: bool = False) -> Message | None:
    """A Message (or, with ``note``, a Note) from its wire dict; None without
    integer ``id`` and ``conversation_id``."""
    d = _dict(obj)
    if d is None:
        return None
    mid, cid = _opt_int(d.get("id")), _opt_int(d.get("conversation_id"))
    if mid is None or cid is None:
        return None
    # A seq or body the cache cannot store (out of int64, a lone surrogate)
    # makes the message malformed, rather than stored as seq 0 or empty.
    if (d.get("seq") is not None and _opt_int(d["seq"]) is None) or (
        d.get("body") is not None and _opt_str(d["body"]) is None
    ):
        return None
    return Message(
        id=mid,
        conversation_id=cid,
        seq=_opt_int(d.get("seq")) or 0,
        author_kind=_opt_str(d.get("author_kind")) or ("agent" if note else "visitor"),
        author_id=_opt_int(d.get("author_id")),
        author_name=_opt_str(d.get("author_name")),
        body=_opt_str(d.get("body")) or "",
        created_at=_opt_int(d.get("created_at")) or 0,
        client_id=_opt_str(d.get("client_id")),
        private=note,
        conversation=conversation(d.get("conversation")),
        edited_at=_opt_int(d.get("edited_at")),
        deleted=d.get("deleted") is True,
    )


def agent(obj: Any) -> AgentRow | None:
    """An Agent object; None without an integer ``id``."""
    d = _dict(obj)
    aid = _opt_int(d.get("id")) if d is not None else None
    if d is None or aid is None:
        return None
    return AgentRow(
        id=aid,
        email=_opt_str(d.get("email")) or "",
        name=_opt_str(d.get("name")) or "",
        role=_opt_str(d.get("role")) or "agent",
        active=bool(d.get("active", True)),
        online=bool(d.get("online", False)),
        away=d.get("away") is True,
    )


# ----------------------------------------------------------------------------- events


@dataclasses.dataclass(frozen=True, slots=True)
class MessageCreated:
    """``message.created`` / ``note.created``."""

    message: Message


@dataclasses.dataclass(frozen=True, slots=True)
class MessageUpdated:
    """``message.updated``: an agent edited or deleted their message."""

    message: Message


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationChanged:
    """``conversation.created`` / ``conversation.updated``."""

    conversation: Conversation
    change: str | None = None  #: ``conversation.updated``'s change (assigned, resolved, seen_by_visitor ...)
    actor_id: int | None = None  #: the agent who made the change (None: the visitor, or not said)


@dataclasses.dataclass(frozen=True, slots=True)
class Seen:
    """``seen``: a side read the conversation."""

    conversation_id: int
    side: str  #: visitor or agent
    seq: int = 0  #: read up to this seq


@dataclasses.dataclass(frozen=True, slots=True)
class AgentUpdated:
    """``agent.updated``."""

    agent: AgentRow


@dataclasses.dataclass(frozen=True, slots=True)
class VisitorUpdated:
    """``visitor.updated``."""

    visitor: Visitor


@dataclasses.dataclass(frozen=True, slots=True)
class VisitorErased:
    """``visitor.erased``: drop everything cached about them."""

    visitor_id: int


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigUpdated:
    """``config.updated``: the full widget configuration."""

    config: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Typing:
    """``typing`` (ephemeral). ``agent_id`` is None for the visitor."""

    conversation_id: int
    is_typing: bool
    agent_id: int | None
    name: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Presence:
    """``presence`` (ephemeral): an agent came online or went offline."""

    agent_id: int
    online: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Unknown:
    """An event kind this console does not know, or one with malformed data."""


EventData = (
    MessageCreated
    | MessageUpdated
    | ConversationChanged
    | Seen
    | AgentUpdated
    | VisitorUpdated
    | VisitorErased
    | ConfigUpdated
    | Typing
    | Presence
    | Unknown
)


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """An ``event`` frame. ``event_id`` is None for ephemeral events."""

    kind: str
    event_id: int | None
    data: EventData


#: The event kinds this console applies (PROTOCOL.md, "Events"); any other
#: kind is ignored quietly, while one of these with malformed data is logged.
KNOWN_KINDS: Final[frozenset[str]] = frozenset(
    {
        "message.created",
        "message.updated",
        "note.created",
        "conversation.created",
        "conversation.updated",
        "seen",
        "agent.updated",
        "visitor.updated",
        "visitor.erased",
        "config.updated",
        "typing",
        "presence",
    }
)


def event(frame: Any) -> Event:
    """An Event from an ``event`` frame (never raises: bad data is :class:`Unknown`)."""
    f = _dict(frame) or {}
    kind = _opt_str(f.get("kind")) or ""
    event_id = _opt_int(f.get("event_id"))
    raw = _dict(f.get("data")) or {}
    data: EventData | None = None
    if kind in ("message.created", "note.created"):
        m = message(raw, note=kind == "note.created")
        data = MessageCreated(m) if m is not None else None
    elif kind == "message.updated":
        m = message(raw)
        data = MessageUpdated(m) if m is not None else None
    elif kind in ("conversation.created", "conversation.updated"):
        c = conversation(raw)
        change, actor = _opt_str(raw.get("change")), _opt_int(raw.get("actor_id"))
        data = ConversationChanged(c, change, actor) if c is not None else None
    elif kind == "seen":
        cid = _opt_int(raw.get("conversation_id")) or _opt_int(f.get("conversation_id"))
        seq = _opt_int(raw.get("seq")) or 0
        data = Seen(cid, _opt_str(raw.get("side")) or "", seq) if cid is not None else None
    elif kind == "agent.updated":
        a = agent(raw)
        data = AgentUpdated(a) if a is not None else None
    elif kind == "visitor.updated":
        v = visitor(raw)
        data = VisitorUpdated(v) if v is not None else None
    elif kind == "visitor.erased":
        vid = _opt_int(raw.get("visitor_id"))
        data = VisitorErased(vid) if vid is not None else None
    elif kind == "config.updated":
        data = ConfigUpdated(dict(raw))
    elif kind == "typing":
        cid = _opt_int(raw.get("conversation_id", f.get("conversation_id")))
        if cid is not None:
            aid = _opt_int(raw.get("agent_id"))
            name = _opt_str(raw.get("name")) if aid is not None else None
            data = Typing(cid, bool(raw.get("is_typing")), aid, name)
    elif kind == "presence":
        aid = _opt_int(raw.get("agent_id"))
        data = Presence(aid, bool(raw.get("online"))) if aid is not None else None
    return Event(kind, event_id, data if data is not None else Unknown())


# ----------------------------------------------------------------------------- frames

FrameKind = Literal["reply", "error", "event", "other"]


def frame_kind(frame: Any) -> FrameKind:
    """What a decoded frame is (PROTOCOL.md, "Frames")."""
    kind = _dict(frame) and frame.get("type")
    return kind if kind in ("reply", "error", "event") else "other"


def ref_of(frame: Any) -> str | None:
    """The ``ref`` a reply or error answers, if any."""
    d = _dict(frame)
    return _opt_str(d.get("ref")) if d is not None else None


def error_of(frame: Any) -> tuple[str, str]:
    """An error frame's (code, message); ``invalid`` when it has no code."""
    d = _dict(frame) or {}
    return _opt_str(d.get("code")) or "invalid", _opt_str(d.get("message")) or ""


# ----------------------------------------------------------------------------- replies


@dataclasses.dataclass(frozen=True, slots=True)
class SessionReply:
    """The reply to ``login`` or ``auth``. ``token`` only for ``login``."""

    token: str | None
    agent: AgentRow | None
    tenant: dict[str, Any] | None


def session_reply(reply: Wire) -> SessionReply:
    """Parse a ``login`` / ``auth`` reply."""
    tenant = _dict(reply.get("tenant"))
    return SessionReply(_opt_str(reply.get("token")), agent(reply.get("agent")), dict(tenant) if tenant else None)


@dataclasses.dataclass(frozen=True, slots=True)
class SubscribeReply:
    """The reply to ``subscribe`` (PROTOCOL.md, "Resuming")."""

    epoch: str
    last_event_id: int
    reset_required: bool


def subscribe_reply(reply: Wire) -> SubscribeReply:
    """Parse a ``subscribe`` reply."""
    return SubscribeReply(
        str(reply.get("epoch")), _opt_int(reply.get("last_event_id")) or 0, bool(reply.get("reset_required"))
    )


@dataclasses.dataclass(frozen=True, slots=True)
class SnapshotPage:
    """One page of ``snapshot``; ``next_cursor`` None at the end."""

    conversations: list[Conversation]
    next_cursor: str | None


def snapshot_reply(reply: Wire) -> SnapshotPage:
    """Parse a ``snapshot`` reply."""
    convs = [c for c in map(conversation, _dicts(reply.get("conversations"))) if c is not None]
    return SnapshotPage(convs, _opt_str(reply.get("next_cursor")) or None)


def agents_reply(reply: Wire) -> list[AgentRow]:
    """Parse an ``agents`` reply."""
    return [a for a in map(agent, _dicts(reply.get("agents"))) if a is not None]


def config_reply(reply: Wire) -> dict[str, Any] | None:
    """The ``config`` of a ``config.get`` / ``config.set`` reply."""
    config = _dict(reply.get("config"))
    return dict(config) if config is not None else None


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryPage:
    """The reply to ``history``."""

    messages: list[Message]
    notes: list[Message]
    has_more: bool


def history_reply(reply: Wire) -> HistoryPage:
    """Parse a ``history`` reply."""
    messages = [m for m in (message(d) for d in _dicts(reply.get("messages"))) if m is not None]
    notes = [n for n in (message(d, note=True) for d in _dicts(reply.get("notes"))) if n is not None]
    return HistoryPage(messages, notes, bool(reply.get("has_more")))


@dataclasses.dataclass(frozen=True, slots=True)
class VisitorReply:
    """The reply to ``visitor.get``."""

    visitor: Visitor | None
    conversations: list[Conversation]


def visitor_reply(reply: Wire) -> VisitorReply:
    """Parse a ``visitor.get`` reply."""
    convs = [c for c in map(conversation, _dicts(reply.get("conversations"))) if c is not None]
    return VisitorReply(visitor(reply.get("visitor")), convs)


@dataclasses.dataclass(frozen=True, slots=True)
class WriteReply:
    """The reply to a write (PROTOCOL.md, "Writes"): what it stored."""

    event_id: int | None
    message: Message | None = None
    note: Message | None = None
    conversation: Conversation | None = None


def write_reply(reply: Wire) -> WriteReply:
    """Parse a write reply (``reply``, ``note``, ``resolve`` ...)."""
    return WriteReply(
        event_id=_opt_int(reply.get("event_id")),
        message=message(reply.get("message")),
        note=message(reply.get("note"), note=True),
        conversation=conversation(reply.get("conversation")),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class AgentReply:
    """The reply to ``agent.add`` / ``agent.update``."""

    agent: AgentRow
    password: str | None


def agent_reply(reply: Wire) -> AgentReply | None:
    """Parse an ``agent.add`` / ``agent.update`` reply; None without an agent."""
    a = agent(reply.get("agent"))
    return AgentReply(a, _opt_str(reply.get("password"))) if a is not None else None
