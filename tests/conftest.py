"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.store.conftest import create_pg_database, drop_pg_database, require_pg
from tests.support import RELAXED_LIMITS, RunningServer, start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A real ``frontdesk serve`` on a free port with a fresh demo tenant."""
    running = start_server(tmp_path)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def relaxed_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server whose rate limits do not get in the way of load tests."""
    running = start_server(tmp_path, RELAXED_LIMITS)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test (skips when there is no server; fails in CI)."""
    require_pg()
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)
