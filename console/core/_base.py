"""What every part of :class:`~.core.ConsoleCore` shares: its attributes, the
listeners, the state machine and the turning of cache writes into
announcements (change-sets).

The core is split by job into mixins over this base: the sync loop
(:mod:`._sync`), the outbox drainer and the actions (:mod:`._drain`), and the
session and online calls (:mod:`.core`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._accounts import Accounts
from ._connection import Backoff, Connect, agent_endpoint, default_connect
from ._io import run_io
from ._link import _Link
from ._tasks import TaskSet
from .cache import Applied, Cache
from .collision import Collision
from .credentials import TokenStore
from .downloads import Downloads, prune_files
from .listener import CoreListener
from .rows import AgentRow, ConversationChanges, ConversationRow, Notification, ThreadChanges
from .state import ConnectionState, check_transition

__all__ = ["RECONNECT_CAP_S", "CoreBase", "SessionEnded", "coalesce", "conversation_changes", "thread_changes"]

log = logging.getLogger("frontdesk.console.sync")

#: The longest wait between two connection attempts (issue 13, item 5: back
#: within 2 s of the server returning). An attempt on a dead server costs a
#: refused TCP connect; the jitter (Backoff) keeps a fleet of consoles apart.
RECONNECT_CAP_S = 1.5


class SessionEnded(Exception):
    """The server no longer accepts our token."""


class CoreBase:
    """Attributes, listeners and announcements of a console session."""

    state: ConnectionState
    me: AgentRow | None
    outbox_count: int
    last_synced_at: float | None
    keyring_available: bool

    def __init__(
        self,
        server_url: str,
        cache_dir: Path | None,
        token_store: TokenStore,
        *,
        connect: Connect | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        outbox_backoff: Backoff | None = None,
        request_timeout: float = 15.0,
    ) -> None:
        """``server_url`` is the server's base (``http(s)://`` or ``ws(s)://``
        host[:port]); the agent endpoint is derived from it. ``cache_dir``
        None means the platform's user data dir. ``backoff`` paces
        reconnects, ``outbox_backoff`` the resends of an outbox item the
        server could not take yet (``rate_limited``, ``unavailable``)."""
        self.server_url = server_url.strip().rstrip("/")
        self.ws_url = agent_endpoint(server_url)
        if cache_dir is None:
            import platformdirs

            cache_dir = Path(platformdirs.user_data_dir("frontdesk"))
        self.data_dir = cache_dir
        self._accounts = Accounts(cache_dir)
        self._tokens = token_store
        self.keyring_available = token_store.available()
        self._connect = connect or default_connect
        self._clock = clock
        self._backoff = backoff or Backoff(initial=0.5, maximum=RECONNECT_CAP_S)
        self._outbox_backoff = outbox_backoff or Backoff(initial=0.5, maximum=10.0)
        self._timeout = request_timeout
        self.state = ConnectionState.OFFLINE
        self.me = None
        self.outbox_count = 0
        self.last_synced_at = None
        self._focused: int | None = None
        self._cache: Cache | None = None
        self._email: str | None = None
        self._token: str | None = None
        self._listeners: list[CoreListener] = []
        self._tasks = TaskSet()
        self._loop_task: asyncio.Task[None] | None = None
        self._link: _Link | None = None
        self._outbox_wakeup = asyncio.Event()
        self._reconnect_now = asyncio.Event()
        self._stopping = False
        self._reached_online = False
        self._history_loading: set[int] = set()
        self._downloads: Downloads | None = None
        #: Outbox file copies being made (not referenced by the outbox yet): pruning leaves them.
        self._stashing: set[Path] = set()
        #: Who else views and types where (collision awareness); not stored.
        self.collision = Collision()
        #: The conversation open in the UI, told to the server as ``viewing``.
        self._viewing: int | None = None

    @property
    def cache(self) -> Cache:
        """The open cache. Raises RuntimeError before login/resume."""
        if self._cache is None:
            raise RuntimeError("no cache open: call login() or resume() first")
        return self._cache

    @property
    def email(self) -> str | None:
        """The agent's email for this session (known before ``me`` is)."""
        return self._email

    def add_listener(self, listener: CoreListener) -> None:
        """Register a listener; it is called for every change from now on."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: CoreListener) -> None:
        """Unregister a listener (no error if it was not registered)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _emit(self, method: str, *args: Any) -> None:
        for listener in list(self._listeners):
            try:
                getattr(listener, method)(*args)
            except Exception:
                log.exception("listener %r failed in %s", listener, method)

    def _set_state(self, new: ConnectionState) -> None:
        if new is self.state:
            return
        check_transition(self.state, new)
        log.info("connection %s -> %s", self.state.name, new.name)
        self.state = new
        self._emit("on_state_changed", new)

    def _emit_collision(self, conversation_id: int) -> None:
        self._emit(
            "on_collision_changed",
            conversation_id,
            self.collision.viewers(conversation_id),
            self.collision.typing(conversation_id),
        )

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _drain(self, link: _Link) -> None:
        """Send the outbox over ``link`` until it dies (see :mod:`._drain`)."""
        raise NotImplementedError

    async def _refresh_workflow(self, link: _Link) -> None:
        """Read teams, labels and canned responses over ``link`` (see :mod:`.workflow`)."""
        raise NotImplementedError

    def _stop_requested(self) -> bool:
        """stop()/logout() was called (a method, so type narrowing cannot
        assume the flag is unchanged across awaits)."""
        return self._stopping

    # -- announcements ---------------------------------------------------------------

    def _emit_agents(self) -> None:
        self._emit("on_agents_changed", self._cache.agents() if self._cache is not None else [])

    def _announce(self, applied: Applied) -> None:
        """Turn what a cache write changed into listener calls: the change-set
        (new rows, old filter keys) is computed here, once, for every model."""
        cache = self._cache
        if applied.reload_all and cache is not None:
            # A snapshot or an erasure: files of conversations gone leave the disk too.
            self._tasks.spawn(self._prune_files(cache), name="frontdesk-prune-files")
        changes = conversation_changes(cache, applied) if cache is not None else None
        if changes is not None:
            self._emit("on_conversations_changed", changes)
        for thread in thread_changes(cache, applied) if cache is not None else []:
            self._emit("on_thread_changed", thread)
        if applied.outbox and cache is not None:
            self.outbox_count = cache.outbox_count()
            self._emit("on_outbox_changed", self.outbox_count)
        if applied.agents:
            if self.me is not None and cache is not None:
                self.me = cache.agent(self.me.id) or self.me  # our own role or name may have changed
            self._emit_agents()
        if applied.config is not None:
            self._emit("on_config_changed", applied.config)
        if applied.workflow:
            self._emit("on_workflow_changed")
        me = self.me.id if self.me is not None else None
        for notification in coalesce(applied.notifications):
            if notification.kind == "assigned":
                # Only the new assignee hears of it, and not when they assigned it themselves.
                if me is not None and notification.assignee_id == me and notification.actor_id != me:
                    self._emit("on_notification", notification)
            elif notification.conversation_id != self._focused:
                self._emit("on_notification", notification)

    async def _prune_files(self, cache: Cache) -> None:
        """Delete downloaded files and outbox copies the cache no longer refers to."""
        ids, copies = cache.referenced_files()
        base = cache.path
        gone = await run_io(
            prune_files, base.with_suffix(".files"), ids, base.with_suffix(".outbox"), copies, set(self._stashing)
        )
        if gone:
            log.info("deleted %d local files no longer referenced", gone)


def conversation_changes(cache: Cache, applied: Applied) -> ConversationChanges | None:
    """The inbox change-set of a cache write: the changed conversations' new
    rows, or a reset; None when no conversation changed."""
    if applied.reload_all:
        return ConversationChanges(reset=True, unread_total=cache.unread_total())
    if not applied.conversations:
        return None
    rows: dict[int, ConversationRow | None] = {cid: cache.conversation(cid) for cid in applied.conversations}
    return ConversationChanges(rows=rows, unread_total=cache.unread_total())


def thread_changes(cache: Cache, applied: Applied) -> list[ThreadChanges]:
    """The thread change-sets of a cache write, one per conversation: the
    changed items read once here, or a reset when the whole cache moved."""
    out: list[ThreadChanges] = []
    for cid in sorted(applied.threads | set(applied.items)):
        if applied.reload_all:
            out.append(ThreadChanges(cid, reset=True))
        else:
            out.append(ThreadChanges(cid, cache.thread_items(cid, sorted(applied.items.get(cid, ())))))
    return out


def coalesce(notifications: list[Notification]) -> list[Notification]:
    """One notification per conversation per batch (a catch-up after a night
    offline must not pop up hundreds): the latest message's text, and
    ``new_conversation`` if the conversation is new in this batch. An
    assignment is kept apart (its last one per conversation): it is news of
    its own, for one agent only."""
    if len(notifications) <= 1:
        return notifications
    latest: dict[int, Notification] = {}
    assigned: dict[int, Notification] = {}
    new: set[int] = set()
    for n in notifications:
        if n.kind == "assigned":
            assigned[n.conversation_id] = n
            continue
        latest.pop(n.conversation_id, None)  # re-insert: ordered by latest activity
        latest[n.conversation_id] = n
        if n.kind == "new_conversation":
            new.add(n.conversation_id)
    messages = [
        dataclasses.replace(n, kind="new_conversation") if n.conversation_id in new else n for n in latest.values()
    ]
    return [*messages, *assigned.values()]
