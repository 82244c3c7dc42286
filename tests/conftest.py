"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import RunningServer, start_server


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
    running = start_server(
        tmp_path,
        (
            "--rate-conn",
            "10000/20000",
            "--rate-visitor",
            "10000/20000",
            "--rate-ip",
            "100000/200000",
            "--rate-new-visitor",
            "10000/20000",
        ),
    )
    try:
        yield running
    finally:
        running.stop()
