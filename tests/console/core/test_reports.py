"""The console core's reports (console/core/reports.py): ``report.get`` over the link, the cached figures offline
(cache migration 15), an agent's own figures only. The server side of ``report.get`` lives on another branch, so a
scripted socket answers with a recorded ``ReportResult``, through the real link and its decoding."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from frontdesk.console.core import AgentRow, OfflineError, ServerError
from frontdesk.console.core.cache import MIGRATIONS
from frontdesk.console.core.reports import ReportQuery, change, preset_range, tenant_today
from frontdesk.server import protocol as p

from tests.console import wireobj as W
from tests.console.reports_data import GENERATED_AT, ScriptedSocket, Session, make_report

from .conftest import arun

ADMIN = AgentRow(1, "ada@example.com", "Ada Lovelace", "admin", True, True)
AGENT = AgentRow(2, "grace@example.com", "Grace Hopper", "agent", True, True)
QUERY = ReportQuery(start="2025-11-01", end="2025-11-03")


def test_report_is_asked_through_the_link_and_decoded(data_dir: Path) -> None:
    """An admin's report.get carries the range, grouping and filters, and its reply comes back typed and whole."""

    async def main() -> None:
        session = Session(data_dir, ADMIN, [GENERATED_AT / 1000 + 5])
        session.online(ScriptedSocket(make_report()))
        query = ReportQuery(start="2025-11-01", end="2025-11-03", group="week", team_id=11, channel="widget")
        fetched = await session.core.report(query)
        assert session.socket is not None
        (request,) = session.socket.requests
        assert {k: v for k, v in request.items() if k != "ref"} == {
            "type": "report.get",
            "start": "2025-11-01",
            "end": "2025-11-03",
            "group": "week",
            "team_id": 11,
            "channel": "widget",
        }
        assert not fetched.offline and fetched.query == query
        assert fetched.fetched_at == GENERATED_AT / 1000 + 5
        assert fetched.report == make_report()
        assert fetched.report.summary.first_response.median == 90.0
        assert [r.name for r in fetched.report.agents] == ["Ada Lovelace", "Grace Hopper", "Alan Turing"]
        await session.close()

    arun(main())


def test_offline_answers_from_the_cache_marked_as_such(data_dir: Path) -> None:
    """Offline, the last figures fetched for the same query come from the cache (surviving a restart), marked
    offline with when they were fetched; a query never fetched raises OfflineError."""

    async def main() -> None:
        clock = [1_000.0]
        session = Session(data_dir, ADMIN, clock)
        session.online(ScriptedSocket(make_report(generated_at=1_000_000)))
        await session.core.report(QUERY)
        clock[0] = 2_000.0
        session.socket = ScriptedSocket(make_report(generated_at=2_000_000))
        await session.offline()
        session.online(session.socket)
        await session.core.report(QUERY)  # a newer answer replaces the older one
        await session.close()

        again = Session(data_dir, ADMIN, clock)  # the console restarted, still offline
        fetched = await again.core.report(QUERY)
        assert fetched.offline and fetched.fetched_at == 2_000.0
        assert fetched.report.generated_at == 2_000_000
        assert fetched.report == make_report(generated_at=2_000_000)
        with pytest.raises(OfflineError):
            await again.core.report(dataclasses.replace(QUERY, group="month"))
        latest = again.core.cached_report()
        assert latest is not None and latest.query == QUERY and latest.offline
        await again.close()

    arun(main())


def test_an_agent_asks_only_for_their_own_figures(data_dir: Path) -> None:
    """An agent who is not an admin: every report.get carries their own agent_id, whatever the view asked."""

    async def main() -> None:
        session = Session(data_dir, AGENT, [1_000.0])
        session.online(ScriptedSocket(make_report(agents=[])))
        fetched = await session.core.report(QUERY)
        await session.core.report(dataclasses.replace(QUERY, agent_id=ADMIN.id))
        assert session.socket is not None
        assert [r["agent_id"] for r in session.socket.requests] == [AGENT.id, AGENT.id]
        assert fetched.query.agent_id == AGENT.id
        await session.offline()
        cached = await session.core.report(QUERY)  # the cache keeps it under their own query
        assert cached.offline and cached.query.agent_id == AGENT.id
        await session.close()

    arun(main())


def test_server_errors_are_not_hidden_by_the_cache(data_dir: Path) -> None:
    """A refusal (forbidden, invalid) reaches the caller even when the cache has figures; a bad range is refused
    before it is sent."""

    async def main() -> None:
        session = Session(data_dir, ADMIN, [1_000.0])
        session.online(ScriptedSocket(make_report()))
        await session.core.report(QUERY)
        await session.offline()
        session.online(ScriptedSocket(make_report(), error=("forbidden", "Admins only.")))
        with pytest.raises(ServerError) as refused:
            await session.core.report(QUERY)
        assert refused.value.code == "forbidden"
        with pytest.raises(ValueError, match="ends before it starts"):
            await session.core.report(ReportQuery(start="2025-11-03", end="2025-11-01"))
        with pytest.raises(ValueError, match="at most 731 days"):
            await session.core.report(ReportQuery(start="2023-01-01", end="2025-01-02"))
        assert session.socket is not None and len(session.socket.requests) == 1
        await session.close()

    arun(main())


def test_an_erasure_drops_the_cached_reports(data_dir: Path) -> None:
    """A visitor's erasure leaves none of their satisfaction comments in cached reports."""

    async def main() -> None:
        session = Session(data_dir, ADMIN, [1_000.0])
        session.online(ScriptedSocket(make_report()))
        await session.core.report(QUERY)
        assert session.core.cached_report(QUERY) is not None
        await session.core.cache.apply_events(
            W.events([{"kind": "visitor.erased", "event_id": 1, "data": {"visitor_id": 5}}])
        )
        assert session.core.cached_report(QUERY) is None
        assert session.core.cached_report() is None
        await session.close()

    arun(main())


def test_cache_migration_15_is_the_reports_table() -> None:
    """The reports cache is migration 15."""
    assert (15, "reports") in [(n, name) for n, name, _ in MIGRATIONS]


def test_presets_and_change() -> None:
    """The range presets end today (the tenant's), and the change against the previous period is relative."""
    today = dt.date(2026, 12, 7)
    assert preset_range("last_7", today) == (dt.date(2026, 12, 1), today)
    assert preset_range("last_30", today) == (dt.date(2026, 11, 8), today)
    assert preset_range("last_90", today) == (dt.date(2026, 9, 9), today)
    assert preset_range("this_month", today) == (dt.date(2026, 12, 1), today)
    with pytest.raises(ValueError):
        preset_range("custom", today)
    # 23:30 UTC on 6 Dec is already 7 Dec in Berlin, still 6 Dec in New York.
    at = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC).timestamp()
    assert tenant_today(at, "Europe/Berlin") == today
    assert tenant_today(at, "America/New_York") == dt.date(2026, 12, 6)
    assert tenant_today(at, "Not/AZone") == dt.date(2026, 12, 6)
    assert change(120, 100) == pytest.approx(0.2)
    assert change(90, 120) == pytest.approx(-0.25)
    assert change(5, 0) is None and change(None, 3) is None


def test_a_report_decodes_whole_numbers_as_floats() -> None:
    """A JSON number is a float field's value whether written 90 or 90.0 (the protocol's from_wire); a boolean or a
    string is not."""
    wire = p.to_wire(make_report())
    wire["summary"]["first_response"]["median"] = 90
    decoded = p.from_wire(p.ReportResult, wire)
    assert decoded.summary.first_response.median == 90.0
    assert isinstance(decoded.summary.first_response.median, float)
    for bad in (True, "90"):
        wire["summary"]["first_response"]["median"] = bad
        with pytest.raises(ValueError, match=r"first_response\.median"):
            p.from_wire(p.ReportResult, wire)
