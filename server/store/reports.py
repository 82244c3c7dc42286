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
import json
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .. import domain, protocol
from ..domain import EventRecord
from ..exceptions import NotFound, ProtocolError
from . import tenants as tenant_ops  # a module: tenants imports visitors, which imports this
from ._sql import Row, Tx, dumps, record_from_row
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
#: How many events one projection reads (and writes the facts of) in one transaction.
PROJECT_PAGE = 1000
#: How many events a rebuild reads at a time.
REBUILD_PAGE = 5000
#: The most CSAT comments one report carries.
MAX_COMMENTS = 100

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: The kinds of event the facts are made of (the projection reads no others).
PROJECTED_KINDS = ("conversation.created", "message.created", "conversation.updated", "config.updated")
_KINDS = PROJECTED_KINDS


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
        marks = ", ".join("?" for _ in _KINDS)
        rows = tx.all(
            f"SELECT * FROM events WHERE tenant_id = ? AND event_id > ? AND kind IN ({marks})"
            " ORDER BY event_id LIMIT ?",
            (tenant_id, after, *_KINDS, limit),
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
        key = (at - at % HOUR_MS, int(agent_id or 0), int(team_id or 0), channel)
        counts = self.hourly.get(key)
        if counts is None:
            counts = self.hourly[key] = [0, 0, 0, 0]
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
        if self.hourly:
            self.tx.many(
                "INSERT INTO report_hourly (tenant_id, hour, agent_id, team_id, channel, conversations, messages_in,"
                " messages_out, resolutions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (tenant_id, hour, agent_id, team_id, channel) DO UPDATE SET"
                " conversations = report_hourly.conversations + excluded.conversations,"
                " messages_in = report_hourly.messages_in + excluded.messages_in,"
                " messages_out = report_hourly.messages_out + excluded.messages_out,"
                " resolutions = report_hourly.resolutions + excluded.resolutions",
                [(self.tenant_id, *key, *counts) for key, counts in self.hourly.items()],
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
    for table in ("report_episodes", "report_replies", "report_hourly", "report_cursors"):
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
    started: list[tuple[Any, ...]]  # episodes started in the period: at, agent_id, team_id, channel, ms, bms
    ended: list[tuple[Any, ...]]  # episodes ended in the period: the same columns
    replies: dict[str, list[tuple[Any, ...]]]  # per channel, replies with a reply time in the period: ms, bms
    surveys: list[Row]


def _local_ms(day: dt.date, tz: zoneinfo.ZoneInfo) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def _where(
    q: ReportQuery, tenant_id: int, *, agent: str, team: str, channel: str, conversation: str | None
) -> tuple[str, list[Any]]:
    """The filters of ``q`` as ``AND …`` clauses over the given columns (``conversation`` None: no label)."""
    sql, params = "", []
    for column, value in ((agent, q.agent_id), (team, q.team_id), (channel, q.channel)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    if conversation is not None and q.label_id is not None:
        sql += f" AND {conversation} IN (SELECT id FROM conversations WHERE tenant_id = ? AND label_ids LIKE ?)"
        params += [tenant_id, label_like(q.label_id)]
    return sql, params


def _on(alias: str, q: ReportQuery, tenant_id: int, *, label: bool = True) -> tuple[str, list[Any]]:
    return _where(
        q,
        tenant_id,
        agent=f"{alias}.agent_id",
        team=f"{alias}.team_id",
        channel=f"{alias}.channel",
        conversation=f"{alias}.conversation_id" if label else None,
    )


_SUMS = ", ".join(f"SUM({c}) AS {c}" for c in _COUNTS)


def _facts(tx: Tx, tenant_id: int, q: ReportQuery, lo: int, hi: int, *, summary_only: bool = False) -> _Facts:
    """The facts of ``[lo, hi)``; with ``summary_only`` (the previous period) only what its summary needs."""
    by_hour: dict[int, list[int]] = {}
    by_dim: dict[_Dim, list[int]] = {}
    if q.label_id is None:
        h_where, h_params = _on("h", q, tenant_id, label=False)
        scope = f"FROM report_hourly h WHERE h.tenant_id = ? AND h.hour >= ? AND h.hour < ?{h_where}"
        if summary_only:
            row = tx.one(f"SELECT {_SUMS} {scope}", (tenant_id, lo, hi, *h_params))
            by_dim[(0, 0, "")] = [int((row or {}).get(c) or 0) for c in _COUNTS]
        else:
            for row in tx.all(f"SELECT hour, {_SUMS} {scope} GROUP BY hour", (tenant_id, lo, hi, *h_params)):
                by_hour[int(row["hour"])] = [int(row[c]) for c in _COUNTS]
        for row in (
            []
            if summary_only
            else tx.all(
                f"SELECT agent_id, team_id, channel, {_SUMS} {scope} GROUP BY agent_id, team_id, channel",
                (tenant_id, lo, hi, *h_params),
            )
        ):
            by_dim[(int(row["agent_id"]), int(row["team_id"]), str(row["channel"]))] = [int(row[c]) for c in _COUNTS]
    else:
        for at, dim, what in _labelled_counts(tx, tenant_id, q, lo, hi):
            by_hour.setdefault(at - at % HOUR_MS, [0, 0, 0, 0])[what] += 1
            by_dim.setdefault(dim, [0, 0, 0, 0])[what] += 1
    ep_where, ep_params = _on("e", q, tenant_id)
    started = tx.rows(
        "SELECT e.started_at AS at, e.agent_id, e.team_id, e.channel, e.first_response_ms AS ms,"
        " e.first_response_bms AS bms FROM report_episodes e"
        f" WHERE e.tenant_id = ? AND e.started_at >= ? AND e.started_at < ?{ep_where}",
        (tenant_id, lo, hi, *ep_params),
    )
    ended = tx.rows(
        "SELECT e.ended_at AS at, e.agent_id, e.team_id, e.channel, e.resolution_ms AS ms, e.resolution_bms AS bms"
        " FROM report_episodes e"
        f" WHERE e.tenant_id = ? AND e.ended_at >= ? AND e.ended_at < ?{ep_where}",
        (tenant_id, lo, hi, *ep_params),
    )
    r_where, r_params = _on("r", q, tenant_id)
    replies = {  # one read per channel: the filter runs in the database, not row by row here
        channel: tx.rows(
            "SELECT r.reply_ms, r.reply_bms FROM report_replies r WHERE r.tenant_id = ? AND r.at >= ? AND r.at < ?"
            f" AND r.reply_ms IS NOT NULL AND r.channel = ?{r_where}",
            (tenant_id, lo, hi, channel, *r_params),
        )
        for channel in protocol.REPORT_CHANNELS
        if q.channel in (None, channel)
    }
    s_where, s_params = _where(
        q, tenant_id, agent="s.agent_id", team="e.team_id", channel="e.channel", conversation="s.conversation_id"
    )
    joined = not summary_only or q.team_id is not None or q.channel is not None
    surveys = tx.all(
        "SELECT s.conversation_id, s.agent_id, s.rating, s.scale, s.comment, s.rated_at,"
        + (
            " e.team_id, e.channel FROM csat_surveys s LEFT JOIN report_episodes e"
            " ON e.conversation_id = s.conversation_id AND e.end_event_id = s.episode"
            if joined
            else " NULL AS team_id, NULL AS channel FROM csat_surveys s"
        )
        + f" WHERE s.tenant_id = ? AND s.created_at >= ? AND s.created_at < ?{s_where}",
        (tenant_id, lo, hi, *s_params),
    )
    return _Facts(by_hour, by_dim, started, ended, replies, surveys)


def _labelled_counts(tx: Tx, tenant_id: int, q: ReportQuery, lo: int, hi: int) -> Iterable[tuple[int, _Dim, int]]:
    """With a label filter the running counts (which know no labels) cannot answer: (time, dimensions, which
    count) of each new conversation, resolution and reply from the facts, and of each visitor message from the
    messages of the labelled conversations (by their assignee and team now)."""
    like = label_like(q.label_id or 0)
    labelled = "SELECT id FROM conversations WHERE tenant_id = ? AND label_ids LIKE ?"
    where, params = _on("e", q, tenant_id, label=False)
    queries = (
        (
            "SELECT e.started_at AS at, e.agent_id, e.team_id, e.channel FROM report_episodes e WHERE e.tenant_id = ?"
            f" AND e.episode_no = 1 AND e.started_at >= ? AND e.started_at < ?{where}",
            params,
            0,
        ),
        (
            "SELECT e.ended_at AS at, e.agent_id, e.team_id, e.channel FROM report_episodes e WHERE e.tenant_id = ?"
            f" AND e.ended_at >= ? AND e.ended_at < ?{where}",
            params,
            3,
        ),
        (
            "SELECT r.at, r.agent_id, r.team_id, r.channel FROM report_replies r WHERE r.tenant_id = ?"
            f" AND r.at >= ? AND r.at < ?{_on('r', q, tenant_id, label=False)[0]}",
            _on("r", q, tenant_id, label=False)[1],
            2,
        ),
    )
    alias = {0: "e", 3: "e", 2: "r"}
    for sql, extra, what in queries:
        for row in tx.all(
            f"{sql} AND {alias[what]}.conversation_id IN ({labelled})", (tenant_id, lo, hi, *extra, tenant_id, like)
        ):
            yield int(row["at"]), (int(row["agent_id"] or 0), int(row["team_id"] or 0), str(row["channel"])), what
    for row in tx.all(
        # A conversation with a message in the period was active at or after its start (last_activity is its
        # newest message's time): the inbox index then finds the few such conversations instead of the label
        # scanning every conversation of the tenant (0.36 s -> 0.03 s over 30 days of a million messages).
        "SELECT m.created_at AS at, m.client_id, c.assignee_id AS agent_id, c.team_id FROM messages m"
        " JOIN conversations c ON c.id = m.conversation_id WHERE c.tenant_id = ? AND c.last_activity >= ?"
        " AND c.label_ids LIKE ? AND m.author_kind = 'visitor' AND m.created_at >= ? AND m.created_at < ?",
        (tenant_id, lo, like, lo, hi),
    ):
        channel = domain.message_channel("visitor", str(row["client_id"]))
        if (
            (q.agent_id is None or row["agent_id"] == q.agent_id)
            and (q.team_id is None or row["team_id"] == q.team_id)
            and (q.channel is None or channel == q.channel)
        ):
            yield int(row["at"]), (int(row["agent_id"] or 0), int(row["team_id"] or 0), channel), 1


def _sec(v: float | None) -> float | None:
    return None if v is None else round(v / 1000, 3)


_AT, _AGENT, _TEAM, _CHANNEL, _MS, _BMS = range(6)  # the columns of an episode tuple


def _stats(wall: list[int], business: list[int]) -> protocol.DurationStats:
    """The statistics of ascending ``wall`` and ``business`` durations (ms)."""

    def mean(v: list[int]) -> float | None:
        return _sec(sum(v) / len(v)) if v else None

    return protocol.DurationStats(
        count=len(wall),
        mean=mean(wall),
        median=_sec(domain.percentile(wall, 0.5)),
        p90=_sec(domain.percentile(wall, 0.9)),
        business_mean=mean(business),
        business_median=_sec(domain.percentile(business, 0.5)),
        business_p90=_sec(domain.percentile(business, 0.9)),
    )


def _median_s(rows: Iterable[tuple[Any, ...]]) -> float | None:
    return _sec(domain.percentile(sorted([r[_MS] for r in rows if r[_MS] is not None]), 0.5))


def _happy(row: Row) -> bool:
    rating = int(row["rating"])
    return rating >= 1 if row["scale"] == "thumbs" else rating >= 4


def _csat(rows: Sequence[Row]) -> protocol.CsatStats:
    rated = [r for r in rows if r["rating"] is not None]
    return protocol.CsatStats(
        surveys=len(rows),
        responses=len(rated),
        score=round(sum(1 for r in rated if _happy(r)) / len(rated), 4) if rated else None,
        response_rate=round(len(rated) / len(rows), 4) if rows else None,
    )


def _split(rows: Iterable[Any], key: Any) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        out[row[key]].append(row)
    return out


def _summaries(f: _Facts, channels: Sequence[str]) -> dict[str | None, protocol.ReportSummary]:
    """The summary of the whole period (key None) and of each of ``channels``. Each duration is sorted once
    per channel; the whole period's list is the channels' sorted lists concatenated and sorted again, which
    Python's sort merges in linear time (it finds the sorted runs)."""
    keys: list[str | None] = [None, *channels]
    sums: dict[str | None, list[int]] = {k: [0, 0, 0, 0] for k in keys}
    for (_, _, ch), counts in f.by_dim.items():
        for key in (None, ch):
            if key in sums:
                sums[key] = [a + b for a, b in zip(sums[key], counts, strict=True)]
    durations: dict[str | None, list[protocol.DurationStats]] = {k: [] for k in keys}
    for measure in ("first_response", "reply_time", "resolution"):
        wall: dict[str, list[int]] = {c: [] for c in channels}
        business: dict[str, list[int]] = {c: [] for c in channels}
        if measure == "reply_time":
            for c in channels:
                wall[c] = [r[0] for r in f.replies.get(c, ())]
                business[c] = [r[1] for r in f.replies.get(c, ()) if r[1] is not None]
        else:  # one pass over the episodes, split by channel
            for r in f.started if measure == "first_response" else f.ended:
                if r[_CHANNEL] in wall:
                    if r[_MS] is not None:
                        wall[r[_CHANNEL]].append(r[_MS])
                    if r[_BMS] is not None:
                        business[r[_CHANNEL]].append(r[_BMS])
        for c in channels:
            wall[c].sort()
            business[c].sort()
            durations[c].append(_stats(wall[c], business[c]))
        durations[None].append(
            _stats(sorted([v for c in channels for v in wall[c]]), sorted([v for c in channels for v in business[c]]))
        )
    surveys = _split(f.surveys, "channel")
    return {
        k: protocol.ReportSummary(
            **dict(zip(_COUNTS, sums[k], strict=True)),
            first_response=durations[k][0],
            reply_time=durations[k][1],
            resolution=durations[k][2],
            csat=_csat(f.surveys if k is None else surveys.get(k, [])),
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


def _volume(f: _Facts, q: ReportQuery, tz: zoneinfo.ZoneInfo) -> list[protocol.ReportBucket]:
    bucket = _bucket_of(q.group, tz)
    counts: dict[str, list[int]] = {}
    for hour, four in f.by_hour.items():
        into = counts.setdefault(bucket(hour), [0, 0, 0, 0])
        for i in range(4):
            into[i] += four[i]
    names: dict[int, str] = {}  # UTC hour → bucket, looked up here rather than through a call per row

    def durations(rows: list[tuple[Any, ...]]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            ms = row[_MS]
            if ms is not None:
                at = row[_AT]
                hour = at - at % HOUR_MS
                name = names.get(hour)
                if name is None:
                    name = names[hour] = bucket(hour)
                out[name].append(ms)
        return out

    started, ended = durations(f.started), durations(f.ended)

    def median(values: list[int] | None) -> float | None:
        return _sec(domain.percentile(sorted(values), 0.5)) if values else None

    return [
        protocol.ReportBucket(
            bucket=name,
            **dict(zip(_COUNTS, counts.get(name, (0, 0, 0, 0)), strict=True)),
            first_response_median=median(started.get(name)),
            resolution_median=median(ended.get(name)),
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
    column = _AGENT if key == "agent_id" else _TEAM
    started, ended, surveys = _split(f.started, column), _split(f.ended, column), _split(f.surveys, key)
    ids = {i for i in (*started, *ended, *surveys, *replies) if i}
    if only is not None:
        ids &= {only}
    return [
        protocol.ReportRow(
            id=int(ident),
            name=names.get(int(ident), f"#{ident}"),
            conversations=len(started.get(ident, ())),
            replies=replies.get(ident, 0),
            first_response_median=_median_s(started.get(ident, ())),
            resolution_median=_median_s(ended.get(ident, ())),
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
    facts = _facts(tx, tenant_id, q, lo, hi)
    previous = _facts(tx, tenant_id, before, _local_ms(before.start, tz), lo, summary_only=True)
    summaries = _summaries(facts, protocol.REPORT_CHANNELS)
    comments = sorted(
        (r for r in facts.surveys if r["comment"] and r["rating"] is not None),
        key=lambda r: (-int(r["rated_at"] or 0), -int(r["conversation_id"])),
    )[:MAX_COMMENTS]
    return protocol.ReportResult(
        start=q.start.isoformat(),
        end=q.end.isoformat(),
        group=q.group,
        time_zone=tz_name,
        generated_at=now,
        summary=summaries[None],
        previous=_summaries(previous, protocol.REPORT_CHANNELS)[None],
        volume=_volume(facts, q, tz),
        heatmap=_heatmap(facts, tz),
        agents=_rows(facts, "agent_id", _names(tx, "agents", tenant_id), q.agent_id),
        teams=_rows(facts, "team_id", _names(tx, "teams", tenant_id), q.team_id),
        channels={channel: summaries[channel] for channel in protocol.REPORT_CHANNELS},
        csat_comments=[
            protocol.CsatComment(
                conversation_id=int(r["conversation_id"]),
                agent_id=r["agent_id"],
                rating=int(r["rating"]),
                scale=str(r["scale"]),
                comment=str(r["comment"]),
                rated_at=int(r["rated_at"] or 0),
            )
            for r in comments
        ],
    )
