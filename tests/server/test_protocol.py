"""The sans-I/O protocol module: parsing and encoding, no server involved."""

from __future__ import annotations

import json

import pytest
from frontdesk.server import protocol as p
from frontdesk.server.protocol import Endpoint, ErrorCode, ProtocolError


def parse(obj: object, endpoint: Endpoint = Endpoint.VISITOR) -> p.Request:
    return p.parse_request(json.dumps(obj), endpoint=endpoint)


def test_parses_a_message_send_into_its_dataclass() -> None:
    """A valid frame becomes the typed request with its ref and fields."""
    req = parse({"type": "message.send", "ref": "1", "client_id": "abc", "body": "Hello!"})
    assert isinstance(req, p.MessageSend)
    assert (req.ref, req.client_id, req.body, req.conversation_id) == ("1", "abc", "Hello!", None)


def test_defaults_fill_missing_optional_fields() -> None:
    """Optional fields take their declared defaults."""
    req = parse({"type": "history", "conversation_id": 3})
    assert isinstance(req, p.History) and req.limit == 50 and req.before_seq is None and req.ref is None


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"ref": "1"}', "has no 'type'"),
        ('{"type": "nope", "ref": "1"}', "unknown type"),
        ('{"type": "message.send", "client_id": "a"}', "'body' is required"),
        ('{"type": "message.send", "client_id": "a", "body": 5}', "'body' must be a string"),
        ('{"type": "message.send", "client_id": "a", "body": ""}', "'body' must not be empty"),
        ('{"type": "history", "conversation_id": true}', "must be an integer"),
        ('{"type": "history", "conversation_id": 0}', "must be between"),
        ('{"type": "history", "conversation_id": 99999999999999999999}', "must be between"),
        ('{"type": "seen", "conversation_id": 1, "seq": NaN}', "not valid JSON"),
        ('{"type": "hello", "meta": [1]}', "must be an object"),
        ('{"type": "hello", "ref": 7}', "'ref' must be a string"),
    ],
)
def test_bad_frames_raise_invalid_with_a_readable_message(frame: str, message: str) -> None:
    """Each malformed frame is refused with code invalid and says what is wrong."""
    with pytest.raises(ProtocolError) as err:
        p.parse_request(frame, endpoint=Endpoint.VISITOR)
    assert err.value.code is ErrorCode.INVALID
    assert message in err.value.message


def test_error_keeps_the_ref_when_it_could_be_read() -> None:
    """An error for a frame with a readable ref carries that ref back."""
    with pytest.raises(ProtocolError) as err:
        parse({"type": "history", "ref": "r9", "conversation_id": "x"})
    assert err.value.ref == "r9"


def test_oversize_body_is_too_large() -> None:
    """A body over the limit gets too_large, not invalid."""
    with pytest.raises(ProtocolError) as err:
        parse({"type": "message.send", "client_id": "a", "body": "x" * (p.MAX_BODY_CHARS + 1)})
    assert err.value.code is ErrorCode.TOO_LARGE


def test_deep_nesting_is_refused() -> None:
    """Deeply nested JSON is refused before any handler sees it."""
    deep = '{"type": "hello", "meta": ' + '{"a": ' * 50 + "1" + "}" * 50 + "}"
    with pytest.raises(ProtocolError, match="nested too deeply"):
        p.parse_request(deep, endpoint=Endpoint.VISITOR)
    very_deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ProtocolError):
        p.parse_request(very_deep, endpoint=Endpoint.VISITOR)


def test_binary_frames_are_refused() -> None:
    """Binary frames are not part of the protocol."""
    with pytest.raises(ProtocolError, match="binary"):
        p.parse_request(b'{"type": "ping"}', endpoint=Endpoint.AGENT)


def test_endpoints_accept_only_their_own_types() -> None:
    """An agent-only request on the visitor endpoint is an unknown type there, and vice versa."""
    with pytest.raises(ProtocolError, match="unknown type"):
        parse({"type": "config.set", "config": {}}, Endpoint.VISITOR)
    with pytest.raises(ProtocolError, match="unknown type"):
        parse({"type": "hello"}, Endpoint.AGENT)


def test_choices_are_enforced() -> None:
    """Enumerated fields accept only their listed values."""
    with pytest.raises(ProtocolError, match="must be one of"):
        parse({"type": "snapshot", "filter": "everything"}, Endpoint.AGENT)


def test_unknown_fields_are_ignored() -> None:
    """Newer clients may send fields an older server does not know."""
    req = parse({"type": "ping", "ref": "1", "future_field": {"x": 1}}, Endpoint.AGENT)
    assert isinstance(req, p.Ping)


def test_encoders_produce_the_documented_shapes() -> None:
    """Replies, errors and events have the shapes PROTOCOL.md shows."""
    assert json.loads(p.encode_reply("1", {"a": 1})) == {"type": "reply", "ref": "1", "a": 1}
    assert json.loads(p.encode_error("2", ErrorCode.FORBIDDEN, "no")) == {
        "type": "error",
        "ref": "2",
        "code": "forbidden",
        "message": "no",
    }
    event = json.loads(p.encode_event("message.created", {"body": "é"}, event_id=5, conversation_id=9))
    assert event == {
        "type": "event",
        "kind": "message.created",
        "event_id": 5,
        "conversation_id": 9,
        "data": {"body": "é"},
    }
    assert "event_id" not in json.loads(p.encode_event("typing", {}))


def test_every_request_type_is_registered_on_some_endpoint() -> None:
    """Every Request subclass is reachable from at least one endpoint."""
    registered = set(p.request_types(Endpoint.VISITOR).values()) | set(p.request_types(Endpoint.AGENT).values())
    subclasses = {
        c for c in vars(p).values() if isinstance(c, type) and issubclass(c, p.Request) and c is not p.Request
    }
    assert subclasses == registered
