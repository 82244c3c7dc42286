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
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from .cache import Cache
from .credentials import TokenStore
from .listener import CoreListener
from .models import AgentRow
from .state import ConnectionState

__all__ = ["Backoff", "Connect", "ConsoleCore", "WebSocketLike"]


class WebSocketLike(Protocol):
    """The part of a websockets ``ClientConnection`` the core uses."""

    async def send(self, message: str) -> None: ...
    async def recv(self) -> str | bytes: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


#: Opens a WebSocket to a URL. The default uses ``websockets.asyncio.client``
#: (compression off, per PROTOCOL.md); tests inject failures.
Connect = Callable[[str], Awaitable[WebSocketLike]]


class Backoff:
    """Jittered exponential backoff ("full jitter"): the n-th delay is uniform
    in ``[initial/2, min(maximum, initial * 2**n)]``; :meth:`reset` after a
    successful connection."""

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


class ConsoleCore:
    """Login, token, cache, connection loop and outbox of one console session.

    Attributes the UI reads: ``state``, ``me``, ``cache`` (after
    :meth:`start` / :meth:`login` / :meth:`resume`), ``outbox_count``,
    ``last_synced_at`` (unix seconds), ``keyring_available``, and
    ``focused_conversation`` which the UI sets to the conversation on screen
    (no notification is raised for it; its history is fetched when missing).
    """

    state: ConnectionState
    me: AgentRow | None
    outbox_count: int
    last_synced_at: float | None
    keyring_available: bool
    focused_conversation: int | None

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
        raise NotImplementedError

    @property
    def cache(self) -> Cache:
        """The open cache. Raises RuntimeError before login/resume/start."""
        raise NotImplementedError

    @property
    def email(self) -> str | None:
        """The agent's email for this session (known before ``me`` is)."""
        raise NotImplementedError

    def add_listener(self, listener: CoreListener) -> None:
        """Register a listener; it is called for every change from now on."""
        raise NotImplementedError

    def remove_listener(self, listener: CoreListener) -> None:
        """Unregister a listener (no error if it was not registered)."""
        raise NotImplementedError

    # -- session -----------------------------------------------------------------

    async def login(self, email: str, password: str, *, remember: bool) -> AgentRow:
        """Log in with a password; keep the token (keyring if ``remember``
        and available, else memory) and open this agent's cache.

        Raises :class:`~.exceptions.LoginError`.
        """
        raise NotImplementedError

    async def resume(self) -> bool:
        """Prepare to reuse the stored token of the last agent on this server.

        True when there is a token to try: the cache is open and
        :meth:`start` will authenticate with it (a rejected token ends in
        ``on_session_ended``). False: show the login form.
        """
        raise NotImplementedError

    async def start(self) -> None:
        """Open the cache (the inbox can show at once) and start the
        connection loop in the background. Works offline from the start."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop the connection loop and close the cache. Outbox items stay."""
        raise NotImplementedError

    async def logout(self) -> None:
        """Revoke the token on the server (if online), forget it locally,
        and stop. The cache stays on disk (it has no token)."""
        raise NotImplementedError

    # -- actions: durable outbox first, then the server ----------------------------

    async def reply(self, conversation_id: int, body: str) -> int:
        """Queue a reply to the visitor; returns its outbox id."""
        raise NotImplementedError

    async def note(self, conversation_id: int, body: str) -> int:
        """Queue a private note; returns its outbox id."""
        raise NotImplementedError

    async def resolve(self, conversation_id: int) -> int:
        """Queue resolving the conversation; returns its outbox id."""
        raise NotImplementedError

    async def reopen(self, conversation_id: int) -> int:
        """Queue reopening the conversation; returns its outbox id."""
        raise NotImplementedError

    async def pend(self, conversation_id: int) -> int:
        """Queue marking the conversation pending; returns its outbox id."""
        raise NotImplementedError

    async def assign(self, conversation_id: int, agent_id: int) -> int:
        """Queue assigning the conversation; returns its outbox id."""
        raise NotImplementedError

    async def unassign(self, conversation_id: int) -> int:
        """Queue removing the assignee; returns its outbox id."""
        raise NotImplementedError

    async def retry(self, outbox_id: int) -> None:
        """Send a failed outbox item again (with a fresh client_id: the
        rejected attempt stored nothing)."""
        raise NotImplementedError

    async def discard(self, outbox_id: int) -> None:
        """Drop an outbox item (failed, or pending and not yet sent)."""
        raise NotImplementedError

    # -- online-only calls -------------------------------------------------------

    async def get_config(self) -> dict[str, Any]:
        """The full widget configuration. Raises OfflineError / ServerError."""
        raise NotImplementedError

    async def set_config(self, partial: dict[str, Any]) -> dict[str, Any]:
        """Admin: change some configuration keys; returns the full config."""
        raise NotImplementedError

    async def list_agents(self) -> list[AgentRow]:
        """The tenant's agents with presence (also cached)."""
        raise NotImplementedError

    async def add_agent(
        self, email: str, name: str, role: str = "agent", password: str | None = None
    ) -> tuple[AgentRow, str]:
        """Admin: add an agent; returns it and its password (generated when
        not given; shown once)."""
        raise NotImplementedError

    async def update_agent(self, agent_id: int, **changes: Any) -> AgentRow:
        """Admin: change ``name``, ``role``, ``active`` or ``password``."""
        raise NotImplementedError

    async def load_history(self, conversation_id: int, before_seq: int | None = None) -> bool:
        """Fetch a page of older messages (and notes) into the cache.
        Returns whether the server has more. Raises OfflineError."""
        raise NotImplementedError

    async def fetch_visitor(self, visitor_id: int) -> None:
        """Refresh a visitor's details and conversations from the server."""
        raise NotImplementedError

    async def mark_seen(self, conversation_id: int) -> None:
        """Mark the conversation read: locally at once, on the server when online."""
        raise NotImplementedError

    async def set_typing(self, conversation_id: int, is_typing: bool) -> None:
        """Tell the visitor (and other agents) whether we are typing. Best
        effort: dropped when offline."""
        raise NotImplementedError
