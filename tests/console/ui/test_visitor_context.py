"""The visitor panel's context (issue 19 item 2): flag and place, IP when stored, language, visits,
first and last seen, custom attributes verified and unverified apart; the cache finds a visitor's
conversation by an attribute value."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.console.core.visitor_info import attribute_lines, flag, place
from frontdesk.console.ui.mainwindow import MainWindow
from frontdesk.console.ui.preferences import Preferences

from tests.console import wireobj as W

from .conftest import NOW, FakeCore, conversation, fill, run, visitor

ATTRIBUTES = {
    "plan": {"value": "Enterprise", "type": "string", "verified": True},
    "orders": {"value": 12, "type": "number", "verified": False},
    "beta": {"value": True, "type": "boolean", "verified": False},
}


@pytest.fixture
def window(qtbot: Any, core: FakeCore, prefs: Preferences) -> MainWindow:
    located = conversation(1, "Maya Patel", last_activity=NOW)
    located["visitor"] = visitor(
        1,
        "Maya Patel",
        ip="81.2.69.142",
        country="GB",
        region="England",
        city="London",
        visits=3,
        attributes=ATTRIBUTES,
    )
    private = conversation(2, "Lucas", last_activity=NOW - 60_000)
    private["visitor"] = visitor(2, "Lucas", country="DE")  # the tenant keeps no addresses: no ip
    fill(qtbot, core, [located, private])
    win = MainWindow(core, prefs, use_tray=False)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.attach()
    win.show()
    qtbot.waitExposed(win)
    return win


def test_flag_and_place() -> None:
    """Two regional indicators make the flag; the place reads city, region, country."""
    assert flag("GB") == "\U0001f1ec\U0001f1e7" and flag(None) == "" and flag("G1") == ""
    row = W.visitor(visitor(1, "A", country="GB", region="England", city="London"))
    assert place(row, "United Kingdom") == "\U0001f1ec\U0001f1e7 London, England, United Kingdom"
    assert place(W.visitor(visitor(2, "B"))) is None


def test_panel_shows_location_ip_language_visits_and_attributes(qtbot: Any, window: MainWindow) -> None:
    """Location with its flag, the IP, language, visit count, first/last seen, and the attributes:
    the verified one marked verified and first, the page's ones marked unverified."""
    window.open_conversation(1)
    pane = window.visitor
    qtbot.waitUntil(lambda: pane.visitor is not None and pane.visitor.id == 1)
    assert pane.values["location"].text() == "\U0001f1ec\U0001f1e7 London, England, United Kingdom"
    assert pane.values["ip"].text() == "81.2.69.142"
    assert pane.values["language"].text() == "en-GB"
    assert pane.values["visits"].text() == "3"
    assert pane.values["first_seen"].text() != "—" and pane.values["last_seen"].text() != "—"
    shown = [
        (pane.attributes.itemAt(i * 2).widget().text(), pane.attributes.itemAt(i * 2 + 1).widget())  # type: ignore[union-attr]
        for i in range(pane.attributes.rowCount())
    ]
    assert [(name, w.objectName(), w.text()) for name, w in shown] == [
        ("plan", "attributeVerified", "Enterprise  ✓ verified"),
        ("beta", "attributeUnverified", "yes  (unverified)"),
        ("orders", "attributeUnverified", "12  (unverified)"),
    ]


def test_no_ip_when_not_stored_and_no_attributes_section(qtbot: Any, window: MainWindow) -> None:
    """A visitor without a stored address shows a dash; without attributes, no Attributes section."""
    window.open_conversation(2)
    pane = window.visitor
    qtbot.waitUntil(lambda: pane.visitor is not None and pane.visitor.id == 2)
    assert pane.values["ip"].text() == "—"
    assert pane.values["location"].text() == "\U0001f1e9\U0001f1ea Germany"
    assert not pane.attributes_title.isVisibleTo(window) and pane.attributes.rowCount() == 0


def test_the_cache_finds_a_conversation_by_an_attribute_value(qtbot: Any, window: MainWindow, core: FakeCore) -> None:
    """Searching the cache for an attribute's value or the city finds the visitor's conversation."""
    assert [r.id for r in core.cache.conversations("all", "enterprise", None, 50)] == [1]
    assert [r.id for r in core.cache.conversations("all", "London", None, 50)] == [1]
    assert core.cache.conversations("all", "Gold", None, 50) == []
    assert attribute_lines(W.visitor(visitor(3, "C", attributes=ATTRIBUTES)))[0].verified
    _ = run  # the fixture above filled the cache through the real apply path
