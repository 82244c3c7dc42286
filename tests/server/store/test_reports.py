"""Reports (server/store/reports.py; docs/REPORTS.md) on hand-built histories, on every backend."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import numpy as np
import pytest
from frontdesk.server import domain
from frontdesk.server.exceptions import NotFound
from frontdesk.server.protocol import ReportResult
from frontdesk.server.store import Store, _sql, csat, labels, messages, reports, tenants, visitors

from .test_contract import World, reply, rows, run, say, seed, status
from .test_csat_exports import resolve

MIN = 60_000
HOUR = 60 * MIN
#: Friday 6 March 2026, 15:00 UTC (16:00 in Paris).
T0 = int(dt.datetime(2026, 3, 6, 15, 0, tzinfo=dt.UTC).timestamp() * 1000)
PARIS_9_TO_5 = {
    "enabled": True,
    "timezone": "Europe/Paris",
    "days": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}


class Clock:
    """The store's clock (``_sql.now_ms`` reads ``time.time_ns``), set by the test."""

    def __init__(self, at: int) -> None:
        self.at = at

    def time_ns(self) -> int:
        return self.at * 1_000_000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock(T0)
    monkeypatch.setattr(_sql, "time", c)
    return c


async def get(store: Store, w: World, start: str = "2026-03-01", end: str = "2026-03-31", **kw: Any) -> ReportResult:
    q = reports.ReportQuery(dt.date.fromisoformat(start), dt.date.fromisoformat(end), **kw)
    await store.write(reports.project_all, w.tenant)  # as report.get does
    return await store.read(reports.report, w.tenant, q, now=0)


async def note(store: Store, w: World, c: int, body: str) -> None:
    await store.write(
        messages.post_note, w.tenant, agent_id=w.agent, conversation_id=c, client_id=f"note-{body}", body=body
    )


async def tag(store: Store, w: World, c: int, label_id: int) -> None:
    """The admin puts label ``label_id`` on conversation ``c``."""
    await store.write(
        labels.change_labels,
        w.tenant,
        agent_id=w.admin,
        conversation_id=c,
        label_id=label_id,
        add=True,
        client_id=None,
    )


async def facts(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every tenant's facts, projected up to the newest event first."""
    for tenant_id in await store.read(reports.report_tenants):
        await store.write(reports.project_all, tenant_id)
    return {
        "episodes": await rows(store, "SELECT * FROM report_episodes ORDER BY conversation_id, start_event_id"),
        "replies": await rows(store, "SELECT * FROM report_replies ORDER BY message_id"),
        "hourly": await rows(store, "SELECT * FROM report_hourly ORDER BY hour, agent_id, team_id, channel"),
        "daily": await rows(store, "SELECT * FROM report_daily ORDER BY day, agent_id, team_id, channel"),
    }


def daily_from_hourly(hourly: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The daily counts the hourly ones add up to: each UTC day's row is the sum of its hours' rows."""
    days: dict[tuple[Any, ...], dict[str, Any]] = {}
    for h in hourly:
        day = h["hour"] - h["hour"] % (24 * HOUR)
        key = (day, h["agent_id"], h["team_id"], h["channel"])
        into = days.setdefault(
            key,
            {
                "tenant_id": h["tenant_id"],
                "day": day,
                "agent_id": h["agent_id"],
                "team_id": h["team_id"],
                "channel": h["channel"],
                "conversations": 0,
                "messages_in": 0,
                "messages_out": 0,
                "resolutions": 0,
            },
        )
        for count in ("conversations", "messages_in", "messages_out", "resolutions"):
            into[count] += h[count]
    return [days[k] for k in sorted(days)]


async def rebuilt_equal(store: Store, w: World) -> None:
    """A rebuild from the event log gives exactly the facts the incremental path wrote."""
    before = await facts(store)
    assert before["episodes"]
    assert before["daily"] == daily_from_hourly(before["hourly"])
    await store.write(reports.rebuild, w.tenant)
    assert await facts(store) == before


def test_episodes_pending_time_notes_and_reply_time(store_url: str, clock: Clock) -> None:
    """A reopen starts a second episode measured from the reopen; pending time counts in the resolution;
    notes are not replies; reply time runs from the oldest unanswered visitor message; a rebuild matches."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "help"))["conversation_id"]
        clock.at = T0 + 10 * MIN
        await note(store, w, c, "looking")  # not a reply
        clock.at = T0 + 30 * MIN
        await reply(store, w, w.agent, c, "hello")  # first response 30 min
        clock.at = T0 + 40 * MIN
        await status(store, w, c, "pend")
        clock.at = T0 + 2 * HOUR
        await status(store, w, c, "resolve")  # resolution 2 h, pending included
        clock.at = T0 + 3 * HOUR
        await say(store, w, w.alice, "again", conversation_id=c)  # reopens: episode 2
        clock.at = T0 + 3 * HOUR + 5 * MIN
        await say(store, w, w.alice, "still there?", conversation_id=c)
        clock.at = T0 + 3 * HOUR + 15 * MIN
        await reply(store, w, w.agent, c, "yes")  # 15 min after the oldest unanswered
        clock.at = T0 + 3 * HOUR + 16 * MIN
        await reply(store, w, w.agent, c, "and more")  # answers nothing
        clock.at = T0 + 4 * HOUR
        await status(store, w, c, "resolve")

        r = await get(store, w)
        s = r.summary
        assert (s.conversations, s.messages_in, s.messages_out, s.resolutions) == (1, 3, 3, 2)
        assert s.first_response.count == 2
        assert s.first_response.median == (30 * 60 + 15 * 60) / 2
        assert s.first_response.business_median == s.first_response.median  # business hours off
        assert s.resolution.count == 2 and s.resolution.mean == (2 * 3600 + 3600) / 2
        assert s.resolution.p90 == pytest.approx(3600 + 0.9 * 3600)
        assert s.reply_time.count == 2 and sorted([s.reply_time.median]) == [(30 * 60 + 15 * 60) / 2]
        episodes = (await facts(store))["episodes"]
        assert [(e["episode_no"], e["started_at"], e["ended_at"]) for e in episodes] == [
            (1, T0, T0 + 2 * HOUR),
            (2, T0 + 3 * HOUR, T0 + 4 * HOUR),
        ]
        assert [row.id for row in r.agents] == [w.agent]
        assert (r.agents[0].conversations, r.agents[0].replies) == (2, 3)
        day = next(b for b in r.volume if b.bucket == "2026-03-06")
        assert (day.conversations, day.messages_in, day.resolutions) == (1, 3, 2)
        assert len(r.volume) == 31
        assert r.heatmap[4][15] == 1 and sum(map(sum, r.heatmap)) == 1  # Friday 15:00 (UTC)
        await rebuilt_equal(store, w)

    run(store_url, scenario)


def test_out_of_hours_and_a_changed_schedule(store_url: str, clock: Clock) -> None:
    """The business-hours figure counts only the schedule's hours (Friday 16:00 to Monday 10:00 in Paris is
    66 h on the wall clock, 2 h of business); changing the hours later rewrites no stored figure, a new
    episode uses the new hours, and a rebuild gives the same figures."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        clock.at = T0 - HOUR
        await store.write(tenants.set_config, w.tenant, {"business_hours": PARIS_9_TO_5}, w.admin)
        clock.at = T0
        c = (await say(store, w, w.alice, "friday afternoon"))["conversation_id"]
        clock.at = T0 + 66 * HOUR  # Monday 9 March, 10:00 in Paris
        await reply(store, w, w.agent, c, "good morning")
        await status(store, w, c, "resolve")
        r = await get(store, w)
        assert r.time_zone == "Europe/Paris"
        assert (r.summary.first_response.median, r.summary.first_response.business_median) == (66 * 3600, 2 * 3600)
        assert r.summary.reply_time.business_median == 2 * 3600

        clock.at = T0 + 67 * HOUR
        always = {"enabled": True, "timezone": "UTC", "days": {d: [["00:00", "23:59"]] for d in domain.WEEKDAYS}}
        await store.write(tenants.set_config, w.tenant, {"business_hours": always}, w.admin)
        again = await get(store, w)
        assert again.summary.first_response.business_median == 2 * 3600  # the past is not rewritten
        assert again.time_zone == "UTC"

        clock.at = T0 + 70 * HOUR
        await say(store, w, w.alice, "one more", conversation_id=c)
        clock.at = T0 + 72 * HOUR
        await reply(store, w, w.agent, c, "sure")
        await status(store, w, c, "resolve")
        episodes = (await facts(store))["episodes"]
        assert [e["first_response_bms"] for e in episodes] == [2 * HOUR, 2 * HOUR]
        await rebuilt_equal(store, w)
        assert [e["first_response_bms"] for e in (await facts(store))["episodes"]] == [2 * HOUR, 2 * HOUR]

    run(store_url, scenario)


def test_csat_email_channel_and_filters(store_url: str, clock: Clock) -> None:
    """CSAT is the share of 4-5 among ratings with the response rate and the comments; a visitor's reply by
    email starts an email episode; the agent, channel and label filters narrow the figures, and a label on
    every conversation narrows nothing; an unknown agent, team or label is not found."""

    async def scenario(store: Store) -> None:
        w = await seed(store)

        c1 = (await say(store, w, w.alice, "one"))["conversation_id"]
        await reply(store, w, w.agent, c1, "hi")
        await resolve(store, w, c1, now=T0)
        await store.write(
            csat.submit, w.tenant, visitor_id=w.alice, conversation_id=c1, rating=5, comment="great", now=T0 + 1
        )
        c2 = (await say(store, w, w.carol, "two"))["conversation_id"]
        await reply(store, w, w.admin, c2, "hi")
        await resolve(store, w, c2, now=T0)
        await store.write(
            csat.submit, w.tenant, visitor_id=w.carol, conversation_id=c2, rating=2, comment=None, now=T0 + 2
        )
        clock.at = T0 + HOUR
        await store.write(
            messages.post_message,
            w.tenant,
            author_kind="visitor",
            author_id=w.alice,
            conversation_id=c1,
            client_id=domain.email_client_id("<reply@mail.example>"),
            body="by email",
        )
        await reply(store, w, w.agent, c1, "got your email")
        await resolve(store, w, c1, now=T0)

        r = await get(store, w)
        assert (r.summary.csat.surveys, r.summary.csat.responses) == (3, 2)
        assert (r.summary.csat.score, r.summary.csat.response_rate) == (0.5, round(2 / 3, 4))
        assert [(x.conversation_id, x.rating, x.comment) for x in r.csat_comments] == [(c1, 5, "great")]
        assert (r.channels["email"].messages_in, r.channels["email"].resolutions) == (1, 1)
        assert r.channels["widget"].messages_in == 2
        mine = await get(store, w, agent_id=w.agent)
        assert (mine.summary.messages_out, mine.summary.resolutions, mine.summary.csat.surveys) == (2, 2, 2)
        assert [row.id for row in mine.agents] == [w.agent]
        email = await get(store, w, channel="email")
        assert (email.summary.conversations, email.summary.messages_in, email.summary.first_response.count) == (0, 1, 1)

        label = (await store.write(labels.create_label, w.tenant, "vip", "#ff0000")).label
        await tag(store, w, c2, label.id)
        tagged = await get(store, w, label_id=label.id)
        s = tagged.summary
        assert (s.conversations, s.messages_in, s.messages_out, s.resolutions) == (1, 1, 1, 1)
        assert (s.csat.surveys, s.first_response.count) == (1, 1)

        everything = (await store.write(labels.create_label, w.tenant, "all", "#00ff00")).label
        for c in (c1, c2):
            await tag(store, w, c, everything.id)
        whole, labelled = await get(store, w), await get(store, w, label_id=everything.id)
        # A label on every conversation gives the figures of no filter, read the other way (facts per row).
        for part in ("summary", "previous", "channels"):
            assert getattr(labelled, part) == getattr(whole, part), part

        for kw in ({"agent_id": 9999}, {"team_id": 9999}, {"label_id": 9999}, {"agent_id": w.foreign_agent}):
            with pytest.raises(NotFound):
                await get(store, w, **kw)
        await rebuilt_equal(store, w)

    run(store_url, scenario)


def test_business_ms_rules() -> None:
    """Business time: off means the whole interval; ranges are read in the schedule's zone, across a
    daylight-saving change (Paris moves to summer time on 29 March 2026)."""
    assert domain.business_ms(0, 5000, None) == 5000
    assert domain.business_ms(T0, T0 + 66 * HOUR, PARIS_9_TO_5) == 2 * HOUR
    sunday = int(dt.datetime(2026, 3, 29, 0, 0, tzinfo=dt.UTC).timestamp() * 1000)
    monday_9_paris = int(dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC).timestamp() * 1000)  # CEST: UTC+2
    assert domain.business_ms(sunday, monday_9_paris + HOUR, PARIS_9_TO_5) == HOUR
    assert domain.percentile([1, 2, 3, 4], 0.5) == 2.5 and domain.percentile([], 0.9) is None
    assert domain.message_channel("visitor", domain.email_client_id("<a@b>")) == "email"
    assert domain.message_channel("visitor", "5c1f0b9e-0e6e-4a38-9d3f-3a1d1f0b2c7e") == "widget"


def test_a_label_filter_counts_a_conversation_quiet_since_the_period_began(store_url: str, clock: Clock) -> None:
    """Under a label filter, a labelled conversation whose last message came before the period but which was
    resolved (and sent a survey) in it counts its resolution and survey in the period, and its messages in the
    previous one; a labelled conversation created after the period counts in neither."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        label = (await store.write(labels.create_label, w.tenant, "vip", "#ff0000")).label
        clock.at = T0 - 20 * 24 * HOUR  # 14 February
        quiet = (await say(store, w, w.alice, "in february"))["conversation_id"]
        await reply(store, w, w.agent, quiet, "hello")
        await tag(store, w, quiet, label.id)
        clock.at = T0  # 6 March: resolved in the period, with no message in it
        await resolve(store, w, quiet, now=T0)
        clock.at = T0 + 30 * 24 * HOUR  # 5 April
        later = (await say(store, w, w.carol, "in april"))["conversation_id"]
        await tag(store, w, later, label.id)
        march_1 = int(dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp() * 1000)
        [found] = await rows(store, "SELECT last_activity FROM conversations WHERE id = ?", (quiet,))
        assert found["last_activity"] < march_1  # quiet since before the period

        tagged = await get(store, w, label_id=label.id)
        s, p = tagged.summary, tagged.previous
        assert (s.conversations, s.messages_in, s.messages_out, s.resolutions, s.csat.surveys) == (0, 0, 0, 1, 1)
        assert s.resolution.count == 1
        assert (p.conversations, p.messages_in, p.messages_out, p.resolutions) == (1, 1, 1, 0)

    run(store_url, scenario)


def test_a_label_filter_keeps_a_reply_whose_writer_clock_stepped_back(store_url: str, clock: Clock) -> None:
    """Under a label filter, a reply in the period still counts when the clock then steps back across the
    period's start (NTP, a resumed VM, nodes that disagree) and a later message leaves the conversation's last
    activity before the period: the same figure as without the filter."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        label = (await store.write(labels.create_label, w.tenant, "vip", "#ff0000")).label
        march_1 = int(dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp() * 1000)
        clock.at = march_1 - 9 * 24 * HOUR
        c = (await say(store, w, w.alice, "hi"))["conversation_id"]
        await tag(store, w, c, label.id)
        clock.at = march_1 + 2000  # the agent replies 2 s into March
        await reply(store, w, w.agent, c, "hello")
        clock.at = march_1 - 1000  # the clock steps back 3 s
        await say(store, w, w.alice, "thanks")
        untagged, tagged = await get(store, w), await get(store, w, label_id=label.id)
        assert tagged.summary.messages_out == untagged.summary.messages_out == 1
        assert tagged.summary.reply_time.count == untagged.summary.reply_time.count == 1

    run(store_url, scenario)


def test_duration_aggregates_read_the_same_from_either_dialect_and_sum_exactly() -> None:
    """An aggregate of durations reads the same from SQLite's JSON text and PostgreSQL's array (NULL and an
    empty list as nothing); a malformed one raises rather than losing values; and a mean's sum stays exact
    where an int64 sum would overflow."""
    for found in ("[5,-3,12,0]", [5, -3, 12, 0]):
        assert reports._ascending(found).tolist() == [-3, 0, 5, 12]
    for empty in (None, "[]", []):
        assert reports._parsed(empty).tolist() == []
    for malformed in ("[1,2.5x]", "[1,2.5,3]"):
        with pytest.raises(ValueError):
            reports._parsed(malformed)
    assert reports._total(np.array([1, 2, 3], dtype=np.int64)) == 6
    huge = np.array([2**62, 2**62, 2**62 + 1], dtype=np.int64)
    assert reports._total(huge) == 3 * 2**62 + 1
    assert domain.percentile(np.array([1, 2, 3, 4], dtype=np.int64), 0.5) == 2.5


def test_the_projection_counts_each_event_once_whatever_its_batches(store_url: str, clock: Clock) -> None:
    """The facts trail the commits; projected a page of one event after each write (so batches end anywhere:
    mid-episode, between a reopen and its reply, across a schedule change), then up to date, they equal one
    rebuild's, a second projection changes nothing, and the cursor stands at the newest reporting event."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        steps: list[Any] = []

        async def step(write: Any) -> Any:
            result = await write
            steps.append(await store.write(reports.project, w.tenant, 1))
            return result

        c = (await step(say(store, w, w.alice, "help")))["conversation_id"]
        clock.at = T0 + 10 * MIN
        await step(say(store, w, w.alice, "anyone?", conversation_id=c))
        clock.at = T0 + 20 * MIN
        await step(reply(store, w, w.agent, c, "hello"))
        clock.at = T0 + 30 * MIN
        await step(store.write(tenants.set_config, w.tenant, {"business_hours": PARIS_9_TO_5}, w.admin))
        clock.at = T0 + HOUR
        await step(status(store, w, c, "resolve"))
        clock.at = T0 + 2 * HOUR
        await step(say(store, w, w.alice, "one more thing", conversation_id=c))  # reopens: episode 2
        other = (await step(say(store, w, w.carol, "hi")))["conversation_id"]
        clock.at = T0 + 3 * HOUR
        await step(reply(store, w, w.agent, c, "go on"))
        await step(reply(store, w, w.agent, other, "hi Carol"))
        clock.at = T0 + 4 * HOUR
        await step(status(store, w, c, "resolve"))
        assert all(done.read == 1 for done in steps) and any(done.more for done in steps)  # behind all along
        projected = await facts(store)
        assert (await store.write(reports.project, w.tenant))[:2] == (0, False)
        assert await facts(store) == projected
        newest = await rows(
            store,
            "SELECT MAX(event_id) AS e FROM events WHERE tenant_id = ? AND kind IN (?, ?, ?, ?)",
            (w.tenant, *reports.PROJECTED_KINDS),
        )
        cursor = await rows(store, "SELECT last_event_id FROM report_cursors WHERE tenant_id = ?", (w.tenant,))
        assert cursor == [{"last_event_id": newest[0]["e"]}]
        assert [(e["episode_no"], e["ended_at"]) for e in projected["episodes"]] == [
            (1, T0 + HOUR),
            (2, T0 + 4 * HOUR),
            (1, None),
        ]
        assert sum(h["messages_in"] for h in projected["hourly"]) == 4
        assert projected["daily"] == daily_from_hourly(projected["hourly"])
        await rebuilt_equal(store, w)

    run(store_url, scenario)


def test_erasure_removes_the_visitors_episodes_and_replies(store_url: str, clock: Clock) -> None:
    """Erasing a visitor deletes their conversations' episode and reply rows; the hourly counts stay."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "help"))["conversation_id"]
        await reply(store, w, w.agent, c, "hi")
        other = (await say(store, w, w.carol, "me too"))["conversation_id"]
        await reply(store, w, w.agent, other, "hi")
        await store.write(visitors.erase_visitor, w.tenant, w.alice)
        left = await facts(store)
        assert {e["conversation_id"] for e in left["episodes"]} == {other}
        assert {r["conversation_id"] for r in left["replies"]} == {other}
        assert (await get(store, w)).summary.messages_in == 2

    run(store_url, scenario)


@pytest.mark.parametrize("per_channel", [(0, 1), (1, 2), (7, 12), (40, 33)])
def test_reply_time_percentiles_are_exact(store_url: str, clock: Clock, per_channel: tuple[int, int]) -> None:
    """The reply times' count, mean, median and p90 (wall clock and business hours), overall and per channel,
    equal those of every reply time sorted, with odd and even counts, ties, replies that answered nothing
    and replies without a business-hours figure; a channel filter gives that channel's figures."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        values: dict[str, list[tuple[int, int | None]]] = {"widget": [], "email": []}
        rows_in: list[tuple[Any, ...]] = []
        n = 0
        for channel, count in zip(("widget", "email"), per_channel, strict=True):
            for i in range(count):
                n += 1
                wall = (n * 7919) % 23 * MIN + (i % 3)  # ties and spread
                business = None if i % 5 == 4 else wall // (i % 4 + 1)
                values[channel].append((wall, business))
                rows_in.append((w.tenant, T0 + n * MIN, n, 1, w.agent, None, channel, wall, business))
                if i % 6 == 0:  # a reply that answered nothing: no reply time
                    n += 1
                    rows_in.append((w.tenant, T0 + n * MIN, n, 1, w.agent, None, channel, None, None))

        def insert(tx: Any) -> None:
            for row in rows_in:
                tx.run(
                    "INSERT INTO report_replies (tenant_id, at, message_id, conversation_id, agent_id, team_id,"
                    " channel, reply_ms, reply_bms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )

        await store.write(insert)

        def expected(pairs: list[tuple[int, int | None]]) -> tuple[Any, ...]:
            wall = sorted(p[0] for p in pairs)
            business = sorted(p[1] for p in pairs if p[1] is not None)

            def s(v: float | None) -> float | None:
                return None if v is None else round(v / 1000, 3)

            return (
                len(wall),
                s(sum(wall) / len(wall)) if wall else None,
                s(domain.percentile(wall, 0.5)),
                s(domain.percentile(wall, 0.9)),
                s(sum(business) / len(business)) if business else None,
                s(domain.percentile(business, 0.5)),
                s(domain.percentile(business, 0.9)),
            )

        def got(d: Any) -> tuple[Any, ...]:
            return (d.count, d.mean, d.median, d.p90, d.business_mean, d.business_median, d.business_p90)

        r = await get(store, w)
        assert got(r.summary.reply_time) == expected(values["widget"] + values["email"])
        for channel in ("widget", "email"):
            assert got(r.channels[channel].reply_time) == expected(values[channel])
            only = await get(store, w, channel=channel)
            assert got(only.summary.reply_time) == expected(values[channel])
        assert got((await get(store, w, start="2026-04-01", end="2026-04-30")).previous.reply_time) == got(
            r.summary.reply_time
        )

    run(store_url, scenario)


@pytest.mark.parametrize("longest", [23 * HOUR, 20 * 366 * 24 * HOUR])
def test_medians_per_agent_team_and_bucket_are_exact(
    store_url: str, clock: Clock, longest: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each agent's and team's conversations, median first response and median resolution, and each day's
    medians, equal those of their episodes sorted: episodes without a first response left out but counted as
    handled, negative durations (clocks) and, in the second case, resolutions longer than 17 years (read
    row by row instead of as one aggregate)."""

    by_row: list[int] = []
    read_by_row = reports._by_row

    def spy(*args: Any) -> Any:
        by_row.append(1)
        return read_by_row(*args)

    monkeypatch.setattr(reports, "_by_row", spy)

    async def scenario(store: Store) -> None:
        w = await seed(store)
        rows_in: list[tuple[Any, ...]] = []
        for n in range(1, 61):
            agent = (w.agent, 7001, 7002, None)[n % 4]
            team = (None, 8001, 8002)[n % 3]
            first = None if n % 7 == 0 else ((n * 7919) % 41 - 3) * MIN  # ties, and a few negative
            resolution = longest if n % 11 == 0 else (n * 104729) % 97 * MIN
            ended = T0 + (n % 5) * 24 * HOUR + n * MIN + 2 * HOUR
            rows_in.append(
                (
                    w.tenant,
                    n,
                    n,
                    1,
                    ended - resolution,
                    ended,
                    1000 + n,
                    first,
                    first,
                    resolution,
                    resolution,
                    agent,
                    team,
                    "widget" if n % 3 else "email",
                )
            )

        def insert(tx: Any) -> None:
            for row in rows_in:
                tx.run(
                    "INSERT INTO report_episodes (tenant_id, conversation_id, start_event_id, episode_no, started_at,"
                    " ended_at, end_event_id, first_response_ms, first_response_bms, resolution_ms, resolution_bms,"
                    " agent_id, team_id, channel) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )

        await store.write(insert)
        lo = int(dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp() * 1000)
        hi = int(dt.datetime(2026, 4, 1, tzinfo=dt.UTC).timestamp() * 1000)

        def median(values: list[int]) -> float | None:
            m = domain.percentile(sorted(values), 0.5)
            return None if m is None else round(m / 1000, 3)

        def day(at: int) -> str:
            return dt.datetime.fromtimestamp(at / 1000, dt.UTC).date().isoformat()

        r = await get(store, w)
        for column, got_rows in ((11, r.agents), (12, r.teams)):
            expected = {}
            for ident in {row[column] for row in rows_in} - {None}:
                started = [row for row in rows_in if row[column] == ident and lo <= row[4] < hi]
                ended = [row for row in rows_in if row[column] == ident and lo <= row[5] < hi]
                expected[ident] = (
                    len(started),
                    median([row[7] for row in started if row[7] is not None]),
                    median([row[9] for row in ended]),
                )
            assert {g.id: (g.conversations, g.first_response_median, g.resolution_median) for g in got_rows} == expected
        for bucket in r.volume:
            started = [row[7] for row in rows_in if day(row[4]) == bucket.bucket and row[7] is not None]
            ended = [row[9] for row in rows_in if lo <= row[5] < hi and day(row[5]) == bucket.bucket]
            assert (bucket.first_response_median, bucket.resolution_median) == (median(started), median(ended))
        resolutions = sorted(row[9] for row in rows_in if lo <= row[5] < hi)
        assert (r.summary.resolution.count, r.summary.resolution.p90) == (
            len(resolutions),
            round((domain.percentile(resolutions, 0.9) or 0) / 1000, 3),
        )
        assert bool(by_row) == (longest > 2**39)

    run(store_url, scenario)


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kolkata", "UTC"])
def test_counts_from_the_daily_rollup_equal_the_hourly_sums(store_url: str, clock: Clock, zone: str) -> None:
    """A report's counts (its summary, the previous period's, each agent's and team's replies) equal the sums of
    the hourly counts over its local days, whether its range holds whole UTC days (read from the daily counts)
    or not, in a time zone a whole number of hours from UTC, one half an hour off, and UTC itself."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        hours = {**PARIS_9_TO_5, "timezone": zone}
        await store.write(tenants.set_config, w.tenant, {"business_hours": hours}, w.admin)
        await store.write(reports.project_all, w.tenant)
        start = int(dt.datetime(2026, 2, 20, tzinfo=dt.UTC).timestamp() * 1000)
        hourly = []
        for n in range(24 * 40):
            if n % 5 in (1, 3):
                continue
            for agent, team, channel in ((w.agent, 1, "widget"), (0, 0, "email"), (w.admin, 2, "widget")):
                if (n + agent) % 3:
                    hourly.append(
                        {
                            "tenant_id": w.tenant,
                            "hour": start + n * HOUR,
                            "agent_id": agent,
                            "team_id": team,
                            "channel": channel,
                            "conversations": n % 4,
                            "messages_in": n % 7 + 1,
                            "messages_out": n % 3,
                            "resolutions": n % 2,
                        }
                    )

        def insert(tx: Any) -> None:
            for table, key, rows_in in (
                ("report_hourly", "hour", hourly),
                ("report_daily", "day", daily_from_hourly(hourly)),
            ):
                tx.run(f"DELETE FROM {table} WHERE tenant_id = ?", (w.tenant,))  # noqa: S608 - our two tables
                for row in rows_in:
                    tx.run(
                        f"INSERT INTO {table} (tenant_id, {key}, agent_id, team_id, channel, conversations,"  # noqa: S608
                        " messages_in, messages_out, resolutions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        tuple(
                            row[c]
                            for c in (
                                "tenant_id",
                                key,
                                "agent_id",
                                "team_id",
                                "channel",
                                "conversations",
                                "messages_in",
                                "messages_out",
                                "resolutions",
                            )
                        ),
                    )

        await store.write(insert)
        tz = zoneinfo.ZoneInfo(zone)

        def local(day: str) -> int:
            d = dt.date.fromisoformat(day)
            return int(dt.datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)

        def sums(lo: int, hi: int, **only: Any) -> list[int]:
            inside = [h for h in hourly if lo <= h["hour"] < hi and all(h[k] == v for k, v in only.items())]
            return [sum(h[c] for h in inside) for c in ("conversations", "messages_in", "messages_out", "resolutions")]

        for first, last in (("2026-02-21", "2026-02-21"), ("2026-02-22", "2026-03-05"), ("2026-03-01", "2026-03-31")):
            lo, hi = local(first), local((dt.date.fromisoformat(last) + dt.timedelta(days=1)).isoformat())
            r = await get(store, w, first, last)
            s = r.summary
            assert [s.conversations, s.messages_in, s.messages_out, s.resolutions] == sums(lo, hi)
            for channel in ("widget", "email"):
                c = r.channels[channel]
                assert [c.conversations, c.messages_in, c.messages_out, c.resolutions] == sums(lo, hi, channel=channel)
            days = (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days + 1
            p = r.previous
            before = local((dt.date.fromisoformat(first) - dt.timedelta(days=days)).isoformat())
            assert [p.conversations, p.messages_in, p.messages_out, p.resolutions] == sums(before, lo)
            assert {a.id: a.replies for a in r.agents} == {
                a: sums(lo, hi, agent_id=a)[2] for a in (w.agent, w.admin) if sums(lo, hi, agent_id=a)[2]
            }
            assert {t.id: t.replies for t in r.teams} == {
                t: sums(lo, hi, team_id=t)[2] for t in (1, 2) if sums(lo, hi, team_id=t)[2]
            }
            only = (await get(store, w, first, last, agent_id=w.agent)).summary
            assert [only.conversations, only.messages_in, only.messages_out, only.resolutions] == sums(
                lo, hi, agent_id=w.agent
            )

    run(store_url, scenario)
