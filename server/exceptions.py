"""Exceptions of the Frontdesk server.

The tree::

    FrontdeskError
     ├── StoreError              the store could not do what was asked
     │    ├── NotFound           no such object in the caller's scope
     │    ├── Conflict           the object's state moved on
     │    ├── Forbidden          the caller may not do this
     │    ├── RateLimited        a limit kept in the store (shared by every node) is spent
     │    └── SchemaError        the database is not at a usable schema
     └── DurabilityError         the database refuses the durability settings

Handlers turn ``NotFound``, ``Conflict`` and ``Forbidden`` into the protocol's
``not_found``, ``conflict`` and ``forbidden`` error codes.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "DurabilityError",
    "Forbidden",
    "FrontdeskError",
    "NotFound",
    "RateLimited",
    "SchemaError",
    "StoreError",
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
