"""The event log's replay (server/store/events.py): frames built around the stored JSON are the live frames."""

from __future__ import annotations

import json

from frontdesk.server import protocol
from frontdesk.server.domain import Viewer
from frontdesk.server.protocol import encode_event, encode_stored_event
from frontdesk.server.store import Store, events

from .test_contract import cid, reply, run, say, seed


def test_a_stored_event_frame_is_byte_for_byte_the_encoded_one() -> None:
    """encode_stored_event around stored JSON equals encode_event of the decoded data, with or without a thread."""
    data = {"body": 'Grüße — 你好 "quoted" \\ ✓', "n": 3, "nested": {"a": [1, None, True]}}
    stored = protocol.encode(data)
    for conversation_id in (None, 17):
        expected = encode_event("message.created", json.loads(stored), event_id=42, conversation_id=conversation_id)
        assert encode_stored_event("message.created", stored, event_id=42, conversation_id=conversation_id) == expected


def test_replay_frames_are_the_frames_of_the_events_each_viewer_may_see(store_url: str) -> None:
    """An agent's and a visitor's replay frames equal encode_event over events_after; paging reports more."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        first = await say(store, w, w.alice, "Hello — first", client_id=cid())
        await reply(store, w, w.agent, first["conversation_id"], "Hi Alice", client_id=cid())
        await say(store, w, w.carol, "Carol here", client_id=cid())
        for viewer in (
            Viewer(tenant_id=w.tenant, agent_id=w.agent),
            Viewer(tenant_id=w.tenant, visitor_id=w.alice),
        ):
            records = await store.read(events.events_after, viewer, 0, 1000)
            frames, last, more = await store.read(events.replay_frames, viewer, 0, 1000)
            expected = [
                encode_event(
                    r.kind,
                    r.payload if viewer.is_agent else r.visitor_payload,
                    event_id=r.event_id,
                    conversation_id=r.conversation_id,
                )
                for r in records
            ]
            assert frames == expected and records and last >= records[-1].event_id and more is False
            assert all("Carol here" not in f for f in frames) or viewer.is_agent
        agent = Viewer(tenant_id=w.tenant, agent_id=w.agent)
        frames, last, more = await store.read(events.replay_frames, agent, 0, 2)
        assert len(frames) == 2 and more is True
        rest, _, _ = await store.read(events.replay_frames, agent, last, 1000)
        everything, _, _ = await store.read(events.replay_frames, agent, 0, 1000)
        assert frames + rest == everything

    run(store_url, scenario)
