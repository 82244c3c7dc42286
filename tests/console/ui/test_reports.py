"""The Reports window (console/ui/reports.py): cards with their changes, charts, sortable tables, CSV and PNG
exports, cached figures offline marked as such, and an agent's own figures only. The figures are a recorded
``report.get`` answer (tests/console/reports_data.py); the offline and agent tests go through the real core."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import AgentRow, OfflineError
from frontdesk.console.core.reports import FetchedReport, ReportQuery
from frontdesk.console.ui.reports import ReportChoices, ReportsWindow
from frontdesk.console.ui.reports_tables import duration_text
from frontdesk.console.ui.tasks import running
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QStandardItemModel

from tests.console.reports_data import ScriptedSocket, Session, make_report

from .conftest import run

ADMIN = AgentRow(1, "ada@example.com", "Ada Lovelace", "admin", True, True)
AGENT = AgentRow(2, "grace@example.com", "Grace Hopper", "agent", True, True)
CHOICES = ReportChoices(
    agents=[(1, "Ada Lovelace"), (2, "Grace Hopper"), (3, "Alan Turing")],
    teams=[(11, "Billing"), (12, "Support")],
    labels=[(21, "VIP")],
    time_zone="Europe/Berlin",
)
#: 3 Nov 2025, noon UTC: "last 30 days" is 5 Oct to 3 Nov.
NOW = dt.datetime(2025, 11, 3, 12, tzinfo=dt.UTC).timestamp()


class FakeSource:
    """Answers every query with the recorded report, recording the queries."""

    def __init__(self, me: AgentRow = ADMIN) -> None:
        self.me = me
        self.queries: list[ReportQuery] = []

    async def report(self, query: ReportQuery) -> FetchedReport:
        self.queries.append(query)
        return FetchedReport(query, make_report(), NOW)

    def cached_report(self, query: ReportQuery | None = None) -> FetchedReport | None:
        return None


@pytest.fixture
def window(qtbot: Any, aloop: asyncio.AbstractEventLoop) -> ReportsWindow:
    view = ReportsWindow(FakeSource(), CHOICES, clock=lambda: NOW)
    qtbot.add_widget(view)
    view.resize(1240, 860)
    view.show()
    run(qtbot, view.load())
    return view


def _csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_cards_show_the_figures_and_their_change(window: ReportsWindow) -> None:
    """The cards show the period's figures and the change against the previous one, green when it went the good
    way (fewer seconds to answer, more satisfied); the business-hours switch shows the other durations."""
    assert isinstance(window.source, FakeSource)
    assert window.source.queries == [ReportQuery(start="2025-10-05", end="2025-11-03")]
    cards = window.cards
    assert cards["conversations"].value.text() == "120"
    assert cards["conversations"].change.text() == "▲ 20% vs previous period"
    assert cards["conversations"].change.objectName() == "changeNeutral"
    assert cards["messages_out"].value.text() == "530"
    assert cards["first_response"].value.text() == "1m 30s"
    assert cards["first_response"].change.text() == "▼ 25% vs previous period"
    assert cards["first_response"].change.objectName() == "changeGood"
    assert cards["first_response"].detail.text() == "median · mean 2m 15s · p90 4m 30s"
    assert cards["resolution"].value.text() == "2h 00m"
    assert cards["resolution"].change.text() == "▼ 20% vs previous period"
    assert cards["csat"].value.text() == "90%"
    assert cards["csat"].detail.text() == "50 of 60 rated (83%)"
    assert cards["csat"].change.objectName() == "changeGood"
    assert "Europe/Berlin" in window.status.text() and "1 Nov 2025 to 3 Nov 2025" in window.status.text()
    assert not window.offline_banner.isVisible()
    window.business_check.setChecked(True)
    assert cards["first_response"].value.text() == "1m 12s"  # 90 s × 0.8 within business hours


def test_charts_draw_the_buckets(window: ReportsWindow) -> None:
    """Volume per bucket, the median durations in a unit that reads well (a gap where there is none), the heatmap."""
    chart = window.volume_chart
    assert chart.labels == ["1 Nov", "2 Nov", "3 Nov"]
    assert chart.series["New conversations"] == [50, 30, 40]
    assert chart.series["Resolutions"] == [45, 30, 35]
    assert window.messages_chart.series["Replies sent"] == [220, 130, 180]
    assert window.first_response_chart.series["Median"] == [80.0, None, 100.0]
    hours = window.resolution_chart.series["Median"]
    assert hours[1] is None and hours[0] == pytest.approx(7000 / 3600)
    assert window.heatmap.counts[0][10] == 9 and window.heatmap.counts[2][14] == 4
    assert window.heatmap.cell_color(9) != window.heatmap.cell_color(4) != window.heatmap.cell_color(0)


def test_tables_sort_with_missing_figures_last(window: ReportsWindow, qtmodeltester: Any) -> None:
    """The agents' table sorts by a column's figures either way, an agent without the figure last."""
    model, view = window.agents_model, window.views["agents"]
    qtmodeltester.check(model)
    names = lambda: [model.index(r, 0).data() for r in range(model.rowCount())]  # noqa: E731
    view.sortByColumn(3, Qt.SortOrder.AscendingOrder)  # median first response
    assert names() == ["Ada Lovelace", "Grace Hopper", "Alan Turing"]
    assert model.index(0, 3).data() == "1m 00s"
    view.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    assert names() == ["Grace Hopper", "Ada Lovelace", "Alan Turing"]
    view.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # conversations
    assert names() == ["Grace Hopper", "Ada Lovelace", "Alan Turing"]
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert names() == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    for name in ("teams", "channels", "comments"):
        qtmodeltester.check(window.tables[name][0])


def test_tables_export_as_csv_in_the_order_shown(window: ReportsWindow, tmp_path: Path) -> None:
    """A table's CSV holds the raw figures (seconds, percentages) in the order on screen; the comments' CSV holds
    the comments."""
    asked: list[str] = []

    def ask(caption: str, suggested: str, filters: str) -> Path:
        asked.append(suggested)
        return tmp_path / suggested

    window.ask_path = ask
    window.views["agents"].sortByColumn(2, Qt.SortOrder.DescendingOrder)  # replies
    path = window.export_table("agents")
    assert path is not None and asked == ["frontdesk-agents-2025-11-01-to-2025-11-03.csv"]
    assert _csv(path) == [
        [
            "Agent",
            "Conversations",
            "Replies",
            "Median first response (s)",
            "Median resolution (s)",
            "CSAT score (%)",
            "Ratings",
        ],
        ["Grace Hopper", "70", "300", "150.0", "3000.0", "85.0", "10"],
        ["Ada Lovelace", "50", "200", "60.0", "1200.0", "95.0", "10"],
        ["Alan Turing", "5", "30", "", "", "", "0"],
    ]
    comments = window.export_table("comments")
    assert comments is not None
    rows = _csv(comments)
    assert rows[0] == ["Rated at (UTC)", "Agent", "Rating", "Comment", "Conversation"]
    assert rows[1] == ["2025-11-30 23:00:00", "Ada Lovelace", "5", "Quick and kind, thanks!", "7"]
    assert rows[2][1:] == ["Grace Hopper", "0", "Took a day to answer.", "9"]
    assert window.comments_model.index(1, 2).data() == "Thumbs down"
    window.ask_path = lambda *_: None  # cancelled
    assert window.export_table("teams") is None


def test_charts_export_as_png(window: ReportsWindow, tmp_path: Path) -> None:
    """Each chart saves as a PNG image of what it shows."""
    window.ask_path = lambda caption, suggested, filters: tmp_path / suggested
    tabs = {"volume": 0, "messages": 0, "first_response": 1, "resolution": 1, "heatmap": 2}
    for name, tab in tabs.items():
        window.tabs.setCurrentIndex(tab)
        path = window.export_chart(name)
        assert path is not None and path.suffix == ".png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = QImage(str(path))
        assert not image.isNull() and image.width() > 100 and image.height() > 100


def test_offline_shows_the_cached_figures_marked_as_such(
    qtbot: Any, aloop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    """Figures fetched online are shown offline from the cache, marked "Offline — figures from <time>"; a range
    never fetched shows the last figures fetched, with their own range in the controls."""
    session = Session(tmp_path, ADMIN, [NOW])
    session.online(ScriptedSocket(make_report()))
    online = ReportsWindow(session.core, CHOICES, clock=lambda: NOW)
    qtbot.add_widget(online)
    run(qtbot, online.load())
    assert not online.offline_banner.isVisibleTo(online)
    run(qtbot, session.offline())

    offline = ReportsWindow(session.core, CHOICES, clock=lambda: NOW)
    qtbot.add_widget(offline)
    offline.show()
    run(qtbot, offline.load())
    assert offline.fetched is not None and offline.fetched.offline
    assert offline.offline_banner.isVisible()
    assert offline.offline_banner.text().startswith("Offline — figures from ")
    assert offline.cards["conversations"].value.text() == "120"
    assert offline.agents_model.rowCount() == 3

    offline.group_box.setCurrentIndex(offline.group_box.findData("week"))  # never fetched by week
    run(qtbot, offline.load())
    assert offline.offline_banner.isVisible() and offline.group_box.currentData() == "day"
    assert "last ones fetched" in offline.status.text()
    assert offline.cards["conversations"].value.text() == "120"
    run(qtbot, session.close())


def test_offline_without_figures_says_so(qtbot: Any, aloop: asyncio.AbstractEventLoop) -> None:
    """Offline with nothing cached: the window says the figures load once online."""

    class Offline(FakeSource):
        async def report(self, query: ReportQuery) -> FetchedReport:
            raise OfflineError()

    view = ReportsWindow(Offline(), CHOICES, clock=lambda: NOW)
    qtbot.add_widget(view)
    view.show()
    run(qtbot, view.load())
    assert view.offline_banner.isVisible() and "once you are back online" in view.offline_banner.text()
    assert view.cards["conversations"].value.text() == "–"


def test_an_agent_sees_only_their_own_figures(qtbot: Any, aloop: asyncio.AbstractEventLoop, tmp_path: Path) -> None:
    """An agent who is not an admin cannot pick another agent, and the request carries their own agent_id."""
    session = Session(tmp_path, AGENT, [NOW])
    socket = ScriptedSocket(make_report(agents=[]))
    session.online(socket)
    view = ReportsWindow(session.core, CHOICES, clock=lambda: NOW)
    qtbot.add_widget(view)
    assert view.windowTitle() == "Reports: your figures"
    assert not view.agent_box.isEnabled() and view.agent_box.count() == 1
    assert view.query().agent_id == AGENT.id
    view.team_box.setCurrentIndex(view.team_box.findData(11))
    run(qtbot, view.load())
    (request,) = socket.requests
    assert request["agent_id"] == AGENT.id and request["team_id"] == 11
    run(qtbot, session.close())


def test_a_custom_range_that_ends_before_it_starts_is_refused(window: ReportsWindow, qtbot: Any) -> None:
    """A custom range that ends before it starts is refused in words, without asking the server."""
    assert isinstance(window.source, FakeSource)
    window.preset_box.setCurrentIndex(window.preset_box.findData("custom"))
    assert window.start_edit.isEnabled()
    window.start_edit.setDate(window.end_edit.date().addDays(3))
    run(qtbot, window.load())
    assert window.status.text() == "The range ends before it starts."
    assert len(window.source.queries) == 1  # only the first load's


def test_durations_read_as_words() -> None:
    """Durations in the cards and tables."""
    assert [duration_text(s) for s in (None, 0, 59.4, 60, 200, 3600, 7500, 86400 * 3 + 3600 * 4)] == [
        "–",
        "0s",
        "59s",
        "1m 00s",
        "3m 20s",
        "1h 00m",
        "2h 05m",
        "3d 4h",
    ]


def test_only_the_latest_load_shows_its_figures(qtbot: Any, aloop: asyncio.AbstractEventLoop) -> None:
    """A slow answer to an older query, arriving after the newer one's, does not replace the figures shown."""
    gate = asyncio.Event()

    class Slow(FakeSource):
        async def report(self, query: ReportQuery) -> FetchedReport:
            self.queries.append(query)
            if len(self.queries) == 1:
                await gate.wait()
                return FetchedReport(query, make_report(generated_at=1), NOW)
            return FetchedReport(query, make_report(), NOW)

    view = ReportsWindow(Slow(), CHOICES, clock=lambda: NOW)
    qtbot.add_widget(view)
    first = asyncio.ensure_future(view.load())
    run(qtbot, view.load())
    assert view.fetched is not None and view.fetched.report.generated_at == make_report().generated_at
    gate.set()
    run(qtbot, asyncio.wait_for(first, 5))
    assert view.fetched.report.generated_at == make_report().generated_at
    assert view.refresh_button.isEnabled()


def test_the_main_window_opens_one_reports_window(
    qtbot: Any, core: Any, prefs: Any, aloop: asyncio.AbstractEventLoop
) -> None:
    """Frontdesk › Reports… opens the Reports window, which loads the figures; choosing it again brings the same
    window back rather than a second one; closed, the next one is new."""
    from frontdesk.console.core.cache._schema import set_meta
    from frontdesk.console.ui.mainwindow import MainWindow

    config = {"business_hours": {"enabled": True, "timezone": "Europe/Berlin", "days": {}}}
    run(qtbot, core.cache.write(lambda db: set_meta(db, "config", config)))
    source = FakeSource(core.me)
    core.report = source.report
    core.cached_report = source.cached_report
    window = MainWindow(core, prefs, use_tray=False)
    qtbot.add_widget(window)
    window.attach()
    assert window.reports_action.shortcut().toString() == "Ctrl+Shift+G"
    assert window.reports_action in window.menuBar().actions()[0].menu().actions()
    window.reports_action.trigger()
    reports = window.reports_window
    assert reports is not None and reports.isVisible()
    qtbot.waitUntil(lambda: reports.fetched is not None)
    assert len(source.queries) == 1
    assert {name for _, name in reports.choices.agents} == {"Ada Lovelace", "Grace Hopper", "Alan Turing"}
    assert reports.choices.time_zone == "Europe/Berlin"  # the business hours' zone, from the cached config
    window.reports_action.trigger()
    assert window.reports_window is reports and len(source.queries) == 1
    reports.close()
    qtbot.waitUntil(lambda: window.reports_window is None)
    window.detach()


def test_hourly_grouping_only_for_a_month_at_most(window: ReportsWindow) -> None:
    """ "By hour" is offered for ranges of up to 31 days; choosing a longer preset moves an hourly report to days."""
    hour = window.group_box.findData("hour")
    window.preset_box.setCurrentIndex(window.preset_box.findData("last_7"))
    window.group_box.setCurrentIndex(hour)
    assert window.query().group == "hour"
    window.preset_box.setCurrentIndex(window.preset_box.findData("last_90"))
    model = window.group_box.model()
    assert isinstance(model, QStandardItemModel)
    assert not model.item(hour).isEnabled()
    assert window.query().group == "day"
    window.preset_box.setCurrentIndex(window.preset_box.findData("last_30"))
    assert model.item(hour).isEnabled()


def test_choosing_a_preset_loads_its_figures(window: ReportsWindow, qtbot: Any) -> None:
    """Picking "Last 7 days" asks for those days at once (a custom range waits for its dates)."""
    assert isinstance(window.source, FakeSource)
    window.preset_box.setCurrentIndex(window.preset_box.findData("last_7"))
    window.preset_box.activated.emit(window.preset_box.currentIndex())
    qtbot.waitUntil(lambda: len(window.source.queries) == 2)
    assert window.source.queries[-1] == ReportQuery(start="2025-10-28", end="2025-11-03")
    qtbot.waitUntil(lambda: running() == 0)
    window.preset_box.setCurrentIndex(window.preset_box.findData("custom"))
    window.preset_box.activated.emit(window.preset_box.currentIndex())
    assert running() == 0  # no load started (spawn() registers its task at once)


def test_a_quiet_period_draws_without_figures(window: ReportsWindow, qtbot: Any, tmp_path: Path) -> None:
    """A period with no conversations (medians all missing, counts all 0) draws, says so over the empty duration
    charts, and still exports as PNG."""
    quiet = make_report()
    quiet.volume = [
        dataclasses.replace(b, conversations=0, messages_in=0, messages_out=0, resolutions=0,
                            first_response_median=None, resolution_median=None)
        for b in quiet.volume
    ]  # fmt: skip
    window.show_report(FetchedReport(ReportQuery(start=quiet.start, end=quiet.end), quiet, NOW))
    window.tabs.setCurrentIndex(1)
    qtbot.waitExposed(window.first_response_chart)
    window.first_response_chart.grab()
    assert window.first_response_chart.empty_label.isVisible()
    assert not window.volume_chart.empty_label.isVisibleTo(window.volume_chart)  # zeros are figures
    window.ask_path = lambda caption, suggested, filters: tmp_path / suggested
    path = window.export_chart("first_response")
    assert path is not None and not QImage(str(path)).isNull()
