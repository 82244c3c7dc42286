"""The cold-start benchmark the lead's `frontdesk bench console` calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from frontdesk.console.core.bench import measure_cold_start

from tests.support import SCALE

from .conftest import arun


def test_bench_reports_numbers_small(tmp_path: Path) -> None:
    """measure_cold_start returns timings in ms and finds search hits (small fill)."""
    result = arun(measure_cold_start(tmp_path, conversations=200, messages=2000))
    assert result["conversations"] == 200 and result["messages"] == 2000
    for key in ("fill_ms", "open_ms", "first_page_ms", "count_ms", "cold_start_ms", "search_ms"):
        assert result[key] >= 0
    assert result["search_hits"] > 0


@pytest.mark.slow
def test_cold_start_runs_at_full_size(tmp_path: Path) -> None:
    """The benchmark fills 10,000 conversations and 100,000 messages, opens the cache and finds search hits.

    How fast is for `frontdesk bench console` and docs/PERFORMANCE.md, not for a test."""
    result = arun(measure_cold_start(tmp_path), timeout=120 * SCALE)
    assert result["conversations"] == 10_000 and result["messages"] == 100_000
    assert result["search_hits"] > 0
    for key in ("open_ms", "first_page_ms", "cold_start_ms", "search_ms"):
        assert result[key] >= 0
