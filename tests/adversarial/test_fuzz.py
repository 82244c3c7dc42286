"""Malformed input (issue 5, case 19): hand-picked nasty frames, Hypothesis over
the protocol parser and every handler, and a random-frame fuzz against a live
server. The rule: a structured error or the right close code, never a
traceback, never a crash."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import os
import random
import types
import typing
from typing import Any

import pytest
from frontdesk.server import protocol as p
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adversarial._util import assert_log_clean, frame, raw_handshake, read_close
from tests.support import TIMEOUT, RunningServer, WsClient

ERROR_CODES = {c.value for c in p.ErrorCode}
FUZZ = settings(
    max_examples=int(os.environ.get("FRONTDESK_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=os.environ.get("FRONTDESK_FUZZ_RANDOM") != "1",
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _origin(hint: Any) -> Any:
    """``int`` for ``int | None``, ``dict`` for ``dict[str, Any]``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return typing.get_origin(hint) or hint


def _all_types() -> list[tuple[p.Endpoint, str, type[p.Request]]]:
    return [(e, name, cls) for e in p.Endpoint for name, cls in p.request_types(e).items()]


def _field_values(cls: type[p.Request]) -> st.SearchStrategy[dict[str, Any]]:
    """A frame body for ``cls``: each field absent, valid-ish, or anything at all."""
    hints = typing.get_type_hints(cls)
    parts = {}
    for fld in dataclasses.fields(cls):
        if fld.name == "ref":
            continue
        meta = fld.metadata
        origin = _origin(hints[fld.name])
        if origin is int:
            good: st.SearchStrategy[Any] = st.integers(min_value=meta.get("lo") or 0, max_value=meta.get("hi") or 10)
            good = st.integers(min_value=0, max_value=5) | good
        elif origin is str:
            good = (
                st.sampled_from(meta["choices"])
                if meta.get("choices")
                else st.text(max_size=(meta.get("max_len") or 50) + 2)
            )
        elif origin is bool:
            good = st.booleans()
        elif origin is list:
            good = st.lists(st.integers(min_value=0, max_value=10), max_size=4)
        else:
            good = st.dictionaries(st.text(max_size=20), json_values, max_size=4)
        parts[fld.name] = st.one_of(st.just(...), good, json_values)
    return st.fixed_dictionaries(parts).map(lambda d: {k: v for k, v in d.items() if v is not ...})


# -- the parser (pure) -------------------------------------------------------------------------


def _check_parse(text: str | bytes, endpoint: p.Endpoint) -> None:
    try:
        request = p.parse_request(text, endpoint=endpoint)
    except p.ProtocolError as exc:
        assert exc.code in p.ErrorCode and exc.message
        p.encode_error(exc.ref, exc.code, exc.message).encode("utf-8")  # the error frame itself is sendable
        return
    # What the parser accepts is valid Unicode all the way down (it is stored and echoed).
    p.encode(dataclasses.asdict(request)).encode("utf-8")


@FUZZ
@given(st.sampled_from(list(p.Endpoint)), json_values)
def test_parser_survives_any_json_value(endpoint: p.Endpoint, value: Any) -> None:
    """Fuzz: any JSON value as a frame parses to a request or a ProtocolError, nothing else."""
    _check_parse(json.dumps(value), endpoint)


@FUZZ
@given(st.sampled_from(list(p.Endpoint)), st.text(max_size=200) | st.binary(max_size=50))
def test_parser_survives_any_text_or_bytes(endpoint: p.Endpoint, text: str | bytes) -> None:
    """Fuzz: arbitrary text (lone surrogates included) and bytes give a request or a ProtocolError."""
    _check_parse(text, endpoint)


@FUZZ
@given(st.sampled_from(_all_types()).flatmap(lambda t: st.tuples(st.just(t), _field_values(t[2]))))
def test_parser_survives_every_type_with_random_fields(
    case: tuple[tuple[p.Endpoint, str, Any], dict[str, Any]],
) -> None:
    """Fuzz: every request type with each field absent, plausible, or any JSON value."""
    (endpoint, name, _), fields = case
    _check_parse(json.dumps({"type": name, "ref": "r", **fields}), endpoint)


WRONG = {
    int: ["1", 1.5, True, [], {}, -1, 2**53, 2**64],
    str: [1, True, [], {}, 1.5],
    bool: [1, "true", [], {}, 0],
    dict: [[], "x", 1, True],
    list: ["x", 1, True, {}],
}
#: Wrong items of a list, by what it holds: strings (attachment_ids) or ids (member_ids).
WRONG_ITEMS = {str: [[1], [""]], int: [["1"], [0], [True]]}


def _wrong_values(hint: Any) -> list[Any]:
    """The wrong values of a field of type ``hint`` (a list's include wrong items)."""
    origin = _origin(hint)
    if origin is not list:
        return WRONG[origin]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return [*WRONG[list], *WRONG_ITEMS[typing.get_args(hint)[0]]]


def _valid(cls: type[p.Request]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for fld in dataclasses.fields(cls):
        meta = fld.metadata
        # A field with a default is left out, except one required unless another is sent (a body without files).
        if fld.name == "ref" or (fld.default is not dataclasses.MISSING and not meta.get("unless")):
            continue
        origin = _origin(hints[fld.name])
        if meta.get("uuid"):
            out[fld.name] = "5c1f0d2e-8a4b-4c6d-9e7f-0123456789ab"
            continue
        out[fld.name] = {int: meta.get("lo") or 1, bool: True, dict: {}, list: ["x"]}.get(
            origin, (meta.get("choices") or ["x" * max(meta.get("min_len") or 1, 1)])[0]
        )
    return out


def test_wrong_type_for_every_field_is_an_invalid_error_naming_it() -> None:
    """Malformed: for every request type and every field, each wrong type (and an
    out-of-range integer) is an `invalid` error that names the field, with the ref."""
    checked = 0
    for endpoint, name, cls in _all_types():
        hints = typing.get_type_hints(cls)
        base_frame = {"type": name, "ref": "r1", **_valid(cls)}
        p.parse_request(json.dumps(base_frame), endpoint=endpoint)  # the base frame is valid
        for fld in dataclasses.fields(cls):
            if fld.name == "ref":
                continue
            origin = _origin(hints[fld.name])
            for wrong in _wrong_values(hints[fld.name]):
                if origin is int and isinstance(wrong, int) and not isinstance(wrong, bool):
                    lo, hi = fld.metadata.get("lo"), fld.metadata.get("hi")
                    if (lo is None or wrong >= lo) and (hi is None or wrong <= hi):
                        continue
                bad = {**base_frame, fld.name: wrong}
                with pytest.raises(p.ProtocolError) as err:
                    p.parse_request(json.dumps(bad), endpoint=endpoint)
                assert err.value.code is p.ErrorCode.INVALID, (name, fld.name, wrong)
                assert repr(fld.name) in err.value.message and err.value.ref == "r1", (name, fld.name, wrong)
                checked += 1
    assert checked > 150


# -- the other direction: what the server sends ------------------------------------------------


def _strategy(hint: Any) -> st.SearchStrategy[Any]:
    """Any value of a wire type: scalars over their whole JSON range, lists, nested objects."""
    if hint is Any:
        return json_values
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_strategy(a) for a in typing.get_args(hint)))
    if origin is list:
        return st.lists(_strategy(typing.get_args(hint)[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), _strategy(typing.get_args(hint)[1]), max_size=3)
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        wire = set(p.wire_fields(hint))
        return st.builds(hint, **{f.name: _strategy(hints[f.name]) for f in dataclasses.fields(hint) if f.name in wire})
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    return {
        type(None): st.none(),
        bool: st.booleans(),
        int: st.integers(min_value=0, max_value=p.MAX_INT),
        str: st.text(max_size=20),
    }[hint]


#: Dataclasses of the protocol module that never go on the wire: declarations
#: (a configuration key, a filter's rule) and what a client makes of a frame.
_NOT_WIRE: frozenset[type[Any]] = frozenset({p.ConfigField, p.SnapshotFilter, p.Incoming})


def _wire_types() -> list[type[Any]]:
    found = {cls for cls in vars(p).values() if isinstance(cls, type) and dataclasses.is_dataclass(cls)}
    return sorted((c for c in found if not issubclass(c, p.Request) and c not in _NOT_WIRE), key=lambda c: c.__name__)


@FUZZ
@given(st.sampled_from(_wire_types()).flatmap(lambda cls: st.tuples(st.just(cls), _strategy(cls))))
def test_every_server_type_round_trips_through_json(case: tuple[type[Any], Any]) -> None:
    """Fuzz: every object, result, event data and frame type encodes to JSON and decodes back equal."""
    cls, value = case
    text = p.encode(value)
    text.encode("utf-8")  # sendable
    assert p.from_wire(cls, json.loads(text)) == value


@FUZZ
@given(
    st.sampled_from(
        [
            (k, e, c)
            for k, (a, v) in p.EVENT_DATA.items()
            for e, cs in ((p.Endpoint.AGENT, a), (p.Endpoint.VISITOR, v))
            for c in cs
        ]
    ).flatmap(lambda t: st.tuples(st.just(t), _strategy(t[2]), st.none() | st.integers(1, p.MAX_INT)))
)
def test_every_event_frame_round_trips(case: tuple[tuple[str, p.Endpoint, type[Any]], Any, int | None]) -> None:
    """Fuzz: an event of every kind, for each audience, decodes on the client side into the frame that was sent."""
    (kind, endpoint, _), data, event_id = case
    frame = p.decode_frame(p.encode_event(kind, data, event_id=event_id, conversation_id=7), endpoint=endpoint)
    assert frame == p.EventFrame(kind=kind, data=data, event_id=event_id, conversation_id=7)


@FUZZ
@given(
    st.sampled_from(sorted(p.RESULTS.items(), key=lambda kv: (kv[0][0].value, kv[0][1]))).flatmap(
        lambda kv: st.tuples(st.just(kv[1]), _strategy(kv[1]))
    ),
    st.none() | st.text(max_size=64),
)
def test_every_reply_and_error_frame_round_trips(case: tuple[type[p.Result], Any], ref: str | None) -> None:
    """Fuzz: each request's reply (and an error frame) decodes on the client side into what the server encoded."""
    result_type, result = case
    reply = p.decode_frame(p.encode_reply(ref, result), endpoint=p.Endpoint.AGENT, result=result_type)
    assert reply == p.ReplyFrame(ref=ref, result=result)
    error = p.decode_frame(p.encode_error(ref, p.ErrorCode.CONFLICT, "moved on", "x"), endpoint=p.Endpoint.VISITOR)
    assert error == p.ErrorFrame(ref=ref, code=p.ErrorCode.CONFLICT, message="moved on", field="x")


NASTY: list[tuple[str, str | bytes]] = [
    ("array", "[]"),
    ("string", '"hello"'),
    ("number", "1"),
    ("null", "null"),
    ("empty", ""),
    ("truncated", '{"type":"ping"'),
    ("nested 9", '{"type":"ping","x":' + "[" * 8 + "]" * 8 + "}"),
    ("nested 5000", "[" * 5000 + "]" * 5000),
    ("nested objects", '{"a":' * 3000 + "1" + "}" * 3000),
    ("NaN", '{"type":"ping","ref":"r","x":NaN}'),
    ("Infinity", '{"type":"seen","ref":"r","conversation_id":1,"seq":Infinity}'),
    ("-Infinity", '{"type":"ping","ref":"r","x":-Infinity}'),
    ("1e400", '{"type":"seen","ref":"r","conversation_id":1,"seq":1e400}'),
    ("huge int", '{"type":"seen","ref":"r","conversation_id":1,"seq":' + "9" * 5000 + "}"),
    ("2^53", '{"type":"seen","ref":"r","conversation_id":9007199254740992,"seq":1}'),
    ("negative id", '{"type":"history","ref":"r","conversation_id":-1}'),
    ("unknown type", '{"type":"drop_tables","ref":"r"}'),
    ("type not a string", '{"type":["ping"],"ref":"r"}'),
    ("no type", '{"ref":"r"}'),
    ("ref too long", '{"type":"ping","ref":"' + "r" * 65 + '"}'),
    ("ref not a string", '{"type":"ping","ref":{"a":1}}'),
    ("lone surrogate", '{"type":"ping","ref":"\\ud800"}'),
    ("lone surrogate body", '{"type":"message.send","ref":"r","client_id":"c","body":"\\udfff"}'),
    ("lone surrogate token", '{"type":"hello","ref":"r","token":"\\ud83d"}'),
    ("lone surrogate key", '{"type":"ping","ref":"r","\\ud800":1}'),
    ("NUL", '{"type":"ping","ref":"\\u0000"}'),
    ("duplicate keys", '{"type":"ping","type":"hello","ref":"r"}'),
    ("binary", b'{"type":"ping","ref":"r"}'),
    ("binary junk", bytes(range(256))),
]


@pytest.mark.parametrize(("name", "text"), NASTY, ids=[n for n, _ in NASTY])
def test_nasty_frames_parse_to_structured_errors(name: str, text: str | bytes) -> None:
    """Malformed: each hand-picked nasty frame gives a ProtocolError (or a valid request), never another exception."""
    for endpoint in p.Endpoint:
        _check_parse(text, endpoint)


# -- the live server ---------------------------------------------------------------------------


def test_nasty_frames_against_the_live_server(module_relaxed_server: RunningServer) -> None:
    """Malformed: every nasty frame, sent on both endpoints of a live server, gets an
    `invalid` error (with its ref when readable) or a reply, the socket stays open,
    and the server logs no traceback."""
    server = module_relaxed_server

    async def scenario() -> None:
        visitor, _ = await WsClient.visitor(server)
        agent, _ = await WsClient.agent(server)
        for client in (visitor, agent):
            for name, text in NASTY:
                before = len(client.frames)
                await client.send_raw(text)
                await client.send_raw('{"type":"ping","ref":"after"}')
                reply = await _wait_ref(client, "after", before)
                assert reply["type"] == "reply", name
                answers = [
                    f for f in client.frames[before:] if f.get("ref") != "after" and f["type"] in ("error", "reply")
                ]
                assert len(answers) <= 1, (name, answers)
                if answers and answers[0]["type"] == "error":
                    assert answers[0]["code"] in ERROR_CODES and answers[0]["message"], (name, answers)
        for c in (visitor, agent):
            await c.close()
        assert_log_clean(server)

    asyncio.run(scenario())


async def _wait_ref(client: WsClient, ref: str, start: int) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            for f in client.frames[start:]:
                if f.get("ref") == ref:
                    client.frames.remove(f)
                    return f
            if client.closed.done():
                raise ConnectionError(f"closed: {client.ws.close_code} {client.ws.close_reason}")
            await asyncio.sleep(0.01)


def test_invalid_utf8_text_frame_closes_1007(module_relaxed_server: RunningServer) -> None:
    """Malformed: a text frame that is not UTF-8 (overlong, surrogate, truncated)
    closes the socket with 1007 and the server serves on."""
    server = module_relaxed_server

    async def scenario() -> None:
        for payload in (b"\xc0\xaf", b"\xed\xa0\x80", b'{"type":"ping","ref":"\xe2\x82"}', b"\xff"):
            reader, writer, head = await raw_handshake(server, "/v1/agent", None)
            assert head.startswith(b"HTTP/1.1 101")
            writer.write(frame(0x1, payload))
            await writer.drain()
            code, _ = await read_close(reader)
            assert code == 1007, payload
            writer.close()
        ok, _ = await WsClient.agent(server, subscribe=False)
        await ok.close()
        assert_log_clean(server)

    asyncio.run(scenario())


_EXCLUDED_AGENT = {"logout", "login", "auth"}


def _frames_for(endpoint: p.Endpoint) -> st.SearchStrategy[list[dict[str, Any]]]:
    names = [n for n in p.request_types(endpoint) if not (endpoint is p.Endpoint.AGENT and n in _EXCLUDED_AGENT)]

    def one(name: str) -> st.SearchStrategy[dict[str, Any]]:
        cls = p.request_types(endpoint)[name]
        return _field_values(cls).map(lambda fields: {"type": name, **fields})

    return st.lists(st.sampled_from(names).flatmap(one), min_size=1, max_size=12)


def _agent_safe(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the fuzzing admin able to log in again: never touch agent 1 (itself)."""
    out = []
    for f in frames:
        if f["type"] == "agent.update":
            f = {**f, "agent_id": random.randint(2, 4)}
        out.append(f)
    return out


async def _run_frames(server: RunningServer, endpoint: p.Endpoint, frames: list[dict[str, Any]]) -> None:
    if endpoint is p.Endpoint.VISITOR:
        client, _ = await WsClient.visitor(server)
    else:
        client, _ = await WsClient.agent(server)
        frames = _agent_safe(frames)
    try:
        for i, f in enumerate(frames):
            await client.send_raw(json.dumps({**f, "ref": f"z{i}"}))
        await client.send_raw('{"type":"ping","ref":"end"}')
        await _wait_ref(client, "end", 0)
        answers = {f.get("ref"): f for f in client.frames if f.get("type") in ("reply", "error")}
        for i, f in enumerate(frames):
            got = answers.get(f"z{i}")
            assert got is not None, (f, client.frames[-5:])
            if got["type"] == "error":
                assert got["code"] in ERROR_CODES, got
                assert got["message"] != "the server could not process this request", (f, got)
        assert not client.closed.done()
    finally:
        await client.close()
    assert_log_clean(server)


@FUZZ
@given(frames=_frames_for(p.Endpoint.VISITOR))
def test_every_visitor_handler_survives_random_requests(
    module_relaxed_server: RunningServer, frames: list[dict[str, Any]]
) -> None:
    """Fuzz: random sequences of visitor requests with random field values on a live
    server; each gets exactly one reply or structured error, and nothing crashes."""
    asyncio.run(_run_frames(module_relaxed_server, p.Endpoint.VISITOR, frames))


@FUZZ
@given(frames=_frames_for(p.Endpoint.AGENT))
def test_every_agent_handler_survives_random_requests(
    module_relaxed_server: RunningServer, frames: list[dict[str, Any]]
) -> None:
    """Fuzz: random sequences of agent (admin) requests with random field values on a
    live server; each gets exactly one reply or structured error, and nothing crashes."""
    asyncio.run(_run_frames(module_relaxed_server, p.Endpoint.AGENT, frames))


@pytest.mark.slow
def test_random_frame_fuzz_against_live_server(module_relaxed_server: RunningServer) -> None:
    """Fuzz: 1,500 random frames (binary, junk text, mutated valid frames, bad UTF-8,
    oversize) on fresh sockets; every socket ends in replies, errors or a close with
    1007/1009/1013, and the server stays healthy with a clean log."""
    server = module_relaxed_server
    rng = random.Random(int(os.environ.get("FRONTDESK_FUZZ_SEED", "5")))
    valid = [
        '{"type":"ping","ref":"a"}',
        '{"type":"message.send","ref":"b","client_id":"c1","body":"hello"}',
        '{"type":"history","ref":"c","conversation_id":1}',
        '{"type":"typing","ref":"d","conversation_id":1,"is_typing":true}',
        '{"type":"seen","ref":"e","conversation_id":1,"seq":1}',
        '{"type":"profile.update","ref":"f","name":"n","email":"a@b.c"}',
    ]

    def mutate(text: str) -> bytes:
        data = bytearray(text.encode())
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            pos = rng.randrange(len(data) + 1)
            if op < 0.4 and data:
                data[min(pos, len(data) - 1)] = rng.randrange(256)
            elif op < 0.7:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 5)))
            elif data:
                del data[min(pos, len(data) - 1)]
        return bytes(data)

    def random_frame() -> bytes:
        r = rng.random()
        if r < 0.45:
            payload = mutate(rng.choice(valid))
            return frame(0x1, payload)
        if r < 0.6:
            return frame(0x2, bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))))
        if r < 0.75:
            return frame(0x1, json.dumps(json.loads(rng.choice(valid)) | {"type": rng.choice(valid)[9:14]}).encode())
        if r < 0.85:
            return frame(0x1, bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))))
        if r < 0.9:
            return frame(0x1, b"x" * (64 * 1024 + rng.randint(1, 100)))
        if r < 0.95:
            return frame(rng.choice([0x3, 0x4, 0x5, 0xB]), b"reserved opcode")
        return frame(0x9, b"ping")  # a control frame: pong expected, no error

    async def one_socket(n: int) -> int | None:
        reader, writer, head = await raw_handshake(server, f"/v1/visitor?site={server.site_key}", server.origin)
        assert head.startswith(b"HTTP/1.1 101")
        writer.write(frame(0x1, b'{"type":"hello","ref":"h"}'))
        for _ in range(n):
            writer.write(random_frame())
        writer.write(frame(0x8, b"\x03\xe8"))  # close 1000
        try:
            await writer.drain()
            code, texts = await read_close(reader)
        except (ConnectionError, TimeoutError):
            code, texts = None, []
        writer.close()
        for t in texts:
            f = json.loads(t)
            if f["type"] == "error":
                assert f["code"] in ERROR_CODES and f["message"] != "the server could not process this request", f
        return code

    async def scenario() -> None:
        codes = []
        for _ in range(100):
            codes.append(await one_socket(15))
        assert set(codes) <= {1000, 1002, 1007, 1009, 1013, None}, codes
        ok, _ = await WsClient.visitor(server)
        assert (await ok.request("ping"))["type"] == "reply"
        await ok.close()
        assert_log_clean(server)

    asyncio.run(scenario())
