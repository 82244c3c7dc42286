"""Credentials and login throttling, pure (server/auth.py): no server, no real time."""

from __future__ import annotations

import hashlib

from frontdesk.server import auth
from frontdesk.server.auth import LoginThrottle

WINDOW = 15 * 60


def test_passwords_verify_only_against_their_own_hash() -> None:
    """A hash verifies its password and nothing else; a missing account or a
    garbled hash is a plain False, never an exception."""
    hashed = auth.hash_password("correct horse")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert auth.verify_password(hashed, "correct horse")
    assert not auth.verify_password(hashed, "correct horse ")
    assert not auth.verify_password(None, "correct horse")
    assert not auth.verify_password("not-a-hash", "correct horse")


def test_tokens_are_random_and_stored_only_as_their_sha256() -> None:
    """New tokens are 43 URL-safe characters and never repeat; the stored form is
    the SHA-256 hex digest, the same for the same token."""
    tokens = {auth.new_token() for _ in range(100)}
    assert len(tokens) == 100
    token = tokens.pop()
    assert len(token) == 43 and all(c.isalnum() or c in "-_" for c in token)
    assert auth.token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert auth.token_hash(token) != auth.token_hash(tokens.pop())


def test_five_failures_throttle_the_account_for_the_window() -> None:
    """After 5 failed logins an account waits until the oldest of them is 15
    minutes old; a sixth attempt is refused, whichever address it comes from."""
    throttle = LoginThrottle()
    for i in range(5):
        assert throttle.retry_after("ada@x.test", f"10.0.0.{i}", now=100.0 + i) == 0
        throttle.failed("ada@x.test", f"10.0.0.{i}", now=100.0 + i)
    assert throttle.retry_after("ada@x.test", "10.9.9.9", now=105.0) == WINDOW - 5
    assert throttle.retry_after("ada@x.test", "10.9.9.9", now=100.0 + WINDOW - 0.5) == 0.5
    assert throttle.retry_after("ada@x.test", "10.9.9.9", now=100.0 + WINDOW) == 0
    assert throttle.retry_after("bob@x.test", "10.0.0.1", now=105.0) == 0


def test_the_account_key_ignores_case_and_surrounding_spaces() -> None:
    """ " Ada@X.test " and "ada@x.test" share one counter, as the account lookup does."""
    throttle = LoginThrottle()
    for i, spelling in enumerate(["Ada@X.test", " ada@x.test", "ADA@X.TEST ", "ada@x.test", "\tada@x.test"]):
        throttle.failed(spelling, f"10.0.1.{i}", now=float(i))
    assert throttle.retry_after("ada@x.test", "10.0.2.1", now=5.0) > 0


def test_twenty_failures_throttle_the_address_across_accounts() -> None:
    """An address that fails 20 logins over different accounts is throttled for any
    account, the right one included; other addresses are not."""
    throttle = LoginThrottle()
    for i in range(20):
        throttle.failed(f"user{i}@x.test", "10.4.0.1", now=float(i))
    assert throttle.retry_after("admin@x.test", "10.4.0.1", now=20.0) == WINDOW - 20
    assert throttle.retry_after("admin@x.test", "10.4.0.2", now=20.0) == 0
    assert throttle.retry_after(None, "10.4.0.1", now=20.0) > 0  # token auth checks the address alone


def test_success_clears_the_account_and_takes_back_its_own_attempt() -> None:
    """A login counted up front (before the slow hash) and then succeeding clears the
    account's failures and removes that one attempt from the address's count."""
    throttle = LoginThrottle()
    for i in range(4):
        throttle.failed("ada@x.test", "10.5.0.1", now=float(i))
    throttle.failed("ada@x.test", "10.5.0.1", now=10.0)  # the attempt in flight
    assert throttle.retry_after("ada@x.test", "10.5.0.1", now=10.5) > 0
    throttle.succeeded("ada@x.test", "10.5.0.1", stamp=10.0)
    assert throttle.retry_after("ada@x.test", "10.5.0.1", now=10.5) == 0
    for i in range(15):  # 4 earlier failures + 15 = 19 on the address: still allowed
        throttle.failed(f"other{i}@x.test", "10.5.0.1", now=11.0)
    assert throttle.retry_after(None, "10.5.0.1", now=11.0) == 0
    throttle.failed("x@x.test", "10.5.0.1", now=11.0)
    assert throttle.retry_after(None, "10.5.0.1", now=11.0) > 0


def test_token_failures_count_per_address_only() -> None:
    """Bad tokens (account None) count against the address, never an account, so
    junk tokens cannot lock any console out."""
    throttle = LoginThrottle()
    for i in range(20):
        throttle.failed(None, "10.6.6.6", now=float(i))
    assert throttle.retry_after(None, "10.6.6.6", now=20.0) > 0
    assert throttle.retry_after(None, "10.6.0.1", now=20.0) == 0
    assert throttle.retry_after("admin@x.test", "10.6.0.1", now=20.0) == 0
