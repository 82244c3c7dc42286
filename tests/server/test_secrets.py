"""The secret store (server/secrets.py): sealing, key loading, rotation, and what the database holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from frontdesk.server.secrets import SecretBox, SecretKeyError, SecretStore, generate_key, load_box
from frontdesk.server.store import Store

from tests.support import run_cli, run_on_store

OLD, NEW = generate_key(), generate_key()


def test_a_sealed_secret_opens_with_its_key_and_hides_its_text() -> None:
    """seal() output never contains the plaintext, and open() gives it back."""
    box = SecretBox([NEW])
    sealed = box.seal("smtp-password-hunter2")
    assert "hunter2" not in sealed and sealed != box.seal("smtp-password-hunter2")  # random IV
    assert box.open(sealed) == "smtp-password-hunter2"


def test_two_keys_open_both_generations_and_reseal_moves_to_the_first() -> None:
    """During a rotation both keys open; resealed values open with the new key alone."""
    old_sealed = SecretBox([OLD]).seal("webhook-secret")
    both = SecretBox([NEW, OLD])
    assert both.open(old_sealed) == "webhook-secret"
    resealed = both.reseal(old_sealed)
    assert SecretBox([NEW]).open(resealed) == "webhook-secret"
    with pytest.raises(SecretKeyError, match="cannot be opened"):
        SecretBox([NEW]).open(old_sealed)


def test_a_tampered_or_foreign_secret_is_refused_with_a_clear_error() -> None:
    """A changed byte or another installation's key is an error, never garbage plaintext."""
    sealed = SecretBox([OLD]).seal("x")
    tampered = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    with pytest.raises(SecretKeyError):
        SecretBox([OLD]).open(tampered)
    with pytest.raises(SecretKeyError, match="Add the previous key"):
        SecretBox([NEW]).open(sealed)


def test_keys_come_from_a_file_or_the_environment_and_bad_ones_are_named(tmp_path: Path) -> None:
    """load_box reads the key file (comments skipped) or FRONTDESK_SECRET_KEYS; none or a malformed one is an error."""
    key_file = tmp_path / "secret.key"
    key_file.write_text(f"# sealing key first\n{NEW}\n\n{OLD}\n")
    assert load_box(key_file, environ={}).key_count == 2
    assert load_box(environ={"FRONTDESK_SECRET_KEYS": f"{NEW}, {OLD}"}).key_count == 2
    assert load_box(environ={"FRONTDESK_SECRET_KEY_FILE": str(key_file)}).open(SecretBox([OLD]).seal("y")) == "y"
    with pytest.raises(SecretKeyError, match="no secret key"):
        load_box(environ={})
    with pytest.raises(SecretKeyError, match="secret key 2 is not a key"):
        load_box(environ={"FRONTDESK_SECRET_KEYS": f"{NEW},not-a-key"})
    with pytest.raises(SecretKeyError, match="cannot read the secret key file"):
        load_box(tmp_path / "missing.key", environ={})


def test_the_cli_makes_a_private_key_file_and_rotates_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`secrets keygen --output` writes a 0600 key file once; `secrets rotate` reseals and reports; `list` names."""
    key_file = tmp_path / "secret.key"
    run_cli("secrets", "keygen", "--output", str(key_file))
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert run_cli("secrets", "keygen", "--output", str(key_file), check=False).returncode == 1
    old_key = load_box(key_file, environ={})
    db = tmp_path / "frontdesk.db"
    url = f"sqlite:///{db}"
    run_cli("init", "--db", url, "--json")

    async def put(store: Store) -> int:
        tenant = await store.read(lambda tx: tx.one("SELECT id FROM tenants"))
        assert tenant is not None
        await SecretStore(store, old_key).put(tenant["id"], "smtp.password", "pw-1")
        return int(tenant["id"])

    tenant_id = run_on_store(url, put)
    assert "smtp.password" in run_cli("secrets", "list", "--db", url).stdout
    new = generate_key()
    env_keys = f"{new},{key_file.read_text().split()[-1]}"
    monkeypatch.setenv("FRONTDESK_SECRET_KEYS", env_keys)
    proc = run_cli("secrets", "rotate", "--db", url)
    assert "Resealed 1 secret(s) with the first of 2 key(s)." in proc.stdout
    assert (
        run_on_store(url, lambda store: SecretStore(store, SecretBox([new])).get(tenant_id, "smtp.password")) == "pw-1"
    )
    # The backup carries the sealed secret and opens with the same key.
    backup = tmp_path / "backup.db"
    run_cli("backup", "--db", url, str(backup))
    with sqlite3.connect(backup) as conn:
        [(sealed,)] = conn.execute("SELECT sealed FROM secrets").fetchall()
    assert SecretBox([new]).open(sealed) == "pw-1"
    monkeypatch.setenv("FRONTDESK_SECRET_KEYS", "")
    missing = run_cli("secrets", "rotate", "--db", url, check=False)
    assert missing.returncode == 1 and "no secret key" in missing.stderr
