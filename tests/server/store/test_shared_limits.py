"""Store operations of migration 0004 on every backend: the shared message
budget, the per-account login count, identity secret rotation, a verified
user's visitor scope, and what erasure leaves of them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from frontdesk.server.domain import Viewer
from frontdesk.server.exceptions import Conflict, NotFound, RateLimited
from frontdesk.server.store import Store, _sql, agents, conversations, events, messages, open_store, tenants, visitors

T = TypeVar("T")


def _run(url: str, body: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        store = open_store(url)
        await store.open()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def _tenant_and_visitor(tx: _sql.Tx) -> tuple[int, int]:
    tenant = tenants.create_tenant(tx, "acme", "Acme", "site-acme", "a" * 64, {})
    visitor = visitors.create_visitor(tx, tenant.id, "tok", {})
    return int(tenant.id), int(visitor.id)


def _send(tx: _sql.Tx, tenant: int, visitor: int, n: int) -> dict[str, Any]:
    return messages.post_message(
        tx,
        tenant,
        author_kind="visitor",
        author_id=visitor,
        conversation_id=None,
        client_id=f"c-{n}",
        body=f"m{n}",
        budget=(0.001, 3),
    )


def test_the_message_budget_is_taken_inside_the_write(store_url: str) -> None:
    """A burst of 3: the fourth message raises RateLimited and stores nothing; a resend of an acked
    client_id costs nothing."""

    async def body(store: Store) -> None:
        tenant, visitor = await store.write(_tenant_and_visitor)
        acks = [await store.write(_send, tenant, visitor, n) for n in range(3)]
        with pytest.raises(RateLimited) as refused:
            await store.write(_send, tenant, visitor, 3)
        assert refused.value.retry_after > 0
        again = await store.write(_send, tenant, visitor, 0)  # the same client_id: the original, no token
        assert again.seq == acks[0].seq == 1
        history = await store.read(
            messages.history, tenant, acks[0].conversation_id, visitor_id=visitor, before_seq=None, limit=50,
            include_notes=False,
        )  # fmt: skip
        assert [m.body for m in history.messages] == ["m0", "m1", "m2"]

    _run(store_url, body)


def test_login_attempts_are_counted_per_account_and_cleared_by_a_success(store_url: str) -> None:
    """Five attempts are counted, the sixth is refused with a retry time; a success clears the account only."""

    async def body(store: Store) -> None:
        ids = [await store.write(agents.login_attempt, "ada@acme.test", 5, 60_000) for _ in range(5)]
        assert len(set(ids)) == 5
        with pytest.raises(RateLimited) as refused:
            await store.write(agents.login_attempt, "ada@acme.test", 5, 60_000)
        assert 0 < refused.value.retry_after <= 60
        await store.write(agents.login_attempt, "bob@acme.test", 5, 60_000)
        await store.write(agents.login_succeeded, "ada@acme.test")
        await store.write(agents.login_attempt, "ada@acme.test", 5, 60_000)
        # Attempts older than the window no longer count: with a window of 0 ms, ada's five are all old.
        for _ in range(4):
            await store.write(agents.login_attempt, "ada@acme.test", 5, 60_000)
        with pytest.raises(RateLimited):
            await store.write(agents.login_attempt, "ada@acme.test", 5, 60_000)
        await store.write(agents.login_attempt, "ada@acme.test", 5, 0)

    _run(store_url, body)


def test_identity_secret_rotation_keeps_the_previous_until_ended(store_url: str) -> None:
    """rotate makes a new current secret and keeps the old one accepted; ending the rotation drops it."""

    async def body(store: Store) -> None:
        tenant, _ = await store.write(_tenant_and_visitor)
        assert await store.read(tenants.identity_secrets, tenant) == ["a" * 64]
        state = await store.write(tenants.rotate_identity_secret, tenant, "b" * 64)
        assert state.secret == "b" * 64 and state.previous == "a" * 64 and state.rotated_at
        assert await store.read(tenants.identity_secrets, tenant) == ["b" * 64, "a" * 64]
        state = await store.write(tenants.rotate_identity_secret, tenant, "c" * 64)
        assert await store.read(tenants.identity_secrets, tenant) == ["c" * 64, "b" * 64]
        state = await store.write(tenants.rotate_identity_secret, tenant, None)
        assert state.previous is None and await store.read(tenants.identity_secrets, tenant) == ["c" * 64]
        with pytest.raises(NotFound):
            await store.read(tenants.identity_secrets, tenant + 99)

    _run(store_url, body)


def test_only_verified_visitors_of_one_user_share_a_scope(store_url: str) -> None:
    """Two visitors verified as u-1 share their conversations; an unverified u-1 and a verified u-2 do not;
    a verified visitor cannot become another user; erasure drops the visitor from the scope."""

    def seed(tx: _sql.Tx) -> tuple[int, list[int]]:
        tenant = tenants.create_tenant(tx, "acme", "Acme", "site-acme", "a" * 64, {})
        ids = []
        for token, user, verified in (
            ("t1", "u-1", True),
            ("t2", "u-1", True),
            ("t3", "u-1", False),
            ("t4", "u-2", True),
        ):
            row = visitors.create_visitor(tx, tenant.id, token, {})
            visitors.identify_visitor(tx, tenant.id, row.id, user, verified, {})
            ids.append(int(row.id))
        return int(tenant.id), ids

    async def body(store: Store) -> None:
        tenant, (v1, v2, v3, v4) = await store.write(seed)
        assert await store.read(visitors.visitor_scope, tenant, v1) == sorted([v1, v2])
        assert await store.read(visitors.visitor_scope, tenant, v3) == [v3]
        assert await store.read(visitors.visitor_scope, tenant, v4) == [v4]
        conv, _ = await store.write(conversations.start_conversation, tenant, v1)
        seen = await store.read(conversations.get_conversation, tenant, conv.id, v2)
        assert seen.visitor_id == v1
        for outsider in (v3, v4):
            with pytest.raises(NotFound):
                await store.read(conversations.get_conversation, tenant, conv.id, outsider)
        # The same user's second device continues the open conversation instead of starting its own.
        again, created = await store.write(conversations.start_conversation, tenant, v2)
        assert again.id == conv.id and created is False
        with pytest.raises(Conflict):
            await store.write(visitors.identify_visitor, tenant, v1, "u-2", True, {})
        unchanged = await store.write(visitors.identify_visitor, tenant, v1, "u-1", False, {"name": "Same"})
        assert unchanged.verified == 1 and unchanged.name == "Same"
        seen_events = await store.read(
            events.events_after, Viewer(tenant, visitor_id=v2, linked_visitors=frozenset({v1})), 0, 100
        )
        assert [e.kind for e in seen_events] == ["conversation.created"]
        await store.write(visitors.erase_visitor, tenant, v1)
        assert await store.read(visitors.visitor_scope, tenant, v2) == [v2]
        assert await store.read(visitors.visitor_scope, tenant, v1) == []

    _run(store_url, body)


def test_erasure_removes_the_visitors_budget_row(store_url: str) -> None:
    """The shared bucket keyed by the visitor's id goes with the visitor."""

    async def body(store: Store) -> None:
        tenant, visitor = await store.write(_tenant_and_visitor)
        await store.write(_send, tenant, visitor, 0)
        count = "SELECT COUNT(*) AS n FROM rate_buckets WHERE key = ?"
        assert (await store.read(lambda tx: tx.one(count, (f"visitor:{visitor}",))))["n"] == 1  # type: ignore[index]
        await store.write(visitors.erase_visitor, tenant, visitor)
        assert (await store.read(lambda tx: tx.one(count, (f"visitor:{visitor}",))))["n"] == 0  # type: ignore[index]
        with pytest.raises(NotFound):
            await store.write(conversations.start_conversation, tenant, visitor)

    _run(store_url, body)
