"""Reports (issue 17; docs/REPORTS.md for what every figure means, PROTOCOL.md "Reports" for the request).

Three parts, one module, since they share the facts' shape (migration 0019):

- :func:`reactor`, the store's reactor (``Store.add_reactor``; :func:`frontdesk.server.store.open_store` adds one):
  inside every write, after its operation, it turns the events the write appended into reporting facts, so they
  commit with the events or not at all. Per message that is two or three short statements.
- :func:`rebuild`: a tenant's facts deleted and recomputed by replaying its event log through the very same
  per-event rule (``_FactWriter.apply``), so the incremental and the rebuilt figures are identical.
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
from typing import Any

from .. import domain, protocol
from ..domain import EventRecord
from ..exceptions import NotFound, ProtocolError
from ._sql import Row, Tx, dumps, record_from_row
from .base import Reactor
from .labels import label_like
from .tenants import tenant_config

__all__ = ["ReportQuery", "reactor", "rebuild", "report", "report_tenants"]

HOUR_MS = 3_600_000
#: How many events a rebuild reads at a time.
REBUILD_PAGE = 5000
#: The most CSAT comments one report carries.
MAX_COMMENTS = 100

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KINDS = ("conversation.created", "message.created", "conversation.updated", "config.updated")


# -- the incremental path -------------------------------------------------------------------------


def reactor() -> Reactor:
    """A new reports reactor (``Store.add_reactor``; :func:`frontdesk.server.store.open_store` adds one per store):
    the facts of each write's events, in that write's transaction (docs/REPORTS.md)."""
    return _FactWriter().react


class _FactWriter:
    """The one rule from an event to facts, shared by the reactor and :func:`rebuild`. It keeps the business
    hours it has parsed, by (tenant, ``since``): a schedule row never changes once written (a second change
    within the same millisecond replaces it, and drops the cached copy)."""

    def __init__(self) -> None:
        self._hours: dict[tuple[int, int], Mapping[str, Any]] = {}

    def react(self, tx: Tx, events: list[EventRecord]) -> None:
        for event in events:
            if event.kind in _KINDS:
                self.apply(tx, event)

    def apply(self, tx: Tx, event: EventRecord) -> None:
        payload, at, tenant = event.payload, event.created_at, event.tenant_id
        if event.kind == "config.updated":
            hours = payload.get("business_hours")
            if hours is not None:
                _seed_schedule(tx, tenant)
                tx.run(
                    "INSERT INTO report_schedules (tenant_id, since, hours) VALUES (?, ?, ?)"
                    " ON CONFLICT (tenant_id, since) DO UPDATE SET hours = excluded.hours",
                    (tenant, at, dumps(hours)),
                )
                self._hours.pop((tenant, at), None)
            return
        if event.conversation_id is None:
            return
        if event.kind == "conversation.created":
            self._open_episode(tx, event, payload, "widget", 1, unanswered_since=None)
            _count(tx, tenant, at, payload.get("assignee_id"), payload.get("team_id"), "widget", "conversations")
        elif event.kind == "message.created":
            conversation = payload.get("conversation") or {}
            kind = payload.get("author_kind")
            if kind == "visitor":
                channel = domain.message_channel("visitor", str(payload["client_id"]))
                self._visitor_message(tx, event, conversation, channel)
            elif kind == "agent":
                self._agent_reply(tx, event, conversation, int(payload["author_id"]), int(payload["id"]))
        elif event.kind == "conversation.updated":
            change = payload.get("change")
            if change == "resolved":
                self._resolve(tx, event, payload)
            elif change == "open" and _open_row(tx, event.conversation_id) is None:
                self._open_episode(tx, event, payload, "widget", None, unanswered_since=None)

    def _schedule_of(self, tx: Tx, tenant_id: int, since: int) -> Mapping[str, Any]:
        hours = self._hours.get((tenant_id, since))
        if hours is None:
            row = tx.one("SELECT hours FROM report_schedules WHERE tenant_id = ? AND since = ?", (tenant_id, since))
            hours = json.loads(row["hours"]) if row else {}
            self._hours[(tenant_id, since)] = hours
        return hours

    def _open_episode(
        self,
        tx: Tx,
        event: EventRecord,
        conversation: Mapping[str, Any],
        channel: str,
        number: int | None,
        *,
        unanswered_since: int | None,
    ) -> None:
        if number is None:
            row = tx.one(
                "SELECT COUNT(*) AS n FROM report_episodes WHERE conversation_id = ?", (event.conversation_id,)
            )
            number = int(row["n"]) + 1 if row else 1
        tx.run(
            "INSERT INTO report_episodes (tenant_id, conversation_id, start_event_id, episode_no, started_at,"
            " agent_id, team_id, channel, unanswered_since, schedule_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.tenant_id,
                event.conversation_id,
                event.event_id,
                number,
                event.created_at,
                conversation.get("assignee_id"),
                conversation.get("team_id"),
                channel,
                unanswered_since,
                _schedule_since(tx, event.tenant_id, event.created_at),
            ),
        )

    def _visitor_message(self, tx: Tx, event: EventRecord, conversation: Mapping[str, Any], channel: str) -> None:
        at = event.created_at
        changed = tx.run(
            "UPDATE report_episodes SET unanswered_since = COALESCE(unanswered_since, ?)"
            " WHERE conversation_id = ? AND ended_at IS NULL",
            (at, event.conversation_id),
        )
        if not changed:  # the message reopened a resolved conversation: a new episode, started by it
            self._open_episode(tx, event, conversation, channel, None, unanswered_since=at)
        agent, team = conversation.get("assignee_id"), conversation.get("team_id")
        _count(tx, event.tenant_id, at, agent, team, channel, "messages_in")

    def _agent_reply(
        self, tx: Tx, event: EventRecord, conversation: Mapping[str, Any], agent_id: int, message_id: int
    ) -> None:
        at, tenant, team = event.created_at, event.tenant_id, conversation.get("team_id")
        # A later reply (the common case) answers what was unanswered and changes nothing the period indexes
        # hold, so SQLite rewrites no index entry: one statement.
        episode = tx.one(
            "UPDATE report_episodes SET answered_from = unanswered_since, unanswered_since = NULL"
            " WHERE conversation_id = ? AND ended_at IS NULL AND first_reply_at IS NOT NULL"
            " RETURNING answered_from, channel, schedule_since",
            (event.conversation_id,),
        )
        first = False
        if episode is None:
            # The first reply of the episode (or none is open): it also sets the episode's agent, team and
            # wall-clock first response; the business-hours figure follows.
            episode = tx.one(
                "UPDATE report_episodes SET answered_from = unanswered_since, unanswered_since = NULL,"
                " agent_id = COALESCE(agent_id, ?), team_id = ?, first_response_ms = ? - started_at,"
                " first_reply_at = ?"
                " WHERE conversation_id = ? AND ended_at IS NULL"
                " RETURNING start_event_id, started_at, answered_from, channel, schedule_since",
                (agent_id, team, at, at, event.conversation_id),
            )
            first = episode is not None
        channel = "widget" if episode is None else str(episode["channel"])
        reply_ms = reply_bms = None
        if episode is not None:
            since = episode["answered_from"]
            if first or since is not None:
                hours = self._schedule_of(tx, tenant, int(episode["schedule_since"]))
                if since is not None:
                    reply_ms, reply_bms = at - int(since), domain.business_ms(int(since), at, hours)
                if first:
                    start = int(episode["started_at"])
                    tx.run(
                        "UPDATE report_episodes SET first_response_bms = ?"
                        " WHERE conversation_id = ? AND start_event_id = ?",
                        (domain.business_ms(start, at, hours), event.conversation_id, episode["start_event_id"]),
                    )
        tx.run(
            "INSERT INTO report_replies (message_id, tenant_id, conversation_id, at, agent_id, team_id, channel,"
            " reply_ms, reply_bms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (message_id, tenant, event.conversation_id, at, agent_id, team, channel, reply_ms, reply_bms),
        )
        _count(tx, tenant, at, agent_id, team, channel, "messages_out")

    def _resolve(self, tx: Tx, event: EventRecord, conversation: Mapping[str, Any]) -> None:
        episode = _open_row(tx, event.conversation_id or 0)
        if episode is None:
            return
        at, start = event.created_at, int(episode["started_at"])
        agent = conversation.get("assignee_id") or episode["agent_id"]
        team = conversation.get("team_id")
        hours = self._schedule_of(tx, event.tenant_id, int(episode["schedule_since"]))
        tx.run(
            "UPDATE report_episodes SET ended_at = ?, end_event_id = ?, resolution_ms = ?, resolution_bms = ?,"
            " agent_id = ?, team_id = ?, unanswered_since = NULL WHERE conversation_id = ? AND start_event_id = ?",
            (
                at,
                event.event_id,
                at - start,
                domain.business_ms(start, at, hours),
                agent,
                team,
                event.conversation_id,
                episode["start_event_id"],
            ),
        )
        _count(tx, event.tenant_id, at, agent, team, str(episode["channel"]), "resolutions")


def _open_row(tx: Tx, conversation_id: int) -> Row | None:
    return tx.one(
        "SELECT start_event_id, started_at, agent_id, channel, schedule_since"
        " FROM report_episodes WHERE conversation_id = ? AND ended_at IS NULL",
        (conversation_id,),
    )


#: The counters of an hour's row, each with the statement that adds to an existing row (most calls: the row of
#: this hour, agent, team and channel is there after its first message).
_COUNTERS = ("conversations", "messages_in", "messages_out", "resolutions")
_ADD = {
    counter: f"UPDATE report_hourly SET {counter} = {counter} + 1"
    " WHERE tenant_id = ? AND hour = ? AND agent_id = ? AND team_id = ? AND channel = ?"
    for counter in _COUNTERS
}


def _count(tx: Tx, tenant_id: int, at: int, agent_id: Any, team_id: Any, channel: str, counter: str) -> None:
    """Add one to ``counter`` of the hour of ``at`` for that agent, team and channel. An update first (one
    B-tree seek, the row changed in place), and the insert only for an hour's first (writers of a tenant are
    serialized, so no other writer can insert the row in between)."""
    key = (tenant_id, at - at % HOUR_MS, int(agent_id or 0), int(team_id or 0), channel)
    if tx.run(_ADD[counter], key):
        return
    counts = [int(c == counter) for c in _COUNTERS]
    tx.run(
        "INSERT INTO report_hourly (tenant_id, hour, agent_id, team_id, channel, conversations, messages_in,"
        " messages_out, resolutions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, hour, agent_id, team_id, channel) DO UPDATE SET"
        " conversations = report_hourly.conversations + excluded.conversations,"
        " messages_in = report_hourly.messages_in + excluded.messages_in,"
        " messages_out = report_hourly.messages_out + excluded.messages_out,"
        " resolutions = report_hourly.resolutions + excluded.resolutions",
        (*key, *counts),
    )


def _seed_schedule(tx: Tx, tenant_id: int) -> None:
    """The first schedule row of a tenant (from the beginning of time): its configuration's hours now."""
    if tx.one("SELECT 1 AS x FROM report_schedules WHERE tenant_id = ? LIMIT 1", (tenant_id,)) is None:
        row = tx.one("SELECT * FROM tenants WHERE id = ?", (tenant_id,))
        hours = tenant_config(row).get("business_hours") if row else None
        tx.run(
            "INSERT INTO report_schedules (tenant_id, since, hours) VALUES (?, 0, ?)",
            (tenant_id, dumps(hours or {"enabled": False, "timezone": "UTC", "days": {}})),
        )


def _schedule_since(tx: Tx, tenant_id: int, at: int) -> int:
    """Which business hours are in force at ``at`` (their ``since``; docs/REPORTS.md, "Durations")."""
    sql = "SELECT since FROM report_schedules WHERE tenant_id = ? AND since <= ? ORDER BY since DESC LIMIT 1"
    row = tx.one(sql, (tenant_id, at))
    if row is None:
        _seed_schedule(tx, tenant_id)
        row = tx.one(sql, (tenant_id, at))
    return int(row["since"]) if row else 0


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
    """Delete ``tenant_id``'s facts and recompute them from its event log with the incremental path's rule;
    the number of events replayed. The schedule history is kept (it is the record the business-hours
    figures are computed with)."""
    for table in ("report_episodes", "report_replies", "report_hourly"):
        tx.run(f"DELETE FROM {table} WHERE tenant_id = ?", (tenant_id,))
    marks = ", ".join("?" for _ in _KINDS)
    after, replayed, writer = 0, 0, _FactWriter()
    while True:
        rows = tx.all(
            f"SELECT * FROM events WHERE tenant_id = ? AND event_id > ? AND kind IN ({marks})"
            " ORDER BY event_id LIMIT ?",
            (tenant_id, after, *_KINDS, REBUILD_PAGE),
        )
        for row in rows:
            writer.apply(tx, record_from_row(row))
        replayed += len(rows)
        if len(rows) < REBUILD_PAGE:
            return replayed
        after = int(rows[-1]["event_id"])


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
        "SELECT m.created_at AS at, m.client_id, c.assignee_id AS agent_id, c.team_id FROM messages m"
        " JOIN conversations c ON c.id = m.conversation_id WHERE c.tenant_id = ? AND c.label_ids LIKE ?"
        " AND m.author_kind = 'visitor' AND m.created_at >= ? AND m.created_at < ?",
        (tenant_id, like, lo, hi),
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
    tz_name = str((tenant_config(row).get("business_hours") or {}).get("timezone") or "UTC")
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
