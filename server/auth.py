"""Credentials: agent passwords, opaque tokens, and login throttling.

- Passwords are hashed with argon2id (argon2-cffi's defaults: 64 MiB, t=3).
  Hashing is slow on purpose, so callers run it off the event loop.
- Tokens (agent and visitor) are 256 random bits, shown once to their owner and
  stored only as a SHA-256 hash: a stolen database yields no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "LoginThrottle",
    "generate_password",
    "hash_password",
    "new_secret",
    "new_site_key",
    "new_token",
    "token_hash",
    "verify_password",
]

_hasher = PasswordHasher()
#: A hash to verify against when the account does not exist, so a login for an
#: unknown email takes as long as one with a wrong password.
_DUMMY_HASH: Final = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (slow: call it in a thread)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; constant work even for a missing account."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A new opaque bearer token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database stores for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate_password() -> str:
    """A strong password to print once (about 95 bits)."""
    return secrets.token_urlsafe(12)


def new_site_key() -> str:
    """A public site key for the widget snippet."""
    return "site_" + secrets.token_urlsafe(12)


def new_secret() -> str:
    """A tenant's HMAC secret for identity verification."""
    return secrets.token_hex(32)


@dataclass
class LoginThrottle:
    """Counts failed logins per account and per client IP in a sliding window.

    ``retry_after`` says how many seconds a login must wait; 0 means go ahead.
    A success clears the account's failures (not the IP's).
    """

    per_account: int = 5
    per_ip: int = 20
    window_s: float = 15 * 60
    _fails: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def _keys(self, account: str | None, ip: str) -> list[tuple[str, int]]:
        keys = [(f"i:{ip}", self.per_ip)]
        if account is not None:  # " Ada@X.test" and "ada@x.test" are one account to the lookup, so here too
            keys.append((f"a:{account.strip().lower()}", self.per_account))
        return keys

    def retry_after(self, account: str | None, ip: str, now: float | None = None) -> float:
        """Seconds to wait; ``account`` None checks the address alone (token auth)."""
        now = time.monotonic() if now is None else now
        waits = []
        for key, limit in self._keys(account, ip):
            q = self._recent(key, now)
            if len(q) >= limit:
                waits.append(q[-limit] + self.window_s - now)
        return max(waits, default=0.0)

    def failed(self, account: str | None, ip: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key, _ in self._keys(account, ip):
            self._recent(key, now).append(now)
        if len(self._fails) > 100_000:  # bound memory under a spray of emails
            for key in [k for k, q in self._fails.items() if not q]:
                del self._fails[key]

    def succeeded(self, account: str, ip: str | None = None, stamp: float | None = None) -> None:
        """Clear the account's failures, and take back the attempt counted
        up front at ``stamp`` for ``ip`` (see ``Handlers.login``)."""
        self._fails.pop(f"a:{account.strip().lower()}", None)
        q = self._fails.get(f"i:{ip}") if ip is not None else None
        if q is not None and stamp is not None and stamp in q:
            q.remove(stamp)
