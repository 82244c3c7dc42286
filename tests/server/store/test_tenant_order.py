"""PostgreSQL orders writes per tenant (server/store/postgres.py, "Per-tenant write locks"): tenants never wait for
each other, on one node or many, while one tenant's events still become visible in order on every node."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from frontdesk.server.domain import EventRecord
from frontdesk.server.store import _sql, events, messages
from frontdesk.server.store._writer import Job
from frontdesk.server.store.postgres import (
    _EXCLUSIVE,
    _SHARED,
    TENANT_LOCK,
    _lock_scope,
    _notify_payload,
    _parse_notify,
)

from tests.support import TIMEOUT

from .test_contract import _seed, cid
from .test_postgres import Node, eventually, say

pytestmark = pytest.mark.postgres


class HeldWrite:
    """A write of one tenant that appends an event, then holds its transaction open until released.

    It runs on a node's writer thread, so that node's tenant lock stays taken meanwhile.
    """

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, tx: _sql.Tx, tenant_id: int) -> int:
        event_id = events.append_event(tx, tenant_id, "test.held", {})
        self.started.set()
        assert self.release.wait(10 * TIMEOUT), "the test never released the held write"
        return event_id


def test_a_tenant_writes_on_another_node_while_one_tenants_transaction_is_held_open(pg_url: str) -> None:
    """Node A holds tenant 1's transaction open: node B's write for tenant 2 is acked meanwhile, and node C's write
    for tenant 1 waits on tenant 1's lock (seen in pg_locks: a fence, no timing) and commits after A's."""

    async def tenant_lock_waiters(node: Node, tenant: int) -> int:
        row = await node.store.read(
            lambda tx: tx.one(
                "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = ?"
                " AND objid = ?",
                (TENANT_LOCK, tenant),
            )
        )
        return int(row["n"]) if row else 0

    async def main() -> None:
        async with Node(pg_url) as a, Node(pg_url) as b, Node(pg_url) as c:
            w = await a.store.write(_seed)
            held = HeldWrite()
            first = asyncio.ensure_future(a.store.write(held, w.tenant))
            assert await asyncio.to_thread(held.started.wait, TIMEOUT), "the held write never started"
            try:
                # Tenant 2 on node B: acked although tenant 1's transaction is open on node A.
                other = await asyncio.wait_for(say_other(b, w), TIMEOUT)
                assert other.event_id > 0
                # Tenant 1 on node C: it waits for node A's transaction, on tenant 1's lock.
                second = asyncio.ensure_future(say(c, w, w.alice, "after the held one"))
                deadline = asyncio.get_running_loop().time() + TIMEOUT
                while await tenant_lock_waiters(b, w.tenant) < 1:
                    assert asyncio.get_running_loop().time() < deadline, "node C never waited on tenant 1's lock"
                    await asyncio.sleep(0.02)
                assert not second.done()
            finally:
                held.release.set()
            held_id = await first
            later = await second
            assert held_id < later.event_id
            # Every node publishes tenant 1's events in id order, the held one included, exactly once.
            for node in (a, b, c):
                await eventually(lambda node=node: later.event_id in node.ids, "every node published tenant 1")
                tenant_1 = [e.event_id for e in node.published if e.tenant_id == w.tenant]
                assert tenant_1 == sorted(tenant_1) and len(tenant_1) == len(set(tenant_1))
                assert held_id in tenant_1

    asyncio.run(main())


async def say_other(node: Node, w: Any) -> Any:
    return await node.store.write(
        messages.post_message,
        w.other_tenant,
        author_kind="visitor",
        author_id=w.foreign_visitor,
        conversation_id=None,
        client_id=cid(),
        body="other tenant",
    )


def _job(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
    return Job(fn, args, kwargs, future=None)  # type: ignore[arg-type]


def test_a_write_takes_the_lock_its_tenant_argument_names() -> None:
    """Tenant-scoped writes lock their tenant; job-table operations share; anything else runs alone."""
    from frontdesk.server.store import jobs as job_ops
    from frontdesk.server.store.base import probe_write

    assert _lock_scope(_job(messages.post_message, 7, author_kind="visitor")) == 7
    assert _lock_scope(_job(messages.post_message, tenant_id=9)) == 9
    assert _lock_scope(_job(job_ops.claim, "node", now=0)) == _SHARED
    assert _lock_scope(_job(probe_write)) == _SHARED
    assert _lock_scope(_job(lambda tx: None)) == _EXCLUSIVE
    assert _lock_scope(_job(messages.post_message, None)) == _EXCLUSIVE


def test_a_write_that_appends_events_of_a_tenant_it_did_not_name_is_refused_alone(pg_url: str) -> None:
    """A write naming tenant 1 that appends an event of tenant 2 is rolled back; its batch neighbours commit."""

    def sneaky(tx: _sql.Tx, tenant_id: int, other: int) -> None:
        events.append_event(tx, tenant_id, "test.ok", {})
        events.append_event(tx, other, "test.sneaky", {})

    async def main() -> None:
        async with Node(pg_url) as node:
            w = await node.store.write(_seed)
            before = await node.store.read(lambda tx: tx.one("SELECT COUNT(*) AS n FROM events"))
            sneaking = node.store.write(sneaky, w.tenant, w.other_tenant)
            honest = say(node, w, w.alice, "honest")
            outcome = await asyncio.gather(sneaking, honest, return_exceptions=True)
            assert isinstance(outcome[0], RuntimeError) and "did not name" in str(outcome[0])
            after = await node.store.read(lambda tx: tx.one("SELECT COUNT(*) AS n FROM events"))
            assert after["n"] > before["n"]  # the honest message's events
            kinds = await node.store.read(lambda tx: tx.all("SELECT kind FROM events WHERE kind LIKE 'test.%'"))
            assert kinds == []

    asyncio.run(main())


def test_the_notification_names_its_node_and_each_tenant_and_falls_back_to_every_tenant() -> None:
    """node/tenant:last_event_id pairs round-trip; an oversize or unreadable payload means "read every tenant";
    a payload of a node before the node was named (pairs alone) still reads as its pairs."""

    def event(tenant: int, event_id: int) -> EventRecord:
        return EventRecord(event_id, tenant, "k", None, None, {}, None, 0)

    payload = _notify_payload([event(2, 10), event(1, 11), event(2, 12)], "n1")
    assert payload == "n1/1:11,2:12" and _parse_notify(payload) == ("n1", {1: 11, 2: 12})
    assert _notify_payload((event(t, t) for t in range(1, 5000)), "n1") == "n1/*"
    assert _parse_notify("n1/*") == ("n1", None) and _parse_notify("n1/12") == ("n1", None)
    assert _parse_notify("n1/a:b") == ("n1", None)
    assert _parse_notify("1:11,2:12") == ("", {1: 11, 2: 12})
