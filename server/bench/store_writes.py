"""The store's write path alone, without sockets: concurrent writers posting visitor messages through
``Store.write``, for comparing one backend's batching before and after a change (docs/SCALING.md).

    python -m frontdesk.server.bench.store_writes --pg-url postgresql://postgres@127.0.0.1:5432/postgres
    python -m frontdesk.server.bench.store_writes --sqlite /tmp/writes.db

With ``--pg-url`` (a role that may CREATE DATABASE) it creates a database of its own and drops it after.
Prints messages per second, jobs per batch, the mean transaction time of a batch and, on PostgreSQL, the
writer's round trips and statements per batch and per write."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path

from ..store import Store, Tx, agents, messages, open_store, tenants, visitors


async def _run(url: str, writers: int, seconds: float) -> str:
    store: Store = open_store(url)
    await store.open()
    try:

        def seed(tx: Tx) -> tuple[int, int]:
            tenant = tenants.create_tenant(tx, "bench", "Bench", "site-bench", "secret-bench", {})
            agents.create_agent(tx, tenant.id, "ada@bench.test", "Ada", "admin", "hash")
            visitor = visitors.create_visitor(tx, tenant.id, "tok-bench", {"name": "Alice"})
            return tenant.id, visitor.id

        tenant_id, visitor_id = await store.write(seed)
        stop = time.monotonic() + seconds
        posted = 0

        async def writer() -> None:
            nonlocal posted
            while time.monotonic() < stop:
                await store.write(
                    messages.post_message,
                    tenant_id,
                    author_kind="visitor",
                    author_id=visitor_id,
                    conversation_id=None,
                    client_id=str(uuid.uuid4()),
                    body="hello",
                )
                posted += 1

        started = time.monotonic()
        await asyncio.gather(*(writer() for _ in range(writers)))
        elapsed = time.monotonic() - started
        line = f"{posted / elapsed:,.0f} msgs/s with {writers} writers"
        batches, jobs, tx_ns = store.batches, store.batched_jobs, store.transaction_ns
        if batches:
            line += f"; {jobs / batches:.1f} jobs per batch"
            if tx_ns:
                line += f", {tx_ns / batches / 1e6:.2f} ms per batch transaction"
        if url.startswith("postgresql") and jobs:
            from ..store.postgres import PostgresStore

            assert isinstance(store, PostgresStore)
            trips = store.trips
            line += (
                f"; {trips.round_trips / batches:.1f} round trips and {trips.statements / batches:.1f} statements"
                f" per batch, {trips.round_trips / jobs:.2f} and {trips.statements / jobs:.2f} per write"
            )
        return line
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pg-url", help="PostgreSQL URL of a role that may CREATE DATABASE")
    where.add_argument("--sqlite", type=Path, help="a SQLite file to create (must not exist)")
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    if args.sqlite is not None:
        if args.sqlite.exists():
            parser.error(f"{args.sqlite} exists; name a new file")
        print(asyncio.run(_run(f"sqlite:///{args.sqlite}", args.writers, args.seconds)))
        return
    from ._targets import create_scratch_pg, drop_scratch_pg

    url = create_scratch_pg(args.pg_url)
    try:
        print(asyncio.run(_run(url, args.writers, args.seconds)))
    finally:
        drop_scratch_pg(args.pg_url, url)


if __name__ == "__main__":
    main()
