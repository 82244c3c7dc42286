"""The one secret store: secrets sealed at rest with the operator's key.

DESIGN.md ("Growing it"): link-signing keys, SMTP passwords, webhook secrets
and the like live in one place, encrypted at rest with a key the operator
provides, rotatable with two keys active, and included in backups (the sealed
values are rows of the database, so every backup carries them; the key is
kept apart from the database and backed up on its own: docs/OPERATIONS.md).

Keys are Fernet keys (AES-128-CBC with HMAC-SHA256, from the well-kept
``cryptography`` package), given as text:

- ``FRONTDESK_SECRET_KEYS``: one or more keys separated by commas, or
- a key file (``--secret-key-file`` / ``FRONTDESK_SECRET_KEY_FILE``): one key a
  line; blank lines and ``#`` comments are ignored.

The first key seals; every key opens. To rotate: put a new key first and keep
the old one after it, run ``frontdesk secrets rotate`` (which reseals every
secret with the new key in one transaction), then drop the old key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .exceptions import FrontdeskError
from .store import Store, now_ms
from .store import secrets as secret_ops

__all__ = ["KEYS_ENV", "KEY_FILE_ENV", "SecretBox", "SecretKeyError", "SecretStore", "generate_key", "load_box"]

#: Environment variable holding the keys themselves (comma-separated, sealing key first).
KEYS_ENV = "FRONTDESK_SECRET_KEYS"
#: Environment variable naming a key file.
KEY_FILE_ENV = "FRONTDESK_SECRET_KEY_FILE"


class SecretKeyError(FrontdeskError):
    """No usable key: none given, a malformed one, or none that opens a stored secret."""


def generate_key() -> str:
    """A new random key, as text for a key file or the environment."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Seals and opens secrets with an ordered list of keys (the first seals)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretKeyError(
                f"no secret key: set {KEYS_ENV}, or {KEY_FILE_ENV} / --secret-key-file (make one with"
                " `frontdesk secrets keygen`)"
            )
        fernets = []
        for number, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key.strip().encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise SecretKeyError(
                    f"secret key {number} is not a key (32 url-safe base64 bytes; make one with"
                    " `frontdesk secrets keygen`)"
                ) from None
        self._keys = MultiFernet(fernets)
        self.key_count = len(fernets)

    def seal(self, plaintext: str) -> str:
        """``plaintext`` encrypted and authenticated with the first key."""
        return self._keys.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        """The plaintext of ``sealed``; :class:`SecretKeyError` if no key opens it (or it was altered)."""
        try:
            return self._keys.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SecretKeyError(
                "a stored secret cannot be opened with the configured keys: was the key rotated away"
                " before `frontdesk secrets rotate` ran? Add the previous key after the current one."
            ) from None

    def reseal(self, sealed: str) -> str:
        """``sealed`` opened with any key and sealed again with the first one."""
        try:
            return self._keys.rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretKeyError("a stored secret cannot be opened with any configured key") from None


def _keys_from_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise SecretKeyError(f"cannot read the secret key file {path}: {exc.strerror or exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def load_box(key_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> SecretBox:
    """The operator's keys: ``key_file`` if given, else :data:`KEYS_ENV`, else the file named by
    :data:`KEY_FILE_ENV`. Raises :class:`SecretKeyError` when none is configured or one is malformed."""
    env = os.environ if environ is None else environ
    if key_file is not None:
        return SecretBox(_keys_from_file(Path(key_file)))
    if env.get(KEYS_ENV, "").strip():
        return SecretBox([k for k in env[KEYS_ENV].split(",") if k.strip()])
    if env.get(KEY_FILE_ENV):
        return SecretBox(_keys_from_file(Path(env[KEY_FILE_ENV])))
    return SecretBox([])


class SecretStore:
    """Tenants' secrets by name, sealed in the database with a :class:`SecretBox`."""

    def __init__(self, store: Store, box: SecretBox) -> None:
        self.store = store
        self.box = box

    async def put(self, tenant_id: int, name: str, value: str) -> None:
        """Seal and store ``value`` as the tenant's secret ``name`` (replacing any)."""
        await self.store.write(secret_ops.put, tenant_id, name, self.box.seal(value), now=now_ms())

    async def get(self, tenant_id: int, name: str) -> str | None:
        """The tenant's secret ``name`` in the clear, or None when there is none."""
        sealed = await self.store.read(secret_ops.get, tenant_id, name)
        return None if sealed is None else self.box.open(sealed)

    async def delete(self, tenant_id: int, name: str) -> bool:
        """Remove the tenant's secret ``name``; whether there was one."""
        return await self.store.write(secret_ops.delete, tenant_id, name)

    async def names(self, tenant_id: int) -> list[str]:
        """The names of the tenant's secrets (never their values)."""
        return await self.store.read(secret_ops.names, tenant_id)

    async def rotate(self) -> int:
        """Reseal every secret of every tenant with the first key, in one transaction; how many.
        After it, keys other than the first may be dropped."""
        return await self.store.write(secret_ops.reseal_all, self.box.reseal)
