"""Build the console's desktop bundle from the wheel: ``make package-console``.

    python packaging/build_console.py [--wheel FILE] [--dist DIR] [--work DIR]

1. builds the wheel from the checkout with ``python -m build`` (or takes --wheel);
2. unpacks it into WORK/stage, so the bundle holds exactly what the wheel ships;
3. runs PyInstaller on packaging/frontdesk-console.spec, writing DIST/frontdesk-console/.

Needs the console's dependencies and PyInstaller in this Python: pip install -e ".[console,package]".
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def build_wheel(out: Path) -> Path:
    """``python -m build`` (sdist, then the wheel from it) into ``out``; the wheel's path."""
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True)
    return next(out.glob("frontdesk-*.whl"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help="a built frontdesk wheel (default: build one now)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist" / "console", help="where the bundle goes")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "console", help="scratch folder")
    parser.add_argument("--archive", action="store_true", help="also pack the bundle for download (.tar.gz or .zip)")
    args = parser.parse_args(argv)
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        print("error: PyInstaller is missing: pip install -e '.[console,package]'", file=sys.stderr)
        return 1

    work = args.work.resolve()
    wheel = args.wheel.resolve() if args.wheel else build_wheel(work / "wheel")
    stage = work / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(stage)
    env = {**os.environ, "FRONTDESK_STAGE": str(stage)}
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        str(HERE / "frontdesk-console.spec"),
        "--noconfirm",
        "--clean",
        "--log-level=WARN",
        "--distpath",
        str(args.dist.resolve()),
        "--workpath",
        str(work / "pyinstaller"),
    ]
    # Run from the scratch folder: with the checkout as the working directory, `frontdesk` would
    # also be importable from the source tree.
    subprocess.run(command, check=True, env=env, cwd=work)
    print(f"Built {args.dist / 'frontdesk-console'} from {wheel.name}")
    if args.archive:
        version = wheel.name.split("-")[1]
        system = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
        base = args.dist.resolve() / f"frontdesk-console-{version}-{system}-{platform.machine().lower()}"
        fmt = "zip" if sys.platform == "win32" else "gztar"
        target = "Frontdesk.app" if sys.platform == "darwin" else "frontdesk-console"
        print(f"Packed {shutil.make_archive(str(base), fmt, args.dist.resolve(), target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
