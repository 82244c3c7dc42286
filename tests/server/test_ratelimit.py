"""Token buckets, per key and alone, on an injected clock (server/ratelimit.py)."""

from __future__ import annotations

import pytest
from frontdesk.server.ratelimit import BucketMap, Rate, TokenBucket, parse_rate


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def takes(bucket: TokenBucket, n: int) -> int:
    """How many of ``n`` immediate takes succeed."""
    return sum(bucket.take() for _ in range(n))


def test_bucket_starts_full_and_serves_exactly_its_burst() -> None:
    """A new bucket serves `burst` requests at once, then refuses until time passes."""
    clock = FakeClock()
    bucket = TokenBucket(Rate(2, 5), clock)
    assert takes(bucket, 8) == 5
    assert not bucket.take()


def test_bucket_refills_at_its_rate() -> None:
    """An empty bucket earns `per_second` tokens per second, fractions included."""
    clock = FakeClock()
    bucket = TokenBucket(Rate(4, 10), clock)
    takes(bucket, 10)
    clock.advance(0.2)  # 0.8 of a token
    assert not bucket.take()
    clock.advance(0.05)  # 1.0
    assert bucket.take()
    assert not bucket.take()
    clock.advance(1.0)
    assert takes(bucket, 10) == 4


def test_bucket_never_holds_more_than_its_burst() -> None:
    """A bucket left alone for an hour still serves only `burst` at once."""
    clock = FakeClock()
    bucket = TokenBucket(Rate(10, 3), clock)
    takes(bucket, 3)
    clock.advance(3600)
    assert takes(bucket, 10) == 3


def test_a_refused_take_costs_nothing() -> None:
    """Refused requests do not dig the bucket deeper: the next token comes on time."""
    clock = FakeClock()
    bucket = TokenBucket(Rate(1, 1), clock)
    assert bucket.take()
    for _ in range(100):
        assert not bucket.take()
    clock.advance(1.0)
    assert bucket.take()


def test_cost_and_an_explicit_now_are_honoured() -> None:
    """`take(cost=…)` takes that many tokens or none; `take(now=…)` overrides the clock."""
    clock = FakeClock()
    bucket = TokenBucket(Rate(1, 4), clock)
    assert not bucket.take(cost=5)
    assert bucket.take(cost=3)
    assert not bucket.take(cost=2)
    assert bucket.take(now=clock.now + 1, cost=2)


def test_bucket_map_keeps_one_bucket_per_key() -> None:
    """Each key has its own budget: one address running dry leaves another untouched."""
    clock = FakeClock()
    buckets = BucketMap(Rate(1, 2), clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [True, True, False]
    assert [buckets.take("b") for _ in range(3)] == [True, True, False]
    clock.advance(1)
    assert buckets.take("a") and not buckets.take("a")


def test_bucket_map_drops_the_least_recently_used_key_beyond_its_bound() -> None:
    """Past `max_keys` the least recently used key is forgotten (it starts full
    again), so a spray of addresses cannot grow memory without bound."""
    clock = FakeClock()
    buckets = BucketMap(Rate(0.001, 1), max_keys=2, clock=clock)
    assert buckets.take("a") and buckets.take("b")
    assert not buckets.take("a")  # "a" is now the most recently used
    assert buckets.take("c")  # evicts "b"
    assert len(buckets) == 2
    assert buckets.take("b")  # forgotten, so full again; evicts "a"
    assert buckets.take("a")


@pytest.mark.parametrize(
    ("text", "rate"),
    [("20/40", Rate(20, 40)), ("20", Rate(20, 40)), ("0.5/1", Rate(0.5, 1)), ("1e3/2e3", Rate(1000, 2000))],
)
def test_parse_rate_accepts_per_second_and_burst(text: str, rate: Rate) -> None:
    """`PER_SECOND/BURST`, or `PER_SECOND` alone (burst twice that), parse to a Rate."""
    assert parse_rate(text) == rate
    assert parse_rate(str(rate)) == rate


@pytest.mark.parametrize("text", ["", "fast", "0/10", "-1/10", "5/0", "5/x", "1/2/3"])
def test_parse_rate_refuses_nonsense_with_a_readable_message(text: str) -> None:
    """Zero, negative or non-numeric rates are refused with a message naming the input."""
    with pytest.raises(ValueError, match="invalid rate"):
        parse_rate(text)
