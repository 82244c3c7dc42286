"""Fixtures for the packaging tests: artifacts built from a copy of the checkout.

The wheel and sdist are built from a copy of the files git would ship (tracked,
plus untracked files not ignored), so a file that exists only because of a
local build, or one that .gitignore hides, cannot make the test pass.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path
    #: The checkout files they were built from, relative paths (a snapshot: others edit the tree meanwhile).
    sources: tuple[Path, ...] = field(repr=False)


def source_files() -> list[Path]:
    """The checkout's shippable files, relative to the root (what a fresh clone would hold)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("the packaging tests build from a git checkout; this is not one")
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    names = [n for n in out.decode().split("\0") if n]
    return [Path(n) for n in names if (ROOT / n).is_file()]


def copy_checkout(dest: Path) -> list[Path]:
    """Copy the checkout's shippable files to ``dest``; returns the relative paths copied."""
    copied = []
    for rel in source_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(ROOT / rel, target)
        except FileNotFoundError:  # removed by someone else since the listing
            continue
        copied.append(rel)
    return copied


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a process that must not see the checkout or the dev venv."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "FRONTDESK_"))}
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dists]:
    """The sdist and the wheel, built with ``python -m build`` (the wheel from the sdist)."""
    try:
        import build  # noqa: F401
    except ImportError:
        pytest.skip("the `build` package is missing from this environment: pip install build")
    base = tmp_path_factory.mktemp("dists")
    src = base / "src"
    sources = copy_checkout(src)
    out = base / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        cwd=base,
        env=clean_env(),
        timeout=600,
    )
    assert proc.returncode == 0, f"python -m build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, f"expected one wheel and one sdist, got {list(out.iterdir())}"
    yield Dists(wheel=wheels[0], sdist=sdists[0], sources=tuple(sources))
