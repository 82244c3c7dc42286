"""How the core reaches the server: the socket type it needs, the default
``connect``, the agent endpoint URL, and the reconnect backoff."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["MAX_INCOMING_BYTES", "Backoff", "Connect", "WebSocketLike", "agent_endpoint", "default_connect"]

#: Largest frame the console accepts from the server (snapshot pages are big).
MAX_INCOMING_BYTES = 16 * 1024 * 1024


class WebSocketLike(Protocol):
    """The part of a websockets ``ClientConnection`` the core uses."""

    async def send(self, message: str | bytes) -> None: ...
    async def recv(self) -> str | bytes: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


#: Opens a WebSocket to a URL. The default uses ``websockets.asyncio.client``
#: (compression off, per PROTOCOL.md); tests inject failures.
Connect = Callable[[str], Awaitable[WebSocketLike]]


async def default_connect(url: str) -> WebSocketLike:
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
