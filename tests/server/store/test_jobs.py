"""The job table's operations (store/jobs.py), on every backend."""

from __future__ import annotations

import asyncio

import pytest
from frontdesk.server.domain import EventRecord
from frontdesk.server.store import Store, _sql, jobs, open_store, tenants, visitors

from tests.support import run_on_store

from .test_contract import run, say, seed

NOW = 1_700_000_000_000
LEASE = 60_000


def test_a_job_is_claimed_once_when_due_and_gone_when_completed(store_url: str) -> None:
    """A job is not claimable before it is due; once claimed, its lease keeps others off; completed, it is gone."""

    async def scenario(store: Store) -> None:
        job_id = await store.write(jobs.enqueue, "email", {"to": "a@example.com"}, now=NOW, due_at=NOW + 1000)
        assert await store.write(jobs.claim, "node-a", now=NOW, lease_ms=LEASE) == []
        assert await store.read(jobs.next_due, now=NOW) == NOW + 1000
        claimed = await store.write(jobs.claim, "node-a", now=NOW + 1000, lease_ms=LEASE)
        assert [(j.id, j.kind, j.payload, j.attempts) for j in claimed] == [
            (job_id, "email", {"to": "a@example.com"}, 1)
        ]
        assert await store.write(jobs.claim, "node-b", now=NOW + 2000, lease_ms=LEASE) == []
        assert await store.write(jobs.complete, job_id, "node-b") is False  # not node-b's lease
        assert await store.write(jobs.complete, job_id, "node-a") is True
        assert await store.read(jobs.pending) == []
        assert await store.read(jobs.next_due, now=NOW) is None

    run_on_store(store_url, scenario)


def test_an_expired_lease_lets_another_node_run_the_job_again(store_url: str) -> None:
    """A node that dies mid-job stops holding it: after the lease expires another node claims it (at least once)."""

    async def scenario(store: Store) -> None:
        job_id = await store.write(jobs.enqueue, "webhook", {}, now=NOW)
        [first] = await store.write(jobs.claim, "node-a", now=NOW, lease_ms=LEASE)
        assert await store.write(jobs.claim, "node-b", now=NOW + LEASE - 1, lease_ms=LEASE) == []
        [again] = await store.write(jobs.claim, "node-b", now=NOW + LEASE, lease_ms=LEASE)
        assert (again.id, again.attempts, again.lease_owner) == (job_id, 2, "node-b")
        assert first.attempts == 1
        assert await store.write(jobs.complete, job_id, "node-a") is False  # the dead node's late completion
        assert await store.write(jobs.renew, job_id, "node-a", now=NOW + LEASE, lease_ms=LEASE) is False
        assert await store.write(jobs.complete, job_id, "node-b") is True

    run_on_store(store_url, scenario)


def test_a_failed_job_is_retried_after_its_backoff_and_buried_after_its_last_attempt(store_url: str) -> None:
    """fail() reschedules with the given delay and keeps the error; past max_attempts the job is dead."""

    async def scenario(store: Store) -> None:
        job_id = await store.write(jobs.enqueue, "email", {}, now=NOW, max_attempts=2)
        await store.write(jobs.claim, "n", now=NOW, lease_ms=LEASE)
        assert await store.write(jobs.fail, job_id, "n", "SMTP 451", now=NOW, retry_in_ms=5000) == "queued"
        assert await store.write(jobs.claim, "n", now=NOW + 4999, lease_ms=LEASE) == []
        [retry] = await store.write(jobs.claim, "n", now=NOW + 5000, lease_ms=LEASE)
        assert (retry.attempts, retry.last_error) == (2, "SMTP 451")
        assert await store.write(jobs.fail, job_id, "n", "SMTP 550", now=NOW + 5000, retry_in_ms=5000) == "dead"
        assert await store.write(jobs.claim, "n", now=NOW + 10**9, lease_ms=LEASE) == []
        [dead] = await store.read(jobs.dead_jobs)
        assert (dead.id, dead.last_error, dead.attempts) == (job_id, "SMTP 550", 2)
        assert await store.write(jobs.fail, job_id, "other", "x", now=NOW, retry_in_ms=1) is None

    run_on_store(store_url, scenario)


def test_a_dedupe_key_keeps_one_queued_job_and_moves_it(store_url: str) -> None:
    """Enqueueing a keyed job again replaces the waiting one (a debounce), it does not add a second."""

    async def scenario(store: Store) -> None:
        first = await store.write(jobs.enqueue, "email", {"n": 1}, now=NOW, due_at=NOW + 100, dedupe_key="conv:7")
        second = await store.write(jobs.enqueue, "email", {"n": 2}, now=NOW, due_at=NOW + 900, dedupe_key="conv:7")
        assert first == second
        [queued] = await store.read(jobs.pending, "email")
        assert (queued.payload, queued.due_at) == ({"n": 2}, NOW + 900)
        other = await store.write(jobs.enqueue, "email", {"n": 3}, now=NOW, due_at=NOW + 5000, dedupe_key="conv:8")
        assert other != first
        # While the keyed job runs, a new enqueue does not touch it (the runner owns it).
        [running] = await store.write(jobs.claim, "n", now=NOW + 900, lease_ms=LEASE, kinds=["email"], limit=1)
        assert running.id == first
        assert await store.write(jobs.enqueue, "email", {"n": 4}, now=NOW, dedupe_key="conv:7") == first
        [still] = [j for j in await store.read(jobs.pending, "email") if j.id == first]
        assert still.payload == {"n": 2} and still.lease_owner == "n"

    run_on_store(store_url, scenario)


def test_claims_take_only_the_kinds_asked_for_oldest_due_first(store_url: str) -> None:
    """claim(kinds=…) leaves other kinds alone, and returns due jobs in due order, up to the limit."""

    async def scenario(store: Store) -> None:
        late = await store.write(jobs.enqueue, "email", {}, now=NOW, due_at=NOW + 30)
        early = await store.write(jobs.enqueue, "email", {}, now=NOW, due_at=NOW + 10)
        webhook = await store.write(jobs.enqueue, "webhook", {}, now=NOW, due_at=NOW)
        claimed = await store.write(jobs.claim, "n", now=NOW + 100, lease_ms=LEASE, kinds=["email"], limit=1)
        assert [j.id for j in claimed] == [early]
        claimed = await store.write(jobs.claim, "n", now=NOW + 100, lease_ms=LEASE, kinds=["email"])
        assert [j.id for j in claimed] == [late]
        assert await store.write(jobs.claim, "n", now=NOW + 100, lease_ms=LEASE, kinds=[]) == []
        assert [j.id for j in await store.write(jobs.claim, "n", now=NOW + 100, lease_ms=LEASE)] == [webhook]

    run_on_store(store_url, scenario)


def test_erasing_a_visitor_deletes_the_jobs_holding_their_data(store_url: str) -> None:
    """erase_visitor_jobs removes that visitor's jobs and leaves everyone else's."""

    async def scenario(store: Store) -> None:
        def seed(tx: _sql.Tx) -> tuple[int, int, int]:
            tenant = tenants.create_tenant(tx, "acme", "Acme", "site-acme", "secret", {})
            alice = visitors.create_visitor(tx, tenant.id, "tok-a", {"name": "Alice"})
            bob = visitors.create_visitor(tx, tenant.id, "tok-b", {"name": "Bob"})
            return tenant.id, alice.id, bob.id

        tenant, alice, bob = await store.write(seed)
        await store.write(jobs.enqueue, "email", {"to": "alice@x"}, now=NOW, tenant_id=tenant, visitor_id=alice)
        await store.write(jobs.enqueue, "email", {"to": "alice@x"}, now=NOW, tenant_id=tenant, visitor_id=alice)
        keep = await store.write(jobs.enqueue, "email", {"to": "bob@x"}, now=NOW, tenant_id=tenant, visitor_id=bob)
        assert await store.write(jobs.erase_visitor_jobs, alice) == 2
        assert [j.id for j in await store.read(jobs.pending)] == [keep]
        assert "alice@x" not in str(await store.read(jobs.dead_jobs))

    run_on_store(store_url, scenario)


def test_concurrent_claimers_on_two_connections_take_disjoint_jobs(store_url: str) -> None:
    """Two stores on one database (two nodes) claiming at once never both get a job."""

    async def scenario(store: Store) -> None:
        for _ in range(40):
            await store.write(jobs.enqueue, "email", {}, now=NOW)
        other = open_store(store_url)
        if store_url.startswith("sqlite"):
            other = store  # one SQLite file has one serving process (its server lock); two claimers share it
        else:
            await other.open()
        try:
            batches = await asyncio.gather(
                *(
                    (store if i % 2 else other).write(jobs.claim, f"node-{i}", now=NOW, lease_ms=LEASE, limit=3)
                    for i in range(20)
                )
            )
        finally:
            if other is not store:
                await other.close()
        ids = [j.id for batch in batches for j in batch]
        assert len(ids) == 40 and len(set(ids)) == 40

    run_on_store(store_url, scenario)


def test_a_visitor_erasure_deletes_their_queued_jobs(store_url: str) -> None:
    """erase_visitor (the data-protection erasure) leaves none of the visitor's jobs behind."""

    async def scenario(store: Store) -> None:
        def seed(tx: _sql.Tx) -> tuple[int, int]:
            tenant = tenants.create_tenant(tx, "acme", "Acme", "site-acme", "secret", {})
            alice = visitors.create_visitor(tx, tenant.id, "tok-a", {"name": "Alice"})
            return tenant.id, alice.id

        tenant, alice = await store.write(seed)
        await store.write(jobs.enqueue, "email", {"to": "alice@x"}, now=NOW, tenant_id=tenant, visitor_id=alice)
        await store.write(visitors.erase_visitor, tenant, alice)
        assert await store.read(jobs.pending) == []

    run_on_store(store_url, scenario)


def test_a_reactor_writes_in_the_transaction_of_the_events_it_reacts_to(store_url: str) -> None:
    """What a reactor enqueues commits with the write whose events it saw; a reactor that raises fails that
    write, so neither the events nor the job exist (no follow-up is ever lost or orphaned)."""

    async def scenario(store: Store) -> None:
        world = await seed(store)
        seen: list[list[str]] = []
        failing = False

        def react(tx: _sql.Tx, appended: list[EventRecord]) -> None:
            seen.append([e.kind for e in appended])
            if failing:
                raise RuntimeError("the reactor broke")
            jobs.enqueue(tx, "follow-up", {"events": [e.event_id for e in appended]}, now=NOW)

        store.add_reactor(react)
        await say(store, world, world.alice, "Hello")
        [job] = await store.read(jobs.pending, "follow-up")
        assert "message.created" in seen[-1]
        assert len(job.payload["events"]) == len(seen[-1])
        failing = True
        with pytest.raises(RuntimeError, match="the reactor broke"):
            await say(store, world, world.alice, "Lost with its reactor")
        assert [j.id for j in await store.read(jobs.pending, "follow-up")] == [job.id]
        bodies = [row["body"] for row in await store.read(_message_bodies, world.tenant)]
        assert bodies == ["Hello"]
        calls = len(seen)
        await store.write(jobs.enqueue, "no-events", {}, now=NOW)
        assert len(seen) == calls  # reactors run only for writes that append events

    run(store_url, scenario)


def _message_bodies(tx: _sql.Tx, tenant_id: int) -> list[_sql.Row]:
    return tx.all(
        "SELECT m.body FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.tenant_id = ?"
        " ORDER BY m.id",
        (tenant_id,),
    )
