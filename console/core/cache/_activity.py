"""The activity trail: who resolved, reopened, assigned or pended a
conversation, kept from the events the console already receives and shown in
the thread as quiet system lines (issue 13, item 4).

A line is placed among the messages by the moment it was applied: events are
applied in ``event_id`` order, so the newest message at that moment (cached,
or the conversation's ``last_activity`` when its messages are not cached yet)
is the last one before it (events carry no time of their own). Replayed events
keep their ``event_id`` (unique here), so a replay adds nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ..rows import ThreadItem
from ..words import translate
from ._schema import Db

__all__ = ["ACTIVITY_COLUMNS", "TRAIL_CHANGES", "activity_item", "activity_rows", "activity_text", "record_activity"]

#: ``conversation.updated`` changes that leave a line (not the ``seen_by_*`` ones).
TRAIL_CHANGES: Final = frozenset(
    {
        "resolved",
        "open",
        "pending",
        "assigned",
        "unassigned",
        "snoozed",
        "woken",
        "auto_assigned",
        "queued",
        "transferred",
    }
)
#: The columns :func:`activity_item` reads, in order.
ACTIVITY_COLUMNS: Final = "id, conversation_id, change, actor_id, assignee_id, created_at, team_id"


def record_activity(
    db: Db,
    conversation_id: int,
    event_id: int | None,
    change: str,
    actor_id: int | None,
    assignee_id: int | None,
    at: int | None = None,
    team_id: int | None = None,
) -> int | None:
    """Keep one line of the trail; its id, or None when that event was already
    kept. ``at`` defaults to just after the newest message: the newest cached,
    or the conversation's ``last_activity`` (its newest message on the server,
    as of this event) when its messages are not cached yet. ``team_id``: the
    team a transfer went to (cache migration 17)."""
    if at is None:
        row = db.execute(
            "SELECT max(coalesce((SELECT max(created_at) FROM items WHERE conversation_id = ? AND kind = 'message'),"
            " 0), coalesce((SELECT last_activity FROM conversations WHERE id = ?), 0))",
            [conversation_id, conversation_id],
        ).fetchone()
        at = int(row[0] or 0) + 1
    cur = db.execute(
        "INSERT OR IGNORE INTO activity (event_id, conversation_id, change, actor_id, assignee_id, created_at,"
        " team_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [event_id, conversation_id, change, actor_id, assignee_id, at, team_id],
    )
    return int(cur.lastrowid) if cur.rowcount else None  # type: ignore[arg-type]


def _name(db: Db, agent_id: int | None, me: int | None) -> str:
    if agent_id is None:
        return translate("Activity", "the visitor")
    if agent_id == me:
        return translate("Activity", "you")
    row = db.execute("SELECT name FROM agents WHERE id = ?", [agent_id]).fetchone()
    if row is not None and row[0]:
        return str(row[0])
    return translate("Activity", "agent #{id}").format(id=agent_id)


def _team_name(db: Db, team_id: int | None) -> str | None:
    row = None if team_id is None else db.execute("SELECT name FROM teams WHERE id = ?", [team_id]).fetchone()
    return str(row[0]) if row is not None and row[0] else None


def activity_text(
    db: Db, change: str, actor_id: int | None, assignee_id: int | None, me: int | None, team_id: int | None = None
) -> str:
    """The line's words, e.g. "Resolved by Ada", "Assigned to you by Bob" (translated: console/core/words.py)."""
    actor = _name(db, actor_id, me)
    if change == "resolved":
        return translate("Activity", "Resolved by {actor}").format(actor=actor)
    if change == "open":
        return translate("Activity", "Reopened by {actor}").format(actor=actor)
    if change == "pending":
        return translate("Activity", "Set pending by {actor}").format(actor=actor)
    if change == "assigned":
        if assignee_id == actor_id:
            took = translate("Activity", "{actor} took the conversation").format(actor=actor)
            return took[:1].upper() + took[1:]
        return translate("Activity", "Assigned to {assignee} by {actor}").format(
            assignee=_name(db, assignee_id, me), actor=actor
        )
    if change == "unassigned":
        return translate("Activity", "Unassigned by {actor}").format(actor=actor)
    # Snooze and auto-assignment (PROTOCOL.md, "Snooze", "Auto-assignment"); the server's own doing has no actor.
    if change == "snoozed":
        return translate("Activity", "Snoozed by {actor}").format(actor=actor)
    if change == "woken":
        return translate("Activity", "Snooze ended")
    if change == "auto_assigned":
        return translate("Activity", "Assigned to {assignee} automatically").format(assignee=_name(db, assignee_id, me))
    if change == "queued":
        return translate("Activity", "Back in the queue: the assignee stayed offline")
    if change == "transferred":
        # The team is named as this console knows it now; one it no longer knows (deleted) is "a team".
        team = _team_name(db, team_id)
        if assignee_id is not None and team is not None:
            return translate("Activity", "Transferred to {assignee} ({team}) by {actor}").format(
                assignee=_name(db, assignee_id, me), team=team, actor=actor
            )
        if assignee_id is not None:
            return translate("Activity", "Transferred to {assignee} by {actor}").format(
                assignee=_name(db, assignee_id, me), actor=actor
            )
        if team is not None:
            return translate("Activity", "Transferred to {team} by {actor}").format(team=team, actor=actor)
        return translate("Activity", "Transferred to a team by {actor}").format(actor=actor)
    return change


def activity_item(db: Db, r: Sequence[Any], me: int | None) -> ThreadItem:
    """A trail row (:data:`ACTIVITY_COLUMNS`) as a system line of the thread."""
    return ThreadItem(
        kind="system",
        key=f"a{r[0]}",
        id=None,
        seq=None,
        author_name="",
        body=activity_text(db, r[2], r[3], r[4], me, r[6]),
        created_at=r[5],
        delivery="sent",
    )


def activity_rows(db: Db, conversation_id: int, lo: int | None, hi: int | None) -> list[ThreadItem]:
    """The trail of a conversation between two times (None: open-ended)."""
    sql = f"SELECT {ACTIVITY_COLUMNS} FROM activity WHERE conversation_id = ?"  # noqa: S608
    params: list[Any] = [conversation_id]
    if lo is not None:
        sql += " AND created_at >= ?"
        params.append(lo)
    if hi is not None:
        sql += " AND created_at < ?"
        params.append(hi)
    me_row = db.execute("SELECT value FROM meta WHERE key = 'me'").fetchone()
    me = _me_id(me_row[0]) if me_row is not None else None
    return [activity_item(db, r, me) for r in db.execute(sql + " ORDER BY created_at, id", params).fetchall()]


def _me_id(value: str) -> int | None:
    import json

    data = json.loads(value)
    found = data.get("id") if isinstance(data, dict) else None  # own data: the cache's "me" record
    return found if isinstance(found, int) else None  # own data
