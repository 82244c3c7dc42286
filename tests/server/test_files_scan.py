"""Scanning with a real clamd (PROTOCOL.md, "Attachments", "Scanning"): files stay pending until clamd passes them,
and an infected one is refused. clamd is started by the test with a signature database the test writes (the EICAR
test string's MD5; there is no network for freshclam). Without clamd the test skips, except in CI, where it fails."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.files_support import upload
from tests.support import WsClient, new_client_id, serve_in_process

pytestmark = pytest.mark.slow

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def _clamd_binary() -> str:
    found = shutil.which("clamd") or ("/usr/sbin/clamd" if os.path.exists("/usr/sbin/clamd") else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but clamd is not installed (apt-get install clamav-daemon)", pytrace=False)
        pytest.skip("clamd is not installed (apt-get install clamav-daemon)")
    return found


@pytest.fixture
def clamd(tmp_path: Path) -> Iterator[str]:
    """A clamd on a Unix socket in ``tmp_path`` with one signature: EICAR's. Its socket path."""
    binary = _clamd_binary()
    db = tmp_path / "clamdb"
    db.mkdir()
    (db / "eicar.hdb").write_text(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Eicar-Test-Signature\n")  # noqa: S324
    sock = tmp_path / "clamd.sock"
    conf = tmp_path / "clamd.conf"
    conf.write_text(
        f"Foreground yes\nLocalSocket {sock}\nDatabaseDirectory {db}\nLogFile {tmp_path / 'clamd.log'}\n"
        f"PidFile {tmp_path / 'clamd.pid'}\nTemporaryDirectory {tmp_path}\n"
    )
    process = subprocess.Popen([binary, "--config-file", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise AssertionError(f"clamd did not start: {err}")
            time.sleep(0.05)
        yield str(sock)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def test_files_stay_pending_until_clamd_passes_them_and_infected_ones_are_refused(tmp_path: Path, clamd: str) -> None:
    """A clean file is pending, refused in a message (`pending`), then ready (`file.ready`) and sendable; the EICAR
    file ends `refused` and its id is not_found."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path, clamd=clamd) as server:
            visitor, _ = await WsClient.visitor(server)
            clean = await upload(visitor, b"just a note\n", "note.txt")
            assert clean["status"] == "pending"
            ready = await visitor.next_event("file.ready", id=clean["id"])
            assert ready["data"]["status"] == "ready"
            ack = await visitor.request(
                "message.send", client_id=new_client_id(), body="", attachment_ids=[clean["id"]]
            )
            assert ack["message"]["attachments"][0]["status"] == "ready"

            infected = await upload(visitor, EICAR, "eicar.txt")
            assert infected["status"] == "pending"
            early = await visitor.request_frame(
                "message.send", client_id=new_client_id(), body="x", attachment_ids=[infected["id"]]
            )
            if early["type"] == "error":  # unless the scan already ended
                assert early["code"] in ("pending", "not_found")
            verdict = await visitor.next_event("file.ready", id=infected["id"])
            assert verdict["data"]["status"] == "refused"
            late = await visitor.request_frame(
                "message.send", client_id=new_client_id(), body="x", attachment_ids=[infected["id"]]
            )
            assert late["code"] == "not_found"
            await visitor.close()

    asyncio.run(scenario())
