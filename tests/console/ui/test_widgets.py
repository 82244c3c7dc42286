"""The standalone views: status bar, banner/notifier, preferences, login, composer, settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import AgentRow, LoginError, OfflineError, ServerError
from frontdesk.console.core.workflow import rank_canned
from frontdesk.console.ui.canned import active_token
from frontdesk.console.ui.formatting import day_label, one_line, relative_time, visitor_local_time
from frontdesk.console.ui.login import LoginDialog, validate_server_url
from frontdesk.console.ui.models import AgentsModel
from frontdesk.console.ui.notifications import Banner, NotificationCenter
from frontdesk.console.ui.preferences import SCHEMA, Preferences
from frontdesk.console.ui.settings_dialog import SettingsDialog
from frontdesk.console.ui.statusbar import StatusBar
from frontdesk.console.ui.thread import Composer
from frontdesk.console.ui.validation import parse_ranges, validate_color, validate_host, validate_timezone
from frontdesk.server import canned_text
from frontdesk.server.protocol import CannedResponse
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon

from .conftest import NOW, WAIT_MS, FakeCore, run

# ---------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("entry", "ok"),
    [
        ("example.com", True),
        ("localhost:8080", True),
        ("127.0.0.1:3000", True),
        ("shop.example.co.uk", True),
        ("https://example.com", False),
        ("example.com/path", False),
        ("*.example.com", False),
        ("example.com:99999", False),
        ("exa mple.com", False),
        ("-bad-.com", False),
        ("", False),
    ],
)
def test_allowed_domain_entries_are_validated(entry: str, ok: bool) -> None:
    """An allowed-domain entry must be a host or host:port, nothing else."""
    assert (validate_host(entry) is None) is ok


def test_business_hours_ranges_parse_and_reject_bad_input() -> None:
    """Hours parse as HH:MM-HH:MM lists; bad times, reversed and overlapping ranges are refused."""
    assert parse_ranges("09:00-12:00, 13:00-17:30") == ([["09:00", "12:00"], ["13:00", "17:30"]], None)
    assert parse_ranges("") == ([], None)
    assert parse_ranges("9-5")[1] is not None
    assert parse_ranges("17:00-09:00")[1] is not None
    assert parse_ranges("09:00-12:00, 11:00-13:00")[1] is not None


def test_colour_and_timezone_validation() -> None:
    """Colours are #rrggbb and time zones are IANA names."""
    assert validate_color("#12ab9F") is None
    assert validate_color("blue") is not None
    assert validate_timezone("Europe/London") is None
    assert validate_timezone("Mars/Olympus") is not None


def test_formatting_helpers() -> None:
    """Relative times, day labels, one-line previews and the visitor's local time read naturally."""
    assert relative_time(NOW, NOW + 30_000) == "now"
    assert relative_time(NOW, NOW + 5 * 60_000) == "5m"
    assert day_label(NOW, NOW) == "Today"
    assert day_label(NOW - 86_400_000, NOW) == "Yesterday"
    assert one_line("a\n\n b  c") == "a b c"
    assert one_line("x" * 300, 10) == "x" * 9 + "…"
    assert visitor_local_time("UTC", NOW) is not None
    assert visitor_local_time("Not/AZone", NOW) is None
    assert validate_server_url("http://127.0.0.1:8080") is None
    assert validate_server_url("ftp://x") is not None


def test_the_slash_word_before_the_cursor_is_what_the_completion_filters_by() -> None:
    """ "/th" at the start or after a space is the completion's text; a "/" inside a word (a URL) is not."""
    assert active_token("/th") == "th"
    assert active_token("Sure, /") == ""
    assert active_token("see https://x/th") is None
    assert active_token("/th more") is None


# ---------------------------------------------------------------- preferences


def test_preferences_are_typed_persisted_and_announced(tmp_path: Path, qtbot: Any) -> None:
    """Every setting has a typed default; changes emit changed(name) once and survive a restart."""
    prefs = Preferences(tmp_path / "p.json")
    for setting in SCHEMA:
        assert type(prefs.get(setting.name)) is setting.type
        assert setting.description
    with qtbot.waitSignal(prefs.changed, timeout=WAIT_MS) as blocker:
        prefs.set("sound", False)
    assert blocker.args == ["sound"]
    with qtbot.assertNotEmitted(prefs.changed):
        prefs.set("sound", False)
    with pytest.raises(TypeError):
        prefs.set("sound", "no")
    assert Preferences(tmp_path / "p.json").get_bool("sound") is False
    (tmp_path / "bad.json").write_text(json.dumps({"sound": "yes"}))
    assert Preferences(tmp_path / "bad.json").get_bool("sound") is True


# ---------------------------------------------------------------- status bar


def test_status_bar_shows_connection_outbox_and_sync(qtbot: Any) -> None:
    """Online is green, Connecting yellow, Offline red; pending count and sync time are shown."""
    bar = StatusBar()
    qtbot.addWidget(bar)
    colours = {}
    for state in ("online", "connecting", "offline"):
        bar.connection.set_state(state)
        colours[state] = bar.connection.colour
    assert colours == {"online": "#12b76a", "connecting": "#f5a524", "offline": "#f04438"}
    assert bar.connection.text == "Offline"
    bar.set_outbox_count(3)
    assert bar.outbox_text == "3 pending"
    bar.set_outbox_count(0)
    assert bar.outbox_text == ""
    bar.set_synced(None)
    assert bar.synced_text == "not synced yet"
    bar.set_synced(1_764_120_000.0)
    assert bar.synced_text.startswith("synced ") and bar.synced_text.count(":") == 2


# ---------------------------------------------------------------- notifications


class _Sound:
    def __init__(self) -> None:
        self.played = 0

    def play(self) -> None:
        self.played += 1


@pytest.fixture
def banner(qtbot: Any) -> Banner:
    widget = Banner()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_no_system_tray_here() -> None:
    """The offscreen test platform has no tray, so the banner fallback is what runs."""
    assert not QSystemTrayIcon.isSystemTrayAvailable()


def test_notifier_falls_back_to_the_banner(qtbot: Any, banner: Banner, prefs: Preferences) -> None:
    """Without a desktop service or a tray, a notification shows in the banner (with sound); Open asks for it."""
    sound = _Sound()
    notifier = NotificationCenter(prefs, banner, lambda cid: False, app_icon=QIcon(), sound=sound)  # type: ignore[arg-type]
    assert not notifier.uses_tray
    assert notifier.notify("new_conversation", 7, "Maya", "<b>hi</b>")
    assert banner.isVisible()
    assert (banner.title, banner.body) == ("New conversation", "Maya: <b>hi</b>")
    assert sound.played == 1 and notifier.delivered == ["banner"]
    with qtbot.waitSignal(banner.open_requested, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(banner.open_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [7]
    assert not banner.isVisible()


def test_notifications_honour_preferences_and_what_is_on_screen(qtbot: Any, banner: Banner, prefs: Preferences) -> None:
    """Each kind can be switched off, sound too; a message in the conversation on screen is not notified."""
    sound = _Sound()
    on_screen = {5}
    notifier = NotificationCenter(prefs, banner, lambda cid: cid in on_screen, app_icon=QIcon(), sound=sound)  # type: ignore[arg-type]
    assert not notifier.notify("new_message", 5, "Maya", "still there?")
    assert notifier.notify("new_message", 6, "Lucas", "hello")
    assert banner.title == "Lucas"
    prefs.set("notify_message_unassigned", False)
    assert not notifier.notify("new_message", 6, "Lucas", "hello again")
    prefs.set("sound", False)
    assert notifier.notify("new_conversation", 8, "New", "hi")
    assert sound.played == 1
    prefs.set("notify_new_conversation", False)
    assert not notifier.notify("new_conversation", 9, "New", "hi")
    notifier.set_unread(4)
    assert notifier.unread == 4


def test_quiet_hours_silence_notifications(qtbot: Any, banner: Banner, prefs: Preferences) -> None:
    """Inside quiet hours nothing pops up and nothing sounds; outside them it does."""
    import datetime

    from frontdesk.console.core.notifier import NotificationPolicy

    now = datetime.datetime(2026, 12, 7, 23, 15)
    sound = _Sound()
    policy = NotificationPolicy(prefs.get, lambda: now)
    notifier = NotificationCenter(
        prefs,
        banner,
        lambda cid: False,
        app_icon=QIcon(),
        sound=sound,
        policy=policy,  # type: ignore[arg-type]
    )
    prefs.set("quiet_hours", True)
    assert not notifier.notify("new_conversation", 1, "Maya", "hi")
    assert banner.title == "" and sound.played == 0 and notifier.delivered == []
    now = datetime.datetime(2026, 12, 8, 8, 30)
    assert notifier.notify("new_conversation", 1, "Maya", "hi")
    assert banner.title == "New conversation" and sound.played == 1


# ---------------------------------------------------------------- login


class _Attempts:
    def __init__(self, outcome: Exception | AgentRow) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, str, str, bool]] = []

    async def __call__(self, url: str, email: str, password: str, remember: bool) -> AgentRow:
        self.calls.append((url, email, password, remember))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def _login(qtbot: Any, attempt: _Attempts, keyring: bool = True) -> LoginDialog:
    dialog = LoginDialog(
        attempt, server_url="http://127.0.0.1:8080", email="ada@example.com", keyring_available=keyring
    )
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.password_edit.setText("secret-pass")
    return dialog


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("wrong_credentials", "Wrong email or password."),
        ("unreachable", "Can't reach the server"),
        ("throttled", "Too many failed attempts"),
        ("disabled", "This account is disabled"),
    ],
)
def test_login_errors_are_clear(qtbot: Any, aloop: Any, kind: str, text: str) -> None:
    """Wrong password, unreachable server, throttling and a disabled account each get a clear sentence."""
    attempt = _Attempts(LoginError(kind, "raw"))  # type: ignore[arg-type]
    dialog = _login(qtbot, attempt)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: text in dialog.error_text, timeout=WAIT_MS)
    assert dialog.isVisible() and dialog.sign_in_button.isEnabled()
    assert attempt.calls == [("http://127.0.0.1:8080", "ada@example.com", "secret-pass", True)]


def test_login_checks_the_form_before_calling_the_server(qtbot: Any, aloop: Any) -> None:
    """A bad URL or empty password is reported locally, without a login attempt."""
    attempt = _Attempts(LoginError("other", "x"))
    dialog = _login(qtbot, attempt)
    dialog.server_edit.setText("not a url")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "http" in dialog.error_text, timeout=WAIT_MS)
    dialog.server_edit.setText("http://127.0.0.1:8080")
    dialog.password_edit.clear()
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error_text == "Enter your password.", timeout=WAIT_MS)
    assert attempt.calls == []


def test_login_success_and_no_keyring_notice(qtbot: Any, aloop: Any) -> None:
    """Without a keyring the dialog says the session lasts until the app closes; success accepts."""
    me = AgentRow(1, "ada@example.com", "Ada", "admin", True, True)
    dialog = _login(qtbot, _Attempts(me), keyring=False)
    assert dialog.keyring_note.isVisible()
    assert not dialog.remember_check.isEnabled()
    with qtbot.waitSignal(dialog.logged_in, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [me]
    assert dialog.result() == LoginDialog.DialogCode.Accepted


# ---------------------------------------------------------------- composer


@pytest.fixture
def composer(qtbot: Any) -> Composer:
    widget = Composer()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_enter_sends_and_shift_enter_adds_a_line(qtbot: Any, composer: Composer) -> None:
    """Enter sends the text (trimmed) as a reply; Shift+Enter inserts a newline."""
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "Hello")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(composer.edit, "there")
    assert composer.edit.toPlainText() == "Hello\nthere"
    with qtbot.waitSignal(composer.submitted, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert blocker.args == ["Hello\nthere", False]
    assert composer.edit.toPlainText() == ""
    with qtbot.assertNotEmitted(composer.submitted):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)


def test_private_note_mode(qtbot: Any, composer: Composer) -> None:
    """In Private note mode the composer says so and sends a note."""
    qtbot.mouseClick(composer.note_button, Qt.MouseButton.LeftButton)
    assert composer.is_note and composer.property("note") is True
    assert composer.send_button.text() == "Add note"
    composer.edit.setPlainText("internal only")
    with qtbot.waitSignal(composer.submitted, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["internal only", True]


CANNED_RESPONSES = [
    CannedResponse(
        id=1,
        scope="tenant",
        team_id=None,
        agent_id=None,
        shortcut="thanks",
        title="Thanks",
        body="Thanks, {{visitor.first_name|there}}!",
        updated_at=0,
    ),
    CannedResponse(
        id=2,
        scope="tenant",
        team_id=None,
        agent_id=None,
        shortcut="hi",
        title="Greeting",
        body="Hi! Thanks for writing.",
        updated_at=0,
    ),
    CannedResponse(
        id=3,
        scope="personal",
        team_id=None,
        agent_id=2,
        shortcut="order",
        title="Order",
        body="Order {{?order number}} ships today.",
        updated_at=0,
    ),
]


def _with_canned(composer: Composer, uses: dict[int, int] | None = None) -> list[int]:
    used: list[int] = []
    assert composer.completer is not None
    composer.completer.complete = lambda typed: rank_canned(CANNED_RESPONSES, uses or {}, typed)
    composer.completer.fill = lambda r, answers: canned_text.fill(r.body, {"visitor.first_name": "Jo"}, answers)
    composer.completer.used.connect(used.append)
    return used


def test_slash_completion_filters_as_you_type_and_enter_inserts_at_the_cursor(qtbot: Any, composer: Composer) -> None:
    """ "/" opens the list, typing narrows it (the text stays in the box), Enter puts the filled response where the
    "/word" was, keeping the text around it."""
    used = _with_canned(composer)
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "Sure. /")
    completer = composer.completer
    assert completer is not None
    qtbot.waitUntil(completer.isVisible, timeout=WAIT_MS)
    assert completer.count() == 3
    qtbot.keyClicks(composer.edit, "th")
    assert composer.edit.toPlainText() == "Sure. /th"  # typing is not swallowed
    assert [completer.item(i).text().split()[0] for i in range(completer.count())] == ["/thanks", "/hi"]
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert composer.edit.toPlainText() == "Sure. Thanks, Jo!"
    assert not completer.isVisible() and used == [1]


def test_the_completion_stays_inside_the_composer_when_the_cursor_is_near_its_right_edge(
    qtbot: Any, composer: Composer
) -> None:
    """Typed "/" at the end of a long line, the popup lines up with the composer's right edge instead of running
    past it (and off a window at the screen's edge)."""
    _with_canned(composer)
    composer.resize(720, 160)
    composer.move(40, 40)
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "Let me check that order for you, it should be on its way shortly. /")
    completer = composer.completer
    assert completer is not None
    qtbot.waitUntil(completer.isVisible, timeout=WAIT_MS)
    viewport = composer.edit.viewport()
    left = viewport.mapToGlobal(QPoint(0, 0)).x()
    right = viewport.mapToGlobal(QPoint(viewport.width(), 0)).x()
    cursor_x = viewport.mapToGlobal(composer.edit.cursorRect().topLeft()).x()
    popup = completer.geometry()
    assert cursor_x + popup.width() > right  # where the popup used to start, it would run past the edge
    assert left <= popup.left() and popup.right() < right
    cursor_bottom = viewport.mapToGlobal(composer.edit.cursorRect().bottomLeft()).y()
    assert popup.top() >= cursor_bottom  # still under the line being typed
    composer.resize(400, 160)  # a composer narrower than the popup would like: the popup fits it, lines elided
    qtbot.keyClick(composer.edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(composer.edit, "/")
    qtbot.waitUntil(completer.isVisible, timeout=WAIT_MS)
    left = viewport.mapToGlobal(QPoint(0, 0)).x()
    right = viewport.mapToGlobal(QPoint(viewport.width(), 0)).x()
    assert left <= completer.geometry().left() and completer.geometry().right() < right


def test_canned_prompts_are_asked_before_inserting(qtbot: Any, composer: Composer) -> None:
    """A response with {{?order number}} asks for it first; cancelling leaves the "/word"."""
    _with_canned(composer)
    completer = composer.completer
    assert completer is not None
    asked: list[list[str]] = []
    answers: list[dict[str, str] | None] = [None, {"order number": "A-17"}]
    completer.ask = lambda parent, response, prompts: (asked.append(prompts), answers.pop(0))[1]
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "/ord")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert composer.edit.toPlainText() == "/ord" and asked == [["order number"]]
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert composer.edit.toPlainText() == "Order A-17 ships today."


def test_enter_sends_when_the_completion_is_closed(qtbot: Any, composer: Composer) -> None:
    """Esc closes the list; Enter then sends the text as typed."""
    _with_canned(composer)
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "/nothing-matches")
    assert composer.completer is not None and not composer.completer.isVisible()
    with qtbot.waitSignal(composer.submitted, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert blocker.args == ["/nothing-matches", False]


def test_typing_is_announced_and_stops(qtbot: Any, composer: Composer) -> None:
    """Typing a reply announces typing once; sending stops it."""
    with qtbot.waitSignal(composer.typing_changed, timeout=WAIT_MS) as blocker:
        qtbot.keyClicks(composer.edit, "Hi")
    assert blocker.args == [True]
    with qtbot.waitSignal(composer.typing_changed, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert blocker.args == [False]


# ---------------------------------------------------------------- settings


@pytest.fixture
def settings(qtbot: Any, core: FakeCore) -> SettingsDialog:
    agents = AgentsModel(core)
    agents.refresh()
    dialog = SettingsDialog(core, agents)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    run(qtbot, dialog.load())
    return dialog


def test_settings_dialog_edits_every_declared_config_key(settings: SettingsDialog) -> None:
    """The dialog has a field (an error slot) for each key of protocol.CONFIG_FIELDS and no other, and its
    free-text fields refuse what the declaration refuses (over the limit; blank when required)."""
    from frontdesk.console.ui.validation import validate_config_text
    from frontdesk.server.protocol import CONFIG_FIELDS

    assert {k for k in settings.errors if "." not in k} == {f.name for f in CONFIG_FIELDS}
    for field in CONFIG_FIELDS:
        if field.type is str and field.max_len is not None:
            assert validate_config_text(field.name, "x" * field.max_len) is None
            assert validate_config_text(field.name, "x" * (field.max_len + 1)) is not None
            assert (validate_config_text(field.name, "  ") is not None) == field.required


def test_settings_save_sends_only_changed_keys(qtbot: Any, core: FakeCore, settings: SettingsDialog) -> None:
    """Saving sends a partial config with just the edited keys."""
    settings.greeting_edit.setPlainText("Hello from the team!")
    settings.color_edit.setText("#FF0066")
    assert run(qtbot, settings.save())
    assert core.calls[-1] == ("set_config", {"greeting": "Hello from the team!", "color": "#ff0066"})
    assert "Saved" in settings.status_label.text()


def test_invalid_input_is_shown_next_to_the_field(qtbot: Any, core: FakeCore, settings: SettingsDialog) -> None:
    """A bad colour, launcher label and hours are flagged beside their fields, and nothing is sent."""
    settings.color_edit.setText("blue")
    settings.launcher_label_edit.setText("x" * 41)
    settings.day_edits["mon"].setText("9 to 5")
    assert not run(qtbot, settings.save())
    assert "#2563eb" in settings.error_text("color")
    assert "40" in settings.error_text("launcher_label")
    assert "09:00-17:00" in settings.error_text("business_hours.mon")
    assert not [c for c in core.calls if c[0] == "set_config"]
    assert settings.tabs.currentIndex() == 0


def test_allowed_domains_editor_validates_each_entry(qtbot: Any, core: FakeCore, settings: SettingsDialog) -> None:
    """Adding "https://x.com/" is refused with a reason; "shop.example.com:8443" is added and saved."""
    settings.domain_edit.setText("https://x.com/")
    qtbot.mouseClick(settings.add_domain_button, Qt.MouseButton.LeftButton)
    assert "without http" in settings.error_text("allowed_origins")
    assert settings.domains_list.count() == 1
    settings.domain_edit.setText("shop.example.com:8443")
    qtbot.mouseClick(settings.add_domain_button, Qt.MouseButton.LeftButton)
    assert settings.error_text("allowed_origins") == ""
    assert run(qtbot, settings.save())
    assert core.calls[-1] == ("set_config", {"allowed_origins": ["example.com", "shop.example.com:8443"]})


def test_server_rejection_names_the_field(qtbot: Any, core: FakeCore, settings: SettingsDialog) -> None:
    """The server's invalid error (naming a key) lands next to that field; forbidden is explained."""
    core.set_config_error = ServerError("invalid", "field 'greeting' is not allowed here")
    settings.greeting_edit.setPlainText("new")
    assert not run(qtbot, settings.save())
    assert "greeting" in settings.error_text("greeting")
    core.set_config_error = ServerError("forbidden", "admins only: config.set")
    assert not run(qtbot, settings.save())
    assert settings.status_label.text() == "Only admins can change settings."


def test_settings_offline_say_so(qtbot: Any, core: FakeCore) -> None:
    """Opening settings offline explains that it needs a connection, and nothing is editable."""

    async def offline() -> dict[str, Any]:
        raise OfflineError()

    core.get_config = offline  # type: ignore[method-assign]
    agents = AgentsModel(core)
    dialog = SettingsDialog(core, agents)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    run(qtbot, dialog.load())
    assert "offline" in dialog.status_label.text()
    assert not dialog.save_button.isEnabled()


def test_agents_tab_adds_disables_and_changes_role(qtbot: Any, core: FakeCore, settings: SettingsDialog) -> None:
    """Add shows the generated password once; Disable and Make admin call agent.update."""
    settings.new_agent_email.setText("linus@example.com")
    settings.new_agent_name.setText("Linus")
    assert run(qtbot, settings.add_agent())
    assert "generated-pass-123" in settings.new_password_label.text()
    assert settings.agents_model.rowCount() == 4
    settings.new_agent_email.setText("not-an-email")
    assert not run(qtbot, settings.add_agent())
    assert not settings.agent_error.isHidden() and "email" in settings.agent_error.text()
    row = next(
        r for r in range(settings.agents_model.rowCount()) if settings.agents_model.agent(r).name == "Grace Hopper"
    )  # type: ignore[union-attr]
    settings.agents_view.selectRow(row)
    settings.agents_view.setCurrentIndex(settings.agents_model.index(row, 0))
    assert settings.toggle_active_button.text() == "Disable"
    qtbot.mouseClick(settings.toggle_active_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(c[0] == "update_agent" for c in core.calls), timeout=WAIT_MS)
    assert ("update_agent", 2, {"active": False}) in core.calls
    qtbot.waitUntil(lambda: settings.toggle_active_button.text() == "Enable", timeout=WAIT_MS)


def test_admin_cannot_disable_or_demote_themselves(qtbot: Any, core: FakeCore) -> None:
    """The Disable / Make agent buttons are off for the admin's own row."""
    agents = AgentsModel(core)
    agents.refresh()
    dialog = SettingsDialog(core, agents, me_id=1)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    row = next(r for r in range(agents.rowCount()) if agents.agent(r).id == 1)  # type: ignore[union-attr]
    dialog.agents_view.setCurrentIndex(agents.index(row, 0))
    assert not dialog.toggle_active_button.isEnabled()
    assert not dialog.toggle_role_button.isEnabled()


def test_preferences_dialog_sets_each_event_and_quiet_hours(qtbot: Any, prefs: Preferences) -> None:
    """Every notification switch is a checkbox; the quiet hours' bounds are time fields stored as HH:MM."""
    from frontdesk.console.ui.dialogs import PreferencesDialog
    from PySide6.QtCore import QTime

    dialog = PreferencesDialog(prefs)
    qtbot.addWidget(dialog)
    expected = {"notify_new_conversation", "notify_message_mine", "notify_message_unassigned", "notify_assignment"}
    assert expected | {"sound", "quiet_hours"} <= set(dialog.checks)
    dialog.checks["notify_assignment"].setChecked(False)
    assert prefs.get_bool("notify_assignment") is False
    assert dialog.times["quiet_from"].time() == QTime(22, 0)
    dialog.times["quiet_until"].setTime(QTime(7, 30))
    assert prefs.get_str("quiet_until") == "07:30"


def test_settings_edit_window_is_sent_when_changed(qtbot: Any, core: FakeCore, settings: SettingsDialog) -> None:
    """The edit window spin box shows the declared default for a config without the key, and 0 ("never") is sent."""
    assert settings.edit_window_spin.value() == 10
    settings.edit_window_spin.setValue(0)
    assert run(qtbot, settings.save())
    assert core.calls[-1] == ("set_config", {"edit_window_minutes": 0})
