"""Editing and deleting one's own message from the console (issue 13, item 4), end to end: the thread's
context actions, the composer's edit mode, the outbox, and what the visitor and the thread then show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from frontdesk.console.core import ThreadItem
from PySide6.QtCore import Qt

from tests.support import TIMEOUT, RunningServer, WsClient, new_client_id

from .conftest import run
from .test_e2e import LONG_MS, Console, _visitor, consoles, visitors  # noqa: F401 - fixtures


def _item(console: Console, body: str) -> ThreadItem | None:
    model = console.window.thread_model
    for row in range(model.rowCount()):
        item = model.item(row)
        if isinstance(item, ThreadItem) and (item.body == body or (item.deleted and body == "")):
            return item
    return None


def test_agent_edits_and_deletes_their_reply(
    qtbot: Any,
    server: RunningServer,
    tmp_path: Path,
    consoles: list[Console],  # noqa: F811 - the fixture imported above
    visitors: list[WsClient],  # noqa: F811
) -> None:
    """The agent's reply: "Edit message" puts it in the composer; saving sends message.edit through the outbox
    and the thread says "edited"; "Delete message" leaves "Message deleted"; the visitor hears both; a
    visitor's message offers neither action; an admin can still read the original text."""
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    visitor = _visitor(qtbot, server, visitors)
    sent = run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="Where is my parcel?"))
    cid = int(sent["conversation_id"])
    window, view = admin.window, admin.window.thread_pane.view
    qtbot.waitUntil(lambda: cid in admin.inbox_ids(), timeout=LONG_MS)
    window.inbox.select_conversation(cid)
    for body in ("It left on Tuesdya", "Wrong chat, sorry"):
        run(qtbot, admin.core.reply(cid, body))
        qtbot.waitUntil(lambda b=body: (i := _item(admin, b)) is not None and i.delivery == "sent", timeout=LONG_MS)

    question = _item(admin, "Where is my parcel?")
    assert question is not None and [label for label, _ in view.item_actions(question)] == ["Copy text"]
    typo = _item(admin, "It left on Tuesdya")
    assert typo is not None and typo.mine
    actions = dict(view.item_actions(typo))
    assert set(actions) == {"Copy text", "Edit message", "Delete message"}
    composer = window.thread_pane.composer
    composer.edit.setPlainText("half-written draft")
    actions["Edit message"]()
    assert composer.editing_seq == typo.seq and composer.edit.toPlainText() == "It left on Tuesdya"
    composer.edit.setPlainText("It left on Tuesday")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert composer.editing_seq is None and composer.edit.toPlainText() == "half-written draft"
    edited = run(qtbot, visitor.next_event("message.updated", seq=typo.seq, timeout=3 * TIMEOUT), LONG_MS)
    assert edited["data"]["body"] == "It left on Tuesday"
    qtbot.waitUntil(lambda: (i := _item(admin, "It left on Tuesday")) is not None and i.edited, timeout=LONG_MS)

    wrong = _item(admin, "Wrong chat, sorry")
    assert wrong is not None
    dict(view.item_actions(wrong))["Delete message"]()
    gone = run(qtbot, visitor.next_event("message.updated", seq=wrong.seq, timeout=3 * TIMEOUT), LONG_MS)
    assert gone["data"]["deleted"] is True
    qtbot.waitUntil(lambda: (i := _item(admin, "")) is not None and i.deleted, timeout=LONG_MS)
    deleted = _item(admin, "")
    assert deleted is not None
    assert [label for label, _ in view.item_actions(deleted)] == ["Copy text", "Show the original text"]  # admin
    box = run(qtbot, window.show_originals(cid, deleted.seq or 0), LONG_MS)
    assert box is not None and box.text() == "Deleted: Wrong chat, sorry"
    box.close()
    qtbot.waitUntil(lambda: window.status.outbox_text == "", timeout=LONG_MS)  # both acked


def test_escape_leaves_edit_mode_and_an_old_message_offers_no_edit(
    qtbot: Any,
    server: RunningServer,
    tmp_path: Path,
    consoles: list[Console],  # noqa: F811 - the fixture imported above
    visitors: list[WsClient],  # noqa: F811
) -> None:
    """Esc in the composer cancels an edit and restores the draft; past the edit window (on the window's
    injected clock) the actions are gone."""
    admin = Console(qtbot, server, tmp_path / "a", server.admin_email, server.admin_password)
    consoles.append(admin)
    visitor = _visitor(qtbot, server, visitors)
    sent = run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="Hi"))
    cid = int(sent["conversation_id"])
    window = admin.window
    qtbot.waitUntil(lambda: cid in admin.inbox_ids(), timeout=LONG_MS)
    window.inbox.select_conversation(cid)
    run(qtbot, admin.core.reply(cid, "Hello there"))
    qtbot.waitUntil(lambda: (i := _item(admin, "Hello there")) is not None and i.delivery == "sent", timeout=LONG_MS)
    item = _item(admin, "Hello there")
    assert item is not None
    composer = window.thread_pane.composer
    composer.edit.setPlainText("draft")
    composer.start_editing(item.seq or 0, item.body)
    qtbot.keyClick(composer.edit, Qt.Key.Key_Escape)
    assert composer.editing_seq is None and composer.edit.toPlainText() == "draft"
    later = item.created_at / 1000 + 11 * 60
    window._clock = lambda: later
    assert [label for label, _ in window.thread_pane.view.item_actions(item)] == ["Copy text"]
