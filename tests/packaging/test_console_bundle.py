"""The console's PyInstaller bundle, built from the wheel, starts and quits on its own."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT, Dists, clean_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

APP_ID = "org.frontdesk.Console"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def _missing() -> str | None:
    """Why the bundle cannot be built in this environment, or None."""
    if not sys.platform.startswith("linux"):
        return "the bundle test runs on Linux (build by hand elsewhere: packaging/README.md)"
    if importlib.util.find_spec("PyInstaller") is None:
        return "PyInstaller is not installed: pip install -e '.[package]'"
    if importlib.util.find_spec("PySide6") is None:
        return "PySide6 is not installed: pip install -e '.[console]'"
    if not (ROOT / "console" / "app.py").exists() or importlib.util.find_spec("frontdesk.console.app") is None:
        return "the console (frontdesk.console.app) is not importable yet"
    return None


@pytest.fixture(scope="module")
def bundle(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the bundle folder, PyInstaller's work folder), built once for this module from the session's wheel."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("console-bundle")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "packaging" / "build_console.py"),
            "--wheel",
            str(dists.wheel),
            "--dist",
            str(base / "dist"),
            "--work",
            str(base / "work"),
        ],
        capture_output=True,
        text=True,
        env=clean_env(QT_QPA_PLATFORM="offscreen"),
        cwd=base,
        timeout=1100,
    )
    assert proc.returncode == 0, f"the bundle build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    yield base / "dist" / "frontdesk-console", base / "work" / "pyinstaller" / "frontdesk-console"


def _run(program: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run the bundled program with a bare environment: no venv, no checkout, a fresh home."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    (home / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
    return subprocess.run([str(program), *args], cwd=home, env=env, capture_output=True, text=True, timeout=120)


def test_bundle_prints_its_version(bundle: tuple[Path, Path], tmp_path: Path) -> None:
    """`frontdesk-console --version` from the bundle prints the package's version."""
    from frontdesk.server import __version__

    proc = _run(bundle[0] / "frontdesk-console", "--version", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"frontdesk console {__version__}"


def test_bundle_starts_offscreen_and_quits(bundle: tuple[Path, Path], tmp_path: Path) -> None:
    """`frontdesk-console --smoke` builds the main window offscreen and exits 0, without Python or the checkout."""
    proc = _run(bundle[0] / "frontdesk-console", "--smoke", home=tmp_path)
    assert proc.returncode == 0, f"smoke start failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr


def test_bundle_has_the_desktop_integration_files(bundle: tuple[Path, Path]) -> None:
    """The bundle carries its .desktop file, AppStream metainfo and the icon in every size, in share/."""
    share = bundle[0] / "share"
    desktop = share / "applications" / f"{APP_ID}.desktop"
    assert "Exec=frontdesk-console" in desktop.read_text()
    assert (share / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    for size in SIZES:
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()


def test_bundle_is_made_from_the_wheel_not_the_checkout(bundle: tuple[Path, Path]) -> None:
    """Every frontdesk module in the bundle was taken from the unpacked wheel, and the console assets are inside."""
    folder, work = bundle
    toc = ast.literal_eval((work / "PYZ-00.toc").read_text())
    modules = {name: source for name, source, kind in toc[-1] if name.startswith("frontdesk.")}
    assert "frontdesk.console.app" in modules and "frontdesk.console.ui.mainwindow" in modules
    stage = work.parent.parent / "stage"
    strays = {name: src for name, src in modules.items() if not Path(src).resolve().is_relative_to(stage.resolve())}
    assert not strays, f"modules bundled from outside the wheel: {strays}"
    internal = folder / "_internal"
    for asset in (stage / "frontdesk" / "console" / "assets").iterdir():  # the wheel's (test_wheel: = checkout's)
        if asset.is_file():
            assert (internal / "frontdesk" / "console" / "assets" / asset.name).is_file(), f"{asset.name} missing"
    for dev_only in ("pytest", "playwright", "hypothesis", "psycopg", "mypy"):
        assert not (internal / dev_only).exists(), f"{dev_only} was bundled"


def test_bundle_installs_for_one_user_with_its_menu_entry(bundle: tuple[Path, Path], tmp_path: Path) -> None:
    """install.sh copies the bundle under a prefix, links the command, and adds a menu entry that runs it."""
    prefix = tmp_path / "prefix"
    proc = subprocess.run(
        ["sh", str(bundle[0] / "install.sh"), str(prefix)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    linked = _run(prefix / "bin" / "frontdesk-console", "--version", home=tmp_path / "home")
    assert linked.returncode == 0 and linked.stdout.startswith("frontdesk console "), linked.stderr
    entry = (prefix / "share" / "applications" / f"{APP_ID}.desktop").read_text()
    program = next(line for line in entry.splitlines() if line.startswith("Exec=")).removeprefix("Exec=")
    assert Path(program) == prefix / "lib" / "frontdesk-console" / "frontdesk-console"
    assert (prefix / "share" / "icons" / "hicolor" / "48x48" / "apps" / f"{APP_ID}.png").is_file()
