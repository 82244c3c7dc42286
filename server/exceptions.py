"""Exceptions of the Frontdesk server.

The tree::

    FrontdeskError                 every error the server raises on purpose
     ├── ProtocolError             a request refused with one ``error`` frame
     │    │                        (``code``, ``message``, ``field``, ``ref``)
     │    ├── NotFound             not_found: no such object in the caller's scope
     │    ├── Conflict             conflict: the object's state moved on
     │    ├── Forbidden            forbidden: the object is there but not the caller's to change
     │    ├── Pending              pending: an attachment is still being scanned
     │    └── InvalidState         invalid: a session transition its state does not allow
     ├── StoreError                the store could not do what was asked
     │    ├── NotFound             (also a ProtocolError, above)
     │    ├── Conflict             (also a ProtocolError, above)
     │    ├── Forbidden            (also a ProtocolError, above)
     │    ├── Pending              (also a ProtocolError, above)
     │    ├── RateLimited          a limit kept in the store (shared by every node) is spent
     │    ├── SchemaError          the database is not at a usable schema
     │    └── Unavailable          the database cannot be written or read right now
     │                             (disk full, read-only, I/O error, connection lost)
     └── DurabilityError           the database refuses the durability settings

Whatever a request raises inside this tree becomes exactly one ``error`` frame
(PROTOCOL.md, "Errors") and the connection lives on: the connection loop
catches :class:`ProtocolError` and nothing narrower. The store raises
``NotFound`` and ``Conflict`` from inside its write transactions (the
transaction rolls back), which is why they are store errors as well.
``Unavailable`` is not a refusal of the request but a transient failure: the
connection loop answers it with the retryable ``unavailable`` and a message
without paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the protocol package imports this module, not the other way round at run time
    from .protocol import ErrorCode

__all__ = [
    "Conflict",
    "DurabilityError",
    "Forbidden",
    "FrontdeskError",
    "InvalidState",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "SchemaError",
    "StoreError",
    "Unavailable",
]


class FrontdeskError(Exception):
    """Base of every error the server raises on purpose."""


class ProtocolError(FrontdeskError):
    """A request that cannot be processed; becomes one ``error`` frame.

    ``ref`` is the request's ``ref`` when it could be read, so the client can
    match the error to its request. ``field`` names the one request field at
    fault, when there is one (PROTOCOL.md, "Errors").
    """

    def __init__(self, code: ErrorCode, message: str, ref: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref
        self.field = field


class StoreError(FrontdeskError):
    """The store could not do what was asked."""


def _code(name: str) -> ErrorCode:
    from .protocol import ErrorCode  # late: protocol imports this module

    return ErrorCode(name)


class NotFound(ProtocolError, StoreError):
    """No such object in the caller's scope (another tenant's counts as none)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(_code("not_found"), message, field=field)


class Conflict(ProtocolError, StoreError):
    """The object's state moved on; the client should re-read and decide."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(_code("conflict"), message, field=field)


class Forbidden(ProtocolError, StoreError):
    """The object exists in the caller's scope, but is not theirs to change
    (another agent's message)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(_code("forbidden"), message, field=field)


class Pending(ProtocolError, StoreError):
    """An attachment is still being scanned (PROTOCOL.md, "Attachments"): nothing was stored; resend later."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(_code("pending"), message, field=field)


class RateLimited(StoreError):
    """A budget kept in the database (so that it holds across nodes) is spent;
    nothing was stored. ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SchemaError(StoreError):
    """The database schema is missing, too old or too new for this version."""


class DurabilityError(FrontdeskError):
    """The database does not hold the durability settings the server requires."""


class Unavailable(StoreError):
    """The database cannot do this right now: the disk is full, a file or the
    database is read-only, an I/O error, a lost connection. The write may or
    may not have been stored (a failed COMMIT has an unknown outcome); the same
    request, with the same ``client_id``, may succeed later. ``str()`` names the
    file or database (for the operator); clients get the protocol's
    ``unavailable`` instead."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        #: The cause in fixed words ("disk full", "read-only", "I/O error",
        #: "database unreachable", "storage error"), for /healthz (which anyone may read).
        self.reason = reason or message


class InvalidState(ProtocolError):
    """A socket's session was asked for a transition its state does not allow
    (``hub.ClientState``): answered ``invalid``."""

    def __init__(self, message: str) -> None:
        super().__init__(_code("invalid"), message)
