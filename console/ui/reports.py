"""The Reports view (issue 17, §4): an admin's figures for the team, an agent's own.

- A date range picker (last 7/30/90 days, this month, custom), the grouping (hour, day, week, month) and the
  filters (agent, team, label, channel); the figures come from the core (:mod:`frontdesk.console.core.reports`),
  which keeps the last ones per query, so the view works offline from them, marked with their time.
- Summary cards with the change against the previous period of equal length, line charts of volume and of the
  median durations, the busiest-hours heatmap (:mod:`.reports_charts`), and sortable tables per agent, team and
  channel, and the satisfaction comments (:mod:`.reports_tables`). Each table exports as CSV, each chart as PNG.

The view reads nothing but what it is given: a :class:`ReportsSource` (the core) and the lists for its filters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

from frontdesk.console.core import AgentRow, OfflineError, ServerError
from frontdesk.console.core.reports import (
    RANGE_PRESETS,
    FetchedReport,
    ReportQuery,
    change,
    preset_range,
    tenant_today,
)
from frontdesk.server.protocol import DurationStats, ReportResult, ReportSummary
from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QDate,
    Qt,
)
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .formatting import local_datetime
from .reports_charts import Heatmap, LineChart, save_png, unit_for
from .reports_tables import (
    CHANNEL_NAMES,
    ReportTableModel,
    channel_columns,
    comment_columns,
    duration_text,
    percent_text,
    rating_text,
    row_columns,
)
from .tasks import spawn

__all__ = ["ReportChoices", "ReportsSource", "ReportsWindow"]

log = logging.getLogger("frontdesk.console.ui.reports")

#: The longest range the view groups by hour (744 buckets). Two years by hour would be 17,544 buckets: 3.3 MB of
#: JSON and about 0.45 s of decoding on the UI's loop (docs/PERFORMANCE.md), for a chart nobody can read.
HOURLY_MAX_DAYS = 31


translate = QCoreApplication.translate  # lupdate reads translate("Reports", "…") calls


def _tr(text: object) -> str:
    """``text`` in the user's language (an object: QT_TRANSLATE_NOOP's marked strings are typed so)."""
    return QCoreApplication.translate("Reports", str(text))


class ReportsSource(Protocol):
    """What the view asks for figures (:class:`~frontdesk.console.core.ConsoleCore`)."""

    @property
    def me(self) -> AgentRow | None: ...

    async def report(self, query: ReportQuery) -> FetchedReport: ...

    def cached_report(self, query: ReportQuery | None = None) -> FetchedReport | None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class ReportChoices:
    """What the filters offer: (id, name) of the agents, teams and labels, and the tenant's time zone (the
    presets' "today")."""

    agents: Sequence[tuple[int, str]] = ()
    teams: Sequence[tuple[int, str]] = ()
    labels: Sequence[tuple[int, str]] = ()
    time_zone: str | None = None


# -- text -------------------------------------------------------------------------------------------------------


def _change_text(current: float | None, previous: float | None) -> str:
    delta = change(current, previous)
    if delta is None:
        return translate("Reports", "no figures to compare") if not previous else "–"
    arrow = "▲" if delta > 0 else "▼" if delta < 0 else "="
    return translate("Reports", "{arrow} {percent}% vs previous period").format(
        arrow=arrow, percent=round(abs(delta) * 100)
    )


def _bucket_label(bucket: str, group: str) -> str:
    """A bucket's short name on a chart's axis: ``14:00``, ``3 Nov``, ``Nov 2025``."""
    try:
        when = dt.datetime.fromisoformat(bucket)
    except ValueError:
        return bucket
    if group == "hour":
        return when.strftime("%d %b %H:00").lstrip("0")
    if group == "month":
        return when.strftime("%b %Y")
    return f"{when.day} {when.strftime('%b')}"


# -- cards ------------------------------------------------------------------------------------------------------


class SummaryCard(QFrame):
    """One figure of the period, its detail, and its change against the previous period."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reportCard")
        self.title = _plain(title, "cardTitle")
        self.value = _plain("–", "cardValue")
        self.detail = _plain("", "cardDetail")
        self.change = _plain("", "changeNeutral")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        layout.addWidget(self.change)
        layout.addStretch(1)

    def show_figure(
        self, value: str, detail: str, current: float | None, previous: float | None, *, lower_is_better: bool | None
    ) -> None:
        """Show the figure; the change is green when it went the good way, red when not (``lower_is_better``
        None: neither way is good, as for volume)."""
        self.value.setText(value)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        self.change.setText(_change_text(current, previous))
        delta = change(current, previous)
        if delta is None or delta == 0 or lower_is_better is None:
            tone = "changeNeutral"
        else:
            tone = "changeGood" if (delta < 0) == lower_is_better else "changeBad"
        self.change.setObjectName(tone)
        self.change.style().unpolish(self.change)
        self.change.style().polish(self.change)


def _plain(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if name:
        label.setObjectName(name)
    return label


# -- the window -------------------------------------------------------------------------------------------------


class ReportsWindow(QWidget):
    """The Reports window: pick a range and filters, see the figures, export them."""

    GROUPS = (
        ("hour", QT_TRANSLATE_NOOP("Reports", "By hour")),
        ("day", QT_TRANSLATE_NOOP("Reports", "By day")),
        ("week", QT_TRANSLATE_NOOP("Reports", "By week")),
        ("month", QT_TRANSLATE_NOOP("Reports", "By month")),
    )
    PRESETS: ClassVar[dict[str, object]] = {
        "last_7": QT_TRANSLATE_NOOP("Reports", "Last 7 days"),
        "last_30": QT_TRANSLATE_NOOP("Reports", "Last 30 days"),
        "last_90": QT_TRANSLATE_NOOP("Reports", "Last 90 days"),
        "this_month": QT_TRANSLATE_NOOP("Reports", "This month"),
        "custom": QT_TRANSLATE_NOOP("Reports", "Custom range"),
    }
    CARDS = (
        ("conversations", QT_TRANSLATE_NOOP("Reports", "New conversations")),
        ("messages_in", QT_TRANSLATE_NOOP("Reports", "Messages in")),
        ("messages_out", QT_TRANSLATE_NOOP("Reports", "Replies sent")),
        ("resolutions", QT_TRANSLATE_NOOP("Reports", "Resolutions")),
        ("first_response", QT_TRANSLATE_NOOP("Reports", "First response")),
        ("resolution", QT_TRANSLATE_NOOP("Reports", "Resolution time")),
        ("csat", QT_TRANSLATE_NOOP("Reports", "Satisfaction")),
    )

    def __init__(
        self,
        source: ReportsSource,
        choices: ReportChoices,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("reportsWindow")
        self.source = source
        self.choices = choices
        self._clock = clock
        me = source.me
        self.is_admin = me is not None and me.is_admin
        self.setWindowTitle(
            translate("Reports", "Reports") if self.is_admin else translate("Reports", "Reports: your figures")
        )
        self.resize(1240, 860)
        #: Asks where to save an export: (caption, suggested file name, filter) -> path or None; tests replace it.
        self.ask_path: Callable[[str, str, str], Path | None] = self._ask_path_dialog
        self.fetched: FetchedReport | None = None
        #: Counts the loads: only the latest one shows what it fetched.
        self._generation = 0
        self._agent_names = dict(choices.agents)

        self._build_controls()
        self.status = _plain("", "reportStatus")
        self.status.setWordWrap(True)
        self.offline_banner = _plain("", "offlineBanner")
        self.offline_banner.setWordWrap(True)
        self.offline_banner.hide()

        cards = QGridLayout()
        cards.setSpacing(10)
        self.cards: dict[str, SummaryCard] = {}
        for n, (key, title) in enumerate(self.CARDS):
            card = SummaryCard(_tr(title))
            self.cards[key] = card
            cards.addWidget(card, 0, n)
            cards.setColumnStretch(n, 1)

        self.volume_chart = LineChart(translate("Reports", "Conversations"))
        self.messages_chart = LineChart(translate("Reports", "Messages"))
        self.first_response_chart = LineChart(translate("Reports", "Median first response"))
        self.resolution_chart = LineChart(translate("Reports", "Median resolution time"))
        self.heatmap = Heatmap()
        self.agents_model = ReportTableModel(row_columns(translate("Reports", "Agent")), self)
        self.teams_model = ReportTableModel(row_columns(translate("Reports", "Team")), self)
        self.channels_model = ReportTableModel(channel_columns(), self)
        self.comments_model = ReportTableModel(comment_columns(self._agent_name), self)
        self.comments_model.set_text(2, rating_text)
        #: name -> (widget to save, file name, button text) and name -> (model, file name): the exports.
        self.charts: dict[str, tuple[QWidget, str, str]] = {
            "volume": (self.volume_chart, "conversations", translate("Reports", "Export conversations as PNG…")),
            "messages": (self.messages_chart, "messages", translate("Reports", "Export messages as PNG…")),
            "first_response": (
                self.first_response_chart,
                "first-response",
                translate("Reports", "Export first response as PNG…"),
            ),
            "resolution": (
                self.resolution_chart,
                "resolution-time",
                translate("Reports", "Export resolution time as PNG…"),
            ),
            "heatmap": (self.heatmap, "busiest-hours", translate("Reports", "Export PNG…")),
        }
        self.tables: dict[str, tuple[ReportTableModel, str]] = {
            "agents": (self.agents_model, "agents"),
            "teams": (self.teams_model, "teams"),
            "channels": (self.channels_model, "channels"),
            "comments": (self.comments_model, "csat-comments"),
        }
        self.views: dict[str, QTableView] = {}

        self.tabs = QTabWidget()
        self.tabs.setObjectName("reportTabs")
        durations = _side_by_side(self.first_response_chart, self.resolution_chart)
        self.tabs.addTab(
            self._page(_side_by_side(self.volume_chart, self.messages_chart), charts=["volume", "messages"]),
            translate("Reports", "Volume"),
        )
        self.tabs.addTab(
            self._page(durations, charts=["first_response", "resolution"]), translate("Reports", "Response times")
        )
        heat_hint = _plain(
            translate("Reports", "New conversations by weekday and hour, in the tenant's time zone."), "hint"
        )
        heat = QWidget()
        heat_layout = QVBoxLayout(heat)
        heat_layout.setContentsMargins(0, 0, 0, 0)
        heat_layout.addWidget(heat_hint)
        heat_layout.addWidget(self.heatmap, 1)
        self.tabs.addTab(self._page(heat, charts=["heatmap"]), translate("Reports", "Busiest hours"))
        self.tabs.addTab(self._table_page("agents"), translate("Reports", "Agents"))
        self.tabs.addTab(self._table_page("teams"), translate("Reports", "Teams"))
        self.tabs.addTab(self._table_page("channels"), translate("Reports", "Channels"))
        self.tabs.addTab(self._table_page("comments"), translate("Reports", "Satisfaction comments"))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 16)
        layout.setSpacing(10)
        layout.addLayout(self.controls_top)
        layout.addLayout(self.controls_filters)
        layout.addWidget(self.offline_banner)
        layout.addWidget(self.status)
        layout.addLayout(cards)
        layout.addWidget(self.tabs, 1)
        self._on_preset_changed()

    # -- controls -----------------------------------------------------------------------------------------------

    def _build_controls(self) -> None:
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("reportRange")
        for key in RANGE_PRESETS:
            self.preset_box.addItem(_tr(self.PRESETS[key]), key)
        self.preset_box.setCurrentIndex(RANGE_PRESETS.index("last_30"))
        self.start_edit = QDateEdit()
        self.end_edit = QDateEdit()
        for edit in (self.start_edit, self.end_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("d MMM yyyy")
        self.group_box = QComboBox()
        for key, text in self.GROUPS:
            self.group_box.addItem(_tr(text), key)
        self.group_box.setCurrentIndex(1)
        self.refresh_button = QPushButton(translate("Reports", "Refresh"))
        self.refresh_button.setObjectName("primary")
        title = _plain(translate("Reports", "Reports"), "paneTitle")
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(title)
        top.addSpacing(12)
        top.addWidget(self.preset_box)
        top.addWidget(self.start_edit)
        top.addWidget(_plain("–"))
        top.addWidget(self.end_edit)
        top.addWidget(self.group_box)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        self.controls_top = top

        self.agent_box = QComboBox()
        me = self.source.me
        if self.is_admin:
            self.agent_box.addItem(translate("Reports", "All agents"), None)
            for agent_id, name in self.choices.agents:
                self.agent_box.addItem(name, agent_id)
        else:
            self.agent_box.addItem(translate("Reports", "Only you"), me.id if me is not None else None)
            self.agent_box.setEnabled(False)
            self.agent_box.setToolTip(translate("Reports", "Agents see their own figures; admins see everyone's."))
        self.team_box = self._choice_box(translate("Reports", "All teams"), self.choices.teams)
        self.label_box = self._choice_box(translate("Reports", "All labels"), self.choices.labels)
        self.channel_box = self._choice_box(
            translate("Reports", "All channels"), [(k, _tr(v)) for k, v in CHANNEL_NAMES.items()]
        )
        self.business_check = QCheckBox(translate("Reports", "Business hours only"))
        self.business_check.setToolTip(
            translate("Reports", "Count durations only within the business hours in force at the time")
        )
        filters = QHBoxLayout()
        filters.setSpacing(8)
        for text, box in (
            (translate("Reports", "Agent"), self.agent_box),
            (translate("Reports", "Team"), self.team_box),
            (translate("Reports", "Label"), self.label_box),
            (translate("Reports", "Channel"), self.channel_box),
        ):
            filters.addWidget(_plain(text, "hint"))
            filters.addWidget(box)
            box.setMinimumWidth(140)
        filters.addStretch(1)
        filters.addWidget(self.business_check)
        self.controls_filters = filters

        self.preset_box.currentIndexChanged.connect(self._on_preset_changed)
        self.preset_box.activated.connect(self._on_preset_activated)
        self.refresh_button.clicked.connect(self._on_refresh_button_clicked)
        self.business_check.toggled.connect(self._on_business_check_toggled)
        for box in (self.group_box, self.agent_box, self.team_box, self.label_box, self.channel_box):
            box.activated.connect(self._on_filter_activated)
        for edit in (self.start_edit, self.end_edit):
            edit.editingFinished.connect(self._on_filter_activated)

    @staticmethod
    def _choice_box(everything: str, items: Sequence[tuple[Any, str]]) -> QComboBox:
        box = QComboBox()
        box.addItem(everything, None)
        for key, name in items:
            box.addItem(name, key)
        return box

    def _on_preset_changed(self) -> None:
        preset = self.preset_box.currentData()
        custom = preset == "custom"
        self.start_edit.setEnabled(custom)
        self.end_edit.setEnabled(custom)
        if not custom:
            start, end = preset_range(preset, tenant_today(self._clock(), self.choices.time_zone))
            self.start_edit.setDate(QDate(start.year, start.month, start.day))
            self.end_edit.setDate(QDate(end.year, end.month, end.day))
        self._limit_grouping()

    def _on_preset_activated(self) -> None:
        if self.preset_box.currentData() != "custom":  # a custom range loads once its dates are set
            spawn(self.load(), name="reports-load")

    def _limit_grouping(self) -> None:
        """Offer "By hour" only for a range of up to :data:`HOURLY_MAX_DAYS` days (else "By day")."""
        days = self.start_edit.date().daysTo(self.end_edit.date()) + 1
        hourly = days <= HOURLY_MAX_DAYS
        model = self.group_box.model()
        assert isinstance(model, QStandardItemModel)  # a QComboBox's own model
        item = model.item(self.group_box.findData("hour"))
        item.setEnabled(hourly)
        item.setToolTip(
            ""
            if hourly
            else translate("Reports", "By hour: for a range of up to {days} days").format(days=HOURLY_MAX_DAYS)
        )
        if not hourly and self.group_box.currentData() == "hour":
            self.group_box.setCurrentIndex(self.group_box.findData("day"))

    def query(self) -> ReportQuery:
        """The query the controls describe (an agent's own figures when not an admin)."""
        start, end = self.start_edit.date(), self.end_edit.date()
        return ReportQuery(
            start=dt.date(start.year(), start.month(), start.day()).isoformat(),
            end=dt.date(end.year(), end.month(), end.day()).isoformat(),
            group=self.group_box.currentData(),
            agent_id=self.agent_box.currentData(),
            team_id=self.team_box.currentData(),
            label_id=self.label_box.currentData(),
            channel=self.channel_box.currentData(),
        )

    def set_query(self, query: ReportQuery) -> None:
        """Show ``query`` in the controls (a custom range), e.g. for cached figures of another query."""
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentIndex(RANGE_PRESETS.index("custom"))
        self.preset_box.blockSignals(False)
        self.start_edit.setEnabled(True)
        self.end_edit.setEnabled(True)
        for edit, day in ((self.start_edit, query.start), (self.end_edit, query.end)):
            d = dt.date.fromisoformat(day)
            edit.setDate(QDate(d.year, d.month, d.day))
        self._limit_grouping()
        for box, value in (
            (self.group_box, query.group),
            (self.agent_box, query.agent_id),
            (self.team_box, query.team_id),
            (self.label_box, query.label_id),
            (self.channel_box, query.channel),
        ):
            found = box.findData(value)
            if found >= 0:
                box.setCurrentIndex(found)

    def _on_refresh_button_clicked(self) -> None:
        spawn(self.load(), name="reports-load")

    def _on_filter_activated(self) -> None:
        self._limit_grouping()
        spawn(self.load(), name="reports-load")

    def _on_business_check_toggled(self) -> None:
        if self.fetched is not None:
            self.show_report(self.fetched)

    # -- loading --------------------------------------------------------------------------------------------------

    async def load(self) -> None:
        """Fetch the figures the controls describe and show them; offline, the cached ones (marked as such). Only
        the latest load shows what it got (the filters may change while one waits for the server)."""
        query = self.query()
        self._generation += 1
        generation = self._generation
        self.status.setText(translate("Reports", "Loading…"))
        self.refresh_button.setEnabled(False)
        try:
            query.check()
            fetched: FetchedReport | None = await self.source.report(query)
            problem: Exception | None = None
        except (ValueError, OfflineError, ServerError) as exc:
            fetched, problem = None, exc
        if generation != self._generation:
            return
        self.refresh_button.setEnabled(True)
        if fetched is not None:
            self.show_report(fetched)
        elif isinstance(problem, OfflineError):
            latest = self.source.cached_report()
            if latest is None:
                self._show_offline(
                    translate("Reports", "Offline: no figures fetched yet. They load once you are back online.")
                )
            else:
                self.set_query(latest.query)
                self.show_report(latest)
                self.status.setText(
                    translate(
                        "Reports",
                        "No figures were fetched for that range while online; these are the last ones fetched.",
                    )
                )
        elif isinstance(problem, ServerError):
            self.status.setText(
                translate("Reports", "The server could not make this report: {reason}").format(reason=problem.message)
            )
        else:
            self.status.setText(_tr(str(problem)))

    def _show_offline(self, text: str) -> None:
        self.offline_banner.setText(text)
        self.offline_banner.show()
        self.status.setText("")

    def show_report(self, fetched: FetchedReport) -> None:
        """Show ``fetched``: cards, charts, tables; marked offline with its time when it came from the cache."""
        self.fetched = fetched
        report = fetched.report
        self._agent_names = {**dict(self.choices.agents), **{row.id: row.name for row in report.agents}}
        when = local_datetime(report.generated_at).strftime("%d %b %Y, %H:%M")
        if fetched.offline:
            self._show_offline(translate("Reports", "Offline — figures from {when}").format(when=when))
        else:
            self.offline_banner.hide()
        self.status.setText(
            translate(
                "Reports", "{start} to {end} · {zone} · compared with the {days} days before · as of {when}"
            ).format(
                start=_day_text(report.start),
                end=_day_text(report.end),
                zone=report.time_zone,
                days=(dt.date.fromisoformat(report.end) - dt.date.fromisoformat(report.start)).days + 1,
                when=when,
            )
        )
        self._show_cards(report.summary, report.previous)
        self._show_charts(report)
        self.agents_model.set_rows(report.agents)
        self.teams_model.set_rows(report.teams)
        self.channels_model.set_rows(sorted(report.channels.items()))
        self.comments_model.set_rows(report.csat_comments)
        for view in self.views.values():
            view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def _duration(self, stats: DurationStats) -> tuple[float | None, float | None, float | None]:
        if self.business_check.isChecked():
            return stats.business_median, stats.business_mean, stats.business_p90
        return stats.median, stats.mean, stats.p90

    def _show_cards(self, now: ReportSummary, before: ReportSummary) -> None:
        for key in ("conversations", "messages_in", "messages_out", "resolutions"):
            value, previous = getattr(now, key), getattr(before, key)
            self.cards[key].show_figure(f"{value:,}", "", value, previous, lower_is_better=None)
        for key in ("first_response", "resolution"):
            median, mean, p90 = self._duration(getattr(now, key))
            previous = self._duration(getattr(before, key))[0]
            detail = translate("Reports", "median · mean {mean} · p90 {p90}").format(
                mean=duration_text(mean), p90=duration_text(p90)
            )
            self.cards[key].show_figure(duration_text(median), detail, median, previous, lower_is_better=True)
        csat = now.csat
        detail = translate("Reports", "{responses} of {surveys} rated ({rate})").format(
            responses=csat.responses, surveys=csat.surveys, rate=percent_text(csat.response_rate)
        )
        self.cards["csat"].show_figure(
            percent_text(csat.score), detail, csat.score, before.csat.score, lower_is_better=False
        )

    def _show_charts(self, report: ReportResult) -> None:
        labels = [_bucket_label(b.bucket, report.group) for b in report.volume]
        self.volume_chart.set_data(
            labels,
            [
                (translate("Reports", "New conversations"), [b.conversations for b in report.volume]),
                (translate("Reports", "Resolutions"), [b.resolutions for b in report.volume]),
            ],
            counts=True,
        )
        self.messages_chart.set_data(
            labels,
            [
                (translate("Reports", "Messages in"), [b.messages_in for b in report.volume]),
                (translate("Reports", "Replies sent"), [b.messages_out for b in report.volume]),
            ],
            counts=True,
        )
        for chart, values in (
            (self.first_response_chart, [b.first_response_median for b in report.volume]),
            (self.resolution_chart, [b.resolution_median for b in report.volume]),
        ):
            unit, size = unit_for(values)
            chart.set_data(
                labels, [(translate("Reports", "Median"), [None if v is None else v / size for v in values])], unit
            )
        self.heatmap.set_counts(report.heatmap)

    def _agent_name(self, agent_id: int | None) -> str:
        if agent_id is None:
            return "–"
        return self._agent_names.get(agent_id) or translate("Reports", "Agent #{id}").format(id=agent_id)

    # -- pages and exports ----------------------------------------------------------------------------------------

    def _page(self, body: QWidget, *, charts: list[str]) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(body, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        for name in charts:
            button = QPushButton(self.charts[name][2])
            button.setObjectName(f"export-{name}")
            button.clicked.connect(lambda _checked=False, n=name: self.export_chart(n))
            row.addWidget(button)
        layout.addLayout(row)
        return page

    def _table_page(self, name: str) -> QWidget:
        model = self.tables[name][0]
        view = QTableView()
        view.setObjectName(f"report-{name}")
        view.setModel(model)
        view.setSortingEnabled(True)
        view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.verticalHeader().hide()
        view.setAlternatingRowColors(False)
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        if name == "comments":
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.views[name] = view
        button = QPushButton(translate("Reports", "Export CSV…"))
        button.setObjectName(f"export-{name}")
        button.clicked.connect(lambda _checked=False: self.export_table(name))
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(view, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(button)
        layout.addLayout(row)
        return page

    def _file_stem(self, what: str) -> str:
        report = self.fetched.report if self.fetched is not None else None
        span = f"-{report.start}-to-{report.end}" if report is not None else ""
        return f"frontdesk-{what}{span}"

    def _ask_path_dialog(self, caption: str, suggested: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, caption, str(Path.home() / suggested), filters)
        return Path(path) if path else None

    def export_table(self, name: str) -> Path | None:
        """Ask where, then save the table ``name`` as CSV; the path written, or None."""
        model, stem = self.tables[name]
        path = self.ask_path(
            translate("Reports", "Export as CSV"),
            f"{self._file_stem(stem)}.csv",
            translate("Reports", "CSV files (*.csv)"),
        )
        if path is None:
            return None
        try:
            path.write_text(model.csv(), encoding="utf-8", newline="")
        except OSError as exc:
            self.status.setText(
                translate("Reports", "Could not save {path}: {reason}").format(path=path, reason=exc.strerror)
            )
            return None
        self.status.setText(translate("Reports", "Saved {path}").format(path=path))
        return path

    def export_chart(self, name: str) -> Path | None:
        """Ask where, then save the chart ``name`` as PNG; the path written, or None."""
        widget, stem, _ = self.charts[name]
        path = self.ask_path(
            translate("Reports", "Export as PNG"),
            f"{self._file_stem(stem)}.png",
            translate("Reports", "PNG images (*.png)"),
        )
        if path is None:
            return None
        if not save_png(widget, path):
            self.status.setText(translate("Reports", "Could not save {path}").format(path=path))
            return None
        self.status.setText(translate("Reports", "Saved {path}").format(path=path))
        return path


def _side_by_side(left: QWidget, right: QWidget) -> QWidget:
    both = QWidget()
    row = QHBoxLayout(both)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(12)
    row.addWidget(left)
    row.addWidget(right)
    return both


def _day_text(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d.day} {d.strftime('%b %Y')}"
