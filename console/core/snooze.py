"""Snooze choices for the console, Qt-free (PROTOCOL.md, "Snooze").

The snooze menu offers presets computed here from the local time, so they are
tested without a display: a few hours ahead, tomorrow morning, next week's
first morning, and "until the visitor replies" (no time).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from .words import translate

__all__ = ["MORNING_HOUR", "UNTIL_REPLY", "snooze_presets", "snoozed_text"]

#: The hour a "tomorrow" or "next week" snooze ends, local time.
MORNING_HOUR: Final = 9
#: The label of the snooze that ends when the visitor writes (English; shown translated).
UNTIL_REPLY: Final = "Until the visitor replies"


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def snooze_presets(now: dt.datetime) -> list[tuple[str, int | None]]:
    """(label, until in ms or None) for the menu, from ``now`` (aware, local); labels translated."""
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=MORNING_HOUR, minute=0, second=0, microsecond=0)
    days_to_monday = 7 - now.weekday()  # next week's Monday, even on a Monday
    next_week = (now + dt.timedelta(days=days_to_monday)).replace(hour=MORNING_HOUR, minute=0, second=0, microsecond=0)
    return [
        (translate("Snooze", "For 1 hour"), _ms(now + dt.timedelta(hours=1))),
        (translate("Snooze", "For 3 hours"), _ms(now + dt.timedelta(hours=3))),
        (translate("Snooze", "Until tomorrow {hour}:00").format(hour=MORNING_HOUR), _ms(tomorrow)),
        (translate("Snooze", "Until next Monday {hour}:00").format(hour=MORNING_HOUR), _ms(next_week)),
        (translate("Snooze", "Until the visitor replies"), None),
    ]


def snoozed_text(until_ms: int | None, now: dt.datetime) -> str:
    """How a snoozed conversation's header says when it wakes (local time), translated."""
    if until_ms is None:
        return translate("Snooze", "Snoozed until the visitor replies")
    when = dt.datetime.fromtimestamp(until_ms / 1000, now.tzinfo)
    if when.date() == now.date():
        return translate("Snooze", "Snoozed until {time}").format(time=f"{when:%H:%M}")
    if when.date() == (now + dt.timedelta(days=1)).date():
        return translate("Snooze", "Snoozed until tomorrow {time}").format(time=f"{when:%H:%M}")
    return translate("Snooze", "Snoozed until {time}").format(time=f"{when:%a %d %b %H:%M}")
