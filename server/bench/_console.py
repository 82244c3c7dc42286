"""How the server side starts the console: as a program of its own.

The server never imports the console (issue 10, "dependencies one way"):
``frontdesk console`` and ``frontdesk bench console`` run ``frontdesk-console``
as a subprocess. It is found next to the running interpreter (a virtualenv's
``bin/``), then on ``PATH``; failing both, ``python -m frontdesk.console.app``
runs it from the same installation.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["console_command", "console_installed", "evict", "first_paint", "qt_library_files"]

PROGRAM = "frontdesk-console"


def console_installed() -> bool:
    """True when the console package is importable (without importing it)."""
    try:
        return importlib.util.find_spec("frontdesk.console.app") is not None
    except ModuleNotFoundError:
        return False


def console_command() -> list[str]:
    """The command line that starts the console."""
    exe = PROGRAM + (".exe" if os.name == "nt" else "")
    beside = Path(sys.executable).with_name(exe)
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which(PROGRAM)
    if found:
        return [found]
    return [sys.executable, "-m", "frontdesk.console.app"]


def first_paint(data_dir: Path, timeout: float = 120) -> dict[str, Any]:
    """Start ``frontdesk-console --bench-first-paint DATA_DIR`` (offscreen, on
    the cache ``--bench-cache`` filled there) and time it as the agent waits:
    from the exec to the first paint of the main window with inbox rows.

    Returns ``{"ms": wall milliseconds, "cpu_ms": the console's CPU time (all
    threads) until then, "rows": inbox rows painted}``. The CPU figure moves
    less than the wall one on a loaded machine.
    """
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.monotonic_ns()  # CLOCK_MONOTONIC: the same clock in every process
    proc = subprocess.run(
        [*console_command(), "--bench-first-paint", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"the console failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "ms": round((report["first_paint_ns"] - started) / 1e6, 1),
        "cpu_ms": round(report["cpu_s"] * 1000, 1),
        "rows": report["rows"],
    }


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def qt_library_files() -> Iterator[Path]:
    """The Qt libraries the console loads: every shared object (and Qt
    plugin) of the installed PySide6 and shiboken6 packages."""
    for name in ("PySide6", "shiboken6"):
        root = _package_dir(name)
        if root is None:
            continue
        for path in root.rglob("*"):
            if path.is_file() and (".so" in path.suffixes or path.suffix in (".so", ".dylib", ".dll", ".pyd")):
                yield path


def evict(paths: list[Path]) -> int:
    """Drop these files' pages from the OS page cache (``posix_fadvise``
    DONTNEED), and nothing else of the machine's; returns the bytes covered.
    Pages another running process has mapped stay resident: on a shared
    machine the cold figure is an upper bound of what eviction can do."""
    if not hasattr(os, "posix_fadvise"):  # pragma: no cover - not Linux
        raise OSError("posix_fadvise is not available on this system")
    total = 0
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)  # dirty pages (a cache just written) cannot be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            total += os.fstat(fd).st_size
        finally:
            os.close(fd)
    return total
