"""Tenants: their configuration and identity secrets.

A tenant is read as a :class:`Tenant` record (what the server keeps in memory
for each site: its keys and full configuration) or as the protocol's
:class:`~frontdesk.server.protocol.Tenant` (what clients see).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .. import domain, protocol
from ..exceptions import NotFound
from . import visitors
from ._sql import JSONDict, Row, Tx, dumps, now_ms
from .events import append_event

__all__ = [
    "Tenant",
    "all_tenants",
    "create_tenant",
    "demo_tenant",
    "identity_secret_state",
    "identity_secrets",
    "rotate_identity_secret",
    "set_config",
    "tenant_by_id",
    "tenant_by_site_key",
    "tenant_by_slug",
    "tenant_config",
]


@dataclasses.dataclass
class Tenant:
    """A tenant as the server holds it: ``secret`` is the current identity
    secret, ``config`` the full widget configuration (defaults overlaid with
    what is stored)."""

    id: int
    slug: str
    name: str
    site_key: str
    secret: str
    config: dict[str, Any]

    def public(self) -> protocol.Tenant:
        """The protocol's Tenant object (no secret, no configuration)."""
        return protocol.Tenant(id=self.id, slug=self.slug, name=self.name, site_key=self.site_key)


def _tenant(row: Row) -> Tenant:
    return Tenant(row["id"], row["slug"], row["name"], row["site_key"], row["secret"], tenant_config(row))


def create_tenant(tx: Tx, slug: str, name: str, site_key: str, secret: str, config: JSONDict) -> Tenant:
    """A new tenant with ``config`` (validated) over the defaults. The slug and
    the site key must be new (the database refuses a duplicate)."""
    merged = {**domain.DEFAULT_CONFIG, "business_name": name, **config}
    row = tx.one(
        "INSERT INTO tenants (slug, name, site_key, secret, config, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        (slug, name, site_key, secret, dumps(merged), now_ms()),
    )
    assert row is not None
    return _tenant(row)


def tenant_config(row: Row) -> JSONDict:
    """A tenant's full configuration: defaults overlaid with what is stored."""
    stored = json.loads(row["config"]) if row.get("config") else {}
    return {**domain.DEFAULT_CONFIG, **stored}


def set_config(tx: Tx, tenant_id: int, patch: JSONDict, actor_id: int) -> protocol.WidgetConfig:
    """Apply a validated partial configuration; emits ``config.updated``. Switching ``store_ip`` off
    forgets the addresses already stored, in this transaction (:func:`visitors.scrub_ips`)."""
    row = tx.one("SELECT * FROM tenants WHERE id = ?", (tenant_id,))
    if row is None:
        raise NotFound("no such tenant")
    before = tenant_config(row)
    config = {**before, **patch}
    if before.get("store_ip", True) and not config.get("store_ip", True):
        visitors.scrub_ips(tx, tenant_id)
    tx.run("UPDATE tenants SET config = ? WHERE id = ?", (dumps(config), tenant_id))
    append_event(
        tx,
        tenant_id,
        "config.updated",
        protocol.ConfigUpdated.of({**config, "updated_by": actor_id}),
        visitor_payload=protocol.PublicConfig.of(config),
    )
    return protocol.WidgetConfig.of(config)


def identity_secrets(tx: Tx, tenant_id: int) -> list[str]:
    """The identity secrets a ``user_hash`` may be made with: the current one
    and, during a rotation, the previous one."""
    row = tx.one("SELECT secret, secret_previous FROM tenants WHERE id = ?", (tenant_id,))
    if row is None:
        raise NotFound("no such tenant")
    return [s for s in (row["secret"], row["secret_previous"]) if s]


def identity_secret_state(tx: Tx, tenant_id: int) -> protocol.IdentitySecret:
    """What an admin sees of the tenant's identity secrets."""
    row = tx.one("SELECT secret, secret_previous, secret_rotated_at FROM tenants WHERE id = ?", (tenant_id,))
    if row is None:
        raise NotFound("no such tenant")
    return protocol.IdentitySecret(
        secret=row["secret"], previous=row["secret_previous"], rotated_at=row["secret_rotated_at"]
    )


def rotate_identity_secret(tx: Tx, tenant_id: int, new_secret: str | None) -> protocol.IdentitySecret:
    """Start a rotation (``new_secret``: it becomes current, the current one
    stays valid as the previous, replacing any older previous) or end one
    (None: the previous secret stops being accepted)."""
    state = identity_secret_state(tx, tenant_id)
    if new_secret is None:
        tx.run("UPDATE tenants SET secret_previous = NULL WHERE id = ?", (tenant_id,))
    else:
        tx.run(
            "UPDATE tenants SET secret = ?, secret_previous = ?, secret_rotated_at = ? WHERE id = ?",
            (new_secret, state.secret, now_ms(), tenant_id),
        )
    return identity_secret_state(tx, tenant_id)


def all_tenants(tx: Tx) -> list[Tenant]:
    """Every tenant, oldest first."""
    return [_tenant(r) for r in tx.all("SELECT * FROM tenants ORDER BY id")]


def tenant_by_id(tx: Tx, tenant_id: int) -> Tenant | None:
    """The tenant with this id, or None."""
    row = tx.one("SELECT * FROM tenants WHERE id = ?", (tenant_id,))
    return None if row is None else _tenant(row)


def tenant_by_site_key(tx: Tx, site_key: str) -> Tenant | None:
    """The tenant of a widget's site key, or None."""
    row = tx.one("SELECT * FROM tenants WHERE site_key = ?", (site_key,))
    return None if row is None else _tenant(row)


def tenant_by_slug(tx: Tx, slug: str) -> Tenant | None:
    """The tenant with this slug, or None."""
    row = tx.one("SELECT * FROM tenants WHERE slug = ?", (slug,))
    return None if row is None else _tenant(row)


def demo_tenant(tx: Tx) -> Tenant | None:
    """The tenant the demo page embeds: slug ``demo`` if any, else the oldest;
    None without tenants."""
    row = tx.one("SELECT * FROM tenants ORDER BY (slug = 'demo') DESC, id LIMIT 1")
    return None if row is None else _tenant(row)
