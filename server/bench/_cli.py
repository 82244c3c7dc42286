"""``frontdesk bench``: options, the run, the summary table and the JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from . import _targets, _workloads
from ._stats import Progress, cdf_points
from ._targets import Target
from ._workloads import BenchError, LoadOptions

__all__ = ["main"]

JSON = dict[str, Any]
WORKLOADS = ("latency", "throughput", "idle", "catchup", "console", "search", "uploads")
#: Workloads that --baseline also runs against the bare relay.
BASELINED = ("latency", "throughput", "idle", "catchup")
#: Workloads that --pg-url also runs against one node on a scratch PostgreSQL database.
ON_POSTGRES = ("latency", "throughput")

EPILOG = """\
workloads (default: all of them):
  latency     500 visitors, 5 agents, 2,000 msgs/s open loop for 30 s; every message to every agent
  throughput  the same shape, the rate raised step by step: best rate with p99 <= 50 ms and 0 lost
  idle        10,000 idle visitors past hello: server RSS per connection
  catchup     an agent offline for 10,000 events: reconnect to caught up; and a reconnect storm
              of 5,000 visitors resuming with 20 missed messages each
  console     the console's start to its first painted inbox, warm and cold (frontdesk-console as a process)
  tenants     (alone, with --pg-url) PostgreSQL: 1 node × 1 tenant, N nodes × N tenants, N nodes × 1 tenant
  search      1,000,000 messages loaded through the store, then the agents' search request timed
              over common, rare, prefix and status-narrowed queries (--search-db for PostgreSQL)
  reports     (alone) 1,000,000 messages over a year, the reporting facts rebuilt from their events, then
              report.get timed over 30 days and a year; --callgrind N: instructions per message, reporting on/off

examples:
  frontdesk bench --baseline                       every workload, with the relay side by side
  frontdesk bench latency --rate 500 --duration 10 --json
  frontdesk bench latency --visitors 5 --agents 1 --rate 50 --duration 1
  frontdesk bench throughput --baseline --plot docs/perf/latency-cdf.png
  frontdesk bench search --search-db postgresql://127.0.0.1/empty_db
  frontdesk bench reports --callgrind 2000
  frontdesk bench reports --reports-keep /tmp/reports.db   build once, then re-time the queries on it
"""


def _parser() -> argparse.ArgumentParser:
    d = LoadOptions()
    p = argparse.ArgumentParser(
        prog="frontdesk bench",
        description="Load-test Frontdesk through its public protocol with real WebSocket clients. Starts a "
        "server on a fresh temporary SQLite database (synchronous=FULL) unless --url is given.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD", help=f"any of {', '.join(WORKLOADS)} (default: all)")
    p.add_argument("--baseline", action="store_true", help="also run latency/throughput/idle/storm on a bare relay")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the table")
    p.add_argument("--plot", metavar="FILE.png", help="draw the latency CDF (with the baseline) to this PNG")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    g = p.add_argument_group("target (default: start a server on a temporary database)")
    g.add_argument(
        "--db-dir",
        metavar="DIR",
        help="where the temporary database goes (default: the system temp dir). Its fsync latency is reported: "
        "with synchronous=FULL every ack waits for one",
    )
    g.add_argument("--url", help="benchmark a running server instead, ws://HOST:PORT")
    g.add_argument("--site-key", help="with --url: the tenant's site key")
    g.add_argument("--email", help="with --url: an agent's email")
    g.add_argument("--password", help="with --url: that agent's password")
    g = p.add_argument_group("tenants (PostgreSQL, store level; not part of 'all')")
    g.add_argument(
        "--pg-url",
        metavar="URL",
        help="a PostgreSQL URL whose role may CREATE DATABASE (a scratch database is made and dropped): tenants"
        " needs it, and latency/throughput then also run one node on PostgreSQL beside the SQLite one",
    )
    g.add_argument("--nodes", type=int, default=3, help="tenants: nodes in the multi-node shapes (%(default)s)")
    g.add_argument("--writers", type=int, default=20, help="tenants: closed-loop writers per node (%(default)s)")
    g = p.add_argument_group("load shape")
    g.add_argument("--visitors", type=int, default=d.visitors, help="latency/throughput visitors (%(default)s)")
    g.add_argument("--agents", type=int, default=d.agents, help="latency/throughput agents (%(default)s)")
    g.add_argument("--rate", type=float, default=d.rate, help="latency: messages/s in aggregate (%(default)s)")
    g.add_argument("--duration", type=float, default=d.duration, help="latency: seconds (%(default)s)")
    g.add_argument(
        "--rates",
        default=",".join(f"{r:g}" for r in d.rates),
        help="throughput: the rates to step through, comma-separated (%(default)s)",
    )
    g.add_argument("--step-duration", type=float, default=d.step_duration, help="throughput: s per step (%(default)s)")
    g.add_argument("--p99-limit", type=float, default=d.p99_limit_ms, help="throughput: p99 bound, ms (%(default)s)")
    g.add_argument("--idle-visitors", type=int, default=d.idle_visitors, help="idle: connections (%(default)s)")
    g.add_argument("--catchup-events", type=int, default=d.catchup_events, help="catchup: events (%(default)s)")
    g.add_argument("--storm-visitors", type=int, default=d.storm_visitors, help="storm: visitors (%(default)s)")
    g.add_argument("--storm-missed", type=int, default=d.storm_missed, help="storm: missed each (%(default)s)")
    g.add_argument(
        "--console-conversations",
        type=int,
        default=d.console_conversations,
        help="console: conversations cached (%(default)s)",
    )
    g.add_argument(
        "--console-messages", type=int, default=d.console_messages, help="console: messages cached (%(default)s)"
    )
    g.add_argument(
        "--console-runs", type=int, default=d.console_runs, help="console: warm and cold starts each (%(default)s)"
    )
    g.add_argument(
        "--search-messages", type=int, default=d.search_messages, help="search: messages loaded (%(default)s)"
    )
    g.add_argument(
        "--search-rounds", type=int, default=d.search_rounds, help="search: times each query is sent (%(default)s)"
    )
    g.add_argument(
        "--upload-files", type=int, default=d.upload_files, help="uploads: 1 MB files uploaded (%(default)s)"
    )
    g.add_argument(
        "--search-db",
        metavar="URL",
        help="search: load into this EMPTY database (e.g. postgresql://…) instead of a temporary SQLite file",
    )
    g = p.add_argument_group("reports (not part of 'all')")
    g.add_argument("--reports-messages", type=int, default=1_000_000, help="reports: messages loaded (%(default)s)")
    g.add_argument("--reports-rounds", type=int, default=5, help="reports: times each report is asked (%(default)s)")
    g.add_argument(
        "--reports-db", metavar="URL", help="reports: load into this EMPTY database instead of a temporary SQLite file"
    )
    g.add_argument(
        "--reports-keep",
        metavar="PATH",
        help="reports: build the data set in this SQLite file and keep it; if it was built already, reuse it"
        " (only the queries are timed)",
    )
    g.add_argument(
        "--callgrind",
        type=int,
        default=0,
        metavar="N",
        help="reports: also count instructions per message over N messages, reporting on and off (valgrind)",
    )
    return p


def _options(args: argparse.Namespace) -> LoadOptions:
    try:
        rates = tuple(float(r) for r in args.rates.split(",") if r.strip())
    except ValueError:
        raise SystemExit(f"frontdesk bench: --rates must be numbers separated by commas, not {args.rates!r}") from None
    for name in (
        "visitors",
        "agents",
        "idle_visitors",
        "storm_visitors",
        "storm_missed",
        "catchup_events",
        "console_conversations",
        "console_messages",
        "console_runs",
        "search_messages",
        "search_rounds",
    ):
        if getattr(args, name) < 1:
            raise SystemExit(f"frontdesk bench: --{name.replace('_', '-')} must be at least 1")
    if args.rate <= 0 or args.duration <= 0 or not rates:
        raise SystemExit("frontdesk bench: --rate, --duration and --rates must be positive")
    return LoadOptions(
        visitors=args.visitors,
        agents=args.agents,
        rate=args.rate,
        duration=args.duration,
        rates=rates,
        step_duration=args.step_duration,
        p99_limit_ms=args.p99_limit,
        idle_visitors=args.idle_visitors,
        catchup_events=args.catchup_events,
        storm_visitors=args.storm_visitors,
        storm_missed=args.storm_missed,
        console_conversations=args.console_conversations,
        console_messages=args.console_messages,
        console_runs=args.console_runs,
        search_messages=args.search_messages,
        search_rounds=args.search_rounds,
        upload_files=args.upload_files,
    )


class _Runner:
    def __init__(self, args: argparse.Namespace, opts: LoadOptions, progress: Progress) -> None:
        self.args = args
        self.opts = opts
        self.progress = progress
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        # Server on one core, this process (the load generator) on another.
        self.server_cpu: int | None = cores[0] if len(cores) >= 2 else None
        self.generator_cpu: int | None = cores[1] if len(cores) >= 2 else None
        if self.generator_cpu is not None:
            _targets.pin(0, self.generator_cpu)

    def target(self, kind: str) -> Target:
        if kind == "relay":
            return _targets.start_relay(self.server_cpu)
        if kind == "postgres":
            return _targets.start_frontdesk(self.server_cpu, pg_admin_url=self.args.pg_url)
        if self.args.url:
            return _targets.remote_frontdesk(self.args.url, self.args.site_key, self.args.email, self.args.password)
        return _targets.start_frontdesk(self.server_cpu, self.args.db_dir)

    def run(self, kind: str, fn: Callable[[Target, LoadOptions, Progress], Coroutine[Any, Any, JSON]]) -> JSON:
        try:
            target = self.target(kind)
        except (RuntimeError, OSError, ValueError) as exc:
            return {"error": f"could not start the {kind}: {exc}"}
        try:
            result = asyncio.run(fn(target, self.opts, self.progress))
            if target.process is not None and target.process.poll() is not None:
                result["error"] = f"the {kind} exited during the run:\n{target.log_tail()}"
            return result
        except (BenchError, OSError, TimeoutError) as exc:
            self.progress.end("failed")
            tail = target.log_tail()
            return {"error": f"{type(exc).__name__}: {exc}" + (f"\nserver log:\n{tail}" if tail else "")}
        finally:
            target.stop()


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return round(a / b, 2)


def _cpu_s(part: JSON | None) -> float | None:
    """Server CPU seconds spent in a timed part (its ``server_cpu`` cores times its ``wall_s``)."""
    cores, wall = _get(part, "server_cpu"), _get(part, "wall_s")
    return None if cores is None or wall is None else round(cores * wall, 2)


def _get(d: JSON | None, *keys: str) -> Any:
    cur: Any = d
    for k in keys:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(k)
    return cur


def _rows(report: JSON) -> list[JSON]:
    """The summary: one row per figure, with the relay's figure, the ratio and the target."""
    rows: list[JSON] = []
    w = report["workloads"]

    def add(
        workload: str,
        metric: str,
        fd: Any,
        relay: Any = None,
        *,
        target: str = "",
        ok: bool | None = None,
        ratio: float | None = None,
        ratio_ok: bool | None = None,
    ) -> None:
        rows.append(
            {
                "workload": workload,
                "metric": metric,
                "frontdesk": fd,
                "relay": relay,
                "ratio": ratio,
                "target": target,
                "ok": ok if ratio_ok is None else (ok is not False and ratio_ok),
            }
        )

    if "latency" in w:
        fd, rl = w["latency"].get("frontdesk"), w["latency"].get("relay")
        valid = bool(_get(fd, "valid"))
        for q, tgt in (("p50", 1.0), ("p95", None), ("p99", 5.0), ("max", None)):
            a, b = _get(fd, "latency_ms", q), _get(rl, "latency_ms", q)
            r = _ratio(a, b)
            ok = None if a is None or tgt is None or not valid else a <= tgt
            target = f"≤ {tgt:g} ms" if tgt else ""
            ratio_ok = None
            if q == "p99" and r is not None:
                target += ", ≤ 2× relay"
                ratio_ok = r <= 2
            add("latency", f"visitor→agent {q} (ms)", a, b, target=target, ok=ok, ratio=r, ratio_ok=ratio_ok)
        add("latency", "ack p50 (ms)", _get(fd, "ack_ms", "p50"))
        add("latency", "ack p99 (ms)", _get(fd, "ack_ms", "p99"))
        lost = _get(fd, "lost")
        add("latency", "deliveries lost", lost, _get(rl, "lost"), target="0", ok=None if lost is None else lost == 0)
        add(
            "latency",
            "server CPU (cores)",
            _get(fd, "server_cpu"),
            _get(rl, "server_cpu"),
            ratio=_ratio(_get(fd, "server_cpu"), _get(rl, "server_cpu")),
        )
        add(
            "latency",
            "generator CPU (cores)",
            _get(fd, "generator_cpu"),
            _get(rl, "generator_cpu"),
            target=f"< {_workloads.GENERATOR_SATURATED:g} (else invalid)",
            ok=None if fd is None or "valid" not in fd else valid,
        )
    if "throughput" in w:
        fd, rl = w["throughput"].get("frontdesk"), w["throughput"].get("relay")
        a, b = _get(fd, "best_rate"), _get(rl, "best_rate")
        r = _ratio(a, b)
        add(
            "throughput",
            "best msgs/s (p99 ≤ limit, 0 lost)",
            a,
            b,
            target="≥ 10000, ≥ 0.7× relay",
            ok=None if a is None else a >= 10000,
            ratio=r,
            ratio_ok=None if r is None else r >= 0.7,
        )
        a, b = _get(fd, "best_deliveries_per_s"), _get(rl, "best_deliveries_per_s")
        add(
            "throughput",
            "deliveries/s at that rate",
            a,
            b,
            target="≥ 50000",
            ok=None if a is None else a >= 50000,
            ratio=_ratio(a, b),
        )
    for workload, metric, keys in (
        ("latency", "visitor→agent p99 on PostgreSQL (ms)", ("latency_ms", "p99")),
        ("latency", "server CPU on PostgreSQL (cores)", ("server_cpu",)),
        ("throughput", "best msgs/s on PostgreSQL, one node", ("best_rate",)),
    ):
        pg = _get(w.get(workload), "postgres")
        if pg is None:
            continue
        a, b = _get(pg, *keys), _get(w[workload].get("frontdesk"), *keys)
        r = _ratio(a, b)
        if workload == "throughput":
            add(
                workload,
                metric,
                a,
                b,
                target="≥ 0.8× SQLite (relay column: SQLite)",
                ratio=r,
                ok=None if r is None else r >= 0.8,
            )
        else:
            add(workload, metric, a, b, target="relay column: SQLite", ratio=r)
    if "idle" in w:
        fd, rl = w["idle"].get("frontdesk"), w["idle"].get("relay")
        a, b = _get(fd, "rss_per_connection_kib"), _get(rl, "rss_per_connection_kib")
        r = _ratio(a, b)
        add(
            "idle",
            "RSS per connection (KiB)",
            a,
            b,
            target="≤ 16 KiB, ≤ 1.5× relay",
            ok=None if a is None else a <= 16,
            ratio=r,
            ratio_ok=None if r is None else r <= 1.5,
        )
    if "catchup" in w:
        fd = w["catchup"].get("frontdesk")
        a = _get(fd, "catchup", "time_ms")
        add(
            "catchup",
            f"agent catch-up, {_get(fd, 'catchup', 'events_missed')} events (ms)",
            a,
            target="≤ 1000 ms",
            ok=None if a is None else a <= 1000,
        )
        a, b = _get(fd, "storm", "time_ms"), _get(w["catchup"].get("relay"), "storm", "time_ms")
        add(
            "catchup",
            f"reconnect storm {_get(fd, 'storm', 'visitors')} × {_get(fd, 'storm', 'missed_each')} (ms)",
            a,
            b,
            target="≤ 2000 ms",
            ok=None if a is None else a <= 2000,
            ratio=_ratio(a, b),
        )
        add(
            "catchup",
            "reconnect storm, server CPU (s)",
            _cpu_s(_get(fd, "storm")),
            _cpu_s(_get(w["catchup"].get("relay"), "storm")),
            ratio=_ratio(_cpu_s(_get(fd, "storm")), _cpu_s(_get(w["catchup"].get("relay"), "storm"))),
        )
    if "console" in w:
        c = w["console"].get("frontdesk") or {}
        if not c.get("available"):
            add("console", "cold start / FTS", "not available")
        elif c.get("cold_start_ms") is not None:
            add(
                "console",
                "cold start to the first painted inbox (ms)",
                c["cold_start_ms"],
                target="≤ 1000 ms",
                ok=c["cold_start_ms"] <= 1000,
            )
            add(
                "console",
                "warm start to the first painted inbox (ms)",
                c["warm_start_ms"],
                target="≤ 500 ms",
                ok=c["warm_start_ms"] <= 500,
            )
        for k, v in c.items():
            if k not in ("available", "cold_start_ms", "warm_start_ms") and isinstance(v, int | float):
                add("console", k, v)
    if "search" in w:
        fd = w["search"].get("frontdesk") or {}
        for cls, figures in (_get(fd, "latency_ms") or {}).items():
            p99 = _get(figures, "p99")
            add(
                "search",
                f"{_get(fd, 'backend')} {_get(fd, 'messages'):,} msgs, {cls} p50 / p99 (ms)",
                f"{_fmt(_get(figures, 'p50'))} / {_fmt(p99)}",
                target="p99 ≤ 100 ms" if cls == "all" else "",
                ok=None if cls != "all" or p99 is None else p99 <= 100,
            )
    if "uploads" in w:
        fd = w["uploads"].get("frontdesk") or {}
        add("uploads", f"{_fmt(_get(fd, 'files'))} files of 1 MB, MB/s", _get(fd, "upload_mb_s"))
        add(
            "uploads",
            "last byte → agent p50 / p99 (ms)",
            f"{_fmt(_get(fd, 'last_byte_to_agent_ms', 'p50'))} / {_fmt(_get(fd, 'last_byte_to_agent_ms', 'p99'))}",
        )
        alone, along = _get(fd, "plain_alone_ms", "p99"), _get(fd, "plain_with_uploads_ms", "p99")
        add(
            "uploads",
            "plain message p99 alone / with uploads (ms)",
            f"{_fmt(alone)} / {_fmt(along)}",
            target="≤ 2× alone",
            ok=None if alone is None or along is None else along <= max(2 * alone, alone + 5),
        )
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _table(report: JSON) -> str:
    rows = _rows(report)
    head = ["workload", "metric", "frontdesk", "relay", "ratio", "target", ""]
    body = [
        [
            r["workload"],
            r["metric"],
            _fmt(r["frontdesk"]),
            _fmt(r["relay"]),
            "" if r["ratio"] is None else f"{r['ratio']:g}×",
            r["target"],
            {True: "✓", False: "✗", None: ""}[r["ok"]],
        ]
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in [head, *body]]
    lines.insert(1, "  ".join("-" * wd for wd in widths))
    m = report["machine"]
    notes = [
        f"machine: {m['cores']} cores, {m['cpu_model']}, load {m['loadavg_at_start']} at start; {m['date_utc']}",
        f"pinning: {report['pinning']}",
    ]
    if m.get("fsync_ms"):
        f = m["fsync_ms"]
        notes.append(
            f"fsync of a 4 KiB write in {f['directory']}: p50 {f['p50']} ms, p99 {f['p99']} ms"
            " (every ack waits for one: synchronous=FULL)"
        )
    for name, sides in report["workloads"].items():
        for side, res in sides.items():
            if not isinstance(res, dict):
                continue
            for part in (res, res.get("catchup"), res.get("storm")):
                if isinstance(part, dict) and part.get("error"):
                    notes.append(f"{name} ({side}) FAILED: {part['error']}")
            for sub in (res, *(res.get("steps") or [])):
                if isinstance(sub, dict) and sub.get("valid") is False:
                    notes.append(f"{name} ({side}) at {sub.get('rate')}/s INVALID: {sub.get('invalid_reason')}")
            if res.get("stop_reason"):
                notes.append(f"{name} ({side}): {res['stop_reason']}")
            if res.get("warning"):
                notes.append(f"{name} ({side}): {res['warning']}")
            if res.get("broken"):
                notes.append(f"{name} ({side}): {res['broken']}")
    return "\n".join([*lines, "", *notes])


def main(argv: list[str]) -> int:
    """Entry point of ``frontdesk bench ARGS…``; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.workloads == ["tenants"]:
        return _tenants_main(args, argv)
    if args.workloads == ["reports"]:
        return _reports_main(args, argv)
    unknown = [w for w in args.workloads if w not in (*WORKLOADS, "all")]
    if unknown:
        print(f"frontdesk bench: unknown workload {unknown[0]!r}; choose from {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2
    if args.url and not (args.site_key and args.email and args.password):
        print("frontdesk bench: --url needs --site-key, --email and --password", file=sys.stderr)
        return 2
    workloads = [w for w in WORKLOADS if not args.workloads or "all" in args.workloads or w in args.workloads]
    opts = _options(args)
    progress = Progress(not args.no_progress)
    nofile = _targets.raise_nofile()
    machine = _targets.machine_info()  # before pinning narrows this process to one core
    if not args.url:
        machine["fsync_ms"] = _targets.fsync_ms(args.db_dir)
    runner = _Runner(args, opts, progress)
    report: JSON = {
        "command": "frontdesk bench " + " ".join(argv),
        "machine": machine,
        "pinning": {"server_cpu": runner.server_cpu, "generator_cpu": runner.generator_cpu},
        "open_file_limit": nofile[0],
        "target": args.url or "a fresh server on a temporary SQLite database (synchronous=FULL)",
        "workloads": {},
    }
    started = time.monotonic()
    samples: dict[str, Any] = {}
    for name in workloads:
        sides: JSON = {}
        kinds = ["frontdesk", "relay"] if args.baseline and name in BASELINED else ["frontdesk"]
        if args.pg_url and name in ON_POSTGRES:
            kinds.insert(1, "postgres")  # the same workload on one node on PostgreSQL, side by side
        for kind in kinds:
            if name == "latency":
                res = runner.run(kind, _workloads.latency)
                samples[kind] = res.pop("_latency_samples", None)
                if kind == "postgres":
                    samples.pop(kind, None)  # the CDF plot compares the SQLite server with the relay
            elif name == "throughput":
                res = runner.run(kind, _workloads.throughput)
            elif name == "idle":
                need = opts.idle_visitors + 200
                if nofile[0] < need:
                    res = {"error": f"the open-file limit is {nofile[0]} (hard limit); idle needs {need}"}
                else:
                    res = runner.run(kind, _workloads.idle)
            elif name == "catchup" and kind == "relay":
                res = {"storm": runner.run(kind, _workloads.relay_storm)}  # the relay has nothing to catch up
            elif name == "catchup":
                # Each on a fresh server, so neither sees the other's data.
                res = {
                    "catchup": runner.run(kind, _workloads.catchup),
                    "storm": runner.run(kind, _workloads.storm),
                }
            elif name == "search":
                res = _search_workload(args, opts, runner, progress)
            elif name == "uploads":
                from ._uploads import uploads

                res = runner.run(kind, uploads)
            else:
                res = _workloads.console(opts, progress)
            sides[kind] = res
        report["workloads"][name] = sides
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    report["summary"] = _rows(report)
    if args.plot:
        report["plot"] = _plot(args.plot, samples)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(_table(report))
        if args.plot:
            print(f"plot: {report['plot']}")
    return 1 if _errors(report) else 0


def _tenants_main(args: argparse.Namespace, argv: list[str]) -> int:
    """``frontdesk bench tenants``: PostgreSQL throughput with nodes and tenants (server/bench/_tenants.py)."""
    from ._tenants import tenants

    if not args.pg_url:
        print(
            "frontdesk bench tenants: needs --pg-url postgresql://… (a role that may CREATE DATABASE)", file=sys.stderr
        )
        return 2
    progress = Progress(not args.no_progress)
    machine = _targets.machine_info()
    shapes = asyncio.run(
        tenants(args.pg_url, nodes=args.nodes, writers=args.writers, duration=args.duration, progress=progress)
    )
    report = {"command": "frontdesk bench " + " ".join(argv), "machine": machine, "tenants": shapes}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print("shape                     msgs/s   ack p50 ms  ack p99 ms  db µs/msg  lock wait µs/msg  msgs/tx")
    for key, label in (
        ("one_node_one_tenant", "1 node × 1 tenant"),
        ("nodes_own_tenants", f"{args.nodes} nodes × {args.nodes} tenants"),
        ("nodes_one_tenant", f"{args.nodes} nodes × 1 tenant"),
    ):
        s = shapes[key]
        ack = s["ack_ms"] or {}
        print(
            f"{label:<24} {s['msgs_per_s']:>8} {ack.get('p50', '-'):>11} {ack.get('p99', '-'):>11}"
            f" {s['db_transaction_us_per_msg']:>10} {s['lock_wait_us_per_msg']:>17} {s['messages_per_transaction']:>8}"
        )
    load = machine.get("loadavg_at_start")
    print(f"\nmachine: {machine.get('cores')} cores, load {load} at start")
    return 0


def _reports_main(args: argparse.Namespace, argv: list[str]) -> int:
    """``frontdesk bench reports`` (server/bench/_reports.py)."""
    from . import _reports

    progress = Progress(not args.no_progress)
    machine = _targets.machine_info()
    result = _reports.reports_bench(
        args.reports_db,
        args.reports_messages,
        args.reports_rounds,
        args.callgrind,
        args.db_dir,
        progress,
        keep=args.reports_keep,
    )
    report = {"command": "frontdesk bench " + " ".join(argv), "machine": machine, "reports": result}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(_reports.table(result))
        print(f"\nmachine: {machine.get('cores')} cores, load {machine.get('loadavg_at_start')} at start")
    return 0


def _search_workload(args: argparse.Namespace, opts: LoadOptions, runner: _Runner, progress: Progress) -> JSON:
    from ._search import search

    try:
        return search(
            args.search_db, opts.search_messages, opts.search_rounds, runner.server_cpu, args.db_dir, progress
        )
    except (BenchError, OSError, RuntimeError, ValueError) as exc:
        progress.end("failed")
        return {"error": f"{type(exc).__name__}: {exc}"}


def _errors(report: JSON) -> list[str]:
    """Every workload error in ``report`` (a run that failed, not a target missed)."""
    found = []
    for sides in report["workloads"].values():
        for res in sides.values():
            for part in (res, res.get("catchup"), res.get("storm")):
                if isinstance(part, dict) and part.get("error"):
                    found.append(str(part["error"]))
    return found


def _plot(path: str, samples: dict[str, Any]) -> str:
    series = []
    for kind, label in (("frontdesk", "Frontdesk (stored, synchronous=FULL)"), ("relay", "bare websockets relay")):
        if samples.get(kind):
            pts = cdf_points(samples[kind])
            series.append((f"{label}: p50 {_pct_label(pts, 0.5)} ms, p99 {_pct_label(pts, 0.99)} ms", pts))
    if not series:
        return "not drawn: the latency workload did not run"
    try:
        from ._plot import plot_cdf

        plot_cdf(path, series, "Frontdesk bench: latency CDF")
    except ImportError as exc:
        return f"not drawn: PySide6 is not installed ({exc}); pip install 'frontdesk[console]'"
    return path


def _pct_label(points: list[tuple[float, float]], q: float) -> str:
    for ms, frac in points:
        if frac >= q:
            return f"{ms:.2f}"
    return "?"
