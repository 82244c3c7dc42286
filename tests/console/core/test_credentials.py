"""Where the session token lives: the OS keyring, or memory only, never the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from frontdesk.console.core import ConsoleCore, KeyringTokenStore, MemoryTokenStore, cache_path
from frontdesk.console.core.credentials import keyring_backend_usable
from keyring.backends import chainer, fail
from keyring.errors import PasswordDeleteError

from tests.support import RunningServer

from .conftest import arun, make_core, online


def _no_keyring() -> object:
    """keyring's 'no backend' backend."""
    return fail.Keyring()  # type: ignore[no-untyped-call]


def _chainer() -> object:
    return chainer.ChainerBackend()  # type: ignore[no-untyped-call]


class DictKeyring:
    """An in-memory keyring backend, as a real OS keyring would behave.

    Not a ``KeyringBackend`` subclass: subclasses register themselves with
    ``keyring`` and would change what the default store finds."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.items:
            raise PasswordDeleteError("none")
        del self.items[(service, username)]


class BrokenKeyring(DictKeyring):
    """A keyring that exists but fails (a locked keychain)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("keychain locked")


def test_keyring_store_round_trip() -> None:
    """With a real backend, tokens are stored per server and email, and deleted."""
    backend = DictKeyring()
    store = KeyringTokenStore(backend)
    assert store.available()
    store.set("http://h:1", "Ada@x.io", "t1")
    store.set("http://h:2", "ada@x.io", "t2")
    assert store.get("http://h:1/", "ada@x.io") == "t1" and store.get("http://h:2", "ada@x.io") == "t2"
    assert len(backend.items) == 2
    store.delete("http://h:1", "ada@x.io")
    store.delete("http://h:1", "ada@x.io")  # no error when gone
    assert store.get("http://h:1", "ada@x.io") is None


def test_no_backend_means_memory_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """keyring's fail backend, or a chainer with nothing behind it, is 'no keyring': memory only."""
    assert not keyring_backend_usable(_no_keyring())
    monkeypatch.setattr(chainer.ChainerBackend, "backends", property(lambda self: []))
    assert not keyring_backend_usable(_chainer())
    monkeypatch.setattr(chainer.ChainerBackend, "backends", property(lambda self: [DictKeyring()]))
    assert keyring_backend_usable(_chainer())
    assert keyring_backend_usable(DictKeyring())
    store = KeyringTokenStore(_no_keyring())
    assert not store.available()
    store.set("http://h:1", "a@x.io", "secret")
    assert store.get("http://h:1", "a@x.io") == "secret"  # this process only
    assert KeyringTokenStore(_no_keyring()).get("http://h:1", "a@x.io") is None


def test_machine_default_has_no_keyring() -> None:
    """On this test machine keyring has no backend, and the default store says so."""
    assert not KeyringTokenStore().available()


def test_broken_keyring_falls_back_to_memory() -> None:
    """A keyring that errors does not fail the login: the token stays in memory."""
    store = KeyringTokenStore(BrokenKeyring())
    store.set("http://h:1", "a@x.io", "tok")
    assert store.get("http://h:1", "a@x.io") == "tok"


def test_core_without_keyring_keeps_token_in_memory_only(server: RunningServer, data_dir: Path) -> None:
    """Without a keyring the core says so, works for the session, and a restarted core must log in again."""

    async def main() -> None:
        store = KeyringTokenStore(_no_keyring())
        core, _ = make_core(server, data_dir, store)
        assert core.keyring_available is False
        await core.login(server.admin_email, server.admin_password, remember=True)
        await core.start()
        await online(core)
        await core.stop()
        fresh = ConsoleCore(server.http_url, data_dir, KeyringTokenStore(_no_keyring()))
        assert not await fresh.resume()
        assert fresh.last_email() == server.admin_email  # the form can be prefilled

    arun(main())


def test_core_with_keyring_resumes(server: RunningServer, data_dir: Path) -> None:
    """With a keyring and 'remember', a restarted core resumes without a password; without 'remember' it does not."""

    async def main() -> None:
        backend = DictKeyring()
        core, _ = make_core(server, data_dir, KeyringTokenStore(backend))
        assert core.keyring_available
        await core.login(server.admin_email, server.admin_password, remember=True)
        await core.stop()
        again, _ = make_core(server, data_dir, KeyringTokenStore(backend))
        assert await again.resume() and again.me is not None and again.me.email == server.admin_email
        await again.start()
        await online(again)
        await again.stop()
        forgetful, _ = make_core(server, data_dir, KeyringTokenStore(backend))
        await forgetful.login(server.admin_email, server.admin_password, remember=False)
        await forgetful.stop()
        assert backend.items == {}

    arun(main())


def test_token_never_reaches_the_cache(server: RunningServer, data_dir: Path) -> None:
    """After login and a full sync, no byte of the cache (or its WAL) or data dir holds the token."""

    async def main() -> None:
        store = MemoryTokenStore()
        core, _ = make_core(server, data_dir, store)
        await core.login(server.admin_email, server.admin_password, remember=False)
        token = core._token
        assert token
        await core.start()
        await online(core)
        await core.set_config({"business_name": "Token-free Ltd"})
        path = cache_path(data_dir, server.http_url, server.admin_email)
        assert path in _files(data_dir)
        _assert_absent(data_dir, token)
        await core.stop()
        _assert_absent(data_dir, token)

    arun(main())


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _assert_absent(root: Path, token: str) -> None:
    for p in _files(root):
        assert token.encode() not in p.read_bytes(), p
