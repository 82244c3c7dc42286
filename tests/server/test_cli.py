"""The frontdesk command: help with examples, idempotent init, agents, verify."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from frontdesk.server.cli import build_parser

from tests.support import RunningServer, run_cli

COMMANDS = [
    ["serve"],
    ["init"],
    ["tenant"],
    ["tenant", "add"],
    ["tenant", "list"],
    ["agent"],
    ["agent", "add"],
    ["agent", "list"],
    ["agent", "disable"],
    ["agent", "passwd"],
    ["visitor", "erase"],
    ["reports"],
    ["reports", "rebuild"],
    ["migrate"],
    ["backup"],
    ["verify"],
]


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`frontdesk … --help` exits 0 and shows an example."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*words, "--help"])
    assert exit_.value.code == 0
    assert "example:" in capsys.readouterr().out


def test_init_prints_credentials_once_and_is_safe_to_run_twice(tmp_path: Path) -> None:
    """The first init prints a password and the snippet; the second changes nothing and says so."""
    db = f"sqlite:///{tmp_path / 'x.db'}"
    first = run_cli("init", "--db", db).stdout
    assert "password:" in first and "data-site=" in first
    second = run_cli("init", "--db", db).stdout
    assert "already exists; nothing changed" in second and "password" not in second
    tenants = json.loads(run_cli("tenant", "list", "--db", db, "--json").stdout)
    assert len(tenants) == 1 and tenants[0]["slug"] == "demo"


def test_agent_lifecycle(tmp_path: Path) -> None:
    """Agents can be added, listed, disabled and given a new password; the last admin cannot be disabled."""
    db = f"sqlite:///{tmp_path / 'x.db'}"
    run_cli("init", "--db", db)
    added = json.loads(
        run_cli("agent", "add", "--db", db, "--email", "Ada@Demo.test", "--name", "Ada", "--json").stdout
    )
    assert added["email"] == "ada@demo.test" and added["role"] == "agent" and len(added["password"]) >= 12
    duplicate = run_cli("agent", "add", "--db", db, "--email", "ada@demo.test", "--name", "Ada", check=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    run_cli("agent", "disable", "--db", db, "--email", "ada@demo.test")
    listed = json.loads(run_cli("agent", "list", "--db", db, "--json").stdout)
    assert {a["email"]: a["active"] for a in listed} == {"admin@demo.test": True, "ada@demo.test": False}
    last_admin = run_cli("agent", "disable", "--db", db, "--email", "admin@demo.test", check=False)
    assert last_admin.returncode == 1 and "last active admin" in last_admin.stderr
    assert "New password" in run_cli("agent", "passwd", "--db", db, "--email", "ada@demo.test").stdout


def test_reports_rebuild_replays_the_event_log(tmp_path: Path) -> None:
    """`frontdesk reports rebuild` recomputes the facts from the event log, for every tenant or the one named;
    an unknown tenant is an error."""
    db = f"sqlite:///{tmp_path / 'x.db'}"
    run_cli("init", "--db", db)
    assert "Tenant 1: rebuilt the reports from 0 event(s)." in run_cli("reports", "rebuild", "--db", db).stdout
    assert "rebuilt" in run_cli("reports", "rebuild", "--db", db, "--tenant", "demo").stdout
    unknown = run_cli("reports", "rebuild", "--db", db, "--tenant", "nope", check=False)
    assert unknown.returncode == 1 and "no tenant 'nope'" in unknown.stderr


def test_verify_passes_against_a_running_server_and_fails_without_one(server: RunningServer) -> None:
    """verify prints ✓ per check and exits 0 with the server up; with it down it prints ✗ with a fix and exits 1."""
    ok = run_cli("verify", "--db", server.db_url, "--url", server.ws_url)
    assert ok.returncode == 0 and "✗" not in ok.stdout and ok.stdout.count("✓") >= 5
    server.stop(signal.SIGTERM)
    down = run_cli("verify", "--db", server.db_url, "--url", server.ws_url, check=False)
    assert down.returncode == 1 and "✗ server healthy" in down.stdout and "fix:" in down.stdout


def test_verify_reports_a_database_behind_the_latest_schema(tmp_path: Path) -> None:
    """A database without the schema fails verify with the migrate command as the fix."""
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    result = run_cli("verify", "--db", db, check=False)
    assert result.returncode == 1 and "✗ schema at version 0" in result.stdout and "frontdesk migrate" in result.stdout
    run_cli("migrate", "--db", db)
    assert run_cli("verify", "--db", db).returncode == 0


def test_backup_copies_a_live_database(server: RunningServer, tmp_path: Path) -> None:
    """backup writes a consistent copy that verify accepts, and refuses to overwrite a file."""
    out = tmp_path / "copy.db"
    run_cli("backup", "--db", server.db_url, str(out))
    assert run_cli("verify", "--db", f"sqlite:///{out}").returncode == 0
    again = run_cli("backup", "--db", server.db_url, str(out), check=False)
    assert again.returncode == 1 and "exists" in again.stderr


def test_a_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    """An unsupported URL scheme is explained, not a traceback."""
    result = run_cli("tenant", "list", "--db", "mysql://x", check=False)
    assert result.returncode == 2 and "unsupported database URL" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_stops_the_server_cleanly(server: RunningServer) -> None:
    """SIGINT (Ctrl-C) closes sockets, finishes writes and exits 0."""
    assert server.process is not None
    process = server.process
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0
    assert "shutting down" in server.log_path.read_text()
    server.stop()  # reaps the process and closes its pipe
    assert run_cli("verify", "--db", server.db_url).returncode == 0


def test_a_second_server_on_the_same_sqlite_file_refuses_to_start(server: RunningServer) -> None:
    """Two servers on one SQLite file would split fan-out; the second one exits with a clear error."""
    second = run_cli("serve", "--db", server.db_url, "--port", "0", check=False, timeout=20)
    assert second.returncode == 1 and "already using" in second.stderr


def test_a_backup_has_its_own_epoch(server: RunningServer, tmp_path: Path) -> None:
    """A restored backup makes resuming clients refetch instead of replaying reused event ids."""
    import sqlite3

    out = tmp_path / "copy.db"
    run_cli("backup", "--db", server.db_url, str(out))
    epochs = []
    for path in (server.db_url.removeprefix("sqlite:///"), str(out)):
        conn = sqlite3.connect(path)
        epochs.append(conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0])
        conn.close()
    assert epochs[0] != epochs[1]
