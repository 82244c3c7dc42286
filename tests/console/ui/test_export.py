"""The export dialog (console/ui/export_dialog.py over core/export.py): formats written from the cache, a
non-empty PDF, progress, Cancel that writes nothing, the server record; ratings in the header and visitor pane."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import OfflineError
from frontdesk.console.ui.export_dialog import ExportDialog
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.preferences import Preferences
from frontdesk.server.exports import CONVERSATION_COLUMNS

from tests.console import wireobj as W

from .conftest import NOW, FakeCore, conversation, fill, message, run

SURVEY = {
    "id": 7,
    "conversation_id": 1,
    "agent_id": 1,
    "scale": "five",
    "rating": 4,
    "comment": "Quick and kind",
    "created_at": NOW,
    "rated_at": NOW + 1000,
    "expires_at": NOW + 86_400_000,
}


@pytest.fixture
def window(qtbot: Any, core: FakeCore, prefs: Preferences) -> MainWindow:
    messages = []
    for n in range(1, 6):
        messages += [message(n * 10, n, 1, f"hello {n}"), message(n * 10 + 1, n, 2, f"answer {n}", kind="agent")]
    fill(qtbot, core, [conversation(n, f"Visitor {n}", last_seq=2, assignee_id=1) for n in range(1, 6)], messages)
    rated = {"type": "event", "kind": "csat.submitted", "event_id": 2, "data": SURVEY}
    run(qtbot, core.cache.apply_events(W.events([rated])))
    win = MainWindow(core, prefs, use_tray=False)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    return win


def export(qtbot: Any, dialog: ExportDialog, path: Path) -> None:
    dialog.path_edit.setText(str(path))
    with qtbot.waitSignal(dialog.exported, timeout=10_000):
        dialog.export_button.click()


def test_the_open_conversation_exports_as_json_csv_messages_and_pdf(
    qtbot: Any, window: MainWindow, core: FakeCore, tmp_path: Path
) -> None:
    """With a conversation open, the dialog exports it as JSON (messages, rating), as the conversations CSV (the
    server's columns), as the messages CSV and as a non-empty PDF; each export is recorded on the server."""
    window.open_conversation(1)
    dialog = window.open_export()
    qtbot.addWidget(dialog)
    assert dialog.one_radio.isChecked()
    export(qtbot, dialog, tmp_path / "one.json")
    [conv] = json.loads((tmp_path / "one.json").read_text(encoding="utf-8"))["conversations"]
    assert [m["body"] for m in conv["messages"]] == ["hello 1", "answer 1"]
    assert conv["csat"][0]["rating"] == 4 and conv["visitor"]["name"] == "Visitor 1"
    dialog.set_format("csv")
    export(qtbot, dialog, tmp_path / "one.csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "one.csv").read_text(encoding="utf-8"))))
    assert list(rows[0]) == list(CONVERSATION_COLUMNS) and rows[0]["csat"] == "4" and rows[0]["agent"] == "Ada Lovelace"
    dialog.set_format("messages")
    export(qtbot, dialog, tmp_path / "m.csv")
    assert "answer 1" in (tmp_path / "m.csv").read_text(encoding="utf-8")
    dialog.set_format("pdf")
    export(qtbot, dialog, tmp_path / "one.pdf")
    pdf = (tmp_path / "one.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    assert [c[2] for c in core.calls if c[0] == "export.record"] == ["json", "csv", "csv", "pdf"]
    assert dialog.progress.value() == dialog.progress.maximum() == 1


def test_the_listed_set_exports_with_progress_and_cancel_writes_nothing(
    qtbot: Any, window: MainWindow, core: FakeCore, tmp_path: Path
) -> None:
    """The inbox's listed conversations export together, the progress bar reaching the total; Cancel pressed
    during an export stops it and leaves no file (and nothing recorded)."""
    dialog = window.open_export()
    qtbot.addWidget(dialog)
    assert dialog.list_radio.isChecked() and not dialog.one_radio.isEnabled()
    export(qtbot, dialog, tmp_path / "all.json")
    assert len(json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))["conversations"]) == 5
    assert dialog.progress.maximum() == 5 and dialog.progress.value() == 5
    before = len(core.calls)

    dialog.progress.valueChanged.connect(lambda value: dialog.cancel_button.click() if value == 2 else None)
    dialog.path_edit.setText(str(tmp_path / "cancelled.json"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.status_label.text().startswith("Cancelled"), timeout=10_000)
    assert not (tmp_path / "cancelled.json").exists()
    assert [p.name for p in tmp_path.iterdir() if "cancelled" in p.name] == []
    assert len(core.calls) == before and dialog.export_button.isEnabled()


def test_ratings_show_in_the_thread_header_and_the_visitor_pane(qtbot: Any, window: MainWindow) -> None:
    """The open conversation's rating, comment and agent show under the header; the visitor pane lists it."""
    window.open_conversation(1)
    header = window.thread_pane.header
    assert not header.csat_label.isHidden()
    assert "★★★★☆" in header.csat_label.text() and "Quick and kind" in header.csat_label.text()
    assert "Ada" in header.csat_label.text()
    assert "★★★★☆" in window.visitor.csat_list.text() and not window.visitor.csat_list.isHidden()
    window.open_conversation(2)
    assert header.csat_label.isHidden() and window.visitor.csat_list.isHidden()


def test_settings_set_the_survey_scale_and_list_the_exports(qtbot: Any, core: FakeCore) -> None:
    """The settings dialog edits the tenant's csat setting; its Exports tab loads the records when first shown
    and lists who, what, the filter and the rows."""
    from frontdesk.console.ui.models import AgentsModel
    from frontdesk.console.ui.settings_dialog import SettingsDialog

    agents = AgentsModel(core)  # type: ignore[arg-type]
    agents.refresh()
    dialog = SettingsDialog(core, agents)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    run(qtbot, dialog.load())
    assert dialog.csat_combo.currentData() == "five"
    dialog.csat_combo.setCurrentIndex(dialog.csat_combo.findData("thumbs"))
    assert dialog.changes() == {"csat": "thumbs"}
    assert ("export.records", None) not in core.calls
    dialog.tabs.setCurrentWidget(dialog.exports_page)
    table = dialog.exports_page.table
    qtbot.waitUntil(lambda: table.rowCount() == 1)
    cells = [table.item(0, c).text() for c in range(table.columnCount())]
    assert cells[1:] == ["Ada Lovelace", "conversations", "CSV", "status resolved", "12"]


def test_an_admin_online_exports_from_the_server_else_the_dialog_says_the_file_is_from_the_cache(
    qtbot: Any, window: MainWindow, core: FakeCore, tmp_path: Path
) -> None:
    """Online and an admin: the file is the server's export (ids asked for, streamed, not recorded again by the
    console) and the dialog says where it came from. The server out of reach: the cache's file, and the dialog
    says so and which columns are empty. Not an admin: the cache, saying why."""
    header = ",".join(CONVERSATION_COLUMNS)
    server_csv = (
        f"{header}\r\n1,Visitor 1,,Ada Lovelace,Sales,resolved,vip,2026-12-01T10:00:00Z,,2026-12-01T10:05:00Z,300,4\r\n"
    )
    core.exports_from_server = True
    core.export_body = server_csv.encode()
    window.open_conversation(1)
    dialog = window.open_export()
    qtbot.addWidget(dialog)
    assert "from the server" in dialog.source_label.text()
    dialog.set_format("csv")
    export(qtbot, dialog, tmp_path / "server.csv")
    assert (tmp_path / "server.csv").read_bytes().decode() == server_csv and dialog.last_source == "server"
    [asked] = [c for c in core.calls if c[0] == "export_stream"]
    assert asked[1] == "conversations.csv" and asked[2]["ids"] == "1"
    assert "from the server" in dialog.status_label.text()
    assert [c for c in core.calls if c[0] == "export.record"] == []  # the server recorded it

    core.export_error = OfflineError("connection refused")
    export(qtbot, dialog, tmp_path / "fallback.csv")
    [row] = list(csv.DictReader(io.StringIO((tmp_path / "fallback.csv").read_text(encoding="utf-8"))))
    assert row["resolved"] == "" and dialog.last_source == "cache"
    status = dialog.status_label.text()
    assert "could not be reached" in status and "cache" in status and "resolution_time_s" in status

    core.exports_from_server = False
    core.me = dataclasses.replace(core.me, role="agent")  # type: ignore[arg-type]
    dialog.show_source()
    assert "for admins" in dialog.source_label.text() and "resolution_time_s" in dialog.source_label.text()
    dialog.set_format("messages")
    assert "loaded" in dialog.source_label.text()
