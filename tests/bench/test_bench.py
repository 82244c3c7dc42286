"""`frontdesk bench` end to end on tiny workloads: it runs and its output is
well formed. No timing is asserted here: a benchmark is not a test
(docs/PERFORMANCE.md has the figures)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server.bench._stats import cdf_points, summary_ms

BENCH = [sys.executable, "-m", "frontdesk.server.cli", "bench"]


def bench(*args: str, timeout: float = 240) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [*BENCH, *args, "--json", "--no-progress"], capture_output=True, text=True, timeout=timeout, check=False
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"not JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None
    return proc.returncode, report, proc.stderr


def test_latency_tiny_run_gives_well_formed_json() -> None:
    """A tiny latency run starts its own server, delivers every message to every agent, and reports it as JSON."""
    code, report, err = bench("latency", "--visitors", "5", "--agents", "1", "--rate", "50", "--duration", "1")
    assert code == 0, err
    res = report["workloads"]["latency"]["frontdesk"]
    assert res["sent"] == 50
    assert res["deliveries_expected"] == 50
    assert res["lost"] == 0 and res["duplicates"] == 0
    assert res["acks"] == 50 and res["errors"] == 0
    for key in ("p50", "p95", "p99", "max"):
        assert res["latency_ms"][key] >= 0
    assert set(res["ack_ms"]) >= {"p50", "p99"}
    assert isinstance(res["server_cpu"], float) and isinstance(res["generator_cpu"], float)
    assert isinstance(res["valid"], bool)
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu_model"]
    assert report["machine"]["fsync_ms"]["p50"] >= 0
    metrics = {row["metric"] for row in report["summary"]}
    assert "visitor→agent p99 (ms)" in metrics and "deliveries lost" in metrics


def test_baseline_runs_the_relay_side_by_side(tmp_path: Path) -> None:
    """--baseline runs latency and idle against the bare relay too, with ratios; --plot draws the CDF."""
    plot = tmp_path / "cdf.png"
    code, report, err = bench(
        "latency", "idle", "--baseline", "--visitors", "3", "--agents", "2", "--rate", "30", "--duration", "1",
        "--idle-visitors", "30", "--plot", str(plot),
    )  # fmt: skip
    assert code == 0, err
    lat = report["workloads"]["latency"]
    assert lat["relay"]["lost"] == 0 and lat["relay"]["deliveries"] == 60
    assert lat["relay"]["acks"] is None  # the relay acks nothing
    idle = report["workloads"]["idle"]
    for side in ("frontdesk", "relay"):
        assert idle[side]["connections"] == 30 and idle[side]["closed_by_server"] == 0
        assert isinstance(idle[side]["rss_per_connection_bytes"], int)
    p99 = next(r for r in report["summary"] if r["metric"] == "visitor→agent p99 (ms)")
    assert p99["relay"] is not None and p99["ratio"] is not None
    if report["plot"] == str(plot):  # PySide6 present (the dev install has it)
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_catchup_and_storm_tiny_run() -> None:
    """catchup replays every missed event to a reconnecting agent, and the storm catches every visitor up."""
    code, report, err = bench("catchup", "--catchup-events", "200", "--storm-visitors", "10", "--storm-missed", "3")
    assert code == 0, err
    fd = report["workloads"]["catchup"]["frontdesk"]
    assert fd["catchup"]["caught_up"] is True and fd["catchup"]["reset_required"] is False
    assert fd["catchup"]["events_missed"] >= 200
    assert fd["storm"]["complete"] is True
    assert fd["storm"]["caught_up"] == 10 and fd["storm"]["failures"] == 0


def test_unknown_workload_is_refused() -> None:
    """An unknown workload name exits 2 with a message, before starting anything."""
    proc = subprocess.run([*BENCH, "nonsense"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "unknown workload" in proc.stderr


def test_help_lists_the_workloads() -> None:
    """`frontdesk bench --help` names every workload and the baseline option."""
    proc = subprocess.run([*BENCH, "--help"], capture_output=True, text=True, timeout=60, check=True)
    for word in ("latency", "throughput", "idle", "catchup", "console", "--baseline", "--json", "--plot", "--url"):
        assert word in proc.stdout


def test_summary_percentiles_are_nearest_rank() -> None:
    """summary_ms takes nearest-rank percentiles in ms; cdf_points ends at fraction 1."""
    ns = [i * 1_000_000 for i in range(1, 101)]  # 1..100 ms
    s = summary_ms(ns)
    assert s is not None
    assert (s["p50"], s["p99"], s["max"], s["count"]) == (50.0, 99.0, 100.0, 100)
    assert summary_ms([]) is None
    pts = cdf_points(ns, points=10)
    assert pts[-1] == (100.0, 1.0)
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(pts))


@pytest.mark.parametrize("args", [["--rate", "0"], ["--rates", "x,y"], ["--visitors", "0"]])
def test_bad_options_are_refused(args: list[str]) -> None:
    """Nonsense load options stop the run with a message instead of a traceback."""
    proc = subprocess.run([*BENCH, "latency", *args], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr


def test_console_workload_runs_the_console_as_a_process() -> None:
    """`bench console` fills a cache with `frontdesk-console --bench-cache`, then times warm and cold starts of
    `frontdesk-console --bench-first-paint` to the first painted inbox; the server never imports the console."""
    code, report, err = bench(
        "console", "--console-conversations", "30", "--console-messages", "120", "--console-runs", "1"
    )
    assert code == 0, err
    res = report["workloads"]["console"]["frontdesk"]
    assert res["available"] is True, res
    assert "note" not in res, res
    assert res["conversations"] == 30 and res["messages"] == 120 and res["search_hits"] >= 0
    assert res["warm_start_ms"] > 0 and res["cold_start_ms"] > 0 and res["warm_start_cpu_ms"] > 0
    assert res["inbox_rows_painted"] > 0 and res["evicted_mb"] > 0
