"""The console core: login, connection loop, sync into the cache, outbox.

Qt-free. The UI creates one :class:`ConsoleCore`, registers listeners, and
calls its coroutines from ``@asyncSlot`` handlers on the one asyncio loop
(qasync). The core never blocks the loop on slow disk work (see
:mod:`.cache`).

Lifecycle::

    core = ConsoleCore(url, None, KeyringTokenStore())
    if not await core.resume():          # no stored token
        await core.login(email, password, remember=True)
    await core.start()                   # cached inbox now; sync in background
    ...
    await core.reply(cid, "Hello!")      # queued in the outbox, sent when online
    ...
    await core.stop()

The connection loop (one task) does, per connection: connect, ``auth``,
``subscribe`` from the cursor (a ``snapshot`` refetch on ``reset_required``
or on a first start), ``ping`` to learn where the replay ends, apply events
until then (CONNECTING), then ONLINE: apply live events and drain the outbox,
in order, one request at a time. When the socket drops: OFFLINE, wait a
jittered, growing delay, again. Close code 1008 or a rejected token ends the
session (``on_session_ended``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from frontdesk.server.protocol import MAX_BODY_CHARS

from ._link import LinkClosed, _Link
from ._tasks import TaskSet
from .cache import Applied, Cache, cache_path
from .credentials import TokenStore
from .exceptions import LoginError, OfflineError, ServerError
from .listener import CoreListener
from .models import AgentRow, Notification, OutboxAction, OutboxItem
from .state import ConnectionState, check_transition

__all__ = ["Backoff", "Connect", "ConsoleCore", "WebSocketLike", "agent_endpoint"]

log = logging.getLogger("frontdesk.console.sync")

#: Largest frame the console accepts from the server (snapshot pages are big).
MAX_INCOMING_BYTES = 16 * 1024 * 1024
#: Conversations per ``snapshot`` page (the protocol's maximum).
SNAPSHOT_PAGE = 500
#: Messages per ``history`` page.
HISTORY_PAGE = 100
#: Events applied per cache transaction at most.
APPLY_BATCH = 500


class WebSocketLike(Protocol):
    """The part of a websockets ``ClientConnection`` the core uses."""

    async def send(self, message: str) -> None: ...
    async def recv(self) -> str | bytes: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


#: Opens a WebSocket to a URL. The default uses ``websockets.asyncio.client``
#: (compression off, per PROTOCOL.md); tests inject failures.
Connect = Callable[[str], Awaitable[WebSocketLike]]


async def _default_connect(url: str) -> WebSocketLike:
    from websockets.asyncio.client import connect

    ws = await connect(url, compression=None, max_size=MAX_INCOMING_BYTES, open_timeout=10, proxy=None)
    return ws


def agent_endpoint(server_url: str) -> str:
    """The agent WebSocket URL for a server base URL.

    ``http://h:p`` → ``ws://h:p/v1/agent``, ``https://`` → ``wss://``;
    a ``ws(s)://`` URL gets ``/v1/agent`` unless it already ends with it.
    """
    url = server_url.strip().rstrip("/")
    if url.startswith("http://"):
        url = "ws://" + url[len("http://") :]
    elif url.startswith("https://"):
        url = "wss://" + url[len("https://") :]
    elif not url.startswith(("ws://", "wss://")):
        url = "ws://" + url
    if not url.endswith("/v1/agent"):
        url += "/v1/agent"
    return url


class Backoff:
    """Jittered exponential backoff: the n-th delay is uniform in
    ``[initial/2, min(maximum, initial * 2**n)]``, so a fleet of consoles
    does not reconnect in lockstep after a server restart. :meth:`reset`
    after a connection that worked."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; grows with each call."""
        cap = min(self.maximum, self.initial * (2**self._attempt))
        self._attempt = min(self._attempt + 1, 30)
        return self._rng.uniform(min(self.initial / 2, cap), cap)

    def reset(self) -> None:
        """Start over from ``initial`` (after a connection succeeded)."""
        self._attempt = 0


class _SessionEnded(Exception):
    """The server no longer accepts our token."""


_Marker = asyncio.Future[None]


class ConsoleCore:
    """Login, token, cache, connection loop and outbox of one console session.

    Attributes the UI reads: ``state``, ``me``, ``cache`` (after
    :meth:`login` / :meth:`resume`), ``outbox_count`` (pending items),
    ``last_synced_at`` (unix seconds), ``keyring_available``, and
    ``focused_conversation``, which the UI sets to the conversation on screen
    (no notification is raised for it; its missing history is fetched).
    """

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
        request_timeout: float = 15.0,
    ) -> None:
        """``server_url`` is the server's base (``http(s)://`` or ``ws(s)://``
        host[:port]); the agent endpoint is derived from it. ``cache_dir``
        None means the platform's user data dir."""
        self.server_url = server_url.strip().rstrip("/")
        self.ws_url = agent_endpoint(server_url)
        if cache_dir is None:
            import platformdirs

            cache_dir = Path(platformdirs.user_data_dir("frontdesk"))
        self.data_dir = cache_dir
        self._tokens = token_store
        self.keyring_available = token_store.available()
        self._connect = connect or _default_connect
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._outbox_backoff = Backoff(initial=0.5, maximum=10.0)
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

    # -- plumbing ----------------------------------------------------------------

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

    @property
    def focused_conversation(self) -> int | None:
        """The conversation on screen; the UI sets it."""
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

    def _announce(self, applied: Applied) -> None:
        """Turn what a cache write changed into listener calls."""
        if applied.reload_all:
            self._emit("on_conversations_changed", [])
        elif applied.conversations:
            self._emit("on_conversations_changed", sorted(applied.conversations))
        for cid in sorted(applied.threads):
            self._emit("on_thread_changed", cid)
        if applied.outbox and self._cache is not None:
            self.outbox_count = self._cache.outbox_count()
            self._emit("on_outbox_changed", self.outbox_count)
        if applied.agents:
            if self.me is not None and self._cache is not None:
                self.me = self._cache.agent(self.me.id) or self.me  # our own role or name may have changed
            self._emit("on_agents_changed")
        if applied.config is not None:
            self._emit("on_config_changed", applied.config)
        for notification in _coalesce(applied.notifications):
            if notification.conversation_id != self._focused:
                self._emit("on_notification", notification)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- accounts: which agent last used this server (never the token) -------------

    def _accounts_path(self) -> Path:
        return self.data_dir / "accounts.json"

    def _read_accounts(self) -> dict[str, str]:
        try:
            data = json.loads(self._accounts_path().read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(data, dict)
            else {}
        )

    def _remember_account(self, email: str | None) -> None:
        accounts = self._read_accounts()
        if email is None:
            accounts.pop(self.server_url, None)
        else:
            accounts[self.server_url] = email
        path = self._accounts_path()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(accounts, f)
        os.replace(tmp, path)

    def last_email(self) -> str | None:
        """The email last used on this server (to prefill the login form)."""
        return self._read_accounts().get(self.server_url)

    def _open_cache(self, email: str) -> Cache:
        path = cache_path(self.data_dir, self.server_url, email)
        if self._cache is not None and self._cache.path == path and not self._cache.closed:
            return self._cache
        if self._cache is not None:
            self._cache.close()
        self._cache = Cache.open(path)
        self.outbox_count = self._cache.outbox_count()
        self.last_synced_at = self._cache.last_synced_at()
        return self._cache

    # -- session -----------------------------------------------------------------

    async def login(self, email: str, password: str, *, remember: bool, tenant: str | None = None) -> AgentRow:
        """Log in with a password; keep the token (keyring if ``remember``
        and a backend exists, else memory only) and open this agent's cache.

        Raises :class:`~.exceptions.LoginError`.
        """
        email = email.strip()
        try:
            ws = await asyncio.wait_for(self._connect(self.ws_url), self._timeout)
        except Exception as exc:
            log.info("login: cannot reach %s: %s", self.ws_url, type(exc).__name__)
            raise LoginError("unreachable", f"Cannot reach the server at {self.server_url}.") from exc
        link = _Link(ws, lambda frame: None, self._timeout)
        tasks = TaskSet()
        tasks.spawn(link.run(), name="frontdesk-login-reader", log_errors=False)
        try:
            reply = await link.request("login", email=email, password=password, tenant=tenant)
        except ServerError as exc:
            raise _login_error(exc) from None
        except (LinkClosed, TimeoutError) as exc:
            raise LoginError("unreachable", "The server closed the connection during login.") from exc
        finally:
            await link.close()
            await tasks.cancel_all()
        token = reply.get("token")
        agent = reply.get("agent")
        if not isinstance(token, str) or not isinstance(agent, dict):
            raise LoginError("other", "The server sent an unexpected login reply.")
        if self._loop_task is not None and not self._loop_task.done():
            await self.stop()  # a new session replaces the running one; start() again
        self._email = email
        self._token = token
        if remember and self._tokens.available():
            self._tokens.set(self.server_url, email, token)
        else:
            self._tokens.delete(self.server_url, email)
        self._remember_account(email)
        cache = self._open_cache(email)
        await cache.store_session(agent, reply.get("tenant"))
        self.me = AgentRow.from_wire(agent)
        log.info("logged in as agent %d", self.me.id)
        return self.me

    async def resume(self) -> bool:
        """Prepare to reuse the stored token of the last agent on this server.

        True when there is a token to try: the cache is open, ``me`` is the
        cached agent, and :meth:`start` will authenticate with the token (a
        rejected token ends in ``on_session_ended``). False: show the login.
        """
        email = self._email or self.last_email()
        if email is None:
            return False
        token = self._token if self._email == email and self._token else self._tokens.get(self.server_url, email)
        if not token:
            return False
        self._email = email
        self._token = token
        cache = self._open_cache(email)
        self.me = cache.me()
        return True

    async def start(self) -> None:
        """Open the cache (the inbox can show at once) and start the
        connection loop in the background. Works offline from the start."""
        cache = self.cache
        if self._loop_task is not None and not self._loop_task.done():
            return
        self._stopping = False
        self.outbox_count = cache.outbox_count()
        self.last_synced_at = cache.last_synced_at()
        self._emit("on_conversations_changed", [])
        self._emit("on_outbox_changed", self.outbox_count)
        self._loop_task = self._tasks.spawn(self._run(), name="frontdesk-sync")

    async def stop(self) -> None:
        """Stop the connection loop and close the cache. Outbox items stay."""
        self._stopping = True
        await self._tasks.cancel_all()
        self._loop_task = None
        if self._link is not None:
            await self._link.close()
            self._link = None
        if self.state is not ConnectionState.OFFLINE:
            self._set_state(ConnectionState.OFFLINE)
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    async def logout(self) -> None:
        """Revoke the token on the server (if online), forget it locally,
        and stop. The cache stays on disk (it holds no token). Does not call
        ``on_session_ended``: the UI asked for it."""
        self._stopping = True  # the server's close after logout is not a drop to recover from
        link = self._link
        if link is not None:
            with contextlib.suppress(ServerError, LinkClosed, TimeoutError):
                await link.request("logout")
        if self._email is not None:
            self._tokens.delete(self.server_url, self._email)
        self._token = None
        await self.stop()
        self.me = None

    def reconnect_now(self) -> None:
        """Skip the current backoff wait (e.g. the network came back)."""
        self._reconnect_now.set()

    def _end_session(self, reason: str) -> None:
        log.warning("session ended: %s", reason)
        if self._email is not None:
            self._tokens.delete(self.server_url, self._email)
        self._token = None
        self._emit("on_session_ended", reason)

    # -- the connection loop --------------------------------------------------------

    def _stop_requested(self) -> bool:
        """stop()/logout() was called (a method, so type narrowing cannot
        assume the flag is unchanged across awaits)."""
        return self._stopping

    async def _run(self) -> None:
        while not self._stopping:
            self._set_state(ConnectionState.CONNECTING)
            self._reached_online = False
            try:
                await self._session()
            except _SessionEnded as exc:
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
            raise _SessionEnded("no token")
        ws = await asyncio.wait_for(self._connect(self.ws_url), self._timeout)
        events: asyncio.Queue[dict[str, Any] | _Marker] = asyncio.Queue()
        link = _Link(ws, events.put_nowait, self._timeout)
        tasks = TaskSet()
        reader = tasks.spawn(link.run(), name="frontdesk-reader", log_errors=False)
        try:
            try:
                auth = await link.request("auth", token=self._token)
            except ServerError as exc:
                if exc.code in ("unauthorized", "forbidden"):
                    raise _SessionEnded(exc.message or "the server refused the session token") from None
                raise
            agent = auth.get("agent")
            if isinstance(agent, dict):
                self.me = AgentRow.from_wire(agent)
                await cache.store_session(agent, auth.get("tenant"))
            epoch, since = cache.cursor()
            if epoch is not None and since is not None:
                sub = await link.request("subscribe", since=since, epoch=epoch)
                reset = bool(sub.get("reset_required"))
            else:
                sub = await link.request("subscribe")
                reset = True
            if reset:
                log.info("refetching a snapshot (%s)", "cursor refused" if since is not None else "no cursor")
                await self._refetch(link, sub)
            else:
                await self._refresh_side_data(link)
            # Replayed events are sent before the reply to a later request:
            # once the ping's reply is in, every replayed event is queued.
            await link.request("ping")
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
            drainer = tasks.spawn(self._drain(link), name="frontdesk-outbox", log_errors=False)
            await _first(reader, applier, drainer)
            self._session_result(reader, applier, drainer)
            return True
        finally:
            self._link = None
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
                    raise _SessionEnded(exc.reason or "the server ended the session") from exc
                if exc is not None:
                    raise exc
                result = task.result()
                if isinstance(result, LinkClosed):
                    if result.session_ended:
                        raise _SessionEnded(result.reason or "the server ended the session")
                    raise result
        return False

    async def _refetch(self, link: _Link, sub: dict[str, Any]) -> None:
        """Replace the cache with a snapshot (PROTOCOL.md, "Resuming")."""
        conversations: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await link.request("snapshot", filter="all", limit=SNAPSHOT_PAGE, cursor=cursor)
            conversations.extend(c for c in page.get("conversations", []) if isinstance(c, dict))
            nxt = page.get("next_cursor")
            if not isinstance(nxt, str) or not nxt:
                break
            cursor = nxt
        agents = (await link.request("agents")).get("agents", [])
        config = (await link.request("config.get")).get("config")
        applied = await self.cache.apply_snapshot(
            conversations,
            epoch=str(sub.get("epoch")),
            last_event_id=int(sub.get("last_event_id") or 0),
            agents=[a for a in agents if isinstance(a, dict)],
            config=config if isinstance(config, dict) else None,
        )
        log.info("snapshot applied: %d conversations", len(conversations))
        self._announce(applied)

    async def _refresh_side_data(self, link: _Link) -> None:
        """Presence is not replayed: refresh the agent list on each connect."""
        agents = (await link.request("agents")).get("agents", [])
        await self.cache.store_agents([a for a in agents if isinstance(a, dict)])
        self._emit("on_agents_changed")

    async def _mark_synced(self) -> None:
        self.last_synced_at = self._clock()
        await self.cache.store_synced(self.last_synced_at)
        self._emit("on_synced", self.last_synced_at)

    async def _apply_loop(self, events: asyncio.Queue[dict[str, Any] | _Marker]) -> None:
        """Apply events in arrival order, batching what is queued."""
        while True:
            batch = [await events.get()]
            while not events.empty() and len(batch) < APPLY_BATCH:
                batch.append(events.get_nowait())
            durable: list[dict[str, Any]] = []
            for item in batch:
                if isinstance(item, asyncio.Future):
                    await self._apply_durable(durable)
                    if not item.done():
                        item.set_result(None)
                elif item.get("event_id") is None:
                    await self._apply_durable(durable)
                    await self._apply_ephemeral(item)
                else:
                    durable.append(item)
            await self._apply_durable(durable)

    async def _apply_durable(self, frames: list[dict[str, Any]]) -> None:
        if not frames:
            return
        applied = await self.cache.apply_events(frames)
        frames.clear()
        self._announce(applied)
        if self.state is ConnectionState.ONLINE:
            self.last_synced_at = self._clock()
            self._emit("on_synced", self.last_synced_at)

    async def _apply_ephemeral(self, frame: dict[str, Any]) -> None:
        kind = frame.get("kind")
        data = frame.get("data")
        if not isinstance(data, dict):
            return
        if kind == "typing":
            cid = data.get("conversation_id", frame.get("conversation_id"))
            if isinstance(cid, int) and (self.me is None or data.get("agent_id") != self.me.id):
                who = data.get("name") if data.get("agent_id") is not None else None
                self._emit("on_typing", cid, bool(data.get("is_typing")), who if isinstance(who, str) else None)
        elif kind == "presence":
            aid, online = data.get("agent_id"), bool(data.get("online"))
            if isinstance(aid, int):
                await self.cache.write(
                    lambda db: db.execute("UPDATE agents SET online = ? WHERE id = ?", [int(online), aid])
                )
                self._emit("on_agents_changed")
        else:
            # ``seen`` from the visitor or another agent: applied, no cursor.
            applied = await self.cache.apply_events([frame])
            self._announce(applied)

    # -- the outbox ----------------------------------------------------------------

    async def _drain(self, link: _Link) -> None:
        """Send pending outbox items in order, one at a time, until the link dies."""
        while True:
            item = self.cache.next_pending()
            if item is None:
                self._outbox_wakeup.clear()
                if self.cache.next_pending() is None:
                    await self._outbox_wakeup.wait()
                continue
            await self._send_item(link, item)

    async def _send_item(self, link: _Link, item: OutboxItem) -> None:
        fields: dict[str, Any] = {"conversation_id": item.conversation_id, "client_id": item.client_id}
        fields.update(item.payload)
        await self.cache.outbox_attempt(item.id)
        try:
            reply = await link.request(item.action, **fields)
        except ServerError as exc:
            if exc.code == "rate_limited":
                # Not processed (PROTOCOL.md, "Errors"): the same item again, later.
                await asyncio.sleep(self._outbox_backoff.next_delay())
                return
            if exc.code == "unauthorized":
                raise _SessionEnded(exc.message) from None
            log.info("outbox item %d (%s) rejected: %s", item.id, item.action, exc.code)
            self._announce(await self.cache.outbox_failed(item.id, exc.code, exc.message or exc.code))
            return
        self._outbox_backoff.reset()
        log.debug("outbox item %d (%s) acked", item.id, item.action)
        self._announce(await self.cache.outbox_acked(item, reply))

    async def _queue(self, action: OutboxAction, conversation_id: int, payload: dict[str, Any]) -> int:
        outbox_id = await self.cache.queue_action(action, conversation_id, str(uuid.uuid4()), payload, self._now_ms())
        self._announce(Applied(conversations={conversation_id}, threads={conversation_id}, outbox=True))
        self._outbox_wakeup.set()
        return outbox_id

    @staticmethod
    def _check_body(body: str) -> str:
        if not body.strip():
            raise ValueError("the message is empty")
        if len(body) > MAX_BODY_CHARS:
            raise ValueError(f"the message is longer than {MAX_BODY_CHARS} characters")
        return body

    # -- actions: durable outbox first, then the server ----------------------------

    async def reply(self, conversation_id: int, body: str) -> int:
        """Queue a reply to the visitor; returns its outbox id. ValueError
        for an empty or too long body."""
        return await self._queue("reply", conversation_id, {"body": self._check_body(body)})

    async def note(self, conversation_id: int, body: str) -> int:
        """Queue a private note; returns its outbox id."""
        return await self._queue("note", conversation_id, {"body": self._check_body(body)})

    async def resolve(self, conversation_id: int) -> int:
        """Queue resolving the conversation; returns its outbox id."""
        return await self._queue("resolve", conversation_id, {})

    async def reopen(self, conversation_id: int) -> int:
        """Queue reopening the conversation; returns its outbox id."""
        return await self._queue("reopen", conversation_id, {})

    async def pend(self, conversation_id: int) -> int:
        """Queue marking the conversation pending; returns its outbox id."""
        return await self._queue("pend", conversation_id, {})

    async def assign(self, conversation_id: int, agent_id: int) -> int:
        """Queue assigning the conversation; returns its outbox id."""
        return await self._queue("assign", conversation_id, {"agent_id": agent_id})

    async def unassign(self, conversation_id: int) -> int:
        """Queue removing the assignee; returns its outbox id."""
        return await self._queue("unassign", conversation_id, {})

    async def retry(self, outbox_id: int) -> None:
        """Send a failed outbox item again, with a fresh client_id (a rejected
        request stored nothing, and the server may remember the old id)."""
        self._announce(await self.cache.outbox_retry(outbox_id, str(uuid.uuid4())))
        self._outbox_wakeup.set()

    async def discard(self, outbox_id: int) -> None:
        """Drop an outbox item (failed, or pending and not yet acked: if it is
        in flight it may still be stored by the server)."""
        self._announce(await self.cache.outbox_discard(outbox_id))

    # -- online-only calls -------------------------------------------------------

    async def _call(self, kind: str, **fields: Any) -> dict[str, Any]:
        link = self._link
        if link is None or self.state is not ConnectionState.ONLINE:
            raise OfflineError()
        try:
            return await link.request(kind, **fields)
        except (LinkClosed, TimeoutError) as exc:
            raise OfflineError("the connection to the server was lost") from exc

    async def get_config(self) -> dict[str, Any]:
        """The full widget configuration. Raises OfflineError / ServerError."""
        config = (await self._call("config.get")).get("config")
        if not isinstance(config, dict):
            raise ServerError("invalid", "the server sent no config")
        await self.cache.store_config(config)
        return config

    async def set_config(self, partial: dict[str, Any]) -> dict[str, Any]:
        """Admin: change some configuration keys; returns the full config.
        ``ServerError("invalid", ...)`` names a bad key."""
        config = (await self._call("config.set", config=partial)).get("config")
        if not isinstance(config, dict):
            raise ServerError("invalid", "the server sent no config")
        await self.cache.store_config(config)
        self._emit("on_config_changed", config)
        return config

    async def list_agents(self) -> list[AgentRow]:
        """The tenant's agents with presence (also cached)."""
        agents = [a for a in (await self._call("agents")).get("agents", []) if isinstance(a, dict)]
        await self.cache.store_agents(agents)
        self._emit("on_agents_changed")
        return [AgentRow.from_wire(a) for a in agents]

    async def add_agent(
        self, email: str, name: str, role: str = "agent", password: str | None = None
    ) -> tuple[AgentRow, str]:
        """Admin: add an agent; returns it and its password (generated when
        not given; shown once, never stored)."""
        reply = await self._call("agent.add", email=email, name=name, role=role, password=password)
        agent = reply["agent"]
        await self.cache.write(lambda db: _upsert_agent_row(db, agent))
        self._emit("on_agents_changed")
        return AgentRow.from_wire(agent), str(reply.get("password") or password or "")

    async def update_agent(self, agent_id: int, **changes: Any) -> AgentRow:
        """Admin: change ``name``, ``role``, ``active`` or ``password``."""
        unknown = set(changes) - {"name", "role", "active", "password"}
        if unknown:
            raise ValueError(f"unknown agent fields: {', '.join(sorted(unknown))}")
        agent = (await self._call("agent.update", agent_id=agent_id, **changes))["agent"]
        await self.cache.write(lambda db: _upsert_agent_row(db, agent))
        self._emit("on_agents_changed")
        self._emit("on_conversations_changed", [])  # assignee names
        return AgentRow.from_wire(agent)

    async def identity_secret(self, action: str = "get") -> dict[str, Any]:
        """Admin: the identity secret (``get``), a new one (``rotate``: the old
        one stays accepted as ``previous``), or the end of a rotation
        (``end_rotation``). Returns ``{"secret", "previous", "rotated_at"}``;
        never cached. Raises OfflineError / ServerError."""
        if action not in ("get", "rotate", "end_rotation"):
            raise ValueError(f"unknown identity secret action {action!r}")
        state = (await self._call(f"identity_secret.{action}")).get("identity_secret")
        if not isinstance(state, dict):
            raise ServerError("invalid", "the server sent no identity secret")
        return state

    async def load_history(self, conversation_id: int, before_seq: int | None = None) -> bool:
        """Fetch a page of older messages (and the notes of that span) into
        the cache. ``before_seq`` None: the latest page. Returns whether the
        server has more. Raises OfflineError."""
        reply = await self._call("history", conversation_id=conversation_id, before_seq=before_seq, limit=HISTORY_PAGE)
        messages = [m for m in reply.get("messages", []) if isinstance(m, dict)]
        notes = [n for n in reply.get("notes", []) if isinstance(n, dict)]
        applied = await self.cache.store_history(messages, notes)
        applied.threads.add(conversation_id)
        self._announce(applied)
        return bool(reply.get("has_more"))

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

    async def fetch_visitor(self, visitor_id: int) -> None:
        """Refresh a visitor's details and conversations from the server."""
        reply = await self._call("visitor.get", visitor_id=visitor_id)
        if isinstance(reply.get("visitor"), dict):
            await self.cache.store_visitor(reply["visitor"])
        applied = await self.cache.store_conversations(c for c in reply.get("conversations", []) if isinstance(c, dict))
        self._announce(applied)

    async def mark_seen(self, conversation_id: int) -> None:
        """Mark the conversation read: locally at once, on the server when online."""
        await self.cache.mark_seen(conversation_id)
        self._announce(Applied(conversations={conversation_id}))
        row = self.cache.conversation(conversation_id)
        if self._link is not None and row is not None:
            await self._link.send("seen", conversation_id=conversation_id, seq=row.last_seq)

    async def set_typing(self, conversation_id: int, is_typing: bool) -> None:
        """Tell the visitor (and other agents) whether we are typing. Best
        effort: dropped when offline."""
        if self._link is not None:
            await self._link.send("typing", conversation_id=conversation_id, is_typing=is_typing)


def _coalesce(notifications: list[Notification]) -> list[Notification]:
    """One notification per conversation per batch (a catch-up after a night
    offline must not pop up hundreds): the latest message's text, and
    ``new_conversation`` if the conversation is new in this batch."""
    if len(notifications) <= 1:
        return notifications
    latest: dict[int, Notification] = {}
    new: set[int] = set()
    for n in notifications:
        latest.pop(n.conversation_id, None)  # re-insert: ordered by latest activity
        latest[n.conversation_id] = n
        if n.kind == "new_conversation":
            new.add(n.conversation_id)
    return [dataclasses.replace(n, kind="new_conversation") if n.conversation_id in new else n for n in latest.values()]


def _upsert_agent_row(db: Any, agent: dict[str, Any]) -> None:
    from .cache import _upsert_agent

    _upsert_agent(db, agent)


def _login_error(exc: ServerError) -> LoginError:
    text = exc.message or exc.code
    if exc.code == "rate_limited":
        return LoginError("throttled", text or "Too many failed logins; wait a few minutes.")
    if "disabled" in text.lower() or exc.code == "forbidden":
        return LoginError("disabled", text or "This account is disabled.")
    if exc.code == "unauthorized":
        return LoginError("wrong_credentials", text or "Wrong email or password.")
    return LoginError("other", text)


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
