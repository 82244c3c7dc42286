"""Held email replies in the console (issue 16 after the chat, item 2), end to end: an agent who is not an admin
sees the replies held for a conversation in its thread and in the bar above the composer, and accepts one (it
becomes the visitor's message) and discards the other, from the bar and from the thread line's menu."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from frontdesk.console.core import ThreadItem
from PySide6.QtCore import Qt

from tests.console.core.test_held import _hold
from tests.support import RunningServer, WsClient, new_client_id, run_on_store

from .conftest import run
from .test_e2e import LONG_MS, Console, _visitor, consoles, visitors  # noqa: F401 - fixtures


def _in_thread(fn: Callable[[], int]) -> int:
    """``fn()`` on a plain thread of its own (its own event loop; not qasync's executor, whose QThread would
    outlive the test)."""
    out: list[int] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


def _items(console: Console) -> list[ThreadItem]:
    model = console.window.thread_model
    return [i for r in range(model.rowCount()) if isinstance(i := model.item(r), ThreadItem)]


def test_an_agent_accepts_and_discards_held_email_replies_in_the_thread(
    qtbot: Any,
    server: RunningServer,
    tmp_path: Path,
    consoles: list[Console],  # noqa: F811 - the fixture imported above
    visitors: list[WsClient],  # noqa: F811
) -> None:
    visitor = _visitor(qtbot, server, visitors)
    sent = run(qtbot, visitor.request("message.send", client_id=new_client_id(), body="Where is my parcel?"))
    cid = int(sent["conversation_id"])
    first = _in_thread(lambda: run_on_store(server.db_url, _hold(cid, "mallory@example.net", "It's me")))
    second = _in_thread(lambda: run_on_store(server.db_url, _hold(cid, "spam@example.org", "Buy now")))
    password = server.add_agent("bea@example.com", "Bea")
    bea = Console(qtbot, server, tmp_path / "b", "bea@example.com", password)
    consoles.append(bea)
    window = bea.window
    qtbot.waitUntil(lambda: cid in bea.inbox_ids(), timeout=LONG_MS)
    window.inbox.select_conversation(cid)
    bar = window.thread_pane.held_bar
    qtbot.waitUntil(lambda: len(bar.rows) == 2 and bar.isVisible(), timeout=LONG_MS)
    assert "mallory@example.net" in bar.rows[0][0].text()
    lines = [i for i in _items(bea) if i.held_id is not None]
    assert [(i.kind, i.held_id) for i in lines] == [("system", first), ("system", second)]
    assert "It's me" in lines[0].body
    view = window.thread_pane.view
    labels = [label for label, _ in view.item_actions(lines[1])]
    assert labels == ["Copy text", "Accept: post as the visitor's message", "Discard this email"]

    qtbot.mouseClick(bar.rows[0][1], Qt.MouseButton.LeftButton)  # Accept
    qtbot.waitUntil(
        lambda: [(i.kind, i.body) for i in _items(bea) if i.kind == "visitor"][-1:] == [("visitor", "It's me")],
        timeout=LONG_MS,
    )
    qtbot.waitUntil(lambda: [i.held_id for i in _items(bea) if i.held_id] == [second], timeout=LONG_MS)
    assert len(bar.rows) == 1

    dict(view.item_actions(lines[1]))["Discard this email"]()
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=LONG_MS)
    assert [i for i in _items(bea) if i.held_id] == [] and bar.rows == []
    assert "Buy now" not in [i.body for i in _items(bea)]
