"""The cache's activity trail (console/core/cache/_activity.py) and edited/deleted messages: built from the
events the console already receives, placed among the messages, replay-safe, erased with the visitor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from frontdesk.console.core import AgentRow, Cache, cache_path

from tests.console import wireobj as W

from .conftest import arun
from .test_cache import conv, event, msg


def _cache(tmp_path: Path) -> Cache:
    cache = Cache.open(cache_path(tmp_path, "http://127.0.0.1:9", "ada@example.com"))
    arun(
        cache.store_session(
            AgentRow(id=2, email="ada@example.com", name="Ada", role="admin", active=True, online=True), None
        )
    )
    arun(
        cache.apply_events(
            W.events(
                [event(1, "agent.updated", {"id": 3, "email": "bob@x", "name": "Bob", "role": "agent", "active": True})]
            )
        )
    )
    arun(cache.apply_snapshot(W.convs([conv(1, last_seq=0)]), epoch="e", last_event_id=1))
    return cache


def updated(event_id: int, change: str, actor: int | None, **fields: Any) -> dict[str, Any]:
    return event(event_id, "conversation.updated", {**conv(1, **fields), "change": change, "actor_id": actor})


def test_status_and_assignee_changes_become_quiet_lines_in_order(tmp_path: Path) -> None:
    """Resolved/reopened/assigned/pending/unassigned events become system lines between the messages they
    happened between, named after the agents ("you" for this one); seen changes leave none; a replay adds
    nothing twice."""
    cache = _cache(tmp_path)
    frames = [
        event(2, "message.created", {**msg(10, 1, 1, "Hi"), "event_id": 2}),
        updated(3, "assigned", 3, assignee=2),
        updated(4, "seen_by_agent", 2, assignee=2),
        updated(5, "resolved", 3, status="resolved", assignee=2),
        event(6, "message.created", {**msg(11, 1, 2, "Back again"), "conversation": conv(1, last_seq=2)}),
        updated(7, "pending", 2, status="pending"),
        updated(8, "assigned", 3, assignee=3),
        updated(9, "unassigned", 2),
    ]
    applied = arun(cache.apply_events(W.events(frames)))
    assert any(key.startswith("a") for key in applied.items.get(1, set()))
    arun(cache.apply_events(W.events(frames)))  # replayed
    lines = [(i.kind, i.body) for i in cache.thread(1)]
    assert lines == [
        ("visitor", "Hi"),
        ("system", "Assigned to you by Bob"),
        ("system", "Resolved by Bob"),
        ("system", "Reopened by the visitor"),
        ("visitor", "Back again"),
        ("system", "Set pending by you"),
        ("system", "Bob took the conversation"),
        ("system", "Unassigned by you"),
    ]
    arun(cache.apply_events(W.events([event(10, "visitor.erased", {"visitor_id": 101})])))
    assert cache.thread(1) == []
    assert cache._db.execute("SELECT count(*) FROM activity").fetchone()[0] == 0
    cache.close()


def test_message_updated_replaces_the_cached_text(tmp_path: Path) -> None:
    """message.updated gives the cached message its new text and edited/deleted state; mine is set on this
    agent's own messages only."""
    cache = _cache(tmp_path)
    mine = {**msg(10, 1, 1, "Typo", author="agent"), "author_id": 2}
    theirs = {**msg(11, 1, 2, "Bob here", author="agent"), "author_id": 3}
    arun(cache.apply_events(W.events([event(2, "message.created", mine), event(3, "message.created", theirs)])))
    arun(
        cache.apply_events(
            W.events(
                [
                    event(
                        4,
                        "message.updated",
                        {**mine, "body": "Fixed", "edited_at": 5, "conversation": conv(1, preview="Fixed")},
                    ),
                    event(5, "message.updated", {**theirs, "body": "", "deleted": True}),
                ]
            )
        )
    )
    first, second = cache.thread(1)
    assert (first.body, first.edited, first.deleted, first.mine) == ("Fixed", True, False, True)
    assert (second.body, second.deleted, second.mine) == ("", True, False)
    cache.close()
