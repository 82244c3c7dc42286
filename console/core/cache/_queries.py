"""The reads the UI (and the core) make: inbox pages, threads, search,
visitors, agents, and the session's remembered values.

Reads are small indexed queries, run synchronously on the caller's (the UI
loop's) connection, which is read-only.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from frontdesk.server.protocol import SNAPSHOT_FILTER_RULES, VisitorAttribute, from_wire

from ..rows import (
    FILTERS,
    AgentRow,
    Attachment,
    ConversationRow,
    ThreadItem,
    ThreadKind,
    VisitorRow,
    unknown_visitor,
)
from ._activity import ACTIVITY_COLUMNS, activity_item, activity_rows
from ._apply import VISITOR_COLUMNS, stored_attachments
from ._held import HELD_COLUMNS, held_item
from ._outbox import OUTBOX_COLUMNS, outbox_files, outbox_item
from ._schema import get_meta
from ._workflow import label_ids_of
from ._writer import Store

__all__ = ["CONV_COLUMNS", "CONV_FROM", "QueriesMixin", "conversation_row", "fts_query"]


_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """Turn what the agent typed into a safe FTS5 query: every word must
    appear, as a prefix (``refun`` finds "refund"). None when no words."""
    words = _WORD.findall(text)[:16]
    if not words:
        return None
    return " ".join(f'"{w}"*' for w in words)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


CONV_COLUMNS: Final = (
    "c.id, c.visitor_id, coalesce(v.display_name, v.name), v.email, c.eff_status, c.eff_assignee_id, a.name, "
    "c.preview, c.created_at, c.last_activity, c.last_seq, c.unread, c.pending_actions, c.failed_actions, "
    "v.user_id, v.verified, c.visitor_seen_seq, c.visitor_seen_at, c.team_id, c.eff_label_ids, c.snoozed_until"
)
CONV_FROM: Final = (
    "FROM conversations c LEFT JOIN visitors v ON v.id = c.visitor_id LEFT JOIN agents a ON a.id = c.eff_assignee_id"
)


def conversation_row(r: Sequence[Any]) -> ConversationRow:
    return ConversationRow(
        id=r[0],
        visitor_id=r[1],
        visitor_name=r[2] or unknown_visitor(),
        visitor_email=r[3],
        status=r[4],
        assignee_id=r[5],
        assignee_name=r[6],
        preview=r[7],
        created_at=r[8],
        last_activity=r[9],
        last_seq=r[10],
        unread=r[11],
        pending_actions=r[12],
        failed_actions=r[13],
        visitor_user_id=r[14],
        visitor_verified=bool(r[15]),
        visitor_seen_seq=r[16],
        visitor_seen_at=r[17],
        team_id=r[18],
        label_ids=tuple(label_ids_of(r[19])),
        snoozed_until=r[20],
    )


#: How an outbox action reads in the thread while it waits (or failed).
_ACTION_TEXT: Final[dict[str, str]] = {
    "resolve": "Resolve the conversation",
    "reopen": "Reopen the conversation",
    "pend": "Mark the conversation pending",
    "assign": "Assign to {agent}",
    "unassign": "Remove the assignee",
    "snooze": "Snooze the conversation",
    "transfer": "Transfer the conversation",
    "message.edit": "Edit your message: {body}",
    "message.delete": "Delete your message",
    "label.add": "Add a label",
    "label.remove": "Remove a label",
}
#: The thread's item columns; ``_stored_item`` reads them in this order.
_ITEM_COLUMNS: Final = (
    "id, kind, server_id, seq, author_kind, author_name, body, created_at, author_id, edited_at, deleted, attachments"
)


class QueriesMixin(Store):
    """The UI's reads, as methods of :class:`~.Cache`."""

    def _where(
        self, filter: str, query: str | None, me: int | None, team_id: int | None = None, label_id: int | None = None
    ) -> tuple[str, list[Any]]:
        if filter not in FILTERS:
            raise ValueError(f"unknown filter {filter!r}; expected one of {', '.join(FILTERS)}")
        rule = SNAPSHOT_FILTER_RULES[filter]
        clauses: list[str] = []
        params: list[Any] = []
        if team_id is not None:  # a team's inbox (PROTOCOL.md, "Teams")
            clauses.append("c.team_id = ?")
            params.append(team_id)
        if label_id is not None:  # a label's (with this console's pending label changes)
            clauses.append("c.eff_label_ids LIKE ?")
            params.append(f"%,{int(label_id)},%")
        if rule.statuses != SNAPSHOT_FILTER_RULES["all"].statuses:  # "all" needs no clause (nor its index)
            clauses.append(f"c.eff_status IN ({', '.join('?' for _ in rule.statuses)})")
            params.extend(rule.statuses)
        if rule.assignee == "me":
            clauses.append("c.eff_assignee_id = ?")
            params.append(me if me is not None else -1)
        elif rule.assignee == "none":
            clauses.append("c.eff_assignee_id IS NULL")
        if query is not None and query.strip():
            text = query.strip()
            match = fts_query(text)
            alternatives = [
                "c.visitor_id IN (SELECT id FROM visitors WHERE name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\'"
                # custom attribute values and the location (cache migration 12)
                " OR attributes LIKE ? ESCAPE '\\' OR city LIKE ? ESCAPE '\\')"
            ]
            params_q: list[Any] = [_like(text)] * 4
            if match is not None:
                alternatives.append(
                    "c.id IN (SELECT i.conversation_id FROM items_fts JOIN items i ON i.id = items_fts.rowid "
                    "WHERE items_fts MATCH ?)"
                )
                params_q.append(match)
            clauses.append("(" + " OR ".join(alternatives) + ")")
            params.extend(params_q)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def conversations(
        self,
        filter: str = "all",
        query: str | None = None,
        me: int | None = None,
        limit: int = 100,
        offset: int = 0,
        *,
        team_id: int | None = None,
        label_id: int | None = None,
    ) -> list[ConversationRow]:
        """A page of the inbox, most recent activity first.

        ``filter`` is one of :data:`~.models.FILTERS`: ``all``; ``mine``
        (assigned to ``me``, not resolved); ``unassigned`` (not resolved);
        ``open``, ``pending``, ``resolved`` by status. ``query`` matches
        message and note text (FTS5, every word as a prefix) or the visitor's
        name or email. ``team_id`` and ``label_id`` narrow it to a team's
        inbox or a label's. Pending outbox actions are already applied.
        """
        where, params = self._where(filter, query, me, team_id, label_id)
        sql = f"SELECT {CONV_COLUMNS} {CONV_FROM}{where} ORDER BY c.last_activity DESC, c.id DESC LIMIT ? OFFSET ?"
        rows = self._db.execute(sql, [*params, limit, offset]).fetchall()
        return [conversation_row(r) for r in rows]

    def count_conversations(
        self,
        filter: str = "all",
        query: str | None = None,
        me: int | None = None,
        *,
        team_id: int | None = None,
        label_id: int | None = None,
    ) -> int:
        """How many rows :meth:`conversations` would page through."""
        where, params = self._where(filter, query, me, team_id, label_id)
        row = self._db.execute(f"SELECT count(*) FROM conversations c{where}", params).fetchone()  # noqa: S608
        return int(row[0])

    def matching_search(self, ids: Iterable[int], query: str) -> set[int]:
        """Which of ``ids`` the search ``query`` finds (as :meth:`conversations`
        would): a model applying a change-set during a search asks only this."""
        wanted = list(ids)
        where, params = self._where("all", query, None)
        if not wanted or not where:
            return set(wanted)
        marks = ", ".join("?" for _ in wanted)
        sql = f"SELECT c.id FROM conversations c{where} AND c.id IN ({marks})"  # noqa: S608
        return {int(r[0]) for r in self._db.execute(sql, [*params, *wanted]).fetchall()}

    def search_hits(
        self, text: str, filter: str = "all", me: int | None = None, limit: int = 50
    ) -> list[tuple[ConversationRow, str | None, int | None]]:
        """The conversations :meth:`conversations` finds for ``text`` under
        ``filter`` (most recent activity first, at most ``limit``), each with
        the body and time of its newest matching message or note, or
        (None, None) when only the visitor's name or email matches."""
        rows = self.conversations(filter, text, me, limit)
        match = fts_query(text)
        newest: dict[int, tuple[str, int]] = {}
        if rows and match is not None:
            marks = ", ".join("?" for _ in rows)
            found = self._db.execute(
                "SELECT i.conversation_id, i.body, MAX(i.created_at) FROM items_fts "  # noqa: S608 - marks only
                f"JOIN items i ON i.id = items_fts.rowid WHERE items_fts MATCH ? AND i.conversation_id IN ({marks}) "
                "GROUP BY i.conversation_id",
                [match, *(r.id for r in rows)],
            ).fetchall()
            newest = {int(cid): (str(body), int(at)) for cid, body, at in found}
        out: list[tuple[ConversationRow, str | None, int | None]] = []
        for row in rows:
            body, at = newest.get(row.id, (None, None))
            out.append((row, body, at))
        return out

    def conversation(self, conversation_id: int) -> ConversationRow | None:
        """One inbox row by id, or None when not cached."""
        r = self._db.execute(f"SELECT {CONV_COLUMNS} {CONV_FROM} WHERE c.id = ?", [conversation_id]).fetchone()
        return None if r is None else conversation_row(r)

    def thread(self, conversation_id: int, before: int | None = None, limit: int = 100) -> list[ThreadItem]:
        """A conversation's thread, oldest first.

        Messages and notes merged by time, then this console's outbox items for
        it (pending or failed) at the end, in the order they were taken.
        Without ``before``: the last ``limit`` messages, the notes since the
        oldest of them, and the outbox items. With ``before`` (a message
        ``seq``): the ``limit`` messages before it and the notes of that span,
        to page back in time.
        """
        db = self._db
        params: list[Any] = [conversation_id]
        cond = ""
        if before is not None:
            cond = " AND seq < ?"
            params.append(before)
        msgs = db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items "  # noqa: S608
            f"WHERE conversation_id = ? AND kind = 'message'{cond} ORDER BY seq DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        msgs.reverse()
        # Notes of the same span: from the oldest message shown (all of them
        # when the thread is short) up to the page's upper bound.
        lo: int | None = msgs[0][7] if msgs and len(msgs) == limit else None
        hi: int | None = None
        if before is not None:
            nxt = db.execute(
                "SELECT created_at FROM items WHERE conversation_id = ? AND kind = 'message' AND seq >= ? "
                "ORDER BY seq LIMIT 1",
                [conversation_id, before],
            ).fetchone()
            hi = None if nxt is None else nxt[0]
        note_sql = f"SELECT {_ITEM_COLUMNS} FROM items WHERE conversation_id = ? AND kind = 'note'"  # noqa: S608
        note_params: list[Any] = [conversation_id]
        if lo is not None:
            note_sql += " AND created_at >= ?"
            note_params.append(lo)
        if hi is not None:
            note_sql += " AND created_at < ?"
            note_params.append(hi)
        notes = db.execute(note_sql, note_params).fetchall()
        rows = sorted([*msgs, *notes], key=lambda r: (r[7], r[1] == "note", r[3]))
        trail = activity_rows(db, conversation_id, lo, hi)
        conv = self.conversation(conversation_id)
        visitor_name = conv.visitor_name if conv is not None else "Visitor"
        me = self.me()
        items = [self._stored_item(r, visitor_name, me.id if me else None) for r in rows]
        if before is None:  # held email replies wait for an agent: always on the latest page (_held.py)
            trail = [*trail, *self._held_items(conversation_id)]
        if trail:  # the activity trail's quiet lines, among the messages by time (_activity.py)
            items = sorted([*items, *trail], key=lambda i: (i.created_at, i.kind == "note", i.seq or 0))
        if before is None:
            items.extend(self._outbox_items(conversation_id))
        return items

    def _held_items(self, conversation_id: int, held_id: int | None = None) -> list[ThreadItem]:
        """The conversation's held email replies (one of them with ``held_id``), oldest first."""
        sql = f"SELECT {', '.join(HELD_COLUMNS)} FROM held_emails WHERE conversation_id = ?"  # noqa: S608
        params: list[Any] = [conversation_id]
        if held_id is not None:
            sql += " AND id = ?"
            params.append(held_id)
        return [held_item(r) for r in self._db.execute(sql + " ORDER BY id", params).fetchall()]

    def held_emails(self, conversation_id: int) -> list[ThreadItem]:
        """The held email replies of a conversation, as thread items (``held_id``, ``held_sender``), oldest first."""
        return self._held_items(conversation_id)

    @staticmethod
    def _stored_item(r: Sequence[Any], visitor_name: str = "Visitor", my_id: int | None = None) -> ThreadItem:
        """A thread item from a row of :data:`_ITEM_COLUMNS` (or of its first
        eight columns: then not ``mine``, never edited)."""
        kind: ThreadKind
        if r[1] == "note":
            kind = "note"
        elif r[4] in ("visitor", "agent", "system"):
            kind = r[4]
        else:
            kind = "system"
        prefix = "n" if r[1] == "note" else "m"
        return ThreadItem(
            kind=kind,
            key=f"{prefix}{r[2]}",
            id=r[2],
            seq=r[3],
            author_name=r[5] or (visitor_name if kind == "visitor" else ""),
            body=r[6],
            created_at=r[7],
            delivery="sent",
            mine=kind == "agent" and len(r) > 8 and my_id is not None and r[8] == my_id,
            edited=len(r) > 9 and r[9] is not None,
            deleted=len(r) > 10 and bool(r[10]),
            attachments=stored_attachments(r[11] if len(r) > 11 else None),
        )

    def _outbox_items(self, conversation_id: int, outbox_id: int | None = None) -> list[ThreadItem]:
        me = self.me()
        my_name = me.name if me is not None else "You"
        sql = f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE conversation_id = ?"  # noqa: S608
        params: list[Any] = [conversation_id]
        if outbox_id is not None:
            sql += " AND id = ?"
            params.append(outbox_id)
        items: list[ThreadItem] = []
        for r in self._db.execute(sql + " ORDER BY id", params).fetchall():
            ob = outbox_item(r)
            kind: ThreadKind
            if ob.action == "reply":
                kind, body = "agent", str(ob.payload.get("body", ""))  # own data: the outbox payload
            elif ob.action == "note":
                kind, body = "note", str(ob.payload.get("body", ""))  # own data
            else:
                kind = "system"
                agent_id: int | None = ob.payload["agent_id"] if ob.action == "assign" else None
                agent = self.agent(agent_id) if agent_id is not None else None
                agent_name = agent.name if agent is not None else f"agent #{agent_id}"
                body = _ACTION_TEXT.get(ob.action, ob.action).format(
                    agent=agent_name, body=str(ob.payload["body"]) if ob.action == "message.edit" else ""
                )
            items.append(
                ThreadItem(
                    kind=kind,
                    key=f"o{ob.id}",
                    id=None,
                    seq=None,
                    author_name=my_name,
                    body=body,
                    created_at=ob.created_at,
                    delivery="failed" if ob.state == "failed" else "pending",
                    error=ob.error,
                    outbox_id=ob.id,
                    files=outbox_files(ob.payload),
                )
            )
        return items

    def thread_items(self, conversation_id: int, keys: Iterable[str]) -> dict[str, ThreadItem | None]:
        """The thread items with these keys (``m<id>``, ``n<id>``, ``o<outbox
        id>``), None for those gone: what a change-set carries to the thread."""
        out: dict[str, ThreadItem | None] = {}
        visitor_name: str | None = None
        for key in keys:
            prefix, number = key[:1], int(key[1:])
            item: ThreadItem | None = None
            if prefix == "o":
                found = self._outbox_items(conversation_id, number)
                item = found[0] if found else None
            elif prefix == "h":
                found_held = self._held_items(conversation_id, number)
                item = found_held[0] if found_held else None
            elif prefix == "a":
                line = self._db.execute(
                    f"SELECT {ACTIVITY_COLUMNS} FROM activity WHERE id = ?",  # noqa: S608
                    [number],
                ).fetchone()
                me = self.me()
                item = None if line is None else activity_item(self._db, line, me.id if me else None)
            else:
                r = self._db.execute(
                    f"SELECT {_ITEM_COLUMNS} FROM items "  # noqa: S608
                    "WHERE conversation_id = ? AND kind = ? AND server_id = ?",
                    [conversation_id, "note" if prefix == "n" else "message", number],
                ).fetchone()
                if r is not None:
                    if visitor_name is None:
                        conv = self.conversation(conversation_id)
                        visitor_name = conv.visitor_name if conv is not None else "Visitor"
                    me = self.me()
                    item = self._stored_item(r, visitor_name, me.id if me else None)
            out[key] = item
        return out

    def oldest_seq(self, conversation_id: int) -> int | None:
        """The smallest cached message seq of a conversation (for load_history)."""
        row = self._db.execute(
            "SELECT min(seq) FROM items WHERE conversation_id = ? AND kind = 'message'", [conversation_id]
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def cached_messages(self, conversation_id: int) -> int:
        """How many of the conversation's messages are cached."""
        row = self._db.execute(
            "SELECT count(*) FROM items WHERE conversation_id = ? AND kind = 'message'", [conversation_id]
        ).fetchone()
        return int(row[0])

    def search_messages(self, query: str, limit: int = 50) -> list[tuple[int, ThreadItem]]:
        """Messages and notes matching ``query`` (FTS5), best first, as
        (conversation_id, item) pairs."""
        match = fts_query(query)
        if match is None:
            return []
        rows = self._db.execute(
            "SELECT i.id, i.kind, i.server_id, i.seq, i.author_kind, i.author_name, i.body, i.created_at, "
            "i.conversation_id FROM items_fts JOIN items i ON i.id = items_fts.rowid "
            "WHERE items_fts MATCH ? ORDER BY rank LIMIT ?",
            [match, limit],
        ).fetchall()
        return [(r[8], self._stored_item(r)) for r in rows]

    def visitor(self, visitor_id: int) -> VisitorRow | None:
        """A visitor's details, or None when not cached."""
        r = self._db.execute(
            f"SELECT {', '.join(VISITOR_COLUMNS)} FROM visitors WHERE id = ?",  # noqa: S608
            [visitor_id],
        ).fetchone()
        if r is None:
            return None
        values = dict(zip(VISITOR_COLUMNS, r, strict=True))
        values["verified"] = bool(values["verified"])
        # Cache migration 12: location, visits and custom attributes (JSON); none before the refetch.
        stored = json.loads(values["attributes"]) if values["attributes"] else {}
        values["attributes"] = {name: from_wire(VisitorAttribute, entry) for name, entry in stored.items()}
        values["visits"] = values["visits"] or 1
        # A row cached before display names (schema 3) has none until the refetch.
        values["display_name"] = values["display_name"] or values["name"] or unknown_visitor()
        return VisitorRow(**values)

    def referenced_files(self) -> tuple[set[str], set[str]]:
        """What the cache still refers to: the attachment ids of its messages and notes,
        and the paths of its outbox items' file copies (the rest may go: erasure)."""
        ids = {
            a.id
            for (text,) in self._db.execute("SELECT attachments FROM items WHERE attachments IS NOT NULL")
            for a in stored_attachments(text)
        }
        rows = self._db.execute(f"SELECT {OUTBOX_COLUMNS} FROM outbox").fetchall()  # noqa: S608
        copies = {f.path for r in rows for f in outbox_files(outbox_item(r).payload)}
        return ids, copies

    def visitor_attachments(self, visitor_id: int, limit: int = 200) -> list[tuple[int, int, Attachment]]:
        """The files sent in the visitor's conversations (by either side), newest first:
        (conversation id, sent at, Attachment)."""
        rows = self._db.execute(
            "SELECT i.conversation_id, i.created_at, i.attachments FROM items i "
            "JOIN conversations c ON c.id = i.conversation_id "
            "WHERE c.visitor_id = ? AND i.kind = 'message' AND i.attachments IS NOT NULL AND i.deleted = 0 "
            "ORDER BY i.created_at DESC, i.id DESC LIMIT ?",
            [visitor_id, limit],
        ).fetchall()
        return [(r[0], r[1], a) for r in rows for a in stored_attachments(r[2])]

    def visitor_conversations(self, visitor_id: int) -> list[ConversationRow]:
        """All cached conversations of a visitor, newest first."""
        rows = self._db.execute(
            f"SELECT {CONV_COLUMNS} {CONV_FROM} WHERE c.visitor_id = ? ORDER BY c.last_activity DESC, c.id DESC",
            [visitor_id],
        ).fetchall()
        return [conversation_row(r) for r in rows]

    def agents(self) -> list[AgentRow]:
        """The tenant's agents, by name."""
        rows = self._db.execute(
            "SELECT id, email, name, role, active, online, away FROM agents ORDER BY name COLLATE NOCASE, id"
        ).fetchall()
        return [AgentRow(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5]), bool(r[6])) for r in rows]

    def agent(self, agent_id: int) -> AgentRow | None:
        """One agent, or None."""
        r = self._db.execute(
            "SELECT id, email, name, role, active, online, away FROM agents WHERE id = ?", [agent_id]
        ).fetchone()
        return None if r is None else AgentRow(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5]), bool(r[6]))

    def me(self) -> AgentRow | None:
        """The agent this cache belongs to, as last seen by the server."""
        me = get_meta(self._db, "me")
        if not isinstance(me, dict):  # own data: the cache's meta values, here and below
            return None
        try:
            # A field added later (away) may be missing from an older record.
            names = [f.name for f in dataclasses.fields(AgentRow) if f.name in me or f.name != "away"]
            return AgentRow(**{name: me[name] for name in names})
        except KeyError:
            return None

    def config(self) -> dict[str, Any] | None:
        """The tenant's widget configuration as last seen, or None."""
        config = get_meta(self._db, "config")
        return config if isinstance(config, dict) else None  # own data

    def last_synced_at(self) -> float | None:
        """When the cache last caught up with the server (unix seconds)."""
        at = get_meta(self._db, "last_synced_at")
        return float(at) if isinstance(at, int | float) else None  # own data

    def unread_total(self) -> int:
        """Sum of unread visitor messages over non-resolved conversations (tray badge)."""
        row = self._db.execute("SELECT total(unread) FROM conversations WHERE eff_status != 'resolved'").fetchone()
        return int(row[0])

    def away_was_automatic(self) -> bool:
        """Whether this agent's Away was set by the idle watcher, not chosen (kept across restarts, so a console
        that quit while its agent was idle-away brings them back when they return)."""
        return get_meta(self._db, "away_automatic") is True

    def cursor(self) -> tuple[str | None, int | None]:
        """The resume cursor: (epoch, last applied event_id)."""
        epoch = get_meta(self._db, "epoch")
        last = get_meta(self._db, "last_event_id")
        return (epoch if isinstance(epoch, str) else None, last if isinstance(last, int) else None)  # own data
