"""Cold-start benchmark of the console cache (``frontdesk bench console``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["measure_cold_start"]


async def measure_cold_start(tmp_dir: Path) -> dict[str, Any]:
    """Fill a cache with 10,000 conversations and 100,000 messages, then time
    a cold open plus the first inbox page, and a full-text search.

    Returns ``{"conversations", "messages", "fill_ms", "open_ms",
    "first_page_ms", "cold_start_ms", "search_ms", "search_hits"}``; the
    target is ``cold_start_ms <= 1000``.
    """
    raise NotImplementedError
