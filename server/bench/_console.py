"""How the server side starts the console: as a program of its own.

The server never imports the console (issue 10, "dependencies one way"):
``frontdesk console`` and ``frontdesk bench console`` run ``frontdesk-console``
as a subprocess. It is found next to the running interpreter (a virtualenv's
``bin/``), then on ``PATH``; failing both, ``python -m frontdesk.console.app``
runs it from the same installation.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

__all__ = ["console_command", "console_installed"]

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
