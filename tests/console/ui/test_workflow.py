"""Teams, labels and canned responses in the main window (console/ui/workflow.py, workflow_settings.py)."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.core import AgentRow
from frontdesk.console.core.cache._workflow import replace_canned, replace_labels, replace_teams
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.preferences import Preferences
from frontdesk.console.ui.workflow_settings import CannedPage, LabelsPage, TeamsPage
from frontdesk.server.protocol import CannedResponse, Label, Team
from PySide6.QtCore import Qt

from .conftest import NOW, WAIT_MS, FakeCore, conversation, fill, run

TEAMS = [Team(id=1, name="Billing", member_ids=[1]), Team(id=2, name="Sales", member_ids=[])]
LABELS = [Label(id=7, name="VIP", color="#f59e0b"), Label(id=8, name="Bug", color="#dc2626")]
CANNED = [
    CannedResponse(
        id=1,
        scope="tenant",
        team_id=None,
        agent_id=None,
        shortcut="thanks",
        title="Thanks",
        body="Thanks, {{visitor.first_name|there}}! {{agent.first_name}}",
        updated_at=0,
    ),
    CannedResponse(
        id=2, scope="team", team_id=2, agent_id=None, shortcut="theirs", title="Sales only", body="x", updated_at=0
    ),
    CannedResponse(
        id=3, scope="personal", team_id=None, agent_id=1, shortcut="thx", title="Mine", body="Thx!", updated_at=0
    ),
]


@pytest.fixture
def window(qtbot: Any, core: FakeCore, prefs: Preferences) -> MainWindow:
    maya = conversation(1, "Maya Patel", last_activity=NOW)
    maya.update(team_id=1, label_ids=[7])
    lucas = conversation(2, "Lucas", last_activity=NOW - 60_000)
    lucas.update(label_ids=[8])
    fill(qtbot, core, [maya, lucas])

    def lists(db: Any) -> None:
        replace_teams(db, TEAMS)
        replace_labels(db, LABELS)
        replace_canned(db, CANNED)

    run(qtbot, core.cache.write(lists))
    win = MainWindow(core, prefs, use_tray=False)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    win.workflow.refresh()
    win.show()
    qtbot.waitExposed(win)
    return win


def test_the_inbox_narrows_to_a_team_or_a_label(qtbot: Any, window: MainWindow) -> None:
    """The box lists teams and labels; picking one shows only its conversations; "every" shows all again."""
    window.inbox.set_filter("open")
    box = window.workflow.scope_box
    assert [box.itemText(i) for i in range(box.count())] == [
        "Every team and label",
        "Team: Billing (yours)",
        "Team: Sales",
        "Label: Bug",
        "Label: VIP",
    ]
    model = window.inbox_model
    assert model.rowCount() == 2
    window.workflow.set_scope(1, None)
    assert [model.conversation(r).id for r in range(model.rowCount())] == [1]  # type: ignore[union-attr]
    window.workflow.set_scope(None, 8)
    assert [model.conversation(r).id for r in range(model.rowCount())] == [2]  # type: ignore[union-attr]
    window.workflow.set_scope(None, None)
    assert model.rowCount() == 2


def test_the_header_shows_labels_and_the_menu_changes_them_offline(
    qtbot: Any, core: FakeCore, window: MainWindow
) -> None:
    """The open conversation's labels are chips in the header; ticking one in the menu queues label.add and the
    chip appears at once."""
    window.open_conversation(2)
    assert window.workflow.label_names() == ["Bug"]
    window.workflow._fill_labels_menu()
    vip = next(a for a in window.workflow.labels_menu.actions() if a.text() == "VIP")
    assert not vip.isChecked()
    vip.trigger()
    qtbot.waitUntil(lambda: ("label.add", 2, 7) in core.calls, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: sorted(window.workflow.label_names()) == ["Bug", "VIP"], timeout=WAIT_MS)


def test_the_composer_completes_with_usable_responses_filled_for_the_open_conversation(
    qtbot: Any, window: MainWindow
) -> None:
    """ "/th" lists the tenant's and one's own responses (not another team's); Enter fills the visitor's first
    name and the agent's."""
    window.open_conversation(1)
    composer = window.thread_pane.composer
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "/th")
    completer = composer.completer
    assert completer is not None
    qtbot.waitUntil(completer.isVisible, timeout=WAIT_MS)
    shown = [completer.item(i).text().split()[0] for i in range(completer.count())]
    assert shown == ["/thanks", "/thx"]
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert composer.edit.toPlainText() == "Thanks, Maya! Ada"
    qtbot.waitUntil(lambda: window.core.cache.canned_uses() == {1: 1}, timeout=WAIT_MS)


def test_with_no_responses_the_canned_menu_names_where_to_add_them(qtbot: Any, window: MainWindow) -> None:
    """An empty "Canned" menu says so, naming the Frontdesk menu's entry that manages them."""
    run(qtbot, window.core.cache.write(lambda db: replace_canned(db, [])))
    window.open_conversation(1)
    composer = window.thread_pane.composer
    composer._fill_canned_menu()
    [hint] = composer.canned_menu.actions()
    assert not hint.isEnabled()
    where = window.workflow.canned_action.text()
    assert where == "Canned responses…" and hint.text() == f"No canned responses yet (Frontdesk › {where})"


def test_settings_pages_show_teams_and_refuse_with_the_servers_words(qtbot: Any, core: FakeCore) -> None:
    """The Teams page lists teams with members ticked; the canned page shows a refusal under the form."""
    teams = TeamsPage(core)  # type: ignore[arg-type]
    qtbot.addWidget(teams)
    run(qtbot, core.cache.write(lambda db: replace_teams(db, TEAMS)))
    teams.refresh()
    assert teams.list.count() == 2
    teams.list.setCurrentRow(0)
    assert teams.name_edit.text() == "Billing" and teams.checked_members() == [1]

    class Refusing:
        me = core.me
        cache = core.cache

        async def save_canned(self, **_kw: Any) -> CannedResponse:
            raise ValueError("unknown variable {{visitor.shoe}}; known variables: …")

    page = CannedPage(Refusing(), admin=False)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    assert [page.scope_box.itemText(i) for i in range(page.scope_box.count())] == ["My responses"]
    page.shortcut_edit.setText("x")
    page.title_edit.setText("X")
    page.body_edit.setPlainText("Hi {{visitor.shoe}}")
    assert not run(qtbot, page.save())
    assert "visitor.shoe" in page.error.text()


def test_a_response_with_a_prompt_asks_it_and_goes_in_at_the_cursor(qtbot: Any, window: MainWindow) -> None:
    """A prompt (``{{?order number}}``) is asked before anything goes in; the answer and the variables replace the
    "/word" at the cursor, and the text around it stays. Cancelling the prompt leaves the "/word" as typed."""
    order = CannedResponse(
        id=4,
        scope="tenant",
        team_id=None,
        agent_id=None,
        shortcut="order",
        title="Order",
        body="order {{?order number}} ships today, {{visitor.first_name|there}}.",
        updated_at=0,
    )
    run(qtbot, window.core.cache.write(lambda db: replace_canned(db, [*CANNED, order])))
    window.open_conversation(1)
    composer = window.thread_pane.composer
    completer = composer.completer
    assert completer is not None
    asked: list[list[str]] = []
    answer: dict[str, str] | None = None

    def ask(_parent: Any, response: CannedResponse, prompts: list[str]) -> dict[str, str] | None:
        assert response.id == 4
        asked.append(prompts)
        return answer

    completer.ask = ask
    composer.edit.setFocus()
    composer.edit.setPlainText("Hi, \nAda")
    cursor = composer.edit.textCursor()
    cursor.setPosition(len("Hi, "))
    composer.edit.setTextCursor(cursor)
    qtbot.keyClicks(composer.edit, "/ord")
    qtbot.waitUntil(completer.isVisible, timeout=WAIT_MS)
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert asked == [["order number"]]
    assert composer.edit.toPlainText() == "Hi, /ord\nAda"  # cancelled: nothing went in
    answer = {"order number": "48213"}
    qtbot.waitUntil(completer.isVisible, timeout=WAIT_MS)
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert composer.edit.toPlainText() == "Hi, order 48213 ships today, Maya.\nAda"
    assert composer.edit.textCursor().position() == len("Hi, order 48213 ships today, Maya.")
    qtbot.waitUntil(lambda: window.core.cache.canned_uses() == {4: 1}, timeout=WAIT_MS)


def test_the_labels_page_creates_a_label_with_its_colour(qtbot: Any, core: FakeCore) -> None:
    """The Labels tab creates a label from a name and a colour, then lists it with its swatch; no name is refused
    in words before anything is sent."""
    created: list[tuple[str, str]] = []

    class Api:
        me = core.me
        cache = core.cache

        async def create_label(self, name: str, color: str) -> Label:
            created.append((name, color))
            label = Label(id=9, name=name, color=color)
            await core.cache.write(lambda db: replace_labels(db, [*LABELS, label]))
            return label

    run(qtbot, core.cache.write(lambda db: replace_labels(db, LABELS)))
    page = LabelsPage(Api())  # type: ignore[arg-type]
    qtbot.addWidget(page)
    assert [page.list.item(i).text() for i in range(page.list.count())] == ["Bug", "VIP"]
    assert page.save_button.text() == "Create label"
    assert not run(qtbot, page.save())
    assert page.error.text() == "A label needs a name." and created == []
    page.name_edit.setText("Refund ")
    page.color_edit.setText("#dc2626")
    assert run(qtbot, page.save())
    assert created == [("Refund", "#dc2626")] and page.error.text() == ""
    assert [page.list.item(i).text() for i in range(page.list.count())] == ["Bug", "Refund", "VIP"]
    assert not page.list.item(1).icon().isNull()


def test_an_agent_keeps_their_own_responses_from_the_menu(qtbot: Any, core: FakeCore, window: MainWindow) -> None:
    """An agent who is not an admin opens "Canned responses…": they may only save to "My responses", the tenant's
    response is shown read-only, and a response they save is listed and offered by the "/" completion."""
    core.me = AgentRow(id=1, email="ada@example.com", name="Ada Lovelace", role="agent", active=True, online=True)
    saved: list[dict[str, Any]] = []

    async def save_canned(**fields: Any) -> CannedResponse:
        saved.append(fields)
        response = CannedResponse(
            id=5, agent_id=1, updated_at=0, **{k: v for k, v in fields.items() if k != "canned_id"}
        )
        await core.cache.store_canned_response(response)
        return response

    core.save_canned = save_canned  # type: ignore[attr-defined]
    assert window.workflow.canned_action.isEnabled()
    dialog = window.workflow.open_canned()
    page = dialog.page
    assert [page.scope_box.itemText(i) for i in range(page.scope_box.count())] == ["My responses"]
    tenant_row = next(i for i in range(page.list.count()) if page.list.item(i).text().startswith("/thanks"))
    page.list.setCurrentRow(tenant_row)
    assert not page.body_edit.isEnabled() and not page.save_button.isEnabled()
    page.new_button.click()
    assert page.body_edit.isEnabled()
    page.shortcut_edit.setText("bye")
    page.title_edit.setText("Goodbye")
    page.body_edit.setPlainText("Bye, {{visitor.first_name|there}}!")
    assert run(qtbot, page.save())
    assert saved == [
        {
            "scope": "personal",
            "team_id": None,
            "shortcut": "bye",
            "title": "Goodbye",
            "body": "Bye, {{visitor.first_name|there}}!",
            "canned_id": None,
        }
    ]
    assert page.list.currentItem().text().startswith("/bye")
    assert [c.shortcut for c in window.workflow.complete("by")] == ["bye"]
    dialog.close()


def test_the_teams_page_offers_no_disabled_agent_but_lists_one_still_in_the_team(qtbot: Any, core: FakeCore) -> None:
    """A disabled agent is not offered for a new team; in a team they still belong to, they are listed, marked
    disabled and ticked, so the admin can take them out."""
    dan = AgentRow(id=9, email="dan@example.com", name="Dan Disabled", role="agent", active=False, online=False)
    run(qtbot, core.cache.store_agent(dan))
    run(qtbot, core.cache.write(lambda db: replace_teams(db, [*TEAMS, Team(id=7, name="Night", member_ids=[9])])))
    page = TeamsPage(core)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.refresh()
    page.new_button.click()
    names = [page.members.item(i).text() for i in range(page.members.count())]
    assert names and not any("Dan" in name for name in names)
    night = next(i for i in range(page.list.count()) if page.list.item(i).text().startswith("Night"))
    page.list.setCurrentRow(night)
    listed = {page.members.item(i).text(): page.members.item(i).checkState() for i in range(page.members.count())}
    assert listed["Dan Disabled (disabled)"] == Qt.CheckState.Checked
    assert page.checked_members() == [9]


def test_the_teams_page_creates_a_team_with_the_agents_ticked_and_renames_it(qtbot: Any, core: FakeCore) -> None:
    """An admin names a team and ticks its members: the team is created with them and selected; renaming it
    keeps its members; no name is refused in words."""
    calls: list[tuple[str, Any, Any]] = []

    class Api:
        me = core.me
        cache = core.cache

        async def create_team(self, name: str, member_ids: Any = ()) -> Team:
            calls.append(("create", name, list(member_ids)))
            team = Team(id=3, name=name, member_ids=list(member_ids))
            await core.cache.write(lambda db: replace_teams(db, [*TEAMS, team]))
            return team

        async def update_team(self, team_id: int, *, name: str | None = None, member_ids: Any = None) -> Team:
            calls.append(("update", name, list(member_ids)))
            team = Team(id=team_id, name=name or "", member_ids=list(member_ids))
            await core.cache.write(lambda db: replace_teams(db, [*TEAMS, team]))
            return team

    run(qtbot, core.cache.write(lambda db: replace_teams(db, TEAMS)))
    page = TeamsPage(Api())  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.new_button.click()
    assert page.save_button.text() == "Create team" and page.checked_members() == []
    assert not run(qtbot, page.save())
    assert page.error.text() == "A team needs a name." and calls == []
    page.name_edit.setText("Shipping")
    grace = next(i for i in range(page.members.count()) if page.members.item(i).text() == "Grace Hopper")
    page.members.item(grace).setCheckState(Qt.CheckState.Checked)
    assert run(qtbot, page.save())
    assert calls == [("create", "Shipping", [2])]
    assert page.list.currentItem().text() == "Shipping  (1 agent)" and page.checked_members() == [2]
    page.name_edit.setText("Logistics")
    assert run(qtbot, page.save())
    assert calls[-1] == ("update", "Logistics", [2])
    assert "Logistics  (1 agent)" in [page.list.item(i).text() for i in range(page.list.count())]


def test_an_admin_saves_responses_for_everyone_or_a_team(qtbot: Any, core: FakeCore) -> None:
    """The settings dialog's Canned responses tab offers an admin every scope: their own, the tenant's and each
    team's; a team response is saved with its team, and every response is editable for them."""
    saved: list[dict[str, Any]] = []

    class Api:
        me = core.me
        cache = core.cache

        async def save_canned(self, **fields: Any) -> CannedResponse:
            saved.append(fields)
            response = CannedResponse(
                id=6, agent_id=None, updated_at=0, **{k: v for k, v in fields.items() if k != "canned_id"}
            )
            await core.cache.store_canned_response(response)
            return response

    run(qtbot, core.cache.write(lambda db: (replace_teams(db, TEAMS), replace_canned(db, CANNED))))
    page = CannedPage(Api(), admin=True)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    scopes = [page.scope_box.itemText(i) for i in range(page.scope_box.count())]
    assert scopes == ["My responses", "Everyone (tenant)", "Team: Billing", "Team: Sales"]
    theirs = next(i for i in range(page.list.count()) if page.list.item(i).text().startswith("/theirs"))
    page.list.setCurrentRow(theirs)
    assert page.scope_box.currentText() == "Team: Sales" and page.save_button.isEnabled()
    page.new_button.click()
    page.scope_box.setCurrentIndex(scopes.index("Team: Billing"))
    page.shortcut_edit.setText("refund")
    page.title_edit.setText("Refund")
    page.body_edit.setPlainText("Your refund is on its way.")
    assert run(qtbot, page.save())
    assert [(s["scope"], s["team_id"], s["shortcut"]) for s in saved] == [("team", 1, "refund")]
    assert page.list.currentItem().text() == "/refund  Refund  · team Billing"
