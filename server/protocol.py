"""The Frontdesk wire protocol, sans I/O, in both directions.

This module turns text frames into typed request objects and typed results
into text frames, and (for clients) server frames back into typed values. It
never touches a socket or an event loop, so the server, the console and the
tests all share it, and it is tested on its own.

``docs/PROTOCOL.md`` is the contract this module implements; section names in
comments below refer to that page, and ``tests/test_docs.py`` checks every
field declared here against it.

Use (server side)::

    try:
        request = parse_request(text, endpoint=Endpoint.VISITOR)
    except ProtocolError as exc:
        send(encode_protocol_error(exc))
    else:
        result = ...  # dispatch on type(request); a RESULTS type
        send(encode_reply(request.ref, result))

Use (client side)::

    frame = decode_frame(text, endpoint=Endpoint.AGENT, result=RESULTS[(Endpoint.AGENT, "login")])

The parts, in this order below:

- requests: every request class has a ``TYPE`` (the frame's ``type``) and
  typed fields; field constraints (length, range, choices, UUID, not blank)
  are declared once in the field's metadata and enforced by :func:`parse_request`;
- objects (Message, Conversation, Visitor, Agent, configs …), the result of
  each request (:data:`RESULTS`), the data of each event kind per audience
  (:data:`EVENT_DATA`) and the server frames; all dataclasses;
- :func:`encode`/:func:`to_wire` and :func:`decode_frame`/:func:`from_wire`:
  the one place where typed values become JSON and back.

msgspec was measured against this module (see the commit that says so): it
parses a ``message.send`` ~50x faster in isolation, but parsing is ~5% of the
server's CPU per message (``frontdesk bench``: ~900 us a message, parsing
~45 us on the same loaded machine), and keeping today's error messages and
``field`` would need a second validator beside it. Not adopted, for now.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final, TypeVar, get_type_hints

from .exceptions import ProtocolError

try:
    import orjson as _orjson

    _ORJSON = True
except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a bare install working
    _ORJSON = False

__all__ = [
    "CANNED_SCOPES",
    "COLOR_PATTERN",
    "CONFIG_FIELD",
    "CONFIG_FIELDS",
    "CONVERSATION_COLUMNS",
    "EPHEMERAL_KINDS",
    "EVENT_DATA",
    "EVENT_KINDS",
    "JSON",
    "MAX_BODY_CHARS",
    "MAX_FRAME_BYTES",
    "MAX_INT",
    "MAX_TEAM_MEMBERS",
    "MESSAGE_COLUMNS",
    "REPORT_CHANNELS",
    "REPORT_GROUPS",
    "REPORT_MAX_DAYS",
    "RESULTS",
    "SEARCH_MAX_WORDS",
    "SEARCH_SNIPPET_CHARS",
    "SEARCH_STATUSES",
    "SMTP_SECURITY",
    "SNAPSHOT_FILTERS",
    "SNAPSHOT_FILTER_RULES",
    "WEBHOOK_EVENTS",
    "WIDGET_LANGUAGES",
    "WIDGET_STRINGS",
    "WIDGET_TENANT_TEXTS",
    "Agent",
    "AgentAddResult",
    "AgentHistoryResult",
    "AgentPresence",
    "AgentProfile",
    "AgentResult",
    "AgentSeen",
    "AgentTyping",
    "AgentTypingToVisitor",
    "AgentUpdated",
    "AgentViewing",
    "AgentsResult",
    "AttributesSet",
    "CannedDelete",
    "CannedList",
    "CannedListResult",
    "CannedResponse",
    "CannedResult",
    "CannedSave",
    "CannedUpdated",
    "ClientProtocol",
    "CloseCode",
    "ConfigField",
    "ConfigResult",
    "ConfigUpdated",
    "Conversation",
    "ConversationChange",
    "ConversationResult",
    "ConversationUpdated",
    "ConversationViewer",
    "ConversationWithVisitor",
    "Csat",
    "CsatComment",
    "CsatList",
    "CsatListResult",
    "CsatResult",
    "CsatStats",
    "CsatSubmit",
    "Deleted",
    "DurationStats",
    "EmailNotifyResult",
    "EmailSettings",
    "EmailSettingsResult",
    "Endpoint",
    "ErrorCode",
    "ErrorFrame",
    "EventFrame",
    "ExportEntry",
    "ExportRecord",
    "ExportRecords",
    "ExportRecordsResult",
    "FrameError",
    "HeldEmail",
    "HeldEmailUpdated",
    "HeldEmailsResult",
    "HelloResult",
    "HistoryResult",
    "Incoming",
    "Label",
    "LabelAdd",
    "LabelCreate",
    "LabelDelete",
    "LabelRemove",
    "LabelResult",
    "LabelUpdate",
    "LabelUpdated",
    "Labels",
    "LabelsResult",
    "LoginResult",
    "Message",
    "MessageAck",
    "MessageChange",
    "MessageCreated",
    "MessageDelete",
    "MessageEdit",
    "MessageOriginal",
    "MessageOriginals",
    "MessageOriginalsResult",
    "MessageUpdated",
    "NoteAck",
    "PingResult",
    "PrivateNote",
    "ProtocolError",
    "PublicConfig",
    "ReplyFrame",
    "ReportBucket",
    "ReportGet",
    "ReportResult",
    "ReportRow",
    "ReportSummary",
    "Request",
    "Result",
    "Resume",
    "Search",
    "SearchHit",
    "SearchMatch",
    "SearchResult",
    "SeenUpTo",
    "ServerFrame",
    "SessionResult",
    "SnapshotFilter",
    "SnapshotResult",
    "SubscribeResult",
    "Team",
    "TeamCreate",
    "TeamDelete",
    "TeamResult",
    "TeamUpdate",
    "TeamUpdated",
    "Teams",
    "TeamsResult",
    "Tenant",
    "TranscriptEmail",
    "ViewingResult",
    "Visitor",
    "VisitorAttribute",
    "VisitorConversationUpdated",
    "VisitorDetails",
    "VisitorErased",
    "VisitorFind",
    "VisitorPresence",
    "VisitorResult",
    "VisitorTyping",
    "VisitorsResult",
    "Webhook",
    "WebhookDeliveriesResult",
    "WebhookDelivery",
    "WebhookDeliveryResult",
    "WebhookResult",
    "WebhookSecretResult",
    "WebhooksResult",
    "WidgetConfig",
    "decode",
    "decode_frame",
    "encode",
    "encode_error",
    "encode_event",
    "encode_protocol_error",
    "encode_reply",
    "from_wire",
    "parse_request",
    "read_frame",
    "request_types",
    "search_matches",
    "search_snippet",
    "search_spans",
    "search_words",
    "to_wire",
    "wire_fields",
]

JSON = dict[str, Any]

#: Largest text frame a peer may send (PROTOCOL.md, "Limits"). Larger frames
#: close the connection with 1009.
MAX_FRAME_BYTES: Final = 64 * 1024
#: Longest message or note body, in characters.
MAX_BODY_CHARS: Final = 10_000
#: Largest integer accepted anywhere: JavaScript's safe integer range.
MAX_INT: Final = 2**53 - 1
#: Most attachments one message or note carries (PROTOCOL.md, "Attachments").
MAX_ATTACHMENTS: Final = 10
#: Longest attachment id or upload key, in characters.
MAX_FILE_ID_CHARS: Final = 64
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
    UNSUPPORTED_TYPE = "unsupported_type"  #: an upload's bytes are of a kind the tenant does not accept
    UPLOAD_FAILED = "upload_failed"  #: a binary frame did not fit its upload (handle, offset, size); upload dropped
    PENDING = "pending"  #: an attachment is still being scanned; retry after its ``file.ready``


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
    "message.updated",  # a message was edited or deleted by its author
    "note.created",  # a private note (agents only)
    "conversation.created",  # a visitor started a conversation
    "conversation.updated",  # status, assignee or unread counts changed
    "typing",  # ephemeral: someone is typing
    "viewing",  # ephemeral: an agent opened or left a conversation (collision awareness)
    "seen",  # ephemeral: one side read up to a seq
    "presence",  # ephemeral: an agent came online or went offline
    "config.updated",  # the widget configuration changed
    "agent.updated",  # an agent was added or changed (agents only)
    "team.updated",  # a team was created, renamed, given members or deleted (agents only)
    "label.updated",  # a label was created, changed or deleted (agents only)
    "canned.updated",  # a tenant or team canned response was saved or deleted (agents only)
    "visitor.updated",  # a visitor's profile or page changed (agents only)
    "visitor.erased",  # a visitor was erased (agents only)
    "csat.requested",  # a resolution asks the visitor for a rating (PROTOCOL.md, "Satisfaction surveys")
    "csat.submitted",  # the visitor rated (or changed their rating)
    "file.progress",  # ephemeral, to the uploading socket: bytes of an upload received so far
    "file.ready",  # ephemeral, to the uploader's sockets: a scanned file passed (or was refused)
    "queue",  # ephemeral: the visitor's place in the auto-assignment queue (visitors only)
    "email.held",  # an email reply was held for review, or accepted or rejected (agents only)
)


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

    Dataclasses (objects, results, event data) are written as their wire
    fields. orjson when installed (a dependency; about 15× faster, and every
    message is encoded several times: reply, agent event, visitor event), else
    the standard library with the same output. What orjson refuses (integers
    beyond 64 bits, lone surrogates) goes to the standard library, so the
    outcome for odd input is exactly the standard library's.
    """
    if _ORJSON:
        try:
            return _orjson.dumps(obj, default=_as_dict, option=_orjson.OPT_PASSTHROUGH_DATACLASS).decode()
        except TypeError:  # orjson.JSONEncodeError; also non-string keys (rare: relayed presence), which
            pass  # orjson's OPT_NON_STR_KEYS would take, but that option costs ~50% on every frame
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_as_dict)


def encode_reply(ref: str | None, result: Result | Mapping[str, Any]) -> str:
    """The frame answering request ``ref`` with ``result`` (PROTOCOL.md, "Replies")."""
    fields = _as_dict(result) if isinstance(result, Result) else result  # server-only fields are dropped here
    return encode({"type": "reply", "ref": ref, **fields})


def encode_error(
    ref: str | None, code: ErrorCode, message: str, field: str | None = None, *, upload: str | None = None
) -> str:
    """The frame answering request ``ref`` with an error (PROTOCOL.md, "Errors"); ``upload`` names the upload an
    error about binary frames concerns (then ``ref`` is null: no request asked)."""
    frame = {"type": "error", "ref": ref, "code": code.value, "message": message, "field": field}
    if upload is not None:
        frame["upload"] = upload
    return encode(frame)


def encode_protocol_error(exc: ProtocolError, ref: str | None = None) -> str:
    """The error frame for ``exc``; ``ref`` when the exception carries none."""
    return encode_error(exc.ref if exc.ref is not None else ref, exc.code, exc.message, exc.field)


def encode_event(
    kind: str,
    data: Any,
    *,
    event_id: int | None = None,
    conversation_id: int | None = None,
) -> str:
    """A push frame; ``data`` is one of the kind's :data:`EVENT_DATA` types (or
    its stored JSON form). Durable events carry ``event_id``, ephemeral ones don't."""
    frame: JSON = {"type": "event", "kind": kind}
    if event_id is not None:
        frame["event_id"] = event_id
    if conversation_id is not None:
        frame["conversation_id"] = conversation_id
    frame["data"] = data
    return encode(frame)


def encode_stored_event(kind: str, data_json: str, *, event_id: int, conversation_id: int | None) -> str:
    """The push frame of a stored event whose ``data`` is already JSON text (as the event log keeps it).

    Byte for byte what :func:`encode_event` makes of the decoded data (the log's JSON was written by :func:`encode`),
    without decoding and re-encoding it: a replay after a reconnect sends thousands of these (issue 12).
    """
    conversation = "" if conversation_id is None else f',"conversation_id":{conversation_id:d}'
    return f'{{"type":"event","kind":{_encoded_kind(kind)},"event_id":{event_id:d}{conversation},"data":{data_json}}}'


@functools.lru_cache(maxsize=256)
def _encoded_kind(kind: str) -> str:
    """An event kind as JSON text: a few dozen kinds, each encoded once, not once per replayed event."""
    return encode(kind)


# --------------------------------------------------------------------------
# Field declarations.


def _f(
    *,
    max_len: int | None = None,
    min_len: int = 0,
    lo: int | None = None,
    hi: int | None = None,
    choices: tuple[str, ...] | None = None,
    text: bool = False,
    uuid: bool = False,
    default: Any = dataclasses.MISSING,
) -> Any:
    """Declare a request field with its constraints: a length range, an integer
    range, a set of choices; ``text``: not blank (whitespace only); ``uuid``:
    a UUID in its 8-4-4-4-12 hex form."""
    meta = {"max_len": max_len, "min_len": min_len, "lo": lo, "hi": hi, "choices": choices, "text": text, "uuid": uuid}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _opt_str(max_len: int) -> Any:
    return _f(max_len=max_len, default=None)


def _id() -> Any:
    return _f(lo=1, hi=MAX_INT)


def _client_id() -> Any:
    return _f(min_len=1, max_len=64, uuid=True)


def _opt_client_id() -> Any:
    return _f(min_len=1, max_len=64, uuid=True, default=None)


def _body() -> Any:
    return _f(min_len=1, max_len=MAX_BODY_CHARS, text=True)


def _body_or_attachments() -> Any:
    """A ``body`` that may be empty when the request carries ``attachment_ids`` (PROTOCOL.md, "Attachments"):
    without them, it is required, not empty and not blank, as :func:`_body`."""
    field = _f(max_len=MAX_BODY_CHARS, default="")
    return dataclasses.field(default="", metadata={**field.metadata, "unless": "attachment_ids"})


def _attachment_ids() -> Any:
    return _f(max_len=MAX_ATTACHMENTS, default=None)


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


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Viewing(Request):
    """The agent has this conversation open (``conversation_id``) or none
    (absent). Ephemeral, one per socket: it replaces the socket's previous
    one and ends when the socket goes. The reply lists who else views it."""

    TYPE: ClassVar[str] = "viewing"
    conversation_id: int | None = _f(lo=1, hi=MAX_INT, default=None)


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
    #: Custom attributes (PROTOCOL.md, "Custom attributes"): verified with the identity, else unverified.
    attributes: dict[str, Any] | None = _f(default=None)


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
    body: str = _body_or_attachments()
    conversation_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    attachment_ids: list[str] | None = _attachment_ids()


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
class AttributesSet(Request):
    """Custom attributes from the site's page (``Frontdesk.setAttributes``), never verified
    (PROTOCOL.md, "Custom attributes"); a null value removes one."""

    TYPE: ClassVar[str] = "attributes.set"
    attributes: dict[str, Any] = _f()
    #: Not the page's to claim: any value is refused (``forbidden``).
    verified: bool | None = _f(default=None)


@_register(*_V)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Page(Request):
    """The visitor navigated: current page URL, title and referrer."""

    TYPE: ClassVar[str] = "page"
    url: str | None = _opt_str(2048)
    title: str | None = _opt_str(500)
    referrer: str | None = _opt_str(2048)


# --- attachments (both endpoints; PROTOCOL.md, "Attachments") ----------------

#: Bytes of a binary upload frame's header: the handle (uint32, big-endian), then the offset (uint64, big-endian).
UPLOAD_FRAME_HEADER: Final = 12
#: Most data bytes in one binary upload frame (the ``chunk`` of ``file.begin``'s reply).
UPLOAD_CHUNK: Final = 64 * 1024
#: Most bytes a client keeps sent but not yet acknowledged by ``file.progress`` (the reply's ``window``).
UPLOAD_WINDOW: Final = 1024 * 1024
#: The kinds a tenant may accept (``upload_kinds``); ``media.KINDS`` maps each to its types.
UPLOAD_KINDS: Final = ("images", "pdf", "text", "office", "archives")


@_register(*_BOTH)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileBegin(Request):
    """Start (or, with ``resume``, continue) an upload of ``size`` bytes; the bytes follow in binary frames."""

    TYPE: ClassVar[str] = "file.begin"
    name: str = _f(min_len=1, max_len=255, text=True)
    size: int = _f(lo=1, hi=MAX_INT)
    resume: str | None = _opt_str(MAX_FILE_ID_CHARS)


@_register(*_BOTH)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileFinish(Request):
    """Every byte of the upload was sent: store it and answer with its Attachment."""

    TYPE: ClassVar[str] = "file.finish"
    upload: str = _f(min_len=1, max_len=MAX_FILE_ID_CHARS)


@_register(*_BOTH)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileCancel(Request):
    """Drop an upload in progress and what it received."""

    TYPE: ClassVar[str] = "file.cancel"
    upload: str = _f(min_len=1, max_len=MAX_FILE_ID_CHARS)


@_register(*_BOTH)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileLinks(Request):
    """Fresh signed links to attachments the caller may read."""

    TYPE: ClassVar[str] = "file.links"
    ids: list[str] = _f(min_len=1, max_len=50)


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


@dataclasses.dataclass(frozen=True, slots=True)
class SnapshotFilter:
    """What a ``snapshot`` filter keeps (and the console's inbox tab of the
    same name, which filters its cache by the same rule)."""

    statuses: tuple[str, ...]  #: the conversation statuses it keeps
    assignee: str | None = None  #: "me": assigned to the asking agent; "none": unassigned; None: anyone's

    def matches(self, status: str, assignee_id: int | None, me: int | None) -> bool:
        """Whether a conversation in ``status`` assigned to ``assignee_id`` is
        kept, for agent ``me``."""
        if status not in self.statuses:
            return False
        if self.assignee == "me":
            return me is not None and assignee_id == me
        if self.assignee == "none":
            return assignee_id is None
        return True


#: Each ``snapshot`` filter's rule, by name (PROTOCOL.md, "snapshot").
SNAPSHOT_FILTER_RULES: Final[Mapping[str, SnapshotFilter]] = {
    "all": SnapshotFilter(("open", "pending", "resolved", "snoozed")),
    "mine": SnapshotFilter(("open", "pending"), "me"),
    "unassigned": SnapshotFilter(("open", "pending"), "none"),
    "open": SnapshotFilter(("open",)),
    "pending": SnapshotFilter(("pending",)),
    "resolved": SnapshotFilter(("resolved",)),
    "snoozed": SnapshotFilter(("snoozed",)),  # put aside until a time or the visitor's reply (PROTOCOL.md, "Snooze")
}
SNAPSHOT_FILTERS: Final = tuple(SNAPSHOT_FILTER_RULES)


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
    team_id: int | None = _f(lo=1, hi=MAX_INT, default=None)  #: only this team's conversations
    label_id: int | None = _f(lo=1, hi=MAX_INT, default=None)  #: only conversations with this label


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reply(Request):
    """An agent's message to the visitor. Idempotent on ``client_id``."""

    TYPE: ClassVar[str] = "reply"
    conversation_id: int = _id()
    client_id: str = _client_id()
    body: str = _body_or_attachments()
    attachment_ids: list[str] | None = _attachment_ids()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Note(Request):
    """A private note, seen by agents only. Idempotent on ``client_id``."""

    TYPE: ClassVar[str] = "note"
    conversation_id: int = _id()
    client_id: str = _client_id()
    body: str = _body_or_attachments()
    attachment_ids: list[str] | None = _attachment_ids()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Resolve(Request):
    """Mark the conversation resolved; ``conflict`` if it already is."""

    TYPE: ClassVar[str] = "resolve"
    conversation_id: int = _id()
    client_id: str | None = _opt_client_id()
    #: Ask the visitor for a rating (when the tenant's ``csat`` setting is on); false resolves without a survey.
    survey: bool = True


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
class Snooze(Request):
    """Put the conversation aside until ``until`` (ms, in the future) or, with
    ``until`` null, until the visitor writes (PROTOCOL.md, "Snooze")."""

    TYPE: ClassVar[str] = "snooze"
    conversation_id: int = _id()
    until: int | None = _f(lo=1, hi=MAX_INT, default=None)
    client_id: str | None = _opt_client_id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(Request):
    """Hand the conversation to an agent and/or a team, with an optional private
    note (PROTOCOL.md, "Transfer")."""

    TYPE: ClassVar[str] = "transfer"
    conversation_id: int = _id()
    agent_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    team_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    note: str | None = _f(min_len=1, max_len=MAX_BODY_CHARS, text=True, default=None)
    client_id: str | None = _opt_client_id()


@_register(*_BOTH)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageEdit(Request):
    """Replace the text of one's own message, within the tenant's
    ``edit_window_minutes``. Visitors get ``forbidden``."""

    TYPE: ClassVar[str] = "message.edit"
    conversation_id: int = _id()
    seq: int = _f(lo=1, hi=MAX_INT)
    body: str = _body()
    client_id: str | None = _opt_client_id()


@_register(*_BOTH)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageDelete(Request):
    """Delete one's own message, within the tenant's ``edit_window_minutes``.
    Visitors get ``forbidden``."""

    TYPE: ClassVar[str] = "message.delete"
    conversation_id: int = _id()
    seq: int = _f(lo=1, hi=MAX_INT)
    client_id: str | None = _opt_client_id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageOriginals(Request):
    """Admin only: the texts a message had before its edits and deletion."""

    TYPE: ClassVar[str] = "message.originals"
    conversation_id: int = _id()
    seq: int = _f(lo=1, hi=MAX_INT)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AvailabilitySet(Request):
    """Set oneself Away (``away``: true) or back Online. Visitors hear that
    someone is there only while an agent is online and not away."""

    TYPE: ClassVar[str] = "availability.set"
    away: bool = _f()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MeUpdate(Request):
    """Change one's own display name and/or password; a new password needs
    the current one, and ends one's other sessions (not this one)."""

    TYPE: ClassVar[str] = "me.update"
    name: str | None = _f(min_len=1, max_len=200, text=True, default=None)
    password: str | None = _f(min_len=8, max_len=1024, default=None)
    current_password: str | None = _f(min_len=1, max_len=1024, default=None)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Agents(Request):
    """The tenant's agents with their presence."""

    TYPE: ClassVar[str] = "agents"


SEARCH_STATUSES: Final = ("open", "pending", "resolved")


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Search(Request):
    """Full-text search of the tenant's messages and notes (PROTOCOL.md,
    "Search"): conversations whose newest matching message or note is newest
    first, one hit per conversation. ``before`` is the ``next_before`` of the
    previous page. A query with no word to search for is ``invalid``."""

    TYPE: ClassVar[str] = "search"
    q: str = _f(min_len=1, max_len=200, text=True)
    status: str | None = _f(choices=SEARCH_STATUSES, default=None)
    before: str | None = _opt_str(32)
    limit: int = _f(lo=1, hi=100, default=20)


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


# --- agent: teams, labels, canned responses (issue 15; PROTOCOL.md, "Teams", "Labels", "Canned responses") ---

#: A label's colour: ``#rrggbb``.
COLOR_PATTERN: Final = re.compile(r"#[0-9a-fA-F]{6}\Z")
#: Most members a ``team.create``/``team.update`` may list.
MAX_TEAM_MEMBERS: Final = 500


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Teams(Request):
    """The tenant's teams with their members."""

    TYPE: ClassVar[str] = "teams"


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TeamCreate(Request):
    """Admin only: a new team, optionally with its members."""

    TYPE: ClassVar[str] = "team.create"
    name: str = _f(min_len=1, max_len=100, text=True)
    member_ids: list[int] | None = _f(max_len=MAX_TEAM_MEMBERS, default=None)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TeamUpdate(Request):
    """Admin only: rename a team and/or replace its members."""

    TYPE: ClassVar[str] = "team.update"
    team_id: int = _id()
    name: str | None = _f(min_len=1, max_len=100, text=True, default=None)
    member_ids: list[int] | None = _f(max_len=MAX_TEAM_MEMBERS, default=None)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TeamDelete(Request):
    """Admin only: delete a team; its conversations leave it, its canned responses go."""

    TYPE: ClassVar[str] = "team.delete"
    team_id: int = _id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Labels(Request):
    """The tenant's labels."""

    TYPE: ClassVar[str] = "labels"


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LabelCreate(Request):
    """Admin only: a new label, with a ``#rrggbb`` colour."""

    TYPE: ClassVar[str] = "label.create"
    name: str = _f(min_len=1, max_len=50, text=True)
    color: str = _f(min_len=7, max_len=7)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LabelUpdate(Request):
    """Admin only: rename and/or recolour a label."""

    TYPE: ClassVar[str] = "label.update"
    label_id: int = _id()
    name: str | None = _f(min_len=1, max_len=50, text=True, default=None)
    color: str | None = _f(min_len=7, max_len=7, default=None)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LabelDelete(Request):
    """Admin only: delete a label; it leaves every conversation."""

    TYPE: ClassVar[str] = "label.delete"
    label_id: int = _id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LabelAdd(Request):
    """Put a label on a conversation (already there: no change, no event)."""

    TYPE: ClassVar[str] = "label.add"
    conversation_id: int = _id()
    label_id: int = _id()
    client_id: str | None = _opt_client_id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LabelRemove(Request):
    """Take a label off a conversation (not there: no change, no event)."""

    TYPE: ClassVar[str] = "label.remove"
    conversation_id: int = _id()
    label_id: int = _id()
    client_id: str | None = _opt_client_id()


CANNED_SCOPES: Final = ("tenant", "team", "personal")


# --- satisfaction surveys and exports (PROTOCOL.md, "Satisfaction surveys", "Exports") ---------------

#: The columns of ``conversations.csv``, from ``GET /v1/export/`` and the console alike (``labels``: names, "; ").
CONVERSATION_COLUMNS: Final = (
    "id",
    "visitor_name",
    "visitor_email",
    "agent",
    "team",
    "status",
    "labels",
    "created",
    "first_response",
    "resolved",
    "resolution_time_s",
    "csat",
)
#: The columns of ``messages.csv``.
MESSAGE_COLUMNS: Final = (
    "conversation_id",
    "seq",
    "created",
    "author_kind",
    "author_name",
    "body",
    "edited",
    "deleted",
)


@_register(*_V)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CsatSubmit(Request):
    """The visitor rates the latest survey of their conversation, or changes the
    rating while the survey is open. ``rating``: 1–5 on the ``five`` scale,
    0 (down) or 1 (up) on ``thumbs``."""

    TYPE: ClassVar[str] = "csat.submit"
    conversation_id: int = _id()
    rating: int = _f(lo=0, hi=5)
    comment: str | None = _f(max_len=1000, text=True, default=None)


@_register(*_V)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptEmail(Request):
    """The visitor asks for a conversation's transcript by email, to the address they gave (rate-limited)."""

    TYPE: ClassVar[str] = "transcript.email"
    conversation_id: int = _id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CannedList(Request):
    """The canned responses this agent may use: the tenant's, every team's,
    and their own."""

    TYPE: ClassVar[str] = "canned.list"


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CsatList(Request):
    """The surveys of one conversation or of one visitor's conversations, newest first."""

    TYPE: ClassVar[str] = "csat.list"
    conversation_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    visitor_id: int | None = _f(lo=1, hi=MAX_INT, default=None)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CannedSave(Request):
    """Create (no ``canned_id``) or replace a canned response. Tenant and team
    scopes are for admins; a personal one is its owner's. A body with an
    unknown variable is ``invalid`` (``"field": "body"``)."""

    TYPE: ClassVar[str] = "canned.save"
    canned_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    scope: str = _f(choices=CANNED_SCOPES)
    team_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    shortcut: str = _f(min_len=1, max_len=32, text=True)
    title: str = _f(min_len=1, max_len=100, text=True)
    body: str = _body()


REPORT_GROUPS: Final = ("hour", "day", "week", "month")
REPORT_CHANNELS: Final = ("widget", "email")
#: The longest range one ``report.get`` may cover, in days (two years).
REPORT_MAX_DAYS: Final = 731


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReportGet(Request):
    """``report.get``: the figures of the days ``start`` to ``end`` (both included, ``YYYY-MM-DD`` in the
    tenant's time zone), bucketed by ``group`` and narrowed by the filters (PROTOCOL.md, "Reports";
    definitions in docs/REPORTS.md). Admins may ask for anyone's figures; any other agent only for their
    own (``agent_id`` their own id), else ``forbidden``. An end before the start, a range over
    :data:`REPORT_MAX_DAYS` or a malformed date is ``invalid``; an unknown agent, team or label is
    ``not_found``."""

    TYPE: ClassVar[str] = "report.get"
    start: str = _f(min_len=10, max_len=10)
    end: str = _f(min_len=10, max_len=10)
    group: str = _f(choices=REPORT_GROUPS, default="day")
    agent_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    team_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    label_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    channel: str | None = _f(choices=REPORT_CHANNELS, default=None)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExportRecords(Request):
    """Admin only: the record of exports (who, what, when), newest first."""

    TYPE: ClassVar[str] = "export.records"
    before: int | None = _f(lo=1, hi=MAX_INT, default=None)
    limit: int = _f(lo=1, hi=500, default=100)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CannedDelete(Request):
    """Delete a canned response (the same rights as saving it)."""

    TYPE: ClassVar[str] = "canned.delete"
    canned_id: int = _id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VisitorFind(Request):
    """The tenant's visitors whose name, email, user id, location or custom
    attribute values hold every word of ``q`` (PROTOCOL.md, "Custom attributes")."""

    TYPE: ClassVar[str] = "visitor.find"
    q: str = _f(min_len=1, max_len=200, text=True)
    limit: int = _f(lo=1, hi=100, default=50)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExportRecord(Request):
    """Record an export the console made itself (PDF, or files written from its cache)."""

    TYPE: ClassVar[str] = "export.record"
    what: str = _f(choices=("conversation", "conversations", "messages"))
    format: str = _f(choices=("json", "csv", "pdf", "txt"))
    conversation_id: int | None = _f(lo=1, hi=MAX_INT, default=None)
    filter: str | None = _opt_str(500)
    rows: int = _f(lo=0, hi=MAX_INT, default=0)


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


# --- agent: webhooks (admin only; docs/PROTOCOL.md, "Webhooks") ----------------

#: The event kinds a webhook may subscribe to (docs/PROTOCOL.md, "Webhooks"). Each is an event ``kind`` of the
#: log; a delivery's ``data`` is the agents' payload of that event. ``csat.submitted`` is delivered once the
#: CSAT feature logs it.
WEBHOOK_EVENTS: Final = (
    "conversation.created",
    "conversation.updated",
    "message.created",
    "message.updated",
    "note.created",
    "visitor.updated",
    "csat.submitted",
)
#: Longest webhook URL accepted.
WEBHOOK_URL_MAX: Final = 2000


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookList(Request):
    """Admin only: the tenant's webhooks."""

    TYPE: ClassVar[str] = "webhook.list"


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookCreate(Request):
    """Admin only: a new webhook; its signing secret comes back once. ``events``: kinds from
    :data:`WEBHOOK_EVENTS`, separated by commas."""

    TYPE: ClassVar[str] = "webhook.create"
    url: str = _f(min_len=1, max_len=WEBHOOK_URL_MAX, text=True)
    events: str = _f(min_len=1, max_len=500, text=True)
    description: str = _f(max_len=200, default="")


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookUpdate(Request):
    """Admin only: change a webhook's URL, events, description, or switch it on or off
    (switching on clears the failure count)."""

    TYPE: ClassVar[str] = "webhook.update"
    webhook_id: int = _id()
    url: str | None = _f(min_len=1, max_len=WEBHOOK_URL_MAX, default=None)
    events: str | None = _f(min_len=1, max_len=500, default=None)
    description: str | None = _f(max_len=200, default=None)
    enabled: bool | None = _f(default=None)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookDelete(Request):
    """Admin only: remove a webhook, its secrets, its delivery log and its queued deliveries."""

    TYPE: ClassVar[str] = "webhook.delete"
    webhook_id: int = _id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookRotateSecret(Request):
    """Admin only: a new signing secret; the current one keeps signing beside it (two signatures per
    delivery) until ``webhook.end_rotation``."""

    TYPE: ClassVar[str] = "webhook.rotate_secret"
    webhook_id: int = _id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEndRotation(Request):
    """Admin only: stop signing with the previous secret."""

    TYPE: ClassVar[str] = "webhook.end_rotation"
    webhook_id: int = _id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookDeliveries(Request):
    """Admin only: a webhook's delivery log, newest first, ids below ``before``."""

    TYPE: ClassVar[str] = "webhook.deliveries"
    webhook_id: int = _id()
    before: int | None = _f(lo=1, hi=MAX_INT, default=None)
    limit: int = _f(lo=1, hi=200, default=50)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookRedeliver(Request):
    """Admin only: send a logged delivery again (same ``webhook-id``, same body, new signature)."""

    TYPE: ClassVar[str] = "webhook.redeliver"
    delivery_id: int = _id()


# --- agent: email continuity (docs/PROTOCOL.md, "Email") -------------------------

#: How outgoing mail is protected: plain (tests, a relay on localhost), STARTTLS on 587, TLS from the start on 465.
SMTP_SECURITY: Final = ("none", "starttls", "tls")


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettingsGet(Request):
    """Admin only: the tenant's email settings (never the SMTP password)."""

    TYPE: ClassVar[str] = "email.settings.get"


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettingsSet(Request):
    """Admin only: change some email settings (a partial update); ``password`` goes to the secret store
    (``""`` removes it)."""

    TYPE: ClassVar[str] = "email.settings.set"
    enabled: bool | None = _f(default=None)
    host: str | None = _f(max_len=253, default=None)
    port: int | None = _f(lo=1, hi=65535, default=None)
    security: str | None = _f(choices=SMTP_SECURITY, default=None)
    username: str | None = _f(max_len=254, default=None)
    password: str | None = _f(max_len=1024, default=None)
    from_address: str | None = _f(max_len=254, default=None)
    reply_domain: str | None = _f(max_len=253, default=None)
    delay_minutes: int | None = _f(lo=0, hi=1440, default=None)
    imap_host: str | None = _f(max_len=253, default=None)
    imap_port: int | None = _f(lo=1, hi=65535, default=None)
    imap_security: str | None = _f(choices=SMTP_SECURITY, default=None)
    imap_username: str | None = _f(max_len=254, default=None)
    imap_password: str | None = _f(max_len=1024, default=None)
    imap_mailbox: str | None = _f(min_len=1, max_len=200, default=None)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailTest(Request):
    """Admin only: send a test email now with the stored settings; an SMTP failure is the error."""

    TYPE: ClassVar[str] = "email.test"
    to: str = _f(min_len=3, max_len=254)


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailHeldList(Request):
    """Email replies from an address other than the visitor's, waiting for an agent."""

    TYPE: ClassVar[str] = "email.held.list"


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailHeldAccept(Request):
    """Post a held email reply into its conversation as the visitor's message."""

    TYPE: ClassVar[str] = "email.held.accept"
    held_id: int = _id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailHeldReject(Request):
    """Drop a held email reply."""

    TYPE: ClassVar[str] = "email.held.reject"
    held_id: int = _id()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailNotifySet(Request):
    """Switch your own notification emails (new conversation, assignment, while offline) on or off."""

    TYPE: ClassVar[str] = "email.notify.set"
    enabled: bool = _f()


@_register(*_A)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailNotifyGet(Request):
    """Whether your own notification emails are on."""

    TYPE: ClassVar[str] = "email.notify.get"


# --------------------------------------------------------------------------
# Objects (PROTOCOL.md, "Objects"). Each is declared once, here; the store
# builds them, handlers return them inside results, the encoder writes them.
# A field declared with ``_server_only()`` never goes on the wire.
#
# Treat them as immutable; they are not ``frozen`` because a frozen
# dataclass's ``__init__`` is ~8x slower (object.__setattr__ per field) and
# the write path builds four of them per message.


def _server_only(default: Any = None) -> Any:
    """A result field the server reads but never sends (e.g. a replay cursor)."""
    return dataclasses.field(default=default, metadata={"wire": False})


@dataclasses.dataclass(slots=True, kw_only=True)
class Message:
    """A visitor, agent or system message (PROTOCOL.md, "Message")."""

    id: int
    conversation_id: int
    seq: int  #: 1, 2, 3… per conversation, no gaps
    author_kind: str  #: visitor, agent or system
    author_id: int
    author_name: str | None  #: the agent's name, or the visitor's display name, when sent
    client_id: str
    body: str  #: "" once deleted
    created_at: int
    event_id: int
    edited_at: int | None = None  #: when its author last edited it (PROTOCOL.md, "Editing and deleting")
    deleted: bool = False  #: its author deleted it; ``body`` is then empty
    attachments: list[Attachment] = dataclasses.field(default_factory=list)  #: PROTOCOL.md, "Attachments"


@dataclasses.dataclass(slots=True, kw_only=True)
class PrivateNote:
    """A private note: agents only, with its own ``seq`` counter."""

    id: int
    conversation_id: int
    seq: int
    author_kind: str  #: always "agent"
    author_id: int
    author_name: str | None
    client_id: str
    body: str
    created_at: int
    event_id: int
    private: bool = True
    attachments: list[Attachment] = dataclasses.field(default_factory=list)  #: PROTOCOL.md, "Attachments"


@dataclasses.dataclass(slots=True, kw_only=True)
class Conversation:
    """A conversation as everyone sees it (PROTOCOL.md, "Conversation")."""

    id: int
    visitor_id: int
    status: str  #: open, pending, resolved or snoozed
    assignee_id: int | None
    created_at: int
    last_activity: int
    last_seq: int
    unread_agent: int
    unread_visitor: int
    preview: str
    team_id: int | None = None  #: the team whose inbox it is in (PROTOCOL.md, "Teams")
    label_ids: list[int] = dataclasses.field(default_factory=list)  #: its labels' ids, ascending
    snoozed_until: int | None = None  #: snoozed: when it wakes (ms); null while snoozed: until the visitor writes
    assign_reason: str | None = None  #: why it has its assignee: auto, manual or transfer (null: unassigned)


@dataclasses.dataclass(slots=True, kw_only=True)
class VisitorAttribute:
    """One custom attribute of a visitor (PROTOCOL.md, "Custom attributes")."""

    value: Any  #: a string, number or boolean; a date is its ISO 8601 string
    type: str  #: string, number, boolean or date
    verified: bool  #: passed through a verified identity; else the page's say-so


@dataclasses.dataclass(slots=True, kw_only=True)
class Visitor:
    """A visitor as agents see them (PROTOCOL.md, "Visitor")."""

    id: int
    name: str | None
    email: str | None
    display_name: str  #: the name, or "Visitor #<id>" when none was given
    user_id: str | None
    verified: bool
    browser: str | None
    os: str | None
    language: str | None
    timezone: str | None
    page_url: str | None
    page_title: str | None
    referrer: str | None
    first_seen: int
    last_seen: int
    ip: str | None = None  #: only while the tenant's ``store_ip`` is on
    country: str | None = None  #: ISO 3166-1 alpha-2, from the address (PROTOCOL.md, "Location")
    region: str | None = None  #: with ``--geoip`` only
    city: str | None = None  #: with ``--geoip`` only
    visits: int = 1  #: hellos at least 30 minutes apart
    #: by name (PROTOCOL.md, "Custom attributes")
    attributes: dict[str, VisitorAttribute] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True, kw_only=True)
class ConversationWithVisitor(Conversation):
    """A Conversation plus its Visitor: what agents list and are told of."""

    visitor: Visitor


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentProfile:
    """An agent's stored fields, without presence."""

    id: int
    tenant_id: int
    email: str
    name: str
    role: str  #: admin or agent
    active: bool
    away: bool = False  #: set themselves Away (or went idle): visitors are not told someone is there


@dataclasses.dataclass(slots=True, kw_only=True)
class Agent(AgentProfile):
    """An agent with presence (PROTOCOL.md, "Agent")."""

    online: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class Tenant:
    """The workspace an agent belongs to."""

    id: int
    slug: str
    name: str
    site_key: str


@dataclasses.dataclass(slots=True, kw_only=True)
class Team:
    """A group of agents (PROTOCOL.md, "Teams")."""

    id: int
    name: str
    member_ids: list[int]  #: ascending


@dataclasses.dataclass(slots=True, kw_only=True)
class Label:
    """A label agents put on conversations (PROTOCOL.md, "Labels")."""

    id: int
    name: str
    color: str  #: #rrggbb


@dataclasses.dataclass(slots=True, kw_only=True)
class CannedResponse:
    """A canned response (PROTOCOL.md, "Canned responses")."""

    id: int
    scope: str  #: tenant, team or personal
    team_id: int | None  #: the team's, for scope team
    agent_id: int | None  #: the owner's, for scope personal
    shortcut: str
    title: str
    body: str  #: may hold {{variable|default}} and {{?prompt}}
    updated_at: int


_C = TypeVar("_C", bound="PublicConfig")


@dataclasses.dataclass(slots=True, kw_only=True)
class PublicConfig:
    """The widget configuration visitors receive (PROTOCOL.md, "Widget configuration")."""

    business_name: str
    color: str
    position: str
    greeting: str
    launcher_label: str
    away_message: str
    business_hours: dict[str, Any]
    prechat: dict[str, Any]
    sound: bool
    language: str = "en"
    translations: dict[str, Any] = dataclasses.field(default_factory=dict)
    max_upload_mb: int  #: the largest upload, in MB (PROTOCOL.md, "Attachments")
    upload_kinds: list[str]  #: the kinds of file accepted, of UPLOAD_KINDS

    @classmethod
    def of(cls: type[_C], config: Mapping[str, Any]) -> _C:
        """The typed form of a configuration mapping (stored keys the type
        does not know are dropped)."""
        return cls(**{name: config[name] for name in _names(cls)})


@dataclasses.dataclass(slots=True, kw_only=True)
class WidgetConfig(PublicConfig):
    """The full configuration, admin-only keys included."""

    allowed_origins: list[str]
    require_identity: bool
    auto_assign: bool
    auto_assign_teams: list[int]
    agent_capacity: int
    reassign_grace_minutes: int
    edit_window_minutes: int
    reply_assignee_only: bool
    store_ip: bool = True
    csat: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigField:
    """One key of the widget configuration, declared once (PROTOCOL.md,
    "Widget configuration"). The server's defaults and checks
    (``domain.DEFAULT_CONFIG``, ``validate_config_patch``), the console's
    settings dialog and its checks, and the widget's fallbacks (compared by
    ``tests/widget/test_config_defaults.py``) all read it; ``tests/test_docs.py``
    compares it with the doc's table."""

    name: str
    type: type  #: str, bool, int, list or dict
    default: Any
    description: str  #: the "meaning" column of PROTOCOL.md's table
    max_len: int | None = None  #: text: most characters; list: most entries
    maximum: int | None = None  #: a whole number: the highest value (the lowest is 0)
    required: bool = False  #: text that must not be blank
    choices: tuple[str, ...] | None = None
    public: bool = True  #: visitors receive it (the public configuration)


#: Every widget configuration key, in the order of :class:`WidgetConfig`.
#: The widget's languages (widget/i18n-LANG.js; English is built into widget.js).
WIDGET_LANGUAGES: Final[tuple[str, ...]] = ("en", "de", "fr", "es", "pt")

#: Every string the widget shows, in English: widget.js passes each through ``t()``, and a language's
#: file (widget/i18n-LANG.js) maps each to its words (tests/widget/test_i18n.py holds all three to it).
#: The tenant's ``translations`` override any of them per language, keyed by the English text, and
#: give :data:`WIDGET_TENANT_TEXTS` per language.
WIDGET_STRINGS: Final[tuple[str, ...]] = (
    "Dismiss",
    "Close chat",
    "Conversation",
    "Show earlier messages",
    "Messages",
    "Before we start",
    "Tell us who you are so we can follow up.",
    "Start chat",
    "You\u2019re offline. Your messages will be sent when the connection is back.",
    "Your email address",
    "Save",
    "Message",
    "Write a message\u2026",
    "Send message",
    "Powered by Frontdesk",
    "Offline",
    "Connecting\u2026",
    "Reconnecting\u2026",
    "Away right now",
    "Online \u00b7 we reply in a few minutes",
    "We reply in a few minutes",
    "We\u2019ll reply to {email}.",
    "1 unread message",
    "{n} unread messages",
    "{name} is typing\u2026",
    "An agent",
    "Name",
    "Email",
    "(optional)",
    "Message deleted",
    "Retry",
    "Not sent",
    "Retry sending message",
    "Sending\u2026",
    "Waiting for connection\u2026",
    "Seen",
    "Sent",
    "edited",
)
#: The tenant's own texts, given per language in ``translations`` too.
WIDGET_TENANT_TEXTS: Final[tuple[str, ...]] = ("greeting", "away_message", "launcher_label")

CONFIG_FIELDS: Final[tuple[ConfigField, ...]] = (
    ConfigField("business_name", str, "", "shown in the widget header", max_len=80),
    ConfigField("color", str, "#2563eb", "launcher and header colour"),
    ConfigField("position", str, "right", "launcher corner", choices=("right", "left")),
    ConfigField("greeting", str, "Hi there! How can we help?", "first message shown", max_len=500),
    ConfigField("launcher_label", str, "Chat with us", "launcher's accessible label", max_len=40, required=True),
    ConfigField(
        "away_message",
        str,
        "We're away right now. Leave a message and your email, and we'll get back to you.",
        "shown when no agent is online or outside business hours",
        max_len=500,
    ),
    ConfigField(
        "business_hours",
        dict,
        {"enabled": False, "timezone": "UTC", "days": {}},
        '`days` maps `mon`…`sun` to a list of `["HH:MM", "HH:MM"]` ranges',
    ),
    ConfigField(
        "prechat",
        dict,
        {"enabled": False, "fields": [{"name": "name", "required": False}, {"name": "email", "required": False}]},
        "pre-chat form; field names are `name` and `email`",
    ),
    ConfigField("sound", bool, True, "play a sound on new agent messages"),
    # The widget's language (PROTOCOL.md, "Widget language"): the visitor's browser picks one of WIDGET_LANGUAGES.
    ConfigField(
        "language",
        str,
        "en",
        "the widget's language when none of the visitor's browser languages is shipped",
        choices=WIDGET_LANGUAGES,
    ),
    ConfigField(
        "translations",
        dict,
        {},
        "per language: widget strings by their English text; `greeting`, `away_message`, `launcher_label`",
    ),
    ConfigField(
        "max_upload_mb", int, 20, "the largest file a visitor or agent may upload, in MB (1,000,000 bytes)", maximum=100
    ),
    ConfigField(
        "upload_kinds",
        list,
        list(UPLOAD_KINDS),
        "kinds of file accepted: `images`, `pdf`, `text`, `office`, `archives`; `[]`: no uploads",
        max_len=len(UPLOAD_KINDS),
    ),
    ConfigField(
        "allowed_origins",
        list,
        [],
        "`example.com` or `localhost:8080`; exact match of the `Origin` host (and port when given)",
        max_len=100,
        public=False,
    ),
    ConfigField("require_identity", bool, False, "visitors must pass identity verification to send", public=False),
    ConfigField(
        "auto_assign",
        bool,
        False,
        "hand waiting conversations to available agents, see *Auto-assignment*",
        public=False,
    ),
    ConfigField(
        "auto_assign_teams",
        list,
        [],
        "ids of the teams whose conversations go to their own members by themselves",
        max_len=100,
        public=False,
    ),
    ConfigField(
        "agent_capacity",
        int,
        5,
        "most open conversations the auto-assigner gives one agent",
        maximum=1000,
        public=False,
    ),
    ConfigField(
        "reassign_grace_minutes",
        int,
        10,
        "a reopened conversation whose assignee is offline this long goes back to the queue",
        maximum=24 * 60,
        public=False,
    ),
    ConfigField(
        "edit_window_minutes",
        int,
        10,
        "how long after sending an agent may edit or delete their message; `0`: never",
        maximum=24 * 60,
        public=False,
    ),
    ConfigField(
        "reply_assignee_only",
        bool,
        False,
        "only the assignee may reply in an assigned conversation (others get `forbidden`)",
        public=False,
    ),
    # Visitor context (PROTOCOL.md, "Location").
    ConfigField("store_ip", bool, True, "keep visitors' IP addresses (off: the country is still shown)", public=False),
    ConfigField(
        "csat",
        str,
        "five",
        "resolving asks the visitor for a rating: `five` (1–5 stars), `thumbs` (up or down) or `off`",
        choices=("five", "thumbs", "off"),
        public=False,
    ),
)

#: :data:`CONFIG_FIELDS` by name.
CONFIG_FIELD: Final[Mapping[str, ConfigField]] = {f.name: f for f in CONFIG_FIELDS}


# --------------------------------------------------------------------------
# Results: the fields of each request's ``reply`` frame (PROTOCOL.md, the
# endpoint tables). A handler returns one; :func:`encode_reply` writes it.


@dataclasses.dataclass(slots=True, kw_only=True)
class Result:
    """Base of every reply's fields; also the empty ``{}`` reply."""


@dataclasses.dataclass(slots=True, kw_only=True)
class Attachment(Result):
    """A stored file (PROTOCOL.md, "Attachments"): an object in a Message's or Note's ``attachments``, and the
    reply of ``file.finish``. ``mime`` comes from the bytes, never from the client."""

    id: str
    name: str
    mime: str
    size: int  #: bytes, as stored (an image after its re-encoding)
    width: int | None = None  #: images only
    height: int | None = None  #: images only
    thumbnail: bool = False  #: a thumbnail exists (``file.links`` gives its ``thumbnail_url``)
    status: str = "ready"  #: ready; pending (being scanned); refused (in ``file.ready`` only: infected, deleted)


@dataclasses.dataclass(slots=True, kw_only=True)
class FileBeginResult(Result):
    """``file.begin``: where the binary frames of this upload go, and from which byte."""

    upload: str  #: the upload's key, kept across a reconnect (``file.begin`` with ``resume``)
    handle: int  #: this socket's number for the upload, the first 4 bytes of each binary frame
    offset: int  #: the next byte the server expects (0, or what it durably holds of a resumed upload)
    chunk: int  #: the most data bytes one binary frame may carry
    window: int  #: the most bytes in flight before a ``file.progress``


@dataclasses.dataclass(slots=True, kw_only=True)
class FileLink:
    """A signed, short-lived link to a file (and to its thumbnail, when it has one)."""

    url: str
    thumbnail_url: str | None
    expires_at: int  #: Unix seconds


@dataclasses.dataclass(slots=True, kw_only=True)
class FileLinksResult(Result):
    """``file.links``: a link per requested id the caller may read (the others are left out)."""

    links: dict[str, FileLink]


@dataclasses.dataclass(slots=True, kw_only=True)
class FileProgress:
    """``file.progress``: the server holds ``received`` bytes of ``upload``."""

    upload: str
    received: int


@dataclasses.dataclass(slots=True, kw_only=True)
class PingResult(Result):
    server_time: int


@dataclasses.dataclass(slots=True, kw_only=True)
class Resume(Result):
    """The cursor fields of a ``hello`` or ``subscribe`` reply (PROTOCOL.md,
    "Resuming"). ``replay_from``, server-side only, is the cursor to replay
    from after the reply is queued (None: nothing to replay, already live);
    ``replay_first``, also server-side only, that replay's first page when already read."""

    epoch: str
    last_event_id: int
    reset_required: bool
    replay_from: int | None = _server_only()
    #: Server-side only: the first page of that replay (frames, the last event_id read, whether more may follow),
    #: when it was read with the cursor, in the same snapshot (a ``hello``: one read, not two; issue 12).
    replay_first: tuple[list[str], int, bool] | None = _server_only()


@dataclasses.dataclass(slots=True, kw_only=True)
class HelloResult(Resume):
    token: str
    visitor: Visitor
    config: PublicConfig
    conversations: list[Conversation]
    agents_online: bool
    within_hours: bool
    #: The newest survey of the most recent conversation while it is resolved and the survey still takes a
    #: rating (PROTOCOL.md, "Satisfaction surveys"): a visitor who comes back sees the card again.
    csat: Csat | None = None


@dataclasses.dataclass(slots=True, kw_only=True)
class SubscribeResult(Resume):
    pass


@dataclasses.dataclass(slots=True, kw_only=True)
class VisitorResult(Result):
    """``identify`` and ``profile.update``."""

    visitor: Visitor


@dataclasses.dataclass(slots=True, kw_only=True)
class IdentifyResult(VisitorResult):
    """``identify``: the visitor, and the conversations it may now read (a
    verified identity's other devices' too: PROTOCOL.md, "Identity")."""

    conversations: list[Conversation]


@dataclasses.dataclass(slots=True, kw_only=True)
class IdentitySecret:
    """What an admin sees of the tenant's identity secrets (PROTOCOL.md, "Identity")."""

    secret: str  #: the HMAC key, used as this text's UTF-8 bytes
    previous: str | None  #: still accepted until the rotation is ended
    rotated_at: int | None


@dataclasses.dataclass(slots=True, kw_only=True)
class IdentitySecretResult(Result):
    """``identity_secret.get``, ``.rotate`` and ``.end_rotation``."""

    identity_secret: IdentitySecret


@dataclasses.dataclass(slots=True, kw_only=True)
class Webhook:
    """A tenant's webhook endpoint (docs/PROTOCOL.md, "Webhooks"); never its secrets."""

    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    #: Why the server switched it off ("" when on, or switched off by an admin).
    disabled_reason: str
    #: Failed attempts in a row (a success resets it).
    failures: int
    #: Whether a previous secret still signs beside the current one.
    rotating: bool
    created_at: int


@dataclasses.dataclass(slots=True, kw_only=True)
class WebhookDelivery:
    """One logged delivery of an event to a webhook."""

    id: int
    webhook_id: int
    event_id: int | None
    kind: str
    msg_id: str  #: the ``webhook-id`` header, the same on every attempt
    status: str  #: pending, delivered or failed (gave up; redeliver to try again)
    attempts: int
    response_status: int | None
    last_error: str
    created_at: int
    updated_at: int


@dataclasses.dataclass(slots=True, kw_only=True)
class WebhooksResult(Result):
    """``webhook.list``."""

    webhooks: list[Webhook]


@dataclasses.dataclass(slots=True, kw_only=True)
class WebhookResult(Result):
    """``webhook.update``, ``webhook.end_rotation``."""

    webhook: Webhook


@dataclasses.dataclass(slots=True, kw_only=True)
class WebhookSecretResult(WebhookResult):
    """``webhook.create``, ``webhook.rotate_secret``: the new signing secret, shown this once."""

    secret: str


@dataclasses.dataclass(slots=True, kw_only=True)
class WebhookDeliveriesResult(Result):
    """``webhook.deliveries``."""

    deliveries: list[WebhookDelivery]


@dataclasses.dataclass(slots=True, kw_only=True)
class WebhookDeliveryResult(Result):
    """``webhook.redeliver``: the delivery, queued again."""

    delivery: WebhookDelivery


@dataclasses.dataclass(slots=True, kw_only=True)
class EmailSettings:
    """A tenant's email settings (docs/PROTOCOL.md, "Email"); the password only as ``password_set``."""

    enabled: bool
    host: str
    port: int
    security: str
    username: str
    password_set: bool
    from_address: str
    reply_domain: str
    delay_minutes: int
    #: IMAP polling of a mailbox for replies ("" host: off); the password only as ``imap_password_set``.
    imap_host: str
    imap_port: int
    imap_security: str
    imap_username: str
    imap_password_set: bool
    imap_mailbox: str
    #: The last sending failure ("" once a send succeeded), and when.
    last_error: str
    last_error_at: int | None


@dataclasses.dataclass(slots=True, kw_only=True)
class HeldEmail:
    """An email reply from an address other than the visitor's, held for an agent."""

    id: int
    conversation_id: int
    visitor_id: int
    sender: str
    body: str
    created_at: int


@dataclasses.dataclass(slots=True, kw_only=True)
class EmailSettingsResult(Result):
    """``email.settings.get``, ``email.settings.set``; ``notify``: the asking agent's own notification emails."""

    email: EmailSettings
    notify: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class HeldEmailsResult(Result):
    """``email.held.list``."""

    held: list[HeldEmail]


@dataclasses.dataclass(slots=True, kw_only=True)
class EmailNotifyResult(Result):
    """``email.notify.set``, ``email.notify.get``."""

    enabled: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class ConversationResult(Result):
    """``conversation.start``."""

    conversation: Conversation


@dataclasses.dataclass(slots=True, kw_only=True)
class MessageAck(Result):
    """``message.send`` and ``reply`` (PROTOCOL.md, "Writes and delivery guarantees")."""

    client_id: str
    conversation_id: int
    seq: int
    event_id: int
    server_time: int
    message: Message
    conversation: Conversation


@dataclasses.dataclass(slots=True, kw_only=True)
class NoteAck(Result):
    """``note``."""

    client_id: str
    conversation_id: int
    seq: int
    event_id: int
    server_time: int
    note: PrivateNote


@dataclasses.dataclass(slots=True, kw_only=True)
class ConversationChange(Result):
    """``resolve``, ``reopen``, ``pend``, ``assign`` and ``unassign``."""

    conversation: Conversation
    event_id: int


@dataclasses.dataclass(slots=True, kw_only=True)
class MessageChange(Result):
    """``message.edit`` and ``message.delete``: the message as it is now."""

    message: Message
    conversation: Conversation
    event_id: int


@dataclasses.dataclass(slots=True, kw_only=True)
class MessageOriginal:
    """One text a message had before an edit or its deletion (admins only)."""

    body: str
    change: str  #: edited or deleted
    agent_id: int | None
    changed_at: int


@dataclasses.dataclass(slots=True, kw_only=True)
class MessageOriginalsResult(Result):
    """``message.originals``: oldest first."""

    originals: list[MessageOriginal]


@dataclasses.dataclass(slots=True, kw_only=True)
class HistoryResult(Result):
    """``history`` on the visitor endpoint."""

    messages: list[Message]
    has_more: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentHistoryResult(HistoryResult):
    """``history`` on the agent endpoint: notes of the same stretch too."""

    notes: list[PrivateNote]


@dataclasses.dataclass(slots=True, kw_only=True)
class SessionResult(Result):
    """``auth``; ``agent.online`` is true (this socket is online)."""

    agent: Agent
    tenant: Tenant
    epoch: str
    last_event_id: int


@dataclasses.dataclass(slots=True, kw_only=True)
class LoginResult(SessionResult):
    token: str


@dataclasses.dataclass(slots=True, kw_only=True)
class SnapshotResult(Result):
    conversations: list[ConversationWithVisitor]
    next_cursor: str | None
    epoch: str
    last_event_id: int


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentsResult(Result):
    agents: list[Agent]


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentResult(Result):
    """``agent.update``."""

    agent: Agent


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentAddResult(AgentResult):
    password: str  #: generated when none was given; shown once


@dataclasses.dataclass(slots=True, kw_only=True)
class ConfigResult(Result):
    """``config.get`` and ``config.set``."""

    config: WidgetConfig


@dataclasses.dataclass(slots=True, kw_only=True)
class VisitorDetails(Result):
    """``visitor.get``."""

    visitor: Visitor
    conversations: list[Conversation]


@dataclasses.dataclass(slots=True, kw_only=True)
class ConversationViewer:
    """An agent who has a conversation open (``viewing``)."""

    agent_id: int
    name: str


@dataclasses.dataclass(slots=True, kw_only=True)
class ViewingResult(Result):
    """``viewing``: the other agents who have that conversation open."""

    viewers: list[ConversationViewer]


@dataclasses.dataclass(slots=True, kw_only=True)
class VisitorsResult(Result):
    """``visitor.find``: most recently seen first."""

    visitors: list[Visitor]


@dataclasses.dataclass(slots=True, kw_only=True)
class Csat:
    """A satisfaction survey of one resolution (PROTOCOL.md, "Satisfaction surveys")."""

    id: int
    conversation_id: int
    agent_id: int | None  #: the agent who handled the conversation
    scale: str  #: five or thumbs
    rating: int | None  #: null until rated
    comment: str | None
    created_at: int
    rated_at: int | None
    expires_at: int  #: the rating may be given or changed until then


@dataclasses.dataclass(slots=True, kw_only=True)
class CsatResult(Result):
    """``csat.submit``."""

    csat: Csat


@dataclasses.dataclass(slots=True, kw_only=True)
class CsatListResult(Result):
    """``csat.list``."""

    surveys: list[Csat]


@dataclasses.dataclass(slots=True, kw_only=True)
class ExportEntry:
    """One export: who made it, of what, when (PROTOCOL.md, "Exports")."""

    id: int
    agent_id: int
    kind: str  #: conversation, conversations or messages
    format: str  #: json, csv, pdf or txt
    filter: str  #: the filter's query text, or the conversation
    rows: int
    created_at: int


@dataclasses.dataclass(slots=True, kw_only=True)
class ExportRecordsResult(Result):
    """``export.records`` and ``export.record`` (the new entry alone)."""

    records: list[ExportEntry]


@dataclasses.dataclass(slots=True, kw_only=True)
class DurationStats:
    """One duration's statistics in seconds, over the episodes (or replies) of a report: ``null`` when there
    are none. ``business_*`` count only the time inside the business hours in force when it happened."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None
    business_mean: float | None
    business_median: float | None
    business_p90: float | None


@dataclasses.dataclass(slots=True, kw_only=True)
class CsatStats:
    """Satisfaction in a report: ``score`` is the share (0–1) of ratings that are 4–5 stars or a thumbs up,
    ``response_rate`` the share of surveys sent that were rated; ``null`` when there are none."""

    surveys: int
    responses: int
    score: float | None
    response_rate: float | None


@dataclasses.dataclass(slots=True, kw_only=True)
class ReportSummary:
    """The totals of a period (docs/REPORTS.md)."""

    conversations: int  #: new conversations started in the period
    messages_in: int  #: visitors' messages
    messages_out: int  #: agents' replies (notes excluded)
    resolutions: int  #: episodes resolved in the period
    first_response: DurationStats  #: per episode started in the period
    reply_time: DurationStats  #: per agent reply in the period
    resolution: DurationStats  #: per episode resolved in the period
    csat: CsatStats


@dataclasses.dataclass(slots=True, kw_only=True)
class ReportBucket:
    """One hour, day, week (starting Monday) or month of a report, named by its first instant in the tenant's
    time zone as ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:00``."""

    bucket: str
    conversations: int
    messages_in: int
    messages_out: int
    resolutions: int
    first_response_median: float | None
    resolution_median: float | None


@dataclasses.dataclass(slots=True, kw_only=True)
class ReportRow:
    """One agent's or team's figures in a report."""

    id: int
    name: str
    conversations: int  #: episodes they handled (assignee at resolution, else at their first reply)
    replies: int
    first_response_median: float | None
    resolution_median: float | None
    csat: CsatStats


@dataclasses.dataclass(slots=True, kw_only=True)
class CsatComment:
    """A rating with a comment, in a report (newest first)."""

    conversation_id: int
    agent_id: int | None
    rating: int
    scale: str
    comment: str
    rated_at: int


@dataclasses.dataclass(slots=True, kw_only=True)
class ReportResult(Result):
    """``report.get`` (PROTOCOL.md, "Reports"). ``previous`` is the same summary for the period of equal
    length just before. ``heatmap[d][h]`` counts the new conversations on weekday ``d`` (0 = Monday) at hour
    ``h``, in the tenant's time zone. ``generated_at`` lets a client show how old a cached report is."""

    start: str
    end: str
    group: str
    time_zone: str
    generated_at: int
    summary: ReportSummary
    previous: ReportSummary
    volume: list[ReportBucket]
    heatmap: list[list[int]]
    agents: list[ReportRow]
    teams: list[ReportRow]
    channels: dict[str, ReportSummary]
    csat_comments: list[CsatComment]


@dataclasses.dataclass(slots=True, kw_only=True)
class SearchMatch:
    """The newest message or note of a conversation that matches a ``search``
    (PROTOCOL.md, "Search"): a plain-text ``snippet`` of its body and where
    the query's words are in it, so a client highlights without tokenizing."""

    kind: str  #: "message" or "note"
    id: int  #: the Message's or Note's id
    seq: int
    author_kind: str  #: visitor, agent or system
    created_at: int
    snippet: str  #: plain text, at most ~160 characters, "…" where cut
    highlights: list[list[int]]  #: [start, end) offsets in code points into ``snippet``


@dataclasses.dataclass(slots=True, kw_only=True)
class SearchHit:
    """One conversation found by ``search``, with its newest match."""

    conversation: ConversationWithVisitor
    match: SearchMatch


@dataclasses.dataclass(slots=True, kw_only=True)
class SearchResult(Result):
    """``search``; ``next_before`` is null on the last page."""

    hits: list[SearchHit]
    next_before: str | None


@dataclasses.dataclass(slots=True, kw_only=True)
class TeamsResult(Result):
    """``teams``."""

    teams: list[Team]


@dataclasses.dataclass(slots=True, kw_only=True)
class TeamResult(Result):
    """``team.create`` and ``team.update``."""

    team: Team
    event_id: int


@dataclasses.dataclass(slots=True, kw_only=True)
class LabelsResult(Result):
    """``labels``."""

    labels: list[Label]


@dataclasses.dataclass(slots=True, kw_only=True)
class LabelResult(Result):
    """``label.create`` and ``label.update``."""

    label: Label
    event_id: int


@dataclasses.dataclass(slots=True, kw_only=True)
class Deleted(Result):
    """``team.delete``, ``label.delete`` and ``canned.delete``: the deletion's
    event (0 for a personal canned response, which has none)."""

    event_id: int


@dataclasses.dataclass(slots=True, kw_only=True)
class CannedListResult(Result):
    """``canned.list``."""

    responses: list[CannedResponse]


@dataclasses.dataclass(slots=True, kw_only=True)
class CannedResult(Result):
    """``canned.save``."""

    response: CannedResponse


#: The result of each request type (both endpoints where they differ).
RESULTS: Final[Mapping[tuple[Endpoint, str], type[Result]]] = {
    **{(e, "ping"): PingResult for e in Endpoint},
    **{(e, "typing"): Result for e in Endpoint},
    **{(e, "seen"): Result for e in Endpoint},
    (Endpoint.VISITOR, "hello"): HelloResult,
    (Endpoint.VISITOR, "identify"): IdentifyResult,
    (Endpoint.VISITOR, "conversation.start"): ConversationResult,
    (Endpoint.VISITOR, "message.send"): MessageAck,
    (Endpoint.VISITOR, "history"): HistoryResult,
    (Endpoint.VISITOR, "profile.update"): VisitorResult,
    (Endpoint.VISITOR, "page"): Result,
    (Endpoint.VISITOR, "attributes.set"): VisitorResult,
    (Endpoint.AGENT, "login"): LoginResult,
    (Endpoint.AGENT, "auth"): SessionResult,
    (Endpoint.AGENT, "logout"): Result,
    (Endpoint.AGENT, "subscribe"): SubscribeResult,
    (Endpoint.AGENT, "snapshot"): SnapshotResult,
    (Endpoint.AGENT, "history"): AgentHistoryResult,
    (Endpoint.AGENT, "reply"): MessageAck,
    (Endpoint.AGENT, "note"): NoteAck,
    **{(Endpoint.AGENT, t): ConversationChange for t in ("resolve", "reopen", "pend", "assign", "unassign")},
    (Endpoint.AGENT, "snooze"): ConversationChange,
    (Endpoint.AGENT, "transfer"): ConversationChange,
    **{(e, t): MessageChange for e in Endpoint for t in ("message.edit", "message.delete")},
    (Endpoint.AGENT, "message.originals"): MessageOriginalsResult,
    (Endpoint.AGENT, "availability.set"): AgentResult,
    (Endpoint.AGENT, "me.update"): AgentResult,
    (Endpoint.AGENT, "agents"): AgentsResult,
    (Endpoint.AGENT, "agent.add"): AgentAddResult,
    (Endpoint.AGENT, "agent.update"): AgentResult,
    (Endpoint.AGENT, "config.get"): ConfigResult,
    (Endpoint.AGENT, "config.set"): ConfigResult,
    (Endpoint.AGENT, "visitor.get"): VisitorDetails,
    (Endpoint.AGENT, "viewing"): ViewingResult,
    (Endpoint.AGENT, "visitor.find"): VisitorsResult,
    (Endpoint.VISITOR, "csat.submit"): CsatResult,
    (Endpoint.VISITOR, "transcript.email"): Result,
    (Endpoint.AGENT, "csat.list"): CsatListResult,
    (Endpoint.AGENT, "export.records"): ExportRecordsResult,
    (Endpoint.AGENT, "report.get"): ReportResult,
    (Endpoint.AGENT, "export.record"): ExportRecordsResult,
    (Endpoint.AGENT, "search"): SearchResult,
    **{(e, "file.begin"): FileBeginResult for e in Endpoint},
    **{(e, "file.finish"): Attachment for e in Endpoint},
    **{(e, "file.cancel"): Result for e in Endpoint},
    **{(e, "file.links"): FileLinksResult for e in Endpoint},
    (Endpoint.AGENT, "teams"): TeamsResult,
    **{(Endpoint.AGENT, t): TeamResult for t in ("team.create", "team.update")},
    (Endpoint.AGENT, "labels"): LabelsResult,
    **{(Endpoint.AGENT, t): LabelResult for t in ("label.create", "label.update")},
    **{(Endpoint.AGENT, t): ConversationChange for t in ("label.add", "label.remove")},
    (Endpoint.AGENT, "canned.list"): CannedListResult,
    (Endpoint.AGENT, "canned.save"): CannedResult,
    **{(Endpoint.AGENT, t): Deleted for t in ("team.delete", "label.delete", "canned.delete")},
    **{
        (Endpoint.AGENT, t): IdentitySecretResult
        for t in ("identity_secret.get", "identity_secret.rotate", "identity_secret.end_rotation")
    },
    (Endpoint.AGENT, "webhook.list"): WebhooksResult,
    (Endpoint.AGENT, "webhook.create"): WebhookSecretResult,
    (Endpoint.AGENT, "webhook.update"): WebhookResult,
    (Endpoint.AGENT, "webhook.delete"): Result,
    (Endpoint.AGENT, "webhook.rotate_secret"): WebhookSecretResult,
    (Endpoint.AGENT, "webhook.end_rotation"): WebhookResult,
    (Endpoint.AGENT, "webhook.deliveries"): WebhookDeliveriesResult,
    (Endpoint.AGENT, "webhook.redeliver"): WebhookDeliveryResult,
    (Endpoint.AGENT, "email.settings.get"): EmailSettingsResult,
    (Endpoint.AGENT, "email.settings.set"): EmailSettingsResult,
    (Endpoint.AGENT, "email.test"): Result,
    (Endpoint.AGENT, "email.held.list"): HeldEmailsResult,
    (Endpoint.AGENT, "email.held.accept"): Result,
    (Endpoint.AGENT, "email.held.reject"): Result,
    (Endpoint.AGENT, "email.notify.set"): EmailNotifyResult,
    (Endpoint.AGENT, "email.notify.get"): EmailNotifyResult,
}


# --------------------------------------------------------------------------
# Event data: the ``data`` of each event ``kind``, per audience (PROTOCOL.md,
# "Events").


@dataclasses.dataclass(slots=True, kw_only=True)
class MessageCreated(Message):
    """A Message plus the updated Conversation. A status or assignee change
    the message caused (a visitor reopening, the first reply assigning) is in
    ``conversation`` and gets no ``conversation.updated`` of its own."""

    conversation: Conversation


@dataclasses.dataclass(slots=True, kw_only=True)
class MessageUpdated(MessageCreated):
    """``message.updated``: the Message as it is now (``edited_at`` or
    ``deleted`` set) plus the Conversation (its ``preview`` follows an edit of
    the newest message)."""


@dataclasses.dataclass(slots=True, kw_only=True)
class ConversationUpdated(Conversation):
    """What changed, and the agent who changed it (null: the visitor's doing)."""

    #: resolved, open, pending, assigned, unassigned, seen_by_visitor, seen_by_agent; snoozed, woken (a snooze
    #: ended on time; the visitor's message or a reopen wakes it too), auto_assigned, queued (back in the queue),
    #: transferred (to an agent and/or a team)
    change: str
    actor_id: int | None


@dataclasses.dataclass(slots=True, kw_only=True)
class VisitorConversationUpdated(Conversation):
    """``conversation.updated`` as visitors get it: no ``actor_id``."""

    change: str


@dataclasses.dataclass(slots=True, kw_only=True)
class VisitorTyping:
    """``typing`` to agents when a visitor types."""

    conversation_id: int
    is_typing: bool
    visitor_id: int


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentTypingToVisitor:
    """``typing`` to the visitor when an agent types."""

    conversation_id: int
    is_typing: bool
    name: str | None


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentTyping(AgentTypingToVisitor):
    """``typing`` to the other agents when an agent types."""

    agent_id: int


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentViewing:
    """``viewing`` to the other agents: ``agent_id`` opened (``viewing``
    true) or left the conversation."""

    conversation_id: int
    agent_id: int
    name: str
    viewing: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class SeenUpTo:
    """``seen``: one side read the conversation up to ``seq``."""

    conversation_id: int
    seq: int
    side: str  #: visitor or agent


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentSeen(SeenUpTo):
    """``seen`` to the other agents when an agent reads."""

    agent_id: int


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentPresence:
    """``presence`` to agents."""

    agent_id: int
    online: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class VisitorPresence:
    """``presence`` to visitors: is anyone there?"""

    agents_online: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class ConfigUpdated(WidgetConfig):
    """``config.updated`` to agents: the full config and who changed it."""

    updated_by: int | None


@dataclasses.dataclass(slots=True, kw_only=True)
class AgentUpdated(AgentProfile):
    """``agent.updated``: ``sessions_revoked`` is true when the change ended
    the agent's sessions (disabled, or a new password)."""

    sessions_revoked: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class QueuePosition:
    """``queue`` to a visitor: their place among the conversations waiting for
    the auto-assigner (1: next); 0: no longer waiting (an agent has it)."""

    conversation_id: int
    position: int


@dataclasses.dataclass(slots=True, kw_only=True)
class TeamUpdated(Team):
    """``team.updated``: the team as it is now; ``deleted``: it is gone."""

    deleted: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class LabelUpdated(Label):
    """``label.updated``: the label as it is now; ``deleted``: it is gone
    (and off every conversation)."""

    deleted: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class CannedUpdated(CannedResponse):
    """``canned.updated``: a tenant or team canned response as it is now;
    ``deleted``: it is gone. Personal ones are never pushed."""

    deleted: bool


@dataclasses.dataclass(slots=True, kw_only=True)
class HeldEmailUpdated(HeldEmail):
    """``email.held``: a held email reply (PROTOCOL.md, "Email"). ``state`` ``held``: it waits for an agent;
    ``accepted`` (posted as the visitor's message) or ``rejected``: it is gone, ``body`` is empty and
    ``actor_id`` is the agent who decided."""

    state: str
    actor_id: int | None


@dataclasses.dataclass(slots=True, kw_only=True)
class VisitorErased:
    """``visitor.erased``: drop everything cached about this visitor."""

    visitor_id: int


#: The ``data`` type of each event kind: (agents' type or None, visitors' type
#: or None). None: that audience never gets the kind. Several types: any of them.
EVENT_DATA: Final[Mapping[str, tuple[tuple[type[Any], ...], tuple[type[Any], ...]]]] = {
    "message.created": ((MessageCreated,), (MessageCreated,)),
    "message.updated": ((MessageUpdated,), (MessageUpdated,)),
    "note.created": ((PrivateNote,), ()),
    "conversation.created": ((ConversationWithVisitor,), (Conversation,)),
    "conversation.updated": ((ConversationUpdated,), (VisitorConversationUpdated,)),
    "typing": ((VisitorTyping, AgentTyping), (AgentTypingToVisitor,)),
    "viewing": ((AgentViewing,), ()),
    "seen": ((SeenUpTo, AgentSeen), (SeenUpTo,)),
    "presence": ((AgentPresence,), (VisitorPresence,)),
    "config.updated": ((ConfigUpdated,), (PublicConfig,)),
    "agent.updated": ((AgentUpdated,), ()),
    "team.updated": ((TeamUpdated,), ()),
    "label.updated": ((LabelUpdated,), ()),
    "canned.updated": ((CannedUpdated,), ()),
    "visitor.updated": ((Visitor,), ()),
    "visitor.erased": ((VisitorErased,), ()),
    "csat.requested": ((Csat,), (Csat,)),
    "csat.submitted": ((Csat,), (Csat,)),
    "file.progress": ((FileProgress,), (FileProgress,)),
    "file.ready": ((Attachment,), (Attachment,)),
    "queue": ((), (QueuePosition,)),
    "email.held": ((HeldEmailUpdated,), ()),
}

#: Kinds that are never stored: no ``event_id``, never replayed.
EPHEMERAL_KINDS: Final = frozenset({"typing", "viewing", "seen", "presence", "file.progress", "file.ready", "queue"})


# --------------------------------------------------------------------------
# Server frames.


@dataclasses.dataclass(slots=True, kw_only=True)
class ReplyFrame:
    """``{"type": "reply", "ref": …, **result}``."""

    ref: str | None
    result: Result


@dataclasses.dataclass(slots=True, kw_only=True)
class ErrorFrame:
    """``{"type": "error", "ref", "code", "message", "field"}``; ``field``
    names the one request field at fault, else null."""

    ref: str | None
    code: ErrorCode
    message: str
    field: str | None = None
    upload: str | None = None  #: the upload an unsolicited upload error is about (PROTOCOL.md, "Attachments")


@dataclasses.dataclass(slots=True, kw_only=True)
class EventFrame:
    """``{"type": "event", "kind", "event_id"?, "conversation_id"?, "data"}``."""

    kind: str
    data: Any  #: one of the kind's EVENT_DATA types
    event_id: int | None = None  #: durable events only
    conversation_id: int | None = None


ServerFrame = ReplyFrame | ErrorFrame | EventFrame


def request_types(endpoint: Endpoint) -> Mapping[str, type[Request]]:
    """The request types accepted on ``endpoint``, by frame ``type``."""
    return _REGISTRY[endpoint]


# --------------------------------------------------------------------------
# Parsing.

_PLANS: dict[type[Request], tuple[tuple[str, Any, Mapping[str, Any], Any], ...]] = {}


def _plan(cls: type[Request]) -> tuple[tuple[str, Any, Mapping[str, Any], Any], ...]:
    """(name, type hint, constraints, default) of each field but ``ref``, computed once per class."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = get_type_hints(cls)
        plan = tuple((f.name, hints[f.name], f.metadata, f.default) for f in dataclasses.fields(cls) if f.name != "ref")
        _PLANS[cls] = plan
    return plan


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value, stopping early past ``limit``."""
    if limit < 0:
        return 1
    if isinstance(value, dict):
        return 1 + max((_depth(v, limit - 1) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v, limit - 1) for v in value), default=0)
    return 0


_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


def _check_field(name: str, value: Any, hint: Any, meta: Mapping[str, Any], ref: str | None) -> Any:
    def bad(why: str, code: ErrorCode = ErrorCode.INVALID) -> ProtocolError:
        return ProtocolError(code, f"field {name!r} {why}", ref, field=name)

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
            raise bad(f"is longer than {max_len} characters", code)
        if len(value) < meta.get("min_len", 0):
            raise bad("must not be empty" if meta.get("min_len") == 1 else "is too short")
        if meta.get("text") and not value.strip():
            raise bad("must not be blank")
        if meta.get("uuid") and not _UUID.match(value):
            raise bad("must be a UUID (8-4-4-4-12 hex digits)")
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise bad(f"must be one of {', '.join(choices)}")
    elif origin is dict:
        if not isinstance(value, dict):
            raise bad("must be an object")
    elif origin is list and getattr(base, "__args__", (str,))[0] is int:  # list[int] of ids (team members)
        if not isinstance(value, list):
            raise bad("must be an array")
        max_len = meta.get("max_len")
        if max_len is not None and len(value) > max_len:
            raise bad(f"has more than {max_len} entries")
        if any(not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_INT for v in value):
            raise bad("must hold ids (positive integers)")
    elif origin is list:  # of ids (attachment_ids, ids): short strings, no repeats
        if not isinstance(value, list):
            raise bad("must be a list")
        max_len = meta.get("max_len")
        if max_len is not None and len(value) > max_len:
            raise bad(f"has more than {max_len} entries", ErrorCode.TOO_LARGE)
        if len(value) < meta.get("min_len", 0):
            raise bad("must not be empty")
        if not all(isinstance(v, str) and 0 < len(v) <= MAX_FILE_ID_CHARS for v in value):
            raise bad(f"must hold strings of 1 to {MAX_FILE_ID_CHARS} characters")
        if len(set(value)) != len(value):
            raise bad("must not repeat an id")
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
        # PROTOCOL.md, "Requests": a ref that cannot be echoed is answered with "ref": null.
        raise ProtocolError(ErrorCode.INVALID, "field 'ref' must be a string of at most 64 characters", field="ref")
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
    kwargs: dict[str, Any] = {}
    for name, hint, meta, default in _plan(cls):
        value = obj.get(name)
        unless = meta.get("unless")
        if unless is not None and not obj.get(unless):  # a body without attachments: required, not blank
            kwargs[name] = _check_field(name, value, str, {**meta, "min_len": 1, "text": True}, ref)
            continue
        if value is None and default is not dataclasses.MISSING:
            kwargs[name] = default
            continue
        kwargs[name] = _check_field(name, value, hint, meta, ref)
    return cls(ref=ref, **kwargs)


# --------------------------------------------------------------------------
# Typed values to and from JSON. Objects, results and event data are frozen
# dataclasses; these functions are the only place that turns them into JSON
# and back (PROTOCOL.md is their contract; tests/test_docs.py checks it).

_WIRE_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _names(cls: type[Any]) -> tuple[str, ...]:
    """The wire field names of a dataclass, in declaration order (bases first)."""
    names = _WIRE_NAMES.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("wire", True))
        _WIRE_NAMES[cls] = names
    return names


def wire_fields(cls: type[Any]) -> tuple[str, ...]:
    """The JSON keys an object, result or event data type puts on the wire."""
    return _names(cls)


_DICTS: dict[type[Any], Callable[[Any], JSON]] = {}


def _as_dict(obj: Any) -> JSON:
    """A dataclass as the dict of its wire fields, nested ones included (also
    the encoders' ``default`` hook). One generated function per class: a
    dict display is ~8x faster than orjson's own dataclass path here."""
    to_dict = _DICTS.get(type(obj))
    if to_dict is None:
        if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
            raise TypeError(f"{type(obj).__name__} is not JSON serializable")
        to_dict = _DICTS[type(obj)] = _compile(type(obj))
    return to_dict(obj)


def _compile(cls: type[Any]) -> Callable[[Any], JSON]:
    hints = _field_hints(cls)
    items = []
    for name in _names(cls):
        hint = hints[name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1 else hint
        item = typing.get_args(base)[0] if typing.get_origin(base) is list else None
        value = typing.get_args(base)[1] if typing.get_origin(base) is dict else None
        if dataclasses.is_dataclass(base):
            expr = f"None if o.{name} is None else D(o.{name})"
        elif item is not None and dataclasses.is_dataclass(item):
            expr = f"[D(x) for x in o.{name}]"
        elif value is not None and dataclasses.is_dataclass(value):  # Visitor.attributes
            expr = f"{{k: D(v) for k, v in o.{name}.items()}}"
        elif base is Any:
            expr = f"W(o.{name})"
        else:  # scalars, and lists and dicts of plain JSON
            expr = f"o.{name}"
        items.append(f"{name!r}: {expr}")
    namespace: dict[str, Any] = {"D": _as_dict, "W": _to_wire}
    exec(f"def to_dict(o):\n    return {{{', '.join(items)}}}\n", namespace)  # noqa: S102 - field names only
    return namespace["to_dict"]  # type: ignore[no-any-return]


def to_wire(value: Any) -> Any:
    """A typed value as plain JSON data (dicts, lists, scalars), e.g. for an
    event payload the store keeps as JSON."""
    return _to_wire(value)


def _to_wire(value: Any) -> Any:
    if type(value) in _DICTS or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        return _as_dict(value)
    if isinstance(value, list | tuple):
        return [_to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    return value


_T = TypeVar("_T")
_HINTS: dict[type[Any], dict[str, Any]] = {}


def _field_hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    return hints


def from_wire(cls: type[_T], data: Any) -> _T:
    """Build ``cls`` (an object, result or event data type) from decoded JSON.

    Checks every field's type on the way down; unknown keys are ignored (a
    newer server may send more). Raises :class:`ValueError` naming the path
    of the first field that does not fit.
    """
    return _convert(cls, data, cls.__name__)  # type: ignore[no-any-return]


def _convert(hint: Any, value: Any, path: str) -> Any:
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if errors else f"{path}: null is not allowed")
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"{path}: expected a list")
        (item,) = typing.get_args(hint)
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected an object")
        _, item = typing.get_args(hint)
        return {k: _convert(item, v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected an object")
        hints = _field_hints(hint)
        kwargs = {}
        for fld in dataclasses.fields(hint):
            if not fld.metadata.get("wire", True):
                continue
            if fld.name in value:
                kwargs[fld.name] = _convert(hints[fld.name], value[fld.name], f"{path}.{fld.name}")
            elif fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
                raise ValueError(f"{path}.{fld.name}: missing")
        return hint(**kwargs)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            raise ValueError(f"{path}: {value!r} is not a {hint.__name__}") from None
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is str:
        ok = isinstance(value, str)
    elif hint is float:  # a JSON number, whole or not (reports' statistics)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        ok = False
    else:  # pragma: no cover - a declaration error, caught by the tests
        raise TypeError(f"unsupported type {hint!r} at {path}")
    if not ok:
        raise ValueError(f"{path}: expected {hint.__name__}, got {type(value).__name__}")
    return value


class FrameError(ValueError):
    """A server frame that does not fit the protocol (raised by :func:`decode_frame`).

    It carries what could still be read, so a client can answer for the frame
    instead of dropping it in silence: ``ref``, the request a malformed reply
    or error answers (fail that request); ``kind`` and ``event_id`` of a
    malformed event or one of a kind this client does not know (move the
    resume cursor past it, rather than replay it on every reconnect).
    """

    def __init__(
        self, message: str, *, ref: str | None = None, kind: str | None = None, event_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.ref = ref
        self.kind = kind
        self.event_id = event_id


def decode_frame(
    text: str,
    *,
    endpoint: Endpoint,
    result: type[Result] | None = None,
    results: Mapping[str, type[Result]] | None = None,
) -> ReplyFrame | ErrorFrame | EventFrame:
    """Parse a frame the server sent to a client on ``endpoint`` (the client's
    side of the wire). A reply's fields depend on the request it answers:
    ``result`` is that request's :data:`RESULTS` type (a plain
    :class:`Result` keeps none of them); or ``results`` maps the ``ref`` of
    each request waiting for its reply to its type (a client with several
    requests in flight). Raises :class:`FrameError` (a :class:`ValueError`)
    for a frame that does not fit the protocol.
    """
    try:
        obj = decode(text)
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"a server frame is not JSON: {exc}") from None
    return read_frame(obj, endpoint=endpoint, result=result, results=results)


def read_frame(
    obj: Any,
    *,
    endpoint: Endpoint,
    result: type[Result] | None = None,
    results: Mapping[str, type[Result]] | None = None,
) -> ReplyFrame | ErrorFrame | EventFrame:
    """:func:`decode_frame` for a frame already parsed from JSON (for a client
    that keeps the parsed frame too, such as the tests' clients)."""
    if not isinstance(obj, dict):
        raise FrameError("a server frame is a JSON object")
    frame_type = obj.get("type")
    ref = obj.get("ref") if frame_type in ("reply", "error") and isinstance(obj.get("ref"), str) else None
    kind = obj.get("kind") if frame_type == "event" and isinstance(obj.get("kind"), str) else None
    raw_id = obj.get("event_id") if frame_type == "event" else None
    event_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
    try:
        return _frame(obj, frame_type, endpoint, results.get(ref) if results and ref is not None else result)
    except ValueError as exc:
        raise FrameError(str(exc), ref=ref, kind=kind, event_id=event_id) from None


def _frame(obj: JSON, frame_type: Any, endpoint: Endpoint, result: type[Result] | None) -> ServerFrame:
    if frame_type == "reply":
        return ReplyFrame(ref=_convert(str | None, obj.get("ref"), "ref"), result=from_wire(result or Result, obj))
    if frame_type == "error":
        return from_wire(ErrorFrame, obj)
    if frame_type == "event":
        kind = obj.get("kind")
        if not isinstance(kind, str) or kind not in EVENT_DATA:
            raise ValueError(f"unknown event kind {kind!r}")
        choices = EVENT_DATA[kind][0 if endpoint is Endpoint.AGENT else 1]
        if not choices:
            raise ValueError(f"{kind} is never sent on the {endpoint.value} endpoint")
        # Of several shapes (typing from a visitor or from an agent), the one
        # that keeps the most fields: the narrower ones would drop some.
        errors = []
        data: Any = None
        for cls in sorted(choices, key=lambda c: -len(_names(c))):
            try:
                data = from_wire(cls, obj.get("data"))
                break
            except ValueError as exc:
                errors.append(str(exc))
        else:
            raise ValueError(errors[0])
        return EventFrame(
            kind=kind,
            data=data,
            event_id=_convert(int | None, obj.get("event_id"), "event_id"),
            conversation_id=_convert(int | None, obj.get("conversation_id"), "conversation_id"),
        )
    raise ValueError(f"unknown frame type {frame_type!r}")


def is_finite_number(value: Any) -> bool:
    """True for an int, or a float that is not NaN or infinite."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


# --------------------------------------------------------------------------
# The client side of a socket, sans I/O.


@dataclasses.dataclass(slots=True)
class Incoming:
    """What :meth:`ClientProtocol.receive` made of one server frame.

    ``frame`` is the typed frame, or None when the frame does not fit the
    protocol (``error`` says why; for an event that keeps an ``event_id``,
    a client moves its cursor past it). ``answers`` is the ref of the
    request this reply or error answers (None: an event, or a frame for no
    request of ours). ``raw`` is the parsed JSON, for a client (a test) that
    looks at the wire itself; None when the text was not JSON.
    """

    frame: ReplyFrame | ErrorFrame | EventFrame | None
    answers: str | None = None
    error: FrameError | None = None
    raw: Any = None


class ClientProtocol:
    """One client socket's side of the protocol, sans I/O: it numbers the
    requests, remembers the result type each one awaits (:data:`RESULTS`),
    and turns the server's frames into typed values. Every Python client
    shares it: the console's link, the tests' clients and the bench's setup;
    each brings its own transport (a ``websockets`` connection, or the
    bench's bare :class:`asyncio.Protocol`, which must stay cheap per message).

    Use::

        client = ClientProtocol(Endpoint.AGENT)
        ref, text = client.request("login", email=email, password=password)
        send(text)
        ...
        incoming = client.receive(received_text)
        if incoming.answers is not None:
            ...  # resolve request incoming.answers with incoming.frame (or incoming.error)
        elif isinstance(incoming.frame, EventFrame):
            ...  # an event
    """

    def __init__(self, endpoint: Endpoint, *, ref_prefix: str = "") -> None:
        self.endpoint = endpoint
        self._prefix = ref_prefix
        self._next = 0
        #: The result type each request in flight awaits, by ref.
        self.pending: dict[str, type[Result]] = {}

    def request(self, kind: str, **fields: Any) -> tuple[str, str]:
        """A request frame of type ``kind`` with a new ``ref``: (ref, text).
        Fields are sent as given (a client that must not send nulls leaves
        them out). A type this endpoint does not know awaits a plain
        :class:`Result` (the server answers it with an error)."""
        self._next += 1
        ref = f"{self._prefix}{self._next}"
        self.pending[ref] = RESULTS.get((self.endpoint, kind), Result)
        return ref, encode({"type": kind, "ref": ref, **fields})

    def forget(self, ref: str) -> None:
        """Stop waiting for the reply to ``ref`` (a timeout, a closed socket)."""
        self.pending.pop(ref, None)

    def receive(self, text: str | bytes) -> Incoming:
        """Read one frame the server sent; never raises."""
        try:
            raw = decode(text.decode() if isinstance(text, bytes) else text)
        except (ValueError, RecursionError) as exc:
            return Incoming(None, error=FrameError(f"a server frame is not JSON: {exc}"))
        try:
            frame = read_frame(raw, endpoint=self.endpoint, results=self.pending)
        except FrameError as exc:
            answers = exc.ref if exc.ref is not None and exc.ref in self.pending else None
            if answers is not None:
                del self.pending[answers]
            return Incoming(None, answers=answers, error=exc, raw=raw)
        answers = None
        if not isinstance(frame, EventFrame) and frame.ref is not None and frame.ref in self.pending:
            answers = frame.ref
            del self.pending[answers]
        return Incoming(frame, answers=answers, raw=raw)


# Search text (PROTOCOL.md, "Search"): what a word is, and where a query's
# words are in a text. One definition, used by the server to build its index
# queries and snippets, and by clients that search their own cache.

#: At most this many words of a ``search`` query are used; the rest are ignored.
SEARCH_MAX_WORDS: Final = 8
#: The length a snippet aims for, in characters (plus "…" where it is cut).
SEARCH_SNIPPET_CHARS: Final = 160
#: At most this many characters come before the first match in a snippet.
_SNIPPET_LEAD: Final = 20
_SEARCH_WORD: Final = re.compile(r"[^\W_]+")


def search_words(text: str) -> list[str]:
    """The words of a search query, as both backends' indexes see them:
    maximal runs of Unicode letters and digits, lowercased (FTS5's
    ``unicode61`` tokenizer without diacritics removal; PostgreSQL's
    ``simple`` configuration over the same runs). Duplicates are dropped,
    and so is any word that begins another word of the query (``inv`` beside
    ``invoice`` adds nothing). At most :data:`SEARCH_MAX_WORDS`. Everything
    else, FTS syntax included (quotes, ``*``, ``-``, ``NEAR``, parentheses),
    is a separator or a plain word; an empty list means nothing to search."""
    words: list[str] = []
    for word in _SEARCH_WORD.findall(text.lower()):
        if any(w.startswith(word) for w in words):
            continue
        words = [w for w in words if not word.startswith(w)]
        words.append(word)
    return words[:SEARCH_MAX_WORDS]


def search_spans(text: str, words: list[str]) -> list[tuple[int, int]]:
    """The ``[start, end)`` offsets (in code points) of every word of ``text``
    that begins with one of ``words`` (as :func:`search_words` returns them):
    a match is a word that starts with a query word."""
    if not words:
        return []
    prefixes = tuple(words)
    return [m.span() for m in _SEARCH_WORD.finditer(text) if m.group().lower().startswith(prefixes)]


def search_matches(text: str, words: list[str]) -> bool:
    """Whether ``text`` matches a query: every query word begins some word of
    it (the server's rule, also for clients that search their own cache)."""
    if not words:
        return False
    low = text.lower()
    return all(start.search(low) for start in _word_starts(tuple(words)))


@functools.lru_cache(maxsize=256)
def _word_starts(words: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """A pattern per word that finds it where a word of the text begins (not
    after a letter or digit): one C-level search per word instead of
    splitting the text, for the server's scan of the newest messages."""
    return tuple(re.compile(r"(?<![^\W_])" + re.escape(w)) for w in words)


def search_snippet(body: str, words: list[str], width: int = SEARCH_SNIPPET_CHARS) -> tuple[str, list[list[int]]]:
    """A plain-text excerpt of ``body`` around its first match, on one line,
    with "…" where it was cut, and the ``[start, end)`` offsets of the matches
    inside the excerpt. Offsets count code points of the returned text."""
    flat = "".join(" " if c in "\r\n\t\v\f" else c for c in body)  # one for one: offsets stay valid
    spans = search_spans(flat, words)
    start = 0
    if spans and spans[0][0] > _SNIPPET_LEAD:
        # Start shortly before the first match: a list row shows ~40 characters.
        start = spans[0][0] - _SNIPPET_LEAD
        if flat[start - 1].isalnum():  # inside a word: begin at the next one
            space = flat.find(" ", start, spans[0][0])
            start = space + 1 if space >= 0 else spans[0][0]
        while start < spans[0][0] and flat[start].isspace():
            start += 1
    end = min(len(flat), start + width)
    if end < len(flat):
        space = flat.rfind(" ", start + width // 2, end)
        if space > 0:
            end = space
    head = "…" if start > 0 else ""
    tail = "…" if end < len(flat) else ""
    shift = len(head) - start
    highlights = [[max(a, start) + shift, min(b, end) + shift] for a, b in spans if b > start and a < end]
    return head + flat[start:end] + tail, highlights
