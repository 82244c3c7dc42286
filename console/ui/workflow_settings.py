"""Settings pages for teams, labels and canned responses (issue 15).

Admins get the three as tabs of the settings dialog; every agent reaches "My responses" (their personal canned
responses) from the Conversation menu, in :class:`CannedDialog`. The pages read the cache (what the core keeps
current) and change things through the core's online calls; a refusal (offline, a taken name, an unknown variable)
shows under the form, in the server's words, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from frontdesk.console.core import AgentRow, OfflineError, ServerError
from frontdesk.server import canned_text
from frontdesk.server.protocol import CannedResponse, Label, Team
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .labels import plain_label
from .tasks import asyncSlot

__all__ = ["CannedDialog", "CannedPage", "LabelsPage", "TeamsPage", "WorkflowApi", "add_workflow_tabs", "swatch"]

#: A new label's colour until the admin picks one.
_DEFAULT_LABEL_COLOR = "#2563eb"


class _Cache(Protocol):
    def teams(self) -> list[Team]: ...
    def labels(self) -> list[Label]: ...
    def canned_responses(self) -> list[CannedResponse]: ...
    def agents(self) -> list[AgentRow]: ...


class WorkflowApi(Protocol):
    """The part of ``ConsoleCore`` these pages use."""

    me: AgentRow | None

    @property
    def cache(self) -> Any: ...
    async def create_team(self, name: str, member_ids: Any = ()) -> Team: ...
    async def update_team(self, team_id: int, *, name: str | None = None, member_ids: Any = None) -> Team: ...
    async def delete_team(self, team_id: int) -> None: ...
    async def create_label(self, name: str, color: str) -> Label: ...
    async def update_label(self, label_id: int, *, name: str | None = None, color: str | None = None) -> Label: ...
    async def delete_label(self, label_id: int) -> None: ...
    async def save_canned(
        self,
        *,
        scope: str,
        shortcut: str,
        title: str,
        body: str,
        canned_id: int | None = None,
        team_id: int | None = None,
    ) -> CannedResponse: ...
    async def delete_canned(self, canned_id: int) -> None: ...


def swatch(color: str, size: int = 12) -> QIcon:
    """A square of ``color`` for a label."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


def _plain(text: str = "", name: str = "") -> QLabel:
    return plain_label(text, name)


class _Page(QWidget):
    """A list on the left, a form on the right, an error line."""

    def __init__(self, api: WorkflowApi, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._on_list_current_row_changed)
        self.error = _plain("", "fieldError")
        self.error.setWordWrap(True)
        self.form = QFormLayout()
        self.new_button = QPushButton(QCoreApplication.translate("WorkflowSettings", "New"))
        self.new_button.clicked.connect(self._on_new_button_clicked)
        self.save_button = QPushButton(QCoreApplication.translate("WorkflowSettings", "Save"))
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self._on_save_button_clicked)
        self.delete_button = QPushButton(QCoreApplication.translate("WorkflowSettings", "Delete"))
        self.delete_button.clicked.connect(self._on_delete_button_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.save_button)
        right = QVBoxLayout()
        right.addLayout(self.form)
        right.addStretch(1)
        right.addWidget(self.error)
        right.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.addWidget(self.list, 2)
        layout.addLayout(right, 3)
        self.selected_id: int | None = None

    def _on_list_current_row_changed(self, row: int) -> None:
        item = self.list.item(row) if row >= 0 else None
        self.selected_id = None if item is None else int(item.data(Qt.ItemDataRole.UserRole))
        self.error.setText("")
        self.show_selected()

    def _on_new_button_clicked(self) -> None:
        self.list.setCurrentRow(-1)
        self.selected_id = None
        self.show_selected()

    async def _do(self, what: str, action: Coroutine[Any, Any, Any]) -> bool:
        """Run an online call; its refusal under the form. True when done."""
        self.error.setText("")
        try:
            await action
        except OfflineError:
            self.error.setText(
                QCoreApplication.translate("WorkflowSettings", "You're offline: could not {what}.").format(what=what)
            )
            return False
        except (ServerError, ValueError) as exc:
            self.error.setText(getattr(exc, "message", None) or str(exc))
            return False
        self.refresh()
        return True

    def _select(self, item_id: int | None) -> None:
        for n in range(self.list.count()):
            if self.list.item(n).data(Qt.ItemDataRole.UserRole) == item_id:
                self.list.setCurrentRow(n)
                return

    # -- overridden
    def refresh(self) -> None:
        raise NotImplementedError

    def show_selected(self) -> None:
        raise NotImplementedError

    @asyncSlot()
    async def _on_save_button_clicked(self) -> None:
        await self.save()

    @asyncSlot()
    async def _on_delete_button_clicked(self) -> None:
        await self.delete()

    async def save(self) -> bool:
        raise NotImplementedError

    async def delete(self) -> bool:
        raise NotImplementedError


class TeamsPage(_Page):
    """Teams: a name and the agents in it (admins)."""

    def __init__(self, api: WorkflowApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.setObjectName("teamsPage")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText(QCoreApplication.translate("WorkflowSettings", "Team name, e.g. Billing"))
        self.members = QListWidget()
        self.members.setObjectName("teamMembers")
        self.form.addRow(QCoreApplication.translate("WorkflowSettings", "Name"), self.name_edit)
        self.form.addRow(QCoreApplication.translate("WorkflowSettings", "Members"), self.members)
        self.refresh()

    def refresh(self) -> None:
        keep = self.selected_id
        self.list.blockSignals(True)
        self.list.clear()
        for team in self.api.cache.teams():
            n = len(team.member_ids)
            item = QListWidgetItem(
                (
                    QCoreApplication.translate("WorkflowSettings", "{name}  (1 agent)")
                    if n == 1
                    else QCoreApplication.translate("WorkflowSettings", "{name}  (%n agents)", None, n)
                ).format(name=team.name)
            )
            item.setData(Qt.ItemDataRole.UserRole, team.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.selected_id = None
        self._select(keep)
        self.show_selected()

    def _team(self) -> Team | None:
        return next((t for t in self.api.cache.teams() if t.id == self.selected_id), None)

    def show_selected(self) -> None:
        team = self._team()
        self.name_edit.setText(team.name if team is not None else "")
        members = set(team.member_ids) if team is not None else set()
        self.members.clear()
        for agent in self.api.cache.agents():
            if not agent.active and agent.id not in members:
                continue  # a disabled agent joins no team; one still in this team stays listed, to take out
            item = QListWidgetItem(
                agent.name
                if agent.active
                else QCoreApplication.translate("WorkflowSettings", "{name} (disabled)").format(name=agent.name)
            )
            item.setData(Qt.ItemDataRole.UserRole, agent.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if agent.id in members else Qt.CheckState.Unchecked)
            self.members.addItem(item)
        self.delete_button.setEnabled(team is not None)
        self.save_button.setText(
            QCoreApplication.translate("WorkflowSettings", "Save team")
            if team is not None
            else QCoreApplication.translate("WorkflowSettings", "Create team")
        )

    def checked_members(self) -> list[int]:
        """The agents ticked in the members list."""
        return [
            int(self.members.item(n).data(Qt.ItemDataRole.UserRole))
            for n in range(self.members.count())
            if self.members.item(n).checkState() == Qt.CheckState.Checked
        ]

    async def save(self) -> bool:
        name = self.name_edit.text().strip()
        if not name:
            self.error.setText(QCoreApplication.translate("WorkflowSettings", "A team needs a name."))
            return False
        if self.selected_id is None:
            created: list[Team] = []

            async def create() -> None:
                created.append(await self.api.create_team(name, self.checked_members()))

            done = await self._do(QCoreApplication.translate("WorkflowSettings", "create the team"), create())
            if done:
                self._select(created[0].id)
            return done
        return await self._do(
            QCoreApplication.translate("WorkflowSettings", "save the team"),
            self.api.update_team(self.selected_id, name=name, member_ids=self.checked_members()),
        )

    async def delete(self) -> bool:
        if self.selected_id is None:
            return False
        return await self._do(
            QCoreApplication.translate("WorkflowSettings", "delete the team"), self.api.delete_team(self.selected_id)
        )


class LabelsPage(_Page):
    """Labels: a name and a colour (admins)."""

    def __init__(self, api: WorkflowApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.setObjectName("labelsPage")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText(QCoreApplication.translate("WorkflowSettings", "Label name, e.g. VIP"))
        self.color_edit = QLineEdit(_DEFAULT_LABEL_COLOR)
        self.color_edit.setPlaceholderText(QCoreApplication.translate("WorkflowSettings", "#rrggbb"))
        self.form.addRow(QCoreApplication.translate("WorkflowSettings", "Name"), self.name_edit)
        self.form.addRow(QCoreApplication.translate("WorkflowSettings", "Colour"), self.color_edit)
        self.refresh()

    def refresh(self) -> None:
        keep = self.selected_id
        self.list.blockSignals(True)
        self.list.clear()
        for label in self.api.cache.labels():
            item = QListWidgetItem(swatch(label.color), label.name)
            item.setData(Qt.ItemDataRole.UserRole, label.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.selected_id = None
        self._select(keep)
        self.show_selected()

    def show_selected(self) -> None:
        label = next((x for x in self.api.cache.labels() if x.id == self.selected_id), None)
        self.name_edit.setText(label.name if label is not None else "")
        self.color_edit.setText(label.color if label is not None else _DEFAULT_LABEL_COLOR)
        self.delete_button.setEnabled(label is not None)
        self.save_button.setText(
            QCoreApplication.translate("WorkflowSettings", "Save label")
            if label is not None
            else QCoreApplication.translate("WorkflowSettings", "Create label")
        )

    async def save(self) -> bool:
        name, color = self.name_edit.text().strip(), self.color_edit.text().strip()
        if not name:
            self.error.setText(QCoreApplication.translate("WorkflowSettings", "A label needs a name."))
            return False
        if self.selected_id is None:
            return await self._do(
                QCoreApplication.translate("WorkflowSettings", "create the label"), self.api.create_label(name, color)
            )
        return await self._do(
            QCoreApplication.translate("WorkflowSettings", "save the label"),
            self.api.update_label(self.selected_id, name=name, color=color),
        )

    async def delete(self) -> bool:
        if self.selected_id is None:
            return False
        return await self._do(
            QCoreApplication.translate("WorkflowSettings", "delete the label"), self.api.delete_label(self.selected_id)
        )


def _variables_hint() -> str:
    return QCoreApplication.translate(
        "WorkflowSettings",
        "Variables: {variables}. A default after |: {{{{visitor.first_name|there}}}}. "
        "Ask when inserting: {{{{?order number}}}}.",
    ).format(variables=", ".join("{{" + name + "}}" for name in canned_text.VARIABLES))


class CannedPage(_Page):
    """Canned responses. Admins manage every scope; an agent only "My responses" (the others are shown, read-only)."""

    def __init__(self, api: WorkflowApi, parent: QWidget | None = None, *, admin: bool) -> None:
        super().__init__(api, parent)
        self.setObjectName("cannedPage")
        self.admin = admin
        self.scope_box = QComboBox()
        self.shortcut_edit = QLineEdit()
        self.shortcut_edit.setPlaceholderText(
            QCoreApplication.translate("WorkflowSettings", "thanks (typed as /thanks)")
        )
        self.title_edit = QLineEdit()
        self.body_edit = QPlainTextEdit()
        self.body_edit.setObjectName("cannedBody")
        self.body_edit.setPlaceholderText(
            QCoreApplication.translate("WorkflowSettings", "Hi {{visitor.first_name|there}}, …")
        )
        hint = _plain(_variables_hint(), "hint")
        hint.setWordWrap(True)
        self.form.addRow(QCoreApplication.translate("WorkflowSettings", "Scope"), self.scope_box)
        self.form.addRow(QCoreApplication.translate("WorkflowSettings", "Shortcut"), self.shortcut_edit)
        self.form.addRow(QCoreApplication.translate("WorkflowSettings", "Title"), self.title_edit)
        self.form.addRow(QCoreApplication.translate("WorkflowSettings", "Text"), self.body_edit)
        self.form.addRow("", hint)
        self.refresh()

    def _scopes(self) -> list[tuple[str, str, int | None]]:
        """(label, scope, team id) the agent may save to."""
        out: list[tuple[str, str, int | None]] = [
            (QCoreApplication.translate("WorkflowSettings", "My responses"), "personal", None)
        ]
        if self.admin:
            out.append((QCoreApplication.translate("WorkflowSettings", "Everyone (tenant)"), "tenant", None))
            team = QCoreApplication.translate("WorkflowSettings", "Team: {name}")
            out += [(team.format(name=t.name), "team", t.id) for t in self.api.cache.teams()]
        return out

    def _mine(self, c: CannedResponse) -> bool:
        me = self.api.me
        return c.scope == "personal" and me is not None and c.agent_id == me.id

    def _visible(self) -> list[CannedResponse]:
        me = self.api.me
        return [c for c in self.api.cache.canned_responses() if c.scope != "personal" or (me and c.agent_id == me.id)]

    def _scope_name(self, c: CannedResponse) -> str:
        tr = QCoreApplication.translate
        if c.scope == "personal":
            return tr("WorkflowSettings", "mine")
        if c.scope == "team":
            team = next((t for t in self.api.cache.teams() if t.id == c.team_id), None)
            if team is None:
                return tr("WorkflowSettings", "team")
            return tr("WorkflowSettings", "team {name}").format(name=team.name)
        return tr("WorkflowSettings", "everyone")

    def refresh(self) -> None:
        keep = self.selected_id
        self.scope_box.clear()
        for label, scope, team_id in self._scopes():
            self.scope_box.addItem(label, (scope, team_id))
        self.list.blockSignals(True)
        self.list.clear()
        for c in self._visible():
            item = QListWidgetItem(f"/{c.shortcut}  {c.title}  · {self._scope_name(c)}")
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.selected_id = None
        self._select(keep)
        self.show_selected()

    def show_selected(self) -> None:
        c = next((x for x in self._visible() if x.id == self.selected_id), None)
        self.shortcut_edit.setText(c.shortcut if c is not None else "")
        self.title_edit.setText(c.title if c is not None else "")
        self.body_edit.setPlainText(c.body if c is not None else "")
        if c is not None:
            for n in range(self.scope_box.count()):
                data = self.scope_box.itemData(n)
                if data is not None and tuple(data) == (c.scope, c.team_id):
                    self.scope_box.setCurrentIndex(n)
        else:
            self.scope_box.setCurrentIndex(0)
        editable = c is None or self.admin or self._mine(c)
        for widget in (self.shortcut_edit, self.title_edit, self.body_edit, self.scope_box):
            widget.setEnabled(editable)
        self.save_button.setEnabled(editable)
        self.delete_button.setEnabled(c is not None and editable)
        self.save_button.setText(
            QCoreApplication.translate("WorkflowSettings", "Save response")
            if c is not None
            else QCoreApplication.translate("WorkflowSettings", "Create response")
        )

    async def save(self) -> bool:
        scope, team_id = tuple(self.scope_box.currentData() or ("personal", None))
        shortcut, title, body = (
            self.shortcut_edit.text().strip(),
            self.title_edit.text().strip(),
            self.body_edit.toPlainText(),
        )
        if not shortcut or not title or not body.strip():
            self.error.setText(
                QCoreApplication.translate("WorkflowSettings", "A response needs a shortcut, a title and a text.")
            )
            return False
        saved: list[CannedResponse] = []

        async def go() -> None:
            saved.append(
                await self.api.save_canned(
                    scope=scope, team_id=team_id, shortcut=shortcut, title=title, body=body, canned_id=self.selected_id
                )
            )

        done = await self._do(QCoreApplication.translate("WorkflowSettings", "save the response"), go())
        if done:
            self._select(saved[0].id)
        return done

    async def delete(self) -> bool:
        if self.selected_id is None:
            return False
        return await self._do(
            QCoreApplication.translate("WorkflowSettings", "delete the response"),
            self.api.delete_canned(self.selected_id),
        )


class CannedDialog(QDialog):
    """Canned responses for any agent: their own ("My responses"), and for admins every scope."""

    def __init__(self, api: WorkflowApi, parent: QWidget | None = None, *, admin: bool) -> None:
        super().__init__(parent)
        self.setObjectName("cannedDialog")
        self.setWindowTitle(QCoreApplication.translate("WorkflowSettings", "Canned responses — Frontdesk"))
        self.resize(760, 520)
        self.page = CannedPage(api, self, admin=admin)
        close = QPushButton(QCoreApplication.translate("WorkflowSettings", "Close"))
        close.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.page, 1)
        layout.addLayout(row)


def add_workflow_tabs(tabs: Any, api: Any, changed: Callable[[Callable[[], None]], None] | None = None) -> list[_Page]:
    """Add the Teams, Labels and Canned responses tabs to the (admin) settings dialog's ``tabs``. ``changed``
    registers a callback for when the cache's lists change (the pages then refresh)."""
    pages: list[_Page] = [TeamsPage(api), LabelsPage(api), CannedPage(api, admin=True)]
    titles = (
        QCoreApplication.translate("WorkflowSettings", "Teams"),
        QCoreApplication.translate("WorkflowSettings", "Labels"),
        QCoreApplication.translate("WorkflowSettings", "Canned responses"),
    )
    for page, title in zip(pages, titles, strict=True):
        tabs.addTab(page, title)
        if changed is not None:
            changed(page.refresh)
    return pages
