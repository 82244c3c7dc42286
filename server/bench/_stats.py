"""Percentiles and the progress bar."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from typing import TextIO

__all__ = ["Progress", "cdf_points", "summary_ms"]


def _pct(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of an ascending sequence (q in 0..100)."""
    if not sorted_values:
        return 0
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def summary_ms(samples_ns: Iterable[int], percentiles: Sequence[float] = (50, 95, 99)) -> dict[str, float] | None:
    """p50/p95/p99/max/mean in milliseconds (3 decimals), or None without samples."""
    values = sorted(samples_ns)
    if not values:
        return None
    out = {f"p{q:g}": round(_pct(values, q) / 1e6, 3) for q in percentiles}
    out["max"] = round(values[-1] / 1e6, 3)
    out["mean"] = round(sum(values) / len(values) / 1e6, 3)
    out["count"] = len(values)
    return out


def cdf_points(samples_ns: Iterable[int], points: int = 400) -> list[tuple[float, float]]:
    """(latency ms, fraction ≤ it) at ``points`` quantiles, plus the tail."""
    values = sorted(samples_ns)
    if not values:
        return []
    n = len(values)
    qs = sorted({*(i / points for i in range(1, points + 1)), 0.99, 0.999, 0.9999})
    out = []
    for q in qs:
        idx = min(n - 1, max(0, int(q * n) - 1))
        out.append((values[idx] / 1e6, (idx + 1) / n))
    return out


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._last = 0.0
        self._label = ""

    def begin(self, label: str) -> None:
        self._label = label
        self._last = 0.0
        self.update(0.0, "")

    def update(self, fraction: float, text: str, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        width = 24
        filled = int(max(0.0, min(1.0, fraction)) * width)
        bar = "█" * filled + "·" * (width - filled)
        line = f"\r{self._label:<28} [{bar}] {fraction * 100:5.1f}% {text}"
        self.stream.write(line[:160].ljust(120))
        self.stream.flush()

    def end(self, text: str = "done") -> None:
        if not self.enabled:
            return
        self.update(1.0, text, force=True)
        self.stream.write("\n")
        self.stream.flush()
