"""Live connections and fan-out.

The hub knows every open socket by tenant, agent, visitor and token, and
pushes each committed event to those allowed to see it. Each event is encoded
once per audience (agents, visitors), not once per recipient.

Each :class:`Client` has a bounded outgoing queue drained by a task that
exists only while there is something to send, so an idle connection costs no
task. A client that cannot keep up (queue over its bound) is disconnected with
1013 and resumes later from its cursor.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State as WsState

from . import protocol
from .domain import EventRecord, Viewer, may_see
from .exceptions import InvalidState
from .protocol import CloseCode, Endpoint

__all__ = ["MAX_QUEUED_BYTES", "MAX_QUEUED_FRAMES", "Client", "Hub"]

log = logging.getLogger("frontdesk.server.hub")

#: How often a node re-announces its online agents to the others.
PRESENCE_HEARTBEAT_S: Final = 10.0
#: How long another node's announcement counts without being repeated.
PRESENCE_EXPIRY_S: Final = 35.0
#: Outgoing frames a client may have waiting before it is cut off as too slow.
MAX_QUEUED_FRAMES: Final = 2000
#: A frame skips the queue and is written at once while the socket's write
#: buffer holds at most this much; beyond it the queue and its bounds apply.
DIRECT_WRITE_BYTES: Final = 64 * 1024
#: Outgoing bytes a client may have waiting before it is cut off.
MAX_QUEUED_BYTES: Final = 4 * 1024 * 1024
#: Seconds a close frame may wait behind unread data before the TCP
#: connection is aborted instead.
CLOSE_GRACE_S: Final = 2.0


class ClientState(enum.Enum):
    """Where a socket stands in its session (PROTOCOL.md, "Visitor endpoint",
    "Agent endpoint"). Only :class:`Client`'s methods move a socket from one
    state to another; a move the table below does not allow raises
    :class:`~frontdesk.server.exceptions.InvalidState`.

    ======================  ==========================================  =============
    from                    to                                          by
    ======================  ==========================================  =============
    NEW                     LIVE (visitor)                              start_visitor
    NEW                     AUTHENTICATED (agent)                       authenticate
    AUTHENTICATED           LIVE (agent)                                subscribe
    any                     CLOSING                                     close
    ======================  ==========================================  =============
    """

    NEW = "new"  #: upgraded, not yet authenticated: only hello (visitor) or login/auth (agent) is served
    AUTHENTICATED = "authenticated"  #: an agent past login/auth, not subscribed: requests served, no events pushed
    LIVE = "live"  #: a visitor past hello, or a subscribed agent: events are pushed (held while a replay runs)
    CLOSING = "closing"  #: being closed: nothing more is served or queued


class Client:
    """One open socket and its session.

    The session is a guarded state machine (:class:`ClientState`): the
    transitions :meth:`start_visitor`, :meth:`authenticate`, :meth:`subscribe`
    and :meth:`close` are the only writers of :attr:`state` and of the
    identity fields, and raise :class:`InvalidState` on a move the table does
    not allow (a second ``hello``, ``login`` after ``auth``, ...).

    ``hold()``/``release()`` implement the gap-free resume of PROTOCOL.md
    ("Resuming"): while held, live events are kept aside; ``release`` sends
    those the replay did not already cover, then the client is live.
    """

    __slots__ = (
        "_held",
        "_queue",
        "_queued_bytes",
        "_sender",
        "_upto",
        "agent_id",
        "agent_name",
        "bucket",
        "busy",
        "close_after_reply",
        "close_unless_authenticated",
        "endpoint",
        "ip",
        "role",
        "state",
        "strikes",
        "tenant_id",
        "token_hash",
        "viewer",
        "visitor_id",
        "ws",
    )

    def __init__(self, ws: ServerConnection, endpoint: Endpoint, ip: str, *, tenant_id: int = 0) -> None:
        self.ws = ws
        self.endpoint = endpoint
        self.ip = ip
        self.state = ClientState.NEW
        #: A visitor socket's tenant (its site key's) from the start; an agent's from authenticate.
        self.tenant_id = tenant_id
        self.agent_id: int | None = None
        self.agent_name: str | None = None
        self.role: str | None = None
        self.visitor_id: int | None = None
        self.token_hash: str | None = None
        self.viewer: Viewer | None = None
        #: Frames waiting for the sender task; None while nothing waits (an idle socket holds no deque: 760 bytes).
        self._queue: collections.deque[str] | None = None
        self._queued_bytes = 0
        self._sender: asyncio.Task[None] | None = None
        self._held: list[tuple[int, str]] | None = None
        #: The newest event_id queued for this client (replayed or live).
        self._upto = 0
        self.bucket: Any = None
        self.strikes = 0
        #: A request from this socket is being handled right now.
        self.busy = False
        #: A close that waits until the request in hand has been answered.
        self.close_after_reply: tuple[CloseCode, str] | None = None
        #: The authentication deadline passed while a request was in hand:
        #: close after its reply unless that reply authenticated the socket.
        self.close_unless_authenticated: tuple[CloseCode, str] | None = None

    # -- session ------------------------------------------------------------------

    @property
    def authenticated(self) -> bool:
        """Past hello (visitor) or login/auth (agent), and not closing."""
        return self.state is ClientState.AUTHENTICATED or self.state is ClientState.LIVE

    @property
    def subscribed(self) -> bool:
        """Receiving live events: a visitor past hello, an agent past subscribe."""
        return self.state is ClientState.LIVE

    def _move(self, expected: ClientState, to: ClientState, what: str, endpoint: Endpoint) -> None:
        if self.endpoint is not endpoint:
            raise InvalidState(f"{what} on a {self.endpoint.value} socket")
        if self.state is not expected:
            raise InvalidState(f"{what} on a socket that is {self.state.value}, not {expected.value}")
        self.state = to

    def start_visitor(self, visitor_id: int, token_hash: str, viewer: Viewer | None = None) -> None:
        """NEW → LIVE: the socket speaks for visitor ``visitor_id`` (of the
        tenant its site key named) and sees what ``viewer`` may see (by default
        that visitor alone); live events are held until :meth:`release`."""
        self._move(ClientState.NEW, ClientState.LIVE, "start_visitor", Endpoint.VISITOR)
        self.visitor_id = visitor_id
        self.token_hash = token_hash
        self.viewer = viewer or Viewer(tenant_id=self.tenant_id, visitor_id=visitor_id)
        self.hold()

    def authenticate(self, *, agent_id: int, tenant_id: int, name: str, role: str, token_hash: str) -> None:
        """NEW → AUTHENTICATED: the socket speaks for agent ``agent_id``."""
        self._move(ClientState.NEW, ClientState.AUTHENTICATED, "authenticate", Endpoint.AGENT)
        self.agent_id = agent_id
        self.tenant_id = tenant_id
        self.agent_name = name
        self.role = role
        self.token_hash = token_hash
        self.viewer = Viewer(tenant_id=tenant_id, agent_id=agent_id)

    def subscribe(self) -> None:
        """AUTHENTICATED → LIVE (agent): live events are held until :meth:`release`."""
        self._move(ClientState.AUTHENTICATED, ClientState.LIVE, "subscribe", Endpoint.AGENT)
        self.hold()

    def agent_changed(self, name: str, role: str) -> None:
        """An authenticated agent's name or role changed (on any node)."""
        if self.agent_id is None:
            raise InvalidState("agent_changed on a socket with no agent")
        self.agent_name = name
        self.role = role

    # -- sending ------------------------------------------------------------------

    def push(self, frame: str) -> None:
        """Queue ``frame`` for sending, in order. Never blocks. Frames pushed
        after :meth:`close` are dropped."""
        if self.state is ClientState.CLOSING:
            return
        if self._queue is not None and (len(self._queue) >= MAX_QUEUED_FRAMES or self._queued_bytes > MAX_QUEUED_BYTES):
            log.warning("closing a %s socket from %s: too slow to read its events", self.endpoint.value, self.ip)
            self.close(CloseCode.TRY_AGAIN_LATER, "too slow to read; reconnect and resume", flush=False)
            return
        transport = self.ws.transport
        if self._sender is None and transport is not None and transport.get_write_buffer_size() <= DIRECT_WRITE_BYTES:
            # Nothing of ours is queued and the socket keeps up: write now,
            # with no task and no await per frame. ``broadcast`` is websockets'
            # own synchronous send; it skips a socket that is no longer open.
            broadcast((self.ws,), frame)
            return
        self._enqueue(frame)

    def push_many(self, frames: Sequence[str]) -> None:
        """:meth:`push` each of ``frames``, in order; while the socket keeps up,
        as many as fit under :data:`DIRECT_WRITE_BYTES` go out in one write (one
        ``send`` system call) instead of one each: a reconnect's replay page is
        one write (issue 12, the reconnect storm)."""
        if not frames or self.state is ClientState.CLOSING:
            return
        transport = self.ws.transport
        if self._sender is not None or transport is None or self.ws.protocol.state is not WsState.OPEN:
            for frame in frames:  # behind a queue, or closing: push's queue, order and bounds
                self.push(frame)
            return
        conn = self.ws.protocol
        budget = DIRECT_WRITE_BYTES - transport.get_write_buffer_size()
        n = 0
        while n < len(frames) and budget >= 0:  # at least one frame when push would write one directly
            budget -= len(frames[n])
            n += 1
        if n:
            for frame in frames[:n]:
                # The sans-I/O protocol only frames the data here, no I/O. (It would raise mid-way
                # during a fragmented send; this server sends only whole str frames.) While the
                # socket is OPEN no end-of-stream is pending, so the output is frames only.
                conn.send_text(frame.encode())
            transport.write(b"".join(conn.data_to_send()))
        for frame in frames[n:]:  # the rest as push sends them: directly while the buffer keeps up, else queued
            self.push(frame)

    def _enqueue(self, frame: str) -> None:
        if self._queue is None:
            self._queue = collections.deque()
        self._queue.append(frame)
        self._queued_bytes += len(frame)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                frame = self._queue.popleft()
                self._queued_bytes -= len(frame)
                await self.ws.send(frame)
        except ConnectionClosed:
            self._queue = None
            self._queued_bytes = 0
        except Exception:
            log.exception("sending to a %s socket failed", self.endpoint.value)
        finally:
            self._sender = None
            if not self._queue:
                self._queue = None

    def close(self, code: CloseCode, reason: str, *, flush: bool = True) -> None:
        """Close the socket with ``code``. With ``flush``, what is already
        queued (a reply, the errors that explain the close) is sent first, for
        up to two seconds; without it (a client too slow to read) it is dropped.

        The connection loop keeps reading, and discarding, incoming frames
        until the close completes: a loop that stopped reading could never see
        the peer's close frame once its receive buffer filled up.
        """
        if self.state is ClientState.CLOSING:
            return
        self.state = ClientState.CLOSING
        if not flush:
            self._queue = None
            self._queued_bytes = 0
        sender = self._sender

        async def close() -> None:
            if flush and sender is not None:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(sender), 2)
            # ws.close() first waits for the send buffer to drain, which never
            # happens while the peer does not read: then cut the TCP connection.
            try:
                async with asyncio.timeout(CLOSE_GRACE_S):
                    await self.ws.close(int(code), reason)
            except TimeoutError:
                if self.ws.transport is not None:
                    self.ws.transport.abort()

        _spawn(close())

    def close_when_idle(self, code: CloseCode, reason: str) -> None:
        """Close now, or, while a request of this socket is being handled,
        right after its reply (an admin disabling their own account still
        hears that it worked)."""
        if self.busy:
            self.close_after_reply = (code, reason)
        else:
            self.close(code, reason)

    # -- resume -------------------------------------------------------------------

    def hold(self) -> None:
        """Keep live events aside until :meth:`release`."""
        self._held = []

    def deliver(self, event_id: int | None, frame: str, batch: list[str] | None = None) -> None:
        """Called by the hub for each live event this client may see. With
        ``batch``, a frame to send now is appended to it instead, for the
        caller to :meth:`push_many` (one write for a commit's events)."""
        if event_id is not None:
            if event_id <= self._upto:
                # The replay already sent it: it was committed, and so readable,
                # before the writer got round to publishing it.
                return
            if self._held is not None:
                self._held.append((event_id, frame))
                if len(self._held) > MAX_QUEUED_FRAMES:
                    self._held = None
                    self.close(CloseCode.TRY_AGAIN_LATER, "too many events during resume; reconnect", flush=False)
                return
            self._upto = event_id
        if batch is not None:
            batch.append(frame)
        else:
            self.push(frame)

    async def push_paced(self, frames: Sequence[str]) -> None:
        """:meth:`push_many` ``frames`` a write's worth (:data:`DIRECT_WRITE_BYTES`)
        at a time, waiting (:meth:`drained`) after each while the queue is over an
        eighth of its bounds: a long replay streams at the client's pace."""
        start = 0
        while start < len(frames):
            end, size = start, 0
            while end < len(frames) and size < DIRECT_WRITE_BYTES:
                size += len(frames[end])
                end += 1
            self.push_many(frames[start:end])
            await self.drained()
            start = end

    async def drained(self) -> None:
        """Wait while more than an eighth of the queue's bounds is waiting, so
        a long replay streams at the client's pace instead of tripping the
        slow-reader cut-off."""
        while (
            len(self._queue or ()) > MAX_QUEUED_FRAMES // 8 or self._queued_bytes > MAX_QUEUED_BYTES // 8
        ) and self._sender is not None:
            await asyncio.shield(self._sender)

    def release(self, replayed_up_to: int) -> None:
        """Send held events newer than ``replayed_up_to``, then go live."""
        held, self._held = self._held or [], None
        self._upto = max(self._upto, replayed_up_to)
        frames = []
        for event_id, frame in held:
            if event_id > self._upto:
                self._upto = event_id
                frames.append(frame)
        self.push_many(frames)


_background: set[asyncio.Task[Any]] = set()


def _spawn(coro: Any) -> asyncio.Task[Any]:
    """Run ``coro`` in the background, holding a reference and logging failures."""
    task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(coro)
    _background.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _background.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("background task failed", exc_info=t.exception())

    task.add_done_callback(done)
    return task


spawn = _spawn


class Hub:
    """Registry of live clients, and fan-out of committed events."""

    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self._per_ip: collections.Counter[str] = collections.Counter()
        self._agents: dict[int, set[Client]] = collections.defaultdict(set)  # tenant -> subscribed agent sockets
        self._agent_sockets: dict[int, set[Client]] = collections.defaultdict(set)  # agent id -> sockets
        self._visitors = _SocketIndex()  # visitor id -> sockets
        self._tenant_visitors: dict[int, set[Client]] = collections.defaultdict(set)
        self._tokens: dict[str, set[Client]] = collections.defaultdict(set)
        #: (tenant, verified user id) -> visitor sockets holding that identity
        self._identities: dict[tuple[int, str], set[Client]] = collections.defaultdict(set)
        self._online_agents: dict[int, set[int]] = collections.defaultdict(set)  # tenant -> agent ids online
        #: Sends never-stored pushes and token revocations to the other nodes
        #: (set when the store spans several nodes, e.g. PostgreSQL); None alone.
        self.relay: Callable[[dict[str, Any]], None] | None = None
        #: This node's name in relayed presence.
        self.node_id = uuid.uuid4().hex[:12]
        #: Agents who set themselves Away (tenant -> agent ids): online, but not
        #: "someone is there" for visitors (set_away; kept from agent.updated).
        self._away: dict[int, set[int]] = collections.defaultdict(set)
        #: Other nodes' online agents: node -> (expiry, tenant -> agent ids).
        self._remote_online: dict[str, tuple[float, dict[int, frozenset[int]]]] = {}
        #: Collision awareness: the conversation each agent socket here has open (``viewing``).
        self._viewing: dict[Client, int] = {}
        #: Other nodes' viewers, as relayed: (tenant, conversation) -> agent id -> name.
        self._remote_viewers: dict[tuple[int, int], dict[int, str]] = collections.defaultdict(dict)
        self.events_published = 0
        #: Called with a tenant id when one of its agents comes online or back from Away, on this node or
        #: another (the auto-assigner's trigger, server/routing.py).
        self.on_available: Callable[[int], None] | None = None

    # -- registration -----------------------------------------------------------------

    def add(self, client: Client) -> None:
        """Register a newly upgraded socket (counted against its address)."""
        if client not in self.clients:
            self.clients.add(client)
            self._per_ip[client.ip] += 1

    def sockets_from(self, ip: str) -> int:
        """Open sockets registered from client address ``ip``."""
        return self._per_ip.get(ip, 0)

    def attach_agent(self, client: Client) -> None:
        """Record an authenticated agent socket; announces presence on change."""
        assert client.agent_id is not None
        self._agent_sockets[client.agent_id].add(client)
        if client.token_hash:
            self._tokens[client.token_hash].add(client)
        online = self._online_agents[client.tenant_id]
        if client.agent_id not in online:
            before = self.agents_online(client.tenant_id)
            online.add(client.agent_id)
            self._presence_changed(client.tenant_id, before)

    def subscribe_agent(self, client: Client) -> None:
        """Move an authenticated agent socket to LIVE (held) and fan out to it."""
        client.subscribe()
        self._agents[client.tenant_id].add(client)

    def attach_visitor(self, client: Client) -> None:
        """Record a visitor socket under its visitor and, for a verified
        identity, under every visitor of its scope (``Viewer.linked_visitors``)."""
        assert client.visitor_id is not None and client.subscribed
        for visitor_id in self._scope(client):
            self._visitors.add(visitor_id, client)
        self._tenant_visitors[client.tenant_id].add(client)
        if client.viewer is not None and client.viewer.verified_user is not None:
            self._identities[(client.tenant_id, client.viewer.verified_user)].add(client)

    @staticmethod
    def _scope(client: Client) -> frozenset[int]:
        if client.viewer is not None and client.viewer.visitor_id is not None:
            return client.viewer.visitor_scope
        return frozenset() if client.visitor_id is None else frozenset({client.visitor_id})

    def set_visitor_viewer(self, client: Client, viewer: Viewer) -> None:
        """Replace an attached visitor socket's viewer (its identity or linked
        visitors changed), moving its registrations to match."""
        attached = client.subscribed
        if attached:
            self._detach_visitor(client)
        client.viewer = viewer
        if attached:
            self.attach_visitor(client)

    def verified_sockets(self, tenant_id: int, user_id: str) -> list[Client]:
        """This node's visitor sockets verified as ``user_id`` in the tenant."""
        return list(self._identities.get((tenant_id, user_id), ()))

    def _detach_visitor(self, client: Client) -> None:
        for visitor_id in self._scope(client):
            self._visitors.discard(visitor_id, client)
        _discard(self._tenant_visitors, client.tenant_id, client)
        if client.viewer is not None and client.viewer.verified_user is not None:
            _discard(self._identities, (client.tenant_id, client.viewer.verified_user), client)

    def remove(self, client: Client) -> None:
        """Forget a closed socket."""
        if client not in self.clients:
            return
        self.clients.discard(client)
        self._per_ip[client.ip] -= 1
        if self._per_ip[client.ip] <= 0:
            del self._per_ip[client.ip]
        if client.token_hash:
            _discard(self._tokens, client.token_hash, client)
        if client.visitor_id is not None:
            self._detach_visitor(client)
        if client.agent_id is not None:
            _discard(self._agents, client.tenant_id, client)
            if client in self._viewing:
                self.set_viewing(client, None)  # the socket went: it no longer views anything
            _discard(self._agent_sockets, client.agent_id, client)
            if client.agent_id not in self._agent_sockets:
                online = self._online_agents[client.tenant_id]
                if client.agent_id in online:
                    before = self.agents_online(client.tenant_id)
                    online.discard(client.agent_id)
                    self._presence_changed(client.tenant_id, before)

    # -- queries ----------------------------------------------------------------------

    def agents_online(self, tenant_id: int) -> set[int]:
        """The tenant's agents with a socket open on this node or, as last
        relayed and not yet expired, on another."""
        online = set(self._online_agents.get(tenant_id, ()))
        now = time.monotonic()
        for expires, tenants in self._remote_online.values():
            if expires > now:
                online |= tenants.get(tenant_id, frozenset())
        return online

    def any_agent_online(self, tenant_id: int) -> bool:
        """Whether someone is there for visitors: an agent online and not away."""
        return bool(self.agents_online(tenant_id) - self._away.get(tenant_id, set()))

    def set_away(self, tenant_id: int, agent_id: int, away: bool) -> None:
        """Record an agent's availability; visitors hear when that changes
        whether anyone is there."""
        before = self.any_agent_online(tenant_id)
        (self._away[tenant_id].add if away else self._away[tenant_id].discard)(agent_id)
        after = self.any_agent_online(tenant_id)
        if not away and self.on_available is not None:
            self.on_available(tenant_id)
        if before != after:
            frame = protocol.encode_event("presence", {"agents_online": after})
            for client in self._tenant_visitors.get(tenant_id, ()):
                client.push(frame)

    def sockets_of_token(self, token_hash: str) -> list[Client]:
        return list(self._tokens.get(token_hash, ()))

    def sockets_of_agent(self, agent_id: int) -> list[Client]:
        return list(self._agent_sockets.get(agent_id, ()))

    def visitor_sockets(self, visitor_id: int) -> list[Client]:
        return list(self._visitors.get(visitor_id, ()))

    def tenant_agents(self, tenant_id: int) -> list[Client]:
        return list(self._agents.get(tenant_id, ()))

    # -- fan-out ----------------------------------------------------------------------

    def publish(self, events: Iterable[EventRecord]) -> None:
        """Push committed events to every client allowed to see them, in order.

        Recipients come from the registry; :func:`domain.may_see` is checked for
        each, the same rule replay applies. An agent socket gets a commit's
        events in one write (:meth:`Client.push_many`), after the loop and
        before this returns (so still before the writers' acks).
        """
        to_agents: dict[Client, list[str]] = {}
        for event in events:
            self.events_published += 1
            agent_frame = protocol.encode_event(
                event.kind, event.payload, event_id=event.event_id, conversation_id=event.conversation_id
            )
            for client in self._agents.get(event.tenant_id, ()):
                if client.viewer is not None and may_see(client.viewer, event):
                    batch = to_agents.get(client)
                    if batch is None:
                        batch = to_agents[client] = []
                    client.deliver(event.event_id, agent_frame, batch)
            if event.visitor_payload is None:
                continue
            if event.visitor_id is not None:
                targets: Iterable[Client] = self._visitors.get(event.visitor_id, ())
            else:
                targets = self._tenant_visitors.get(event.tenant_id, ())
            visitor_frame: str | None = None
            for client in targets:
                if client.viewer is not None and may_see(client.viewer, event):
                    if visitor_frame is None:
                        visitor_frame = protocol.encode_event(
                            event.kind,
                            event.visitor_payload,
                            event_id=event.event_id,
                            conversation_id=event.conversation_id,
                        )
                    client.deliver(event.event_id, visitor_frame)
        for client, frames in to_agents.items():
            client.push_many(frames)

    def push_ephemeral_to_agents(
        self, tenant_id: int, kind: str, data: dict[str, Any], *, skip: Client | None = None, relay: bool = True
    ) -> None:
        """Push a never-stored event (typing, seen) to the tenant's agents here
        and, through :attr:`relay`, on the other nodes."""
        frame = protocol.encode_event(kind, data, conversation_id=data.get("conversation_id"))
        for client in self._agents.get(tenant_id, ()):
            if client is not skip:
                client.push(frame)
        if relay and self.relay is not None:
            self.relay({"op": "agents", "tenant_id": tenant_id, "kind": kind, "data": data})

    def push_ephemeral_to_visitor(
        self, visitor_id: int, kind: str, data: dict[str, Any], *, relay: bool = True
    ) -> None:
        """Push a never-stored event to one visitor's sockets, on every node."""
        frame = protocol.encode_event(kind, data, conversation_id=data.get("conversation_id"))
        for client in self._visitors.get(visitor_id, ()):
            client.push(frame)
        if relay and self.relay is not None:
            self.relay({"op": "visitor", "visitor_id": visitor_id, "kind": kind, "data": data})

    # -- collision awareness (PROTOCOL.md, "viewing") -----------------------------------

    def set_viewing(self, client: Client, conversation_id: int | None) -> None:
        """Record that agent socket ``client`` has ``conversation_id`` open (None:
        none); the tenant's other agents hear ``viewing`` when an agent starts or
        stops viewing a conversation (an agent with two sockets on it counts once)."""
        assert client.agent_id is not None
        before = self._viewing.pop(client, None)
        if conversation_id is not None:
            self._viewing[client] = conversation_id
        if before == conversation_id:
            return
        if before is not None and not self._views_here(client.tenant_id, client.agent_id, before):
            self._announce_viewing(client, before, False)
        if conversation_id is not None and list(
            self._views_here(client.tenant_id, client.agent_id, conversation_id)
        ) == [client]:
            self._announce_viewing(client, conversation_id, True)

    def _views_here(self, tenant_id: int, agent_id: int, conversation_id: int) -> list[Client]:
        return [
            c
            for c, viewed in self._viewing.items()
            if viewed == conversation_id and c.agent_id == agent_id and c.tenant_id == tenant_id
        ]

    def _announce_viewing(self, client: Client, conversation_id: int, viewing: bool) -> None:
        assert client.agent_id is not None
        data = protocol.to_wire(
            protocol.AgentViewing(
                conversation_id=conversation_id,
                agent_id=client.agent_id,
                name=client.agent_name or f"agent #{client.agent_id}",
                viewing=viewing,
            )
        )
        self.push_ephemeral_to_agents(client.tenant_id, "viewing", data, skip=client)

    def viewers(self, tenant_id: int, conversation_id: int) -> dict[int, str]:
        """Who has the conversation open, here or (as relayed) on another node: agent id -> name."""
        found = dict(self._remote_viewers.get((tenant_id, conversation_id), {}))
        for c, viewed in self._viewing.items():
            if viewed == conversation_id and c.tenant_id == tenant_id and c.agent_id is not None:
                found[c.agent_id] = c.agent_name or f"agent #{c.agent_id}"
        return found

    def _remote_viewing(self, tenant_id: int, data: dict[str, Any]) -> None:
        key = (tenant_id, int(data["conversation_id"]))
        if data["viewing"]:
            self._remote_viewers[key][int(data["agent_id"])] = str(data["name"])
        else:
            self._remote_viewers[key].pop(int(data["agent_id"]), None)
            if not self._remote_viewers[key]:
                del self._remote_viewers[key]

    def revoke_token(self, token_hash: str, *, keep: Client | None = None, relay: bool = True) -> None:
        """Close every socket authenticated with a revoked token (but ``keep``),
        here and on the other nodes."""
        for client in self.sockets_of_token(token_hash):
            if client is not keep:
                client.close_when_idle(CloseCode.POLICY, "logged out")
        if relay and self.relay is not None:
            self.relay({"op": "revoke", "token_hash": token_hash})

    def relayed(self, message: dict[str, Any]) -> None:
        """Apply a message another node relayed (see :attr:`relay`)."""
        try:
            op = message["op"]
            if op == "agents":
                if message["kind"] == "viewing":
                    self._remote_viewing(int(message["tenant_id"]), message["data"])
                self.push_ephemeral_to_agents(int(message["tenant_id"]), message["kind"], message["data"], relay=False)
            elif op == "visitor":
                self.push_ephemeral_to_visitor(
                    int(message["visitor_id"]), message["kind"], message["data"], relay=False
                )
            elif op == "revoke":
                self.revoke_token(str(message["token_hash"]), relay=False)
            elif op == "presence":
                # "away": the relaying node's online agents who are away, so a node that started
                # after an agent went away still counts them right (older nodes send none).
                for t, ids in (message.get("away") or {}).items():
                    self._away[int(t)].update(int(a) for a in ids)
                self._remote_presence(str(message["node"]), {int(t): ids for t, ids in message["tenants"].items()})
        except (KeyError, TypeError, ValueError):
            log.warning("ignoring a malformed relayed message")

    def _presence_changed(self, tenant_id: int, before: set[int]) -> None:
        """Announce the difference between ``before`` and now to this node's
        agents (per agent) and visitors (anyone online at all), and tell the
        other nodes this node's agents for the tenant."""
        self._announce(tenant_id, before, self.agents_online(tenant_id))
        if self.relay is not None:
            self.relay_presence([tenant_id])

    def _announce(self, tenant_id: int, before: set[int], after: set[int]) -> None:
        if after - before and self.on_available is not None:
            self.on_available(tenant_id)
        for agent_id in sorted(before ^ after):
            data = {"agent_id": agent_id, "online": agent_id in after}
            self.push_ephemeral_to_agents(tenant_id, "presence", data, relay=False)
        away = self._away.get(tenant_id, set())
        if bool(before - away) != bool(after - away):
            frame = protocol.encode_event("presence", {"agents_online": bool(after - away)})
            for client in self._tenant_visitors.get(tenant_id, ()):
                client.push(frame)

    def relay_presence(self, tenant_ids: Iterable[int] | None = None) -> None:
        """Send this node's online agents (for some tenants, or all) to the
        other nodes. Repeated every :data:`PRESENCE_HEARTBEAT_S`; a node that
        stops sending is forgotten after :data:`PRESENCE_EXPIRY_S`."""
        if self.relay is None:
            return
        ids = self._online_agents.keys() if tenant_ids is None else tenant_ids
        tenants = {str(t): sorted(self._online_agents.get(t, ())) for t in ids}
        away = {str(t): sorted(self._away.get(t, set()) & self._online_agents.get(t, set())) for t in ids}
        self.relay({"op": "presence", "node": self.node_id, "tenants": tenants, "away": away})

    def _remote_presence(self, node: str, tenants: dict[int, Any]) -> None:
        if node == self.node_id:
            return
        before = {t: self.agents_online(t) for t in tenants}
        _, known = self._remote_online.get(node, (0.0, {}))
        known = {**known, **{t: frozenset(int(a) for a in ids) for t, ids in tenants.items()}}
        self._remote_online[node] = (time.monotonic() + PRESENCE_EXPIRY_S, known)
        for tenant_id, was in before.items():
            self._announce(tenant_id, was, self.agents_online(tenant_id))


class _SocketIndex:
    """key -> the sockets filed under it, for keys that usually have one socket (a visitor's tab).

    A single socket is stored as itself and only a second one makes a set: an idle visitor socket then costs the
    index one dict entry instead of a set of its own (about 220 bytes; docs/PERFORMANCE.md, "Idle memory").
    """

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[Any, Client | set[Client]] = {}

    def add(self, key: Any, client: Client) -> None:
        found = self._entries.get(key)
        if found is None:
            self._entries[key] = client
        elif isinstance(found, set):
            found.add(client)
        elif found is not client:
            self._entries[key] = {found, client}

    def discard(self, key: Any, client: Client) -> None:
        found = self._entries.get(key)
        if found is client:
            del self._entries[key]
        elif isinstance(found, set):
            found.discard(client)
            if len(found) == 1:
                self._entries[key] = next(iter(found))

    def get(self, key: Any, default: Iterable[Client] = ()) -> Iterable[Client]:
        """The sockets under ``key`` (a snapshot is the caller's to take), or ``default``."""
        found = self._entries.get(key)
        if found is None:
            return default
        return found if isinstance(found, set) else (found,)


def _discard(index: dict[Any, set[Client]], key: Any, client: Client) -> None:
    group = index.get(key)
    if group is not None:
        group.discard(client)
        if not group:
            del index[key]
