"""Teams, labels and canned responses in the main window (issue 15), wired from outside ``mainwindow.py``:

- the composer's "/" completion reads the cache (offline too) and fills the open conversation's variables;
- the thread header shows the conversation's labels as coloured chips, and a "Labels ▾" menu puts them on and takes
  them off (through the outbox);
- the inbox has a "team or label" box that narrows the list to one team's inbox or one label's;
- "Canned responses…" in the Frontdesk menu opens every agent's "My responses" (admins: every scope).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from frontdesk.console.core import ConversationRow
from frontdesk.console.core.workflow import canned_values, rank_canned
from frontdesk.server import canned_text
from frontdesk.server.protocol import CannedResponse
from PySide6.QtCore import QCoreApplication, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QToolButton, QWidget

from .tasks import spawn
from .workflow_settings import CannedDialog

if TYPE_CHECKING:
    from .mainwindow import MainWindow

__all__ = ["WorkflowUi", "usable_canned"]


def usable_canned(cache: Any, me_id: int | None) -> list[CannedResponse]:
    """The canned responses agent ``me_id`` may use: the tenant's, their teams', and their own."""
    teams = {t.id for t in cache.teams() if me_id in t.member_ids}
    return [
        c
        for c in cache.canned_responses()
        if c.scope == "tenant"
        or (c.scope == "team" and c.team_id in teams)
        or (c.scope == "personal" and c.agent_id == me_id)
    ]


def _text_color(background: str) -> str:
    r, g, b = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    return "#111827" if (r * 299 + g * 587 + b * 114) / 1000 > 150 else "#ffffff"


class WorkflowUi(QObject):
    """The window's teams, labels and canned responses (created once by the main window)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.core = window.core
        # The composer's completion.
        composer = window.thread_pane.composer
        assert composer.completer is not None
        composer.completer.complete = self.complete
        composer.completer.fill = self.fill
        composer.completer.used.connect(self._on_completer_used)
        # The thread header's labels.
        header = window.thread_pane.header
        self.labels_button = QToolButton()
        self.labels_button.setObjectName("labelsButton")
        self.labels_button.setText(QCoreApplication.translate("Workflow", "Labels ▾"))
        self.labels_button.setToolTip(
            QCoreApplication.translate("Workflow", "Put labels on this conversation, or take them off")
        )
        self.labels_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.labels_menu = QMenu(self.labels_button)
        self.labels_menu.aboutToShow.connect(self._fill_labels_menu)
        self.labels_button.setMenu(self.labels_menu)
        header.top_row.insertWidget(1, self.labels_button)  # after the names, before the assign buttons
        header.on_conversation = self.show_labels
        self._chips: list[QLabel] = []
        self._shown: ConversationRow | None = None
        # The inbox's team/label box.
        self.scope_box = QComboBox()
        self.scope_box.setObjectName("inboxScope")
        self.scope_box.setToolTip(
            QCoreApplication.translate("Workflow", "Show one team's inbox, or the conversations with one label")
        )
        self.scope_box.currentIndexChanged.connect(self._on_scope_box_current_index_changed)
        window.inbox.head.insertWidget(1, self.scope_box)
        # Everyone's canned responses.
        self.canned_action = QAction(QCoreApplication.translate("Workflow", "Canned responses…"), window)
        self.canned_action.triggered.connect(self.open_canned)
        for action in window.menuBar().actions():
            menu = action.menu()
            if isinstance(menu, QMenu) and window.profile_action in menu.actions():
                menu.insertAction(window.settings_action, self.canned_action)
        self.canned_dialog: CannedDialog | None = None
        window.bridge.signals.workflow_changed.connect(self.refresh)
        window.bridge.signals.agents_changed.connect(self.refresh)  # after a login or an offline start too
        self.refresh()

    # -- canned responses ------------------------------------------------------------------------------------

    def _me_id(self) -> int | None:
        return self.core.me.id if self.core.me is not None else None

    def complete(self, typed: str) -> list[CannedResponse]:
        """The completion for "/``typed``": ranked by the core's rule, from the cache."""
        cache = self.core.cache
        return rank_canned(usable_canned(cache, self._me_id()), cache.canned_uses(), typed)

    def fill(self, response: CannedResponse, answers: dict[str, str]) -> str:
        """``response`` filled in for the open conversation."""
        cid = self.window._open_id or None
        row = self.core.cache.conversation(cid) if cid else None
        me = self.core.me
        values = canned_values(
            visitor_name=row.visitor_name if row is not None else None,
            visitor_email=row.visitor_email if row is not None else None,
            agent_name=me.name if me is not None else None,
            conversation_id=cid,
        )
        return canned_text.fill(response.body, values, answers)

    def _on_completer_used(self, canned_id: int) -> None:
        spawn(self.core.cache.used_canned(canned_id, int(time.time() * 1000)), name="canned-use")

    def open_canned(self) -> CannedDialog:
        """Show the canned responses dialog ("My responses"; every scope for admins)."""
        me = self.core.me
        if self.canned_dialog is None:
            self.canned_dialog = CannedDialog(self.core, self.window, admin=bool(me and me.is_admin))
        self.canned_dialog.page.refresh()
        self.canned_dialog.open()
        return self.canned_dialog

    # -- labels in the header -----------------------------------------------------------------------------

    def show_labels(self, row: ConversationRow) -> None:
        """Show ``row``'s labels as chips in the thread header."""
        self._shown = row
        header = self.window.thread_pane.header
        for chip in self._chips:
            header.label_chips.removeWidget(chip)
            chip.deleteLater()
        self._chips = []
        labels = {label.id: label for label in self.core.cache.labels()}
        for label_id in row.label_ids:
            label = labels.get(label_id)
            if label is None:
                continue
            chip = QLabel(label.name)
            chip.setObjectName("labelChip")
            chip.setTextFormat(Qt.TextFormat.PlainText)
            chip.setStyleSheet(
                f"QLabel#labelChip {{ background: {label.color}; color: {_text_color(label.color)};"
                " border-radius: 8px; padding: 1px 8px; font-size: 11px; }"
            )
            header.label_chips.addWidget(chip)
            self._chips.append(chip)
        self.labels_button.setVisible(bool(labels))

    def label_names(self) -> list[str]:
        """The names on the header's chips (for tests and screenshots)."""
        return [chip.text() for chip in self._chips]

    def _fill_labels_menu(self) -> None:
        self.labels_menu.clear()
        row = self.core.cache.conversation(self.window._open_id) if self.window._open_id else None
        for label in self.core.cache.labels():
            action = self.labels_menu.addAction(label.name)
            action.setCheckable(True)
            action.setChecked(row is not None and label.id in row.label_ids)
            action.setEnabled(row is not None)
            action.toggled.connect(lambda on, lid=label.id: self.toggle_label(lid, on))

    def toggle_label(self, label_id: int, on: bool) -> None:
        """Put a label on the open conversation or take it off (the outbox: offline too)."""
        cid = self.window._open_id
        if not cid:
            return
        action = self.core.add_label(cid, label_id) if on else self.core.remove_label(cid, label_id)
        spawn(
            self.window._run(QCoreApplication.translate("Workflow", "change the labels"), action), name=f"label-{cid}"
        )

    # -- the inbox's team/label box -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Teams, labels or canned responses changed: the box, the chips and open settings pages follow."""
        try:
            cache = self.core.cache
        except RuntimeError:  # the window is built before the login opens the cache
            return
        current = self.scope_box.currentData()
        self.scope_box.blockSignals(True)
        self.scope_box.clear()
        self.scope_box.addItem(QCoreApplication.translate("Workflow", "Every team and label"), (None, None))
        me = self._me_id()
        for team in cache.teams():
            mine = " (yours)" if me in team.member_ids else ""
            self.scope_box.addItem(
                QCoreApplication.translate("Workflow", "Team: {name}{mine}").format(name=team.name, mine=mine),
                (team.id, None),
            )
        for label in cache.labels():
            self.scope_box.addItem(
                QCoreApplication.translate("Workflow", "Label: {name}").format(name=label.name), (None, label.id)
            )
        index = self._index_of(tuple(current)) if current is not None else 0
        self.scope_box.setCurrentIndex(max(index, 0))
        self.scope_box.blockSignals(False)
        self.scope_box.setVisible(self.scope_box.count() > 1)
        if index < 0:  # the team or label went away
            self.window.inbox_model.set_scope(None, None)
        row = self.core.cache.conversation(self.window._open_id) if self.window._open_id else None
        if row is not None:
            self.show_labels(row)
        dialog = self.window.settings_dialog
        for page in getattr(dialog, "workflow_pages", []) if dialog is not None else []:
            page.refresh()
        if self.canned_dialog is not None:
            self.canned_dialog.page.refresh()

    def set_scope(self, team_id: int | None, label_id: int | None) -> None:
        """Narrow the inbox to a team or a label (as if picked in the box)."""
        index = self._index_of((team_id, label_id))
        if index >= 0:
            self.scope_box.setCurrentIndex(index)

    def _index_of(self, scope: tuple[Any, ...]) -> int:
        for n in range(self.scope_box.count()):
            data = self.scope_box.itemData(n)
            if data is not None and tuple(data) == scope:
                return n
        return -1

    def _on_scope_box_current_index_changed(self, index: int) -> None:
        data = self.scope_box.itemData(index)
        team_id, label_id = tuple(data) if data is not None else (None, None)
        self.window.inbox_model.set_scope(team_id, label_id)

    def widgets(self) -> list[QWidget]:
        """The widgets this adds to the window."""
        return [self.labels_button, self.scope_box]
