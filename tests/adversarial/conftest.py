"""Fixtures for the adversarial suite (the shared ``server`` and
``relaxed_server`` come from ``tests/conftest.py``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import RELAXED_LIMITS, RunningServer, start_server


@pytest.fixture
def proxy_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server with the default limits behind a trusted proxy, so tests can
    speak from many client addresses through ``X-Forwarded-For``."""
    running = start_server(tmp_path, ("--trust-proxy",))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def module_relaxed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One relaxed server shared by a module's tests (Hypothesis cannot use
    function-scoped fixtures)."""
    running = start_server(tmp_path_factory.mktemp("shared"), RELAXED_LIMITS)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect garbage after each test, so an unclosed socket's ResourceWarning
    fails the test that leaked it, not whichever test runs the next collection."""
    yield
    gc.collect()
