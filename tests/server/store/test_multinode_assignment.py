"""Two nodes on one PostgreSQL racing the auto-assigner (store/assignment.py): never one conversation twice."""

from __future__ import annotations

import asyncio
import collections

import pytest
from frontdesk.server.protocol import decode
from frontdesk.server.store import Store, _sql, agents, messages, open_store, tenants, visitors
from frontdesk.server.store import assignment as assign_ops

pytestmark = pytest.mark.postgres

NOW = 1_800_000_000_000


def _seed(tx: _sql.Tx) -> tuple[int, list[int], list[int]]:
    tenant = tenants.create_tenant(tx, "acme", "Acme", "site-acme", "secret-acme", {"auto_assign": True})
    staff = [agents.create_agent(tx, tenant.id, f"a{i}@acme.test", f"A{i}", "agent", "hash").id for i in range(3)]
    people = [visitors.create_visitor(tx, tenant.id, f"tok-{i}", {}).id for i in range(24)]
    return tenant.id, staff, people


def test_two_nodes_sweeping_at_once_never_assign_a_conversation_twice(pg_url: str) -> None:
    """Sweeps from two stores (two nodes) on one database, many at once, while conversations keep arriving:
    every conversation gets exactly one auto assignment, and no agent goes over its capacity."""

    async def scenario() -> None:
        a, b = open_store(pg_url), open_store(pg_url)
        await a.open()
        await b.open()
        try:
            tenant, staff, people = await a.write(_seed)
            await a.write(tenants.set_config, tenant, {"auto_assign": True, "agent_capacity": 8}, None)

            async def arrive(visitor: int) -> None:
                await a.write(
                    messages.post_message,
                    tenant,
                    author_kind="visitor",
                    author_id=visitor,
                    conversation_id=None,
                    client_id=f"c-{visitor}",
                    body="help",
                )

            async def sweeps(store: Store) -> None:
                for _ in range(8):
                    await store.write(assign_ops.sweep, tenant, online=set(staff), now=NOW)
                    await asyncio.sleep(0)

            await asyncio.gather(*(arrive(v) for v in people), sweeps(a), sweeps(b), sweeps(a), sweeps(b))
            await asyncio.gather(sweeps(a), sweeps(b))  # whatever arrived after the last ones

            def read(tx: _sql.Tx) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
                return (
                    tx.all("SELECT id, assignee_id, assign_reason FROM conversations WHERE tenant_id = ?", (tenant,)),
                    tx.all("SELECT conversation_id, payload FROM events WHERE kind = 'conversation.updated'"),
                )

            convs, events = await b.read(read)
            assert len(convs) == len(people)
            assert all(c["assignee_id"] in staff and c["assign_reason"] == "auto" for c in convs)
            times = collections.Counter(
                e["conversation_id"] for e in events if decode(str(e["payload"]))["change"] == "auto_assigned"
            )
            assert sorted(times.values()) == [1] * len(people)
            assert sorted(collections.Counter(c["assignee_id"] for c in convs).values()) == [8, 8, 8]
        finally:
            await a.close()
            await b.close()

    asyncio.run(scenario())
