"""Attachments in the console window (pytest-qt) against a real server: attach by
button, drop and paste; thumbnails in the thread opened in a viewer; Save as… and
the system's application; upload progress; a failure with Retry; the visitor
pane's files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import Attachment, ThreadItem
from frontdesk.console.ui.attachments import AttachmentViewer
from frontdesk.console.ui.models import AgentsModel
from frontdesk.console.ui.settings_dialog import SettingsDialog
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QImage

from tests.server.files_support import PDF, png, upload
from tests.support import RunningServer, WsClient, new_client_id

from .conftest import FakeCore, run
from .test_e2e import LONG_MS, Console, _visitor


@pytest.fixture
def consoles(qtbot: Any, aloop: Any, server: RunningServer) -> Iterator[list[Console]]:
    """Consoles opened by the test; stopped afterwards."""
    opened: list[Console] = []
    yield opened
    for console in opened:
        console.close()


@pytest.fixture
def visitors(qtbot: Any, aloop: Any) -> Iterator[list[WsClient]]:
    """Visitor sockets opened by the test; closed afterwards."""
    opened: list[WsClient] = []
    yield opened
    for client in opened:
        run(qtbot, client.close())


def _thread_item(console: Console, match: Any) -> ThreadItem | None:
    model = console.window.thread_model
    for row in range(model.rowCount()):
        item = model.item(row)
        if isinstance(item, ThreadItem) and match(item):
            return item
    return None


def _open_visitor_conversation(
    qtbot: Any, console: Console, server: RunningServer, visitors: list[WsClient]
) -> tuple[WsClient, int]:
    visitor = _visitor(qtbot, server, visitors)
    sent = run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="Hello"))
    cid = int(sent["conversation_id"])
    qtbot.waitUntil(lambda: cid in console.inbox_ids(), timeout=LONG_MS)
    console.window.inbox.select_conversation(cid)
    qtbot.waitUntil(lambda: console.window.thread_model.message_count() >= 1, timeout=LONG_MS)
    return visitor, cid


def test_files_attached_by_button_drop_and_paste_go_out_with_the_reply(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console], visitors: list[WsClient]
) -> None:
    """The paperclip, a drop and a paste each attach a file; Enter sends them with the text, with progress."""
    console = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(console)
    visitor, _cid = _open_visitor_conversation(qtbot, console, server, visitors)
    composer = console.window.thread_pane.composer
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(PDF)
    image = tmp_path / "chart.png"
    image.write_bytes(png((60, 40)))

    composer.pick_files = lambda: [str(pdf)]
    qtbot.mouseClick(composer.attach_button, Qt.MouseButton.LeftButton)
    dropped = QMimeData()
    dropped.setUrls([QUrl.fromLocalFile(str(image))])
    composer.dropEvent(
        QDropEvent(
            QPointF(5, 5), Qt.DropAction.CopyAction, dropped, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        )
    )
    clipboard = QMimeData()
    shot = QImage(30, 20, QImage.Format.Format_RGB32)
    shot.fill(QColor("#3366ff"))
    clipboard.setImageData(shot)
    composer.edit.insertFromMimeData(clipboard)
    assert [p.name for p in composer.files[:2]] == ["invoice.pdf", "chart.png"] and len(composer.files) == 3
    assert composer.file_strip.isVisibleTo(composer)

    progress: list[tuple[int, int, int]] = []
    console.window.bridge.signals.upload_progress.connect(lambda *a: progress.append(a))
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "Here you go")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert composer.files == [] and not composer.file_strip.isVisibleTo(composer)
    event = run(qtbot, visitor.next_event("message.created", body="Here you go", timeout=LONG_MS / 1000), LONG_MS)
    names = [a["name"] for a in event["data"]["attachments"]]
    assert names[:2] == ["invoice.pdf", "chart.png"] and names[2].startswith("pasted-image") and len(names) == 3
    qtbot.waitUntil(
        lambda: _thread_item(console, lambda i: i.body == "Here you go" and i.delivery == "sent") is not None,
        timeout=LONG_MS,
    )
    item = _thread_item(console, lambda i: i.body == "Here you go")
    assert item is not None and [a.name for a in item.attachments] == names
    assert progress and progress[-1][1] == progress[-1][2] >= len(PDF)  # every byte of the three reported


def test_thumbnail_viewer_save_as_and_open_with_the_system(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console], visitors: list[WsClient]
) -> None:
    """A visitor's image: a thumbnail, opened in the viewer, Save as… writes it; a PDF opens in the system's app."""
    console = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(console)
    visitor, cid = _open_visitor_conversation(qtbot, console, server, visitors)
    photo = run(qtbot, upload(visitor, png((120, 80)), name="photo.png"))
    invoice = run(qtbot, upload(visitor, PDF, name="invoice.pdf"))
    run(qtbot, visitor.request("message.send", client_id=new_client_id(), attachment_ids=[photo["id"], invoice["id"]]))
    qtbot.waitUntil(lambda: _thread_item(console, lambda i: len(i.attachments) == 2) is not None, timeout=LONG_MS)
    item = _thread_item(console, lambda i: len(i.attachments) == 2)
    assert item is not None
    image, pdf = item.attachments
    controller = console.window.attachments
    view = console.window.thread_pane.view
    view.viewport().update()
    qtbot.waitUntil(lambda: image.id in controller._thumbs, timeout=LONG_MS)  # painted, so fetched
    assert not controller._thumbs[image.id].isNull()

    run(qtbot, controller.open_attachment(image), LONG_MS)
    viewer = controller.viewer
    assert isinstance(viewer, AttachmentViewer) and viewer.isVisible()
    assert viewer.image.pixmap().width() == 120 and viewer.windowTitle() == "photo.png"
    target = tmp_path / "saved.png"
    controller.ask_save_path = lambda attachment: str(target)
    assert run(qtbot, controller.save_attachment(image), LONG_MS) == target
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    viewer.close()

    opened: list[QUrl] = []
    controller._open_url = opened.append
    run(qtbot, controller.open_attachment(pdf), LONG_MS)
    assert len(opened) == 1 and opened[0].isLocalFile()
    local = Path(opened[0].toLocalFile())
    assert local.name == "invoice.pdf" and local.read_bytes() == PDF

    files = console.window.visitor.files
    qtbot.waitUntil(lambda: files.count() == 2, timeout=LONG_MS)
    assert sorted(files.item(n).text().split(" · ")[0] for n in range(2)) == ["invoice.pdf", "photo.png"]
    assert isinstance(files.item(0).data(Qt.ItemDataRole.UserRole), Attachment)
    assert cid in console.inbox_ids()


def test_a_refused_upload_fails_with_retry_that_sends_it_later(
    qtbot: Any, server: RunningServer, tmp_path: Path, consoles: list[Console], visitors: list[WsClient]
) -> None:
    """Over the server's limit the reply fails, in words, keeping its file; once the limit is raised Retry sends it."""
    console = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(console)
    visitor, _cid = _open_visitor_conversation(qtbot, console, server, visitors)
    run(qtbot, console.core.set_config({"max_upload_mb": 1}), LONG_MS)
    console.core._upload_limit = lambda: None  # type: ignore[method-assign]  # as if the limit changed after queueing
    notes = tmp_path / "notes.txt"
    notes.write_text("a" * 1_200_000)
    composer = console.window.thread_pane.composer
    composer.add_files([str(notes)])
    composer.send_button.click()

    def failed() -> ThreadItem | None:
        return _thread_item(console, lambda i: i.delivery == "failed" and bool(i.files))

    qtbot.waitUntil(lambda: failed() is not None, timeout=LONG_MS)
    item = failed()
    assert item is not None and item.error is not None and "notes.txt" in item.error and "too large" in item.error
    assert [f.name for f in item.files] == ["notes.txt"]
    view = console.window.thread_pane.view
    assert "Retry" in [label for label, _ in view.item_actions(item)]

    run(qtbot, console.core.set_config({"max_upload_mb": 20}), LONG_MS)
    assert item.outbox_id is not None
    view.retry_requested.emit(item.outbox_id)
    event = run(qtbot, visitor.next_event("message.created", author_kind="agent", timeout=LONG_MS / 1000), LONG_MS)
    assert [a["name"] for a in event["data"]["attachments"]] == ["notes.txt"]
    qtbot.waitUntil(lambda: console.core.outbox_count == 0 and failed() is None, timeout=LONG_MS)


def test_upload_limits_are_saved_from_the_settings_dialog(qtbot: Any, core: FakeCore) -> None:
    """The settings dialog loads the declared defaults and saves max_upload_mb and upload_kinds when changed."""
    dialog = SettingsDialog(core, AgentsModel(core))  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    run(qtbot, dialog.load())
    limits = dialog.upload_limits
    assert limits.max_upload_spin.value() == 20 and all(c.isChecked() for c in limits.kind_checks.values())
    limits.max_upload_spin.setValue(5)
    limits.kind_checks["archives"].setChecked(False)
    assert run(qtbot, dialog.save())
    assert core.calls[-1] == ("set_config", {"max_upload_mb": 5, "upload_kinds": ["images", "pdf", "text", "office"]})
