"""The tenants, kept in memory: every visitor socket needs its tenant (site
key, allowed origins, config) before the upgrade, so lookups must not wait on
the database. The cache follows ``config.updated`` events."""

from __future__ import annotations

from collections.abc import Iterable

from .domain import EventRecord
from .exceptions import NotFound
from .store import Store, tenants
from .store.tenants import Tenant

__all__ = ["Tenant", "TenantCache"]


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
        for tenant in await self.store.read(tenants.all_tenants):
            self._put(tenant)

    async def by_site_key(self, site_key: str) -> Tenant | None:
        """The tenant of a site key (read through to the store for tenants
        created by another process since start), or None."""
        tenant = self._by_key.get(site_key)
        if tenant is None and site_key:
            found = await self.store.read(tenants.tenant_by_site_key, site_key)
            tenant = self._put(found) if found else None
        return tenant

    async def refresh(self, tenant_id: int) -> Tenant:
        found = await self.store.read(tenants.tenant_by_id, tenant_id)
        if found is None:
            raise NotFound(f"no tenant {tenant_id}")
        return self._put(found)

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
