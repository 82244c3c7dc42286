"""Satisfaction surveys in the console's cache (core/cache/_csat.py): kept from events, read for the header and
the visitor pane, never overwritten by an older replayed event, dropped with an erased visitor."""

from __future__ import annotations

from typing import Any

from frontdesk.console.core import Cache
from frontdesk.console.core.cache import MIGRATIONS, rating_text

from tests.console import wireobj as W

from .conftest import arun
from .test_cache import NOW, cache, conv, event

__all__ = ["cache"]


def survey(
    rating: int | None, comment: str | None = None, *, rated_at: int | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": 3,
        "conversation_id": 1,
        "agent_id": 2,
        "scale": "five",
        "rating": rating,
        "comment": comment,
        "created_at": NOW,
        "rated_at": rated_at,
        "expires_at": NOW + 86_400_000,
        **extra,
    }


def test_the_cache_migration_is_number_14() -> None:
    """The console cache's survey table is its migration 14 (this feature's assigned number)."""
    assert (14, "csat") in [(n, name) for n, name, _ in MIGRATIONS]


def test_surveys_are_kept_from_events_and_read_per_conversation_and_visitor(cache: Cache) -> None:
    """csat.requested then csat.submitted leave one survey with its rating, comment and agent's name; a replay of
    the older event does not undo the rating; the visitor's list finds it through the conversation."""
    arun(
        cache.apply_snapshot(
            W.convs([conv(1, visitor={"id": 5, "name": "Erin", "email": None})]), epoch="e", last_event_id=1
        )
    )
    arun(cache.store_agents(W.agents([{"id": 2, "name": "Ada", "email": "ada@x.io", "role": "admin", "active": True}])))
    arun(cache.apply_events(W.events([event(2, "csat.requested", survey(None))])))
    assert [(s.rating, s.comment) for s in cache.conversation_csat(1)] == [(None, None)]
    arun(cache.apply_events(W.events([event(3, "csat.submitted", survey(4, "Quick", rated_at=NOW + 5))])))
    arun(cache.apply_events(W.events([event(2, "csat.requested", survey(None))])))
    [row] = cache.visitor_csat(5)
    assert (row.rating, row.comment, row.agent_id, row.agent_name, row.scale) == (4, "Quick", 2, "Ada", "five")
    assert cache.visitor_csat(6) == []
    assert (
        rating_text("five", 4) == "★★★★☆"
        and rating_text("thumbs", 0) == "👎"
        and rating_text("five", None) == "not rated yet"
    )


def test_an_erased_visitor_leaves_no_survey(cache: Cache) -> None:
    """visitor.erased drops the visitor's surveys, comments included."""
    arun(
        cache.apply_snapshot(
            W.convs([conv(1, visitor={"id": 5, "name": "Erin", "email": None})]), epoch="e", last_event_id=1
        )
    )
    arun(cache.apply_events(W.events([event(2, "csat.submitted", survey(1, "private words", rated_at=NOW))])))
    arun(cache.apply_events(W.events([event(3, "visitor.erased", {"visitor_id": 5})])))
    assert cache.conversation_csat(1) == [] and cache.visitor_csat(5) == []
