"""Storage that fails under the server: a full disk, unwritable files, a
read-only file system (issue 11, items 5-8).

The tests run as root, and root ignores permission bits, so a chmod alone
proves nothing: a full disk is a small tmpfs mounted in a private mount
namespace (``unshare -m``, held by a sleeping process; the test reaches its
files through ``/proc/PID/root``), a read-only file system a read-only bind
mount in such a namespace, and unwritable files a server run as ``nobody``
(``setpriv``).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import FRONTDESK, RELAXED_LIMITS, SCALE, TIMEOUT, RunningServer, WsClient, new_client_id

pytestmark = pytest.mark.slow

NOBODY = 65534


def _need_root() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("needs root with unshare and nsenter (mount namespaces)")


class Tmpfs:
    """A tmpfs of ``size`` at ``mountpoint`` in a mount namespace of its own,
    kept alive by a sleeping holder process; gone when the holder exits."""

    def __init__(self, mountpoint: Path, size: str) -> None:
        self.mountpoint = mountpoint
        self.size = size
        self.holder: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Tmpfs:
        _need_root()
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.holder = subprocess.Popen(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                f'mount -t tmpfs -o size={self.size},mode=0755 tmpfs "$0" && echo mounted && exec sleep 3600',
                str(self.mountpoint),
            ],
            stdout=subprocess.PIPE,
        )
        assert self.holder.stdout is not None
        if b"mounted" not in self.holder.stdout.readline():
            self.__exit__()
            pytest.skip("cannot mount a tmpfs in a private mount namespace here")
        return self

    def __exit__(self, *_: object) -> None:
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()
            if self.holder.stdout:
                self.holder.stdout.close()
            self.holder = None

    @property
    def path(self) -> Path:
        """The mount point as this process reaches it (through the holder's root)."""
        assert self.holder is not None
        return Path(f"/proc/{self.holder.pid}/root") / self.mountpoint.relative_to("/")

    def command(self, *args: str) -> list[str]:
        """``args`` run inside the namespace."""
        assert self.holder is not None
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--", *args]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*FRONTDESK, *args), capture_output=True, text=True, timeout=60 * SCALE)


class PrefixedServer(RunningServer):
    """A ``frontdesk serve`` started through a command prefix (nsenter, setpriv)
    on port 0; :attr:`port` is read back from its first line."""

    prefix: tuple[str, ...] = ()

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*self.prefix, *FRONTDESK, "serve", "--db", self.db_url, "--port", "0", *self.extra_args],
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if b"listening on" not in line:
            self.stop()
            raise AssertionError(f"server did not start:\n{self.log_path.read_text(errors='replace')}")
        self.port = int(line.decode().rsplit(":", 1)[1])


def _server_in(fs: Tmpfs, log_path: Path) -> PrefixedServer:
    """Initialize a demo database on ``fs`` and start a relaxed server on it."""
    db_url = f"sqlite:///{fs.mountpoint / 'frontdesk.db'}"
    init = fs.cli("init", "--db", db_url, "--json", "--admin-password", "admin-password-1")
    assert init.returncode == 0, init.stderr
    info = json.loads(init.stdout)
    server = PrefixedServer.from_init(db_url, info, log_path=log_path, extra_args=RELAXED_LIMITS)
    server.prefix = tuple(fs.command())
    server.start()
    return server


def fill(path: Path) -> None:
    """Append to ``path`` until the file system has no space left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12):
            chunk = b"x" * size
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)


def healthz(server: RunningServer) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(server.http_url + "/healthz", timeout=TIMEOUT) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _stored(db: Path, scratch: Path) -> dict[int, str]:
    """(seq, body) of every stored message. SQLite resolves the /proc/PID/root
    link to this namespace's "/", so the files are read through a copy."""
    for suffix in ("", "-wal"):
        if db.with_name(db.name + suffix).exists():
            shutil.copyfile(db.with_name(db.name + suffix), scratch.with_name(scratch.name + suffix))
    conn = sqlite3.connect(scratch)
    try:
        return dict(conn.execute("SELECT seq, body FROM messages").fetchall())
    finally:
        conn.close()


# -- items 5, 6 and 8: a full disk ----------------------------------------------------------------


def test_a_full_disk_answers_unavailable_is_monitored_and_recovers_without_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault: the disk under the database fills up. Writes answer `unavailable`
    (retryable), with one log line per failure and no traceback; /healthz
    answers 503 and `frontdesk verify` fails; when a little space returns (less
    than the write-ahead log would take without a checkpoint), every write
    succeeds again at once, and every acked message is stored."""
    # No idle probes: a failed probe truncates the write-ahead log, and the
    # space that frees would let `verify`'s own probe through a "full" disk.
    monkeypatch.setenv("FRONTDESK_PROBE_INTERVAL_S", "3600")
    with Tmpfs(tmp_path / "mnt", "3m") as fs:
        server = _server_in(fs, tmp_path / "server.log")
        filler = fs.path / "filler"
        acked: dict[int, str] = {}
        failures: list[dict[str, Any]] = []

        async def send(client: WsClient, body: str) -> dict[str, Any]:
            frame = await client.request_frame("message.send", client_id=new_client_id(), body=body)
            if frame["type"] == "reply":
                acked[frame["seq"]] = body
            return frame

        async def scenario() -> None:
            client, _ = await WsClient.visitor(server)
            try:
                for i in range(5):
                    assert (await send(client, f"before {i}"))["type"] == "reply"
                fill(filler)
                for i in range(300):  # keep the disk full: whatever the server frees, the filler takes
                    frame = await send(client, f"full {i} " + "z" * 2000)
                    if frame["type"] == "error":
                        failures.append(frame)
                        break
                    fill(filler)
                assert failures, "no write failed on a full disk"
                assert failures[0]["code"] == "unavailable", failures[0]
                fill(filler)

                status, health = await asyncio.to_thread(healthz, server)
                assert status == 503 and health["status"] == "unavailable", health
                assert health["storage"]["writable"] is False and health["storage"]["error"], health
                verify = await asyncio.to_thread(fs.cli, "verify", "--db", server.db_url)
                assert verify.returncode == 1, verify.stdout + verify.stderr
                assert "✗ database writable" in verify.stdout, verify.stdout

                # Space returns, but only 640 KiB: ten one-message commits' worth of write-ahead log.
                os.truncate(filler, max(0, filler.stat().st_size - 640 * 1024))
                for i in range(60):
                    frame = await send(client, f"after {i}")
                    assert frame["type"] == "reply", f"write {i} after space returned failed: {frame}"

                status, health = await asyncio.to_thread(healthz, server)
                assert status == 200 and health["status"] == "ok" and health["storage"]["writable"] is True
                verify = await asyncio.to_thread(fs.cli, "verify", "--db", server.db_url)
                assert verify.returncode == 0, verify.stdout + verify.stderr
            finally:
                await client.close()

        try:
            asyncio.run(scenario())
        finally:
            server.stop()
        stored = _stored(fs.path / "frontdesk.db", tmp_path / "copy.db")
        lost = {seq: body for seq, body in acked.items() if stored.get(seq) != body}
        assert not lost, f"acked but not stored: {sorted(lost)}"

    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
    error_lines = [line for line in log.splitlines() if " ERROR " in line]
    assert 1 <= len(error_lines) <= len(failures) + 1, error_lines  # + the healthz probe's own failure
    assert all("database or disk is full" in line for line in error_lines), error_lines


# -- item 7: start-up on storage the server cannot write -----------------------------------------------


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory under /tmp that user nobody can reach (pytest's tmp_path is root-only)."""
    _need_root()
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv")
    path = Path(tempfile.mkdtemp(prefix="frontdesk-storage-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _init(db: Path) -> str:
    url = f"sqlite:///{db}"
    subprocess.run([*FRONTDESK, "init", "--db", url, "--json"], check=True, capture_output=True, timeout=60 * SCALE)
    return url


def _serve(prefix: list[str], url: str) -> subprocess.CompletedProcess[str]:
    """Start ``frontdesk serve`` through ``prefix``; it is expected to refuse (a server that starts is stopped)."""
    proc = subprocess.Popen(
        [*prefix, *FRONTDESK, "serve", "--db", url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=10 * SCALE)
    except subprocess.TimeoutExpired:  # it started and serves: stop it, and let the test report that
        proc.terminate()
        out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _one_clear_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert "listening on" not in result.stdout, f"the server started on storage it cannot write:\n{result.stderr}"
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def test_read_only_database_files_and_lock_give_one_clear_line(shared_dir: Path) -> None:
    """Database files and lock the server's user may not write: one error line
    naming the file and the permission, not "cannot listen"."""
    db = shared_dir / "frontdesk.db"
    url = _init(db)
    (shared_dir / "frontdesk.db.lock").touch()
    line = _one_clear_error(_serve(AS_NOBODY, url), "Permission denied", str(shared_dir / "frontdesk.db"))
    assert "cannot listen" not in line


def test_a_read_only_database_with_a_writable_lock_refuses_to_start(shared_dir: Path) -> None:
    """The lock and directory are writable but the database file is not: the
    server refuses to start (it used to start and fail every write)."""
    db = shared_dir / "frontdesk.db"
    url = _init(db)
    os.chown(shared_dir, NOBODY, NOBODY)
    (shared_dir / "frontdesk.db.lock").touch()
    os.chown(shared_dir / "frontdesk.db.lock", NOBODY, NOBODY)
    _one_clear_error(_serve(AS_NOBODY, url), str(db), "Permission denied")


def test_a_read_only_file_system_gives_one_clear_line(shared_dir: Path) -> None:
    """The database's file system is mounted read-only: one error line naming
    the file and the cause, not a traceback."""
    db = shared_dir / "frontdesk.db"
    url = _init(db)
    remount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c", remount, str(shared_dir)]
    _one_clear_error(_serve(prefix, url), str(shared_dir / "frontdesk.db"), "Read-only file system")
