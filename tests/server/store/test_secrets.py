"""The secret store's operations (store/secrets.py through server/secrets.py), on every backend."""

from __future__ import annotations

import pytest
from frontdesk.server.secrets import SecretBox, SecretKeyError, SecretStore, generate_key
from frontdesk.server.store import Store, _sql, tenants

from tests.support import run_on_store

OLD, NEW = generate_key(), generate_key()


async def _two_tenants(store: Store) -> tuple[int, int]:
    def seed(tx: _sql.Tx) -> tuple[int, int]:
        a = tenants.create_tenant(tx, "acme", "Acme", "site-acme", "s1", {})
        b = tenants.create_tenant(tx, "other", "Other", "site-other", "s2", {})
        return a.id, b.id

    return await store.write(seed)


def test_secrets_are_per_tenant_and_stored_sealed(store_url: str) -> None:
    """A tenant's secret is readable under its own id only, and the database never holds the clear text."""

    async def scenario(store: Store) -> None:
        acme, other = await _two_tenants(store)
        secrets = SecretStore(store, SecretBox([NEW]))
        await secrets.put(acme, "smtp.password", "correct horse battery staple")
        assert await secrets.get(acme, "smtp.password") == "correct horse battery staple"
        assert await secrets.get(other, "smtp.password") is None
        await secrets.put(acme, "smtp.password", "second")
        assert await secrets.get(acme, "smtp.password") == "second"
        assert await secrets.names(acme) == ["smtp.password"] and await secrets.names(other) == []
        raw = await store.read(lambda tx: tx.all("SELECT * FROM secrets"))
        assert len(raw) == 1 and "second" not in str(raw)
        assert await secrets.delete(acme, "smtp.password") is True
        assert await secrets.get(acme, "smtp.password") is None

    run_on_store(store_url, scenario)


def test_rotation_reseals_everything_or_nothing(store_url: str) -> None:
    """rotate() reseals every tenant's secrets with the first key; if one cannot be opened, none changes."""

    async def scenario(store: Store) -> None:
        acme, other = await _two_tenants(store)
        await SecretStore(store, SecretBox([OLD])).put(acme, "a", "alpha")
        await SecretStore(store, SecretBox([OLD])).put(other, "b", "beta")
        assert await SecretStore(store, SecretBox([NEW, OLD])).rotate() == 2
        fresh = SecretStore(store, SecretBox([NEW]))
        assert (await fresh.get(acme, "a"), await fresh.get(other, "b")) == ("alpha", "beta")
        # A secret sealed with a third key that is not configured sinks the whole rotation.
        stray = generate_key()
        await SecretStore(store, SecretBox([stray])).put(other, "c", "gamma")
        before = await store.read(lambda tx: tx.all("SELECT name, sealed FROM secrets ORDER BY name"))
        with pytest.raises(SecretKeyError):
            await SecretStore(store, SecretBox([OLD, NEW])).rotate()
        assert await store.read(lambda tx: tx.all("SELECT name, sealed FROM secrets ORDER BY name")) == before

    run_on_store(store_url, scenario)
