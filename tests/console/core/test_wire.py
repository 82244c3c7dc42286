"""The wire adapter (console/core/wire.py): wire dicts in, typed objects out."""

from __future__ import annotations

from frontdesk.console.core import wire


def test_conversation_says_which_fields_were_present() -> None:
    """Absent fields are None (kept by the cache); a null assignee_id is present, an absent one is not."""
    full = wire.conversation({"id": 9, "status": "open", "assignee_id": None, "last_seq": 3, "preview": "hi"})
    assert full is not None and full.has_assignee and full.assignee_id is None and full.last_seq == 3
    partial = wire.conversation({"id": 9, "status": "pending"})
    assert partial is not None and not partial.has_assignee and partial.preview is None and partial.visitor is None


def test_objects_without_an_integer_id_are_refused() -> None:
    """A conversation, message, visitor or agent without an integer id (or a bool one) parses to None."""
    assert wire.conversation({"id": "9"}) is None and wire.conversation({"id": True}) is None
    assert wire.message({"id": 1}) is None and wire.message("nope") is None
    assert wire.visitor({"name": "x"}) is None and wire.agent({"id": None}) is None


def test_visitor_keeps_only_known_fields_with_their_types() -> None:
    """A visitor carries the fields sent, typed: verified as bool, times as ints, the rest as strings."""
    v = wire.visitor({"id": 4, "name": "Ann", "verified": 1, "first_seen": "soon", "evil": "x", "user_id": 7})
    assert v is not None
    assert dict(v.values) == {"id": 4, "name": "Ann", "verified": True, "first_seen": None, "user_id": None}


def test_message_created_event_carries_the_conversation() -> None:
    """message.created data becomes a Message with its nested Conversation; note.created a private Message."""
    ev = wire.event(
        {
            "type": "event",
            "kind": "message.created",
            "event_id": 12,
            "data": {"id": 5, "conversation_id": 9, "seq": 2, "body": "hey", "conversation": {"id": 9, "last_seq": 2}},
        }
    )
    assert ev.event_id == 12 and isinstance(ev.data, wire.MessageCreated)
    assert ev.data.message.author_kind == "visitor" and ev.data.message.conversation is not None
    note = wire.event({"kind": "note.created", "event_id": 13, "data": {"id": 6, "conversation_id": 9}})
    assert isinstance(note.data, wire.MessageCreated) and note.data.message.private
    assert note.data.message.author_kind == "agent"


def test_ephemeral_and_unknown_events() -> None:
    """typing and presence parse without an event_id; an unknown kind or bad data is Unknown, never an error."""
    typing = wire.event(
        {"kind": "typing", "data": {"conversation_id": 3, "is_typing": True, "agent_id": 2, "name": "Bo"}}
    )
    assert typing.event_id is None and typing.data == wire.Typing(3, True, 2, "Bo")
    visitor_typing = wire.event({"kind": "typing", "data": {"conversation_id": 3, "is_typing": True, "name": "x"}})
    assert visitor_typing.data == wire.Typing(3, True, None, None)
    assert wire.event({"kind": "presence", "data": {"agent_id": 2, "online": False}}).data == wire.Presence(2, False)
    for frame in ({"kind": "wat", "data": {}}, {"kind": "seen", "data": "x"}, "not a dict", {"kind": "agent.updated"}):
        assert isinstance(wire.event(frame).data, wire.Unknown)


def test_frames_and_errors() -> None:
    """frame_kind, ref_of and error_of read a frame's type, ref and error without trusting it."""
    assert wire.frame_kind({"type": "reply"}) == "reply" and wire.frame_kind({"type": 3}) == "other"
    assert wire.frame_kind([1]) == "other" and wire.ref_of({"ref": 7}) is None and wire.ref_of({"ref": "7"}) == "7"
    assert wire.error_of({"type": "error", "code": "unavailable", "message": "disk"}) == ("unavailable", "disk")
    assert wire.error_of({"type": "error"}) == ("invalid", "")


def test_replies() -> None:
    """The replies the core reads come out typed, bad parts dropped."""
    sub = wire.subscribe_reply({"epoch": "e", "last_event_id": 5, "reset_required": True})
    assert sub == wire.SubscribeReply("e", 5, True)
    page = wire.snapshot_reply({"conversations": [{"id": 1}, {"id": "x"}, 3], "next_cursor": ""})
    assert [c.id for c in page.conversations] == [1] and page.next_cursor is None
    hist = wire.history_reply(
        {"messages": [{"id": 1, "conversation_id": 2}], "notes": [{"id": 3, "conversation_id": 2}]}
    )
    assert [m.private for m in (*hist.messages, *hist.notes)] == [False, True] and not hist.has_more
    session = wire.session_reply({"token": "t", "agent": {"id": 1, "email": "a@b", "name": "A", "role": "admin"}})
    assert session.token == "t" and session.agent is not None and session.agent.is_admin and session.tenant is None
    write = wire.write_reply({"event_id": 8, "conversation": {"id": 2, "status": "resolved"}})
    assert write.event_id == 8 and write.message is None and write.conversation is not None
    assert wire.config_reply({"config": []}) is None and wire.agents_reply({"agents": "x"}) == []
    assert wire.agent_reply({"agent": {"id": 4}, "password": "p"}) == wire.AgentReply(wire.agent({"id": 4}), "p")  # type: ignore[arg-type]


def test_values_the_cache_cannot_store_are_rejected() -> None:
    """Ints outside int64 and strings with a lone surrogate are absent; a message carrying one is malformed."""
    c = wire.conversation({"id": 9, "last_seq": 2**63, "preview": "a\udc80b", "last_activity": -(2**63)})
    assert c is not None and c.last_seq is None and c.preview is None and c.last_activity == -(2**63)
    assert wire.conversation({"id": 2**64}) is None
    assert wire.message({"id": 1, "conversation_id": 9, "seq": 2**64, "body": "x"}) is None
    assert wire.message({"id": 1, "conversation_id": 9, "seq": 1, "body": "\ud800"}) is None
    ok = wire.message({"id": 1, "conversation_id": 9, "seq": 2**63 - 1, "body": "fine \U0001f600"})
    assert ok is not None and ok.seq == 2**63 - 1 and ok.body == "fine \U0001f600"
