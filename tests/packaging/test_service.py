"""The systemd units: valid for systemd, sandboxed, and in agreement with the environment file."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT

PACKAGING = ROOT / "packaging"
UNITS = ("frontdesk.service", "frontdesk-backup.service", "frontdesk-backup.timer")
SYSTEM_UNIT_DIRS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))


def _unit(name: str) -> dict[str, list[str]]:
    """KEY -> every value it has in the unit's [Service] section (keys repeat in units)."""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in (PACKAGING / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def _env_file() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string("[env]\n" + (PACKAGING / "frontdesk.env").read_text())
    return dict(parser["env"])


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root for `systemd-analyze --root`: this host's system units, ours, and stubs for the commands they run."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here (apt-get install systemd) — the unit files are unchecked")
    system_units = next((d for d in SYSTEM_UNIT_DIRS if (d / "sysinit.target").exists()), None)
    if system_units is None:
        pytest.skip("this host has no systemd unit directory to check our units against")
    root = tmp_path_factory.mktemp("root")
    shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/frontdesk").mkdir(parents=True)
    shutil.copy(PACKAGING / "frontdesk.env", root / "etc/frontdesk/frontdesk.env")
    (root / "etc/systemd/system").mkdir(parents=True)
    for name in UNITS:
        shutil.copy(PACKAGING / name, root / "etc/systemd/system" / name)
        for key, values in _unit(name).items():
            if key.startswith("Exec"):
                for value in values:
                    command = root / value.lstrip("-@:+!").split()[0].lstrip("/")
                    command.parent.mkdir(parents=True, exist_ok=True)
                    command.write_text("#!/bin/sh\n")
                    command.chmod(0o755)
    return root


def test_units_pass_systemd_analyze_verify(fake_root: Path) -> None:
    """systemd-analyze verify accepts the service, the backup service and its timer without a warning."""
    proc = subprocess.run(
        ["systemd-analyze", "verify", f"--root={fake_root}", *UNITS], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stdout + proc.stderr


def test_services_are_sandboxed(fake_root: Path) -> None:
    """systemd-analyze security rates both services at most 2.0 exposure ("OK"; 10 is unsandboxed)."""
    for name in ("frontdesk.service", "frontdesk-backup.service"):
        proc = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", f"--root={fake_root}", "--threshold=20", name],
            capture_output=True,
            text=True,
            timeout=60,
        )
        overall = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
        assert overall, proc.stdout + proc.stderr
        assert proc.returncode == 0 and float(overall.group(1)) <= 2.0, proc.stdout


def test_service_runs_unprivileged_in_a_read_only_system() -> None:
    """The service runs as its own user with ProtectSystem=strict, NoNewPrivileges and only its data dir writable."""
    unit = _unit("frontdesk.service")
    assert unit.get("DynamicUser") == ["yes"] or unit.get("User") == ["frontdesk"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ReadWritePaths"] == ["/var/lib/frontdesk"]
    assert unit["StateDirectory"] == ["frontdesk"]
    assert unit["CapabilityBoundingSet"] == [""]
    assert unit["EnvironmentFile"] == ["/etc/frontdesk/frontdesk.env"]
    sysusers = (PACKAGING / "frontdesk.sysusers").read_text()
    assert re.search(r"^u frontdesk - .* /var/lib/frontdesk$", sysusers, re.M)


def test_environment_file_points_into_the_writable_directory() -> None:
    """The env file's database lives under ReadWritePaths, and every key is a real `frontdesk serve` setting."""
    env = _env_file()
    db = env["FRONTDESK_DB"]
    assert db.startswith("sqlite:////var/lib/frontdesk/"), db
    assert env["FRONTDESK_HOST"] == "127.0.0.1", "behind a proxy the server listens on loopback only"
    from frontdesk.server.ratelimit import RATE_SETTINGS

    cli = (ROOT / "server" / "cli.py").read_text()
    # What the CLI reads: its _env("NAME", …) calls, and the rate limits declared once in ratelimit.RATE_SETTINGS.
    read = {f"FRONTDESK_{name}" for name in re.findall(r'_env\("([A-Z_]+)"', cli)} | {r.env for r in RATE_SETTINGS}
    commented = re.findall(r"^#(FRONTDESK_[A-Z_]+)=", (PACKAGING / "frontdesk.env").read_text(), re.M)
    for key in [*env, *commented]:
        assert key in read, f"{key} is not read"


def test_service_caps_memory_and_tasks_at_the_documented_values() -> None:
    """The unit sets MemoryMax and TasksMax, and docs/OPERATIONS.md explains those exact values."""
    unit = _unit("frontdesk.service")
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    for key in ("MemoryMax", "TasksMax"):
        assert len(unit.get(key, [])) == 1, f"{key} is not set once"
        assert f"`{key}={unit[key][0]}`" in operations, f"OPERATIONS.md does not explain {key}={unit[key][0]}"
