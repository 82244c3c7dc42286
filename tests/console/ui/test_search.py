"""Search in the console window (console/ui/search.py and the inbox pane): every status, the cache then the server."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.core import OfflineError
from frontdesk.console.core.search import Searcher
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.models import Roles
from frontdesk.console.ui.preferences import Preferences
from frontdesk.console.ui.search import SearchModel
from frontdesk.server import protocol
from PySide6.QtCore import QModelIndex, Qt

from .conftest import NOW, WAIT_MS, FakeCore, conversation, fill, message


class _Sound:
    def play(self) -> None:
        pass


def _hit(conv: dict[str, Any], body: str, words: str, *, at: int, kind: str = "message") -> protocol.SearchHit:
    """A server hit for conversation ``conv`` whose newest match is ``body``."""
    wired = {**conv, "visitor": {**conv["visitor"], "display_name": conv["visitor"]["name"] or "Visitor"}}
    snippet, spans = protocol.search_snippet(body, protocol.search_words(words))
    return protocol.SearchHit(
        conversation=protocol.from_wire(protocol.ConversationWithVisitor, wired),
        match=protocol.SearchMatch(
            kind=kind, id=1, seq=1, author_kind="visitor", created_at=at, snippet=snippet, highlights=spans
        ),
    )


@pytest.fixture
def window(qtbot: Any, core: FakeCore, prefs: Preferences) -> MainWindow:
    fill(
        qtbot,
        core,
        [
            conversation(1, "Maya Patel", last_activity=NOW),
            conversation(2, "Lucas", status="pending", last_activity=NOW - 60_000),
            conversation(3, "Ines", status="resolved", last_activity=NOW - 120_000),
        ],
        [
            message(10, 1, 1, "Hello, where is my parcel?", at=NOW - 10_000),
            message(20, 2, 1, "I attached the PDF of my invoice", at=NOW - 70_000),
            message(30, 3, 1, "Thanks, the pdf arrived", at=NOW - 130_000),
        ],
    )
    win = MainWindow(core, prefs, use_tray=False, sound=_Sound())  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    win.show()
    qtbot.waitExposed(win)
    return win


def _shown(win: MainWindow) -> list[tuple[int, str, list[str]]]:
    """(conversation id, snippet, highlighted words) of each search result row."""
    model = win.search_model
    out = []
    for r in range(model.rowCount()):
        index = model.index(r, 0)
        snippet = index.data(Roles.PREVIEW)
        out.append((index.data(Roles.ID), snippet, [snippet[a:b] for a, b in index.data(Roles.HIGHLIGHTS)]))
    return out


def _search(qtbot: Any, win: MainWindow, text: str) -> None:
    win.inbox.search.setText(text)
    win.inbox.apply_search_now()


def test_pdf_finds_the_pending_conversation_from_the_all_open_tab(qtbot: Any, window: MainWindow) -> None:
    """On "All open", "PDF" finds the pending and the resolved conversations holding it, snippet highlighted."""
    assert window.inbox_model.filter == "open"
    _search(qtbot, window, "PDF")
    qtbot.waitUntil(lambda: window.search_model.results is not None and window.search_model.rowCount() == 2)
    qtbot.waitUntil(lambda: window.search_model.results.state.value == "complete", timeout=WAIT_MS)  # type: ignore[union-attr]
    assert _shown(window) == [
        (2, "I attached the PDF of my invoice", ["PDF"]),
        (3, "Thanks, the pdf arrived", ["pdf"]),
    ]
    assert window.inbox.results_view.isVisible() and not window.inbox.empty_label.isVisible()
    assert not window.inbox.view.isVisible()
    assert window.inbox.search_note.text() == "2 conversations"


def test_the_tab_narrows_only_when_its_chip_is_on(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """The "Only in <tab>" chip narrows the search to the tab (and the server's query to its status)."""
    window.inbox.set_filter("pending")
    _search(qtbot, window, "pdf")
    qtbot.waitUntil(lambda: [r[0] for r in _shown(window)] == [2, 3], timeout=WAIT_MS)
    assert window.inbox.scope_chip.text() == "Only in Pending"
    window.inbox.scope_chip.click()
    qtbot.waitUntil(lambda: [r[0] for r in _shown(window)] == [2], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: ("search", "pdf", "pending") in core.calls, timeout=WAIT_MS)
    window.inbox.search.clear()
    window.inbox.apply_search_now()
    assert window.search_model.results is None and window.inbox.view.isVisible()


def test_server_hits_merge_with_the_cache_without_duplicates(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """The server's hits add a conversation the cache never held and a newer match; each conversation shows once."""
    old = conversation(9, "Old Customer", status="resolved", last_activity=NOW - 86_400_000 * 90)
    core.search_reply = protocol.SearchResult(
        hits=[
            _hit(conversation(3, "Ines", status="resolved"), "pdf sent again today", "pdf", at=NOW - 5_000),
            _hit(old, "Can I get the invoice as a PDF please", "pdf", at=NOW - 86_400_000 * 90),
        ],
        next_before=None,
    )
    _search(qtbot, window, "pdf")
    qtbot.waitUntil(lambda: [r[0] for r in _shown(window)] == [3, 2, 9], timeout=WAIT_MS)
    assert _shown(window)[0] == (3, "pdf sent again today", ["pdf"])
    assert window.search_model.index(2, 0).data(Roles.ROW).visitor_name == "Old Customer"
    assert core.cache.conversation(9) is not None  # stored: it opens like any cached conversation
    window.inbox.select_conversation(9)
    assert window.open_conversation_id == 9


def test_offline_says_the_results_are_from_the_cache(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """Offline, the cache's hits show with a note saying the server was not asked; no match says so too."""
    core.search_reply = OfflineError()
    _search(qtbot, window, "parcel")
    qtbot.waitUntil(lambda: window.inbox.search_note.text().endswith("offline: results from the cache only"))
    assert [r[0] for r in _shown(window)] == [1]
    _search(qtbot, window, "nowhere")
    qtbot.waitUntil(lambda: "Only the local cache was searched" in window.inbox.empty_label.text(), timeout=WAIT_MS)
    assert window.inbox.empty_label.isVisible() and "“nowhere”" in window.inbox.empty_label.text()


def test_keyboard_moves_through_the_results(qtbot: Any, window: MainWindow) -> None:
    """Ctrl+Down while searching opens the results one after the other."""
    _search(qtbot, window, "pdf")
    qtbot.waitUntil(lambda: window.search_model.rowCount() == 2, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    assert window.open_conversation_id == 2
    qtbot.keyClick(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    assert window.open_conversation_id == 3


def test_search_model_passes_the_model_tester(qtbot: Any, qtmodeltester: Any, core: FakeCore) -> None:
    """The results model is a well-behaved Qt model, before and after results arrive."""
    fill(qtbot, core, [conversation(1, "Maya")], [message(10, 1, 1, "refund please")])
    model = SearchModel(Searcher(core))
    qtmodeltester.check(model)
    with qtbot.waitSignal(model.results_changed, timeout=WAIT_MS):
        model.search("refund")
    qtbot.waitUntil(lambda: model.results is not None and model.results.state.value == "complete", timeout=WAIT_MS)
    qtmodeltester.check(model)
    assert model.rowCount() == 1 and model.index(0, 0).data(Roles.HIGHLIGHTS) == ((0, 6),)


def test_scrolling_to_the_end_fetches_the_servers_next_page(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """While the server says it has more, fetchMore merges its next page into the rows (older matches at the end)."""
    core.search_reply = protocol.SearchResult(hits=[], next_before="7")
    _search(qtbot, window, "pdf")
    model = window.search_model
    qtbot.waitUntil(lambda: model.results is not None and model.results.next_before == "7", timeout=WAIT_MS)
    old = conversation(9, "Old Customer", status="resolved", last_activity=NOW - 86_400_000 * 90)
    core.search_reply = protocol.SearchResult(
        hits=[_hit(old, "a PDF", "pdf", at=NOW - 86_400_000 * 90)], next_before=None
    )
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    qtbot.waitUntil(lambda: [r[0] for r in _shown(window)] == [2, 3, 9], timeout=WAIT_MS)
    assert not model.canFetchMore(QModelIndex())
