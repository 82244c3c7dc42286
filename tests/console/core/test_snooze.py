"""Snooze and auto-assignment in the console's core (PROTOCOL.md, "Snooze", "Auto-assignment"): the presets,
the optimistic snooze through the outbox, the Snoozed filter, the trail's lines and the assignment notice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import AgentRow, Cache, cache_path
from frontdesk.console.core.snooze import UNTIL_REPLY, snooze_presets, snoozed_text

from tests.console import wireobj as W

from .conftest import arun
from .test_cache import NOW, conv, event
from .test_outbox import offline_core

SERVER = "http://127.0.0.1:9"
HOUR = 3_600_000


def test_presets_are_hours_ahead_tomorrow_and_next_monday_mornings_and_until_the_reply() -> None:
    """From a Wednesday 15:20: in 1 and 3 hours, Thursday 09:00, Monday 09:00, then no time."""
    now = dt.datetime(2026, 12, 9, 15, 20, tzinfo=dt.UTC)
    at = {label: until for label, until in snooze_presets(now)}
    ms = int(now.timestamp() * 1000)
    assert at["For 1 hour"] == ms + HOUR and at["For 3 hours"] == ms + 3 * HOUR
    assert at["Until tomorrow 9:00"] == int(dt.datetime(2026, 12, 10, 9, tzinfo=dt.UTC).timestamp() * 1000)
    assert at["Until next Monday 9:00"] == int(dt.datetime(2026, 12, 14, 9, tzinfo=dt.UTC).timestamp() * 1000)
    assert at[UNTIL_REPLY] is None
    monday = dt.datetime(2026, 12, 14, 8, tzinfo=dt.UTC)
    assert dict(snooze_presets(monday))["Until next Monday 9:00"] == int(
        dt.datetime(2026, 12, 21, 9, tzinfo=dt.UTC).timestamp() * 1000
    )
    assert snoozed_text(None, now) == "Snoozed until the visitor replies"
    assert snoozed_text(ms + HOUR, now) == "Snoozed until 16:20"
    assert snoozed_text(at["Until tomorrow 9:00"], now) == "Snoozed until tomorrow 09:00"


def test_a_snooze_shows_at_once_offline_and_a_past_time_is_refused(tmp_path: Path) -> None:
    """Offline, snooze returns after the local write: the conversation leaves "open" for "snoozed" with a
    pending system line; a time not in the future is a ValueError and queues nothing."""

    async def main() -> None:
        core, _ = await offline_core(tmp_path)
        assert await core.resume()
        await core.start()
        with pytest.raises(ValueError, match="future"):
            await core.snooze(1, 1)
        assert core.outbox_count == 0
        await core.snooze(1, None)
        row = core.cache.conversation(1)
        assert row is not None and row.status == "snoozed" and row.pending_actions == 1
        assert [c.id for c in core.cache.conversations("snoozed")] == [1]
        assert 1 not in [c.id for c in core.cache.conversations("open")]
        [line] = core.cache.thread(1)
        assert (line.kind, line.body, line.delivery) == ("system", "Snooze the conversation", "pending")
        [item] = core.cache.outbox()
        assert (item.action, item.payload) == ("snooze", {})
        await core.stop()

    arun(main())


def _updated(event_id: int, change: str, actor: int | None, **fields: Any) -> dict[str, Any]:
    return event(event_id, "conversation.updated", {**conv(1, **fields), "change": change, "actor_id": actor})


def test_snooze_and_auto_assignment_events_fill_the_row_the_trail_and_notify_the_assignee(tmp_path: Path) -> None:
    """A snoozed event sets status and wake time; woken, auto_assigned and queued leave trail lines with no
    actor; an automatic assignment to this agent is an "assigned" notification."""
    cache = Cache.open(cache_path(tmp_path, SERVER, "ada@example.com"))
    try:
        me = AgentRow(id=2, email="ada@example.com", name="Ada", role="admin", active=True, online=True)
        arun(cache.store_session(me, None))
        arun(cache.apply_snapshot(W.convs([conv(1, last_seq=1)]), epoch="e", last_event_id=1))
        arun(cache.apply_events(W.events([_updated(2, "snoozed", 2, status="snoozed", snoozed_until=NOW + HOUR)])))
        row = cache.conversation(1)
        assert row is not None and (row.status, row.snoozed_until) == ("snoozed", NOW + HOUR)
        applied = arun(
            cache.apply_events(
                W.events(
                    [
                        _updated(3, "woken", None),
                        _updated(4, "auto_assigned", None, assignee=2, assign_reason="auto"),
                        _updated(5, "queued", None),
                    ]
                ),
                notify=True,
            )
        )
        row = cache.conversation(1)
        assert row is not None and (row.status, row.snoozed_until) == ("open", None)
        assert [(n.kind, n.assignee_id) for n in applied.notifications] == [("assigned", 2)]
        assert [i.body for i in cache.thread(1) if i.kind == "system"] == [
            "Snoozed by you",
            "Snooze ended",
            "Assigned to you automatically",
            "Back in the queue: the assignee stayed offline",
        ]
    finally:
        cache.close()


def test_a_transfer_queues_offline_and_its_event_notifies_the_receiver_or_the_team(tmp_path: Path) -> None:
    """Offline, a transfer to an agent shows the new assignee at once; without a target it is a ValueError. The
    ``transferred`` event leaves a trail line and notifies this agent when they receive it, by name or as a
    member of the team it went to."""

    async def main() -> None:
        core, _ = await offline_core(tmp_path)
        assert await core.resume()
        await core.start()
        with pytest.raises(ValueError, match="agent or a team"):
            await core.transfer(1, note="for whom?")
        await core.transfer(1, agent_id=2, note="yours now")
        row = core.cache.conversation(1)
        assert row is not None and row.assignee_id == 2 and row.pending_actions == 1
        [item] = core.cache.outbox()
        assert (item.action, item.payload) == ("transfer", {"agent_id": 2, "note": "yours now"})
        await core.stop()

    arun(main())
    cache = Cache.open(cache_path(tmp_path / "other", SERVER, "ada@example.com"))
    try:
        me = AgentRow(id=2, email="ada@example.com", name="Ada", role="admin", active=True, online=True)
        arun(cache.store_session(me, None))
        arun(cache.apply_snapshot(W.convs([conv(1, last_seq=1)]), epoch="e", last_event_id=1))
        team = event(2, "team.updated", {"id": 7, "name": "Billing", "member_ids": [2], "deleted": False})
        applied = arun(
            cache.apply_events(
                W.events(
                    [
                        team,
                        _updated(3, "transferred", 3, assignee=2, assign_reason="transfer"),
                        _updated(4, "transferred", 3, team_id=7),
                    ]
                ),
                notify=True,
            )
        )
        assert [(n.kind, n.assignee_id, n.actor_id) for n in applied.notifications] == [
            ("assigned", 2, 3),
            ("assigned", 2, 3),
        ]
        trail = [i.body for i in cache.thread(1) if i.kind == "system"]
        assert trail == ["Transferred to you by agent #3", "Transferred to Billing by agent #3"]
    finally:
        cache.close()


def test_the_trail_names_the_team_a_conversation_was_transferred_to(tmp_path: Path) -> None:
    """A transfer to a team says which team ("Transferred to Billing by Grace"), to an agent of a team both; a
    team this console does not know (deleted, say) is "a team"."""
    cache = Cache.open(cache_path(tmp_path, SERVER, "ada@example.com"))
    try:
        me = AgentRow(id=2, email="ada@example.com", name="Ada", role="admin", active=True, online=True)
        arun(cache.store_session(me, None))
        arun(cache.apply_snapshot(W.convs([conv(1, last_seq=1)]), epoch="e", last_event_id=1))
        billing = event(2, "team.updated", {"id": 7, "name": "Billing", "member_ids": [], "deleted": False})
        grace = event(3, "agent.updated", {"id": 3, "email": "g@example.com", "name": "Grace", "role": "agent"})
        arun(
            cache.apply_events(
                W.events(
                    [
                        billing,
                        grace,
                        _updated(4, "transferred", 3, team_id=7),
                        _updated(5, "transferred", 3, assignee=2, assign_reason="transfer", team_id=7),
                        _updated(6, "transferred", 3, team_id=9),
                    ]
                )
            )
        )
        trail = [i.body for i in cache.thread(1) if i.kind == "system"]
        assert trail == [
            "Transferred to Billing by Grace",
            "Transferred to you (Billing) by Grace",
            "Transferred to a team by Grace",
        ]
    finally:
        cache.close()
