"""SQL stays behind the store's public operations (issue 10, item 3): no server module outside
``server/store/`` imports the store's private plumbing (``_sql``) or runs SQL of its own."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server"
STORE = SERVER / "store"

#: A statement an application would run: DML with its clause, or DDL on a table/index.
SQL = re.compile(
    r"\b(SELECT\b[\s\S]*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)"
    r"|DROP\s+(TABLE|INDEX)|ALTER\s+TABLE)\b"
)
#: The transaction's and the connection's ways to run a statement.
RUNNERS = {"one", "all", "run", "execute", "executemany", "executescript"}


def _outside_the_store() -> list[Path]:
    return [p for p in sorted(SERVER.rglob("*.py")) if STORE not in p.parents]


def _parse(source: str, where: str) -> ast.Module:
    """``ast.parse``, once more if CPython 3.11 raises its spurious "AST constructor recursion depth
    mismatch" SystemError (seen once under load in CI; the same source parses on the next call)."""
    try:
        return ast.parse(source, where)
    except SystemError:
        return ast.parse(source, where)


def _private_imports(source: str, where: str) -> list[str]:
    """Imports of the store's private ``_sql`` module."""
    found = []
    for node in ast.walk(_parse(source, where)):
        if isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")[-1]
            if module == "_sql" or (module == "store" and any(a.name == "_sql" for a in node.names)):
                found.append(f"{where}:{node.lineno}: from {'.' * node.level}{node.module or ''} import …")
        elif isinstance(node, ast.Import):
            found.extend(f"{where}:{node.lineno}: import {a.name}" for a in node.names if a.name.endswith("._sql"))
    return found


def _sql_texts(source: str, where: str) -> list[str]:
    """String literals that read as SQL statements, and statements handed to a runner."""
    found = []
    for node in ast.walk(_parse(source, where)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"{where}:{node.lineno}: {node.value[:60]!r}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RUNNERS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("tx", "conn", "cursor", "db")
        ):
            found.append(f"{where}:{node.lineno}: {node.func.value.id}.{node.func.attr}(…)")
    return found


def _store_probes(source: str, where: str) -> list[str]:
    """``getattr``/``hasattr`` on a store: its optional abilities are declared (``Store.capabilities``)."""
    found = []
    for node in ast.walk(_parse(source, where)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and node.args
            and "store" in ast.unparse(node.args[0]).lower()
        ):
            found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def _scan(check: Callable[[str, str], list[str]]) -> list[str]:
    return [hit for p in _outside_the_store() for hit in check(p.read_text("utf-8"), str(p.relative_to(ROOT)))]


def test_no_server_module_outside_the_store_imports_its_private_plumbing() -> None:
    """Handlers, the CLI, the tenants cache, the secret store and the app use the public operation modules only."""
    assert _scan(_private_imports) == []


def test_no_server_module_outside_the_store_contains_sql() -> None:
    """No SQL statement is written, nor run on a transaction or connection, outside server/store/."""
    assert _scan(_sql_texts) == []


def test_no_server_module_probes_a_store_for_abilities() -> None:
    """Optional store abilities (backup, the server lock, cross-node broadcast) are read from
    Store.capabilities, never found with getattr/hasattr (the store's own modules included)."""
    every = [p for p in sorted(SERVER.rglob("*.py"))]
    assert [hit for p in every for hit in _store_probes(p.read_text("utf-8"), str(p.relative_to(ROOT)))] == []


def test_the_checks_catch_what_they_look_for() -> None:
    """The detectors flag a private import, a SQL literal and a statement run on a transaction, not a hint."""
    source = (
        "from .store import _sql\n"
        "from .store._sql import Tx\n"
        "def f(tx):\n"
        "    return tx.one(q)\n"
        "Q = 'SELECT * FROM tenants WHERE id = ?'\n"
        "HINT = 'ALTER SYSTEM SET fsync = on; SELECT pg_reload_conf()'\n"
    )
    assert len(_private_imports(source, "sample.py")) == 2
    assert len(_sql_texts(source, "sample.py")) == 2  # the operator's hint is not a statement
    assert len(_store_probes("b = getattr(self.store, 'backup', None)\nhasattr(store, 'x')\n", "s.py")) == 2
