"""The Frontdesk wire protocol, sans I/O.

This module turns text frames into typed request objects and typed results
into text frames. It never touches a socket or an event loop, so the server,
the console and the tests all share it, and it is tested on its own.

``docs/PROTOCOL.md`` is the contract this module implements; section names in
comments below refer to that page.

Use::

    try:
        request = parse_request(text, endpoint=Endpoint.VISITOR)
    except ProtocolError as exc:
        send(encode_error(exc.ref, exc.code, exc.message))
    else:
        ...  # dispatch on type(request)

Every request class has a ``TYPE`` (the frame's ``type``) and typed fields.
Field constraints (length, range, choices) are declared once in the field's
metadata and enforced by :func:`parse_request`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Final, TypeVar, get_type_hints

try:
    import orjson as _orjson

    _ORJSON = True
except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a bare install working
    _ORJSON = False

__all__ = [
    "JSON",
    "MAX_BODY_CHARS",
    "MAX_FRAME_BYTES",
    "MAX_INT",
    "CloseCode",
    "Endpoint",
    "ErrorCode",
    "ProtocolError",
    "Request",
    "decode",
    "encode",
    "encode_error",
    "encode_event",
    "encode_reply",
    "parse_request",
    "request_types",
]

JSON = dict[str, Any]

#: Largest text frame a peer may send (PROTOCOL.md, "Limits"). Larger frames
#: close the connection with 1009.
MAX_FRAME_BYTES: Final = 64 * 1024
#: Longest message or note body, in characters.
MAX_BODY_CHARS: Final = 10_000
#: Largest integer accepted anywhere: JavaScript's safe integer range.
MAX_INT: Final = 2**53 - 1
#: Deepest nesting accepted in a frame. Frames are shallow by design; a deep
#: one is an attack on the parser (PROTOCOL.md, "Limits").
MAX_DEPTH: Final = 8


class Endpoint(enum.Enum):
    """Which socket a frame arrived on; each accepts its own request types."""

    VISITOR = "visitor"  #: /v1/visitor, a website visitor's widget
    AGENT = "agent"  #: /v1/agent, an agent's console


class ErrorCode(enum.StrEnum):
    """The ``code`` of an ``error`` frame (PROTOCOL.md, "Errors")."""

    INVALID = "invalid"  #: the frame or a field is malformed
    UNAUTHORIZED = "unauthorized"  #: no valid token / login needed first
    FORBIDDEN = "forbidden"  #: authenticated, but not allowed to do this
    NOT_FOUND = "not_found"  #: no such object in the caller's scope
    CONFLICT = "conflict"  #: the object's state moved on; re-read and decide
    TOO_LARGE = "too_large"  #: a field is over its size limit
    RATE_LIMITED = "rate_limited"  #: slow down; the frame was not processed
    UNAVAILABLE = "unavailable"  #: the server cannot store or read right now; nothing stored, retry later


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server uses (RFC 6455, section 7.4.1)."""

    NORMAL = 1000  #: logout or a clean shutdown
    GOING_AWAY = 1001  #: the server is stopping; reconnect with backoff
    INVALID_DATA = 1007  #: invalid UTF-8 in a text frame
    POLICY = 1008  #: token revoked, agent disabled, identity refused
    TOO_BIG = 1009  #: a frame over MAX_FRAME_BYTES
    TRY_AGAIN_LATER = 1013  #: flooding or too slow to read; back off
    ERASED = 4001  #: the visitor was erased; drop the session and start afresh


#: Every ``kind`` of pushed event (PROTOCOL.md, "Events").
EVENT_KINDS: Final = (
    "message.created",  # a visitor or agent message; data also carries the updated conversation
    "note.created",  # a private note (agents only)
    "conversation.created",  # a visitor started a conversation
    "conversation.updated",  # status, assignee or unread counts changed
    "typing",  # ephemeral: someone is typing
    "seen",  # ephemeral: one side read up to a seq
    "presence",  # ephemeral: an agent came online or went offline
    "config.updated",  # the widget configuration changed
    "agent.updated",  # an agent was added or changed (agents only)
    "visitor.updated",  # a visitor's profile or page changed (agents only)
    "visitor.erased",  # a visitor was erased (agents only)
)


class ProtocolError(Exception):
    """A frame that cannot be processed; becomes one ``error`` frame.

    ``ref`` is the request's ``ref`` when it could be read, so the client can
    match the error to its request.
    """

    def __init__(self, code: ErrorCode, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


# --------------------------------------------------------------------------
# JSON codec. One place, so a faster encoder can be swapped in.


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode(text: str) -> Any:
    """Parse JSON text strictly: NaN and Infinity are refused.

    Raises :class:`ValueError` (including :class:`json.JSONDecodeError`) or
    :class:`RecursionError` on bad input.
    """
    return json.loads(text, parse_constant=_reject_constant)


def encode(obj: Any) -> str:
    """Serialize to compact JSON text, keeping non-ASCII characters as is.

    orjson when installed (a dependency; about 15× faster, and every message
    is encoded several times: reply, agent event, visitor event), else the
    standard library with the same output. What orjson refuses (integers
    beyond 64 bits, lone surrogates) goes to the standard library, so the
    outcome for odd input is exactly the standard library's.
    """
    if _ORJSON:
        try:
            return _orjson.dumps(obj, option=_orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # orjson.JSONEncodeError
            pass
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_reply(ref: str | None, data: Mapping[str, Any]) -> str:
    """The frame answering request ``ref`` with ``data`` (PROTOCOL.md, "Replies")."""
    return encode({"type": "reply", "ref": ref, **data})


def encode_error(ref: str | None, code: ErrorCode, message: str) -> str:
    """The frame answering request ``ref`` with an error."""
    return encode({"type": "error", "ref": ref, "code": code.value, "message": message})


def encode_event(
    kind: str,
    data: Mapping[str, Any],
    *,
    event_id: int | None = None,
    conversation_id: int | None = None,
) -> str:
    """A push frame. Durable events carry ``event_id``, ephemeral ones don't."""
    frame: JSON = {"type": "event", "kind": kind}
    if event_id is not None:
        frame["event_id"] = event_id
    if conversation_id is not None:
        frame["conversation_id"] = conversation_id
    frame["data"] = data
    return encode(frame)


# --------------------------------------------------------------------------
# Field declarations.


def _f(
    *,
    max_len: int | None = None,
    min_len: int = 0,
    lo: int | None = None,
    hi: int | None = None,
    choices: tuple[str, ...] | None = None,
    default: Any = dataclasses.MISSING,
) -> Any:
    """Declare a request field with its constraints."""
    meta = {"max_len": max_len, "min_len": min_len, "lo": lo, "hi": hi, "choices": choices}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _opt_str(max_len: int) -> Any:
    return _f(max_len=max_len, default=None)


def _id() -> Any:
    return _f(lo=1, hi=MAX_INT)


def _client_id() -> Any:
    return _f(min_len=1, max_len=64)


def _opt_client_id() -> Any:
    return _f(min_len=1, max_len=64, default=None)


def _body() -> Any:
    return _f(min_len=1, max_len=MAX_BODY_CHARS)


_R = TypeVar("_R", bound="Request")
_REGISTRY: dict[Endpoint, dict[str, type[Request]]] = {Endpoint.VISITOR: {}, Endpoint.AGENT: {}}


def _register(*endpoints: Endpoint) -> Any:
    def deco(cls: type[_R]) -> type[_R]:
        for endpoint in endpoints:
            _REGISTRY[endpoint][cls.TYPE] = cls
        return cls

    return deco


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """Base of every request. ``ref`` is echoed in the reply or error."""

    TYPE: ClassVar[str] = ""
    ref: str | None = _f(max_len=64, default=None)


_BOTH = (Endpoint.VISITOR, Endpoint.AGENT)
_V = (Endpoint.VISITOR,)
_A = (Endpoint.AGENT,)

# --- shared -----------------------------------------------------------------


@_register(*_BOTH)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Ping(Request):
    """Liveness check; the reply carries ``server_time``."""

    TYPE: ClassVar[str] = "ping"


@_register(*_BOTH)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Typing(Request):
    """The sender is (or stopped) typing in a conversation. Ephemeral."""

    TYPE: ClassVar[str] = "typing"
    conversation_id: int = _id()
    is_typing: bool = _f(default=True)


@_register(*_BOTH)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Seen(Request):
    """The sender has read the conversation up to message ``seq``."""

    TYPE: ClassVar[str] = "seen"
    conversation_id: int = _id()
    seq: int = _f(lo=0, hi=MAX_INT)


# --- visitor ------------------------------------------------------------------


@_register(*_V)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Hello(Request):
    """Open a visitor session: resume ``token`` or create a new visitor.

    ``since``/``epoch`` resume the event stream as ``subscribe`` does for
    agents. ``meta`` describes the browser and page (PROTOCOL.md, "hello").
    """

    TYPE: ClassVar[str] = "hello"
    token: str | None = _opt_str(128)
    since: int | None = _f(lo=0, hi=MAX_INT, default=None)
    epoch: str | None = _opt_str(64)
    meta: dict[str, Any] | None = _f(default=None)
    identity: dict[str, Any] | None = _f(default=None)


@_register(*_V)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Identify(Request):
    """Attach a verified user id (HMAC identity verification) and profile."""

    TYPE: ClassVar[str] = "identify"
    user_id: str = _f(min_len=1, max_len=256)
    user_hash: str | None = _opt_str(128)
    ts: int | None = _f(lo=0, hi=MAX_INT, default=None)
    name: str | None = _opt_str(200)
    email: str | None = _opt_str(254)


@_register(*_V)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConversationStart(Request):
    """Return the visitor's open conversation, creating it if there is none."""

    TYPE: ClassVar[str] = "conversation.start"


@_register(*_V)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageSend(Request):
    """Send a message. Without ``conversation_id`` it goes to the open one
    (created if needed). Idempotent on ``client_id``."""

    TYPE: ClassVar[str] = "message.send"
    client_id: str = _client_id()
    body: str = _body()
    conversation_id: int | None = _f(lo=1, hi=MAX_INT, default=None)


@_register(*_BOTH)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class History(Request):
    """A page of a conversation's messages, newest last, before ``before_seq``."""

    TYPE: ClassVar[str] = "history"
    conversation_id: int = _id()
    before_seq: int | None = _f(lo=1, hi=MAX_INT, default=None)
    limit: int = _f(lo=1, hi=200, default=50)


@_register(*_V)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProfileUpdate(Request):
    """The visitor's own name and/or email (e.g. from the pre-chat form)."""

    TYPE: ClassVar[str] = "profile.update"
    name: str | None = _opt_str(200)
    email: str | None = _opt_str(254)


@_register(*_V)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Page(Request):
    """The visitor navigated: current page URL, title and referrer."""

    TYPE: ClassVar[str] = "page"
    url: str | None = _opt_str(2048)
    title: str | None = _opt_str(500)
    referrer: str | None = _opt_str(2048)


# --- agent ------------------------------------------------------------------


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Login(Request):
    """Email and password for a token. ``tenant`` (slug) disambiguates an email
    that is an agent in several tenants. Throttled on failures."""

    TYPE: ClassVar[str] = "login"
    email: str = _f(min_len=1, max_len=254)
    password: str = _f(min_len=1, max_len=1024)
    tenant: str | None = _opt_str(64)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Auth(Request):
    """Authenticate this socket with a token from an earlier ``login``."""

    TYPE: ClassVar[str] = "auth"
    token: str = _f(min_len=1, max_len=128)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Logout(Request):
    """Revoke this socket's token; every socket using it is closed."""

    TYPE: ClassVar[str] = "logout"


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe(Request):
    """Start live events, first replaying those after ``since`` (PROTOCOL.md,
    "Resuming"). A cursor that cannot be honoured gives ``reset_required``."""

    TYPE: ClassVar[str] = "subscribe"
    since: int | None = _f(lo=0, hi=MAX_INT, default=None)
    epoch: str | None = _opt_str(64)


SNAPSHOT_FILTERS: Final = ("all", "mine", "unassigned", "open", "pending", "resolved")


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot(Request):
    """A page of the tenant's conversations, most recent activity first."""

    TYPE: ClassVar[str] = "snapshot"
    filter: str = _f(choices=SNAPSHOT_FILTERS, default="all")
    query: str | None = _opt_str(200)
    visitor_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    cursor: str | None = _opt_str(100)
    limit: int = _f(lo=1, hi=500, default=100)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reply(Request):
    """An agent's message to the visitor. Idempotent on ``client_id``."""

    TYPE: ClassVar[str] = "reply"
    conversation_id: int = _id()
    client_id: str = _client_id()
    body: str = _body()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Note(Request):
    """A private note, seen by agents only. Idempotent on ``client_id``."""

    TYPE: ClassVar[str] = "note"
    conversation_id: int = _id()
    client_id: str = _client_id()
    body: str = _body()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Resolve(Request):
    """Mark the conversation resolved; ``conflict`` if it already is."""

    TYPE: ClassVar[str] = "resolve"
    conversation_id: int = _id()
    client_id: str | None = _opt_client_id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reopen(Request):
    """Reopen a resolved or pending conversation; ``conflict`` if it is open."""

    TYPE: ClassVar[str] = "reopen"
    conversation_id: int = _id()
    client_id: str | None = _opt_client_id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Pend(Request):
    """Mark an open conversation pending (waiting on the visitor)."""

    TYPE: ClassVar[str] = "pend"
    conversation_id: int = _id()
    client_id: str | None = _opt_client_id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Assign(Request):
    """Assign the conversation to an active agent of the same tenant."""

    TYPE: ClassVar[str] = "assign"
    conversation_id: int = _id()
    agent_id: int = _id()
    client_id: str | None = _opt_client_id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Unassign(Request):
    """Remove the conversation's assignee."""

    TYPE: ClassVar[str] = "unassign"
    conversation_id: int = _id()
    client_id: str | None = _opt_client_id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Agents(Request):
    """The tenant's agents with their presence."""

    TYPE: ClassVar[str] = "agents"


ROLES: Final = ("admin", "agent")


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AgentAdd(Request):
    """Admin only: add an agent. Without ``password`` one is generated and
    returned once in the reply."""

    TYPE: ClassVar[str] = "agent.add"
    email: str = _f(min_len=3, max_len=254)
    name: str = _f(min_len=1, max_len=200)
    role: str = _f(choices=ROLES, default="agent")
    password: str | None = _f(min_len=8, max_len=1024, default=None)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AgentUpdate(Request):
    """Admin only: rename, change role, disable/enable, or set a password.
    Disabling closes the agent's sockets and revokes their tokens."""

    TYPE: ClassVar[str] = "agent.update"
    agent_id: int = _id()
    name: str | None = _f(min_len=1, max_len=200, default=None)
    role: str | None = _f(choices=ROLES, default=None)
    active: bool | None = _f(default=None)
    password: str | None = _f(min_len=8, max_len=1024, default=None)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConfigGet(Request):
    """The tenant's widget configuration, including admin-only fields."""

    TYPE: ClassVar[str] = "config.get"


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConfigSet(Request):
    """Admin only: change some widget configuration keys (a partial update)."""

    TYPE: ClassVar[str] = "config.set"
    config: dict[str, Any] = _f()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VisitorGet(Request):
    """A visitor's details and their conversations."""

    TYPE: ClassVar[str] = "visitor.get"
    visitor_id: int = _id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IdentitySecretGet(Request):
    """Admin only: the tenant's identity secret (and the previous one during
    a rotation)."""

    TYPE: ClassVar[str] = "identity_secret.get"


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IdentitySecretRotate(Request):
    """Admin only: a new identity secret; the current one stays valid as the
    previous until ``identity_secret.end_rotation``."""

    TYPE: ClassVar[str] = "identity_secret.rotate"


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IdentitySecretEndRotation(Request):
    """Admin only: stop accepting the previous identity secret."""

    TYPE: ClassVar[str] = "identity_secret.end_rotation"


def request_types(endpoint: Endpoint) -> Mapping[str, type[Request]]:
    """The request types accepted on ``endpoint``, by frame ``type``."""
    return _REGISTRY[endpoint]


# --------------------------------------------------------------------------
# Parsing.

_HINTS: dict[type[Request], dict[str, Any]] = {}


def _hints(cls: type[Request]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value, stopping early past ``limit``."""
    if limit < 0:
        return 1
    if isinstance(value, dict):
        return 1 + max((_depth(v, limit - 1) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v, limit - 1) for v in value), default=0)
    return 0


def _check_field(name: str, value: Any, hint: Any, meta: Mapping[str, Any], ref: str | None) -> Any:
    def bad(why: str) -> ProtocolError:
        return ProtocolError(ErrorCode.INVALID, f"field {name!r} {why}", ref)

    optional = type(None) in getattr(hint, "__args__", ()) or hint is type(None)
    if value is None:
        if optional:
            return None
        raise bad("is required")
    base = hint
    if optional:
        base = next(a for a in hint.__args__ if a is not type(None))
    origin = getattr(base, "__origin__", base)
    if origin is bool:
        if not isinstance(value, bool):
            raise bad("must be a boolean")
    elif origin is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad("must be an integer")
        lo, hi = meta.get("lo"), meta.get("hi")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise bad(f"must be between {lo} and {hi}")
    elif origin is str:
        if not isinstance(value, str):
            raise bad("must be a string")
        max_len = meta.get("max_len")
        if max_len is not None and len(value) > max_len:
            code = ErrorCode.TOO_LARGE if name == "body" else ErrorCode.INVALID
            raise ProtocolError(code, f"field {name!r} is longer than {max_len} characters", ref)
        if len(value) < meta.get("min_len", 0):
            raise bad("must not be empty" if meta.get("min_len") == 1 else "is too short")
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise bad(f"must be one of {', '.join(choices)}")
    elif origin is dict:
        if not isinstance(value, dict):
            raise bad("must be an object")
    else:  # pragma: no cover - a declaration error, caught by the tests
        raise TypeError(f"unsupported field type {hint!r}")
    return value


_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


def _valid_unicode(text: str, obj: Any) -> bool:
    """Whether a decoded frame is valid Unicode. JSON's ``\\ud800``-``\\udfff``
    escapes can make lone surrogates, which cannot be stored or sent back as
    UTF-8 (echoing one in an error would kill the connection)."""
    if not _SURROGATE_ESCAPE.search(text):
        return True
    try:
        encode(obj).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_request(text: str | bytes, *, endpoint: Endpoint) -> Request:
    """Parse one text frame received on ``endpoint`` into a request object.

    Raises :class:`ProtocolError` with a message fit to show a developer when
    the frame is not valid JSON, not an object, too deep, of an unknown or
    missing ``type``, or has a field of the wrong type or size. Unknown fields
    are ignored, so newer clients can talk to older servers.
    """
    if isinstance(text, bytes):
        raise ProtocolError(ErrorCode.INVALID, "binary frames are not supported; send JSON text")
    try:
        obj = decode(text)
    except RecursionError:
        raise ProtocolError(ErrorCode.INVALID, "frame is nested too deeply") from None
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID, f"frame is not valid JSON: {exc}") from None
    if not _valid_unicode(text, obj):
        raise ProtocolError(ErrorCode.INVALID, "frame has an unpaired surrogate escape (\\ud800-\\udfff)")
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.INVALID, "frame must be a JSON object")
    raw_ref = obj.get("ref")
    ref = raw_ref if isinstance(raw_ref, str) and len(raw_ref) <= 64 else None
    if raw_ref is not None and ref is None:
        raise ProtocolError(ErrorCode.INVALID, "field 'ref' must be a string of at most 64 characters")
    if _depth(obj, MAX_DEPTH) > MAX_DEPTH:
        raise ProtocolError(ErrorCode.INVALID, "frame is nested too deeply", ref)
    frame_type = obj.get("type")
    if not isinstance(frame_type, str):
        raise ProtocolError(ErrorCode.INVALID, "frame has no 'type'", ref)
    cls = _REGISTRY[endpoint].get(frame_type)
    if cls is None:
        raise ProtocolError(
            ErrorCode.INVALID, f"unknown type {frame_type[:40]!r} on the {endpoint.value} endpoint", ref
        )
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for fld in dataclasses.fields(cls):
        if fld.name == "ref":
            continue
        value = obj.get(fld.name)
        if value is None and fld.default is not dataclasses.MISSING:
            kwargs[fld.name] = fld.default
            continue
        kwargs[fld.name] = _check_field(fld.name, value, hints[fld.name], fld.metadata, ref)
    return cls(ref=ref, **kwargs)


def is_finite_number(value: Any) -> bool:
    """True for an int, or a float that is not NaN or infinite."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)
