"""The console's main window: inbox, thread and visitor panes, wired to the core.

The window owns the models and the :class:`~.bridge.CoreBridge`; it hands the
core's change-sets to the models and turns user actions into core calls. It
reads what it shows through the models (never the cache) and does no I/O of
its own: every action goes through the core, which queues it in the outbox
first, so everything here works offline too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from frontdesk.console.core import (
    AgentRow,
    ConnectionState,
    ConsoleCore,
    ConversationChanges,
    ConversationRow,
    CoreError,
    Notification,
    OfflineError,
    ThreadChanges,
    ThreadItem,
)
from frontdesk.console.core.notifier import Notifier
from frontdesk.console.core.search import Searcher
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtNetwork import QNetworkInformation
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .attachments import AttachmentsController
from .bridge import CoreBridge
from .collision import CollisionView
from .dialogs import HelpDialog, PreferencesDialog
from .idle import IdleSource, IdleWatcher, system_idle_source
from .inbox import InboxPane
from .models import FILTER_LABELS, AgentsModel, InboxModel, ThreadModel, VisitorConversationsModel, filter_label
from .notifications import Banner, NotificationCenter, Sound
from .preferences import Preferences
from .profile import ProfileDialog
from .search import SearchModel
from .statusbar import StatusBar
from .tasks import asyncSlot, spawn
from .theme import app_icon
from .thread import ThreadPane
from .transfer import TransferDialog
from .visitor import VisitorPane
from .workflow import WorkflowUi

if TYPE_CHECKING:  # imported when first opened: the first paint does not need it (issue 13, item 7)
    from .export_dialog import ExportDialog
    from .reports import ReportsWindow
    from .settings_dialog import SettingsDialog

__all__ = ["MainWindow"]

_Key = QKeySequence | QKeySequence.StandardKey | str

log = logging.getLogger("frontdesk.console.ui.window")

#: Longest :meth:`MainWindow.settle` waits for the actions in flight when the console stops.
SETTLE_TIMEOUT_S = 5.0


class MainWindow(QMainWindow):
    """Inbox (left), thread (centre), visitor details (right), status bar."""

    #: The agent chose Sign out.
    sign_out_requested = Signal()
    #: The core ended the session (token revoked, agent disabled); carries the reason.
    session_ended = Signal(str)
    #: The window was closed (the app should shut down).
    closed = Signal()

    #: How long a typing indicator stays without a refresh from the server.
    TYPING_EXPIRY_MS = 8000
    #: The inbox keeps its order this long after a key was pressed in it
    #: (and all the while the composer has the focus).
    ORDER_HOLD_S = 1.5

    def __init__(
        self,
        core: ConsoleCore,
        preferences: Preferences,
        *,
        use_tray: bool | None = None,
        sound: Sound | None = None,
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
        open_url: Callable[[QUrl], Any] = QDesktopServices.openUrl,
        idle_source: IdleSource | None = None,
        network: QObject | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle(QCoreApplication.translate("Mainwindow", "Frontdesk"))
        self.resize(1280, 800)
        self.core = core
        self.preferences = preferences
        self._clock = clock
        self._in_flight: set[asyncio.Future[Any]] = set()  # the actions :meth:`settle` waits for
        self._open_url = open_url
        self._idle_source = idle_source
        #: The OS says when the network is back (QNetworkInformation, or a test's stand-in).
        self._network = network if network is not None else _network_information()
        if self._network is not None:
            self._network.reachabilityChanged.connect(self._on_network_reachability_changed)  # type: ignore[attr-defined]
        #: Asks whether to quit with changes still waiting to sync; tests replace it.
        self.ask_quit: Callable[[int], bool] = self._ask_quit_dialog
        self._quitting = False
        self._open_id = 0
        self.settings_dialog: SettingsDialog | None = None
        self.reports_window: ReportsWindow | None = None

        # The bridge's signal object is deliberately not parented to the
        # window: the core may call it until detach(), even during teardown.
        self.bridge = CoreBridge()
        self.inbox_model = InboxModel(core, self, clock=clock)
        self.thread_model = ThreadModel(core, self, clock=clock)
        self.agents_model = AgentsModel(core, self)
        self.history_model = VisitorConversationsModel(core, self, clock=clock)

        self.search_model = SearchModel(Searcher(core), self, clock=clock)
        self.inbox = InboxPane(self.inbox_model, search_model=self.search_model)
        self.thread_pane = ThreadPane(
            self.thread_model,
            self.agents_model.agents,
            self._my_name,
            may_change=self._may_change_message,
            is_admin=lambda: self.core.me is not None and self.core.me.is_admin,
        )
        self.visitor = VisitorPane(self.history_model, clock=clock)
        self.collision = CollisionView(core, self.thread_pane, self._conversation, self)
        central = QWidget()
        # The banner floats over the top of the window's content (never in the
        # layout): showing it moves nothing under the pointer.
        self.banner = Banner(central)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(1)
        self.splitter.addWidget(self.inbox)
        self.splitter.addWidget(self.thread_pane)
        self.splitter.addWidget(self.visitor)
        self.inbox.setMinimumWidth(280)
        self.visitor.setMinimumWidth(240)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([360, 640, 300])
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.notifier = NotificationCenter(
            preferences,
            self.banner,
            self._is_on_screen,
            app_icon=app_icon(),
            window=self,
            desktop=notifier,
            me=lambda: core.me.id if core.me is not None else None,
            sound=sound,
            use_tray=use_tray,
        )
        self.notifier.on_open = self._on_notifier_open
        self.notifier.on_reply = self._on_notifier_reply
        self._build_actions()
        self._connect()
        self.attachments = AttachmentsController(core, self, open_url=open_url, open_id=lambda: self._open_id)
        # Teams, labels and canned responses (console/ui/workflow.py).
        self.workflow = WorkflowUi(self)

        self._typing_timer = QTimer(self)
        self._typing_timer.setSingleShot(True)
        self._typing_timer.setInterval(self.TYPING_EXPIRY_MS)
        self._typing_timer.timeout.connect(lambda: self.thread_pane.set_typing(None))

        # Marking the open conversation seen is decided after the change that
        # made it unread has been applied everywhere, never from inside that
        # change's handler (mark_seen announces a change of its own).
        self._seen_timer = QTimer(self)
        self._seen_timer.setSingleShot(True)
        self._seen_timer.setInterval(0)
        self._seen_timer.timeout.connect(self._on_seen_timer_timeout)
        self._marking_seen: set[int] = set()

        self._minute = QTimer(self)
        self._minute.setInterval(30_000)
        self._minute.timeout.connect(self._on_minute_timeout)
        self._minute.start()

    # ------------------------------------------------------------------ setup

    def _my_name(self) -> str | None:
        me = self.core.me
        return me.name if me is not None else None

    def _action(self, text: str, slot: Callable[[], Any], *keys: _Key) -> QAction:
        action = QAction(text, self)
        if keys:
            action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        A = self._action
        self.next_action = A(
            QCoreApplication.translate("Mainwindow", "Next conversation"),
            lambda: self.inbox.move_selection(1),
            "Ctrl+Down",
            "Alt+Down",
        )
        self.prev_action = A(
            QCoreApplication.translate("Mainwindow", "Previous conversation"),
            lambda: self.inbox.move_selection(-1),
            "Ctrl+Up",
            "Alt+Up",
        )
        self.search_action = A(
            QCoreApplication.translate("Mainwindow", "Search the inbox"),
            self._focus_search,
            QKeySequence.StandardKey.Find,
        )
        self.filter_actions = [
            A(
                QCoreApplication.translate("Mainwindow", "Show {label}").format(label=filter_label(name)),
                self._filter_setter(name),
                f"Ctrl+{n + 1}",
            )
            for n, (name, _english) in enumerate(FILTER_LABELS)
        ]
        self.resolve_action = A(
            QCoreApplication.translate("Mainwindow", "Resolve or reopen"), self._on_resolve_action, "Ctrl+E"
        )
        self.assign_me_action = A(
            QCoreApplication.translate("Mainwindow", "Assign to me"), self._on_assign_me_action, "Ctrl+I"
        )
        self.assign_action = A(
            QCoreApplication.translate("Mainwindow", "Assign to…"), self._on_assign_to_action, "Ctrl+Shift+A"
        )
        self.unassign_action = A(
            QCoreApplication.translate("Mainwindow", "Unassign"), self._on_unassign_action, "Ctrl+Shift+U"
        )
        self.pend_action = A(
            QCoreApplication.translate("Mainwindow", "Mark as pending (waiting on the visitor)"),
            self._on_pend_action,
            "Ctrl+Shift+P",
        )
        self.snooze_action = A(
            QCoreApplication.translate("Mainwindow", "Snooze…"), self._on_snooze_action, "Ctrl+Shift+Z"
        )
        self.transfer_action = A(
            QCoreApplication.translate("Mainwindow", "Transfer…"), self._on_transfer_action, "Ctrl+Shift+T"
        )
        self.reply_mode_action = A(
            QCoreApplication.translate("Mainwindow", "Write a reply"), lambda: self._compose(False), "Ctrl+R"
        )
        self.note_mode_action = A(
            QCoreApplication.translate("Mainwindow", "Write a private note"),
            lambda: self._compose(True),
            "Ctrl+Shift+N",
        )
        self.preferences_action = A(
            QCoreApplication.translate("Mainwindow", "Preferences…"), self.open_preferences, "Ctrl+,"
        )
        self.profile_action = A(QCoreApplication.translate("Mainwindow", "Your profile…"), self.open_profile)
        self.settings_action = A(
            QCoreApplication.translate("Mainwindow", "Settings…"), self.open_settings, "Ctrl+Shift+S"
        )
        self.help_action = A(
            QCoreApplication.translate("Mainwindow", "Keyboard shortcuts"), self.open_help, "F1", "Ctrl+/"
        )
        self.dismiss_action = A(
            QCoreApplication.translate("Mainwindow", "Dismiss notification"), self.banner.hide, "Esc"
        )
        self.sign_out_action = A(QCoreApplication.translate("Mainwindow", "Sign out"), self.sign_out_requested.emit)
        self.quit_action = A(QCoreApplication.translate("Mainwindow", "Quit"), self.request_quit, "Ctrl+Q")
        self.reconnect_action = A(
            QCoreApplication.translate("Mainwindow", "Reconnect now"), self.reconnect_now, "Ctrl+Shift+R"
        )
        self.export_action = A(
            QCoreApplication.translate("Mainwindow", "Export…"), self.open_export
        )  # ui/export_dialog.py
        self.reports_action = A(
            QCoreApplication.translate("Mainwindow", "Reports…"), self.open_reports, "Ctrl+Shift+G"
        )  # ui/reports.py

        menubar = self.menuBar()
        file_menu = menubar.addMenu(QCoreApplication.translate("Mainwindow", "&Frontdesk"))
        file_menu.addAction(self.preferences_action)
        file_menu.addAction(self.profile_action)
        file_menu.addAction(self.settings_action)
        file_menu.addAction(self.reports_action)
        file_menu.addAction(self.reconnect_action)
        file_menu.addSeparator()
        file_menu.addAction(self.sign_out_action)
        file_menu.addAction(self.quit_action)
        conv = menubar.addMenu(QCoreApplication.translate("Mainwindow", "&Conversation"))
        for action in (self.next_action, self.prev_action, self.search_action):
            conv.addAction(action)
        filters = conv.addMenu(QCoreApplication.translate("Mainwindow", "Filter"))
        for action in self.filter_actions:
            filters.addAction(action)
        conv.addSeparator()
        for action in (
            self.resolve_action,
            self.pend_action,
            self.snooze_action,
            self.transfer_action,
            self.assign_me_action,
            self.assign_action,
            self.unassign_action,
        ):
            conv.addAction(action)
        conv.addSeparator()
        conv.addAction(self.reply_mode_action)
        conv.addAction(self.note_mode_action)
        conv.addSeparator()
        conv.addAction(self.export_action)
        help_menu = menubar.addMenu(QCoreApplication.translate("Mainwindow", "&Help"))
        help_menu.addAction(self.help_action)
        self.update_role()

    def _filter_setter(self, name: str) -> Callable[[], None]:
        return lambda: self.inbox.set_filter(name)

    def shortcut_actions(self) -> list[QAction]:
        """Every action with a keyboard shortcut, for the help dialog."""
        return [a for a in self.actions() if a.shortcuts()]

    def _connect(self) -> None:
        s = self.bridge.signals
        s.state_changed.connect(self._on_core_state_changed)
        s.conversations_changed.connect(self._on_core_conversations_changed)
        s.thread_changed.connect(self._on_core_thread_changed)
        s.outbox_changed.connect(self.status.set_outbox_count)
        s.agents_changed.connect(self.agents_model.set_agents)
        s.agents_changed.connect(self._on_core_agents_changed_availability)
        s.synced.connect(self.status.set_synced)
        s.notification_raised.connect(self._on_core_notification_raised)
        s.typing_changed.connect(self._on_core_typing_changed)
        s.collision_changed.connect(self.collision.show)
        s.config_changed.connect(self.collision.refresh_reply_block)
        s.session_ended.connect(self.session_ended)
        self.inbox.conversation_selected.connect(self.open_conversation)
        self.inbox.view.clicked.connect(self._on_inbox_row_clicked)
        self.visitor.conversation_selected.connect(self._on_visitor_conversation_selected)
        self.banner.open_requested.connect(self._on_visitor_conversation_selected)
        header = self.thread_pane.header
        header.resolve_clicked.connect(self._on_resolve_action)
        header.reopen_clicked.connect(self._on_resolve_action)
        header.assign_me_clicked.connect(self._on_assign_me_action)
        header.assign_requested.connect(self._on_header_assign_requested)
        header.unassign_clicked.connect(self._on_unassign_action)
        header.snooze_requested.connect(self._on_snooze_requested)
        header.transfer_clicked.connect(self._on_transfer_action)
        self.thread_pane.composer.submitted.connect(self._on_composer_submitted)
        self.thread_pane.composer.typing_changed.connect(self._on_composer_typing_changed)
        self.thread_pane.view.retry_requested.connect(self._on_thread_retry_requested)
        self.thread_pane.view.discard_requested.connect(self._on_thread_discard_requested)
        # Held email replies: the thread line's menu and the bar above the composer (PROTOCOL.md, "Email").
        self.thread_pane.view.held_accept_requested.connect(self._on_held_accept_requested)
        self.thread_pane.view.held_reject_requested.connect(self._on_held_reject_requested)
        self.thread_pane.held_bar.accept_requested.connect(self._on_held_accept_requested)
        self.thread_pane.held_bar.reject_requested.connect(self._on_held_reject_requested)
        self.thread_pane.view.older_requested.connect(self._on_thread_older_requested)
        self.thread_pane.view.link_activated.connect(self._on_thread_link_activated)
        self.thread_pane.view.edit_requested.connect(self._on_thread_edit_requested)
        self.thread_pane.view.delete_requested.connect(self._on_thread_delete_requested)
        self.thread_pane.view.originals_requested.connect(self._on_thread_originals_requested)
        self.thread_pane.composer.edit_submitted.connect(self._on_composer_edit_submitted)
        self.preferences.changed.connect(self._on_preferences_changed)
        self.inbox_model.unread_total_changed.connect(self._update_unread)
        self.thread_model.conversation_updated.connect(self._on_thread_model_conversation_updated)
        self.history_model.visitor_changed.connect(self._on_history_model_visitor_changed)
        # Availability: the Online/Away switch, and OS-idle auto-away (idle.py).
        self.availability_button = QToolButton()
        self.availability_button.setObjectName("availabilityButton")
        self.availability_button.setAutoRaise(True)
        self.availability_button.setToolTip(
            QCoreApplication.translate(
                "Mainwindow", "Your availability, Available or Away (click to switch): colleagues and visitors see it"
            )
        )
        self.availability_button.clicked.connect(self._on_availability_button_clicked)
        self.status.addPermanentWidget(self.availability_button)
        self._show_availability()
        app_instance = QApplication.instance()
        source = self._idle_source or system_idle_source(app_instance or self, self)
        self.idle = IdleWatcher(source, self._away_after_minutes, self)
        # Away because idle when the console last ran: coming back brings the agent back, as if it had not quit.
        self.idle.auto_away = self.away and self.core.cache.away_was_automatic()
        self.idle.away_requested.connect(self._on_idle_away_requested)
        self.idle.start()
        self._last_inbox_key = float("-inf")
        self._order_hold_timer = QTimer(self)
        self._order_hold_timer.setSingleShot(True)
        self._order_hold_timer.timeout.connect(self.update_order_hold)
        self.inbox.view.installEventFilter(self)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_app_focus_changed)

    def attach(self) -> None:
        """Start listening to the core and show what the cache has right now."""
        self.core.add_listener(self.bridge)
        self.update_role()
        self.inbox_model.reload()
        self.agents_model.refresh()
        self._on_core_state_changed(self.core.state)
        self.status.set_outbox_count(self.core.outbox_count)
        self.status.set_synced(self.core.last_synced_at)
        self._update_unread()

    def detach(self) -> None:
        """Stop listening to the core (before it is stopped)."""
        self.core.remove_listener(self.bridge)

    def update_role(self) -> None:
        """Show admin-only actions to admins only."""
        me = self.core.me
        admin = me is not None and me.is_admin
        self.settings_action.setVisible(admin)
        self.settings_action.setEnabled(admin)
        if me is not None:
            role = (
                QCoreApplication.translate("Mainwindow", "admin")
                if admin
                else QCoreApplication.translate("Mainwindow", "agent")
            )
            self.status.set_user(f"{me.name} · {role}")

    # ------------------------------------------------------------------ core -> UI

    def _on_core_state_changed(self, state: ConnectionState) -> None:
        reports = self.reports_window
        stale = reports is not None and reports.fetched is not None and reports.fetched.offline
        if state is ConnectionState.ONLINE and reports is not None and stale:
            spawn(reports.load(), name="reports-load")  # back online: fresh figures instead of the cached ones
        self.status.connection.set_state(state.value)

    def _on_core_conversations_changed(self, changes: ConversationChanges) -> None:
        self.inbox_model.apply(changes)
        self.search_model.apply(changes)
        self.thread_model.apply(changes)
        self.history_model.apply(changes)
        if self._open_id and self.thread_model.conversation is None:
            # The open conversation is gone from the cache (its visitor was
            # erased): nothing of it may stay on screen.
            self.close_conversation()

    def _on_thread_model_conversation_updated(self) -> None:
        row = self.thread_model.conversation
        if row is None or row.id != self._open_id:
            return
        self._show_header()
        self.visitor.set_name(row.visitor_name, row.identity_unverified)
        if row.unread:
            self._seen_timer.start()

    def _on_history_model_visitor_changed(self) -> None:
        row = self._conversation()
        if row is not None and row.visitor_id == self.history_model.visitor_id:
            self.visitor.set_visitor(self.history_model.visitor, row.visitor_name)
            self._show_csat(row)

    def _on_seen_timer_timeout(self) -> None:
        row = self._conversation()
        if row is None or not row.unread or row.id in self._marking_seen or not self._is_on_screen(row.id):
            return
        # A visitor message arrived while the agent is looking at it.
        self._mark_seen(row.id)

    def _mark_seen(self, conversation_id: int) -> None:
        if conversation_id in self._marking_seen:
            return
        self._marking_seen.add(conversation_id)
        task = spawn(self.core.mark_seen(conversation_id), name=f"seen-{conversation_id}")
        task.add_done_callback(lambda _t: self._marking_seen.discard(conversation_id))

    def _on_core_thread_changed(self, changes: ThreadChanges) -> None:
        self.thread_model.apply_items(changes)

    def _on_core_notification_raised(self, notification: Notification) -> None:
        self.notifier.notify_core(notification)

    def _on_core_typing_changed(self, conversation_id: int, is_typing: bool, who: object) -> None:
        if conversation_id != self._open_id:
            return
        if not is_typing:
            self.thread_pane.set_typing(None)
            return
        row = self._conversation()
        name = (
            str(who) if who else (row.visitor_name if row else QCoreApplication.translate("Mainwindow", "The visitor"))
        )
        self.thread_pane.set_typing(QCoreApplication.translate("Mainwindow", "{name} is typing…").format(name=name))
        # A "stopped typing" can be lost (the visitor closed the tab): expire it.
        self._typing_timer.start()

    def _update_unread(self) -> None:
        unread = self.inbox_model.unread_total
        self.notifier.set_unread(unread)
        self.setWindowTitle(
            QCoreApplication.translate("Mainwindow", "({unread}) Frontdesk").format(unread=unread)
            if unread
            else QCoreApplication.translate("Mainwindow", "Frontdesk")
        )

    def _on_minute_timeout(self) -> None:
        self.inbox.view.viewport().update()  # relative times
        self.visitor.tick()

    def _on_preferences_changed(self, name: str) -> None:
        log.debug("preference %s changed", name)

    # ------------------------------------------------------------------ opening a conversation

    def _is_on_screen(self, conversation_id: int) -> bool:
        return conversation_id == self._open_id and self.isVisible() and self.isActiveWindow()

    @property
    def open_conversation_id(self) -> int:
        """The conversation in the thread pane (0 for none)."""
        return self._open_id

    def _conversation(self) -> ConversationRow | None:
        row = self.thread_model.conversation if self._open_id else None
        return row if row is not None and row.id == self._open_id else None

    def _show_header(self) -> None:
        row = self._conversation()
        if row is not None:
            self.thread_pane.header.set_conversation(row, self.core.me)
            self.collision.refresh_reply_block()  # the assignee may have changed
            self._show_csat(row)

    def _show_csat(self, row: ConversationRow) -> None:
        """The conversation's and its visitor's satisfaction ratings, from the cache."""
        self.thread_pane.header.set_csat(self.core.cache.conversation_csat(row.id))
        self.visitor.set_csat(self.core.cache.visitor_csat(row.visitor_id))

    def open_conversation(self, conversation_id: int) -> None:
        """Show ``conversation_id`` in the thread and visitor panes."""
        if not conversation_id:
            return
        previous = self._open_id
        self._open_id = conversation_id
        self.core.focused_conversation = conversation_id
        if previous != conversation_id:
            self.thread_pane.composer.edit.clear()
            self.thread_pane.set_typing(None)
        self.thread_model.set_conversation(conversation_id)
        row = self._conversation()
        self.thread_pane.set_has_conversation(True)
        if row is not None:
            self.thread_pane.header.set_conversation(row, self.core.me)
            self._show_csat(row)
            self.thread_pane.composer.set_visitor_name(row.visitor_name)
            self.history_model.set_visitor(row.visitor_id)  # shows the visitor through visitor_changed
            if self.core.state is ConnectionState.ONLINE:
                spawn(self._refresh_visitor(row.visitor_id), name=f"visitor-{row.visitor_id}")
            if row.unread:
                self._mark_seen(conversation_id)
        self.inbox.set_open_conversation(conversation_id)
        self.collision.opened(conversation_id)
        if self.banner.conversation_id == conversation_id:
            self.banner.hide()

    def close_conversation(self) -> None:
        """Show no conversation: the thread, the composer's draft and the visitor's details are cleared."""
        self._open_id = 0
        self.core.focused_conversation = None
        self.thread_pane.composer.edit.clear()
        self.thread_pane.set_typing(None)
        self.thread_model.set_conversation(0)
        self.history_model.set_visitor(0)
        self.visitor.set_visitor(None)
        self.thread_pane.set_has_conversation(False)
        self.inbox.set_open_conversation(0)
        self.collision.opened(None)

    async def _refresh_visitor(self, visitor_id: int) -> None:
        try:
            await self.core.fetch_visitor(visitor_id)
        except CoreError as exc:
            log.debug("visitor refresh failed: %s", exc)
            return
        if self.history_model.visitor_id == visitor_id:
            self.history_model.refresh()  # the details fetched (browser, page ...) are not in a change-set

    def _on_notifier_open(self, conversation_id: int) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()
        self._on_visitor_conversation_selected(conversation_id)

    def _on_notifier_reply(self, conversation_id: int, body: str) -> None:
        # A reply typed in the desktop notification: the outbox, like any other.
        spawn(
            self._run(
                QCoreApplication.translate("Mainwindow", "send the reply"), self.core.reply(conversation_id, body)
            ),
            name=f"reply-{conversation_id}",
        )

    def _on_visitor_conversation_selected(self, conversation_id: int) -> None:
        if not self.inbox.select_conversation(conversation_id):
            self.open_conversation(conversation_id)

    def _on_thread_link_activated(self, url: str) -> None:
        # The system browser, for http(s) only (a message is the visitor's text).
        link = QUrl(url, QUrl.ParsingMode.StrictMode)
        if link.isValid() and link.scheme().lower() in ("http", "https") and link.host():
            self._open_url(link)

    def _on_thread_older_requested(self) -> None:
        model = self.thread_model
        if model.loading or not model.has_older():
            return
        if model.load_older():
            return
        oldest = model.oldest_seq()
        if self.core.state is not ConnectionState.ONLINE:
            return
        model.set_loading(True)
        spawn(self._load_history(model.conversation_id, oldest), name="load-history")

    async def _load_history(self, conversation_id: int, before_seq: int | None) -> None:
        try:
            await self.core.load_history(conversation_id, before_seq)
        except (OfflineError, CoreError) as exc:
            log.info("could not load older messages: %s", exc)
        finally:
            self.thread_model.set_loading(False)
        self.thread_model.load_older()

    # ------------------------------------------------------------------ actions

    def _focus_search(self) -> None:
        self.inbox.search.setFocus()
        self.inbox.search.selectAll()

    def _on_inbox_row_clicked(self) -> None:
        """A conversation opened with the mouse is one to answer: the composer takes the keyboard (moving
        through the inbox with the keys leaves it in the list)."""
        edit = self.thread_pane.composer.edit
        if self._open_id and edit.isEnabled():
            edit.setFocus()

    def _compose(self, note: bool) -> None:
        if self._open_id:
            self.thread_pane.composer.set_note_mode(note)
            self.thread_pane.composer.edit.setFocus()

    async def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> None:
        """Wait (at most ``timeout`` seconds) for the actions in flight, a reply being sent or Away being set, to
        finish their writes to the cache: the console calls it before stopping the core, which closes the cache."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout)

    async def _run(self, what: str, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        try:
            await task
        except CoreError as exc:
            log.warning("%s failed: %s", what, exc)
            self.status.showMessage(
                QCoreApplication.translate("Mainwindow", "Could not {what}: {exc}").format(what=what, exc=exc), 8000
            )

    @asyncSlot()
    async def _on_resolve_action(self) -> None:
        row = self._conversation()
        if row is None:
            return
        if row.status == "resolved":
            await self._run(QCoreApplication.translate("Mainwindow", "reopen"), self.core.reopen(row.id))
        else:
            await self._run(QCoreApplication.translate("Mainwindow", "resolve"), self.core.resolve(row.id))

    @asyncSlot()
    async def _on_assign_me_action(self) -> None:
        me = self.core.me
        if self._open_id and me is not None:
            await self._run(QCoreApplication.translate("Mainwindow", "assign"), self.core.assign(self._open_id, me.id))

    def _on_assign_to_action(self) -> None:
        if not self._open_id:
            return
        menu = QMenu(self)
        self.thread_pane.header.fill_assign_menu(menu)
        button = self.thread_pane.header.assign_button
        menu.popup(button.mapToGlobal(button.rect().bottomLeft()))

    @asyncSlot(int)
    async def _on_header_assign_requested(self, agent_id: int) -> None:
        if self._open_id:
            await self._run(
                QCoreApplication.translate("Mainwindow", "assign"), self.core.assign(self._open_id, agent_id)
            )

    @asyncSlot()
    async def _on_pend_action(self) -> None:
        row = self._conversation()
        if row is not None and row.status == "open":
            await self._run(QCoreApplication.translate("Mainwindow", "mark it pending"), self.core.pend(row.id))

    def _on_snooze_action(self) -> None:
        """Open the snooze menu of the open conversation (presets, a custom time, until the reply)."""
        row = self._conversation()
        if row is not None and row.status != "resolved":
            button = self.thread_pane.header.snooze_button
            self.thread_pane.header.snooze_menu.popup(button.mapToGlobal(button.rect().bottomLeft()))

    def transfer_dialog(self) -> TransferDialog:
        """The transfer dialog for the open conversation (the window's, so tests can drive it)."""
        cache = self.core.cache
        return TransferDialog(cache.agents(), cache.teams(), self)

    @asyncSlot()
    async def _on_transfer_action(self) -> None:
        row = self._conversation()
        if row is None or row.status == "resolved":
            return
        dialog = self.transfer_dialog()
        if dialog.exec() != TransferDialog.DialogCode.Accepted:
            return
        try:
            await self._run(
                QCoreApplication.translate("Mainwindow", "transfer"),
                self.core.transfer(row.id, agent_id=dialog.agent_id(), team_id=dialog.team_id(), note=dialog.note()),
            )
        except ValueError as exc:  # no target, or a note over the limit
            self.status.showMessage(
                QCoreApplication.translate("Mainwindow", "Could not transfer: {exc}").format(exc=exc), 8000
            )

    @asyncSlot(object)
    async def _on_snooze_requested(self, until: int | None) -> None:
        row = self._conversation()
        if row is None:
            return
        try:
            await self._run(QCoreApplication.translate("Mainwindow", "snooze"), self.core.snooze(row.id, until))
        except ValueError as exc:  # a custom time that passed while the menu was open
            self.status.showMessage(
                QCoreApplication.translate("Mainwindow", "Could not snooze: {exc}").format(exc=exc), 8000
            )

    @asyncSlot()
    async def _on_unassign_action(self) -> None:
        if self._open_id:
            await self._run(QCoreApplication.translate("Mainwindow", "unassign"), self.core.unassign(self._open_id))

    @asyncSlot(str, bool)
    async def _on_composer_submitted(self, body: str, is_note: bool) -> None:
        if not self._open_id:
            return
        if is_note:
            await self._run(
                QCoreApplication.translate("Mainwindow", "add the note"), self.core.note(self._open_id, body)
            )
        else:
            await self._run(
                QCoreApplication.translate("Mainwindow", "send the reply"), self.core.reply(self._open_id, body)
            )

    def _on_composer_typing_changed(self, typing: bool) -> None:
        if self._open_id and self.core.state is ConnectionState.ONLINE:
            spawn(self.core.set_typing(self._open_id, typing), name="typing")

    @asyncSlot(int)
    async def _on_thread_retry_requested(self, outbox_id: int) -> None:
        await self._run(QCoreApplication.translate("Mainwindow", "retry"), self.core.retry(outbox_id))

    @asyncSlot(int)
    async def _on_thread_discard_requested(self, outbox_id: int) -> None:
        await self._run(QCoreApplication.translate("Mainwindow", "discard"), self.core.discard(outbox_id))

    @asyncSlot(int)
    async def _on_held_accept_requested(self, held_id: int) -> None:
        await self._run(self.tr("accept the held email"), self.core.accept_held(held_id))

    @asyncSlot(int)
    async def _on_held_reject_requested(self, held_id: int) -> None:
        await self._run(self.tr("discard the held email"), self.core.reject_held(held_id))

    # ------------------------------------------------------------------ availability

    @property
    def away(self) -> bool:
        """Whether this agent is Away, as the server last said."""
        me = self.core.me
        return me is not None and me.away

    def _show_availability(self) -> None:
        away = self.away
        # "Available", not "Online": the connection's own "Online" sits at the other end of the status bar.
        self.availability_button.setText(
            QCoreApplication.translate("Mainwindow", "● You: Away")
            if away
            else QCoreApplication.translate("Mainwindow", "● You: Available")
        )
        self.availability_button.setProperty("away", away)
        self.availability_button.style().unpolish(self.availability_button)
        self.availability_button.style().polish(self.availability_button)

    def _away_after_minutes(self) -> int:
        value = self.preferences.get("away_after_minutes")
        return value if isinstance(value, int) else 0

    def _on_core_agents_changed_availability(self, agents: list[AgentRow]) -> None:
        del agents
        self._show_availability()

    @asyncSlot()
    async def _on_availability_button_clicked(self) -> None:
        self.idle.chose()
        await self.set_away(not self.away)

    @asyncSlot(bool)
    async def _on_idle_away_requested(self, away: bool) -> None:
        if away and self.away:
            return
        await self.set_away(away, automatic=True)

    async def set_away(self, away: bool, *, automatic: bool = False) -> None:
        """Ask the server to set this agent Away or back Online (``automatic``: the idle watcher asks)."""
        await self._run(
            QCoreApplication.translate("Mainwindow", "change your availability"),
            self.core.set_away(away, automatic=automatic),
        )
        self._show_availability()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.inbox.view and event.type() == QEvent.Type.KeyPress:
            self._last_inbox_key = self._clock()
            self.update_order_hold()
        return super().eventFilter(watched, event)

    def _on_app_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        del old, new
        self.update_order_hold()

    def update_order_hold(self) -> None:
        """Hold the inbox's order while the agent types in the composer or has
        just pressed a key in the list (a row that moved under the keyboard
        would take the next key press elsewhere); release it otherwise."""
        typing = self.thread_pane.composer.edit.hasFocus()
        recent = self._clock() - self._last_inbox_key < self.ORDER_HOLD_S
        self.inbox_model.set_order_held(typing or recent)
        if recent and not typing:
            left = self.ORDER_HOLD_S - (self._clock() - self._last_inbox_key)
            self._order_hold_timer.start(max(50, int(left * 1000) + 20))

    def _may_change_message(self, item: ThreadItem) -> bool:
        """Whether the agent's own message is still within the tenant's edit
        window (the server decides; this only hides actions it would refuse)."""
        config = self.core.cache.config() or {}
        window = config.get("edit_window_minutes", 10)
        minutes = window if isinstance(window, int) else 10
        return self._clock() * 1000 - item.created_at < minutes * 60_000

    def _on_thread_edit_requested(self, item: ThreadItem) -> None:
        if item.seq is not None:
            self.thread_pane.composer.start_editing(item.seq, item.body)

    @asyncSlot(object)
    async def _on_thread_delete_requested(self, item: ThreadItem) -> None:
        if self._open_id and item.seq is not None:
            await self._run(
                QCoreApplication.translate("Mainwindow", "delete the message"),
                self.core.delete_message(self._open_id, item.seq),
            )

    @asyncSlot(object)
    async def _on_thread_originals_requested(self, item: ThreadItem) -> None:
        if self._open_id and item.seq is not None:
            await self.show_originals(self._open_id, item.seq)

    async def show_originals(self, conversation_id: int, seq: int) -> QMessageBox | None:
        """Admins: show the texts a message had before its edits and deletion."""
        try:
            originals = await self.core.message_originals(conversation_id, seq)
        except CoreError as exc:
            self.status.showMessage(
                QCoreApplication.translate("Mainwindow", "Could not load the original text: {exc}").format(exc=exc),
                8000,
            )
            return None
        deleted = QCoreApplication.translate("Mainwindow", "Deleted: {body}")
        replaced = QCoreApplication.translate("Mainwindow", "Replaced: {body}")
        lines = [(deleted if o.change == "deleted" else replaced).format(body=o.body) for o in originals]
        box = QMessageBox(
            QMessageBox.Icon.Information,
            QCoreApplication.translate("Mainwindow", "Original text"),
            "\n\n".join(lines) or QCoreApplication.translate("Mainwindow", "Nothing kept."),
        )
        box.setParent(self, box.windowFlags())
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    @asyncSlot(int, str)
    async def _on_composer_edit_submitted(self, seq: int, body: str) -> None:
        if self._open_id:
            await self._run(
                QCoreApplication.translate("Mainwindow", "edit the message"),
                self.core.edit_message(self._open_id, seq, body),
            )

    # ------------------------------------------------------------------ dialogs

    def open_help(self) -> HelpDialog:
        """Show the keyboard shortcuts."""
        dialog = HelpDialog(self.shortcut_actions(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_preferences(self) -> PreferencesDialog:
        """Show the agent's preferences."""
        dialog = PreferencesDialog(self.preferences, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_profile(self) -> ProfileDialog | None:
        """Show the agent's own profile: display name and password."""
        me = self.core.me
        if me is None:
            return None
        email_api = self.core if hasattr(self.core, "email_request") else None  # issue 16: notification emails
        dialog = ProfileDialog(me, self.core.update_me, self, email_api=email_api)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        if email_api is not None:
            spawn(dialog.load_notify(), name="profile-notify")
        return dialog

    def open_settings(self) -> SettingsDialog | None:
        """Show the admin settings dialog (admins only; None otherwise)."""
        me: AgentRow | None = self.core.me
        if me is None or not me.is_admin:
            self.status.showMessage(QCoreApplication.translate("Mainwindow", "Only admins can change settings."), 5000)
            return None
        if self.settings_dialog is None:
            from .settings_dialog import SettingsDialog

            self.settings_dialog = SettingsDialog(self.core, self.agents_model, self, me_id=me.id)
            self.settings_dialog.finished.connect(self._on_settings_dialog_finished)
        self.settings_dialog.open()
        self.settings_dialog.start_loading()
        return self.settings_dialog

    def open_export(self) -> ExportDialog:
        """Show the export dialog: the open conversation, or the inbox's filtered list (ui/export_dialog.py)."""
        from .export_dialog import ExportDialog

        model = self.inbox_model
        me = self.core.me

        def listed() -> list[int]:
            rows = self.core.cache.conversations(model.filter, model.query, me.id if me else None, limit=1_000_000)
            return [r.id for r in rows]

        async def record(what: str, fmt: str, conversation_id: int | None, query: str, rows: int) -> None:
            if me is not None and me.is_admin:
                await self.core.record_export(what, fmt, conversation_id=conversation_id, query=query, rows=rows)

        described = model.filter + (f", “{model.query}”" if model.query else "")

        def source() -> str:  # where an export comes from now (core/export.py)
            if self.core.state is not ConnectionState.ONLINE:
                return "offline"
            if self.core.me is None or not self.core.me.is_admin:
                return "not_admin"
            return "server" if self.core.exports_from_server else "offline"

        dialog = ExportDialog(
            self.core.cache,
            current=self._open_id or None,
            listed=listed,
            describe_list=described,
            record=record,
            stream=self.core.export_stream,
            source=source,
            parent=self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_reports(self) -> ReportsWindow:
        """Show the Reports window (ui/reports.py): the team's figures for an admin, an agent's own otherwise."""
        if self.reports_window is None:
            from .reports import ReportChoices, ReportsWindow

            cache = self.core.cache
            config = cache.config() or {}
            hours = config.get("business_hours")
            choices = ReportChoices(
                agents=[(a.id, a.name) for a in cache.agents()],
                teams=[(t.id, t.name) for t in cache.teams()],
                labels=[(label.id, label.name) for label in cache.labels()],
                time_zone=hours.get("timezone") if isinstance(hours, dict) else None,
            )
            self.reports_window = ReportsWindow(self.core, choices, self, clock=self._clock)
            self.reports_window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.reports_window.destroyed.connect(self._on_reports_window_destroyed)
            spawn(self.reports_window.load(), name="reports-load")
        self.reports_window.show()
        self.reports_window.raise_()
        self.reports_window.activateWindow()
        return self.reports_window

    def _on_reports_window_destroyed(self) -> None:
        self.reports_window = None

    def _on_settings_dialog_finished(self, result: int) -> None:
        del result
        if self.settings_dialog is not None:
            self.settings_dialog.deleteLater()
            self.settings_dialog = None

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange:
            self._on_activation_changed()

    def _on_activation_changed(self) -> None:
        active = self.isActiveWindow()
        # The core raises no notification for the focused conversation: it is
        # focused only while the agent can see it (issue 13, item 1).
        self.core.focused_conversation = (self._open_id or None) if active else None
        if active:
            # A message that arrived while the window was in the background is
            # read now that the agent looks at it (issue 13, item 3).
            self._seen_timer.start()

    # ------------------------------------------------------------------ connection and quitting

    def reconnect_now(self) -> None:
        """Try the server at once instead of waiting out the backoff."""
        if self.core.state is not ConnectionState.ONLINE:
            self.status.showMessage(QCoreApplication.translate("Mainwindow", "Reconnecting…"), 3000)
        self.core.reconnect_now()

    def _on_network_reachability_changed(self, reachability: Any) -> None:
        if reachability == QNetworkInformation.Reachability.Online and self.core.state is not ConnectionState.ONLINE:
            log.info("the network is back: reconnecting now")
            self.core.reconnect_now()

    def _ask_quit_dialog(self, pending: int) -> bool:
        answer = QMessageBox.question(
            self,
            QCoreApplication.translate("Mainwindow", "Quit Frontdesk?"),
            (
                QCoreApplication.translate("Mainwindow", "1 change is waiting to sync.")
                if pending == 1
                else QCoreApplication.translate("Mainwindow", "%n changes are waiting to sync.", None, pending)
            )
            + " "
            + QCoreApplication.translate(
                "Mainwindow",
                "Nothing is lost: they are kept and sent the next time you are online.\n\nQuit anyway?",
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _may_quit(self) -> bool:
        pending = self.core.outbox_count
        return pending == 0 or self.ask_quit(pending)

    def request_quit(self) -> bool:
        """Quit, asking first when changes wait to sync; False if the agent stayed."""
        if not self._may_quit():
            return False
        self._quitting = True
        self.close()
        return True

    def closeEvent(self, event: QCloseEvent) -> None:
        # The window's own close button asks too (a programmatic close does not).
        if event.spontaneous() and not self._quitting and not self._may_quit():
            event.ignore()
            return
        self.notifier.close()
        super().closeEvent(event)
        self.closed.emit()


def _network_information() -> QObject | None:
    """The OS's network reachability (QNetworkInformation), or None where Qt
    has no backend for it (then only the backoff brings the console back)."""
    try:
        if QNetworkInformation.loadDefaultBackend():
            return QNetworkInformation.instance()
    except (AttributeError, RuntimeError):  # pragma: no cover - an older Qt
        pass
    log.debug("no QNetworkInformation backend: reconnecting on the backoff only")
    return None
