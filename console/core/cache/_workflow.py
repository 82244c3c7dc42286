"""Teams, labels and canned responses in the cache (issue 15): the event rules, the replacements from the list
requests, and the reads. The conversations' own ``team_id`` and ``label_ids`` come with every Conversation
(``_apply.upsert_conversation``); a label.add/label.remove waiting in the outbox shows at once through
``eff_label_ids`` (``_apply.recompute``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from frontdesk.server.protocol import CannedResponse, CannedUpdated, Label, LabelUpdated, Team, TeamUpdated, wire_fields

from ._schema import Db

if TYPE_CHECKING:
    from ._apply import Applied

__all__ = [
    "CANNED_COLUMNS",
    "apply_workflow_event",
    "drop_canned",
    "label_ids_of",
    "label_ids_text",
    "pending_labels",
    "record_canned_use",
    "replace_canned",
    "replace_labels",
    "replace_teams",
    "store_canned",
]

CANNED_COLUMNS = wire_fields(CannedResponse)


def label_ids_of(text: str | None) -> list[int]:
    """A ``label_ids`` column (",3,7,"; "" for none) as ids."""
    return [int(part) for part in text.split(",") if part] if text else []


def label_ids_text(ids: Sequence[int]) -> str:
    """The ``label_ids`` column for ``ids``: ascending, between commas, "" for none."""
    return "," + ",".join(str(i) for i in sorted(set(ids))) + "," if ids else ""


def pending_labels(labels: list[int], action: str, label_id: int) -> list[int]:
    """``labels`` after a pending ``label.add`` or ``label.remove``."""
    if action == "label.add":
        return sorted({*labels, label_id})
    return [i for i in labels if i != label_id]


def _upsert_team(db: Db, team: Team) -> None:
    db.execute(
        "INSERT INTO teams (id, name, member_ids) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, member_ids = excluded.member_ids",
        [team.id, team.name, json.dumps(team.member_ids)],
    )


def _upsert_label(db: Db, label: Label) -> None:
    db.execute(
        "INSERT INTO labels (id, name, color) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, color = excluded.color",
        [label.id, label.name, label.color],
    )


def _upsert_canned(db: Db, c: CannedResponse) -> None:
    cols = ", ".join(CANNED_COLUMNS)
    sets = ", ".join(f"{k} = excluded.{k}" for k in CANNED_COLUMNS if k != "id")
    db.execute(
        f"INSERT INTO canned ({cols}) VALUES ({', '.join('?' for _ in CANNED_COLUMNS)}) "  # noqa: S608
        f"ON CONFLICT (id) DO UPDATE SET {sets}",
        [getattr(c, k) for k in CANNED_COLUMNS],
    )


def _drop_label(db: Db, label_id: int) -> int:
    """Take a deleted label off every cached conversation; how many had it."""
    pattern = f"%,{int(label_id)},%"
    rows = db.execute(
        "SELECT id, label_ids, eff_label_ids FROM conversations WHERE label_ids LIKE ? OR eff_label_ids LIKE ?",
        [pattern, pattern],
    ).fetchall()
    for cid, server, eff in rows:
        db.execute(
            "UPDATE conversations SET label_ids = ?, eff_label_ids = ? WHERE id = ?",
            [
                label_ids_text([i for i in label_ids_of(server) if i != label_id]),
                label_ids_text([i for i in label_ids_of(eff) if i != label_id]),
                cid,
            ],
        )
    return len(rows)


def apply_workflow_event(db: Db, data: TeamUpdated | LabelUpdated | CannedUpdated, out: Applied) -> None:
    """``team.updated``, ``label.updated``, ``canned.updated``. A deleted team or label leaves the conversations
    that had it (the server sends no event per conversation); the inbox then reloads."""
    out.workflow = True
    if isinstance(data, TeamUpdated):
        if data.deleted:
            db.execute("DELETE FROM teams WHERE id = ?", [data.id])
            db.execute("DELETE FROM canned WHERE team_id = ?", [data.id])
            if db.execute("UPDATE conversations SET team_id = NULL WHERE team_id = ?", [data.id]).rowcount:
                out.reload_all = True
        else:
            _upsert_team(db, data)
    elif isinstance(data, LabelUpdated):
        if data.deleted:
            db.execute("DELETE FROM labels WHERE id = ?", [data.id])
            if _drop_label(db, data.id):
                out.reload_all = True
        else:
            _upsert_label(db, data)
            out.reload_all = True  # inbox lines show the label's name and colour
    elif data.deleted:
        db.execute("DELETE FROM canned WHERE id = ?", [data.id])
    else:
        _upsert_canned(db, data)


def replace_teams(db: Db, teams: Sequence[Team]) -> None:
    """Make the ``teams`` table exactly ``teams`` (the ``teams`` reply)."""
    db.execute("DELETE FROM teams")
    for t in teams:
        _upsert_team(db, t)


def replace_labels(db: Db, labels: Sequence[Label]) -> None:
    """Make the ``labels`` table exactly ``labels`` (the ``labels`` reply)."""
    db.execute("DELETE FROM labels")
    for label in labels:
        _upsert_label(db, label)


def replace_canned(db: Db, responses: Sequence[CannedResponse]) -> None:
    """Make the ``canned`` table exactly ``responses`` (the ``canned.list`` reply); use counts of the ones that are
    gone go too."""
    db.execute("DELETE FROM canned")
    for c in responses:
        _upsert_canned(db, c)
    db.execute("DELETE FROM canned_uses WHERE canned_id NOT IN (SELECT id FROM canned)")


def store_canned(db: Db, response: CannedResponse) -> None:
    """One saved response (this console's own ``canned.save`` reply)."""
    _upsert_canned(db, response)


def drop_canned(db: Db, canned_id: int) -> None:
    """One deleted response (this console's own ``canned.delete``)."""
    db.execute("DELETE FROM canned WHERE id = ?", [canned_id])
    db.execute("DELETE FROM canned_uses WHERE canned_id = ?", [canned_id])


def record_canned_use(db: Db, canned_id: int, now_ms: int) -> None:
    """This agent used a canned response once more (the completion ranks by it)."""
    db.execute(
        "INSERT INTO canned_uses (canned_id, uses, last_used) VALUES (?, 1, ?) "
        "ON CONFLICT (canned_id) DO UPDATE SET uses = uses + 1, last_used = excluded.last_used",
        [canned_id, now_ms],
    )
