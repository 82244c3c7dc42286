"""Checks for the settings dialog, run before anything is sent to the server.

Each function returns an error sentence to show next to the field, or None
when the value is fine. The limits come from the one declaration of the
widget configuration (``protocol.CONFIG_FIELDS``, PROTOCOL.md "Widget
configuration"); the server checks again (and its ``invalid`` error is shown
the same way).
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import re
import zoneinfo

from frontdesk.server.protocol import CONFIG_FIELD
from PySide6.QtCore import QCoreApplication

from .translation import QT_TRANSLATE_NOOP

__all__ = [
    "DAYS",
    "format_ranges",
    "parse_ranges",
    "validate_color",
    "validate_config_text",
    "validate_email",
    "validate_host",
    "validate_length",
    "validate_timezone",
]

#: Weekday keys of ``business_hours.days``, in order, with their labels.
DAYS: tuple[tuple[str, str], ...] = (
    ("mon", QT_TRANSLATE_NOOP("Validation", "Monday")),
    ("tue", QT_TRANSLATE_NOOP("Validation", "Tuesday")),
    ("wed", QT_TRANSLATE_NOOP("Validation", "Wednesday")),
    ("thu", QT_TRANSLATE_NOOP("Validation", "Thursday")),
    ("fri", QT_TRANSLATE_NOOP("Validation", "Friday")),
    ("sat", QT_TRANSLATE_NOOP("Validation", "Saturday")),
    ("sun", QT_TRANSLATE_NOOP("Validation", "Sunday")),
)

_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def validate_color(text: str) -> str | None:
    """A ``#rrggbb`` colour."""
    if _COLOR.fullmatch(text.strip()):
        return None
    return QCoreApplication.translate("Validation", "Use a colour like {example}.").format(
        example=CONFIG_FIELD["color"].default
    )


def validate_config_text(key: str, text: str) -> str | None:
    """A free-text configuration value (``business_name``, ``greeting`` ...)
    within its declared length, and not blank when it is required."""
    field = CONFIG_FIELD[key]
    assert field.max_len is not None, key
    return validate_length(text, field.max_len, required=field.required)


def validate_length(text: str, limit: int, *, required: bool = False) -> str | None:
    """At most ``limit`` characters (and not blank when ``required``)."""
    if required and not text.strip():
        return QCoreApplication.translate("Validation", "This can't be empty.")
    if len(text) > limit:
        return QCoreApplication.translate("Validation", "At most {limit} characters ({now} now).").format(
            limit=limit, now=len(text)
        )
    return None


def validate_host(text: str) -> str | None:
    """An allowed-origin entry: ``host`` or ``host:port``, no scheme or path.

    Hosts are DNS names (letters, digits, hyphens, dots), ``localhost`` or an
    IPv4 address. The server matches the Origin's host exactly.
    """
    entry = text.strip()
    if not entry:
        return QCoreApplication.translate("Validation", "Enter a host, e.g. example.com or localhost:8080.")
    if "://" in entry or "/" in entry:
        return QCoreApplication.translate("Validation", "Just the host (and port), without http:// or a path.")
    if any(c.isspace() for c in entry) or "*" in entry:
        return QCoreApplication.translate("Validation", "No spaces or wildcards: list each host exactly.")
    host, sep, port = entry.rpartition(":")
    if not sep:
        host, port = entry, ""
    elif not port.isdigit() or not 0 < int(port) < 65536:
        return QCoreApplication.translate("Validation", "The port must be a number between 1 and 65535.")
    host = host.lower()
    if not host:
        return QCoreApplication.translate("Validation", "Enter a host before the port.")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        pass
    else:
        return None
    if len(host) > 253 or host.endswith(".") or not all(_LABEL.fullmatch(p) for p in host.split(".")):
        return QCoreApplication.translate("Validation", "Not a valid host name.")
    return None


def validate_email(text: str) -> str | None:
    """A plausible email address."""
    email = text.strip()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or " " in email:
        return QCoreApplication.translate("Validation", "Enter an email address like ada@example.com.")
    return None


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(name: str) -> str | None:
    """An IANA time zone name such as ``Europe/London`` or ``UTC``."""
    if name.strip() in _zones():
        return None
    return QCoreApplication.translate("Validation", "Pick a time zone from the list, e.g. Europe/London.")


def timezones() -> list[str]:
    """Every known IANA time zone name, sorted."""
    return sorted(_zones())


def parse_ranges(text: str) -> tuple[list[list[str]], str | None]:
    """Parse ``"09:00-12:00, 13:00-17:30"`` into ``[["09:00","12:00"], ...]``.

    Empty text means closed all day. Returns ``(ranges, error)``: ``error``
    says what is wrong (bad time, end before start, overlap).
    """
    ranges: list[list[str]] = []
    text = text.strip()
    if not text:
        return ranges, None
    for part in text.replace(";", ",").split(","):
        part = part.strip().replace("–", "-").replace("—", "-")
        start, dash, end = (p.strip() for p in part.partition("-"))
        if not dash or not _TIME.fullmatch(start) or not _TIME.fullmatch(end):
            return [], QCoreApplication.translate("Validation", "Write hours like 09:00-17:00 (got “{part}”).").format(
                part=part
            )
        if end <= start:
            return [], QCoreApplication.translate("Validation", "{part}: the end must be after the start.").format(
                part=part
            )
        ranges.append([start, end])
    ranges.sort()
    for (_, end1), (start2, _) in itertools.pairwise(ranges):
        if start2 < end1:
            return [], QCoreApplication.translate("Validation", "These ranges overlap.")
    return ranges, None


def format_ranges(ranges: object) -> str:
    """The inverse of :func:`parse_ranges`, tolerant of odd input."""
    if not isinstance(ranges, list):
        return ""
    parts = []
    for item in ranges:
        if isinstance(item, list | tuple) and len(item) == 2:
            parts.append(f"{item[0]}-{item[1]}")
    return ", ".join(parts)
