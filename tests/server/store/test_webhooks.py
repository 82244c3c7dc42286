"""The webhook operations (store/webhooks.py), on every backend."""

from __future__ import annotations

import json

import pytest
from frontdesk.server.exceptions import NotFound
from frontdesk.server.store import Store, jobs, visitors
from frontdesk.server.store import webhooks as hooks

from .test_contract import run, say, seed

NOW = 1_700_000_000_000


def test_fan_out_makes_one_delivery_per_subscribed_event_once(store_url: str) -> None:
    """Events after a webhook's creation become deliveries with their jobs, once: a second fan-out makes none."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        await say(store, w, w.alice, "before the webhook")
        hook = await store.write(
            hooks.create_webhook, w.tenant, "https://hooks.example/x", ["message.created"], "", now=NOW
        )
        first = await say(store, w, w.alice, "hello")
        await say(store, w, w.alice, "again", conversation_id=first["conversation"]["id"])
        assert await store.write(hooks.fan_out, w.tenant, now=NOW) == (2, False)
        assert await store.write(hooks.fan_out, w.tenant, now=NOW) == (0, False)
        log = await store.read(hooks.list_deliveries, w.tenant, hook.id)
        assert [(d.kind, d.status, d.attempts) for d in log] == [("message.created", "pending", 0)] * 2
        assert len({d.msg_id for d in log}) == 2
        queued = await store.read(jobs.pending, hooks.DELIVER_KIND)
        assert sorted(j.payload["delivery_id"] for j in queued) == sorted(d.id for d in log)
        assert all(j.visitor_id == w.alice for j in queued)
        sent = await store.read(hooks.to_send, log[-1].id)
        assert sent is not None
        body = json.loads(sent.body)
        assert (body["type"], body["data"]["body"]) == ("message.created", "hello")
        assert body["timestamp"].endswith("Z")

    run(store_url, scenario)


def test_a_webhook_is_another_tenants_not_found(store_url: str) -> None:
    """Reading, changing or deleting another tenant's webhook is NotFound."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        hook = await store.write(
            hooks.create_webhook, w.tenant, "https://hooks.example/x", ["message.created"], "", now=NOW
        )
        with pytest.raises(NotFound):
            await store.read(hooks.get_webhook, w.other_tenant, hook.id)
        with pytest.raises(NotFound):
            await store.write(hooks.delete_webhook, w.other_tenant, hook.id)
        with pytest.raises(ValueError, match="unknown event"):
            await store.write(hooks.create_webhook, w.tenant, "https://x.example", ["nope"], "", now=NOW)
        assert [h.id for h in await store.read(hooks.list_webhooks, w.tenant)] == [hook.id]

    run(store_url, scenario)


def test_failures_in_a_row_switch_the_webhook_off_and_a_success_resets_them(store_url: str) -> None:
    """Failures in a row reach the limit: the webhook is off with a reason and fans out nothing."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        hook = await store.write(
            hooks.create_webhook, w.tenant, "https://hooks.example/x", ["message.created"], "", now=NOW
        )
        await say(store, w, w.alice, "hello")
        await store.write(hooks.fan_out, w.tenant, now=NOW)
        [delivery] = await store.read(hooks.list_deliveries, w.tenant, hook.id)
        attempt = {"ok": False, "response_status": 500, "error": "HTTP 500", "now": NOW, "give_up": False}
        assert await store.write(hooks.record_attempt, delivery.id, **attempt, disable_after=3) == "pending"
        ok = {**attempt, "ok": True, "response_status": 200, "error": ""}
        assert await store.write(hooks.record_attempt, delivery.id, **ok, disable_after=3) == "delivered"
        assert (await store.read(hooks.get_webhook, w.tenant, hook.id)).failures == 0
        for _ in range(3):
            await store.write(hooks.record_attempt, delivery.id, **attempt, disable_after=3)
        off = await store.read(hooks.get_webhook, w.tenant, hook.id)
        assert (off.enabled, off.failures, off.disabled_reason) == (False, 3, "3 failed attempts in a row")
        await say(store, w, w.alice, "while off")
        assert await store.write(hooks.fan_out, w.tenant, now=NOW) == (0, False)
        on = await store.write(hooks.update_webhook, w.tenant, hook.id, {"enabled": True}, now=NOW)
        assert (on.enabled, on.failures, on.disabled_reason) == (True, 0, "")
        assert await store.write(hooks.fan_out, w.tenant, now=NOW) == (0, False)  # nothing from while it was off

    run(store_url, scenario)


def test_redeliver_queues_the_same_delivery_again(store_url: str) -> None:
    """A delivered entry can be queued again: pending, with a job, same msg_id; another tenant's is NotFound."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        hook = await store.write(
            hooks.create_webhook, w.tenant, "https://hooks.example/x", ["message.created"], "", now=NOW
        )
        await say(store, w, w.alice, "hello")
        await store.write(hooks.fan_out, w.tenant, now=NOW)
        [delivery] = await store.read(hooks.list_deliveries, w.tenant, hook.id)
        for job in await store.read(jobs.pending, hooks.DELIVER_KIND):
            await store.write(jobs.claim, "n", now=NOW, lease_ms=1000)
            await store.write(jobs.complete, job.id, "n")
        ok = {"ok": True, "response_status": 204, "error": "", "now": NOW, "give_up": False}
        await store.write(hooks.record_attempt, delivery.id, **ok, disable_after=3)
        again = await store.write(hooks.redeliver, w.tenant, delivery.id, now=NOW + 5)
        assert (again.status, again.msg_id) == ("pending", delivery.msg_id)
        assert [j.payload for j in await store.read(jobs.pending, hooks.DELIVER_KIND)] == [{"delivery_id": delivery.id}]
        with pytest.raises(NotFound):
            await store.write(hooks.redeliver, w.other_tenant, delivery.id, now=NOW)

    run(store_url, scenario)


def test_erasing_a_visitor_removes_their_deliveries_and_jobs(store_url: str) -> None:
    """Erasure deletes the delivery log entries and queued deliveries carrying the visitor's data, and no others."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        hook = await store.write(
            hooks.create_webhook, w.tenant, "https://hooks.example/x", ["message.created"], "", now=NOW
        )
        await say(store, w, w.alice, "alice's words")
        await say(store, w, w.carol, "carol's words")
        await store.write(hooks.fan_out, w.tenant, now=NOW)
        await store.write(visitors.erase_visitor, w.tenant, w.alice)
        log = await store.read(hooks.list_deliveries, w.tenant, hook.id)
        assert len(log) == 1
        sent = await store.read(hooks.to_send, log[0].id)
        assert sent is not None and "carol's words" in sent.body
        assert [j.visitor_id for j in await store.read(jobs.pending, hooks.DELIVER_KIND)] == [w.carol]

    run(store_url, scenario)


def test_deleting_a_webhook_removes_its_log_jobs_and_secrets(store_url: str) -> None:
    """delete_webhook leaves no delivery, queued delivery or secret of that webhook behind."""
    from frontdesk.server.store import secrets

    async def scenario(store: Store) -> None:
        w = await seed(store)
        hook = await store.write(
            hooks.create_webhook, w.tenant, "https://hooks.example/x", ["message.created"], "", now=NOW
        )
        await store.write(secrets.put, w.tenant, hooks.secret_name(hook.id), "sealed", now=NOW)
        await store.write(secrets.put, w.tenant, hooks.secret_name(hook.id, previous=True), "sealed", now=NOW)
        assert (await store.read(hooks.get_webhook, w.tenant, hook.id)).rotating is True
        await say(store, w, w.alice, "hello")
        await store.write(hooks.fan_out, w.tenant, now=NOW)
        await store.write(hooks.delete_webhook, w.tenant, hook.id)
        assert await store.read(hooks.list_webhooks, w.tenant) == []
        assert await store.read(jobs.pending, hooks.DELIVER_KIND) == []
        assert await store.read(secrets.names, w.tenant) == []
        assert await store.read(hooks.hooked_tenants) == []

    run(store_url, scenario)
