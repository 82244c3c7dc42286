"""The :class:`Cache`: open and close the file, apply what the server sent.

Every write that applies server events also stores the cursor, in the same
transaction: after a crash the cache is never ahead of or behind its cursor.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from frontdesk.server.protocol import (
    Conversation,
    ConversationWithVisitor,
    EventFrame,
    HeldEmail,
    Message,
    PrivateNote,
    Visitor,
    WidgetConfig,
)

from ..rows import AgentRow
from ._apply import (
    Applied,
    apply_event,
    config_values,
    insert_item,
    replace_agents,
    set_cursor,
    upsert_agent,
    upsert_conversation,
    upsert_visitor,
)
from ._csat_reads import CsatMixin
from ._held import replace_held
from ._outbox import OutboxMixin
from ._queries import QueriesMixin
from ._reports import ReportCacheMixin, forget_reports
from ._schema import Db, connect, create_private, get_meta, migrate, set_meta
from ._workflow_store import WorkflowMixin
from ._writer import Writer

__all__ = ["Cache"]

log = logging.getLogger("frontdesk.console.cache")

#: What storing an event's *data* can raise (an int beyond int64, a string
#: UTF-8 cannot encode, a value SQLite cannot bind or a constraint it breaks),
#: as opposed to the database failing (``OperationalError``).
_BAD_DATA: Final = (
    OverflowError,
    UnicodeError,
    ValueError,
    TypeError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
)


class Cache(OutboxMixin, QueriesMixin, WorkflowMixin, CsatMixin, ReportCacheMixin):
    """The local cache. Open with :meth:`open`, close with :meth:`close`.

    Built from the writer (:mod:`._writer`), the outbox (:mod:`._outbox`) and
    the queries (:mod:`._queries`); the apply rules are in :mod:`._apply`.
    """

    @classmethod
    def open(cls, path: Path) -> Cache:
        """Open (creating, mode 0600) and migrate the cache at ``path``.

        Fast: no table scans, so the inbox shows at once on a cold start.
        """
        create_private(path)
        setup = connect(path)
        try:
            setup.execute("PRAGMA journal_mode = WAL")
            migrate(setup)
        finally:
            setup.close()
        reader = connect(path)
        reader.execute("PRAGMA query_only = ON")
        try:
            writer = Writer(path)
        except BaseException:
            reader.close()
            raise
        return cls(path, reader, writer)

    def close(self) -> None:
        """Stop the writer thread (after its queued writes) and close files."""
        if self._closed:
            return
        self._closed = True
        self._writer.stop()
        self._db.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def schema_version(self) -> int:
        """The highest migration applied."""
        return int(self._db.execute("SELECT max(version) FROM migrations").fetchone()[0])

    # -- writes the core uses ------------------------------------------------------

    async def apply_events(self, events: Sequence[EventFrame], *, notify: bool = True) -> Applied:
        """Apply events in order, and move the cursor to the last one, in one
        transaction. Durable events at or below the cursor are skipped;
        events without an ``event_id`` (ephemeral ``seen``, ``presence``) do
        not move it.

        Each event is applied under its own SAVEPOINT: one whose data the
        cache cannot store (:data:`_BAD_DATA`) is rolled back alone, logged at
        WARNING and skipped, and the cursor moves past it; failing the batch
        would replay the same event on every reconnect and wedge the sync. A
        failure of the database itself (``sqlite3.OperationalError``: disk
        full, I/O error) still fails the whole batch, which is retried."""

        def job(db: Db) -> Applied:
            out = Applied()
            cursor = get_meta(db, "last_event_id")
            for ev in events:
                if ev.event_id is not None and cursor is not None and ev.event_id <= cursor:
                    continue  # already applied (live events overlap a snapshot)
                one = Applied()
                db.execute("SAVEPOINT apply_event")
                try:
                    apply_event(db, ev, one, notify)
                except _BAD_DATA as exc:
                    db.execute("ROLLBACK TO apply_event")
                    db.execute("RELEASE apply_event")
                    log.warning(
                        "skipping event %s (kind %r) the cache cannot store: %s",
                        ev.event_id,
                        ev.kind,
                        type(exc).__name__,
                    )
                else:
                    db.execute("RELEASE apply_event")
                    out.merge(one)
                if ev.event_id is not None:
                    cursor = ev.event_id
            if cursor is not None:
                set_meta(db, "last_event_id", cursor)
            out.cursor = cursor
            return out

        return await self.write_applied(job)

    async def apply_snapshot(
        self,
        conversations: Sequence[ConversationWithVisitor],
        *,
        epoch: str,
        last_event_id: int,
        agents: Sequence[AgentRow] | None = None,
        config: WidgetConfig | None = None,
    ) -> Applied:
        """Replace the cached state with a full snapshot and set the cursor.

        Same epoch: messages and notes stay (they never change), conversations
        missing from the snapshot are dropped with their items. Another epoch
        (another server database): everything is dropped first, and pending
        outbox items fail ("the server's data was reset"), since their ids
        mean nothing there.
        """

        def job(db: Db) -> Applied:
            out = Applied(reload_all=True, outbox=True)
            old_epoch = get_meta(db, "epoch")
            if old_epoch is not None and old_epoch != epoch:
                log.warning("server epoch changed: clearing the cache")
                for table in ("items", "conversations", "visitors", "agents"):
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
                forget_reports(db)  # another database's figures (cache/_reports.py)
                db.execute(
                    "UPDATE outbox SET state = 'failed', error_code = 'reset', "
                    "error = 'The server was reset; this action was not sent.' WHERE state = 'pending'"
                )
            db.execute("CREATE TEMP TABLE IF NOT EXISTS snapshot_ids (id INTEGER PRIMARY KEY)")
            db.execute("DELETE FROM snapshot_ids")
            for c in conversations:
                upsert_conversation(db, c, last_event_id, force=True)
                db.execute("INSERT OR IGNORE INTO snapshot_ids (id) VALUES (?)", [c.id])
            db.execute("DELETE FROM items WHERE conversation_id NOT IN (SELECT id FROM snapshot_ids)")
            db.execute("DELETE FROM activity WHERE conversation_id NOT IN (SELECT id FROM snapshot_ids)")
            db.execute("DELETE FROM conversations WHERE id NOT IN (SELECT id FROM snapshot_ids)")
            db.execute("DELETE FROM snapshot_ids")
            if agents is not None:
                replace_agents(db, agents)
                out.agents = True
            if config is not None:
                out.config = config_values(config)
                set_meta(db, "config", out.config)
            set_cursor(db, epoch, last_event_id)
            out.cursor = last_event_id
            return out

        return await self.write_applied(job)

    async def store_session(self, me: AgentRow, tenant: dict[str, Any] | None) -> None:
        """Remember who is logged in (never the token) for an offline start."""

        def job(db: Db) -> None:
            set_meta(db, "me", dataclasses.asdict(me))
            set_meta(db, "tenant", tenant)
            upsert_agent(db, me)

        await self.write(job)

    async def store_agents(self, agents: Sequence[AgentRow]) -> None:
        """Replace the agent list."""
        await self.write(lambda db: replace_agents(db, agents))

    async def store_agent(self, agent: AgentRow) -> None:
        """Add or update one agent."""
        await self.write(lambda db: upsert_agent(db, agent))

    async def store_config(self, config: WidgetConfig) -> None:
        """Remember the widget configuration."""
        values = config_values(config)
        await self.write(lambda db: set_meta(db, "config", values))

    async def store_synced(self, at: float) -> None:
        """Remember when the cache last caught up with the server."""
        await self.write(lambda db: set_meta(db, "last_synced_at", at))

    async def store_history(self, messages: Iterable[Message], notes: Iterable[PrivateNote]) -> Applied:
        """Store older messages and notes fetched with ``history``."""

        def job(db: Db) -> Applied:
            out = Applied()
            items: list[Message | PrivateNote] = [*messages, *notes]
            for m in items:
                if insert_item(db, m):
                    out.touch(m.conversation_id, f"{'n' if isinstance(m, PrivateNote) else 'm'}{m.id}")
            return out

        return await self.write_applied(job)

    async def store_conversations(self, conversations: Iterable[Conversation]) -> Applied:
        """Upsert conversations the server sent outside an event (``visitor.get``)."""

        def job(db: Db) -> Applied:
            out = Applied()
            for c in conversations:
                out.conversations.add(upsert_conversation(db, c, None))
            return out

        return await self.write_applied(job)

    async def store_held(self, held: Iterable[HeldEmail]) -> Applied:
        """Hold exactly the server's list of held email replies (``email.held.list``, on each connect)."""

        def job(db: Db) -> Applied:
            out = Applied()
            for conversation_id, held_id in replace_held(db, held):
                out.touch(conversation_id, f"h{held_id}")
            return out

        return await self.write_applied(job)

    async def store_visitor(self, visitor: Visitor) -> None:
        """Upsert a visitor's details."""
        await self.write(lambda db: upsert_visitor(db, visitor))

    async def mark_seen(self, conversation_id: int) -> Applied:
        """Zero the conversation's unread count locally."""

        def job(db: Db) -> Applied:
            db.execute("UPDATE conversations SET unread = 0 WHERE id = ?", [conversation_id])
            return Applied(conversations={conversation_id})

        return await self.write_applied(job)
