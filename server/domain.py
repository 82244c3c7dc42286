"""Domain rules, with no I/O: who may see what, how a conversation's status
may change, what a valid widget configuration is, and the small parsers the
handlers need (origins, user agents, identity hashes).

Everything here is a pure function or a frozen dataclass, so the rules are
tested directly and shared by live fan-out and replay (DESIGN.md: "Fan-out and
replay use the same authorization filter").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import hmac
import re
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from .protocol import CONFIG_FIELD, CONFIG_FIELDS, UPLOAD_KINDS

__all__ = [
    "DEFAULT_CONFIG",
    "ConfigError",
    "ConversationStatus",
    "EventRecord",
    "StatusAction",
    "Viewer",
    "business_ms",
    "display_name",
    "email_client_id",
    "identity_failure",
    "identity_hash",
    "may_see",
    "message_channel",
    "next_status",
    "origin_allowed",
    "parse_user_agent",
    "percentile",
    "public_config",
    "validate_config_patch",
    "verify_identity",
    "within_business_hours",
]


class ConversationStatus(enum.StrEnum):
    """Where a conversation stands (PROTOCOL.md, "Conversation")."""

    OPEN = "open"  #: waiting on an agent
    PENDING = "pending"  #: waiting on the visitor
    RESOLVED = "resolved"  #: done; a visitor message reopens it


class StatusAction(enum.StrEnum):
    """Agent requests that change a conversation's status."""

    RESOLVE = "resolve"
    REOPEN = "reopen"
    PEND = "pend"


class TransitionError(Exception):
    """The requested status change does not apply to the current status."""


_TRANSITIONS: Final[dict[StatusAction, tuple[set[ConversationStatus], ConversationStatus]]] = {
    StatusAction.RESOLVE: ({ConversationStatus.OPEN, ConversationStatus.PENDING}, ConversationStatus.RESOLVED),
    StatusAction.REOPEN: ({ConversationStatus.RESOLVED, ConversationStatus.PENDING}, ConversationStatus.OPEN),
    StatusAction.PEND: ({ConversationStatus.OPEN}, ConversationStatus.PENDING),
}


def next_status(current: ConversationStatus, action: StatusAction) -> ConversationStatus:
    """The status after ``action``, or :class:`TransitionError` with a message
    fit for the agent (e.g. "already resolved") when it does not apply."""
    allowed, target = _TRANSITIONS[action]
    if current not in allowed:
        if current is target:
            raise TransitionError(f"conversation is already {current.value}")
        raise TransitionError(f"cannot {action.value} a conversation that is {current.value}")
    return target


def status_after_visitor_message(current: ConversationStatus) -> ConversationStatus:
    """A visitor writing always puts the ball back in the agents' court."""
    return ConversationStatus.OPEN


# --------------------------------------------------------------------------
# Visibility.


@dataclasses.dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: an agent of a tenant, or one visitor of a tenant.

    ``linked_visitors`` are the other visitors (browsers, devices) holding the
    same *verified* identity as this visitor (same tenant, same ``user_id``,
    each verified by HMAC): a verified user sees their conversations from every
    device (PROTOCOL.md, "Identity"). Empty for an anonymous or unverified
    visitor, so a claimed ``user_id`` alone never reaches anyone's chats.
    """

    tenant_id: int
    agent_id: int | None = None
    visitor_id: int | None = None
    linked_visitors: frozenset[int] = frozenset()
    #: The visitor's ``user_id`` when verified (None otherwise).
    verified_user: str | None = None

    @property
    def is_agent(self) -> bool:
        return self.agent_id is not None

    @property
    def visitor_scope(self) -> frozenset[int]:
        """The visitors whose events this visitor viewer may see."""
        if self.visitor_id is None:
            return frozenset()
        return self.linked_visitors | {self.visitor_id}


@dataclasses.dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored event, as the visibility rule needs it.

    ``visitor_payload`` is None for events visitors never see (notes, agent
    changes); ``visitor_id`` None with a visitor payload means "every visitor
    of the tenant" (config changes).
    """

    event_id: int
    tenant_id: int
    kind: str
    conversation_id: int | None
    visitor_id: int | None
    payload: Mapping[str, Any]
    visitor_payload: Mapping[str, Any] | None
    created_at: int


def may_see(viewer: Viewer, event: EventRecord) -> bool:
    """The one authorization rule for pushing or replaying ``event``.

    Agents see every event of their own tenant. A visitor sees the events of
    their own tenant that have a visitor view and are either addressed to all
    visitors, theirs, or those of a visitor holding the same verified identity
    (:attr:`Viewer.linked_visitors`).
    """
    if event.tenant_id != viewer.tenant_id:
        return False
    if viewer.is_agent:
        return True
    if event.visitor_payload is None:
        return False
    if event.visitor_id is None or event.visitor_id == viewer.visitor_id:
        return True
    return event.visitor_id in viewer.linked_visitors


# --------------------------------------------------------------------------
# Widget configuration.

#: The defaults of every key (declared once, in ``protocol.CONFIG_FIELDS``).
DEFAULT_CONFIG: Final[Mapping[str, Any]] = {f.name: f.default for f in CONFIG_FIELDS}

#: Keys visitors never receive.
PRIVATE_CONFIG_KEYS: Final = frozenset(f.name for f in CONFIG_FIELDS if not f.public)
#: Longest edit window a tenant may set (a day); 0 turns editing and deleting off.
MAX_EDIT_WINDOW_MINUTES: Final = CONFIG_FIELD["edit_window_minutes"].maximum or 0
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_HOST = re.compile(
    r"^(?=.{1,253}(:|$))(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::\d{1,5})?$"
)


class ConfigError(ValueError):
    """A configuration value is invalid; ``key`` names it for the UI."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def _text(key: str, value: Any, max_len: int, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, "must be text")
    text = str(value).strip()
    if len(text) > max_len:
        raise ConfigError(key, f"must be at most {max_len} characters")
    if not text and not allow_empty:
        raise ConfigError(key, "must not be empty")
    return text


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, "must be true or false")
    return value


def validate_host_entry(entry: Any) -> str:
    """Normalize one ``allowed_origins`` entry (``host`` or ``host:port``).

    A full origin (``https://example.com``) is accepted and reduced to its host
    and explicit port. Raises :class:`ConfigError` for anything else.
    """
    if not isinstance(entry, str) or not entry.strip():
        raise ConfigError("allowed_origins", "each entry must be a host name like example.com")
    text = entry.strip().lower()
    if "://" in text:
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise ConfigError("allowed_origins", f"{entry!r} is not a valid origin") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigError("allowed_origins", f"{entry!r} is not a host name or an http(s) origin")
        text = parts.hostname + (f":{port}" if port else "")
    text = text.rstrip(".")
    if not _HOST.match(text):
        raise ConfigError("allowed_origins", f"{entry!r} is not a valid host name (example.com or localhost:8080)")
    if ":" in text and not 0 < int(text.rsplit(":", 1)[1]) < 65536:
        raise ConfigError("allowed_origins", f"{entry!r} has an invalid port")
    return text


def _business_hours(value: Any) -> dict[str, Any]:
    key = "business_hours"
    if not isinstance(value, dict):
        raise ConfigError(key, "must be an object with enabled, timezone and days")
    enabled = _bool(key + ".enabled", value.get("enabled", False))
    tz = value.get("timezone", "UTC")
    if not isinstance(tz, str):
        raise ConfigError(key + ".timezone", "must be a time zone name like Europe/Paris")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(key + ".timezone", f"unknown time zone {tz!r}") from None
    days_in = value.get("days", {})
    if not isinstance(days_in, dict):
        raise ConfigError(key + ".days", "must map weekdays (mon…sun) to time ranges")
    days: dict[str, list[list[str]]] = {}
    for day, ranges in days_in.items():
        if day not in WEEKDAYS:
            raise ConfigError(key + ".days", f"unknown weekday {day!r}; use mon, tue, wed, thu, fri, sat, sun")
        if not isinstance(ranges, list) or len(ranges) > 6:
            raise ConfigError(f"{key}.days.{day}", "must be a list of [start, end] ranges")
        clean = []
        for rng in ranges:
            if (
                not isinstance(rng, list)
                or len(rng) != 2
                or not all(isinstance(t, str) and _HHMM.match(t) for t in rng)
            ):
                raise ConfigError(f"{key}.days.{day}", 'each range must be ["HH:MM", "HH:MM"]')
            if rng[0] >= rng[1]:
                raise ConfigError(f"{key}.days.{day}", f"{rng[0]}–{rng[1]} ends before it starts")
            clean.append([rng[0], rng[1]])
        days[day] = clean
    return {"enabled": enabled, "timezone": tz, "days": days}


def _prechat(value: Any) -> dict[str, Any]:
    key = "prechat"
    if not isinstance(value, dict):
        raise ConfigError(key, "must be an object with enabled and fields")
    enabled = _bool(key + ".enabled", value.get("enabled", False))
    fields_in = value.get("fields", [])
    if not isinstance(fields_in, list):
        raise ConfigError(key + ".fields", "must be a list")
    fields, seen = [], set()
    for item in fields_in:
        if not isinstance(item, dict) or item.get("name") not in ("name", "email"):
            raise ConfigError(key + ".fields", 'each field must be {"name": "name"|"email", "required": bool}')
        if item["name"] in seen:
            raise ConfigError(key + ".fields", f"field {item['name']!r} is listed twice")
        seen.add(item["name"])
        fields.append({"name": item["name"], "required": _bool(key + ".fields.required", item.get("required", False))})
    return {"enabled": enabled, "fields": fields}


def validate_config_patch(patch: Mapping[str, Any]) -> dict[str, Any]:
    """Check a partial configuration and return it normalized.

    Raises :class:`ConfigError` naming the first bad key. Unknown keys are
    refused too, so a typo is not silently ignored.
    """
    out: dict[str, Any] = {}
    for key, value in patch.items():
        field = CONFIG_FIELD.get(key) if isinstance(key, str) else None
        if field is not None and field.type is str and field.max_len is not None:  # the free texts
            out[key] = _text(key, value, field.max_len, allow_empty=not field.required)
        elif key == "color":
            if not isinstance(value, str) or not _COLOR.match(value):
                raise ConfigError(key, "must be a colour like #2563eb")
            out[key] = value.lower()
        elif field is not None and field.choices is not None:  # position
            if value not in field.choices:
                raise ConfigError(key, f"must be {' or '.join(field.choices)}")
            out[key] = value
        elif key == "business_hours":
            out[key] = _business_hours(value)
        elif key == "prechat":
            out[key] = _prechat(value)
        elif key == "translations":
            out[key] = _translations(value)
        elif key in ("sound", "require_identity", "reply_assignee_only", "store_ip"):
            out[key] = _bool(key, value)
        elif key == "allowed_origins":
            limit = CONFIG_FIELD[key].max_len
            if not isinstance(value, list) or (limit is not None and len(value) > limit):
                raise ConfigError(key, f"must be a list of at most {limit} host names")
            out[key] = sorted({validate_host_entry(v) for v in value})
        elif key == "max_upload_mb":
            top = CONFIG_FIELD[key].maximum or 0
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                raise ConfigError(key, f"must be a whole number of MB from 0 to {top}")
            out[key] = value
        elif key == "upload_kinds":
            if not isinstance(value, list) or not all(v in UPLOAD_KINDS for v in value):
                raise ConfigError(key, f"must be a list of {', '.join(UPLOAD_KINDS)}")
            out[key] = [k for k in UPLOAD_KINDS if k in value]
        elif key in ASSIGNMENT_CONFIG_KEYS:  # issue 15 (PROTOCOL.md, "Auto-assignment")
            out[key] = _assignment_value(key, value)
        elif key == "edit_window_minutes":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_EDIT_WINDOW_MINUTES:
                raise ConfigError(key, f"must be a whole number of minutes from 0 to {MAX_EDIT_WINDOW_MINUTES}")
            out[key] = value
        else:
            raise ConfigError(str(key)[:60], "is not a configuration key")
    return out


#: The auto-assigner's configuration keys (PROTOCOL.md, "Auto-assignment").
ASSIGNMENT_CONFIG_KEYS: Final = frozenset(
    {"auto_assign", "auto_assign_teams", "agent_capacity", "reassign_grace_minutes"}
)


def _assignment_value(key: str, value: Any) -> Any:
    field = CONFIG_FIELD[key]
    if field.type is bool:
        return _bool(key, value)
    if field.type is list:
        limit = field.max_len or 0
        if (
            not isinstance(value, list)
            or len(value) > limit
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**53 for v in value)
        ):
            raise ConfigError(key, f"must be a list of at most {limit} team ids")
        return sorted(set(value))
    top = field.maximum or 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise ConfigError(key, f"must be a whole number from 0 to {top}")
    return value


def _translations(value: Any) -> dict[str, dict[str, str]]:
    """``translations``: language -> {string key: text}; an empty text drops the override."""
    from .protocol import WIDGET_LANGUAGES, WIDGET_STRINGS, WIDGET_TENANT_TEXTS

    keys = {*WIDGET_STRINGS, *WIDGET_TENANT_TEXTS}
    if not isinstance(value, Mapping):
        raise ConfigError("translations", "must map a language to its strings")
    out: dict[str, dict[str, str]] = {}
    for lang, strings in value.items():
        if lang not in WIDGET_LANGUAGES:
            raise ConfigError(
                "translations", f"has no language {str(lang)[:10]!r} (one of {', '.join(WIDGET_LANGUAGES)})"
            )
        if not isinstance(strings, Mapping):
            raise ConfigError("translations", f"{lang}: must map string keys to texts")
        kept: dict[str, str] = {}
        for key, text in strings.items():
            if key not in keys:
                raise ConfigError("translations", f"{lang}: {str(key)[:60]!r} is not a widget string")
            if not isinstance(text, str) or len(text) > 500:
                raise ConfigError("translations", f"{lang}.{key}: must be a text of at most 500 characters")
            if text.strip():
                kept[key] = text.strip()
        if kept:
            out[lang] = kept
    return out


def public_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a tenant's configuration that visitors receive."""
    return {k: v for k, v in config.items() if k not in PRIVATE_CONFIG_KEYS}


def within_business_hours(config: Mapping[str, Any], now: dt.datetime) -> bool:
    """True when business hours are off, or ``now`` (aware) falls in a range
    of that weekday in the configured time zone."""
    hours = config.get("business_hours") or {}
    if not hours.get("enabled"):
        return True
    local = now.astimezone(zoneinfo.ZoneInfo(hours.get("timezone", "UTC")))
    hhmm = local.strftime("%H:%M")
    ranges = hours.get("days", {}).get(WEEKDAYS[local.weekday()], [])
    return any(start <= hhmm < end for start, end in ranges)


def business_ms(start_ms: int, end_ms: int, hours: Mapping[str, Any] | None) -> int:
    """The part of ``[start_ms, end_ms)`` inside the weekly ranges of ``hours`` (a ``business_hours``
    configuration), in milliseconds; all of it when business hours are off (docs/REPORTS.md, "Durations").
    Each day's ranges are read in the schedule's time zone, so a daylight-saving change moves them with
    the local clock."""
    if end_ms <= start_ms:
        return 0
    if not hours or not hours.get("enabled"):
        return end_ms - start_ms
    zone = str(hours.get("timezone") or "UTC")
    days = hours.get("days") or {}
    first, last = _local_day(start_ms, zone), _local_day(end_ms, zone)
    total = 0
    for ordinal in range(first, last + 1):
        ranges = days.get(WEEKDAYS[(ordinal - 1) % 7])  # date.fromordinal(1) is a Monday
        if ranges:
            for lo, hi in _day_ranges(ordinal, zone, tuple((a, b) for a, b in ranges)):
                total += max(0, min(hi, end_ms) - max(lo, start_ms))
    return total


#: :func:`_local_day` remembers the local day of each quarter hour: every UTC offset in use is a whole number
#: of quarter hours, so a local midnight falls on a quarter's edge (where one does not, that quarter is computed
#: instant by instant).
_QUARTER_MS = 900_000


def _local_day(at_ms: int, zone: str) -> int:
    """The proleptic ordinal of the local day of ``at_ms`` in ``zone``."""
    day = _quarter_day(at_ms // _QUARTER_MS, zone)
    return day if day is not None else _exact_local_day(at_ms, zone)


@functools.lru_cache(maxsize=8192)
def _quarter_day(quarter: int, zone: str) -> int | None:
    """The local day of every instant of the quarter hour ``quarter`` (since the epoch) in ``zone``, or None
    when a local midnight falls inside it."""
    first = _exact_local_day(quarter * _QUARTER_MS, zone)
    return first if first == _exact_local_day((quarter + 1) * _QUARTER_MS - 1, zone) else None


def _exact_local_day(at_ms: int, zone: str) -> int:
    return dt.datetime.fromtimestamp(at_ms / 1000, zoneinfo.ZoneInfo(zone)).date().toordinal()


@functools.lru_cache(maxsize=4096)
def _day_ranges(ordinal: int, zone: str, ranges: tuple[tuple[str, str], ...]) -> list[tuple[int, int]]:
    """The ``ranges`` ("HH:MM") of the local day ``ordinal`` in ``zone``, as [start, end) in ms since the epoch."""
    day, tz = dt.date.fromordinal(ordinal), zoneinfo.ZoneInfo(zone)

    def at(hhmm: str) -> int:
        hour, minute = (int(x) for x in hhmm.split(":"))
        local = dt.datetime(day.year, day.month, day.day, tzinfo=tz) + dt.timedelta(hours=hour, minutes=minute)
        # Wall-clock arithmetic on an aware datetime keeps the offset of midnight; re-resolve it locally.
        return int(local.replace(tzinfo=None).replace(tzinfo=tz).timestamp() * 1000)

    return [(at(a), at(b)) for a, b in ranges]


def email_client_id(message_id: str) -> str:
    """The client id of the visitor message posted from the inbound email ``message_id``: the same email
    posts once, and :func:`message_channel` knows it came by email."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"email:{message_id}"))


def message_channel(author_kind: str, client_id: str) -> str:
    """``email`` for a visitor message the email feature posted from an inbound email (its client id is the
    name-based UUID, version 5, derived from the email's Message-ID: server/mail.py), else ``widget``
    (docs/REPORTS.md, "Who and what a figure belongs to")."""
    if author_kind != "visitor" or len(client_id) != 36 or client_id[14] != "5":  # the version digit
        return "widget"
    try:
        return "email" if uuid.UUID(client_id).version == 5 else "widget"
    except ValueError:
        return "widget"


class Ranked(Protocol):
    """What :func:`percentile` reads: a length and items by rank (a list, or a NumPy array)."""

    def __len__(self) -> int: ...
    def __getitem__(self, rank: int, /) -> Any: ...


def percentile(ordered: Ranked, q: float) -> float | None:
    """The ``q`` quantile (0–1) of ascending ``ordered``, by linear interpolation between the two nearest
    ranks (NumPy's default); None for no values."""
    if len(ordered) == 0:
        return None
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


# --------------------------------------------------------------------------
# Origins, user agents, identity.


def origin_allowed(origin: str | None, allowed: list[str], server_host: str | None) -> bool:
    """Whether a browser ``Origin`` header may open a visitor socket.

    Exact host match against each entry; an entry with a port must match the
    port too. A page served by this server itself (origin host:port equal to
    the request's ``Host``) is always allowed: that is same-origin, not
    cross-site. A missing or malformed origin is refused.
    """
    if not origin or origin == "null":
        return False
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:  # e.g. an unbalanced IPv6 bracket or a port out of range
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower().rstrip(".")
    default_port = 443 if parts.scheme == "https" else 80
    host_port = f"{host}:{port or default_port}"
    if server_host:
        sh = server_host.lower()
        if ":" not in sh:
            sh = f"{sh}:{default_port}"
        if sh == host_port:
            return True
    for entry in allowed:
        if ":" in entry:
            if entry == host_port or (port is None and entry == f"{host}:{default_port}"):
                return True
        elif entry == host:
            return True
    return False


_BROWSERS: Final = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[\d.]* .*Safari/")),
)
_SYSTEMS: Final = (
    ("Android", re.compile(r"Android (\d+)")),
    ("iOS", re.compile(r"(?:iPhone|iPad).* OS (\d+)")),
    ("Windows", re.compile(r"Windows NT ([\d.]+)")),
    ("macOS", re.compile(r"Mac OS X (\d+[_.]\d+)")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux")),
)
_WINDOWS_NAMES: Final = {"10.0": "10", "6.3": "8.1", "6.2": "8", "6.1": "7"}


def parse_user_agent(ua: str | None) -> tuple[str | None, str | None]:
    """A readable (browser, OS) pair from a User-Agent string, e.g.
    ``("Chrome 131", "Windows 10")``; None for what is not recognized."""
    if not ua:
        return None, None
    browser = next((f"{name} {m.group(1)}" for name, rx in _BROWSERS if (m := rx.search(ua))), None)
    system = None
    for name, rx in _SYSTEMS:
        m = rx.search(ua)
        if m:
            version = m.group(1) if m.groups() else ""
            if name == "Windows":
                version = _WINDOWS_NAMES.get(version, version)
            system = f"{name} {version.replace('_', '.')}".strip()
            break
    if browser is None and "HeadlessChrome" in ua:
        browser = "Headless Chrome"
    return browser, system


#: How far an identity timestamp may be from the server's clock.
IDENTITY_MAX_AGE_S: Final = 24 * 3600


def identity_hash(secret: str, user_id: str, ts: int) -> str:
    """``hex(HMAC-SHA256(secret, f"{user_id}:{ts}"))``: what a tenant's own
    backend computes for identity verification."""
    return hmac.new(secret.encode(), f"{user_id}:{ts}".encode(), hashlib.sha256).hexdigest()


def verify_identity(secret: str, user_id: str, ts: int | None, user_hash: str | None, now_s: float) -> bool:
    """Constant-time check of a visitor's identity hash, refusing a timestamp
    more than :data:`IDENTITY_MAX_AGE_S` away from ``now_s``."""
    return identity_failure((secret,), user_id, ts, user_hash, now_s) is None


def identity_failure(
    secrets: Sequence[str], user_id: str, ts: int | None, user_hash: str | None, now_s: float
) -> str | None:
    """Why an identity claim fails verification, or None when ``user_hash`` is
    the HMAC of ``user_id:ts`` under one of ``secrets`` (the current one and,
    during a rotation, the previous one).

    The key is the secret *as text*: the UTF-8 bytes of the 64-character hex
    string, not the 32 bytes it spells. ``ts`` (seconds) may be at most
    :data:`IDENTITY_MAX_AGE_S` before or after ``now_s``; a timestamp further
    in the past or in the future is refused before any comparison. Each
    comparison is constant-time (``hmac.compare_digest`` on bytes: a non-ASCII
    hash is a plain refusal, not a TypeError).
    """
    if ts is None or user_hash is None:
        return "identity verification needs both ts and user_hash"
    if abs(now_s - ts) > IDENTITY_MAX_AGE_S:
        return "identity timestamp is more than 24 hours from the server's time"
    given = user_hash.lower().encode("utf-8", "replace")
    ok = False
    for secret in secrets:
        if secret:  # every secret is compared: the time taken does not say which matched
            ok |= hmac.compare_digest(identity_hash(secret, user_id, ts).encode(), given)
    return None if ok else "identity verification failed: user_hash does not match"


def display_name(name: str | None, visitor_id: int) -> str:
    """A visitor's name, or "Visitor #ID" when they gave none."""
    return name.strip() if name and name.strip() else f"Visitor #{visitor_id}"
