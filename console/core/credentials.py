"""Where the agent's session token lives: the OS keyring, or memory only.

The token is a bearer secret. It is kept in the OS keyring through
``keyring`` when a real backend exists, and never written to the cache or a
log. Where no backend exists (a headless Linux box, a CI runner), the core
says so (``ConsoleCore.keyring_available`` is False, the UI shows it) and
keeps the token in memory only: the agent logs in again after a restart.

Tests replace the store with :class:`MemoryTokenStore` or their own fake
implementing :class:`TokenStore`.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

__all__ = ["KeyringTokenStore", "MemoryTokenStore", "TokenStore"]

log = logging.getLogger("frontdesk.console.credentials")

#: The keyring "service" name; the username is ``"<email> @ <server url>"``.
SERVICE = "frontdesk-console"


@runtime_checkable
class TokenStore(Protocol):
    """A place to keep one token per (server URL, agent email)."""

    def available(self) -> bool:
        """True when tokens survive a restart (a real keyring backend)."""
        ...

    def get(self, server: str, email: str) -> str | None:
        """The stored token, or None."""
        ...

    def set(self, server: str, email: str, token: str) -> None:
        """Store ``token``, replacing any earlier one."""
        ...

    def delete(self, server: str, email: str) -> None:
        """Forget the token; no error when there is none."""
        ...


def _key(server: str, email: str) -> str:
    return f"{email.strip().lower()} @ {server.rstrip('/')}"


class MemoryTokenStore:
    """Tokens in a dict: gone when the process ends. ``available()`` is False."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}

    def available(self) -> bool:
        """Always False: memory does not survive a restart."""
        return False

    def get(self, server: str, email: str) -> str | None:
        """The token kept for this server and email, if any."""
        return self._tokens.get(_key(server, email))

    def set(self, server: str, email: str, token: str) -> None:
        """Keep ``token`` until the process ends."""
        self._tokens[_key(server, email)] = token

    def delete(self, server: str, email: str) -> None:
        """Forget the token."""
        self._tokens.pop(_key(server, email), None)


def keyring_backend_usable(backend: object) -> bool:
    """True unless ``backend`` is keyring's fail backend, or a chainer with no
    usable backend behind it (what ``keyring`` picks when none exists)."""
    from keyring.backends import chainer, fail

    if isinstance(backend, fail.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return any(keyring_backend_usable(b) for b in backend.backends)
    return True


class KeyringTokenStore:
    """Tokens in the OS keyring, falling back to memory without a backend.

    ``available()`` tells whether a real backend exists. When it does not,
    :meth:`set` keeps the token in memory only (and says so in the log once),
    so the session works until the app quits. Keyring errors (a locked
    keychain, a D-Bus hiccup) also fall back to memory rather than failing
    the login.
    """

    def __init__(self, backend: object | None = None) -> None:
        """``backend``: a keyring backend to use instead of the default one."""
        import keyring

        self._backend = backend if backend is not None else keyring.get_keyring()
        self._available = keyring_backend_usable(self._backend)
        self._memory = MemoryTokenStore()
        if not self._available:
            log.warning("no keyring backend: the session token is kept in memory only")

    def available(self) -> bool:
        """True when a real keyring backend exists."""
        return self._available

    def get(self, server: str, email: str) -> str | None:
        """The token from the keyring (or memory), if any."""
        token = self._memory.get(server, email)
        if token is not None or not self._available:
            return token
        try:
            value = self._backend.get_password(SERVICE, _key(server, email))  # type: ignore[attr-defined]
        except Exception as exc:  # keyring backends raise many kinds of errors
            log.warning("keyring read failed: %s", type(exc).__name__)
            return None
        return value if isinstance(value, str) else None  # own data: a keyring value

    def set(self, server: str, email: str, token: str) -> None:
        """Store ``token`` in the keyring; in memory when that is impossible."""
        if self._available:
            try:
                self._backend.set_password(SERVICE, _key(server, email), token)  # type: ignore[attr-defined]
            except Exception as exc:
                log.warning("keyring write failed (%s): keeping the token in memory", type(exc).__name__)
            else:
                self._memory.delete(server, email)
                return
        self._memory.set(server, email, token)

    def delete(self, server: str, email: str) -> None:
        """Forget the token everywhere it may be."""
        self._memory.delete(server, email)
        if not self._available:
            return
        try:
            self._backend.delete_password(SERVICE, _key(server, email))  # type: ignore[attr-defined]
        except Exception as exc:  # PasswordDeleteError when there is none
            log.debug("keyring delete: %s", type(exc).__name__)
