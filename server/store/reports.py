"""Reports (issue 17; docs/REPORTS.md for what every figure means, PROTOCOL.md "Reports" for the request).

Three parts, one module, since they share the facts' shape (migrations 0019 and 0021):

- :func:`project`, the projection: after the commit, a tenant's new events are turned into reporting facts in
  batches, and the tenant's cursor (``report_cursors``) moves past them in the same transaction, so every event
  counts once and a crash loses nothing (the next projection starts at the cursor). A message's own write does
  no reporting work; the server runs the projection in the background a moment after commits
  (:class:`frontdesk.server.report_projection.ReportProjection`), and ``report.get``, erasure and pruning first
  bring the tenant's facts up to date (:func:`project_all`). A batch folds its events into the open episodes of
  its conversations in memory and writes each table back with one statement.
- :func:`rebuild`: a tenant's facts deleted and projected again from its whole event log by the very same rule,
  so the incremental and the rebuilt figures are identical.
- :func:`report`: ``report.get``'s figures. Counts come from the hourly running totals; means, medians and
  p90s from the per-episode and per-reply rows, at query time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import domain, protocol
from ..domain import EventRecord
from ..exceptions import NotFound, ProtocolError
from . import tenants as tenant_ops  # a module: tenants imports visitors, which imports this
from ._sql import Tx, dumps, record_from_row
from .labels import label_like

__all__ = [
    "PROJECTED_KINDS",
    "Projected",
    "ReportQuery",
    "project",
    "project_all",
    "rebuild",
    "report",
    "report_tenants",
]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: How many events one projection reads (and writes the facts of) in one transaction.
PROJECT_PAGE = 1000
#: How many events a rebuild reads at a time.
REBUILD_PAGE = 5000
#: The most CSAT comments one report carries.
MAX_COMMENTS = 100
#: How far writers' clocks may step back or disagree (nodes) without a label filter missing a conversation:
#: the margin of the times :func:`_labelled_in` narrows the labelled conversations by.
CLOCK_SLACK_MS = HOUR_MS

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Durations (ms) and the integer keys made of them, as NumPy arrays: sorting and slicing half a million of them
#: is C work (a list of Python ints costs ~25x as much to sort).
if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    _Ints = NDArray[np.int64]
else:

    class _NumPy:
        """numpy, imported when a report first needs it: a server that serves none keeps ~15 MB and ~60 ms of
        start-up (docs/PERFORMANCE.md, session 9). The first attribute read puts the module itself in ``np``."""

        def __getattr__(self, name: str) -> Any:
            import numpy

            globals()["np"] = numpy
            return getattr(numpy, name)

    np = _NumPy()


@functools.cache
def _none() -> _Ints:
    """The empty array (read-only, one for every use)."""
    empty = np.zeros(0, dtype=np.int64)
    empty.flags.writeable = False
    return empty


#: What stands for NULL in the parallel arrays of :func:`_values`: no duration comes near it.
_ABSENT = -(1 << 62)
#: The kinds of event the facts are made of (the projection reads no others).
PROJECTED_KINDS = ("conversation.created", "message.created", "conversation.updated", "config.updated")


# -- the projection -------------------------------------------------------------------------------


class Projected(NamedTuple):
    """What one :func:`project` did."""

    read: int  #: events turned into facts
    more: bool  #: whether more may remain (the page was full)
    cursor: int  #: the tenant's cursor afterwards: every event up to it has its facts


def project(
    tx: Tx,
    tenant_id: int,
    limit: int = PROJECT_PAGE,
    *,
    published: Sequence[EventRecord] | None = None,
    complete_after: int | None = None,
) -> Projected:
    """Turn up to ``limit`` of the tenant's events after its report cursor into facts, and move the cursor past
    them in the same transaction. A write of the tenant (the store takes its lock), so each event is projected
    exactly once whichever node runs it, and always in event_id order: whoever sees event N of a tenant sees
    every earlier one (docs/ARCHITECTURE.md).

    The events come from the log, or from ``published``: the tenant's reporting events as this node published
    them (in order), which the caller knows to hold every one after ``complete_after``. They are used when the
    cursor is at or past ``complete_after`` (none is missing then) and spare reading and decoding the log
    again; otherwise the log is read."""
    cursor = tx.one("SELECT last_event_id FROM report_cursors WHERE tenant_id = ?", (tenant_id,))
    after = int(cursor["last_event_id"]) if cursor else 0
    if published is not None and complete_after is not None and after >= complete_after:
        newer = [e for e in published if e.event_id > after]
        events, more = newer[:limit], len(newer) > limit
    else:
        marks = ", ".join("?" for _ in PROJECTED_KINDS)
        rows = tx.all(
            f"SELECT * FROM events WHERE tenant_id = ? AND event_id > ? AND kind IN ({marks})"
            " ORDER BY event_id LIMIT ?",
            (tenant_id, after, *PROJECTED_KINDS, limit),
        )
        events, more = [record_from_row(row) for row in rows], len(rows) == limit
    if not events:
        return Projected(0, False, after)
    fold = _Fold(tx, tenant_id, {e.conversation_id for e in events if e.conversation_id is not None})
    for event in events:
        fold.apply(event)
    fold.flush()
    last = events[-1].event_id
    if cursor is None:
        tx.run("INSERT INTO report_cursors (tenant_id, last_event_id) VALUES (?, ?)", (tenant_id, last))
    else:
        tx.run("UPDATE report_cursors SET last_event_id = ? WHERE tenant_id = ?", (last, tenant_id))
    return Projected(len(events), more, last)


def project_all(tx: Tx, tenant_id: int) -> int:
    """:func:`project` until the tenant's facts are up to date, in this transaction; the events read. Run
    before anything that must see every fact (a report) or that deletes events (erasure, pruning)."""
    total = 0
    while True:
        done = project(tx, tenant_id)
        total += done.read
        if not done.more:
            return total


@dataclasses.dataclass(slots=True)
class _Episode:
    """One row of ``report_episodes`` while a projection folds events into it."""

    tenant_id: int
    conversation_id: int
    start_event_id: int
    episode_no: int
    started_at: int
    agent_id: int | None
    team_id: int | None
    channel: str
    unanswered_since: int | None
    schedule_since: int
    ended_at: int | None = None
    end_event_id: int | None = None
    first_reply_at: int | None = None
    first_response_ms: int | None = None
    first_response_bms: int | None = None
    resolution_ms: int | None = None
    resolution_bms: int | None = None
    answered_from: int | None = None
    stored: bool = False  #: the row exists in the database (else it is inserted)


_EPISODE_COLUMNS = tuple(f.name for f in dataclasses.fields(_Episode) if f.name != "stored")
_EPISODE_CHANGES = (
    "ended_at",
    "end_event_id",
    "first_reply_at",
    "first_response_ms",
    "first_response_bms",
    "resolution_ms",
    "resolution_bms",
    "agent_id",
    "team_id",
    "unanswered_since",
    "answered_from",
)


class _Fold:
    """One projection's work: the rule from an event to facts (docs/REPORTS.md), applied in memory to the
    open episodes of the batch's conversations (read in one statement), then written back with one statement
    per table. The business hours in force come from the tenant's schedule history, read once."""

    def __init__(self, tx: Tx, tenant_id: int, conversations: set[int]) -> None:
        self.tx, self.tenant_id = tx, tenant_id
        self.open: dict[int, _Episode | None] = dict.fromkeys(conversations)
        self.numbers: dict[int, int] = {}  # conversation → its newest episode's number, once known
        self.touched: dict[tuple[int, int], _Episode] = {}
        self.replies: list[tuple[Any, ...]] = []
        self.hourly: dict[tuple[int, int, int, str], list[int]] = {}
        self.daily: dict[tuple[int, int, int, str], list[int]] = {}
        ids = sorted(conversations)
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            marks = ", ".join("?" for _ in part)
            for row in tx.all(
                f"SELECT * FROM report_episodes WHERE ended_at IS NULL AND conversation_id IN ({marks})"
                " ORDER BY start_event_id",
                part,
            ):
                values = {name: row[name] for name in _EPISODE_COLUMNS}
                self.open[int(row["conversation_id"])] = _Episode(**values, stored=True)
        self.schedules: list[tuple[int, Mapping[str, Any]]] | None = None  # (since, hours), oldest first

    # -- the rule -----------------------------------------------------------------------------

    def apply(self, event: EventRecord) -> None:
        payload, at = event.payload, event.created_at
        if event.kind == "config.updated":
            hours = payload.get("business_hours")
            if hours is not None:
                self._new_schedule(at, hours)
            return
        conversation_id = event.conversation_id
        if conversation_id is None:
            return
        if event.kind == "conversation.created":
            self._open(event, payload, "widget", 1, unanswered_since=None)
            self._count(at, payload.get("assignee_id"), payload.get("team_id"), "widget", 0)
        elif event.kind == "message.created":
            conversation = payload.get("conversation") or {}
            kind = payload.get("author_kind")
            if kind == "visitor":
                channel = domain.message_channel("visitor", str(payload["client_id"]))
                episode = self.open.get(conversation_id)
                if episode is None:  # the message reopened a resolved conversation: a new episode, started by it
                    self._open(event, conversation, channel, None, unanswered_since=at)
                elif episode.unanswered_since is None:
                    episode.unanswered_since = at
                    self._touch(episode)
                self._count(at, conversation.get("assignee_id"), conversation.get("team_id"), channel, 1)
            elif kind == "agent":
                self._agent_reply(event, conversation, int(payload["author_id"]), int(payload["id"]))
        elif event.kind == "conversation.updated":
            change = payload.get("change")
            if change == "resolved":
                self._resolve(event, payload)
            elif change == "open" and self.open.get(conversation_id) is None:
                self._open(event, payload, "widget", None, unanswered_since=None)

    def _open(
        self,
        event: EventRecord,
        conversation: Mapping[str, Any],
        channel: str,
        number: int | None,
        *,
        unanswered_since: int | None,
    ) -> None:
        conversation_id = event.conversation_id
        assert conversation_id is not None
        if number is None:
            known = self.numbers.get(conversation_id)
            if known is None:
                row = self.tx.one(
                    "SELECT COUNT(*) AS n FROM report_episodes WHERE conversation_id = ?", (conversation_id,)
                )
                known = int(row["n"]) if row else 0
            number = known + 1
        self.numbers[conversation_id] = number
        episode = _Episode(
            tenant_id=event.tenant_id,
            conversation_id=conversation_id,
            start_event_id=event.event_id,
            episode_no=number,
            started_at=event.created_at,
            agent_id=conversation.get("assignee_id"),
            team_id=conversation.get("team_id"),
            channel=channel,
            unanswered_since=unanswered_since,
            schedule_since=self._schedule_since(event.created_at),
        )
        self.open[conversation_id] = episode
        self._touch(episode)

    def _agent_reply(self, event: EventRecord, conversation: Mapping[str, Any], agent_id: int, message_id: int) -> None:
        at, team = event.created_at, conversation.get("team_id")
        episode = self.open.get(event.conversation_id or 0)
        reply_ms = reply_bms = None
        if episode is not None:
            # The reply answers what was unanswered; the episode's first also sets its agent, team and first
            # response.
            first = episode.first_reply_at is None
            since = episode.answered_from = episode.unanswered_since
            episode.unanswered_since = None
            if first:
                episode.agent_id = episode.agent_id if episode.agent_id is not None else agent_id
                episode.team_id = team
                episode.first_response_ms = at - episode.started_at
                episode.first_reply_at = at
            if first or since is not None:
                hours = self._hours(episode.schedule_since)
                if since is not None:
                    reply_ms, reply_bms = at - since, domain.business_ms(since, at, hours)
                if first:
                    episode.first_response_bms = domain.business_ms(episode.started_at, at, hours)
            self._touch(episode)
        channel = "widget" if episode is None else episode.channel
        self.replies.append(
            (message_id, self.tenant_id, event.conversation_id, at, agent_id, team, channel, reply_ms, reply_bms)
        )
        self._count(at, agent_id, team, channel, 2)

    def _resolve(self, event: EventRecord, conversation: Mapping[str, Any]) -> None:
        episode = self.open.get(event.conversation_id or 0)
        if episode is None:
            return
        at, start = event.created_at, episode.started_at
        episode.agent_id = conversation.get("assignee_id") or episode.agent_id
        episode.team_id = conversation.get("team_id")
        episode.ended_at, episode.end_event_id = at, event.event_id
        episode.resolution_ms = at - start
        episode.resolution_bms = domain.business_ms(start, at, self._hours(episode.schedule_since))
        episode.unanswered_since = None
        self._touch(episode)
        self.open[episode.conversation_id] = None
        self._count(at, episode.agent_id, episode.team_id, episode.channel, 3)

    def _touch(self, episode: _Episode) -> None:
        self.touched[(episode.conversation_id, episode.start_event_id)] = episode

    def _count(self, at: int, agent_id: Any, team_id: Any, channel: str, which: int) -> None:
        """Add one to count ``which`` (the order of :data:`_COUNTS`) of the hour of ``at``."""
        agent, team = int(agent_id or 0), int(team_id or 0)
        for into, start in ((self.hourly, at - at % HOUR_MS), (self.daily, at - at % DAY_MS)):
            key = (start, agent, team, channel)
            counts = into.get(key)
            if counts is None:
                counts = into[key] = [0, 0, 0, 0]
            counts[which] += 1

    # -- business hours ---------------------------------------------------------------------------

    def _schedule_rows(self) -> list[tuple[int, Mapping[str, Any]]]:
        if self.schedules is None:
            _seed_schedule(self.tx, self.tenant_id)
            self.schedules = [
                (int(r["since"]), json.loads(r["hours"]))
                for r in self.tx.all(
                    "SELECT since, hours FROM report_schedules WHERE tenant_id = ? ORDER BY since", (self.tenant_id,)
                )
            ]
        return self.schedules

    def _schedule_since(self, at: int) -> int:
        """Which business hours are in force at ``at`` (their ``since``; docs/REPORTS.md, "Durations")."""
        since = 0
        for start, _ in self._schedule_rows():
            if start > at:
                break
            since = start
        return since

    def _hours(self, since: int) -> Mapping[str, Any]:
        for start, hours in self._schedule_rows():
            if start == since:
                return hours
        return {}

    def _new_schedule(self, at: int, hours: Mapping[str, Any]) -> None:
        rows = self._schedule_rows()
        self.tx.run(
            "INSERT INTO report_schedules (tenant_id, since, hours) VALUES (?, ?, ?)"
            " ON CONFLICT (tenant_id, since) DO UPDATE SET hours = excluded.hours",
            (self.tenant_id, at, dumps(hours)),
        )
        self.schedules = sorted([r for r in rows if r[0] != at] + [(at, hours)], key=lambda r: r[0])

    # -- writing back ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what the batch changed: one statement per table."""
        new = [e for e in self.touched.values() if not e.stored]
        old = [e for e in self.touched.values() if e.stored]
        if new:
            self.tx.many(
                f"INSERT INTO report_episodes ({', '.join(_EPISODE_COLUMNS)})"
                f" VALUES ({', '.join('?' for _ in _EPISODE_COLUMNS)})",
                [tuple(getattr(e, c) for c in _EPISODE_COLUMNS) for e in new],
            )
        if old:
            self.tx.many(
                f"UPDATE report_episodes SET {', '.join(f'{c} = ?' for c in _EPISODE_CHANGES)}"
                " WHERE conversation_id = ? AND start_event_id = ?",
                [(*(getattr(e, c) for c in _EPISODE_CHANGES), e.conversation_id, e.start_event_id) for e in old],
            )
        if self.replies:
            self.tx.many(
                "INSERT INTO report_replies (message_id, tenant_id, conversation_id, at, agent_id, team_id, channel,"
                " reply_ms, reply_bms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.replies,
            )
        for table, column, counted in (("report_hourly", "hour", self.hourly), ("report_daily", "day", self.daily)):
            if counted:
                self.tx.many(
                    f"INSERT INTO {table} (tenant_id, {column}, agent_id, team_id, channel, conversations,"
                    " messages_in, messages_out, resolutions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    f" ON CONFLICT (tenant_id, {column}, agent_id, team_id, channel) DO UPDATE SET"
                    + ",".join(f" {c} = {table}.{c} + excluded.{c}" for c in _COUNTS),
                    [(self.tenant_id, *key, *counts) for key, counts in counted.items()],
                )


def _seed_schedule(tx: Tx, tenant_id: int) -> None:
    """The first schedule row of a tenant (from the beginning of time): its configuration's hours now."""
    if tx.one("SELECT 1 AS x FROM report_schedules WHERE tenant_id = ? LIMIT 1", (tenant_id,)) is None:
        row = tx.one("SELECT * FROM tenants WHERE id = ?", (tenant_id,))
        hours = tenant_ops.tenant_config(row).get("business_hours") if row else None
        tx.run(
            "INSERT INTO report_schedules (tenant_id, since, hours) VALUES (?, 0, ?)",
            (tenant_id, dumps(hours or {"enabled": False, "timezone": "UTC", "days": {}})),
        )


# -- rebuild --------------------------------------------------------------------------------------


def report_tenants(tx: Tx, slug: str | None = None) -> list[int]:
    """The ids of every tenant, or of the one named ``slug`` (``NotFound`` when there is none)."""
    if slug is None:
        return [int(r["id"]) for r in tx.all("SELECT id FROM tenants ORDER BY id")]
    row = tx.one("SELECT id FROM tenants WHERE slug = ?", (slug,))
    if row is None:
        raise NotFound(f"no tenant {slug!r}")
    return [int(row["id"])]


def rebuild(tx: Tx, tenant_id: int) -> int:
    """Delete ``tenant_id``'s facts and project its whole event log again (:func:`project`, the one rule);
    the number of events replayed. The schedule history is kept (it is the record the business-hours
    figures are computed with)."""
    for table in ("report_episodes", "report_replies", "report_hourly", "report_daily", "report_cursors"):
        tx.run(f"DELETE FROM {table} WHERE tenant_id = ?", (tenant_id,))
    replayed = 0
    while True:
        done = project(tx, tenant_id, REBUILD_PAGE)
        replayed += done.read
        if not done.more:
            return replayed


# -- the query ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ReportQuery:
    """A checked ``report.get``: the local days ``start``..``end`` (both included) and the filters."""

    start: dt.date
    end: dt.date
    group: str = "day"
    agent_id: int | None = None
    team_id: int | None = None
    label_id: int | None = None
    channel: str | None = None

    @classmethod
    def parse(cls, req: protocol.ReportGet) -> ReportQuery:
        """``invalid`` for a malformed date, an end before the start or a range over ``REPORT_MAX_DAYS``."""
        days = []
        for name in ("start", "end"):
            text = getattr(req, name)
            try:
                if not _DATE.match(text):
                    raise ValueError(text)
                days.append(dt.date.fromisoformat(text))
            except ValueError:
                raise ProtocolError(
                    protocol.ErrorCode.INVALID, f"{name} must be a date YYYY-MM-DD", req.ref, field=name
                ) from None
        start, end = days
        if end < start:
            raise ProtocolError(protocol.ErrorCode.INVALID, "the range ends before it starts", req.ref, field="end")
        if (end - start).days + 1 > protocol.REPORT_MAX_DAYS:
            raise ProtocolError(
                protocol.ErrorCode.INVALID,
                f"a report covers at most {protocol.REPORT_MAX_DAYS} days",
                req.ref,
                field="end",
            )
        return cls(start, end, req.group, req.agent_id, req.team_id, req.label_id, req.channel)


_COUNTS = ("conversations", "messages_in", "messages_out", "resolutions")
_Dim = tuple[int, int, str]  # agent id (0: none), team id (0: none), channel


@dataclasses.dataclass(slots=True)
class _Facts:
    """The rows of one period, fetched once and split in Python by agent, team, channel and bucket."""

    by_hour: dict[int, list[int]]  # UTC hour → the four counts
    by_dim: dict[_Dim, list[int]]  # (agent, team, channel) → the four counts
    started: _Durations  # the first responses of the episodes started in the period
    ended: _Durations  # the resolutions of the episodes ended in the period
    replies: dict[str, tuple[_Ints, _Ints]]  # per channel, the period's reply times: wall, business, ascending
    csat: dict[tuple[Any, Any, Any], tuple[int, int, int]]  # (agent, team, channel) → surveys, rated, happy
    comments: list[tuple[Any, ...]]  # the newest rated surveys with a comment: the columns of _COMMENT


def _local_ms(day: dt.date, tz: zoneinfo.ZoneInfo) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


#: A conversation carrying the filter's label now: (id, created_at, last_activity: its newest message's time).
_Labelled = tuple[int, int, int]


def _labelled(tx: Tx, tenant_id: int, label_id: int) -> list[_Labelled]:
    """The tenant's conversations carrying ``label_id`` now, read once per report (the label is a pattern in a
    text column: each statement filtering on it would scan every conversation of the tenant)."""
    return tx.rows(
        "SELECT id, created_at, last_activity FROM conversations WHERE tenant_id = ? AND label_ids LIKE ?",
        (tenant_id, label_like(label_id)),
    )


def _labelled_in(tx: Tx, tenant_id: int, labelled: Sequence[_Labelled], lo: int, hi: int) -> list[int]:
    """The ids of ``labelled`` that may have a fact in ``[lo, hi)``, for the statements of the period to test
    each row against (over the last 30 days of a year, ~1,600 of 20,000). Such a conversation was created
    before the period's end and either had a message in it (a reply, a visitor message: its newest message is
    then at or after the period's start) or, with no message since the start, an episode starting or ending in
    the period (an agent's reopen or resolution) or a survey sent in it: those are looked up only when some
    labelled conversation has been quiet since the start.

    Both times are the writers' clocks, which can step back (NTP, a resumed VM) or disagree between nodes, and
    ``last_activity`` is the newest write's time, not the largest: so both tests are widened by
    :data:`CLOCK_SLACK_MS`. The list only has to hold every conversation with a fact in the period (each
    statement then tests the rows' own times), so the margin costs a few more ids, never a wrong figure."""
    created_before, active_since = hi + CLOCK_SLACK_MS, lo - CLOCK_SLACK_MS
    ids = [
        i for i, created_at, last_activity in labelled if created_at < created_before and last_activity >= active_since
    ]
    quiet = {
        i for i, created_at, last_activity in labelled if created_at < created_before and last_activity < active_since
    }
    if quiet:
        ids += [
            int(r[0])
            for r in tx.rows(
                "SELECT conversation_id FROM report_episodes WHERE tenant_id = ? AND started_at >= ?"
                " AND started_at < ? UNION ALL SELECT conversation_id FROM report_episodes WHERE tenant_id = ?"
                " AND ended_at >= ? AND ended_at < ? UNION ALL SELECT conversation_id FROM csat_surveys"
                " WHERE tenant_id = ? AND created_at >= ? AND created_at < ?",
                (tenant_id, lo, hi) * 3,
            )
            if int(r[0]) in quiet
        ]
    return sorted(ids)


def _among(tx: Tx, column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
    """``AND column`` is one of ``ids``, as one parameter however many they are: a set the database builds once
    per statement (SQLite's ephemeral index of ``json_each``; PostgreSQL hashes the unnested array, where
    ``= ANY(array)`` would compare each row with every id)."""
    if tx.dialect == "postgres":
        return f" AND {column} IN (SELECT unnest(CAST(? AS BIGINT[])))", [list(ids)]
    return f" AND {column} IN (SELECT value FROM json_each(?))", [dumps(list(ids))]


def _where(
    tx: Tx,
    q: ReportQuery,
    labelled: Sequence[int] | None,
    *,
    agent: str,
    team: str,
    channel: str,
    conversation: str | None,
) -> tuple[str, list[Any]]:
    """The filters of ``q`` as ``AND …`` clauses over the given columns (``conversation`` None: no label)."""
    sql, params = "", []
    for column, value in ((agent, q.agent_id), (team, q.team_id), (channel, q.channel)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    if conversation is not None and labelled is not None:
        among, more = _among(tx, conversation, labelled)
        sql += among
        params += more
    return sql, params


def _on(tx: Tx, alias: str, q: ReportQuery, labelled: Sequence[int] | None) -> tuple[str, list[Any]]:
    prefix = f"{alias}." if alias else ""
    return _where(
        tx,
        q,
        labelled,
        agent=f"{prefix}agent_id",
        team=f"{prefix}team_id",
        channel=f"{prefix}channel",
        conversation=f"{prefix}conversation_id",
    )


_SUMS = ", ".join(f"SUM({c}) AS {c}" for c in _COUNTS)
#: The columns of a survey tuple.
_COMMENT = ("conversation_id", "agent_id", "rating", "scale", "comment", "rated_at")
_S_CONVERSATION, _S_AGENT, _S_RATING, _S_SCALE, _S_COMMENT, _S_RATED_AT = range(6)
#: Whether a survey's rating is a happy one (4 or 5 stars, or a thumbs up): 1 or 0.
_HAPPY = (
    "CASE WHEN s.rating IS NULL THEN 0 WHEN s.scale = 'thumbs' THEN (CASE WHEN s.rating >= 1 THEN 1 ELSE 0 END)"
    " WHEN s.rating >= 4 THEN 1 ELSE 0 END"
)


def _values(tx: Tx, column: str, where: str | None, order: str | None = None) -> str:
    """An aggregate of ``column`` over the rows matching ``where``, as one value (:func:`_parsed` reads it):
    half a million reply times come back as one JSON text or array rather than as half a million rows.

    With ``order`` (a unique key of the rows) every such aggregate of a statement lists its rows in the same
    order: parallel arrays, one item per row. PostgreSQL is told that order; SQLite feeds a statement's
    aggregates one row at a time, all of them in the same order. Without it, PostgreSQL's come sorted."""
    only = "" if where is None else f" FILTER (WHERE {where})"
    if tx.dialect == "postgres":
        return f"array_agg({column} ORDER BY {order or column}){only}"
    return f"json_group_array({column}){only}"


def _parsed(found: Any) -> _Ints:
    """The integers of a :func:`_values` aggregate, in the order it gave them: SQLite's JSON text is read by
    NumPy's C parser straight into an array (half the time of ``orjson`` plus the conversion), PostgreSQL's
    array (or NULL) converted."""
    if found is None:
        return _none()
    if isinstance(found, str):
        inside = found[1:-1]
        if not inside:
            return _none()
        values = np.fromstring(inside, dtype=np.int64, sep=",")
        if len(values) != inside.count(",") + 1:  # older NumPy stops at a non-integer with only a warning
            raise ValueError(f"not a list of integers: {found[:80]}")
        return values
    return np.asarray(found, dtype=np.int64)


def _merged(parts: Sequence[_Ints]) -> _Ints:
    """Ascending arrays as one ascending array (the only non-empty one itself)."""
    filled = [p for p in parts if len(p)]
    if len(filled) <= 1:
        return filled[0] if filled else _none()
    return np.sort(np.concatenate(filled))


def _ascending(found: Any) -> _Ints:
    """The values of a :func:`_values` aggregate, ascending. NumPy's sort of half a million integers takes a
    few milliseconds where ``list.sort`` took ~100 (docs/PERFORMANCE.md, session 9)."""
    return np.sort(_parsed(found))


def _counts(
    tx: Tx, tenant_id: int, q: ReportQuery, lo: int, hi: int, *, summary_only: bool
) -> tuple[dict[int, list[int]], dict[_Dim, list[int]]]:
    """The running counts of ``[lo, hi)``: by UTC hour (not for ``summary_only``) and by agent/team/channel.
    The latter sum the daily counts (``report_daily``) of the whole UTC days inside the range and the hourly
    counts of the hours at either end: the same sums as the hourly counts', from a fifth of the rows."""
    where, params = _where(tx, q, None, agent="agent_id", team="team_id", channel="channel", conversation=None)
    by_hour: dict[int, list[int]] = {}
    if not summary_only:
        for row in tx.rows(
            f"SELECT hour, {_SUMS} FROM report_hourly WHERE tenant_id = ? AND hour >= ? AND hour < ?{where}"
            " GROUP BY hour",
            (tenant_id, lo, hi, *params),
        ):
            by_hour[int(row[0])] = [int(v) for v in row[1:]]
    first, last = -(-lo // DAY_MS) * DAY_MS, hi // DAY_MS * DAY_MS  # the whole UTC days of [lo, hi)
    spans = (
        [
            ("report_hourly", "hour", lo, first),
            ("report_daily", "day", first, last),
            ("report_hourly", "hour", last, hi),
        ]
        if first < last
        else [("report_hourly", "hour", lo, hi)]
    )
    parts, args = [], []
    for table, column, a, b in spans:
        if a < b:
            parts.append(
                f"SELECT agent_id, team_id, channel, {', '.join(_COUNTS)} FROM {table}"
                f" WHERE tenant_id = ? AND {column} >= ? AND {column} < ?{where}"
            )
            args += [tenant_id, a, b, *params]
    union = " UNION ALL ".join(parts)
    by_dim: dict[_Dim, list[int]] = {}
    if summary_only:
        row = tx.rows(f"SELECT {_SUMS} FROM ({union}) u", args)[0]
        by_dim[(0, 0, "")] = [int(v or 0) for v in row]
    else:
        for row in tx.rows(
            f"SELECT agent_id, team_id, channel, {_SUMS} FROM ({union}) u GROUP BY agent_id, team_id, channel", args
        ):
            by_dim[(int(row[0]), int(row[1]), str(row[2]))] = [int(v) for v in row[3:]]
    return by_hour, by_dim


def _facts(
    tx: Tx,
    tenant_id: int,
    q: ReportQuery,
    lo: int,
    hi: int,
    labelled_now: Sequence[_Labelled] | None,
    bucket: Callable[[int], str] | None,
) -> _Facts:
    """The facts of ``[lo, hi)``. ``labelled_now``: the conversations of the label filter (None: no label
    filter). ``bucket`` names the bucket of a UTC hour; None for the previous period, which only needs its
    summary."""
    summary_only = bucket is None
    labelled = None if labelled_now is None else _labelled_in(tx, tenant_id, labelled_now, lo, hi)
    if labelled is not None and not labelled:  # no labelled conversation has a fact in the period
        return _Facts({}, {}, _Durations.none(), _Durations.none(), {}, {}, [])
    if labelled is None:
        by_hour, by_dim = _counts(tx, tenant_id, q, lo, hi, summary_only=summary_only)
    else:
        by_hour, by_dim = {}, {}
        for hour, dim, what, n in _labelled_counts(tx, tenant_id, q, lo, hi, labelled):
            by_hour.setdefault(hour, [0, 0, 0, 0])[what] += n
            by_dim.setdefault(dim, [0, 0, 0, 0])[what] += n
    ep_where, ep_params = _on(tx, "e", q, labelled)
    started, ended = (
        _durations(
            tx,
            f"FROM report_episodes e WHERE e.tenant_id = ? AND e.{at} >= ? AND e.{at} < ?{ep_where}",
            (tenant_id, lo, hi, *ep_params),
            f"e.{at}",
            f"e.{ms}",
            f"e.{ms[:-3]}_bms",
            protocol.REPORT_CHANNELS,
            bucket,
        )
        for at, ms in (("started_at", "first_response_ms"), ("ended_at", "resolution_ms"))
    )
    channels = [c for c in protocol.REPORT_CHANNELS if q.channel in (None, c)]
    r_where, r_params = _on(tx, "r", q, labelled)
    replies: dict[str, tuple[_Ints, _Ints]] = {}
    if labelled is None:  # every channel's reply times in one read of the period, each list as one value
        aggregates, params = [], []
        for channel in channels:
            aggregates += [
                _values(tx, "r.reply_ms", "r.channel = ?"),
                _values(tx, "r.reply_bms", "r.channel = ? AND r.reply_bms IS NOT NULL"),
            ]
            params += [channel, channel]
        found = tx.rows(
            f"SELECT {', '.join(aggregates)} FROM report_replies r WHERE r.tenant_id = ? AND r.at >= ? AND r.at < ?"
            f" AND r.reply_ms IS NOT NULL{r_where}",
            (*params, tenant_id, lo, hi, *r_params),
        )[0]
        for i, channel in enumerate(channels):
            replies[channel] = (_ascending(found[2 * i]), _ascending(found[2 * i + 1]))
    else:  # the labelled conversations' replies, in one read: their times, and their counts (no running count
        # knows labels), as parallel arrays of the rows (a few thousand over 30 days) split here
        known = protocol.REPORT_CHANNELS
        which = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(known))
        columns = (
            f"r.at - r.at % {HOUR_MS}",
            "COALESCE(r.agent_id, 0)",
            "COALESCE(r.team_id, 0)",
            f"CASE r.channel {which} ELSE -1 END",  # none other is written (domain.message_channel)
            f"COALESCE(r.reply_ms, {_ABSENT})",
            f"COALESCE(r.reply_bms, {_ABSENT})",
        )
        found = tx.rows(
            f"SELECT {', '.join(_values(tx, c, None, order='r.at, r.message_id') for c in columns)}"
            f" FROM report_replies r WHERE r.tenant_id = ? AND r.at >= ? AND r.at < ?{r_where}",
            (tenant_id, lo, hi, *r_params),
        )[0]
        hours, agents, teams, indexes, wall, business = (_parsed(v) for v in found)
        for (hour, agent, team, index), n in Counter(
            zip(hours.tolist(), agents.tolist(), teams.tolist(), indexes.tolist(), strict=True)
        ).items():
            if index >= 0:
                by_hour.setdefault(hour, [0, 0, 0, 0])[2] += n
                by_dim.setdefault((agent, team, known[index]), [0, 0, 0, 0])[2] += n
        timed = wall != _ABSENT
        for channel in channels:
            mine = timed & (indexes == known.index(channel))
            replies[channel] = (np.sort(wall[mine]), np.sort(business[mine & (business != _ABSENT)]))
    s_where, s_params = _where(
        tx, q, labelled, agent="s.agent_id", team="e.team_id", channel="e.channel", conversation="s.conversation_id"
    )
    joined = not summary_only or q.team_id is not None or q.channel is not None
    source = (
        " FROM csat_surveys s LEFT JOIN report_episodes e"
        " ON e.conversation_id = s.conversation_id AND e.end_event_id = s.episode"
        if joined
        else " FROM csat_surveys s"
    ) + f" WHERE s.tenant_id = ? AND s.created_at >= ? AND s.created_at < ?{s_where}"
    dims, grouped = ("s.agent_id, e.team_id, e.channel",) * 2 if joined else ("s.agent_id, NULL, NULL", "s.agent_id")
    csat = {
        (row[0], row[1], row[2]): (int(row[3]), int(row[4]), int(row[5] or 0))
        for row in tx.rows(
            f"SELECT {dims}, COUNT(*), COUNT(s.rating), SUM({_HAPPY}){source} GROUP BY {grouped}",
            (tenant_id, lo, hi, *s_params),
        )
    }
    comments = (
        []
        if summary_only
        else tx.rows(
            # The order of the rows ties between would otherwise leave them in: the index's (created_at, id).
            f"SELECT {', '.join(f's.{column}' for column in _COMMENT)}{source}"
            " AND s.rating IS NOT NULL AND s.comment IS NOT NULL AND s.comment <> ''"
            " ORDER BY COALESCE(s.rated_at, 0) DESC, s.conversation_id DESC, s.created_at, s.id"
            f" LIMIT {MAX_COMMENTS}",
            (tenant_id, lo, hi, *s_params),
        )
    )
    return _Facts(by_hour, by_dim, started, ended, replies, csat, comments)


def _labelled_counts(
    tx: Tx, tenant_id: int, q: ReportQuery, lo: int, hi: int, labelled: Sequence[int]
) -> Iterable[tuple[int, _Dim, int, int]]:
    """With a label filter the running counts (which know no labels) cannot answer: (UTC hour, dimensions,
    which count, how many) of the new conversations and resolutions from the facts, and of each visitor
    message from the messages of the labelled conversations (by their assignee and team now). The replies are
    counted where :func:`_facts` reads their times."""
    queries = (
        ("report_episodes", "started_at", " AND t.episode_no = 1", 0),
        ("report_episodes", "ended_at", "", 3),
    )
    where, params = _on(tx, "t", q, labelled)
    for table, at, extra, what in queries:
        for row in tx.rows(
            f"SELECT t.{at} - t.{at} % {HOUR_MS} AS hour, t.agent_id, t.team_id, t.channel, COUNT(*) AS n"
            f" FROM {table} t WHERE t.tenant_id = ? AND t.{at} >= ? AND t.{at} < ?{extra}{where}"
            " GROUP BY 1, 2, 3, 4",
            (tenant_id, lo, hi, *params),
        ):
            yield int(row[0]), (int(row[1] or 0), int(row[2] or 0), str(row[3])), what, int(row[4])
    among, ids = _among(tx, "m.conversation_id", labelled)
    for hour, agent_id, team_id, maybe_email, n in tx.rows(
        # Driven by the labelled conversations that may have a fact in the period (their messages by the primary
        # key) rather than by every conversation active in it tested against the label: 282 -> 135 ms over a
        # year of a million messages, 25 -> 17 ms over its last 30 days. Counted per hour and assignee in the
        # database; only a client id shaped like an email's (domain.message_channel decides) keeps its own row.
        f"SELECT m.created_at - m.created_at % {HOUR_MS} AS hour, c.assignee_id, c.team_id,"
        " CASE WHEN length(m.client_id) = 36 AND substr(m.client_id, 15, 1) = '5' THEN m.client_id ELSE '' END"
        " AS maybe_email, COUNT(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        f" WHERE c.tenant_id = ?{among} AND m.author_kind = 'visitor' AND m.created_at >= ? AND m.created_at < ?"
        " GROUP BY 1, 2, 3, 4",
        (tenant_id, *ids, lo, hi),
    ):
        channel = domain.message_channel("visitor", str(maybe_email)) if maybe_email else "widget"
        if (
            (q.agent_id is None or agent_id == q.agent_id)
            and (q.team_id is None or team_id == q.team_id)
            and (q.channel is None or channel == q.channel)
        ):
            yield int(hour), (int(agent_id or 0), int(team_id or 0), channel), 1, int(n)


def _sec(v: float | None) -> float | None:
    return None if v is None else round(v / 1000, 3)


def _total(ordered: _Ints) -> int:
    """The exact sum of ascending ``ordered``: NumPy's when no int64 sum can overflow, else Python's."""
    if len(ordered) * max(abs(int(ordered[0])), abs(int(ordered[-1]))) < 1 << 62:
        return int(ordered.sum())
    return sum(ordered.tolist())


def _stats(wall: _Ints, business: _Ints) -> protocol.DurationStats:
    """The statistics of ascending ``wall`` and ``business`` durations (ms)."""

    def mean(v: _Ints) -> float | None:
        return _sec(_total(v) / len(v)) if len(v) else None

    return protocol.DurationStats(
        count=len(wall),
        mean=mean(wall),
        median=_sec(domain.percentile(wall, 0.5)),
        p90=_sec(domain.percentile(wall, 0.9)),
        business_mean=mean(business),
        business_median=_sec(domain.percentile(business, 0.5)),
        business_p90=_sec(domain.percentile(business, 0.9)),
    )


def _median_s(ordered: _Ints | None) -> float | None:
    return None if ordered is None else _sec(domain.percentile(ordered, 0.5))


#: The durations per agent, team and hour are read as one integer each: the owner's number times _SPAN, plus the
#: duration, plus _BIAS. Sorting these groups each owner's durations together, in ascending order. This is exact
#: for any duration within ±_BIAS ms (17 years); beyond that, the rows are read one by one (_by_row).
_SPAN = 1 << 40
_BIAS = 1 << 39


@dataclasses.dataclass(slots=True)
class _Durations:
    """One duration (first response or resolution) of the episodes started (or ended) in a period. Every array
    is ascending and leaves out the episodes without the duration. The per agent, team and bucket arrays hold
    only the wall-clock form, and only for a full report (empty for the previous period)."""

    wall: dict[str | None, _Ints]  # per channel; None: all of them
    business: dict[str | None, _Ints]
    agents: dict[int, _Ints]  # 0: no agent
    teams: dict[int, _Ints]  # 0: no team
    buckets: dict[str, _Ints]
    handled_agents: Counter[int]  # episodes per agent, with the duration or without
    handled_teams: Counter[int]

    @classmethod
    def none(cls) -> _Durations:
        """No episode at all."""
        wall: dict[str | None, _Ints] = dict.fromkeys([None, *protocol.REPORT_CHANNELS], _none())
        return cls(wall, dict(wall), {}, {}, {}, Counter(), Counter())


def _grouped(keys: _Ints) -> dict[int, _Ints]:
    """Keys (owner × _SPAN + duration + _BIAS, in any order) as each owner's durations, ascending: one sort,
    then a view of the sorted durations per owner."""
    if not len(keys):
        return {}
    keys = np.sort(keys)
    owners = keys // _SPAN
    durations = keys - owners * _SPAN - _BIAS
    cuts = (np.flatnonzero(owners[1:] != owners[:-1]) + 1).tolist()
    return {int(owners[start]): durations[start:end] for start, end in zip([0, *cuts], [*cuts, len(keys)], strict=True)}


def _tally(found: Any) -> Counter[int]:
    """How many times each integer of a :func:`_values` aggregate occurs."""
    values, counts = np.unique(_parsed(found), return_counts=True)
    return Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))


def _bucketed(hour_keys: _Ints, bucket: Callable[[int], str]) -> dict[str, _Ints]:
    """Keys (UTC hour number × _SPAN + duration + _BIAS) as each bucket's durations, ascending: the hours
    named once each, their keys re-keyed by bucket and grouped by one sort."""
    if not len(hour_keys):
        return {}
    hours, which = np.unique(hour_keys // _SPAN, return_inverse=True)
    numbers: dict[str, int] = {}
    number_of_hour = np.array(
        [numbers.setdefault(bucket(hour * HOUR_MS), len(numbers)) for hour in hours.tolist()], dtype=np.int64
    )
    grouped = _grouped(number_of_hour[which] * _SPAN + hour_keys % _SPAN)
    return {name: grouped[number] for name, number in numbers.items()}


def _durations(
    tx: Tx,
    scope: str,
    params: Sequence[Any],
    at: str,
    ms: str,
    bms: str,
    channels: Sequence[str],
    bucket: Callable[[int], str] | None,
) -> _Durations:
    """The :class:`_Durations` of the episodes of ``scope`` (``FROM report_episodes e WHERE …``), whose time,
    duration and business-hours duration are the columns ``at``, ``ms`` and ``bms``: one read, each list
    aggregated in the database as one value; per agent, team and bucket only with ``bucket``."""
    aggregates, args = [], []
    for channel in channels:
        aggregates += [
            _values(tx, ms, f"e.channel = ? AND {ms} IS NOT NULL"),
            _values(tx, bms, f"e.channel = ? AND {bms} IS NOT NULL"),
        ]
        args += [channel, channel]
    if bucket is not None:
        timed = f"{ms} IS NOT NULL"
        aggregates += [
            f"MIN({ms})",
            f"MAX({ms})",
            _values(tx, f"COALESCE(e.agent_id, 0) * {_SPAN} + {ms} + {_BIAS}", timed),
            _values(tx, f"COALESCE(e.team_id, 0) * {_SPAN} + {ms} + {_BIAS}", timed),
            _values(tx, f"({at} - {at} % {HOUR_MS}) / {HOUR_MS} * {_SPAN} + {ms} + {_BIAS}", timed),
            _values(tx, "COALESCE(e.agent_id, 0)", None),
            _values(tx, "COALESCE(e.team_id, 0)", None),
        ]
    found = tx.rows(f"SELECT {', '.join(aggregates)} {scope}", (*args, *params))[0]
    wall: dict[str | None, _Ints] = {}
    business: dict[str | None, _Ints] = {}
    for i, channel in enumerate(channels):
        wall[channel], business[channel] = _ascending(found[2 * i]), _ascending(found[2 * i + 1])
    for into in (wall, business):
        into[None] = _merged([into[channel] for channel in channels])
    d = _Durations(wall, business, {}, {}, {}, Counter(), Counter())
    if bucket is None:
        return d
    low, high, by_agent, by_team, by_hour, agent_ids, team_ids = found[2 * len(channels) :]
    d.handled_agents, d.handled_teams = _tally(agent_ids), _tally(team_ids)
    if low is None or (int(low) >= -_BIAS and int(high) < _BIAS):
        d.agents, d.teams = _grouped(_parsed(by_agent)), _grouped(_parsed(by_team))
        d.buckets = _bucketed(_parsed(by_hour), bucket)
    else:
        d.agents, d.teams, hours = _by_row(tx, scope, params, at, ms)
        parts: dict[str, list[_Ints]] = defaultdict(list)
        for hour, values in hours.items():
            parts[bucket(hour * HOUR_MS)].append(values)
        d.buckets = {name: np.sort(np.concatenate(arrays)) for name, arrays in parts.items()}
    return d


def _by_row(
    tx: Tx, scope: str, params: Sequence[Any], at: str, ms: str
) -> tuple[dict[int, _Ints], dict[int, _Ints], dict[int, _Ints]]:
    """The wall-clock durations per agent, team and UTC hour (its number since the epoch), ascending, read row
    by row: for the durations too long for :data:`_SPAN`."""
    agents: dict[int, list[int]] = defaultdict(list)
    teams: dict[int, list[int]] = defaultdict(list)
    hours: dict[int, list[int]] = defaultdict(list)
    rows = tx.rows(
        f"SELECT {at}, COALESCE(e.agent_id, 0), COALESCE(e.team_id, 0), {ms} {scope} AND {ms} IS NOT NULL", params
    )
    for when, agent, team, duration in sorted(rows, key=itemgetter(3)):
        agents[int(agent)].append(duration)
        teams[int(team)].append(duration)
        hours[int(when) // HOUR_MS].append(duration)

    def arrays(by: dict[int, list[int]]) -> dict[int, _Ints]:
        return {owner: np.array(values, dtype=np.int64) for owner, values in by.items()}

    return arrays(agents), arrays(teams), arrays(hours)


def _csat(counts: Iterable[tuple[int, int, int]]) -> protocol.CsatStats:
    """The satisfaction of surveys counted as (surveys, rated, happy)."""
    surveys = rated = happy = 0
    for n, r, h in counts:
        surveys, rated, happy = surveys + n, rated + r, happy + h
    return protocol.CsatStats(
        surveys=surveys,
        responses=rated,
        score=round(happy / rated, 4) if rated else None,
        response_rate=round(rated / surveys, 4) if surveys else None,
    )


def _csat_by(f: _Facts, column: int) -> dict[Any, list[tuple[int, int, int]]]:
    """The survey counts of ``f`` by agent (``column`` 0), team (1) or channel (2)."""
    out: dict[Any, list[tuple[int, int, int]]] = defaultdict(list)
    for key, counts in f.csat.items():
        out[key[column]].append(counts)
    return out


def _summaries(f: _Facts, channels: Sequence[str]) -> dict[str | None, protocol.ReportSummary]:
    """The summary of the whole period (key None) and of each of ``channels``."""
    keys: list[str | None] = [None, *channels]
    sums: dict[str | None, list[int]] = {k: [0, 0, 0, 0] for k in keys}
    for (_, _, ch), counts in f.by_dim.items():
        for key in (None, ch):
            if key in sums:
                sums[key] = [a + b for a, b in zip(sums[key], counts, strict=True)]
    replies: dict[str | None, tuple[_Ints, _Ints]] = {c: f.replies.get(c, (_none(), _none())) for c in channels}
    replies[None] = (
        _merged([replies[c][0] for c in channels]),
        _merged([replies[c][1] for c in channels]),
    )
    surveys = _csat_by(f, 2)
    return {
        k: protocol.ReportSummary(
            **dict(zip(_COUNTS, sums[k], strict=True)),
            first_response=_stats(f.started.wall[k], f.started.business[k]),
            reply_time=_stats(*replies[k]),
            resolution=_stats(f.ended.wall[k], f.ended.business[k]),
            csat=_csat(f.csat.values() if k is None else surveys.get(k, [])),
        )
        for k in keys
    }


def _bucket_of(group: str, tz: zoneinfo.ZoneInfo) -> Callable[[int], str]:
    cache: dict[int, str] = {}

    def bucket(at: int) -> str:
        hour = at - at % HOUR_MS
        name = cache.get(hour)
        if name is None:
            local = dt.datetime.fromtimestamp(hour / 1000, tz)
            if group == "hour":
                name = local.strftime("%Y-%m-%dT%H:00")
            elif group == "day":
                name = local.date().isoformat()
            elif group == "week":
                name = (local.date() - dt.timedelta(days=local.weekday())).isoformat()
            else:
                name = local.date().replace(day=1).isoformat()
            cache[hour] = name
        return name

    return bucket


def _bucket_names(q: ReportQuery, tz: zoneinfo.ZoneInfo) -> list[str]:
    names: list[str] = []
    day = q.start
    while day <= q.end:
        if q.group == "hour":
            lo, hi = _local_ms(day, tz), _local_ms(day + dt.timedelta(days=1), tz)
            for at in range(lo, hi, HOUR_MS):
                names.append(dt.datetime.fromtimestamp(at / 1000, tz).strftime("%Y-%m-%dT%H:00"))
        elif q.group == "day":
            names.append(day.isoformat())
        elif q.group == "week":
            names.append((day - dt.timedelta(days=day.weekday())).isoformat())
        else:
            names.append(day.replace(day=1).isoformat())
        day += dt.timedelta(days=1)
    return list(dict.fromkeys(names))


def _volume(
    f: _Facts, q: ReportQuery, tz: zoneinfo.ZoneInfo, bucket: Callable[[int], str]
) -> list[protocol.ReportBucket]:
    counts: dict[str, list[int]] = {}
    for hour, four in f.by_hour.items():
        into = counts.setdefault(bucket(hour), [0, 0, 0, 0])
        for i in range(4):
            into[i] += four[i]
    return [
        protocol.ReportBucket(
            bucket=name,
            **dict(zip(_COUNTS, counts.get(name, (0, 0, 0, 0)), strict=True)),
            first_response_median=_median_s(f.started.buckets.get(name)),
            resolution_median=_median_s(f.ended.buckets.get(name)),
        )
        for name in _bucket_names(q, tz)
    ]


def _heatmap(f: _Facts, tz: zoneinfo.ZoneInfo) -> list[list[int]]:
    grid = [[0] * 24 for _ in range(7)]
    for hour, four in f.by_hour.items():
        if four[0]:
            local = dt.datetime.fromtimestamp(hour / 1000, tz)
            grid[local.weekday()][local.hour] += four[0]
    return grid


def _rows(f: _Facts, key: str, names: Mapping[int, str], only: int | None) -> list[protocol.ReportRow]:
    """One row per agent (``key`` ``agent_id``) or team (``team_id``) with figures in the period."""
    replies: dict[int, int] = defaultdict(int)
    for (agent, team, _), counts in f.by_dim.items():
        who = agent if key == "agent_id" else team
        if who and counts[2]:
            replies[who] += counts[2]
    if key == "agent_id":
        handled, first, resolution = f.started.handled_agents, f.started.agents, f.ended.agents
        surveys, resolved = _csat_by(f, 0), f.ended.handled_agents
    else:
        handled, first, resolution = f.started.handled_teams, f.started.teams, f.ended.teams
        surveys, resolved = _csat_by(f, 1), f.ended.handled_teams
    ids = {i for i in (*handled, *resolved, *surveys, *replies) if i}
    if only is not None:
        ids &= {only}
    return [
        protocol.ReportRow(
            id=int(ident),
            name=names.get(int(ident), f"#{ident}"),
            conversations=handled.get(ident, 0),
            replies=replies.get(ident, 0),
            first_response_median=_median_s(first.get(ident)),
            resolution_median=_median_s(resolution.get(ident)),
            csat=_csat(surveys.get(ident, [])),
        )
        for ident in sorted(ids)
    ]


def _names(tx: Tx, table: str, tenant_id: int) -> dict[int, str]:
    return {
        int(r["id"]): str(r["name"]) for r in tx.all(f"SELECT id, name FROM {table} WHERE tenant_id = ?", (tenant_id,))
    }


def _check_known(tx: Tx, tenant_id: int, q: ReportQuery) -> None:
    for table, ident, what in (
        ("agents", q.agent_id, "agent"),
        ("teams", q.team_id, "team"),
        ("labels", q.label_id, "label"),
    ):
        if (
            ident is not None
            and tx.one(f"SELECT id FROM {table} WHERE id = ? AND tenant_id = ?", (ident, tenant_id)) is None
        ):
            raise NotFound(f"no {what} {ident} in this tenant")


def report(tx: Tx, tenant_id: int, q: ReportQuery, *, now: int) -> protocol.ReportResult:
    """The figures of ``q`` (docs/REPORTS.md), in the tenant's time zone; ``NotFound`` for an unknown agent,
    team or label of the tenant."""
    _check_known(tx, tenant_id, q)
    row = tx.one("SELECT * FROM tenants WHERE id = ?", (tenant_id,))
    if row is None:
        raise NotFound("no such tenant")
    tz_name = str((tenant_ops.tenant_config(row).get("business_hours") or {}).get("timezone") or "UTC")
    tz = zoneinfo.ZoneInfo(tz_name)
    lo, hi = _local_ms(q.start, tz), _local_ms(q.end + dt.timedelta(days=1), tz)
    days = (q.end - q.start).days + 1
    before = ReportQuery(
        q.start - dt.timedelta(days=days),
        q.start - dt.timedelta(days=1),
        q.group,
        q.agent_id,
        q.team_id,
        q.label_id,
        q.channel,
    )
    labelled = None if q.label_id is None else _labelled(tx, tenant_id, q.label_id)
    bucket = _bucket_of(q.group, tz)
    facts = _facts(tx, tenant_id, q, lo, hi, labelled, bucket)
    previous = _facts(tx, tenant_id, before, _local_ms(before.start, tz), lo, labelled, None)
    channels = protocol.REPORT_CHANNELS
    summaries = _summaries(facts, channels)
    return protocol.ReportResult(
        start=q.start.isoformat(),
        end=q.end.isoformat(),
        group=q.group,
        time_zone=tz_name,
        generated_at=now,
        summary=summaries[None],
        previous=_summaries(previous, channels)[None],
        volume=_volume(facts, q, tz, bucket),
        heatmap=_heatmap(facts, tz),
        agents=_rows(facts, "agent_id", _names(tx, "agents", tenant_id), q.agent_id),
        teams=_rows(facts, "team_id", _names(tx, "teams", tenant_id), q.team_id),
        channels={channel: summaries[channel] for channel in protocol.REPORT_CHANNELS},
        csat_comments=[
            protocol.CsatComment(
                conversation_id=int(r[_S_CONVERSATION]),
                agent_id=r[_S_AGENT],
                rating=int(r[_S_RATING]),
                scale=str(r[_S_SCALE]),
                comment=str(r[_S_COMMENT]),
                rated_at=int(r[_S_RATED_AT] or 0),
            )
            for r in facts.comments
        ],
    )
