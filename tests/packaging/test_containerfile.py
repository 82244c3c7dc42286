"""The Containerfile, checked without a container engine: its shape, and its health check against a real server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.packaging.conftest import ROOT
from tests.support import RunningServer, unused_port

CONTAINERFILE = ROOT / "packaging" / "Containerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_image_is_multi_stage_and_runs_as_a_non_root_user() -> None:
    """Two stages; the final one copies only the built venv from the first and switches to a numeric non-root user."""
    steps = _instructions()
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) >= 2 and " AS build" in froms[0]
    final = _final_stage()
    users = [rest for word, rest in final if word == "USER"]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]} must be a numeric non-root uid"
    copies = [rest for word, rest in final if word == "COPY"]
    assert copies == ["--from=build /opt/frontdesk /opt/frontdesk"], copies


def test_build_context_paths_exist() -> None:
    """Every COPY from the build context names a file or folder of the repository."""
    for word, rest in _instructions():
        if word == "COPY" and not rest.startswith("--from"):
            *sources, _dest = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_entrypoint_is_the_installed_command() -> None:
    """The image starts `frontdesk serve`, listening on all interfaces inside the container, on a data volume."""
    final = dict(_final_stage())
    assert json.loads(final["ENTRYPOINT"]) == ["frontdesk"]
    assert json.loads(final["CMD"]) == ["serve"]
    assert "FRONTDESK_HOST=0.0.0.0" in final["ENV"]
    assert "FRONTDESK_DB=sqlite:////var/lib/frontdesk/frontdesk.db" in final["ENV"]
    assert json.loads(final["VOLUME"]) == ["/var/lib/frontdesk"]


def _healthcheck() -> list[str]:
    rest = dict(_final_stage())["HEALTHCHECK"]
    command: list[str] = json.loads(rest.split(" CMD ", 1)[1])
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def test_healthcheck_passes_against_a_live_server_and_fails_without_one(server: RunningServer) -> None:
    """The HEALTHCHECK command exits 0 while /healthz answers, and non-zero when nothing listens."""
    assert "/healthz" in dict(_final_stage())["HEALTHCHECK"]
    env = {**os.environ, "FRONTDESK_PORT": str(server.port)}
    assert subprocess.run(_healthcheck(), env=env, capture_output=True, timeout=30).returncode == 0
    env["FRONTDESK_PORT"] = str(unused_port())
    assert subprocess.run(_healthcheck(), env=env, capture_output=True, timeout=30).returncode != 0
