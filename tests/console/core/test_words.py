"""The core's own words (console/core/words.py) go through the translation the UI installs; English without."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from frontdesk.console.core import AgentRow, words
from frontdesk.console.core.collision import collision_text, reply_blocked_reason
from frontdesk.console.core.snooze import snooze_presets, snoozed_text

from tests.console import wireobj as W

from .conftest import arun
from .test_activity import _cache, updated
from .test_collision import conversation_row


def _bracketed(context: str, source: str, disambiguation: str | None = None, n: int = -1) -> str:
    return f"[{context}:{source}]"


@pytest.fixture
def bracketed() -> Iterator[None]:
    before = words._translator
    words.set_translator(_bracketed)
    yield
    words.set_translator(before)


def test_without_a_translator_the_words_are_english() -> None:
    """No translator (the core on its own): English, with %n filled in."""
    before = words._translator
    words.set_translator(None)
    try:
        assert words.translate("X", "%n changes", None, 3) == "3 changes"
        assert collision_text(["Bea"], []) == "Bea is also viewing"
        assert (
            collision_text(["Bea", "Cy", "Di"], ["Bea"]) == "Bea, Cy and Di are also viewing  ·  Bea is typing a reply…"
        )
    finally:
        words.set_translator(before)


def test_snooze_and_collision_words_are_translated(bracketed: None) -> None:
    """The snooze menu, the snoozed header and the collision line come from the translator, then formatted."""
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    labels = [label for label, _ in snooze_presets(now)]
    assert labels[0] == "[Snooze:For 1 hour]" and labels[2] == "[Snooze:Until tomorrow 9:00]"
    assert snoozed_text(None, now) == "[Snooze:Snoozed until the visitor replies]"
    assert collision_text(["Bea"], ["Cy", "Di"]) == (
        "[Collision:Bea is also viewing]  ·  [Collision:[Collision:Cy and Di] are typing a reply…]"
    )


def test_the_reply_block_and_the_activity_trail_are_translated(bracketed: None, tmp_path: Path) -> None:
    """The reply-blocked reason and the thread's activity lines (made when the cache is read) are translated."""
    me = AgentRow(id=2, email="ada@example.com", name="Ada", role="agent", active=True, online=True)
    reason = reply_blocked_reason(
        conversation_row(assignee_id=3, assignee_name="Bob"), me, {"reply_assignee_only": True}
    )
    assert reason is not None and reason.startswith("[Collision:Only Bob, the assignee, can reply here.")
    cache = _cache(tmp_path)
    arun(cache.apply_events(W.events([updated(2, "resolved", 3, status="resolved")])))
    assert [i.body for i in cache.thread(1)] == ["[Activity:Resolved by Bob]"]
    cache.close()


def test_an_upload_refusal_is_worded_in_the_translation(bracketed: None) -> None:
    """The thread's words for a refused file come from the translator, with the file's name filled in."""
    from frontdesk.console.core._drain import _refused

    assert _refused("too_large", "“a.pdf”", "") == "[Outbox:“a.pdf” is too large to send]"
    assert _refused("odd", "“a.pdf”", "nope") == "[Outbox:“a.pdf” could not be sent: nope]"
