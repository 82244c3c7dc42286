"""Exceptions of the Frontdesk server.

The tree::

    FrontdeskError
     ├── StoreError              the store could not do what was asked
     │    ├── NotFound           no such object in the caller's scope
     │    ├── Conflict           the object's state moved on
     │    ├── Forbidden          the caller may not do this
     │    ├── SchemaError        the database is not at a usable schema
     │    └── Unavailable        the database cannot be written or read right now
     │                           (disk full, read-only, I/O error, connection lost)
     └── DurabilityError         the database refuses the durability settings

Handlers turn ``NotFound``, ``Conflict`` and ``Forbidden`` into the protocol's
``not_found``, ``conflict`` and ``forbidden`` error codes, and ``Unavailable``
into the retryable ``unavailable``.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "DurabilityError",
    "Forbidden",
    "FrontdeskError",
    "NotFound",
    "SchemaError",
    "StoreError",
    "Unavailable",
]


class FrontdeskError(Exception):
    """Base of every error the server raises on purpose."""


class StoreError(FrontdeskError):
    """The store could not do what was asked."""


class NotFound(StoreError):
    """No such object in the caller's scope (another tenant's counts as none)."""


class Conflict(StoreError):
    """The object's state moved on; the client should re-read and decide."""


class Forbidden(StoreError):
    """The caller is authenticated but may not do this."""


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
