"""The sans-I/O protocol module: parsing and encoding, no server involved."""

from __future__ import annotations

import json

import pytest
from frontdesk.server import protocol as p
from frontdesk.server.protocol import Endpoint, ErrorCode, ProtocolError

CID = "5c1f0d2e-8a4b-4c6d-9e7f-0123456789ab"


def parse(obj: object, endpoint: Endpoint = Endpoint.VISITOR) -> p.Request:
    return p.parse_request(json.dumps(obj), endpoint=endpoint)


def test_parses_a_message_send_into_its_dataclass() -> None:
    """A valid frame becomes the typed request with its ref and fields."""
    req = parse({"type": "message.send", "ref": "1", "client_id": CID, "body": "Hello!"})
    assert isinstance(req, p.MessageSend)
    assert (req.ref, req.client_id, req.body, req.conversation_id) == ("1", CID, "Hello!", None)


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
        ('{"type": "message.send", "client_id": "' + CID + '"}', "'body' is required"),
        ('{"type": "message.send", "client_id": "' + CID + '", "body": 5}', "'body' must be a string"),
        ('{"type": "message.send", "client_id": "' + CID + '", "body": ""}', "'body' must not be empty"),
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
        parse({"type": "message.send", "client_id": CID, "body": "x" * (p.MAX_BODY_CHARS + 1)})
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
        "field": None,
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


@pytest.mark.parametrize("body", [" ", "\n\t  ", "\u3000"])
def test_a_blank_body_is_invalid_naming_the_field(body: str) -> None:
    """A body of whitespace only is refused as invalid, with field body."""
    with pytest.raises(ProtocolError, match="must not be blank") as err:
        parse({"type": "message.send", "ref": "1", "client_id": CID, "body": body})
    assert (err.value.code, err.value.field, err.value.ref) == (ErrorCode.INVALID, "body", "1")


@pytest.mark.parametrize("client_id", ["abc", "5c1f0d2e8a4b4c6d9e7f0123456789ab", CID + "0", "g" * 36])
def test_client_id_must_be_a_uuid(client_id: str) -> None:
    """Writes that create something take a UUID client_id; anything else is invalid naming client_id."""
    for frame, endpoint in (
        ({"type": "message.send", "client_id": client_id, "body": "hi"}, Endpoint.VISITOR),
        ({"type": "note", "conversation_id": 1, "client_id": client_id, "body": "hi"}, Endpoint.AGENT),
        ({"type": "resolve", "conversation_id": 1, "client_id": client_id}, Endpoint.AGENT),
    ):
        with pytest.raises(ProtocolError, match="must be a UUID") as err:
            parse(frame, endpoint)
        assert err.value.field == "client_id"


def test_a_ref_over_64_characters_is_answered_with_a_null_ref() -> None:
    """A ref that could not be echoed gets its error with ref null and field ref."""
    with pytest.raises(ProtocolError) as err:
        parse({"type": "ping", "ref": "r" * 65})
    assert (err.value.code, err.value.ref, err.value.field) == (ErrorCode.INVALID, None, "ref")
    frame = json.loads(p.encode_protocol_error(err.value))
    assert frame["ref"] is None and frame["field"] == "ref"


@pytest.mark.parametrize("since", ["5", 1.5, -1, 2**53, True])
def test_bad_cursors_are_invalid(since: object) -> None:
    """since that is not an integer in 0..2^53-1 is invalid, on subscribe and hello alike."""
    for frame, endpoint in (({"type": "subscribe"}, Endpoint.AGENT), ({"type": "hello"}, Endpoint.VISITOR)):
        with pytest.raises(ProtocolError) as err:
            parse({**frame, "since": since, "epoch": "e"}, endpoint)
        assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "since")


def test_field_errors_name_the_field_and_frame_errors_do_not() -> None:
    """A wrong field sets field; a frame that is not JSON has none, and the error frame carries both."""
    with pytest.raises(ProtocolError) as err:
        parse({"type": "history", "ref": "1", "conversation_id": "x"})
    assert err.value.field == "conversation_id"
    assert json.loads(p.encode_protocol_error(err.value))["field"] == "conversation_id"
    with pytest.raises(ProtocolError) as err:
        p.parse_request("nope", endpoint=Endpoint.VISITOR)
    assert err.value.field is None


def test_every_request_type_has_a_result_type() -> None:
    """Each request type on each endpoint maps to the typed result its reply carries."""
    for endpoint in Endpoint:
        for name in p.request_types(endpoint):
            assert issubclass(p.RESULTS[(endpoint, name)], p.Result), (endpoint, name)
    assert set(p.RESULTS) == {(e, n) for e in Endpoint for n in p.request_types(e)}


def test_every_event_kind_has_data_types() -> None:
    """EVENT_DATA declares the data of every kind, for at least one audience."""
    assert set(p.EVENT_DATA) == set(p.EVENT_KINDS)
    assert all(agents or visitors for agents, visitors in p.EVENT_DATA.values())


def test_server_only_fields_stay_off_the_wire() -> None:
    """A Resume's replay cursor is read by the server and never sent."""
    result = p.SubscribeResult(epoch="e", last_event_id=3, reset_required=False, replay_from=2)
    assert json.loads(p.encode_reply("1", result)) == {
        "type": "reply",
        "ref": "1",
        "epoch": "e",
        "last_event_id": 3,
        "reset_required": False,
    }
    assert "replay_from" not in p.wire_fields(p.SubscribeResult)


def test_decode_frame_reads_replies_errors_and_events_back() -> None:
    """The client side: a reply decodes into its result type, an error into ErrorFrame, an event by kind."""
    reply = p.decode_frame('{"type":"reply","ref":"1","server_time":5}', endpoint=Endpoint.AGENT, result=p.PingResult)
    assert reply == p.ReplyFrame(ref="1", result=p.PingResult(server_time=5))
    error = p.decode_frame(p.encode_error("2", ErrorCode.INVALID, "bad", "body"), endpoint=Endpoint.VISITOR)
    assert error == p.ErrorFrame(ref="2", code=ErrorCode.INVALID, message="bad", field="body")
    event = p.decode_frame(p.encode_event("visitor.erased", {"visitor_id": 4}, event_id=9), endpoint=Endpoint.AGENT)
    assert event == p.EventFrame(kind="visitor.erased", data=p.VisitorErased(visitor_id=4), event_id=9)
    with pytest.raises(ValueError, match="never sent on the visitor endpoint"):
        p.decode_frame(p.encode_event("visitor.erased", {"visitor_id": 4}, event_id=9), endpoint=Endpoint.VISITOR)
    with pytest.raises(ValueError, match="visitor_id"):
        p.decode_frame(p.encode_event("visitor.erased", {"visitor_id": "4"}), endpoint=Endpoint.AGENT)


def test_server_only_fields_exist_only_at_the_top_of_results() -> None:
    """No wire type nests a type with server-only fields, so the encoder drops them at the top and nowhere else."""
    import dataclasses
    import typing

    hidden = {
        c
        for c in vars(p).values()
        if isinstance(c, type) and dataclasses.is_dataclass(c) and len(p.wire_fields(c)) != len(dataclasses.fields(c))
    }
    assert hidden and all(issubclass(c, p.Resume) for c in hidden)
    for cls in vars(p).values():
        if isinstance(cls, type) and dataclasses.is_dataclass(cls) and not issubclass(cls, p.Request):
            assert not any(h.__name__ in str(t) for t in typing.get_type_hints(cls).values() for h in hidden), cls
    assert "replay_from" not in p.encode(
        p.SubscribeResult(epoch="e", last_event_id=1, reset_required=False, replay_from=1)
    )
    assert "replay_from" not in p.to_wire(
        p.SubscribeResult(epoch="e", last_event_id=1, reset_required=False, replay_from=1)
    )


def test_decode_frame_picks_the_result_by_ref_and_says_what_it_could_read() -> None:
    """``results`` maps refs to result types; a frame that does not fit raises FrameError carrying the reply's
    ref, or the event's kind and event_id, so a client can fail the request or move its cursor past the event."""
    reply = p.decode_frame(
        '{"type":"reply","ref":"7","server_time":5}', endpoint=Endpoint.AGENT, results={"7": p.PingResult}
    )
    assert isinstance(reply, p.ReplyFrame) and reply.result == p.PingResult(server_time=5)
    with pytest.raises(p.FrameError) as bad_reply:
        p.decode_frame('{"type":"reply","ref":"7"}', endpoint=Endpoint.AGENT, results={"7": p.PingResult})
    assert bad_reply.value.ref == "7" and bad_reply.value.event_id is None
    with pytest.raises(p.FrameError) as bad_event:
        p.decode_frame(p.encode_event("visitor.erased", {"visitor_id": "4"}, event_id=9), endpoint=Endpoint.AGENT)
    assert (bad_event.value.kind, bad_event.value.event_id, bad_event.value.ref) == ("visitor.erased", 9, None)
    with pytest.raises(p.FrameError) as unknown:
        p.decode_frame(p.encode_event("future.kind", {}, event_id=10), endpoint=Endpoint.AGENT)
    assert (unknown.value.kind, unknown.value.event_id) == ("future.kind", 10)
    with pytest.raises(ValueError):  # FrameError is a ValueError, as decode_frame always raised
        p.decode_frame("[1]", endpoint=Endpoint.AGENT)


def test_snapshot_filter_rules() -> None:
    """Each snapshot filter's rule: mine and unassigned leave resolved out; all keeps everything; the names
    accepted by the snapshot request are the rules' names."""
    rules = p.SNAPSHOT_FILTER_RULES
    assert tuple(rules) == p.SNAPSHOT_FILTERS
    assert rules["mine"].matches("pending", 3, 3) and not rules["mine"].matches("resolved", 3, 3)
    assert not rules["mine"].matches("open", 3, None) and not rules["mine"].matches("open", 4, 3)
    assert rules["unassigned"].matches("open", None, 3) and not rules["unassigned"].matches("open", 4, 3)
    assert all(rules["all"].matches(s, None, None) for s in ("open", "pending", "resolved"))
    assert rules["pending"].matches("pending", 9, None) and not rules["pending"].matches("open", 9, None)


def test_config_fields_are_the_widget_config_types() -> None:
    """CONFIG_FIELDS declares exactly WidgetConfig's fields, in its order; the public ones are PublicConfig's."""
    assert tuple(f.name for f in p.CONFIG_FIELDS) == p.wire_fields(p.WidgetConfig)
    assert tuple(f.name for f in p.CONFIG_FIELDS if f.public) == p.wire_fields(p.PublicConfig)
    config = p.WidgetConfig.of({f.name: f.default for f in p.CONFIG_FIELDS})
    assert p.from_wire(p.WidgetConfig, p.to_wire(config)) == config


# -- search text (PROTOCOL.md, "Search") ------------------------------------------------


def test_search_words_are_letter_and_digit_runs_with_fts_syntax_as_separators() -> None:
    """Query words are lowercased letter/digit runs; quotes, *, -, parentheses are separators; prefixes fold in."""
    assert p.search_words('"PDF" -invoice* NEAR(inv Café) x_y 42') == ["pdf", "invoice", "near", "café", "x", "y", "42"]
    assert p.search_words('***  "" -- ()') == []
    assert p.search_words("inv invoice in") == ["invoice"]
    assert len(p.search_words(" ".join(f"w{i}" for i in range(20)))) == p.SEARCH_MAX_WORDS


def test_search_snippet_cuts_around_the_first_match_and_offsets_point_at_the_words() -> None:
    """A long body is cut to a one-line excerpt with "…"; each highlight slices out a matched word."""
    body = "start " + "filler " * 60 + "the\nPDF invoice " + "tail " * 60
    snippet, spans = p.search_snippet(body, p.search_words("pdf inv"))
    assert snippet.startswith("…") and snippet.endswith("…") and "\n" not in snippet
    assert len(snippet) <= p.SEARCH_SNIPPET_CHARS + 2
    assert [snippet[a:b] for a, b in spans] == ["PDF", "invoice"]
    short, spans = p.search_snippet("Le café 🙂 café", ["café"])
    assert short == "Le café 🙂 café" and [short[a:b] for a, b in spans] == ["café", "café"]
    assert p.search_matches("the Invoice.pdf", ["pdf", "inv"]) and not p.search_matches("the invoice", ["pdf"])


def test_search_request_fields_are_checked() -> None:
    """`search` takes q (not blank, ≤ 200), status of the three, before, limit 1–100."""
    req = p.parse_request('{"type":"search","q":"pdf","status":"pending","limit":5}', endpoint=p.Endpoint.AGENT)
    assert isinstance(req, p.Search) and (req.q, req.status, req.before, req.limit) == ("pdf", "pending", None, 5)
    for bad in ('"q":" "', '"q":"' + "x" * 201 + '"', '"q":"a","status":"all"', '"q":"a","limit":101'):
        with pytest.raises(ProtocolError):
            p.parse_request('{"type":"search",' + bad + "}", endpoint=p.Endpoint.AGENT)
    with pytest.raises(ProtocolError):
        p.parse_request('{"type":"search","q":"pdf"}', endpoint=p.Endpoint.VISITOR)
