"""The hub and its clients, pure (server/hub.py): the session state machine,
gap-free resume (hold / deliver / release), fan-out and per-address counts.
No server and no sockets: a fake connection records what would be sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

import pytest
from frontdesk.server.domain import EventRecord
from frontdesk.server.exceptions import InvalidState
from frontdesk.server.hub import MAX_QUEUED_FRAMES, Client, ClientState, Hub
from frontdesk.server.protocol import CloseCode, Endpoint
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.protocol import State as WsState
from websockets.server import ServerProtocol
from websockets.uri import parse_uri


class FakeConnection:
    """Stands in for a websockets ServerConnection: no transport (so every frame
    goes through the client's queue), and ``send``/``close`` recorded."""

    transport = None

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, frame: str) -> None:
        self.sent.append(frame)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


async def settle() -> None:
    """Let the client's sender task (and a close task) run to completion."""
    for _ in range(20):
        await asyncio.sleep(0)


def client(endpoint: Endpoint = Endpoint.AGENT, ip: str = "10.0.0.1") -> tuple[Client, FakeConnection]:
    conn = FakeConnection()
    return Client(conn, endpoint, ip), conn  # type: ignore[arg-type]


def agent(tenant_id: int = 1, agent_id: int = 2, ip: str = "10.0.0.1") -> tuple[Client, FakeConnection]:
    c, conn = client(Endpoint.AGENT, ip)
    c.authenticate(agent_id=agent_id, tenant_id=tenant_id, name="Ada", role="agent", token_hash=f"t{agent_id}")
    return c, conn


def sent_ids(conn: FakeConnection) -> list[int | None]:
    return [json.loads(f).get("event_id") for f in conn.sent]


def event(event_id: int, tenant_id: int = 1, visitor_id: int | None = 7, public: bool = True) -> EventRecord:
    payload = {"n": event_id}
    return EventRecord(event_id, tenant_id, "message.created", 3, visitor_id, payload, payload if public else None, 0)


# -- the session state machine ---------------------------------------------------------------


def test_a_new_socket_is_not_authenticated() -> None:
    """A socket starts NEW: not authenticated, not receiving events."""
    c, _ = client()
    assert c.state is ClientState.NEW and not c.authenticated and not c.subscribed


def test_agent_goes_new_authenticated_live() -> None:
    """authenticate sets the agent's identity (NEW → AUTHENTICATED); subscribe
    makes it LIVE; each may happen once, in that order."""
    c, _ = client(Endpoint.AGENT)
    with pytest.raises(InvalidState):
        c.subscribe()  # not before authenticating
    c.authenticate(agent_id=5, tenant_id=3, name="Ada", role="admin", token_hash="h")
    assert c.state is ClientState.AUTHENTICATED and c.authenticated and not c.subscribed
    assert (c.agent_id, c.tenant_id, c.role, c.token_hash) == (5, 3, "admin", "h")
    assert c.viewer is not None and c.viewer.agent_id == 5 and c.viewer.tenant_id == 3
    with pytest.raises(InvalidState):
        c.authenticate(agent_id=6, tenant_id=3, name="Eve", role="admin", token_hash="h2")
    assert c.agent_id == 5  # a refused transition changes nothing
    c.subscribe()
    assert c.state is ClientState.LIVE and c.subscribed
    with pytest.raises(InvalidState):
        c.subscribe()


def test_visitor_goes_new_live_once() -> None:
    """start_visitor makes a visitor socket LIVE for that visitor of its tenant, once."""
    conn = FakeConnection()
    c = Client(conn, Endpoint.VISITOR, "10.0.0.1", tenant_id=4)  # type: ignore[arg-type]
    c.start_visitor(9, "vh")
    assert c.state is ClientState.LIVE and c.authenticated
    assert c.viewer is not None and (c.viewer.tenant_id, c.viewer.visitor_id) == (4, 9)
    with pytest.raises(InvalidState):
        c.start_visitor(10, "other")
    assert c.visitor_id == 9


def test_transitions_belong_to_their_endpoint() -> None:
    """An agent socket cannot become a visitor, nor a visitor socket an agent."""
    a, _ = client(Endpoint.AGENT)
    with pytest.raises(InvalidState):
        a.start_visitor(1, "h")
    v, _ = client(Endpoint.VISITOR)
    with pytest.raises(InvalidState):
        v.authenticate(agent_id=1, tenant_id=1, name="x", role="agent", token_hash="h")
    with pytest.raises(InvalidState):
        v.subscribe()
    assert a.state is ClientState.NEW and v.state is ClientState.NEW


def test_close_is_final_and_drops_later_frames() -> None:
    """close() moves any state to CLOSING, sends the close once, and frames pushed
    afterwards are dropped; no transition leaves CLOSING."""

    async def scenario() -> None:
        c, conn = agent()
        c.close(CloseCode.POLICY, "bye")
        c.close(CloseCode.NORMAL, "again")  # ignored
        c.push('{"type":"event"}')
        await settle()
        assert c.state is ClientState.CLOSING and not c.authenticated
        assert conn.closed == (1008, "bye") and conn.sent == []
        with pytest.raises(InvalidState):
            c.subscribe()

    run(scenario())


def test_close_flushes_what_was_queued_first() -> None:
    """A close after a reply sends the reply, then the close frame."""

    async def scenario() -> None:
        c, conn = agent()
        c.push('{"type":"reply","ref":"1"}')
        c.close(CloseCode.NORMAL, "logged out")
        await settle()
        assert conn.sent == ['{"type":"reply","ref":"1"}'] and conn.closed == (1000, "logged out")

    run(scenario())


# -- hold / deliver / release ------------------------------------------------------------------


def test_live_events_are_sent_in_order_and_each_event_id_once() -> None:
    """Not held: each event goes out as it comes, and an event_id at or below the
    newest one sent is skipped."""

    async def scenario() -> None:
        c, conn = agent()
        for event_id in (1, 2, 2, 3, 1):
            c.deliver(event_id, json.dumps({"event_id": event_id}))
        await settle()
        assert sent_ids(conn) == [1, 2, 3]

    run(scenario())


def test_held_events_wait_for_release_and_skip_what_the_replay_covered() -> None:
    """While held, live events are kept aside; release(N) sends, in order, only
    those newer than N (the replay read the rest), then the client is live."""

    async def scenario() -> None:
        c, conn = agent()
        c.hold()
        for event_id in (11, 12, 13, 14):  # published while the replay reads up to 12
            c.deliver(event_id, json.dumps({"event_id": event_id}))
        await settle()
        assert conn.sent == []
        for event_id in (10, 11, 12):  # the replay itself
            c.push(json.dumps({"event_id": event_id}))
        c.release(12)
        c.deliver(14, json.dumps({"event_id": 14}))  # a late duplicate publish
        c.deliver(15, json.dumps({"event_id": 15}))
        await settle()
        assert sent_ids(conn) == [10, 11, 12, 13, 14, 15]

    run(scenario())


def test_release_with_nothing_replayed_sends_every_held_event() -> None:
    """release(0) (no replay: a reset or no cursor) sends every held event once."""

    async def scenario() -> None:
        c, conn = agent()
        c.hold()
        for event_id in (5, 6, 6, 7):
            c.deliver(event_id, json.dumps({"event_id": event_id}))
        c.release(0)
        await settle()
        assert sent_ids(conn) == [5, 6, 7]

    run(scenario())


def test_an_event_the_replay_already_sent_is_not_sent_live() -> None:
    """An event committed before the replay read it but published after the
    release is skipped (the replay sent it): no duplicate."""

    async def scenario() -> None:
        c, conn = agent()
        c.hold()
        c.push(json.dumps({"event_id": 20}))
        c.release(20)
        c.deliver(20, json.dumps({"event_id": 20}))
        c.deliver(21, json.dumps({"event_id": 21}))
        await settle()
        assert sent_ids(conn) == [20, 21]

    run(scenario())


def test_ephemeral_pushes_are_not_held() -> None:
    """Frames with no event_id (typing, presence) go out at once even while held:
    they are never replayed, so holding them buys nothing."""

    async def scenario() -> None:
        c, conn = agent()
        c.hold()
        c.deliver(30, json.dumps({"event_id": 30}))
        c.deliver(None, json.dumps({"kind": "typing"}))
        await settle()
        assert sent_ids(conn) == [None]
        c.release(0)
        await settle()
        assert sent_ids(conn) == [None, 30]

    run(scenario())


def test_too_many_held_events_close_the_socket_with_1013() -> None:
    """More than MAX_QUEUED_FRAMES events held during one resume close the socket
    with 1013 (resume again), dropping the held frames instead of growing."""

    async def scenario() -> None:
        c, conn = agent()
        c.hold()
        for event_id in range(1, MAX_QUEUED_FRAMES + 2):
            c.deliver(event_id, json.dumps({"event_id": event_id}))
        await settle()
        assert c.state is ClientState.CLOSING
        assert conn.closed is not None and conn.closed[0] == 1013 and conn.sent == []

    run(scenario())


# -- writes: several frames in one write ---------------------------------------------------------


class RecordingTransport:
    """A transport that keeps every write; its buffer holds what was written
    until ``flush`` (a peer that reads nothing until told)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.buffered = 0

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.buffered += len(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered


class OpenConnection(FakeConnection):
    """A fake connection with a transport and websockets' own sans-I/O protocol,
    open: frames written directly are real WebSocket frames."""

    def __init__(self) -> None:
        super().__init__()
        self.transport = RecordingTransport()  # type: ignore[assignment]
        self.protocol = ServerProtocol(state=WsState.OPEN)

    def written_texts(self) -> list[str]:
        """The text frames in everything written to the transport, in order."""
        peer = ClientProtocol(parse_uri("ws://frontdesk.test/"), state=WsState.OPEN, max_size=None)
        peer.receive_data(b"".join(self.transport.writes))  # type: ignore[attr-defined]
        return [bytes(f.data).decode() for f in peer.events_received() if f.opcode is Opcode.TEXT]


def open_agent() -> tuple[Client, OpenConnection]:
    conn = OpenConnection()
    c = Client(conn, Endpoint.AGENT, "10.0.0.1")  # type: ignore[arg-type]
    c.authenticate(agent_id=2, tenant_id=1, name="Ada", role="agent", token_hash="t2")
    return c, conn


def test_push_many_writes_the_frames_in_order_in_one_write() -> None:
    """Frames pushed together to a socket that keeps up go out in one transport
    write (one send), as the same WebSocket frames, in order (a replay page)."""

    async def scenario() -> None:
        c, conn = open_agent()
        frames = [json.dumps({"event_id": i}) for i in range(1, 21)]
        c.push_many(frames)
        await settle()
        assert len(conn.transport.writes) == 1  # type: ignore[attr-defined]
        assert conn.written_texts() == frames and conn.sent == []

    run(scenario())


def test_push_many_queues_what_does_not_fit_the_direct_write_in_order() -> None:
    """Frames past DIRECT_WRITE_BYTES of a write go through the queue (its bounds
    apply), after those written: every frame arrives once, in order."""

    async def scenario() -> None:
        c, conn = open_agent()
        frames = [json.dumps({"event_id": i, "pad": "x" * 10_000}) for i in range(1, 16)]
        c.push_many(frames)
        await settle()
        written = conn.written_texts()
        assert 0 < len(written) < len(frames) and len(conn.transport.writes) == 1  # type: ignore[attr-defined]
        assert written + conn.sent == frames

    run(scenario())


def test_push_paced_sends_a_long_replay_whole_and_in_order() -> None:
    """push_paced sends more frames than the queue may hold at once, in writes of
    DIRECT_WRITE_BYTES, waiting for the queue as it goes: nothing is cut off,
    dropped or reordered."""

    async def scenario() -> None:
        c, conn = open_agent()
        frames = [json.dumps({"event_id": i, "pad": "y" * 3000}) for i in range(1, 3 * MAX_QUEUED_FRAMES)]
        await c.push_paced(frames)
        await settle()
        assert c.state is ClientState.AUTHENTICATED
        assert conn.written_texts() + conn.sent == frames

    run(scenario())


def test_release_writes_the_held_events_in_one_write() -> None:
    """The events held during a resume and newer than the replay go out in one
    write on release, in order, skipping what the replay covered."""

    async def scenario() -> None:
        c, conn = open_agent()
        c.hold()
        for event_id in (4, 5, 6, 7):
            c.deliver(event_id, json.dumps({"event_id": event_id}))
        c.release(5)
        await settle()
        assert len(conn.transport.writes) == 1  # type: ignore[attr-defined]
        assert [json.loads(f)["event_id"] for f in conn.written_texts()] == [6, 7]

    run(scenario())


def test_push_many_to_a_socket_no_longer_open_sends_nothing() -> None:
    """As for push: a socket whose WebSocket is closing gets no frames."""

    async def scenario() -> None:
        c, conn = open_agent()
        conn.protocol = ServerProtocol(state=WsState.CLOSING)
        c.push_many(['{"type":"event"}'])
        await settle()
        assert conn.transport.writes == [] and conn.sent == []  # type: ignore[attr-defined]

    run(scenario())


# -- the hub ---------------------------------------------------------------------------------------


def test_hub_counts_open_sockets_per_address() -> None:
    """add/remove keep the per-address count the socket cap reads; both are
    idempotent, and an address with no sockets left is forgotten."""
    hub = Hub()
    a, _ = client(ip="10.1.0.1")
    b, _ = client(ip="10.1.0.1")
    c, _ = client(ip="10.1.0.2")
    for x in (a, b, c, a):
        hub.add(x)
    assert (hub.sockets_from("10.1.0.1"), hub.sockets_from("10.1.0.2"), hub.sockets_from("10.1.0.3")) == (2, 1, 0)
    hub.remove(a)
    hub.remove(a)
    assert hub.sockets_from("10.1.0.1") == 1
    hub.remove(b)
    hub.remove(c)
    assert hub.sockets_from("10.1.0.1") == 0 and hub.clients == set()


def test_publish_reaches_exactly_those_who_may_see_each_event() -> None:
    """An event goes to the subscribed agents of its tenant and to its own visitor;
    not to another tenant, another visitor, an agent not subscribed, or a visitor
    when it has no visitor view (a note)."""

    async def scenario() -> None:
        hub = Hub()
        live, live_conn = agent(tenant_id=1, agent_id=2)
        idle, idle_conn = agent(tenant_id=1, agent_id=3)
        for a in (live, idle):  # both online before anyone subscribes: no presence pushes in the way
            hub.add(a)
            hub.attach_agent(a)
        hub.subscribe_agent(live)  # idle stays authenticated, never subscribed
        live.release(0)
        other, other_conn = agent(tenant_id=2, agent_id=4)
        hub.add(other)
        hub.attach_agent(other)
        hub.subscribe_agent(other)
        other.release(0)
        visitors = {}
        for visitor_id in (7, 8):
            conn = FakeConnection()
            v = Client(conn, Endpoint.VISITOR, "10.0.0.1", tenant_id=1)  # type: ignore[arg-type]
            v.start_visitor(visitor_id, f"v{visitor_id}")
            hub.add(v)
            hub.attach_visitor(v)
            v.release(0)
            visitors[visitor_id] = conn
        hub.publish([event(1, visitor_id=7), event(2, visitor_id=8), event(3, visitor_id=7, public=False)])
        await settle()
        assert sent_ids(live_conn) == [1, 2, 3]
        assert idle_conn.sent == [] and other_conn.sent == []
        assert sent_ids(visitors[7]) == [1] and sent_ids(visitors[8]) == [2]

    run(scenario())


def test_a_commits_events_reach_an_agent_in_one_write_in_order() -> None:
    """publish() of a commit's events writes them to a subscribed agent socket that keeps up in one write, in
    event order, skipping one the replay already sent; held sockets still hold them."""

    async def scenario() -> None:
        hub = Hub()
        live, conn = open_agent()
        hub.add(live)
        hub.attach_agent(live)
        hub.subscribe_agent(live)
        live.release(1)  # the replay sent event 1
        held, held_conn = open_agent()
        hub.add(held)
        hub.attach_agent(held)
        hub.subscribe_agent(held)
        hub.publish([event(1), event(2), event(3, public=False), event(4)])
        await settle()
        assert len(conn.transport.writes) == 1  # type: ignore[attr-defined]
        assert [json.loads(f)["event_id"] for f in conn.written_texts()] == [2, 3, 4]
        assert held_conn.transport.writes == []  # type: ignore[attr-defined]
        held.release(0)
        await settle()
        assert [json.loads(f)["event_id"] for f in held_conn.written_texts()] == [1, 2, 3, 4]

    run(scenario())


def test_the_socket_index_keeps_one_socket_bare_and_several_in_a_set() -> None:
    """A key's sockets come back as filed, through one socket, two, and back to none; other keys are untouched."""
    from frontdesk.server.hub import _SocketIndex

    index = _SocketIndex()
    first, second, other = object(), object(), object()
    assert list(index.get(1)) == []
    index.add(1, first)  # type: ignore[arg-type]
    index.add(1, first)  # type: ignore[arg-type]
    assert list(index.get(1)) == [first]
    index.add(1, second)  # type: ignore[arg-type]
    index.add(2, other)  # type: ignore[arg-type]
    assert set(index.get(1)) == {first, second} and list(index.get(2)) == [other]
    index.discard(1, first)  # type: ignore[arg-type]
    assert list(index.get(1)) == [second]
    index.discard(1, first)  # type: ignore[arg-type]
    index.discard(1, second)  # type: ignore[arg-type]
    assert list(index.get(1)) == [] and list(index.get(2)) == [other]
