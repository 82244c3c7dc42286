"""The durable outbox: optimistic, ordered, survives restarts, never drops silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from frontdesk.console.core import Cache, ConnectionState, ConsoleCore, MemoryTokenStore, cache_path

from tests.console import wireobj as W

from .conftest import Recorder, arun
from .test_cache import conv, msg

SERVER = "http://127.0.0.1:9"


async def _refuse(url: str) -> object:
    raise ConnectionRefusedError(f"nothing listens at {url}")


async def offline_core(data_dir: Path) -> tuple[ConsoleCore, Recorder]:
    """A core whose server never answers, with a cache primed as if it had synced before."""
    path = cache_path(data_dir, SERVER, "ada@example.com")
    cache = Cache.open(path)
    me = {"id": 2, "email": "ada@example.com", "name": "Ada", "role": "agent", "active": True, "online": True}
    await cache.apply_snapshot(
        W.convs([conv(1, last_seq=1), conv(2)]), epoch="e", last_event_id=5, agents=W.agents([me])
    )
    await cache.store_session(W.agent(me), {"slug": "demo"})
    cache.close()
    store = MemoryTokenStore()
    store.set(SERVER, "ada@example.com", "tok")
    core = ConsoleCore(SERVER, data_dir, store, connect=_refuse)  # type: ignore[arg-type]
    core._accounts.remember(core.server_url, "ada@example.com")
    recorder = Recorder()
    core.add_listener(recorder)
    return core, recorder


def test_actions_work_offline_and_show_at_once(tmp_path: Path) -> None:
    """Offline, reply/note/resolve/assign return after the local write and the inbox reflects them."""

    async def main() -> None:
        core, rec = await offline_core(tmp_path)
        assert await core.resume()
        await core.start()
        await core.reply(1, "On it!")
        await core.note(1, "VIP customer")
        await core.assign(1, 2)
        await core.resolve(1)
        row = core.cache.conversation(1)
        assert row is not None and row.status == "resolved" and row.assignee_id == 2 and row.assignee_name == "Ada"
        assert row.pending_actions == 4 and core.outbox_count == 4 and rec.outbox[-1] == 4
        thread = core.cache.thread(1)
        assert [(i.kind, i.delivery) for i in thread] == [
            ("agent", "pending"),
            ("note", "pending"),
            ("system", "pending"),
            ("system", "pending"),
        ]
        assert [i.body for i in thread][:2] == ["On it!", "VIP customer"]
        assert core.cache.conversations("resolved")[0].id == 1
        assert [c.id for c in core.cache.conversations("mine", me=2)] == []  # resolved leaves "mine"
        assert core.state is not ConnectionState.ONLINE
        await core.stop()

    arun(main())


def test_outbox_survives_restart(tmp_path: Path) -> None:
    """Queued actions are on disk: a new core on the same cache dir still has them, in order."""

    async def main() -> None:
        core, _ = await offline_core(tmp_path)
        assert await core.resume()
        await core.start()
        await core.reply(1, "first")
        await core.resolve(2)
        await core.stop()

        store = MemoryTokenStore()
        store.set(SERVER, "ada@example.com", "tok")
        core2 = ConsoleCore(SERVER, tmp_path, store, connect=_refuse)  # type: ignore[arg-type]
        assert await core2.resume()
        items = core2.cache.outbox()
        assert [(i.action, i.conversation_id, i.payload) for i in items] == [
            ("reply", 1, {"body": "first"}),
            ("resolve", 2, {}),
        ]
        assert len({i.client_id for i in items}) == 2
        assert core2.outbox_count == 2 and core2.cache.conversation(2).status == "resolved"  # type: ignore[union-attr]
        await core2.stop()

    arun(main())


def test_rejected_action_is_failed_with_reason_and_undone(tmp_path: Path) -> None:
    """A rejection marks the item failed with the server's reason and the optimistic change is undone."""

    async def main() -> None:
        cache = Cache.open(cache_path(tmp_path, SERVER, "a@b.c"))
        try:
            await cache.apply_snapshot(W.convs([conv(1)]), epoch="e", last_event_id=1)
            oid = await cache.queue_action("resolve", 1, "cid-1", {}, 0)
            assert cache.conversation(1).status == "resolved"  # type: ignore[union-attr]
            await cache.outbox_failed(oid, "conflict", "the conversation is already resolved")
            row = cache.conversation(1)
            assert row is not None and row.status == "open" and row.failed_actions == 1 and row.pending_actions == 0
            [item] = cache.thread(1)
            assert item.delivery == "failed" and item.error == "the conversation is already resolved"
            assert cache.outbox_count() == 0 and len(cache.outbox("failed")) == 1
            # Retry: pending again under a new client_id; discard: gone.
            await cache.outbox_retry(oid, "cid-2")
            [again] = cache.outbox()
            assert again.state == "pending" and again.client_id == "cid-2" and again.error is None
            await cache.outbox_discard(oid)
            assert cache.outbox() == [] and cache.conversation(1).status == "open"  # type: ignore[union-attr]
        finally:
            cache.close()

    arun(main())


def test_ack_replaces_pending_item_without_duplicate(tmp_path: Path) -> None:
    """When the server acks a reply, the pending item becomes the stored message, once."""

    async def main() -> None:
        cache = Cache.open(cache_path(tmp_path, SERVER, "a@b.c"))
        try:
            await cache.apply_snapshot(W.convs([conv(1)]), epoch="e", last_event_id=1)
            await cache.queue_action("reply", 1, "cid-1", {"body": "hello"}, 0)
            [item] = cache.outbox()
            stored = {**msg(10, 1, 1, "hello", author="agent"), "client_id": "cid-1"}
            # The echo event may come before the reply is processed: both paths dedupe.
            await cache.apply_events(
                W.events([{"type": "event", "kind": "message.created", "event_id": 2, "data": stored}])
            )
            await cache.outbox_acked(item, W.reply({"message": stored, "conversation": conv(1, last_seq=1)}))
            thread = cache.thread(1)
            assert [(i.body, i.delivery, i.key) for i in thread] == [("hello", "sent", "m10")]
            assert cache.outbox() == []
        finally:
            cache.close()

    arun(main())


def test_empty_or_huge_bodies_are_refused_locally(tmp_path: Path) -> None:
    """An empty or over-long reply is refused before it reaches the outbox."""

    async def main() -> None:
        core, _ = await offline_core(tmp_path)
        assert await core.resume()
        with pytest.raises(ValueError):
            await core.reply(1, "   ")
        with pytest.raises(ValueError):
            await core.note(1, "x" * 10_001)
        assert core.cache.outbox() == []
        await core.stop()

    arun(main())
