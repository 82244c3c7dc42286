"""The tenants, kept in memory: every visitor socket needs its tenant (site
key, allowed origins, config) before the upgrade, so lookups must not wait on
the database. The cache follows ``config.updated`` events."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from .domain import EventRecord
from .exceptions import NotFound
from .store import Store, _sql

__all__ = ["Tenant", "TenantCache"]


@dataclasses.dataclass
class Tenant:
    id: int
    slug: str
    name: str
    site_key: str
    secret: str
    config: dict[str, Any]


def _tenant(row: _sql.Row) -> Tenant:
    return Tenant(row["id"], row["slug"], row["name"], row["site_key"], row["secret"], _sql.tenant_config(row))


def _all_tenants(tx: _sql.Tx) -> list[_sql.Row]:
    return tx.all("SELECT * FROM tenants")


def _tenant_by_key(tx: _sql.Tx, site_key: str) -> _sql.Row | None:
    return tx.one("SELECT * FROM tenants WHERE site_key = ?", (site_key,))


def _tenant_by_id(tx: _sql.Tx, tenant_id: int) -> _sql.Row | None:
    return tx.one("SELECT * FROM tenants WHERE id = ?", (tenant_id,))


class TenantCache:
    """Tenants by id and by site key."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_id: dict[int, Tenant] = {}
        self._by_key: dict[str, Tenant] = {}

    def _put(self, tenant: Tenant) -> Tenant:
        self._by_id[tenant.id] = tenant
        self._by_key[tenant.site_key] = tenant
        return tenant

    async def load(self) -> None:
        for row in await self.store.read(_all_tenants):
            self._put(_tenant(row))

    async def by_site_key(self, site_key: str) -> Tenant | None:
        """The tenant of a site key (read through to the store for tenants
        created by another process since start), or None."""
        tenant = self._by_key.get(site_key)
        if tenant is None and site_key:
            row = await self.store.read(_tenant_by_key, site_key)
            tenant = self._put(_tenant(row)) if row else None
        return tenant

    async def refresh(self, tenant_id: int) -> Tenant:
        row = await self.store.read(_tenant_by_id, tenant_id)
        if row is None:
            raise NotFound(f"no tenant {tenant_id}")
        return self._put(_tenant(row))

    def by_id(self, tenant_id: int) -> Tenant:
        """A tenant already known (every session's tenant is loaded when it opens)."""
        return self._by_id[tenant_id]

    async def get(self, tenant_id: int) -> Tenant:
        """A tenant by id, read through to the store for tenants created by
        another process (``frontdesk tenant add``) since start."""
        tenant = self._by_id.get(tenant_id)
        return tenant if tenant is not None else await self.refresh(tenant_id)

    def apply(self, events: Iterable[EventRecord]) -> None:
        """Follow committed configuration changes."""
        for event in events:
            if event.kind == "config.updated" and event.tenant_id in self._by_id:
                config = {k: v for k, v in event.payload.items() if k != "updated_by"}
                self._by_id[event.tenant_id].config = config
