"""The event log's replay (server/store/events.py): frames built around the stored JSON are the live frames."""

from __future__ import annotations

import json
from typing import Any

from frontdesk.server import protocol
from frontdesk.server.domain import Viewer
from frontdesk.server.protocol import encode_event, encode_stored_event
from frontdesk.server.store import Store, events, messages, visitors

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


def test_replay_frames_leave_out_notes_for_visitors_and_keep_them_for_agents(store_url: str) -> None:
    """A private note (no visitor payload) is in an agent's replay and not in the visitor's; the rest of both
    replays are the visitor's own events, in order."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        first = await say(store, w, w.alice, "before the note", client_id=cid())
        conversation_id = first["conversation_id"]
        await store.write(
            messages.post_note,
            w.tenant,
            agent_id=w.agent,
            conversation_id=conversation_id,
            client_id=cid(),
            body="private: never for Alice",
        )
        await say(store, w, w.alice, "after the note", client_id=cid())
        agent, _, _ = await store.read(events.replay_frames, Viewer(tenant_id=w.tenant, agent_id=w.agent), 0, 1000)
        alice, _, _ = await store.read(events.replay_frames, Viewer(tenant_id=w.tenant, visitor_id=w.alice), 0, 1000)
        assert any("never for Alice" in f for f in agent)
        assert not any("never for Alice" in f for f in alice)
        said = [f for f in alice if '"kind":"message.created"' in f]
        assert ["before the note" in said[0], "after the note" in said[1]] == [True, True] and len(said) == 2

    run(store_url, scenario)


def test_hello_state_reads_the_first_replay_page_with_the_cursor(store_url: str) -> None:
    """hello_state with a viewer and a cursor within range returns the replay's first page, the same frames
    replay_frames reads; with no cursor, one past the newest event or one below the floor, none."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        first = await say(store, w, w.alice, "one", client_id=cid())
        await reply(store, w, w.agent, first["conversation_id"], "two", client_id=cid())
        await say(store, w, w.alice, "three", client_id=cid())
        viewer = Viewer(tenant_id=w.tenant, visitor_id=w.alice)
        since = first["event_id"]
        state = await store.read(visitors.hello_state, w.tenant, w.alice, viewer, since, 1)
        page = await store.read(events.replay_frames, viewer, since, 1)
        assert state.replay == page and len(page[0]) == 1 and page[2] is True
        assert "two" in page[0][0]
        for out_of_range in (None, state.last_event_id + 1, state.floor - 1):
            state = await store.read(visitors.hello_state, w.tenant, w.alice, viewer, out_of_range, 1)
            assert state.replay is None
        assert (await store.read(visitors.hello_state, w.tenant, w.alice)).replay is None

    run(store_url, scenario)


def test_hello_state_reads_the_cursor_and_the_conversations_in_one_statement(store_url: str) -> None:
    """hello_state with a viewer is one statement (the cursor state joined to the viewer's conversations), two
    with a replay page, three when the newest conversation is resolved (its survey); it lists what cursor_state
    and scope_conversations read, for an empty scope too, and never another tenant's conversations (issue 12)."""
    from frontdesk.server.store import conversations

    from .test_contract import _Counting, status

    async def scenario(store: Store) -> None:
        w = await seed(store)
        alice, carol = Viewer(tenant_id=w.tenant, visitor_id=w.alice), Viewer(tenant_id=w.tenant, visitor_id=w.carol)

        def counted(tx: Any, visitor_id: int, viewer: Viewer, since: int | None) -> tuple[Any, int, Any]:
            counting = _Counting(tx)
            state = visitors.hello_state(counting, w.tenant, visitor_id, viewer, since)  # type: ignore[arg-type]
            scope = sorted(viewer.visitor_scope)
            expected = (events.cursor_state(tx), conversations.scope_conversations(tx, w.tenant, scope))
            return state, len(counting.statements), expected

        state, statements, (cursor, listed) = await store.read(counted, w.carol, carol, None)
        assert statements == 1 and state.conversations == listed == [] and state.scope == [w.carol]
        assert (state.last_event_id, state.floor) == cursor
        first = await say(store, w, w.alice, "one", client_id=cid())
        await status(store, w, first["conversation_id"], "resolve")
        await say(store, w, w.alice, "two", client_id=cid())  # reopens it
        await say(store, w, w.carol, "carol", client_id=cid())
        await store.write(
            messages.post_message,
            w.other_tenant,
            author_kind="visitor",
            author_id=w.foreign_visitor,
            conversation_id=None,
            client_id=cid(),
            body="elsewhere",
        )
        await store.write(events.prune_events, first["event_id"])  # a floor to read back
        for since, expected_statements in ((None, 1), (first["event_id"], 2)):
            state, statements, (cursor, listed) = await store.read(counted, w.alice, alice, since)
            assert statements == expected_statements and (state.last_event_id, state.floor) == cursor
            assert state.floor == first["event_id"] and len(state.conversations) == 1
            assert state.conversations == listed and state.conversations[0].status == "open"
        linked = Viewer(tenant_id=w.tenant, visitor_id=w.alice, linked_visitors=frozenset({w.carol, w.foreign_visitor}))
        state, statements, (cursor, listed) = await store.read(counted, w.alice, linked, None)
        assert statements == 1 and state.conversations == listed and len(listed) == 2
        assert {c.visitor_id for c in listed} == {w.alice, w.carol}  # never the other tenant's visitor
        await say(store, w, w.carol, "resolved last", client_id=cid())
        carols = await store.read(conversations.scope_conversations, w.tenant, [w.carol])
        await status(store, w, carols[0].id, "resolve")
        state, statements, (cursor, listed) = await store.read(counted, w.carol, carol, None)
        assert statements == 2 and state.conversations == listed and listed[0].status == "resolved"

    run(store_url, scenario)
