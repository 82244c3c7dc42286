"""The console's local cache: SQLite through sqlite-utils.

One file per server and agent, in ``platformdirs.user_data_dir("frontdesk")``
unless a directory is given, created with mode 0600. It holds what the agent
may see (conversations, visitors, messages, notes, agents, config), the
durable outbox, and the resume cursor (``epoch``, ``last_event_id``). It never
holds the session token.

Threads: reads are small indexed queries, run synchronously on the caller's
(the UI loop's) connection. Writes go to one writer thread that owns its own
connection; callers ``await`` a future (datasette's ``Database._execute_writes``
pattern), so a bulk snapshot never freezes the UI. WAL mode lets reads run
while the writer works.

Schema changes go only through the numbered migrations in :data:`MIGRATIONS`,
recorded in the ``migrations`` table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .models import AgentRow, ConversationRow, OutboxItem, ThreadItem, VisitorRow

__all__ = ["Cache", "cache_path"]

_T = TypeVar("_T")


def cache_path(data_dir: Path | None, server_url: str, email: str) -> Path:
    """The cache file for this server and agent (one file each)."""
    raise NotImplementedError


class Cache:
    """The local cache. Open with :meth:`open`, close with :meth:`close`."""

    path: Path

    @classmethod
    def open(cls, path: Path) -> Cache:
        """Open (creating, mode 0600) and migrate the cache at ``path``.

        Fast: no table scans, so the inbox shows at once on a cold start.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Stop the writer thread (after its queued writes) and close files."""
        raise NotImplementedError

    async def write(self, fn: Callable[[Any], _T]) -> _T:
        """Run ``fn(db)`` in one transaction on the writer thread.

        ``db`` is the writer's ``sqlite_utils.Database``. Returns ``fn``'s
        result, or raises its exception (the transaction is rolled back).
        """
        raise NotImplementedError

    # -- reads used by the UI models -------------------------------------------------

    def conversations(
        self,
        filter: str = "all",
        query: str | None = None,
        me: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ConversationRow]:
        """A page of the inbox, most recent activity first.

        ``filter`` is one of :data:`~.models.FILTERS` ("mine" needs ``me``).
        ``query`` searches message and note text (FTS5, word prefixes) and the
        visitor's name and email. Pending outbox actions are already applied.
        """
        raise NotImplementedError

    def count_conversations(
        self, filter: str = "all", query: str | None = None, me: int | None = None
    ) -> int:
        """How many rows :meth:`conversations` would page through."""
        raise NotImplementedError

    def conversation(self, conversation_id: int) -> ConversationRow | None:
        """One inbox row by id, or None when not cached."""
        raise NotImplementedError

    def thread(self, conversation_id: int, before: int | None = None, limit: int = 100) -> list[ThreadItem]:
        """A conversation's thread, oldest first.

        Messages and notes merged by time, then this console's outbox items for
        it (pending or failed) at the end. ``before`` is a message ``seq``:
        only the ``limit`` messages before it (and the notes of that span) are
        returned, without outbox items; use it to page back in time.
        """
        raise NotImplementedError

    def oldest_seq(self, conversation_id: int) -> int | None:
        """The smallest cached message seq of a conversation (for load_history)."""
        raise NotImplementedError

    def visitor(self, visitor_id: int) -> VisitorRow | None:
        """A visitor's details, or None when not cached."""
        raise NotImplementedError

    def visitor_conversations(self, visitor_id: int) -> list[ConversationRow]:
        """All cached conversations of a visitor, newest first."""
        raise NotImplementedError

    def agents(self) -> list[AgentRow]:
        """The tenant's agents, by name."""
        raise NotImplementedError

    def agent(self, agent_id: int) -> AgentRow | None:
        """One agent, or None."""
        raise NotImplementedError

    def config(self) -> dict[str, Any] | None:
        """The tenant's widget configuration as last seen, or None."""
        raise NotImplementedError

    def outbox(self, state: str | None = None) -> list[OutboxItem]:
        """Outbox items in order; ``state`` "pending" or "failed" filters."""
        raise NotImplementedError

    def outbox_count(self) -> int:
        """How many outbox items wait for the server (failed ones excluded)."""
        raise NotImplementedError

    def unread_total(self) -> int:
        """Sum of unread visitor messages over non-resolved conversations (tray badge)."""
        raise NotImplementedError

    def cursor(self) -> tuple[str | None, int | None]:
        """The resume cursor: (epoch, last applied event_id)."""
        raise NotImplementedError
