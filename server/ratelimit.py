"""Token-bucket rate limits, per connection, per visitor and per client IP.

Each limit ``frontdesk serve`` can be given is declared once, in
:data:`RATE_SETTINGS`: the server's defaults (``ServerSettings``), the CLI's
flags and environment variables, and the README's table (checked by
``tests/test_docs.py``) all come from it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["RATE_SETTINGS", "BucketMap", "Rate", "RateSetting", "TokenBucket", "default_rate", "parse_rate"]


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_second`` sustained, with bursts up to ``burst``."""

    per_second: float
    burst: float

    def __str__(self) -> str:
        return f"{self.per_second:g}/{self.burst:g}"


@dataclass(frozen=True, slots=True)
class RateSetting:
    """One rate limit of ``frontdesk serve``: its ``ServerSettings`` field
    (``rate_conn``), default and meaning. Its flag is ``--rate-conn`` and its
    environment variable ``FRONTDESK_RATE_CONN``."""

    name: str
    default: Rate
    meaning: str

    @property
    def flag(self) -> str:
        """The command-line flag."""
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        """The environment variable."""
        return "FRONTDESK_" + self.name.upper()


#: Every rate limit of ``frontdesk serve`` (README, "Configuration").
RATE_SETTINGS: Final[tuple[RateSetting, ...]] = (
    RateSetting("rate_conn", Rate(20, 40), "requests per connection: per second / burst"),
    RateSetting(
        "rate_visitor",
        Rate(5, 20),
        "messages per visitor, across their tabs (and across nodes: the budget is kept in the database)",
    ),
    RateSetting("rate_ip", Rate(200, 400), "requests per client address"),
    RateSetting("rate_new_visitor", Rate(1, 30), "new visitor sessions per client address"),
    RateSetting("rate_ping", Rate(1, 10), "WebSocket pings per connection (more: close 1008)"),
    RateSetting(
        "rate_upload", Rate(1, 20), "uploads started (`file.begin`) per visitor or agent, and per client address"
    ),
)
_BY_NAME: Final[Mapping[str, RateSetting]] = {s.name: s for s in RATE_SETTINGS}


def default_rate(name: str) -> Rate:
    """The declared default of the rate limit ``name`` (``rate_conn`` ...)."""
    return _BY_NAME[name].default


def parse_rate(text: str) -> Rate:
    """Parse ``"20/40"`` (20 per second, burst 40) or ``"20"`` (burst 2×).

    Raises :class:`ValueError` with a readable message.
    """
    try:
        if "/" in text:
            a, b = text.split("/", 1)
            rate = Rate(float(a), float(b))
        else:
            rate = Rate(float(text), 2 * float(text))
    except ValueError:
        raise ValueError(f"invalid rate {text!r}: use PER_SECOND/BURST, e.g. 20/40") from None
    if rate.per_second <= 0 or rate.burst < 1:
        raise ValueError(f"invalid rate {text!r}: both numbers must be positive, burst at least 1")
    return rate


Clock = Callable[[], float]


class TokenBucket:
    """A classic token bucket; :meth:`take` is O(1) and allocation-free.

    It starts full (``burst`` tokens) and refills at ``per_second`` up to
    ``burst``. Time comes from ``clock`` (``time.monotonic`` unless a test
    injects one), or from ``now`` passed to :meth:`take`.
    """

    __slots__ = ("clock", "rate", "stamp", "tokens")

    def __init__(self, rate: Rate, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self.tokens = rate.burst
        self.stamp = clock()

    def take(self, now: float | None = None, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if there are that many; whether it did."""
        now = self.clock() if now is None else now
        self.tokens = min(self.rate.burst, self.tokens + (now - self.stamp) * self.rate.per_second)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class BucketMap:
    """Buckets by key (an IP, a visitor id), least recently used dropped first
    beyond ``max_keys`` so an address spray cannot grow memory without bound."""

    def __init__(self, rate: Rate, max_keys: int = 100_000, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[object, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: object, now: float | None = None) -> bool:
        """Take a token from ``key``'s bucket (a new key starts full)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.clock)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)
