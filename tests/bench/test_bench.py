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
from frontdesk.server.bench._relay import replay_frame
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


def test_storm_baseline_replays_on_the_relay_side_by_side() -> None:
    """With --baseline the storm also runs on the bare relay (handshake, one frame, the replay), with a ratio."""
    code, report, err = bench(
        "catchup", "--baseline", "--catchup-events", "50", "--storm-visitors", "12", "--storm-missed", "4"
    )
    assert code == 0, err
    relay = report["workloads"]["catchup"]["relay"]
    assert set(relay) == {"storm"}  # the relay keeps nothing to catch up from
    assert relay["storm"]["complete"] is True
    assert relay["storm"]["caught_up"] == 12 and relay["storm"]["missed_each"] == 4
    assert relay["storm"]["failures"] == 0 and relay["storm"]["time_ms"] > 0
    row = next(r for r in report["summary"] if r["metric"].startswith("reconnect storm 12 × 4"))
    assert row["relay"] == relay["storm"]["time_ms"] and row["ratio"] is not None
    cpu = next(r for r in report["summary"] if r["metric"] == "reconnect storm, server CPU (s)")
    assert cpu["frontdesk"] is not None and cpu["relay"] is not None


def test_relay_replay_frame_counts_as_a_replayed_message() -> None:
    """The relay's replayed frames have the shape the storm counts (a message.created event with an event_id)."""
    frame = json.loads(replay_frame(6))
    assert frame["type"] == "event" and frame["kind"] == "message.created"
    assert frame["event_id"] == 7 and frame["data"]["body"] == "missed 6"
    assert replay_frame(6).startswith('{"type":"event","kind":"message.created"')


def test_uploads_tiny_run_measures_throughput_and_latencies() -> None:
    """uploads sends 1 MB files and plain messages alongside, and reports throughput and both latencies."""
    code, report, err = bench("uploads", "--upload-files", "4")
    assert code == 0, err
    fd = report["workloads"]["uploads"]["frontdesk"]
    assert fd["files"] == 4 and fd["upload_mb_s"] > 0
    assert fd["last_byte_to_agent_ms"]["count"] == 4
    assert fd["plain_alone_ms"]["count"] == fd["plain_with_uploads_ms"]["count"] > 0


def test_unknown_workload_is_refused() -> None:
    """An unknown workload name exits 2 with a message, before starting anything."""
    proc = subprocess.run([*BENCH, "nonsense"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "unknown workload" in proc.stderr


def test_help_lists_the_workloads() -> None:
    """`frontdesk bench --help` names every workload and the baseline option."""
    proc = subprocess.run([*BENCH, "--help"], capture_output=True, text=True, timeout=60, check=True)
    for word in (
        "latency",
        "throughput",
        "idle",
        "catchup",
        "console",
        "search",
        "uploads",
        "--baseline",
        "--json",
        "--plot",
        "--url",
    ):
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


@pytest.mark.postgres
def test_tenants_tiny_run_measures_each_shape_and_drops_its_databases() -> None:
    """bench tenants runs its three PostgreSQL shapes, acks messages in each, and leaves no scratch database."""
    from tests.server.store.conftest import PG_ADMIN_URL, require_pg

    require_pg()
    code, report, err = bench("tenants", "--pg-url", PG_ADMIN_URL, "--nodes", "2", "--writers", "2", "--duration", "1")
    assert code == 0, err
    shapes = report["tenants"]
    assert [(s["nodes"], s["tenants"]) for s in shapes.values()] == [(1, 1), (2, 2), (2, 1)]
    for shape in shapes.values():
        assert shape["msgs_per_s"] > 0 and shape["ack_ms"]["p99"] >= shape["ack_ms"]["p50"]
        assert shape["lock_wait_us_per_msg"] >= 0 and shape["db_transaction_us_per_msg"] > 0
    import psycopg

    with psycopg.connect(PG_ADMIN_URL) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'frontdesk_bench_%'").fetchall()
    assert left == []


def test_tenants_without_a_database_url_says_what_it_needs() -> None:
    """bench tenants without --pg-url exits 2 and names the option."""
    proc = subprocess.run([*BENCH, "tenants"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "--pg-url" in proc.stderr


@pytest.mark.postgres
def test_latency_with_a_postgres_url_runs_one_node_on_postgresql_beside_sqlite() -> None:
    """--pg-url adds a PostgreSQL node to latency: it delivers everything, is summarized beside SQLite, and its
    scratch database is dropped."""
    from tests.server.store.conftest import PG_ADMIN_URL, require_pg

    require_pg()
    args = ("latency", "--visitors", "5", "--agents", "1", "--rate", "50", "--duration", "1", "--pg-url", PG_ADMIN_URL)
    code, report, err = bench(*args)
    assert code == 0, err
    pg = report["workloads"]["latency"]["postgres"]
    assert pg["sent"] == 50 and pg["lost"] == 0 and pg["duplicates"] == 0
    assert any(row["metric"] == "visitor→agent p99 on PostgreSQL (ms)" for row in report["summary"])
    import psycopg

    with psycopg.connect(PG_ADMIN_URL) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'frontdesk_bench_%'").fetchall()
    assert left == []


def _check_search_report(report: dict[str, Any], backend: str) -> None:
    res = report["workloads"]["search"]["frontdesk"]
    assert res["backend"] == backend and res["messages"] == 400 and res["conversations"] == 20
    assert set(res["latency_ms"]) == {"all", "common", "rare", "prefix", "narrowed"}
    assert res["latency_ms"]["all"]["count"] == len(res["queries"])
    assert res["hits_per_query"]["the"] > 0 and res["hits_per_query"]["zzqxv"] == 0
    assert any(r["metric"].endswith("all p50 / p99 (ms)") for r in report["summary"])


def test_search_tiny_run_loads_through_the_store_and_times_each_query_class() -> None:
    """`bench search` loads a tiny data set into SQLite, serves it, and reports p50/p99 per query class."""
    code, report, err = bench("search", "--search-messages", "400", "--search-rounds", "1")
    assert code == 0, err
    _check_search_report(report, "sqlite")


@pytest.mark.postgres
def test_search_tiny_run_on_postgres() -> None:
    """`bench search --search-db postgresql://…` does the same on an empty PostgreSQL database."""
    from tests.server.store.conftest import create_pg_database, drop_pg_database, require_pg

    require_pg()
    url = create_pg_database()
    try:
        code, report, err = bench("search", "--search-messages", "400", "--search-rounds", "1", "--search-db", url)
    finally:
        drop_pg_database(url)
    assert code == 0, err
    _check_search_report(report, "postgresql")
