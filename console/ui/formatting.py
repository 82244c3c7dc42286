"""Helpers that turn times and names into the short text the UI shows (pure, but for the
translation of their words).

Times on the wire and in the cache are integers: milliseconds since the Unix
epoch, UTC (PROTOCOL.md, "Objects"). The helpers take ``now`` explicitly so
they are trivially testable.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PySide6.QtCore import QCoreApplication

__all__ = [
    "clock_time",
    "day_label",
    "local_datetime",
    "one_line",
    "relative_time",
    "visitor_local_time",
]


def local_datetime(ms: int) -> dt.datetime:
    """``ms`` as an aware datetime in the machine's local time zone."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).astimezone()


def relative_time(ms: int, now_ms: int) -> str:
    """A compact age for inbox rows: ``now``, ``5m``, ``3h``, ``Tue``, ``12 Mar``."""
    delta = max(0, now_ms - ms) // 1000
    if delta < 60:
        return QCoreApplication.translate("Formatting", "now")
    if delta < 3600:
        return f"{delta // 60}m"
    then, now = local_datetime(ms), local_datetime(now_ms)
    if delta < 86400 and then.date() == now.date():
        return f"{delta // 3600}h"
    if (now.date() - then.date()).days < 7:
        return then.strftime("%a")
    if then.year == now.year:
        return f"{then.day} {then.strftime('%b')}"
    return f"{then.day} {then.strftime('%b %Y')}"


def day_label(ms: int, now_ms: int) -> str:
    """The label of a day separator in a thread: ``Today``, ``Yesterday`` or a date."""
    day, today = local_datetime(ms).date(), local_datetime(now_ms).date()
    if day == today:
        return QCoreApplication.translate("Formatting", "Today")
    if (today - day).days == 1:
        return QCoreApplication.translate("Formatting", "Yesterday")
    if day.year == today.year:
        return f"{day.strftime('%A')}, {day.day} {day.strftime('%B')}"
    return f"{day.day} {day.strftime('%B %Y')}"


def clock_time(ms: int) -> str:
    """``HH:MM`` in local time, for message timestamps."""
    return local_datetime(ms).strftime("%H:%M")


def one_line(text: str, limit: int = 140) -> str:
    """Collapse whitespace (including newlines) and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def visitor_local_time(timezone: str | None, now_ms: int) -> str | None:
    """The visitor's wall-clock time, e.g. ``14:05 (Europe/London)``, or None."""
    if not timezone:
        return None
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    local = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).astimezone(zone)
    return f"{local.strftime('%H:%M')} ({timezone})"
