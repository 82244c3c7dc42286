"""Durable storage behind one small interface, chosen by URL.

The operations are public modules grouped by aggregate (``tenants``,
``agents``, ``visitors``, ``conversations``, ``messages``, ``events``,
``jobs``, ``secrets``): functions of one transaction, run with
``await store.write(messages.post_message, …)`` or ``store.read(…)``. No
SQL is written outside this package (``tests/server/test_store_boundary.py``).

``sqlite:///var/frontdesk.db`` (a relative path) or ``sqlite:////abs/path.db``
selects the embedded SQLite store; ``postgresql://…`` the PostgreSQL store
(install the ``postgres`` extra).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from . import (
    agents,
    canned,
    conversations,
    events,
    jobs,
    labels,
    messages,
    reports,
    secrets,
    teams,
    tenants,
    visitors,
)
from ._sql import Tx, now_ms
from .base import REQUIRED_TABLES, Store

__all__ = [
    "DEFAULT_DB_URL",
    "REQUIRED_TABLES",
    "Store",
    "Tx",
    "agents",
    "canned",
    "conversations",
    "events",
    "jobs",
    "labels",
    "messages",
    "now_ms",
    "open_store",
    "reports",
    "secrets",
    "sqlite_path",
    "teams",
    "tenants",
    "visitors",
]

DEFAULT_DB_URL = "sqlite:///var/frontdesk.db"


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///…`` URL (three slashes: relative; four: absolute)."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a SQLite URL: {url!r}")
    return url[len("sqlite:///") :]


def open_store(url: str) -> Store:
    """A store for ``url``, not yet opened (call ``await store.open()``).

    Raises :class:`ValueError` for a URL no backend understands.
    """
    return _open_store(url)


def _open_store(url: str) -> Store:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url))
    if scheme in ("postgresql", "postgres"):
        try:
            from .postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ValueError(
                f"PostgreSQL support is not installed ({exc}); pip install 'frontdesk[postgres]'"
            ) from None
        store: Store = PostgresStore(url)
        return store
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://…")
