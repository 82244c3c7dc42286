"""Fixtures for the store contract suite: one fresh database per test, on
every backend (SQLite in a temp file; PostgreSQL in a database created for the
test on the local server and dropped afterwards)."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

#: A PostgreSQL URL of a role that may CREATE DATABASE (its own database is
#: only used to create and drop the test databases).
PG_ADMIN_URL = os.environ.get("FRONTDESK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@functools.cache
def pg_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'frontdesk[postgres]')"
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split())
        return f"no PostgreSQL reachable at {PG_ADMIN_URL} (set FRONTDESK_TEST_PG_URL): {detail}"
    return None


def _with_db(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def create_pg_database() -> str:
    """A new empty database ``frontdesk_test_<random>``; its URL."""
    import psycopg

    name = f"frontdesk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return _with_db(PG_ADMIN_URL, name)


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rpartition("/")[2]
    assert name.startswith("frontdesk_test_")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def require_pg() -> None:
    """Skip the calling test when PostgreSQL is unreachable; in CI, fail it instead.

    ``make test`` must exercise the PostgreSQL backend wherever CI runs it, so a
    CI machine without a reachable server is an error, not a quiet skip.
    """
    reason = pg_unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but the PostgreSQL tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield request.getfixturevalue("pg_url")
