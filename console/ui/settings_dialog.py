"""The admin settings dialog: widget, pre-chat form, hours, domains, agents, email, webhooks, identity.

Only admins get here (the main window hides the action for plain agents, and
the server refuses ``config.set`` from them anyway). Every field is checked
locally first (:mod:`.validation`) and a problem is shown *next to the
field*; the server's ``invalid`` error, which names the bad key, is shown
the same way. Saving sends only the keys that changed (``config.set`` is a
partial update); the server pushes ``config.updated`` to open widgets.
Agents are added, disabled and re-roled at once, through their own calls.
The identity secret is fetched only when the admin asks to see it, and
rotated or its rotation ended at once, through ``identity_secret.*``.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, cast

from frontdesk.console.core import AgentRow, OfflineError, ServerError
from frontdesk.server.protocol import CONFIG_FIELD, CONFIG_FIELDS, ExportEntry
from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QCompleter,
    QDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .email_settings import EmailApi, EmailPage
from .export_records import ExportRecordsPage
from .labels import plain_label
from .language_settings import LanguageTab
from .models import AgentsModel
from .side_tabs import SideTabs
from .tasks import asyncSlot, spawn
from .upload_settings import UploadLimitsEditor
from .validation import (
    DAYS,
    format_ranges,
    parse_ranges,
    timezones,
    validate_color,
    validate_config_text,
    validate_email,
    validate_host,
    validate_timezone,
)
from .webhooks import WebhooksApi, WebhooksPage
from .workflow_settings import add_workflow_tabs

__all__ = ["AdminApi", "SettingsDialog"]

log = logging.getLogger("frontdesk.console.ui.settings")


class AdminApi(Protocol):
    """The core calls the dialog uses (all online-only)."""

    async def get_config(self) -> dict[str, Any]: ...
    async def set_config(self, partial: dict[str, Any]) -> dict[str, Any]: ...
    async def list_agents(self) -> list[AgentRow]: ...
    async def add_agent(
        self, email: str, name: str, role: str = "agent", password: str | None = None
    ) -> tuple[AgentRow, str]: ...
    async def update_agent(self, agent_id: int, **changes: Any) -> AgentRow: ...
    async def identity_secret(self, action: str = "get") -> dict[str, Any]: ...
    async def export_records(self, before: int | None = None) -> list[ExportEntry]: ...


#: The free-text configuration keys (each with its declared length limit).
TEXT_KEYS: tuple[str, ...] = tuple(f.name for f in CONFIG_FIELDS if f.type is str and f.max_len is not None)


def _plain(text: str = "", name: str = "") -> QLabel:
    return plain_label(text, name)


def _error_label() -> QLabel:
    label = _plain("", "fieldError")
    label.setWordWrap(True)
    label.hide()
    return label


def _with_error(widget: QWidget, error: QLabel, hint: str = "") -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(3)
    layout.addWidget(widget)
    if hint:
        layout.addWidget(_plain(hint, "hint"))
    layout.addWidget(error)
    return box


def _page(inner: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(inner)
    return area


class SettingsDialog(QDialog):
    """Tabs: Widget appearance, Pre-chat form, Business hours, Allowed domains, Agents, Exports, Identity, Teams,
    Labels, Canned responses, Assignment, Language & privacy (and Email, Webhooks when online)."""

    #: The server accepted a save; carries the full new config.
    saved = Signal(dict)
    #: Loading finished (successfully or not).
    loaded = Signal()

    def __init__(
        self, api: AdminApi, agents: AgentsModel, parent: QWidget | None = None, *, me_id: int | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle(QCoreApplication.translate("SettingsDialog", "Settings — Frontdesk"))
        self._api = api
        self._me_id = me_id
        self.agents_model = agents
        self._config: dict[str, Any] = {}
        #: Error label per key ("business_hours.mon" for a weekday).
        self.errors: dict[str, QLabel] = {}
        self._tab_of: dict[str, int] = {}

        self.tabs = SideTabs()  # fourteen sections: a list on the left, not a row of tabs
        self.tabs.setObjectName("settingsTabs")
        self.tabs.addTab(
            _page(self._build_widget_tab()), QCoreApplication.translate("SettingsDialog", "Widget appearance")
        )
        self.tabs.addTab(
            _page(self._build_prechat_tab()), QCoreApplication.translate("SettingsDialog", "Pre-chat form")
        )
        self.tabs.addTab(_page(self._build_hours_tab()), QCoreApplication.translate("SettingsDialog", "Business hours"))
        self.tabs.addTab(
            _page(self._build_domains_tab()), QCoreApplication.translate("SettingsDialog", "Allowed domains")
        )
        self.tabs.addTab(self._build_agents_tab(), QCoreApplication.translate("SettingsDialog", "Agents"))
        self.exports_page = ExportRecordsPage(self._api.export_records, self._agent_name)  # ui/export_records.py
        self.tabs.addTab(self.exports_page, QCoreApplication.translate("SettingsDialog", "Exports"))
        # Issue 16: the Email and Webhooks tabs, each loaded when first shown.
        self.email_page = EmailPage(cast(EmailApi, api)) if hasattr(api, "email_request") else None
        self.webhooks_page = WebhooksPage(cast(WebhooksApi, api)) if hasattr(api, "webhook_request") else None
        self._online_loaded: set[QWidget] = set()
        if self.email_page is not None:
            self.tabs.addTab(self.email_page, QCoreApplication.translate("SettingsDialog", "Email"))
        if self.webhooks_page is not None:
            self.tabs.addTab(self.webhooks_page, QCoreApplication.translate("SettingsDialog", "Webhooks"))
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self.tabs.addTab(_page(self._build_identity_tab()), QCoreApplication.translate("SettingsDialog", "Identity"))
        # Teams, labels and canned responses (issue 15): console/ui/workflow_settings.py.
        self.workflow_pages = add_workflow_tabs(self.tabs, api)
        self.tabs.addTab(
            _page(self._build_assignment_tab()), QCoreApplication.translate("SettingsDialog", "Assignment")
        )
        self.resize(1000, 660)
        self._build_language_tab()

        self.status_label = _plain("", "dialogStatus")
        self.status_label.setWordWrap(True)
        self.save_button = QPushButton(QCoreApplication.translate("SettingsDialog", "Save changes"))
        self.save_button.setObjectName("primary")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        self.close_button = QPushButton(QCoreApplication.translate("SettingsDialog", "Close"))
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(14)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self._set_editable(False)

    # ------------------------------------------------------------------ tabs

    def _register(self, key: str, tab: int) -> QLabel:
        label = _error_label()
        self.errors[key] = label
        self._tab_of[key] = tab
        return label

    def _build_widget_tab(self) -> QWidget:
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(18, 18, 18, 18)
        form = QFormLayout()
        outer.addLayout(form)
        outer.addStretch(1)
        form.setVerticalSpacing(14)
        form.setHorizontalSpacing(16)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.business_name_edit = QLineEdit()
        self.color_edit = QLineEdit()
        self.color_edit.setMaximumWidth(120)
        self.color_edit.setPlaceholderText(CONFIG_FIELD["color"].default)
        self.color_swatch = QPushButton("")
        self.color_swatch.setObjectName("colorSwatch")
        self.color_swatch.setFixedSize(32, 28)
        self.color_swatch.setToolTip(QCoreApplication.translate("SettingsDialog", "Pick a colour"))
        self.color_swatch.clicked.connect(self._on_color_swatch_clicked)
        self.color_edit.textChanged.connect(self._on_color_edit_text_changed)
        color_row = QWidget()
        row_layout = QHBoxLayout(color_row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.addWidget(self.color_swatch)
        row_layout.addWidget(self.color_edit)
        row_layout.addStretch(1)
        self.position_combo = QComboBox()
        for position in CONFIG_FIELD["position"].choices or ():
            self.position_combo.addItem(
                QCoreApplication.translate("SettingsDialog", "Bottom right" if position == "right" else "Bottom left"),
                position,
            )
        self.greeting_edit = QPlainTextEdit()
        self.greeting_edit.setFixedHeight(64)
        self.launcher_label_edit = QLineEdit()
        self.away_message_edit = QPlainTextEdit()
        self.away_message_edit.setFixedHeight(64)
        self.sound_check = QCheckBox(
            QCoreApplication.translate("SettingsDialog", "Play a sound in the widget on new agent messages")
        )
        form.addRow(
            QCoreApplication.translate("SettingsDialog", "Business name"),
            _with_error(self.business_name_edit, self._register("business_name", 0)),
        )
        form.addRow(
            QCoreApplication.translate("SettingsDialog", "Colour"), _with_error(color_row, self._register("color", 0))
        )
        form.addRow(
            QCoreApplication.translate("SettingsDialog", "Position"),
            _with_error(self.position_combo, self._register("position", 0)),
        )
        form.addRow(
            QCoreApplication.translate("SettingsDialog", "Greeting"),
            _with_error(
                self.greeting_edit,
                self._register("greeting", 0),
                QCoreApplication.translate("SettingsDialog", "The first message visitors see."),
            ),
        )
        form.addRow(
            QCoreApplication.translate("SettingsDialog", "Launcher label"),
            _with_error(
                self.launcher_label_edit,
                self._register("launcher_label", 0),
                QCoreApplication.translate("SettingsDialog", "Read by screen readers."),
            ),
        )
        form.addRow(
            QCoreApplication.translate("SettingsDialog", "Away message"),
            _with_error(
                self.away_message_edit,
                self._register("away_message", 0),
                QCoreApplication.translate(
                    "SettingsDialog", "Shown when no agent is online or outside business hours."
                ),
            ),
        )
        form.addRow("", _with_error(self.sound_check, self._register("sound", 0)))
        return page

    def _build_prechat_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(12)
        self.prechat_enabled = QCheckBox(
            QCoreApplication.translate("SettingsDialog", "Ask visitors a few questions before the chat starts")
        )
        layout.addWidget(self.prechat_enabled)
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(10)
        grid.addWidget(_plain(QCoreApplication.translate("SettingsDialog", "Field"), "fieldName"), 0, 0)
        grid.addWidget(_plain(QCoreApplication.translate("SettingsDialog", "Ask"), "fieldName"), 0, 1)
        grid.addWidget(_plain(QCoreApplication.translate("SettingsDialog", "Required"), "fieldName"), 0, 2)
        self.prechat_fields: dict[str, tuple[QCheckBox, QCheckBox]] = {}
        prechat = (
            ("name", QCoreApplication.translate("SettingsDialog", "Name")),
            ("email", QCoreApplication.translate("SettingsDialog", "Email")),
        )
        for row, (name, title) in enumerate(prechat, start=1):
            ask, required = QCheckBox(), QCheckBox()
            ask.toggled.connect(required.setEnabled)
            self.prechat_fields[name] = (ask, required)
            grid.addWidget(_plain(title), row, 0)
            grid.addWidget(ask, row, 1)
            grid.addWidget(required, row, 2)
        grid.setColumnStretch(3, 1)
        layout.addLayout(grid)
        layout.addWidget(self._register("prechat", 1))
        layout.addStretch(1)
        return page

    def _build_hours_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(12)
        self.hours_enabled = QCheckBox(
            QCoreApplication.translate("SettingsDialog", "Show the away message outside these hours")
        )
        layout.addWidget(self.hours_enabled)
        self.timezone_combo = QComboBox()
        self.timezone_combo.setEditable(True)
        self.timezone_combo.addItems(timezones())
        self.timezone_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        completer = QCompleter(timezones(), self.timezone_combo)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.timezone_combo.setCompleter(completer)
        form = QFormLayout()
        form.setVerticalSpacing(10)
        form.setHorizontalSpacing(16)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.addRow(
            QCoreApplication.translate("SettingsDialog", "Time zone"),
            _with_error(self.timezone_combo, self._register("business_hours", 2)),
        )
        self.day_edits: dict[str, QLineEdit] = {}
        for key, english in DAYS:
            title = QCoreApplication.translate("Validation", english)
            edit = QLineEdit()
            edit.setPlaceholderText(QCoreApplication.translate("SettingsDialog", "Closed"))
            self.day_edits[key] = edit
            form.addRow(title, _with_error(edit, self._register(f"business_hours.{key}", 2)))
        layout.addLayout(form)
        hint = _plain(
            QCoreApplication.translate(
                "SettingsDialog", "Hours like 09:00-17:00; several ranges separated by commas. Empty means closed."
            ),
            "hint",
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addStretch(1)
        return page

    def _build_domains_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(10)
        intro = _plain(
            QCoreApplication.translate(
                "SettingsDialog",
                "The widget only connects from these sites. Each entry is a host (example.com) or "
                "host:port (localhost:8080), matched exactly.",
            ),
            "hint",
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.domains_list = QListWidget()
        self.domains_list.setObjectName("domainsList")
        self.domains_list.setMinimumHeight(160)
        self.domain_edit = QLineEdit()
        self.domain_edit.setPlaceholderText(QCoreApplication.translate("SettingsDialog", "example.com"))
        self.domain_edit.returnPressed.connect(self._on_add_domain_button_clicked)
        self.add_domain_button = QPushButton(QCoreApplication.translate("SettingsDialog", "Add"))
        self.add_domain_button.clicked.connect(self._on_add_domain_button_clicked)
        self.remove_domain_button = QPushButton(QCoreApplication.translate("SettingsDialog", "Remove selected"))
        self.remove_domain_button.clicked.connect(self._on_remove_domain_button_clicked)
        add_row = QHBoxLayout()
        add_row.addWidget(self.domain_edit, 1)
        add_row.addWidget(self.add_domain_button)
        add_row.addWidget(self.remove_domain_button)
        layout.addWidget(self.domains_list, 1)
        layout.addLayout(add_row)
        layout.addWidget(self._register("allowed_origins", 3))
        self.require_identity_check = QCheckBox(
            QCoreApplication.translate(
                "SettingsDialog", "Require identity verification (signed user ids) to send messages"
            )
        )
        layout.addWidget(self.require_identity_check)
        layout.addWidget(self._register("require_identity", 3))
        edit_row = QHBoxLayout()
        edit_row.addWidget(
            QLabel(QCoreApplication.translate("SettingsDialog", "Agents may edit or delete their messages for"))
        )
        self.edit_window_spin = QSpinBox()
        self.edit_window_spin.setRange(0, CONFIG_FIELD["edit_window_minutes"].maximum or 0)
        self.edit_window_spin.setSuffix(QCoreApplication.translate("SettingsDialog", " min"))
        self.edit_window_spin.setSpecialValueText(
            QCoreApplication.translate("SettingsDialog", "never")
        )  # 0 turns editing and deleting off
        edit_row.addWidget(self.edit_window_spin)
        edit_row.addStretch(1)
        layout.addLayout(edit_row)
        layout.addWidget(self._register("edit_window_minutes", 3))
        self.reply_assignee_only_check = QCheckBox(
            QCoreApplication.translate(
                "SettingsDialog", "Only the assignee may reply in an assigned conversation (others can still add notes)"
            )
        )
        layout.addWidget(self.reply_assignee_only_check)
        layout.addWidget(self._register("reply_assignee_only", 3))
        self.upload_limits = UploadLimitsEditor()  # attachments (console/ui/upload_settings.py)
        layout.addWidget(self.upload_limits)
        layout.addWidget(self._register("max_upload_mb", 3))
        layout.addWidget(self._register("upload_kinds", 3))
        csat_row = QHBoxLayout()  # satisfaction surveys (PROTOCOL.md, "Satisfaction surveys")
        csat_row.addWidget(
            QLabel(QCoreApplication.translate("SettingsDialog", "When a conversation is resolved, ask the visitor for"))
        )
        self.csat_combo = QComboBox()
        self.csat_combo.setObjectName("csatScale")
        for key, label in (
            ("five", QCoreApplication.translate("SettingsDialog", "a rating of 1–5 stars")),
            ("thumbs", QCoreApplication.translate("SettingsDialog", "thumbs up or down")),
            ("off", QCoreApplication.translate("SettingsDialog", "nothing")),
        ):
            self.csat_combo.addItem(label, key)
        csat_row.addWidget(self.csat_combo)
        csat_row.addStretch(1)
        layout.addLayout(csat_row)
        layout.addWidget(self._register("csat", 3))
        return page

    def _agent_name(self, agent_id: int) -> str:
        found = next((a for a in self.agents_model.agents() if a.id == agent_id), None)
        if found is not None:
            return found.name
        return QCoreApplication.translate("SettingsDialog", "agent #{id}").format(id=agent_id)

    def _build_assignment_tab(self) -> QWidget:
        """Auto-assignment (PROTOCOL.md, "Auto-assignment"): on or off, capacity per agent, the grace period."""
        tab = self.tabs.count()
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(10)
        intro = _plain(
            QCoreApplication.translate(
                "SettingsDialog",
                "New conversations go to an agent who is online, not away and under their capacity: the least "
                "busy first. When nobody is free they wait in a queue, and the visitor sees their place in line.",
            ),
            "hint",
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.auto_assign_check = QCheckBox(
            QCoreApplication.translate("SettingsDialog", "Assign new conversations automatically")
        )
        layout.addWidget(self.auto_assign_check)
        layout.addWidget(self._register("auto_assign", tab))
        layout.addWidget(
            _plain(
                QCoreApplication.translate(
                    "SettingsDialog", "Teams whose conversations go to their own members automatically:"
                ),
                "hint",
            )
        )
        self.auto_teams_list = QListWidget()
        self.auto_teams_list.setObjectName("autoAssignTeams")
        self.auto_teams_list.setMaximumHeight(140)
        layout.addWidget(self.auto_teams_list)
        layout.addWidget(self._register("auto_assign_teams", tab))
        self.agent_capacity_spin = self._assignment_spin(
            layout,
            tab,
            "agent_capacity",
            QCoreApplication.translate("SettingsDialog", "Most open conversations per agent"),
        )
        self.reassign_grace_minutes_spin = self._assignment_spin(
            layout,
            tab,
            "reassign_grace_minutes",
            QCoreApplication.translate(
                "SettingsDialog", "A reopened conversation goes back to the queue when its agent is offline for"
            ),
            QCoreApplication.translate("SettingsDialog", " min"),
        )
        layout.addStretch(1)
        return page

    def _fill_auto_teams(self, on: list[int]) -> None:
        """One checkable line per cached team (the core's cache, when the API has one)."""
        self.auto_teams_list.clear()
        cache = getattr(self._api, "cache", None)
        for team in cache.teams() if cache is not None else []:
            item = QListWidgetItem(team.name)
            item.setData(Qt.ItemDataRole.UserRole, team.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if team.id in on else Qt.CheckState.Unchecked)
            self.auto_teams_list.addItem(item)

    def _auto_teams_value(self) -> list[int]:
        shown = {}
        for n in range(self.auto_teams_list.count()):
            item = self.auto_teams_list.item(n)
            shown[int(item.data(Qt.ItemDataRole.UserRole))] = item.checkState() == Qt.CheckState.Checked
        loaded = [int(t) for t in self._config.get("auto_assign_teams") or []]
        # Teams this console does not know (yet) keep their setting.
        return sorted({t for t in loaded if t not in shown} | {t for t, on in shown.items() if on})

    def _assignment_spin(self, layout: QVBoxLayout, tab: int, key: str, text: str, suffix: str = "") -> QSpinBox:
        row = QHBoxLayout()
        row.addWidget(QLabel(text))
        spin = QSpinBox()
        spin.setRange(0, CONFIG_FIELD[key].maximum or 0)
        spin.setSuffix(suffix)
        row.addWidget(spin)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self._register(key, tab))
        return spin

    def _fit_agent_columns(self, *_args: object) -> None:
        QTimer.singleShot(0, self.agents_view.horizontalHeader().resizeSections)

    def _build_agents_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(10)
        self.agents_view = QTableView()
        self.agents_view.setObjectName("agentsTable")
        self.agents_view.setModel(self.agents_model)
        self.agents_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.agents_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.agents_view.verticalHeader().hide()
        self.agents_view.setShowGrid(False)
        header = self.agents_view.horizontalHeader()
        # Names are never cut (issue 13, item 6): every column but Email fits its
        # contents; Email takes what is left and elides in the middle (tooltips
        # carry the whole text).
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.agents_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.agents_view.setWordWrap(False)
        # Rows that arrive after the view was laid out (the list loads after the
        # dialog opens) do not re-fit ResizeToContents sections: re-fit them.
        for change in (self.agents_model.rowsInserted, self.agents_model.dataChanged, self.agents_model.modelReset):
            change.connect(self._fit_agent_columns)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.agents_view.selectionModel().currentRowChanged.connect(self._on_agents_current_row_changed)
        self.toggle_active_button = QPushButton(QCoreApplication.translate("SettingsDialog", "Disable"))
        self.toggle_active_button.clicked.connect(self._on_toggle_active_button_clicked)
        self.toggle_role_button = QPushButton(QCoreApplication.translate("SettingsDialog", "Make admin"))
        self.toggle_role_button.clicked.connect(self._on_toggle_role_button_clicked)
        for button in (self.toggle_active_button, self.toggle_role_button):
            button.setEnabled(False)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.toggle_role_button)
        row.addWidget(self.toggle_active_button)
        layout.addWidget(self.agents_view, 1)
        layout.addLayout(row)

        add_box = QFrame()
        add_box.setObjectName("card")
        add = QGridLayout(add_box)
        add.setContentsMargins(14, 12, 14, 12)
        add.setHorizontalSpacing(10)
        add.addWidget(_plain(QCoreApplication.translate("SettingsDialog", "Add an agent"), "sectionTitle"), 0, 0, 1, 4)
        self.new_agent_email = QLineEdit()
        self.new_agent_email.setPlaceholderText(QCoreApplication.translate("SettingsDialog", "Email"))
        self.new_agent_name = QLineEdit()
        self.new_agent_name.setPlaceholderText(QCoreApplication.translate("SettingsDialog", "Name"))
        self.new_agent_role = QComboBox()
        self.new_agent_role.addItem(QCoreApplication.translate("SettingsDialog", "Agent"), "agent")
        self.new_agent_role.addItem(QCoreApplication.translate("SettingsDialog", "Admin"), "admin")
        self.add_agent_button = QPushButton(QCoreApplication.translate("SettingsDialog", "Add agent"))
        self.add_agent_button.clicked.connect(self._on_add_agent_button_clicked)
        add.addWidget(self.new_agent_email, 1, 0)
        add.addWidget(self.new_agent_name, 1, 1)
        add.addWidget(self.new_agent_role, 1, 2)
        add.addWidget(self.add_agent_button, 1, 3)
        add.setColumnStretch(0, 3)
        add.setColumnStretch(1, 2)
        self.agent_error = _error_label()
        self.new_password_label = _plain("", "newPassword")
        self.new_password_label.setWordWrap(True)
        self.new_password_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.new_password_label.hide()
        add.addWidget(self.agent_error, 2, 0, 1, 4)
        add.addWidget(self.new_password_label, 3, 0, 1, 4)
        layout.addWidget(add_box)
        return page

    def _build_language_tab(self) -> None:
        """The widget's language and visitors' privacy (console/ui/language_settings.py)."""
        self.language_tab = LanguageTab()
        tab = self.tabs.addTab(
            _page(self.language_tab), QCoreApplication.translate("SettingsDialog", "Language & privacy")
        )
        for key, label in self.language_tab.errors.items():
            self.errors[key] = label
            self._tab_of[key] = tab

    def _build_identity_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(10)
        intro = _plain(
            QCoreApplication.translate(
                "SettingsDialog",
                "Your website's backend signs each logged-in user's id with this secret, so that the chat knows "
                'who they are: user_hash = hex(HMAC-SHA256(secret, user_id + ":" + ts)), keyed with the secret\'s '
                "text (its 64 hex characters), ts in seconds within 24 hours of now. A verified user sees their "
                "conversations on every device.",
            ),
            "hint",
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.identity_secret_edit = QLineEdit()
        self.identity_secret_edit.setObjectName("identitySecret")
        self.identity_secret_edit.setReadOnly(True)
        self.identity_secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.identity_secret_edit.setPlaceholderText(
            QCoreApplication.translate("SettingsDialog", "Hidden: press Show to fetch it")
        )
        self.identity_secret_edit.setAccessibleName(QCoreApplication.translate("SettingsDialog", "Identity secret"))
        self.show_secret_button = QPushButton(QCoreApplication.translate("SettingsDialog", "Show"))
        self.show_secret_button.clicked.connect(self._on_show_secret_button_clicked)
        row = QHBoxLayout()
        row.addWidget(self.identity_secret_edit, 1)
        row.addWidget(self.show_secret_button)
        layout.addLayout(row)
        self.previous_secret_label = _plain("", "hint")
        self.previous_secret_label.setWordWrap(True)
        self.previous_secret_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.previous_secret_label.hide()
        layout.addWidget(self.previous_secret_label)
        rotate_hint = _plain(
            QCoreApplication.translate(
                "SettingsDialog",
                "Rotate makes a new secret; the old one keeps working until you end the rotation, so pages already "
                "signed keep working while you deploy the new secret to your backend. After a leak, rotate and "
                "end the rotation at once.",
            ),
            "hint",
        )
        rotate_hint.setWordWrap(True)
        layout.addWidget(rotate_hint)
        self.rotate_secret_button = QPushButton(QCoreApplication.translate("SettingsDialog", "Rotate"))
        self.rotate_secret_button.clicked.connect(self._on_rotate_secret_button_clicked)
        self.end_rotation_button = QPushButton(QCoreApplication.translate("SettingsDialog", "End rotation"))
        self.end_rotation_button.setEnabled(False)
        self.end_rotation_button.clicked.connect(self._on_end_rotation_button_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.end_rotation_button)
        buttons.addWidget(self.rotate_secret_button)
        layout.addLayout(buttons)
        self.identity_error = _error_label()
        layout.addWidget(self.identity_error)
        layout.addStretch(1)
        return page

    # ------------------------------------------------------------------ webhooks

    @asyncSlot(int)
    async def _on_tabs_current_changed(self, index: int) -> None:
        page = self.tabs.widget(index)
        if page is self.exports_page and not self.exports_page.loaded_once:  # ui/export_records.py
            await self.exports_page.load()
        if isinstance(page, EmailPage | WebhooksPage) and page not in self._online_loaded:
            self._online_loaded.add(page)
            await page.load()

    # ------------------------------------------------------------------ identity secret

    async def identity_secret(self, action: str = "get") -> bool:
        """Fetch (``get``), ``rotate`` or ``end_rotation`` the identity secret
        and show the outcome; False (with the reason shown) when it failed."""
        self.identity_error.hide()
        try:
            state = await self._api.identity_secret(action)
        except (OfflineError, ServerError) as exc:
            self.identity_error.setText(
                QCoreApplication.translate("SettingsDialog", "Could not reach the identity secret: {message}").format(
                    message=exc.message
                )
            )
            self.identity_error.show()
            return False
        self.identity_secret_edit.setText(str(state.get("secret") or ""))
        self.identity_secret_edit.setEchoMode(QLineEdit.EchoMode.Normal)
        self.show_secret_button.setEnabled(False)
        previous = state.get("previous")
        self.previous_secret_label.setText(
            QCoreApplication.translate(
                "SettingsDialog", "Rotation in progress: the previous secret {previous} is still accepted."
            ).format(previous=previous)
            if previous
            else ""
        )
        self.previous_secret_label.setVisible(bool(previous))
        self.end_rotation_button.setEnabled(bool(previous))
        return True

    @asyncSlot()
    async def _on_show_secret_button_clicked(self) -> None:
        await self.identity_secret("get")

    @asyncSlot()
    async def _on_rotate_secret_button_clicked(self) -> None:
        await self.identity_secret("rotate")

    @asyncSlot()
    async def _on_end_rotation_button_clicked(self) -> None:
        await self.identity_secret("end_rotation")

    # ------------------------------------------------------------------ loading

    def _set_editable(self, editable: bool) -> None:
        for n in range(4):
            page = self.tabs.widget(n)
            if page is not None:
                page.setEnabled(editable)
        self.language_tab.setEnabled(editable)
        self.save_button.setEnabled(editable)

    def start_loading(self) -> None:
        """Load the config and agents in the background (see :meth:`load`)."""
        spawn(self.load(), name="settings-load")

    async def load(self) -> None:
        """Fetch the config and agents from the server and fill the form."""
        self.status_label.setText(QCoreApplication.translate("SettingsDialog", "Loading…"))
        try:
            config = await self._api.get_config()
        except OfflineError:
            self.status_label.setText(
                QCoreApplication.translate(
                    "SettingsDialog", "You're offline. Settings can be changed once the console reconnects."
                )
            )
            self.loaded.emit()
            return
        except ServerError as exc:
            self.status_label.setText(
                QCoreApplication.translate("SettingsDialog", "The server refused: {message}").format(
                    message=exc.message
                )
            )
            self.loaded.emit()
            return
        self.set_config(config)
        self.status_label.setText("")
        try:
            await self._api.list_agents()
        except (OfflineError, ServerError) as exc:
            log.info("could not refresh agents: %s", exc)
        self.agents_model.refresh()
        self.loaded.emit()

    def set_config(self, config: dict[str, Any]) -> None:
        """Fill the form from a full config and make it editable."""
        self._config = dict(config)
        self.business_name_edit.setText(str(config.get("business_name") or ""))
        self.color_edit.setText(str(config.get("color") or CONFIG_FIELD["color"].default))
        index = self.position_combo.findData(config.get("position", CONFIG_FIELD["position"].default))
        self.position_combo.setCurrentIndex(max(index, 0))
        self.greeting_edit.setPlainText(str(config.get("greeting") or ""))
        self.launcher_label_edit.setText(str(config.get("launcher_label") or ""))
        self.away_message_edit.setPlainText(str(config.get("away_message") or ""))
        self.sound_check.setChecked(bool(config.get("sound", CONFIG_FIELD["sound"].default)))
        prechat = config.get("prechat") or {}
        self.prechat_enabled.setChecked(bool(prechat.get("enabled")))
        fields = {f.get("name"): f for f in prechat.get("fields", []) if isinstance(f, dict)}
        for name, (ask, required) in self.prechat_fields.items():
            ask.setChecked(name in fields)
            required.setChecked(bool(fields.get(name, {}).get("required")))
            required.setEnabled(ask.isChecked())
        hours = config.get("business_hours") or {}
        self.hours_enabled.setChecked(bool(hours.get("enabled")))
        self.timezone_combo.setCurrentText(str(hours.get("timezone") or "UTC"))
        days = hours.get("days") or {}
        for key, edit in self.day_edits.items():
            edit.setText(format_ranges(days.get(key)))
        self.domains_list.clear()
        for host in config.get("allowed_origins") or []:
            self.domains_list.addItem(str(host))
        self.require_identity_check.setChecked(bool(config.get("require_identity")))
        window = config.get("edit_window_minutes", CONFIG_FIELD["edit_window_minutes"].default)
        self.edit_window_spin.setValue(window if isinstance(window, int) else 0)
        self.reply_assignee_only_check.setChecked(bool(config.get("reply_assignee_only")))
        self.upload_limits.load(config)
        self.auto_assign_check.setChecked(bool(config.get("auto_assign")))
        self._fill_auto_teams(config.get("auto_assign_teams") or [])
        for key, spin in (
            ("agent_capacity", self.agent_capacity_spin),
            ("reassign_grace_minutes", self.reassign_grace_minutes_spin),
        ):
            value = config.get(key, CONFIG_FIELD[key].default)
            spin.setValue(value if isinstance(value, int) else CONFIG_FIELD[key].default)
        self.language_tab.set_config(config)
        scale = self.csat_combo.findData(config.get("csat", CONFIG_FIELD["csat"].default))
        self.csat_combo.setCurrentIndex(max(scale, 0))
        self._clear_errors()
        self._set_editable(True)

    # ------------------------------------------------------------------ reading the form

    def _clear_errors(self) -> None:
        for label in self.errors.values():
            label.clear()
            label.hide()

    def show_error(self, key: str, message: str) -> None:
        """Show ``message`` next to the field of config key ``key`` and go to its tab."""
        label = self.errors.get(key) or self.errors.get(key.split(".")[0])
        if label is None:
            self.status_label.setText(message)
            return
        label.setText(message)
        label.show()
        tab = self._tab_of.get(key, self._tab_of.get(key.split(".")[0], 0))
        self.tabs.setCurrentIndex(tab)

    def error_text(self, key: str) -> str:
        """The error shown for ``key`` (``""`` when none)."""
        label = self.errors[key]
        return label.text() if not label.isHidden() else ""

    def form_values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The form as config values, and the problems found (key -> message)."""
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        texts = {
            "business_name": self.business_name_edit.text(),
            "greeting": self.greeting_edit.toPlainText(),
            "launcher_label": self.launcher_label_edit.text(),
            "away_message": self.away_message_edit.toPlainText(),
        }
        assert set(texts) == set(TEXT_KEYS), "a free-text configuration key without its field"
        for key, text in texts.items():
            problem = validate_config_text(key, text)
            if problem:
                problems[key] = problem
            values[key] = text.strip()
        color = self.color_edit.text().strip()
        problem = validate_color(color)
        if problem:
            problems["color"] = problem
        values["color"] = color.lower()
        values["position"] = self.position_combo.currentData()
        values["sound"] = self.sound_check.isChecked()
        fields = [
            {"name": name, "required": required.isChecked()}
            for name, (ask, required) in self.prechat_fields.items()
            if ask.isChecked()
        ]
        if self.prechat_enabled.isChecked() and not fields:
            problems["prechat"] = QCoreApplication.translate(
                "SettingsDialog", "Ask at least one question, or switch the pre-chat form off."
            )
        values["prechat"] = {"enabled": self.prechat_enabled.isChecked(), "fields": fields}
        timezone = self.timezone_combo.currentText().strip()
        problem = validate_timezone(timezone)
        if problem:
            problems["business_hours"] = problem
        days: dict[str, list[list[str]]] = {}
        for key, edit in self.day_edits.items():
            ranges, problem = parse_ranges(edit.text())
            if problem:
                problems[f"business_hours.{key}"] = problem
            elif ranges:
                days[key] = ranges
        if (
            self.hours_enabled.isChecked()
            and not days
            and not problems.keys() & {f"business_hours.{k}" for k, _ in DAYS}
        ):
            problems["business_hours"] = QCoreApplication.translate(
                "SettingsDialog", "Add opening hours for at least one day, or switch business hours off."
            )
        values["business_hours"] = {"enabled": self.hours_enabled.isChecked(), "timezone": timezone, "days": days}
        values["allowed_origins"] = [self.domains_list.item(n).text() for n in range(self.domains_list.count())]
        values["require_identity"] = self.require_identity_check.isChecked()
        values["reply_assignee_only"] = self.reply_assignee_only_check.isChecked()
        values.update(self.upload_limits.values())
        values["edit_window_minutes"] = self.edit_window_spin.value()
        values["auto_assign"] = self.auto_assign_check.isChecked()
        values["auto_assign_teams"] = self._auto_teams_value()
        values["agent_capacity"] = self.agent_capacity_spin.value()
        values["reassign_grace_minutes"] = self.reassign_grace_minutes_spin.value()
        values.update(self.language_tab.values())
        values["csat"] = str(self.csat_combo.currentData())
        return values, problems

    def changes(self) -> dict[str, Any]:
        """The config keys whose form value differs from the loaded config."""
        values, _ = self.form_values()
        return self._changed(values)

    def _changed(self, values: dict[str, Any]) -> dict[str, Any]:
        # A key the loaded config lacks (an older server) counts as its declared default.
        loaded = {f.name: f.default for f in CONFIG_FIELDS} | self._config
        return {k: v for k, v in values.items() if loaded.get(k) != v}

    # ------------------------------------------------------------------ slots

    def _on_color_edit_text_changed(self, text: str) -> None:
        color = text.strip() if validate_color(text) is None else "#ffffff"
        self.color_swatch.setStyleSheet(f"background: {color}; border: 1px solid #d0d5dd; border-radius: 6px;")

    def _on_color_swatch_clicked(self) -> None:
        dialog = QColorDialog(QColor(self.color_edit.text().strip() or "#2563eb"), self)
        dialog.setOption(QColorDialog.ColorDialogOption.DontUseNativeDialog, True)
        dialog.colorSelected.connect(lambda c: self.color_edit.setText(c.name()))
        dialog.open()

    def _on_add_domain_button_clicked(self) -> None:
        entry = self.domain_edit.text().strip().lower()
        problem = validate_host(entry)
        existing = [self.domains_list.item(n).text() for n in range(self.domains_list.count())]
        if problem is None and entry in existing:
            problem = QCoreApplication.translate("SettingsDialog", "{entry} is already in the list.").format(
                entry=entry
            )
        label = self.errors["allowed_origins"]
        if problem:
            label.setText(problem)
            label.show()
            self.domain_edit.setFocus()
            return
        label.hide()
        self.domains_list.addItem(entry)
        self.domain_edit.clear()

    def _on_remove_domain_button_clicked(self) -> None:
        for item in self.domains_list.selectedItems():
            self.domains_list.takeItem(self.domains_list.row(item))

    @asyncSlot()
    async def _on_save_button_clicked(self) -> None:
        await self.save()

    async def save(self) -> bool:
        """Validate, then send the changed keys. True when saved (or nothing changed)."""
        self._clear_errors()
        values, problems = self.form_values()
        if problems:
            for key in self.errors:  # registered in tab order, weekdays included
                if key in problems:
                    self.show_error(key, problems[key])
            first = next(k for k in self.errors if k in problems)
            self.tabs.setCurrentIndex(self._tab_of.get(first, 0))
            self.status_label.setText(
                QCoreApplication.translate("SettingsDialog", "Fix the highlighted fields, then save again.")
            )
            return False
        partial = self._changed(values)
        if not partial:
            self.status_label.setText(QCoreApplication.translate("SettingsDialog", "No changes to save."))
            return True
        self.save_button.setEnabled(False)
        self.status_label.setText(QCoreApplication.translate("SettingsDialog", "Saving…"))
        try:
            config = await self._api.set_config(partial)
        except OfflineError:
            self.status_label.setText(
                QCoreApplication.translate("SettingsDialog", "You're offline: settings were not saved.")
            )
            return False
        except ServerError as exc:
            bad_key = next((k for k in CONFIG_FIELD if k in exc.message), None)
            if exc.code == "invalid" and bad_key is not None:
                self.show_error(bad_key, exc.message)
                self.status_label.setText(
                    QCoreApplication.translate("SettingsDialog", "The server did not accept a field.")
                )
            elif exc.code == "forbidden":
                self.status_label.setText(
                    QCoreApplication.translate("SettingsDialog", "Only admins can change settings.")
                )
            else:
                self.status_label.setText(
                    QCoreApplication.translate("SettingsDialog", "Not saved: {message}").format(message=exc.message)
                )
            return False
        finally:
            self.save_button.setEnabled(True)
        self.set_config(config)
        self.status_label.setText(
            QCoreApplication.translate("SettingsDialog", "Saved. Open widgets update right away.")
        )
        self.saved.emit(config)
        return True

    # -- agents

    def _selected_agent(self) -> AgentRow | None:
        index = self.agents_view.currentIndex()
        return self.agents_model.agent(index.row()) if index.isValid() else None

    def _on_agents_current_row_changed(self, *args: object) -> None:
        del args
        agent = self._selected_agent()
        yourself = agent is not None and agent.id == self._me_id
        for button in (self.toggle_active_button, self.toggle_role_button):
            button.setEnabled(agent is not None and not yourself)
            button.setToolTip(
                QCoreApplication.translate("SettingsDialog", "You can't disable or demote yourself.")
                if yourself
                else ""
            )
        if agent is not None:
            self.toggle_active_button.setText(
                QCoreApplication.translate("SettingsDialog", "Disable")
                if agent.active
                else QCoreApplication.translate("SettingsDialog", "Enable")
            )
            self.toggle_role_button.setText(
                QCoreApplication.translate("SettingsDialog", "Make agent")
                if agent.role == "admin"
                else QCoreApplication.translate("SettingsDialog", "Make admin")
            )

    def _show_agent_error(self, text: str) -> None:
        self.agent_error.setText(text)
        self.agent_error.setVisible(bool(text))

    async def _update_agent(self, agent: AgentRow, **changes: Any) -> None:
        self._show_agent_error("")
        try:
            await self._api.update_agent(agent.id, **changes)
        except (OfflineError, ServerError) as exc:
            self._show_agent_error(
                QCoreApplication.translate("SettingsDialog", "Could not update {name}: {message}").format(
                    name=agent.name, message=exc.message
                )
            )
            return
        self.agents_model.refresh()
        self._on_agents_current_row_changed()

    @asyncSlot()
    async def _on_toggle_active_button_clicked(self) -> None:
        agent = self._selected_agent()
        if agent is not None:
            await self._update_agent(agent, active=not agent.active)

    @asyncSlot()
    async def _on_toggle_role_button_clicked(self) -> None:
        agent = self._selected_agent()
        if agent is not None:
            await self._update_agent(agent, role="agent" if agent.role == "admin" else "admin")

    @asyncSlot()
    async def _on_add_agent_button_clicked(self) -> None:
        await self.add_agent()

    async def add_agent(self) -> bool:
        """Add the agent typed into the Add row; show their password once."""
        email = self.new_agent_email.text().strip()
        name = self.new_agent_name.text().strip()
        problem = validate_email(email) or (
            None if name else QCoreApplication.translate("SettingsDialog", "Enter the agent's name.")
        )
        self.new_password_label.hide()
        if problem:
            self._show_agent_error(problem)
            return False
        self._show_agent_error("")
        try:
            agent, password = await self._api.add_agent(email, name, str(self.new_agent_role.currentData()))
        except (OfflineError, ServerError) as exc:
            self._show_agent_error(
                QCoreApplication.translate("SettingsDialog", "Could not add {email}: {message}").format(
                    email=email, message=exc.message
                )
            )
            return False
        self.new_agent_email.clear()
        self.new_agent_name.clear()
        self.new_password_label.setText(
            QCoreApplication.translate(
                "SettingsDialog",
                "{name} can sign in as {email} with the password: {password}\nCopy it now: it is shown only once.",
            ).format(name=agent.name, email=agent.email, password=password)
        )
        self.new_password_label.show()
        self.agents_model.refresh()
        return True
