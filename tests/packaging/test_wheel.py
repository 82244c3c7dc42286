"""The wheel, installed into a fresh virtual environment outside the checkout, runs the whole server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT, Dists, clean_env
from tests.support import SCALE

pytestmark = pytest.mark.slow

#: File types the components need at run time; every such file in server/, console/ and widget/ must ship.
RUNTIME_SUFFIXES = {".py", ".js", ".html", ".css", ".svg", ".png", ".sql", ".qss", ".wav", ".json", ".typed"}
COMPONENTS = {"server": "frontdesk/server", "console": "frontdesk/console", "widget": "frontdesk/widget"}


def _runtime_files(sources: tuple[Path, ...]) -> dict[str, str]:
    """Source path -> the path it must have inside the wheel."""
    wanted = {}
    for rel in sources:
        if rel.parts[0] in COMPONENTS and rel.suffix in RUNTIME_SUFFIXES:
            wanted[rel.as_posix()] = "/".join([COMPONENTS[rel.parts[0]], *rel.parts[1:]])
    return wanted


def test_wheel_ships_every_runtime_file(dists: Dists) -> None:
    """Every module, migration, widget file and console asset of the checkout is inside the wheel."""
    with zipfile.ZipFile(dists.wheel) as whl:
        names = set(whl.namelist())
    missing = sorted(src for src, dest in _runtime_files(dists.sources).items() if dest not in names)
    assert not missing, (
        f"in the checkout but not in the wheel: {missing}; a module's folder needs an __init__.py (setup.py"
        " finds subpackages by it), a data file a pattern in pyproject.toml [tool.setuptools.package-data]"
    )
    assert any(n.startswith("frontdesk/server/store/migrations/sqlite/") and n.endswith(".sql") for n in names)
    assert "frontdesk/widget/widget.js" in names and "frontdesk/widget/demo.html" in names
    assert not any("/tests/" in n or n.startswith("tests/") for n in names), "tests leaked into the wheel"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(dists.wheel) as whl:
        scripts = whl.read(entry_points).decode()
    assert "frontdesk = frontdesk.server.cli:main" in scripts
    # The console is its own program (the desktop file and the bundle run it by this name).
    assert "frontdesk-console = frontdesk.console.app:main" in scripts


def test_sdist_holds_what_a_rebuild_needs(dists: Dists) -> None:
    """The sdist carries the build files and docs beside the sources (the wheel was built from it)."""
    with tarfile.open(dists.sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("pyproject.toml", "setup.py", "README.md", "widget/widget.js", "server/cli.py"):
        assert needed in names, f"{needed} is missing from the sdist"


@pytest.fixture(scope="module")
def venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with only the wheel (and its dependencies) installed."""
    path = tmp_path_factory.mktemp("wheel-venv") / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(path)], check=True, env=clean_env(), timeout=300)
    proc = subprocess.run(
        [
            str(path / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(dists.wheel),
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=600,
    )
    assert proc.returncode == 0, f"pip install of the wheel failed:\n{proc.stdout}\n{proc.stderr}"
    yield path


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10 * SCALE) as resp:  # noqa: S310 - a loopback test server
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


def test_installed_wheel_runs_the_server(venv: Path, tmp_path: Path) -> None:
    """From the installed wheel alone: init, serve, GET /widget.js and /, and verify all work."""
    work = tmp_path / "outside"  # a working directory with no checkout in reach
    work.mkdir()
    env = clean_env()
    bindir = venv / "bin"

    where = subprocess.run(
        [str(bindir / "python"), "-c", "import frontdesk.server, frontdesk.widget; print(frontdesk.server.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), f"imported from {where}, not from the fresh venv"
    assert not Path(where).is_relative_to(ROOT)

    db = f"sqlite:///{work / 'frontdesk.db'}"

    def frontdesk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bindir / "frontdesk"), *args], cwd=work, env=env, capture_output=True, text=True, timeout=120 * SCALE
        )

    init = frontdesk("init", "--db", db, "--json")
    assert init.returncode == 0, init.stderr
    site_key = json.loads(init.stdout)["site_key"]

    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [str(bindir / "frontdesk"), "serve", "--db", db, "--port", "0"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()
        bound = re.search(rb"listening on \S+:(\d+)", line)
        assert bound, (tmp_path / "serve.log").read_text()
        port = int(bound.group(1))

        status, ctype, body = _get(f"http://127.0.0.1:{port}/widget.js")
        assert status == 200 and ctype.startswith("application/javascript")
        assert body == (ROOT / "widget" / "widget.js").read_bytes(), "the served widget is not the checkout's widget"

        status, ctype, page = _get(f"http://127.0.0.1:{port}/")
        expected = (ROOT / "widget" / "demo.html").read_bytes()
        expected = expected.replace(b"{{SITE_KEY}}", site_key.encode()).replace(b"{{WIDGET_URL}}", b"/widget.js")
        assert status == 200 and ctype.startswith("text/html")
        assert page == expected, "the served page is not the demo page from the wheel"

        status, _, health = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(health)["status"] == "ok"

        verify = frontdesk("verify", "--db", db, "--url", f"ws://127.0.0.1:{port}")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "All checks passed." in verify.stdout and "✗" not in verify.stdout
    finally:
        serve.terminate()
        try:
            serve.wait(20 * SCALE)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        if serve.stdout:
            serve.stdout.close()
        log.close()
    assert serve.returncode == 0, f"serve exited {serve.returncode} on SIGTERM"
