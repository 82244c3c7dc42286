"""Dependencies go one way: the console uses the server's protocol layer only
(``protocol``, and ``canned_text``: the canned responses' variables and prompts,
pure functions both sides apply), and the server never imports the console
(issue 10, item 6)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(folder: Path) -> list[tuple[Path, str]]:
    """Every absolute module a file under ``folder`` imports (at any depth)."""
    found: list[tuple[Path, str]] = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.extend((path, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.extend(
                    (path, f"{node.module}.{alias.name}" if node.module == "frontdesk.server" else node.module)
                    for alias in node.names
                )
    return found


#: What the console may import of the server: the typed wire layer and the canned responses' text rules.
SHARED: tuple[str, ...] = ("frontdesk.server.protocol", "frontdesk.server.canned_text")


def test_console_source_imports_only_the_protocol_of_the_server() -> None:
    """No file under console/ imports anything of frontdesk.server but its protocol layer (:data:`SHARED`)."""
    bad = [
        f"{path.relative_to(ROOT)}: {name}"
        for path, name in _imports(ROOT / "console")
        if (name == "frontdesk.server" or name.startswith("frontdesk.server."))
        and not any(name == m or name.startswith(m + ".") for m in SHARED)
    ]
    assert bad == []


def test_server_source_never_imports_the_console() -> None:
    """No file under server/ imports frontdesk.console (the CLI and the bench start it as a process)."""
    bad = [
        f"{path.relative_to(ROOT)}: {name}"
        for path, name in _imports(ROOT / "server")
        if name == "frontdesk.console" or name.startswith("frontdesk.console.")
    ]
    assert bad == []


def test_running_the_console_loads_no_other_server_module() -> None:
    """Importing every console module (core, UI, app) loads the server's protocol layer (:data:`SHARED`) and its
    exception tree (frontdesk.server.exceptions, where ProtocolError lives), nothing else of the server."""
    console = ROOT / "console"
    modules = sorted(
        "frontdesk.console." + ".".join(p.relative_to(console).with_suffix("").parts).removesuffix(".__init__")
        for p in console.rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('frontdesk.server'))\n"
        "print(loaded)\n"
        f"protocol_layer = {{'frontdesk.server', 'frontdesk.server.exceptions', *{SHARED!r}}}\n"
        "sys.exit(0 if set(loaded) <= protocol_layer else 1)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "frontdesk.server.protocol" in proc.stdout
