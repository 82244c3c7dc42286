"""The store's secret operations: sealed values by tenant and name.

The store never sees a secret in the clear: callers pass and receive the
*sealed* text that :class:`frontdesk.server.secrets.SecretBox` makes. Use
:class:`frontdesk.server.secrets.SecretStore`, which seals and opens, rather
than these functions directly.
"""

from __future__ import annotations

from collections.abc import Callable

from ._sql import Tx

__all__ = ["delete", "get", "names", "put", "reseal_all"]


def put(tx: Tx, tenant_id: int, name: str, sealed: str, *, now: int) -> None:
    """Store (or replace) the sealed secret ``name`` of a tenant."""
    if not name:
        raise ValueError("a secret needs a name")
    tx.run(
        "INSERT INTO secrets (tenant_id, name, sealed, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
        (tenant_id, name, sealed, now),
    )


def get(tx: Tx, tenant_id: int, name: str) -> str | None:
    """The sealed secret ``name`` of a tenant, or None."""
    row = tx.one("SELECT sealed FROM secrets WHERE tenant_id = ? AND name = ?", (tenant_id, name))
    return None if row is None else str(row["sealed"])


def delete(tx: Tx, tenant_id: int, name: str) -> bool:
    """Remove a secret; whether it existed."""
    return tx.run("DELETE FROM secrets WHERE tenant_id = ? AND name = ?", (tenant_id, name)) == 1


def names(tx: Tx, tenant_id: int) -> list[str]:
    """The names of a tenant's secrets, sorted (never their values)."""
    return [str(r["name"]) for r in tx.all("SELECT name FROM secrets WHERE tenant_id = ? ORDER BY name", (tenant_id,))]


def reseal_all(tx: Tx, reseal: Callable[[str], str]) -> int:
    """Replace every sealed value by ``reseal(value)`` in this one transaction
    (a key rotation: all or nothing); how many."""
    rows = tx.all("SELECT tenant_id, name, sealed FROM secrets ORDER BY tenant_id, name")
    for row in rows:
        tx.run(
            "UPDATE secrets SET sealed = ? WHERE tenant_id = ? AND name = ?",
            (reseal(row["sealed"]), row["tenant_id"], row["name"]),
        )
    return len(rows)
