"""The sync loop: one connection after another, keeping the cache in step.

Per connection: connect, ``auth``, ``subscribe`` from the cursor (a
``snapshot`` refetch on ``reset_required`` or on a first start), ``ping`` to
learn where the replay ends, apply events until then (CONNECTING), then
ONLINE: apply live events while the outbox drains (:mod:`._drain`). When the
socket drops: OFFLINE, wait a jittered, growing delay, again. Close code 1008
or a rejected token ends the session (``on_session_ended``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, TypeVar

from frontdesk.server.protocol import (
    AgentHistoryResult,
    AgentsResult,
    AgentTyping,
    AgentViewing,
    ConfigResult,
    ConversationWithVisitor,
    EventFrame,
    HeldEmailsResult,
    PingResult,
    Result,
    SessionResult,
    SnapshotResult,
    SubscribeResult,
    ViewingResult,
    VisitorTyping,
    to_wire,
)

from ._base import CoreBase, SessionEnded
from ._link import LinkClosed, _Link
from ._tasks import TaskSet
from .exceptions import OfflineError, ServerError
from .rows import AgentRow
from .state import ConnectionState

__all__ = ["APPLY_BATCH", "HISTORY_PAGE", "SNAPSHOT_PAGE", "SyncMixin"]

log = logging.getLogger("frontdesk.console.sync")

#: Conversations per ``snapshot`` page (the protocol's maximum).
SNAPSHOT_PAGE = 500
#: Messages per ``history`` page.
HISTORY_PAGE = 100
#: Events applied per cache transaction at most.
APPLY_BATCH = 500

_Marker = asyncio.Future[None]
_R = TypeVar("_R", bound=Result)


class SyncMixin(CoreBase):
    """The connection loop, event application and history fetching."""

    # -- what the UI has on screen ---------------------------------------------------

    @property
    def focused_conversation(self) -> int | None:
        """The conversation on screen; the UI sets it (no notification is
        raised for it, and its missing history is fetched)."""
        return self._focused

    @focused_conversation.setter
    def focused_conversation(self, conversation_id: int | None) -> None:
        self._focused = conversation_id
        if conversation_id is None or self._cache is None or self._link is None:
            return
        row = self._cache.conversation(conversation_id)
        if row is None or row.last_seq == 0:
            return
        # The latest page is what the thread shows first: fetch it if missing.
        newest = self._cache.thread(conversation_id, limit=1)
        have_latest = any(i.seq == row.last_seq for i in newest if i.id is not None and i.kind != "note")
        if not have_latest or self._cache.cached_messages(conversation_id) < min(row.last_seq, HISTORY_PAGE):
            self._spawn_history(conversation_id)

    async def set_viewing(self, conversation_id: int | None) -> None:
        """Tell the server which conversation the UI has open (None: none), and
        learn who else has it open (PROTOCOL.md, "Collision awareness"); sent
        again on each reconnect. Best effort: offline it waits for the next
        connection."""
        self._viewing = conversation_id
        await self._send_viewing()

    async def _send_viewing(self) -> None:
        conversation_id = self._viewing
        try:
            reply = await self._call(ViewingResult, "viewing", conversation_id=conversation_id)
        except (OfflineError, ServerError) as exc:
            log.debug("viewing not sent: %s", exc)
            return
        if conversation_id is not None and conversation_id == self._viewing:
            self.collision.replace(conversation_id, reply.viewers, self.me.id if self.me else None)
            self._emit_collision(conversation_id)

    async def _call(self, result: type[_R], kind: str, **fields: Any) -> _R:
        """An online-only request (see :meth:`._Link.request`); OfflineError when not connected."""
        link = self._link
        if link is None or self.state is not ConnectionState.ONLINE:
            raise OfflineError()
        try:
            return await link.request(result, kind, **fields)
        except (LinkClosed, TimeoutError) as exc:
            raise OfflineError("the connection to the server was lost") from exc

    async def load_history(self, conversation_id: int, before_seq: int | None = None) -> bool:
        """Fetch a page of older messages (and the notes of that span) into
        the cache. ``before_seq`` None: the latest page. Returns whether the
        server has more. Raises OfflineError."""
        page = await self._call(
            AgentHistoryResult, "history", conversation_id=conversation_id, before_seq=before_seq, limit=HISTORY_PAGE
        )
        applied = await self.cache.store_history(page.messages, page.notes)
        applied.threads.add(conversation_id)
        self._announce(applied)
        return page.has_more

    def _spawn_history(self, conversation_id: int) -> None:
        if conversation_id in self._history_loading:
            return
        self._history_loading.add(conversation_id)

        async def fetch() -> None:
            try:
                await self.load_history(conversation_id)
            except (OfflineError, ServerError) as exc:
                log.info("history of %d not loaded: %s", conversation_id, exc)
            finally:
                self._history_loading.discard(conversation_id)

        self._tasks.spawn(fetch(), name=f"frontdesk-history-{conversation_id}")

    # -- the loop ----------------------------------------------------------------------

    def _end_session(self, reason: str) -> None:
        log.warning("session ended: %s", reason)
        if self._email is not None:
            self._tokens.delete(self.server_url, self._email)
        self._token = None
        self._emit("on_session_ended", reason)

    async def _run(self) -> None:
        while not self._stopping:
            self._set_state(ConnectionState.CONNECTING)
            self._reached_online = False
            try:
                await self._session()
            except SessionEnded as exc:
                self._link = None
                self._set_state(ConnectionState.OFFLINE)
                if not self._stop_requested():  # a logout in progress is not "ended elsewhere"
                    self._end_session(str(exc))
                return
            except (OSError, LinkClosed, TimeoutError, ServerError) as exc:
                log.info("connection failed: %s", _describe(exc))
            except Exception as exc:  # a handshake refusal, a bad URI, a bug
                log.warning("connection failed: %s", _describe(exc), exc_info=not _is_network(exc))
            self._link = None
            if self.state is not ConnectionState.OFFLINE:
                self._set_state(ConnectionState.OFFLINE)
            if self._stop_requested():
                return
            if self._reached_online:
                self._backoff.reset()
            delay = self._backoff.next_delay()
            log.info("reconnecting in %.1f s", delay)
            self._reconnect_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reconnect_now.wait(), delay)

    async def _session(self) -> bool:
        """One connection, from connect to close. True if it got ONLINE."""
        cache = self.cache
        if self._token is None:
            raise SessionEnded("no token")
        ws = await asyncio.wait_for(self._connect(self.ws_url), self._timeout)
        events: asyncio.Queue[EventFrame | _Marker] = asyncio.Queue()
        link = _Link(ws, events.put_nowait, self._timeout)
        tasks = TaskSet()
        reader = tasks.spawn(link.run(), name="frontdesk-reader", log_errors=False)
        try:
            try:
                auth = await link.request(SessionResult, "auth", token=self._token)
            except ServerError as exc:
                if exc.code in ("unauthorized", "forbidden"):
                    raise SessionEnded(exc.message or "the server refused the session token") from None
                raise
            self.me = AgentRow.of(auth.agent)
            await cache.store_session(self.me, to_wire(auth.tenant))
            epoch, since = cache.cursor()
            if epoch is not None and since is not None:
                sub = await link.request(SubscribeResult, "subscribe", since=since, epoch=epoch)
                reset = sub.reset_required
            else:
                sub = await link.request(SubscribeResult, "subscribe")
                reset = True
            if reset:
                log.info("refetching a snapshot (%s)", "cursor refused" if since is not None else "no cursor")
                await self._refetch(link, sub)
            else:
                await self._refresh_side_data(link)
            await self._refresh_held(link)
            # Replayed events are sent before the reply to a later request:
            # once the ping's reply is in, every replayed event is queued.
            await link.request(PingResult, "ping")
            applier = tasks.spawn(self._apply_loop(events), name="frontdesk-apply", log_errors=False)
            caught_up: _Marker = asyncio.get_running_loop().create_future()
            events.put_nowait(caught_up)
            await _first(caught_up, reader, applier)
            if reader.done() or applier.done():
                return self._session_result(reader, applier)
            self._link = link
            await self._mark_synced()
            self._set_state(ConnectionState.ONLINE)
            self._reached_online = True
            if self._focused is not None:
                self.focused_conversation = self._focused  # fetch its missing history
            if self._viewing is not None:
                tasks.spawn(self._send_viewing(), name="frontdesk-viewing")
            drainer = tasks.spawn(self._drain(link), name="frontdesk-outbox", log_errors=False)
            await _first(reader, applier, drainer)
            self._session_result(reader, applier, drainer)
            return True
        finally:
            self._link = None
            for conversation_id in self.collision.clear():  # nobody is known to be there any more
                self._emit_collision(conversation_id)
            await link.close()
            await tasks.cancel_all()

    @staticmethod
    def _session_result(*tasks: asyncio.Task[Any]) -> bool:
        """Raise what ended the session: the close (1008 ends it), or a
        task's exception."""
        for task in tasks:
            if task.done() and not task.cancelled():
                exc = task.exception()
                if isinstance(exc, LinkClosed) and exc.session_ended:
                    raise SessionEnded(exc.reason or "the server ended the session") from exc
                if exc is not None:
                    raise exc
                result = task.result()
                if isinstance(result, LinkClosed):
                    if result.session_ended:
                        raise SessionEnded(result.reason or "the server ended the session")
                    raise result
        return False

    async def _refetch(self, link: _Link, sub: SubscribeResult) -> None:
        """Replace the cache with a snapshot (PROTOCOL.md, "Resuming")."""
        conversations: list[ConversationWithVisitor] = []
        cursor: str | None = None
        while True:
            page = await link.request(SnapshotResult, "snapshot", filter="all", limit=SNAPSHOT_PAGE, cursor=cursor)
            conversations.extend(page.conversations)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        agents = [AgentRow.of(a) for a in (await link.request(AgentsResult, "agents")).agents]
        config = (await link.request(ConfigResult, "config.get")).config
        applied = await self.cache.apply_snapshot(
            conversations, epoch=sub.epoch, last_event_id=sub.last_event_id, agents=agents, config=config
        )
        log.info("snapshot applied: %d conversations", len(conversations))
        self._announce(applied)
        await self._refresh_workflow(link)

    async def _refresh_side_data(self, link: _Link) -> None:
        """Presence is not replayed: refresh the agent list on each connect."""
        await self.cache.store_agents([AgentRow.of(a) for a in (await link.request(AgentsResult, "agents")).agents])
        self._emit_agents()
        await self._refresh_workflow(link)

    async def _refresh_held(self, link: _Link) -> None:
        """Email replies held for review (PROTOCOL.md, "Email"): listed on each connect, then kept by the
        ``email.held`` events replayed and pushed after it."""
        try:
            held = (await link.request(HeldEmailsResult, "email.held.list")).held
        except ServerError as exc:  # a server without it: nothing is held there
            log.info("held email replies not listed: %s", exc)
            return
        self._announce(await self.cache.store_held(held))

    async def _mark_synced(self) -> None:
        self.last_synced_at = self._clock()
        await self.cache.store_synced(self.last_synced_at)
        self._emit("on_synced", self.last_synced_at)

    async def _apply_loop(self, events: asyncio.Queue[EventFrame | _Marker]) -> None:
        """Apply events in arrival order, batching what is queued."""
        while True:
            batch = [await events.get()]
            while not events.empty() and len(batch) < APPLY_BATCH:
                batch.append(events.get_nowait())
            durable: list[EventFrame] = []
            for item in batch:
                if isinstance(item, asyncio.Future):
                    await self._apply_durable(durable)
                    if not item.done():
                        item.set_result(None)
                elif item.event_id is None:
                    await self._apply_durable(durable)
                    await self._apply_ephemeral(item)
                else:
                    durable.append(item)
            await self._apply_durable(durable)

    async def _apply_durable(self, events: list[EventFrame]) -> None:
        if not events:
            return
        applied = await self.cache.apply_events(events)
        events.clear()
        self._announce(applied)
        if self.state is ConnectionState.ONLINE:
            self.last_synced_at = self._clock()
            self._emit("on_synced", self.last_synced_at)

    async def _apply_ephemeral(self, ev: EventFrame) -> None:
        data = ev.data
        if isinstance(data, AgentTyping):
            if self.me is None or data.agent_id != self.me.id:
                self._emit("on_typing", data.conversation_id, data.is_typing, data.name)
                self.collision.set_typing(data.conversation_id, data.name or f"agent #{data.agent_id}", data.is_typing)
                self._emit_collision(data.conversation_id)
        elif isinstance(data, AgentViewing):
            if self.collision.apply(data, self.me.id if self.me else None):
                self._emit_collision(data.conversation_id)
        elif isinstance(data, VisitorTyping):
            self._emit("on_typing", data.conversation_id, data.is_typing, None)
        else:
            # ``presence`` and ``seen``: applied to the cache, no cursor.
            self._announce(await self.cache.apply_events([ev]))


def _is_network(exc: BaseException) -> bool:
    try:
        from websockets.exceptions import InvalidHandshake, InvalidURI
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, InvalidHandshake | InvalidURI)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _first(*aws: asyncio.Future[Any]) -> None:
    """Wait until any of ``aws`` is done."""
    await asyncio.wait(aws, return_when=asyncio.FIRST_COMPLETED)
