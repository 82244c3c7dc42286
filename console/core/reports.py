"""Reports in the console's core (issue 17, §4; PROTOCOL.md, "Reports"; the definitions in docs/REPORTS.md).

- :class:`ReportQuery` is one ``report.get``: a range of days in the tenant's time zone, a grouping and the
  filters. :func:`preset_range` turns the view's presets (last 7/30/90 days, this month) into days.
- :meth:`ReportsMixin.report` asks the server through the link and keeps the answer in the cache per query
  (cache migration 15, :mod:`.cache._reports`); offline it answers from the cache, marked ``offline``, so the
  Reports view shows the last figures it had with their time.
- An agent who is not an admin sees only their own figures: the core sets ``agent_id`` to theirs in every query
  (the server refuses anything else with ``forbidden``).
- :func:`change` is the change against the previous period that the summary cards show.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from frontdesk.server.protocol import REPORT_GROUPS, REPORT_MAX_DAYS, ReportResult, Result, to_wire

from ._base import CoreBase
from .exceptions import OfflineError

__all__ = [
    "RANGE_PRESETS",
    "FetchedReport",
    "ReportQuery",
    "ReportsMixin",
    "change",
    "preset_range",
    "tenant_today",
]

log = logging.getLogger("frontdesk.console.reports")

#: The date range picker's presets, in its order; "custom" takes the two dates as they are.
RANGE_PRESETS: Final = ("last_7", "last_30", "last_90", "this_month", "custom")
_LAST_DAYS: Final = {"last_7": 7, "last_30": 30, "last_90": 90}
_R = TypeVar("_R", bound=Result)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReportQuery:
    """The fields of one ``report.get``: ``start`` and ``end`` are days (``YYYY-MM-DD``, both included) in the
    tenant's time zone."""

    start: str
    end: str
    group: str = "day"
    agent_id: int | None = None
    team_id: int | None = None
    label_id: int | None = None
    channel: str | None = None

    @classmethod
    def of_days(cls, start: dt.date, end: dt.date, **fields: Any) -> ReportQuery:
        """The query of the days ``start`` to ``end``."""
        return cls(start=start.isoformat(), end=end.isoformat(), **fields)

    @classmethod
    def from_key(cls, key: str) -> ReportQuery:
        """The query whose :attr:`key` this is."""
        return cls(**json.loads(key))

    def fields(self) -> dict[str, Any]:
        """The request's fields, the unset filters left out."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @property
    def key(self) -> str:
        """The query as canonical JSON: what the cache keeps its report under."""
        return json.dumps(self.fields(), sort_keys=True, separators=(",", ":"))

    def check(self) -> None:
        """Raise ValueError, in words an agent can act on, for a query the server would refuse as ``invalid``."""
        try:
            start, end = dt.date.fromisoformat(self.start), dt.date.fromisoformat(self.end)
        except ValueError:
            raise ValueError("A date is not a valid day.") from None
        if end < start:
            raise ValueError("The range ends before it starts.")
        if (end - start).days + 1 > REPORT_MAX_DAYS:
            raise ValueError(f"A report covers at most {REPORT_MAX_DAYS} days.")
        if self.group not in REPORT_GROUPS:
            raise ValueError(f"Unknown grouping {self.group!r}.")


@dataclasses.dataclass(frozen=True, slots=True)
class FetchedReport:
    """A report as the view shows it: ``fetched_at`` is when this console received it (unix seconds, its own
    clock); ``offline`` says it came from the cache because the server could not be asked."""

    query: ReportQuery
    report: ReportResult
    fetched_at: float
    offline: bool = False


def tenant_today(now: float, time_zone: str | None) -> dt.date:
    """Today in the tenant's time zone (an unknown or missing zone: UTC), at unix time ``now``."""
    try:
        zone: dt.tzinfo = ZoneInfo(time_zone) if time_zone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return dt.datetime.fromtimestamp(now, zone).date()


def preset_range(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days of a :data:`RANGE_PRESETS` preset, ``today`` included ("custom" has none: ValueError)."""
    if preset in _LAST_DAYS:
        return today - dt.timedelta(days=_LAST_DAYS[preset] - 1), today
    if preset == "this_month":
        return today.replace(day=1), today
    raise ValueError(f"no fixed range for preset {preset!r}")


def change(current: float | None, previous: float | None) -> float | None:
    """The relative change from ``previous`` to ``current`` (0.25 is +25 %); None when either is unknown or
    the previous is 0 (no change can be put as a share of nothing)."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)


class ReportsMixin(CoreBase):
    """``report.get`` with the cache behind it."""

    async def _call(self, result: type[_R], kind: str, **fields: Any) -> _R:  # pragma: no cover - SyncMixin's
        raise NotImplementedError

    def own_query(self, query: ReportQuery) -> ReportQuery:
        """``query`` as this agent may ask it: an agent who is not an admin gets only their own figures."""
        me = self.me
        if me is not None and not me.is_admin and query.agent_id != me.id:
            return dataclasses.replace(query, agent_id=me.id)
        return query

    async def report(self, query: ReportQuery) -> FetchedReport:
        """The figures of ``query`` from the server, kept in the cache. Offline: the cached figures of the same
        query, marked ``offline``; OfflineError when there are none. Raises ServerError (``invalid``,
        ``forbidden``, ``not_found``) and ValueError (:meth:`ReportQuery.check`)."""
        query = self.own_query(query)
        query.check()
        try:
            result = await self._call(ReportResult, "report.get", **query.fields())
        except OfflineError:
            cached = self.cached_report(query)
            if cached is None:
                raise
            return cached
        fetched_at = self._clock()
        await self.cache.store_report(query.key, to_wire(result), int(fetched_at * 1000))
        return FetchedReport(query, result, fetched_at)

    def cached_report(self, query: ReportQuery | None = None) -> FetchedReport | None:
        """The cached figures of ``query`` (None: the last fetched of any query this agent may ask), marked
        ``offline``; None when the cache has none."""
        if query is None:
            cached = self.cache.cached_report()
            if cached is not None and self.own_query(ReportQuery.from_key(cached[0])).key != cached[0]:
                return None  # another role's figures (an admin demoted since)
        else:
            cached = self.cache.cached_report(self.own_query(query).key)
        if cached is None:
            return None
        key, report, fetched_at_ms = cached
        return FetchedReport(ReportQuery.from_key(key), report, fetched_at_ms / 1000, offline=True)
