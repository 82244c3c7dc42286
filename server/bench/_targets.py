"""What the benchmark drives: a Frontdesk server it starts, one at ``--url``,
or the bare relay; and what it reads about them from ``/proc``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ProcStats",
    "Target",
    "cpu_seconds",
    "create_scratch_pg",
    "drop_scratch_pg",
    "init_bench_tenant",
    "machine_info",
    "pin",
    "raise_nofile",
    "rss_bytes",
    "start_frontdesk",
    "start_relay",
]

#: Rates the bench's own server runs with: far above any workload, so the
#: limits never decide a figure (they are checked by the server's own tests).
BENCH_RATES = (
    "--rate-conn",
    "1000000/2000000",
    "--rate-visitor",
    "1000000/2000000",
    "--rate-ip",
    "10000000/20000000",
    "--rate-new-visitor",
    "1000000/2000000",
    "--rate-upload",
    "1000000/2000000",
    # The idle and storm workloads hold 10,000 sockets from one address, and
    # a storm may take longer than the default 10 s to get through every hello.
    "--max-sockets-per-ip",
    "1000000",
    "--auth-timeout",
    "600",
)
BENCH_PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway database
_LISTENING = re.compile(rb"listening on http://([^:\s]+):(\d+)")


@dataclasses.dataclass
class Target:
    """A server to drive. ``kind`` is ``frontdesk`` or ``relay``."""

    kind: str
    host: str
    port: int
    site_key: str = ""
    email: str = ""
    password: str = ""
    process: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None
    log_path: Path | None = None
    #: (admin URL, database URL) of a scratch PostgreSQL database to drop when the target stops.
    scratch_pg: tuple[str, str] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def visitor_path(self) -> str:
        return f"/v1/visitor?site={self.site_key}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        if self.scratch_pg is not None:
            drop_scratch_pg(*self.scratch_pg)
            self.scratch_pg = None

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _python() -> list[str]:
    return [sys.executable]


def _spawn(args: list[str], log_path: Path, cpu: int | None) -> tuple[subprocess.Popen[bytes], str, int]:
    def pin_child() -> None:  # before exec, so every thread the server starts inherits it
        if cpu is not None:
            pin(0, cpu)

    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, preexec_fn=pin_child)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = _LISTENING.search(line)
        if m:
            return proc, m.group(1).decode(), int(m.group(2))
    proc.kill()
    proc.wait()
    raise RuntimeError(f"{args[2:5]} did not start:\n{log_path.read_text(errors='replace')[-3000:]}")


#: The name prefix of the bench's scratch PostgreSQL databases.
SCRATCH_PREFIX = "frontdesk_bench_"


def create_scratch_pg(admin_url: str) -> str:
    """A new empty PostgreSQL database ``frontdesk_bench_<random>`` beside ``admin_url``'s; its URL."""
    from ..store.postgres import create_database

    return create_database(admin_url, SCRATCH_PREFIX)


def drop_scratch_pg(admin_url: str, url: str) -> None:
    from ..store.postgres import drop_database

    drop_database(admin_url, url, SCRATCH_PREFIX)


def init_bench_tenant(db_url: str, *, timeout: float) -> dict[str, Any]:
    """``frontdesk init --json`` of the bench's tenant (slug ``bench``, the bench's admin password) on ``db_url``;
    what it printed. Raises ``RuntimeError`` with its error output when it fails."""
    cli = [*_python(), "-m", "frontdesk.server.cli", "--log-level", "WARNING"]
    init = subprocess.run(
        [*cli, "init", "--db", db_url, "--json", "--admin-password", BENCH_PASSWORD, "--slug", "bench"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if init.returncode != 0:
        raise RuntimeError(f"frontdesk init failed:\n{init.stderr}")
    return dict(json.loads(init.stdout))


def start_frontdesk(
    cpu: int | None, db_dir: str | None = None, extra_args: list[str] | None = None, *, pg_admin_url: str | None = None
) -> Target:
    """``frontdesk init`` + ``frontdesk serve`` on a fresh temporary SQLite
    database (synchronous=FULL, as in production), rate limits raised; with
    ``pg_admin_url``, on a scratch PostgreSQL database instead (dropped by :meth:`Target.stop`)."""
    workdir = Path(tempfile.mkdtemp(prefix="frontdesk-bench-", dir=db_dir))
    db = f"sqlite:///{workdir / 'bench.db'}"
    if pg_admin_url is not None:
        db = create_scratch_pg(pg_admin_url)
    cli = [*_python(), "-m", "frontdesk.server.cli", "--log-level", "WARNING"]
    try:
        info = init_bench_tenant(db, timeout=120)
    except RuntimeError:
        shutil.rmtree(workdir, ignore_errors=True)
        if pg_admin_url is not None:
            drop_scratch_pg(pg_admin_url, db)
        raise
    log_path = workdir / "server.log"
    try:
        proc, host, port = _spawn(
            [*cli, "serve", "--db", db, "--host", "127.0.0.1", "--port", "0", *BENCH_RATES, *(extra_args or [])],
            log_path,
            cpu,
        )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        if pg_admin_url is not None:
            drop_scratch_pg(pg_admin_url, db)
        raise
    return Target(
        "frontdesk",
        host,
        port,
        site_key=info["site_key"],
        email=info["admin_email"],
        password=BENCH_PASSWORD,
        process=proc,
        workdir=workdir,
        log_path=log_path,
        scratch_pg=None if pg_admin_url is None else (pg_admin_url, db),
    )


def remote_frontdesk(url: str, site_key: str, email: str, password: str) -> Target:
    """A server someone else runs (``--url``): no pinning, no CPU or RSS."""
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        raise ValueError(f"--url needs a host and a port, e.g. ws://127.0.0.1:8080 (got {url!r})")
    return Target("frontdesk", parts.hostname, parts.port, site_key=site_key, email=email, password=password)


def start_relay(cpu: int | None) -> Target:
    """The bare relay (see :mod:`._relay`) in its own process."""
    workdir = Path(tempfile.mkdtemp(prefix="frontdesk-bench-relay-"))
    log_path = workdir / "relay.log"
    try:
        proc, host, port = _spawn([*_python(), "-m", "frontdesk.server.bench._relay"], log_path, cpu)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Target("relay", host, port, process=proc, workdir=workdir, log_path=log_path)


# -- the machine and processes -----------------------------------------------------------


def pin(pid: int, cpu: int) -> None:
    """Pin ``pid`` (0: this process) to one core, where the OS allows it."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(pid, {cpu})


def raise_nofile() -> tuple[int, int]:
    """Raise this process's open-file limit to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int | None) -> float | None:
    """User+system CPU seconds of ``pid`` (all its threads), from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_bytes(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@dataclasses.dataclass
class ProcStats:
    """CPU use of the server and of this (generator) process over a window."""

    pid: int | None
    wall0: float = 0.0
    server0: float | None = None
    gen0: float = 0.0

    def start(self) -> ProcStats:
        self.wall0 = time.monotonic()
        self.server0 = cpu_seconds(self.pid)
        self.gen0 = time.process_time()
        return self

    def stop(self) -> dict[str, Any]:
        wall = max(time.monotonic() - self.wall0, 1e-9)
        server1 = cpu_seconds(self.pid)
        server = None if server1 is None or self.server0 is None else (server1 - self.server0) / wall
        return {
            "wall_s": round(wall, 3),
            "server_cpu": None if server is None else round(server, 3),
            "generator_cpu": round((time.process_time() - self.gen0) / wall, 3),
        }


def fsync_ms(directory: str | None, rounds: int = 100) -> dict[str, Any] | None:
    """Latency of one 4 KiB write + fsync in ``directory``: the floor under
    every acked write with synchronous=FULL."""
    try:
        fd, path = tempfile.mkstemp(prefix="frontdesk-bench-fsync-", dir=directory)
    except OSError:
        return None
    times = []
    try:
        for _ in range(rounds):
            os.write(fd, b"x" * 4096)
            t = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return {
        "p50": round(times[len(times) // 2] * 1e3, 3),
        "p99": round(times[int(len(times) * 0.99) - 1] * 1e3, 3),
        "directory": directory or tempfile.gettempdir(),
    }


def machine_info() -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    mem = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]) * 1024
    load = None
    with contextlib.suppress(OSError):
        load = [float(x) for x in os.getloadavg()]
    return {
        "cpu_model": model,
        "cores": cores,
        "memory_bytes": mem,
        "loadavg_at_start": load,
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
