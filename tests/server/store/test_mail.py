"""The email operations (store/mail.py), on every backend."""

from __future__ import annotations

import json

import pytest
from frontdesk.server.exceptions import RateLimited
from frontdesk.server.store import Store, _sql, conversations, jobs, mail, open_store, visitors

from .test_contract import World, reply, run, say, seed

NOW = 1_700_000_000_000
ON = {"enabled": True, "host": "smtp.acme.test", "from_address": "support@acme.test", "reply_domain": "r.acme.test"}


async def _asked_and_answered(store: Store, w: World, *answers: str) -> int:
    """Alice (who gave an email) asks; an agent answers; the conversation id."""
    asked = await say(store, w, w.alice, "Where is my order?")
    conversation_id = int(asked["conversation"]["id"])
    for answer in answers:
        await reply(store, w, w.agent, conversation_id, answer)
    return conversation_id


def test_a_burst_is_scheduled_as_one_digest_and_composed_once(store_url: str) -> None:
    """Each reply moves the one digest job; composing queues one email with every unseen reply, and only once."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        await store.write(mail.set_settings, w.tenant, {**ON, "delay_minutes": 3}, now=NOW)
        conversation_id = await _asked_and_answered(store, w, "One", "Two")
        assert await store.write(mail.schedule_digest, w.tenant, conversation_id, now=NOW)
        assert await store.write(mail.schedule_digest, w.tenant, conversation_id, now=NOW + 1000)
        [digest] = await store.read(jobs.pending, mail.DIGEST_KIND)
        assert (digest.due_at, digest.visitor_id) == (NOW + 1000 + 3 * 60_000, w.alice)

        composed = await store.write(mail.compose_digest, conversation_id, now=NOW)
        assert composed is not None and (composed.to, composed.new_replies) == ("alice@example.com", 2)
        [send] = await store.read(jobs.pending, mail.SEND_KIND)
        assert send.visitor_id == w.alice and send.payload["reply_to"].startswith("reply+")
        body = send.payload["body"]
        assert body.index("One") < body.index("Two") and "Where is my order?" in body
        assert await store.write(mail.compose_digest, conversation_id, now=NOW) is None  # nothing new

        token = send.payload["reply_to"].removeprefix("reply+").partition("@")[0]
        thread = await store.read(mail.thread_of_token, token)
        assert thread is not None and (thread.conversation_id, thread.visitor_email) == (
            conversation_id,
            "alice@example.com",
        )
        assert await store.read(mail.thread_of_token, "0" * 32) is None

    run(store_url, scenario)


def test_nothing_is_composed_for_replies_the_visitor_has_seen(store_url: str) -> None:
    """After the visitor's `seen`, the digest composes nothing; a visitor without email is never scheduled."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        await store.write(mail.set_settings, w.tenant, ON, now=NOW)
        conversation_id = await _asked_and_answered(store, w, "Hello")
        await store.write(
            conversations.mark_seen,
            w.tenant,
            side="visitor",
            visitor_id=w.alice,
            conversation_id=conversation_id,
            seq=2,
        )
        assert await store.write(mail.compose_digest, conversation_id, now=NOW) is None
        assert await store.read(jobs.pending, mail.SEND_KIND) == []
        carol = await say(store, w, w.carol, "no email here")
        assert not await store.write(mail.schedule_digest, w.tenant, int(carol["conversation"]["id"]), now=NOW)

    run(store_url, scenario)


def test_settings_default_then_partial_updates(store_url: str) -> None:
    """Unsaved settings are the defaults (off, 2 minutes); a partial update keeps the other fields."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        first = await store.read(mail.get_settings, w.tenant)
        assert (first.enabled, first.delay_minutes, first.port, first.security) == (False, 2, 587, "starttls")
        await store.write(mail.set_settings, w.tenant, ON, now=NOW)
        after = await store.write(mail.set_settings, w.tenant, {"port": 2525}, now=NOW)
        assert (after.enabled, after.host, after.port) == (True, "smtp.acme.test", 2525)
        assert await store.read(mail.email_tenants) == [w.tenant]
        await store.write(mail.record_send, w.tenant, "SMTP 451", now=NOW)
        assert (await store.read(mail.get_settings, w.tenant)).last_error == "SMTP 451"

    run(store_url, scenario)


def test_erasing_a_visitor_removes_their_emails_tokens_and_held_replies(store_url: str) -> None:
    """Erasure deletes the visitor's queued emails, reply threads and held replies; the token then finds nothing."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        await store.write(mail.set_settings, w.tenant, ON, now=NOW)
        conversation_id = await _asked_and_answered(store, w, "Hello")
        await store.write(mail.schedule_digest, w.tenant, conversation_id, now=NOW)
        await store.write(mail.compose_digest, conversation_id, now=NOW)
        [send] = await store.read(jobs.pending, mail.SEND_KIND)
        token = send.payload["reply_to"].removeprefix("reply+").partition("@")[0]
        thread = await store.read(mail.thread_of_token, token)
        assert thread is not None
        await store.write(mail.hold, thread, "mallory@example.net", "hi", "<m@x>", now=NOW)
        await store.write(mail.enqueue_email, w.tenant, {"to": "ops@acme.test", "subject": "s", "body": "b"}, now=NOW)

        await store.write(visitors.erase_visitor, w.tenant, w.alice)
        assert await store.read(mail.thread_of_token, token) is None
        assert await store.read(mail.held_list, w.tenant) == []
        assert [j.payload["to"] for j in await store.read(jobs.pending)] == ["ops@acme.test"]  # not the visitor's

    run(store_url, scenario)


def test_catch_up_schedules_the_digests_a_stopped_node_left(store_url: str) -> None:
    """An unseen, unemailed recent reply with no digest queued gets one; queued or emailed ones do not."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        await store.write(mail.set_settings, w.tenant, ON, now=NOW)
        conversation_id = await _asked_and_answered(store, w, "Hello")
        now = _sql.now_ms()
        assert await store.write(mail.catch_up_digests, w.tenant, now=now) == 1
        assert await store.write(mail.catch_up_digests, w.tenant, now=now) == 0  # queued already
        [digest] = await store.read(jobs.pending, mail.DIGEST_KIND)
        assert digest.payload == {"conversation_id": conversation_id}
        await store.write(mail.compose_digest, conversation_id, now=now)
        for job in await store.read(jobs.pending, mail.DIGEST_KIND):
            await store.write(jobs.claim, "n", now=now + 10**9, lease_ms=1000)
            await store.write(jobs.complete, job.id, "n")
        assert await store.write(mail.catch_up_digests, w.tenant, now=now) == 0  # emailed already
        assert await store.write(mail.catch_up_digests, w.tenant, now=now + 2 * 86_400_000) == 0  # too old

    run(store_url, scenario)


def test_the_transcript_budget_is_one_for_every_store_on_the_database(store_url: str) -> None:
    """Two stores on one database (two nodes) share a visitor's transcript budget: 3 at once between them, the
    fourth RateLimited and queues nothing; it refills on the caller's clock, not the wall clock; erasing the
    visitor drops it."""
    message = {"to": "alice@example.com", "subject": "Your conversation", "body": "…"}
    rate = {"per_second": 1 / 1200, "burst": 3}

    async def scenario(store: Store) -> None:
        w = await seed(store)
        other = open_store(store_url)  # a second node
        await other.open()
        try:
            for node in (store, other, store):
                await node.write(mail.queue_transcript, w.tenant, w.alice, message, now=NOW, **rate)
            with pytest.raises(RateLimited) as refused:
                await other.write(mail.queue_transcript, w.tenant, w.alice, message, now=NOW + 1000, **rate)
            assert 1100 < refused.value.retry_after <= 1200 and "transcript" in str(refused.value)
            assert len(await store.read(jobs.pending, mail.SEND_KIND)) == 3
            # Carol's budget is her own.
            await other.write(mail.queue_transcript, w.tenant, w.carol, message, now=NOW + 1000, **rate)
            # 20 minutes later on the injected clock: one more.
            await other.write(mail.queue_transcript, w.tenant, w.alice, message, now=NOW + 1_200_000, **rate)
            with pytest.raises(RateLimited):
                await store.write(mail.queue_transcript, w.tenant, w.alice, message, now=NOW + 1_200_001, **rate)
            assert len(await store.read(jobs.pending, mail.SEND_KIND)) == 5

            await store.write(visitors.erase_visitor, w.tenant, w.alice)
            buckets = await store.read(_buckets)
            assert f"transcript:{w.alice}" not in buckets and f"transcript:{w.carol}" in buckets
        finally:
            await other.close()

    run(store_url, scenario)


def _buckets(tx: _sql.Tx) -> list[str]:
    return [str(r["key"]) for r in tx.all("SELECT key FROM rate_buckets")]


def test_held_replies_are_events_in_the_conversations_log_and_go_with_the_visitor(store_url: str) -> None:
    """hold appends email.held (state held, with the text) for the agents only; take_held appends its decision
    (no text, the agent); erasing the visitor removes both events."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        conversation_id = await _asked_and_answered(store, w, "Hello")
        thread = mail.EmailThread(conversation_id, w.tenant, w.alice, "alice@example.com")
        held_id = await store.write(mail.hold, thread, "mallory@example.net", "hi", "<m@x>", now=NOW)
        await store.write(mail.take_held, w.tenant, held_id, state="rejected", actor_id=w.agent)
        found = await store.read(_held_events, w.tenant)
        assert [(e["state"], e["body"], e["actor_id"], e["id"]) for e, _ in found] == [
            ("held", "hi", None, held_id),
            ("rejected", "", w.agent, held_id),
        ]
        assert all(visitor_payload is None for _, visitor_payload in found)  # agents only
        await store.write(visitors.erase_visitor, w.tenant, w.alice)
        assert await store.read(_held_events, w.tenant) == []

    run(store_url, scenario)


def _held_events(tx: _sql.Tx, tenant_id: int) -> list[tuple[dict[str, object], object]]:
    rows = tx.all(
        "SELECT payload, visitor_payload FROM events WHERE tenant_id = ? AND kind = 'email.held' ORDER BY event_id",
        (tenant_id,),
    )
    return [(json.loads(r["payload"]), r["visitor_payload"]) for r in rows]
