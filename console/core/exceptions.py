"""Exceptions of the console core.

One tree, so the UI can catch broadly or narrowly::

    CoreError
    ├── LoginError          login failed; ``kind`` says why (wrong_credentials, unreachable, ...)
    ├── ServerError         the server answered a request with an ``error`` frame
    ├── OfflineError        an online-only call was made while not connected
    └── InvalidTransition   a connection state change the state machine forbids (a bug)
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CoreError", "InvalidTransition", "LoginError", "LoginErrorKind", "OfflineError", "ServerError"]

LoginErrorKind = Literal["wrong_credentials", "unreachable", "throttled", "disabled", "other"]


class CoreError(Exception):
    """Base of every exception the console core raises on purpose."""


class LoginError(CoreError):
    """``login`` did not succeed.

    ``kind`` is one of ``wrong_credentials`` (bad email or password),
    ``unreachable`` (no server at that URL, network down), ``throttled`` (too
    many failed logins: wait), ``disabled`` (the account was disabled) and
    ``other``. ``message`` is fit to show the user.
    """

    def __init__(self, kind: LoginErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: LoginErrorKind = kind
        self.message = message


class ServerError(CoreError):
    """The server answered with an ``error`` frame (PROTOCOL.md, "Errors").

    ``code`` is the frame's code (``invalid``, ``forbidden``, ``conflict``...)
    and ``message`` the server's reason, fit to show the user.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class OfflineError(CoreError):
    """An online-only call (settings, agents, history) was made while offline."""

    def __init__(self, message: str = "not connected to the server") -> None:
        super().__init__(message)
        self.message = message


class InvalidTransition(CoreError):
    """The connection state machine refused a transition. Always a bug."""
