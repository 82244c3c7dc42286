"""``frontdesk bench tenants``: does PostgreSQL throughput grow with nodes when each node serves its own tenant?

Store level, in one process: each node is a :class:`~frontdesk.server.store.postgres.PostgresStore` with its own
writer thread and connections, as a server node has, and writers post visitor messages through
:func:`messages.post_message` in a closed loop (each waits for its ack, then sends the next). Three shapes, each on a
fresh database:

- ``1 node × 1 tenant``: the single-node baseline;
- ``N nodes × N tenants``: node *i* writes tenant *i* only; with per-tenant write locks nothing serializes them;
- ``N nodes × 1 tenant``: every node writes the same tenant; its writers serialize on that tenant's lock, which
  the lock wait shows.

Reported per shape: messages acked per second, ack latency (p50/p99), and per message the database transaction time
and the time spent taking locks (waiting for writers of the same tenant, plus one round trip). On a machine with
few cores the nodes, PostgreSQL and the writers share the CPU, so total throughput is bounded by it; the lock wait is
what shows whether tenants wait for each other.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from ._stats import Progress, summary_ms

__all__ = ["tenants"]

JSON = dict[str, Any]


async def _shape(admin_url: str, nodes: int, tenants: int, writers: int, duration: float, progress: Progress) -> JSON:
    from ..store import agents, messages, visitors
    from ..store import tenants as tenant_ops
    from ..store.postgres import PostgresStore
    from ._targets import create_scratch_pg, drop_scratch_pg

    url = create_scratch_pg(admin_url)
    stores = [PostgresStore(url) for _ in range(nodes)]
    try:
        for store in stores:
            await store.open()

        def seed(tx: Any) -> list[tuple[int, list[int]]]:
            made = []
            for t in range(tenants):
                tenant = tenant_ops.create_tenant(tx, f"t{t}", f"Tenant {t}", f"site-{t}", f"secret-{t}", {})
                agents.create_agent(tx, tenant.id, f"agent@t{t}.test", "Agent", "admin", "x")
                people = [visitors.create_visitor(tx, tenant.id, f"tok-{t}-{v}", {}).id for v in range(writers * nodes)]
                made.append((tenant.id, people))
            return made

        world = await stores[0].write(seed)
        latencies: list[int] = []
        acked = 0
        stop_at = time.monotonic() + duration

        async def writer(store: PostgresStore, tenant_id: int, visitor_id: int) -> None:
            nonlocal acked
            conversation_id = None
            while time.monotonic() < stop_at:
                sent = time.perf_counter_ns()
                ack = await store.write(
                    messages.post_message,
                    tenant_id,
                    author_kind="visitor",
                    author_id=visitor_id,
                    conversation_id=conversation_id,
                    client_id=str(uuid.uuid4()),
                    body="hello from the bench",
                    budget=(1e6, 2e6),  # the shared visitor budget is charged as the server does, never binding
                )
                latencies.append(time.perf_counter_ns() - sent)
                conversation_id = ack.conversation_id
                acked += 1

        label = f"tenants {nodes} node(s) × {tenants} tenant(s)"
        progress.begin(label)
        for store in stores:
            store.lock_wait_ns = store.transaction_ns = 0
        started = time.monotonic()
        tasks = [
            asyncio.create_task(writer(stores[n], *_pick(world, n, w, writers)))
            for n in range(nodes)
            for w in range(writers)
        ]
        while not all(task.done() for task in tasks):
            await asyncio.sleep(0.1)
            progress.update((time.monotonic() - started) / duration, f"{acked} acked")
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        progress.end(f"{acked / elapsed:.0f} msgs/s")
        lock_ns = sum(s.lock_wait_ns for s in stores)
        tx_ns = sum(s.transaction_ns for s in stores)
        return {
            "nodes": nodes,
            "tenants": tenants,
            "writers_per_node": writers,
            "msgs_per_s": round(acked / elapsed, 1),
            "ack_ms": summary_ms(latencies),
            "db_transaction_us_per_msg": round(tx_ns / max(acked, 1) / 1000, 1),
            "lock_wait_us_per_msg": round(lock_ns / max(acked, 1) / 1000, 1),
            "messages_per_transaction": round(
                sum(s.batched_jobs for s in stores) / max(sum(s.batches for s in stores), 1), 1
            ),
        }
    finally:
        for store in stores:
            await store.close()
        drop_scratch_pg(admin_url, url)


def _pick(world: list[tuple[int, list[int]]], node: int, writer: int, writers: int) -> tuple[int, int]:
    """Node ``node``'s tenant (its own when there are as many tenants as nodes) and writer ``writer``'s own visitor
    (each tenant has ``writers`` visitors per node, so no two writers share one)."""
    tenant_id, people = world[node % len(world)]
    return tenant_id, people[node * writers + writer]


async def tenants(admin_url: str, *, nodes: int, writers: int, duration: float, progress: Progress) -> JSON:
    """The three shapes of the module doc, one after the other."""
    return {
        "one_node_one_tenant": await _shape(admin_url, 1, 1, writers, duration, progress),
        "nodes_own_tenants": await _shape(admin_url, nodes, nodes, writers, duration, progress),
        "nodes_one_tenant": await _shape(admin_url, nodes, 1, writers, duration, progress),
    }
