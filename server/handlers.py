"""Request handlers: one method per request type and endpoint.

A handler receives the parsed request and the client it came from, checks
that the client may do it, runs the store operation, and returns the reply's
typed result (:data:`protocol.RESULTS`). It raises :class:`ProtocolError`
(``NotFound`` and ``Conflict`` from the store are ones too), which the
connection loop turns into an ``error`` frame. Handlers never touch the socket directly: replies and pushes
go through the client's queue, so their order is kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from . import auth, domain, workflow
from . import protocol as p
from .domain import StatusAction, Viewer
from .exceptions import NotFound, RateLimited
from .hub import Client, ClientState, Hub
from .protocol import CloseCode, Endpoint, ErrorCode, ProtocolError
from .ratelimit import BucketMap
from .store import (
    Store,
    agents,
    agents_self,
    conversations,
    csat,
    edits,
    events,
    exports,
    messages,
    now_ms,
    tenants,
    visitors,
)
from .store import handoff as store_handoff
from .store import reports as store_reports
from .store import search as store_search
from .store import snooze as store_snooze
from .tenants import TenantCache
from .visitor_context import GeoLookup, validate_attributes

if TYPE_CHECKING:
    from .files import Uploads

__all__ = ["Handlers", "Limits"]

log = logging.getLogger("frontdesk.server.handlers")
JSON = dict[str, Any]
Handler = Callable[[Client, Any], Awaitable[p.Result | None]]

#: Events read from the store per round trip while replaying.
REPLAY_PAGE = 2000
#: How long a satisfaction survey takes a rating, or a changed one (a knob: ``Handlers.csat_window_ms``).
CSAT_WINDOW_MS = 24 * 3600 * 1000


@dataclasses.dataclass(frozen=True)
class Limits:
    """Rate limits (PROTOCOL.md, "Limits")."""

    per_connection: Any
    per_visitor: Any
    per_ip: Any
    new_visitor_per_ip: Any


class Handlers:
    """Every request handler, sharing the store, the hub and the tenants."""

    def __init__(self, store: Store, hub: Hub, tenants: TenantCache, limits: Limits) -> None:
        self.store = store
        self.hub = hub
        self.tenants = tenants
        self.limits = limits
        self.login_throttle = auth.LoginThrottle()
        #: Several nodes share the store (PostgreSQL): the per-visitor message
        #: budget is then also kept in the database. One SQLite server per file
        #: is enforced, so there the in-memory bucket is already the whole truth.
        self.shared_store = store.capabilities.shared
        self.visitor_messages = BucketMap(limits.per_visitor)
        self.new_visitors = BucketMap(limits.new_visitor_per_ip)
        #: Wall-clock milliseconds for time rules (the edit window); tests put a ManualClock's here.
        self.now_ms: Callable[[], int] = now_ms
        #: How long after a resolution its survey takes a rating, or a changed one (issue 16: 24 h).
        self.csat_window_ms = CSAT_WINDOW_MS
        #: Uploads on this node (server/files.py); the server sets it.
        self.uploads: Uploads | None = None
        #: Visitors' location from their address (server/visitor_context.py); the server sets ``--geoip``'s.
        self.geo = GeoLookup()
        self._visitor: dict[type[p.Request], Handler] = {
            p.Hello: self.hello,
            p.Identify: self.identify,
            p.ConversationStart: self.conversation_start,
            p.MessageSend: self.message_send,
            p.History: self.history,
            p.Typing: self.typing,
            p.Seen: self.seen,
            p.ProfileUpdate: self.profile_update,
            p.Page: self.page,
            p.AttributesSet: self.attributes_set,
            p.MessageEdit: self.message_change,
            p.MessageDelete: self.message_change,
            p.CsatSubmit: self.csat_submit,
            **self._file_handlers(),
            p.Ping: self.ping,
        }
        self._agent: dict[type[p.Request], Handler] = {
            p.Login: self.login,
            p.Auth: self.auth,
            p.Logout: self.logout,
            p.Subscribe: self.subscribe,
            p.Snapshot: self.snapshot,
            p.History: self.history,
            p.Reply: self.reply,
            p.Note: self.note,
            p.Resolve: self.status_change,
            p.Reopen: self.status_change,
            p.Pend: self.status_change,
            p.Assign: self.assign,
            p.Unassign: self.assign,
            p.Snooze: self.snooze,
            p.Transfer: self.transfer,
            p.Typing: self.typing,
            p.Viewing: self.viewing,
            p.Seen: self.seen,
            p.Agents: self.agents,
            p.AgentAdd: self.agent_add,
            p.AgentUpdate: self.agent_update,
            p.ConfigGet: self.config_get,
            p.ConfigSet: self.config_set,
            p.VisitorGet: self.visitor_get,
            p.VisitorFind: self.visitor_find,
            p.CsatList: self.csat_list,
            p.ExportRecords: self.export_records,
            p.ReportGet: self.report_get,
            p.ExportRecord: self.export_record,
            p.Search: self.search,
            p.IdentitySecretGet: self.identity_secret,
            p.IdentitySecretRotate: self.identity_secret,
            p.IdentitySecretEndRotation: self.identity_secret,
            p.MessageEdit: self.message_change,
            p.MessageDelete: self.message_change,
            p.MessageOriginals: self.message_originals,
            p.AvailabilitySet: self.availability_set,
            p.MeUpdate: self.me_update,
            **self._file_handlers(),
            **workflow.agent_handlers(self),  # teams, labels, canned responses (server/workflow.py)
            p.Ping: self.ping,
        }
        self._openers = {Endpoint.VISITOR: (p.Hello,), Endpoint.AGENT: (p.Login, p.Auth)}

    def _file_handlers(self) -> dict[type[p.Request], Handler]:
        """The ``file.*`` requests (PROTOCOL.md, "Attachments"), the same on both endpoints."""
        return {
            p.FileBegin: self.file_request,
            p.FileFinish: self.file_request,
            p.FileCancel: self.file_request,
            p.FileLinks: self.file_request,
        }

    async def file_request(
        self, client: Client, req: p.FileBegin | p.FileFinish | p.FileCancel | p.FileLinks
    ) -> p.Result:
        if self.uploads is None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, "this server does not take files", req.ref)
        if isinstance(req, p.FileBegin):
            return await self.uploads.begin(client, req)
        if isinstance(req, p.FileFinish):
            return await self.uploads.finish(client, req)
        if isinstance(req, p.FileCancel):
            return await self.uploads.cancel(client, req)
        return await self.uploads.links(client, req)

    async def dispatch(self, client: Client, request: p.Request) -> p.Result | None:
        """Run the handler for ``request``; the reply's result, or None when the
        handler has already queued its own reply (``logout``). A
        :class:`protocol.Resume` result with ``replay_from`` set asks the caller
        to :meth:`stream_replay` once the reply is queued."""
        if not client.authenticated and not isinstance(request, self._openers[client.endpoint]):
            first = " or ".join(t.TYPE for t in self._openers[client.endpoint])
            raise ProtocolError(ErrorCode.UNAUTHORIZED, f"send {first} first", request.ref)
        table = self._visitor if client.endpoint is Endpoint.VISITOR else self._agent
        try:
            return await table[type(request)](client, request)
        except NotFound:
            if client.visitor_id is not None and client.state is not ClientState.NEW and await self._erased(client):
                # A request racing `frontdesk visitor erase` (PROTOCOL.md, "Erasure").
                raise ProtocolError(
                    ErrorCode.UNAUTHORIZED, "this visitor was erased; start a new session", request.ref
                ) from None
            raise

    async def _erased(self, client: Client) -> bool:
        """Whether the visitor of ``client`` no longer exists."""
        assert client.visitor_id is not None
        return await self.store.read(visitors.get_visitor, client.tenant_id, client.visitor_id) is None

    # -- shared -------------------------------------------------------------------------

    async def ping(self, client: Client, req: p.Ping) -> p.PingResult:
        return p.PingResult(server_time=now_ms())

    async def typing(self, client: Client, req: p.Typing) -> p.Result:
        conv = await self._conversation_for(client, req.conversation_id)
        if client.visitor_id is not None:
            typing = p.VisitorTyping(conversation_id=conv.id, is_typing=req.is_typing, visitor_id=client.visitor_id)
            self.hub.push_ephemeral_to_agents(client.tenant_id, "typing", p.to_wire(typing))
        else:
            assert client.agent_id is not None
            to_visitor = p.AgentTypingToVisitor(
                conversation_id=conv.id, is_typing=req.is_typing, name=client.agent_name
            )
            to_agents = p.AgentTyping(
                conversation_id=conv.id, is_typing=req.is_typing, name=client.agent_name, agent_id=client.agent_id
            )
            self.hub.push_ephemeral_to_visitor(conv.visitor_id, "typing", p.to_wire(to_visitor))
            self.hub.push_ephemeral_to_agents(client.tenant_id, "typing", p.to_wire(to_agents), skip=client)
        return p.Result()

    async def seen(self, client: Client, req: p.Seen) -> p.Result:
        side = "visitor" if client.visitor_id is not None else "agent"
        conv = await self._conversation_for(client, req.conversation_id)
        if req.seq > conv.last_seq:
            # PROTOCOL.md, "seen": a client cannot have read what does not exist yet.
            raise ProtocolError(
                ErrorCode.INVALID,
                f"field 'seq' is beyond the conversation's last_seq ({conv.last_seq})",
                req.ref,
                field="seq",
            )
        await self.store.write(
            conversations.mark_seen,
            client.tenant_id,
            side=side,
            visitor_id=client.visitor_id,
            conversation_id=conv.id,
            seq=req.seq,
            actor_id=client.agent_id,
        )
        seen = p.SeenUpTo(conversation_id=conv.id, seq=req.seq, side=side)
        if side == "visitor":
            self.hub.push_ephemeral_to_agents(client.tenant_id, "seen", p.to_wire(seen))
        else:
            assert client.agent_id is not None
            self.hub.push_ephemeral_to_visitor(conv.visitor_id, "seen", p.to_wire(seen))
            agent_seen = p.AgentSeen(conversation_id=conv.id, seq=req.seq, side=side, agent_id=client.agent_id)
            self.hub.push_ephemeral_to_agents(client.tenant_id, "seen", p.to_wire(agent_seen), skip=client)
        return p.Result()

    async def history(self, client: Client, req: p.History) -> p.HistoryResult:
        return await self.store.read(
            messages.history,
            client.tenant_id,
            req.conversation_id,
            visitor_id=client.visitor_id,
            before_seq=req.before_seq,
            limit=req.limit,
            include_notes=client.visitor_id is None,
        )

    async def _conversation_for(self, client: Client, conversation_id: int) -> p.Conversation:
        """The conversation if ``client`` may act on it, else NotFound."""
        return await self.store.read(
            conversations.get_conversation, client.tenant_id, conversation_id, client.visitor_id
        )

    def _replay(self, client: Client, since: int | None, epoch: str | None, last: int, floor: int) -> JSON:
        """Register-then-replay (PROTOCOL.md, "Resuming"). The client must
        already be held and registered, and ``last``/``floor`` read after that
        (:func:`events.cursor_state`). Returns the :class:`protocol.Resume`
        fields; when a replay must follow, ``replay_from`` is its cursor, else
        the client is released to live delivery here.

        A ``since`` without ``epoch`` (or from another database), in the future
        or older than the pruned floor gets ``reset_required``."""
        assert client.viewer is not None
        cursor: JSON = {"epoch": self.store.epoch, "last_event_id": last, "reset_required": False}
        if since is None or epoch != self.store.epoch or since > last or since < floor:
            # Nothing to replay: live events (including any that arrived while
            # the cursor was read) flow at once; clients dedupe by event_id.
            cursor["reset_required"] = since is not None
            client.release(0)
            return cursor
        cursor["replay_from"] = since
        return cursor

    async def stream_replay(
        self, client: Client, since: int, first: tuple[list[str], int, bool] | None = None
    ) -> None:
        """Queue every event after ``since`` that the client may see, then
        release the client to live delivery. Call after the hello/subscribe
        reply is queued, when that reply carried a replay cursor; ``first`` is
        the replay's first page if it was read already (``Resume.replay_first``)."""
        assert client.viewer is not None
        upto = since
        while True:
            # The stored JSON goes out as it is: no decode and re-encode per replayed event.
            if first is not None:
                (frames, last_read, more), first = first, None
            else:
                frames, last_read, more = await self.store.read(
                    events.replay_frames, client.viewer, upto, REPLAY_PAGE
                )
            await client.push_paced(frames)
            upto = last_read
            if not more:
                break
        client.release(upto)

    # -- visitor ------------------------------------------------------------------------

    async def hello(self, client: Client, req: p.Hello) -> p.HelloResult:
        if client.state is not ClientState.NEW:
            raise ProtocolError(ErrorCode.INVALID, "hello was already sent on this connection", req.ref)
        tenant = self.tenants.by_id(client.tenant_id)
        meta = {**_visitor_meta(req.meta), **self._location(client, tenant.config)}
        visitor = None
        token = req.token
        if token:
            visitor = await self.store.write(visitors.resume_visitor, client.tenant_id, auth.token_hash(token), meta)
        if visitor is None:
            if not self.new_visitors.take(client.ip):
                raise ProtocolError(ErrorCode.RATE_LIMITED, "too many new visitors from this address", req.ref)
            token = auth.new_token()
            visitor = await self.store.write(visitors.create_visitor, client.tenant_id, auth.token_hash(token), meta)
        assert token is not None
        if req.identity:
            visitor = await self._identify(client, req.identity, req.ref, visitor_id=visitor.id) or visitor
        # The verified identity's other visitors are known before the socket is
        # registered, so none of their live events can slip past it.
        viewer = await self._viewer_of(client, visitor)
        client.start_visitor(visitor.id, auth.token_hash(token), viewer)
        self.hub.attach_visitor(client)
        # The replay's first page is read with the cursor state: one read for the whole hello.
        since = req.since if req.epoch == self.store.epoch else None
        state = await self.store.read(
            visitors.hello_state, client.tenant_id, visitor.id, client.viewer, since, REPLAY_PAGE
        )
        cursor = self._replay(client, req.since, req.epoch, state.last_event_id, state.floor)
        if cursor.get("replay_from") is not None:
            cursor["replay_first"] = state.replay
        return p.HelloResult(
            token=token,
            visitor=visitor,
            config=p.PublicConfig.of(tenant.config),
            conversations=state.conversations,
            agents_online=self.hub.any_agent_online(client.tenant_id),
            within_hours=domain.within_business_hours(tenant.config, dt.datetime.now(dt.UTC)),
            csat=state.survey if state.survey is not None and state.survey.expires_at > self.now_ms() else None,
            **cursor,
        )

    def _location(self, client: Client, config: dict[str, Any]) -> dict[str, Any]:
        """The visitor columns of the socket's address (PROTOCOL.md, "Location"): the
        address (the one ``--trust-proxy`` trusts) is looked up, and kept only while the
        tenant's ``store_ip`` is on; off, a stored one is cleared."""
        where = self.geo.lookup(client.ip)
        return {
            "ip": client.ip[:45] if config.get("store_ip", True) and client.ip != "?" else None,
            "country": where.country,
            "region": where.region,
            "city": where.city,
        }

    async def attributes_set(self, client: Client, req: p.AttributesSet) -> p.VisitorResult:
        """Custom attributes from the page: never verified (PROTOCOL.md, "Custom attributes")."""
        self._visitor_write(client, req.ref)
        if req.verified is not None:
            raise ProtocolError(
                ErrorCode.FORBIDDEN,
                "attributes from the page are never verified: pass them through identify with a valid user_hash",
                req.ref,
                field="verified",
            )
        assert client.visitor_id is not None
        visitor = await self._set_attributes(client, client.visitor_id, req.attributes, False, req.ref)
        return p.VisitorResult(visitor=visitor)

    async def _set_attributes(
        self, client: Client, visitor_id: int, raw: Any, verified: bool, ref: str | None
    ) -> p.Visitor:
        try:
            update = validate_attributes(raw, verified=verified)
            return await self.store.write(visitors.set_attributes, client.tenant_id, visitor_id, update)
        except ProtocolError as exc:
            exc.ref = exc.ref or ref
            raise

    async def _viewer_of(self, client: Client, visitor: p.Visitor) -> Viewer:
        """The viewer of a visitor socket: with a verified identity, it also
        sees the visitors verified as the same user (``domain.may_see``)."""
        if not visitor.verified or visitor.user_id is None:
            return Viewer(tenant_id=client.tenant_id, visitor_id=visitor.id)
        scope = await self.store.read(visitors.visitor_scope, client.tenant_id, visitor.id)
        return Viewer(
            tenant_id=client.tenant_id,
            visitor_id=visitor.id,
            linked_visitors=frozenset(scope) - {visitor.id},
            verified_user=visitor.user_id,
        )

    async def _identify(
        self, client: Client, identity: dict[str, Any], ref: str | None, *, visitor_id: int | None = None
    ) -> p.Visitor | None:
        """Check and store an identity claim (PROTOCOL.md, "Identity").

        A claim with a ``user_hash`` or a ``ts`` must verify (against the
        current secret or, during a rotation, the previous one): if it does
        not, nothing of it is stored and the answer is ``forbidden`` with the
        reason, whatever ``require_identity`` says. A ``user_id`` without
        either is stored unverified, unless the tenant requires identity.
        """
        fields: dict[str, Any] = {}
        for key, limit in (("name", 200), ("email", 254)):
            value = identity.get(key)
            if isinstance(value, str) and value.strip():
                fields[key] = value.strip()[:limit]
        user_id = identity.get("user_id")
        verified = False
        if user_id is not None:
            if not isinstance(user_id, str) or not 0 < len(user_id) <= 256:
                raise ProtocolError(ErrorCode.INVALID, "identity.user_id must be a string of 1 to 256 characters", ref)
            tenant = self.tenants.by_id(client.tenant_id)
            ts = identity.get("ts")
            user_hash = identity.get("user_hash")
            if ts is not None or user_hash is not None:
                if not isinstance(ts, int) or isinstance(ts, bool) or not isinstance(user_hash, str):
                    raise ProtocolError(ErrorCode.FORBIDDEN, "identity verification needs both ts and user_hash", ref)
                secrets = await self.store.read(tenants.identity_secrets, client.tenant_id)
                failure = domain.identity_failure(secrets, user_id, ts, user_hash, time.time())
                if failure is not None:
                    raise ProtocolError(ErrorCode.FORBIDDEN, failure, ref)
                verified = True
            elif tenant.config.get("require_identity"):
                raise ProtocolError(
                    ErrorCode.FORBIDDEN, "this site requires a verified identity (user_id, ts and user_hash)", ref
                )
        attributes = identity.get("attributes")
        if not fields and user_id is None and attributes is None:
            return None
        visitor_id = visitor_id or client.visitor_id
        assert visitor_id is not None
        visitor = None
        if fields or user_id is not None:
            visitor = await self.store.write(
                visitors.identify_visitor, client.tenant_id, visitor_id, user_id, verified, fields
            )
        if attributes is not None:
            # Trusted only with a verified identity (PROTOCOL.md, "Custom attributes").
            visitor = await self._set_attributes(client, visitor_id, attributes, verified, ref)
        return visitor

    async def identify(self, client: Client, req: p.Identify) -> p.VisitorResult:
        self._visitor_write(client, req.ref)
        identity = {
            "user_id": req.user_id,
            "user_hash": req.user_hash,
            "ts": req.ts,
            "name": req.name,
            "email": req.email,
            "attributes": req.attributes,
        }
        visitor = await self._identify(client, identity, req.ref)
        assert visitor is not None
        viewer = await self._viewer_of(client, visitor)
        if viewer != client.viewer:
            self.hub.set_visitor_viewer(client, viewer)
        scope = sorted(viewer.visitor_scope)
        return p.IdentifyResult(
            visitor=visitor,
            conversations=await self.store.read(conversations.scope_conversations, client.tenant_id, scope),
        )

    async def _require_identity(self, client: Client, ref: str | None) -> None:
        tenant = self.tenants.by_id(client.tenant_id)
        if tenant.config.get("require_identity"):
            assert client.visitor_id is not None
            visitor = await self.store.read(visitors.get_visitor, client.tenant_id, client.visitor_id)
            if visitor is None:
                raise NotFound("no such visitor")  # erased meanwhile: dispatch answers unauthorized
            if not visitor.verified:
                raise ProtocolError(
                    ErrorCode.FORBIDDEN, "this site requires identity verification before chatting", ref
                )

    async def conversation_start(self, client: Client, req: p.ConversationStart) -> p.ConversationResult:
        await self._require_identity(client, req.ref)
        assert client.visitor_id is not None
        started = await self.store.write(conversations.start_conversation, client.tenant_id, client.visitor_id)
        return p.ConversationResult(conversation=started.conversation)

    async def message_send(self, client: Client, req: p.MessageSend) -> p.MessageAck:
        assert client.visitor_id is not None
        if not self.visitor_messages.take(client.visitor_id):
            raise ProtocolError(ErrorCode.RATE_LIMITED, "you are sending messages too fast", req.ref)
        await self._require_identity(client, req.ref)
        rate = self.limits.per_visitor
        try:
            # The node's bucket above turns a flood away cheaply; this one, in
            # the database, holds the budget across every node.
            return await self.store.write(
                messages.post_message,
                client.tenant_id,
                author_kind="visitor",
                author_id=client.visitor_id,
                conversation_id=req.conversation_id,
                client_id=req.client_id,
                body=req.body,
                budget=(rate.per_second, rate.burst) if self.shared_store else None,
                attachment_ids=req.attachment_ids or (),
            )
        except RateLimited:
            raise ProtocolError(ErrorCode.RATE_LIMITED, "you are sending messages too fast", req.ref) from None

    def _visitor_write(self, client: Client, ref: str | None) -> None:
        """Take from the visitor's write budget (all its sockets): profile and
        page updates are stored events pushed to every agent, like messages."""
        assert client.visitor_id is not None
        if not self.visitor_messages.take(client.visitor_id):
            raise ProtocolError(ErrorCode.RATE_LIMITED, "you are sending updates too fast", ref)

    async def profile_update(self, client: Client, req: p.ProfileUpdate) -> p.VisitorResult:
        self._visitor_write(client, req.ref)
        fields = {k: v.strip() for k, v in (("name", req.name), ("email", req.email)) if v is not None}
        if "email" in fields and fields["email"] and ("@" not in fields["email"] or " " in fields["email"]):
            raise ProtocolError(ErrorCode.INVALID, "field 'email' is not an email address", req.ref)
        assert client.visitor_id is not None
        visitor = await self.store.write(visitors.update_visitor, client.tenant_id, client.visitor_id, fields)
        return p.VisitorResult(visitor=visitor)

    async def page(self, client: Client, req: p.Page) -> p.Result:
        self._visitor_write(client, req.ref)
        fields = {"page_url": req.url, "page_title": req.title, "referrer": req.referrer}
        assert client.visitor_id is not None
        await self.store.write(
            visitors.update_visitor,
            client.tenant_id,
            client.visitor_id,
            {k: v for k, v in fields.items() if v is not None},
        )
        return p.Result()

    # -- agent: session -----------------------------------------------------------------

    def _open_agent(self, client: Client, agent: p.AgentProfile, token: str) -> None:
        self.hub.set_away(agent.tenant_id, agent.id, agent.away)
        client.authenticate(
            agent_id=agent.id,
            tenant_id=agent.tenant_id,
            name=agent.name,
            role=agent.role,
            token_hash=auth.token_hash(token),
        )
        self.hub.attach_agent(client)

    async def _session_reply(self, agent: p.AgentProfile) -> JSON:
        """The :class:`protocol.SessionResult` fields; the agent is online (this socket)."""
        tenant = await self.tenants.get(agent.tenant_id)
        last = await self.store.read(events.last_event_id)
        return {
            "agent": agents.with_presence(agent, True),
            "tenant": tenant.public(),
            "epoch": self.store.epoch,
            "last_event_id": last,
        }

    async def login(self, client: Client, req: p.Login) -> p.LoginResult:
        if client.state is not ClientState.NEW:
            raise ProtocolError(ErrorCode.INVALID, "this connection is already logged in", req.ref)
        throttle = self.login_throttle
        wait = throttle.retry_after(None, client.ip)
        if wait > 0:
            raise ProtocolError(
                ErrorCode.RATE_LIMITED, f"too many failed logins; try again in {int(wait) + 1} seconds", req.ref
            )
        # Count the attempt before the slow hash, so a burst of parallel logins
        # cannot overrun the limit; a success takes it back. The per-account
        # count lives in the database, so it is exact across nodes; the
        # per-address one is this node's.
        account = req.email.strip().lower()
        try:
            await self.store.write(agents.login_attempt, account, throttle.per_account, int(throttle.window_s * 1000))
        except RateLimited as exc:
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"too many failed logins; try again in {int(exc.retry_after) + 1} seconds",
                req.ref,
            ) from None
        stamp = time.monotonic()
        throttle.failed(None, client.ip, stamp)
        candidates = await self.store.read(agents.accounts_by_email, account, req.tenant)
        if len(candidates) > 1:
            raise ProtocolError(ErrorCode.INVALID, "this email is an agent in several tenants; pass 'tenant'", req.ref)
        found = candidates[0] if candidates else None
        ok = await asyncio.to_thread(auth.verify_password, found.password_hash if found else None, req.password)
        if not ok or found is None:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "wrong email or password", req.ref)
        agent = found.profile
        if not agent.active:
            raise ProtocolError(ErrorCode.FORBIDDEN, "this agent account is disabled", req.ref)
        throttle.succeeded(req.email, client.ip, stamp)
        token = auth.new_token()
        await self.store.write(agents.start_session, auth.token_hash(token), agent.id, account)
        self._open_agent(client, agent, token)
        log.info("agent %s logged in from %s", agent.id, client.ip)
        return p.LoginResult(token=token, **await self._session_reply(agent))

    async def auth(self, client: Client, req: p.Auth) -> p.SessionResult:
        if client.state is not ClientState.NEW:
            raise ProtocolError(ErrorCode.INVALID, "this connection is already authenticated", req.ref)
        # Per address only: a shared "token" account would let anyone lock every
        # console out of resuming with five junk tokens.
        wait = self.login_throttle.retry_after(None, client.ip)
        if wait > 0:
            raise ProtocolError(ErrorCode.RATE_LIMITED, f"too many bad tokens; try again in {int(wait) + 1} s", req.ref)
        found = await self.store.read(agents.account_by_token, auth.token_hash(req.token))
        if found is None or not found.profile.active:
            self.login_throttle.failed(None, client.ip)
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "invalid or revoked token; log in again", req.ref)
        self._open_agent(client, found.profile, req.token)
        return p.SessionResult(**await self._session_reply(found.profile))

    async def logout(self, client: Client, req: p.Logout) -> None:
        assert client.token_hash is not None
        await self.store.write(agents.end_session, client.token_hash)
        self.hub.revoke_token(client.token_hash, keep=client)
        client.push(p.encode_reply(req.ref, p.Result()))
        client.close(CloseCode.NORMAL, "logged out")

    async def subscribe(self, client: Client, req: p.Subscribe) -> p.SubscribeResult:
        if client.state is not ClientState.AUTHENTICATED:
            raise ProtocolError(ErrorCode.INVALID, "already subscribed on this connection", req.ref)
        self.hub.subscribe_agent(client)
        last, floor = await self.store.read(events.cursor_state)
        return p.SubscribeResult(**self._replay(client, req.since, req.epoch, last, floor))

    async def snapshot(self, client: Client, req: p.Snapshot) -> p.SnapshotResult:
        try:
            return await self.store.read(
                conversations.snapshot,
                client.tenant_id,
                epoch=self.store.epoch,
                filter=req.filter,
                me=client.agent_id,
                query=req.query,
                visitor_id=req.visitor_id,
                cursor=req.cursor,
                limit=req.limit,
                team_id=req.team_id,
                label_id=req.label_id,
            )
        except NotFound as exc:
            raise ProtocolError(ErrorCode.INVALID, str(exc), req.ref, field="cursor") from None

    # -- agent: writes ------------------------------------------------------------------

    async def reply(self, client: Client, req: p.Reply) -> p.MessageAck:
        assert client.agent_id is not None
        return await self.store.write(
            messages.post_message,
            client.tenant_id,
            author_kind="agent",
            author_id=client.agent_id,
            conversation_id=req.conversation_id,
            client_id=req.client_id,
            body=req.body,
            attachment_ids=req.attachment_ids or (),
            assignee_only=bool(self.tenants.by_id(client.tenant_id).config.get("reply_assignee_only")),
        )

    async def viewing(self, client: Client, req: p.Viewing) -> p.ViewingResult:
        """Collision awareness: this socket has the conversation open (or none);
        the reply names the other agents who have it open."""
        assert client.agent_id is not None
        if req.conversation_id is not None:
            await self._conversation_for(client, req.conversation_id)
        self.hub.set_viewing(client, req.conversation_id)
        if req.conversation_id is None:
            return p.ViewingResult(viewers=[])
        others = self.hub.viewers(client.tenant_id, req.conversation_id)
        return p.ViewingResult(
            viewers=[
                p.ConversationViewer(agent_id=agent_id, name=name)
                for agent_id, name in sorted(others.items())
                if agent_id != client.agent_id
            ]
        )

    async def note(self, client: Client, req: p.Note) -> p.NoteAck:
        assert client.agent_id is not None
        return await self.store.write(
            messages.post_note,
            client.tenant_id,
            agent_id=client.agent_id,
            conversation_id=req.conversation_id,
            client_id=req.client_id,
            body=req.body,
            attachment_ids=req.attachment_ids or (),
        )

    async def status_change(self, client: Client, req: p.Resolve | p.Reopen | p.Pend) -> p.ConversationChange:
        assert client.agent_id is not None
        return await self.store.write(
            conversations.change_status,
            client.tenant_id,
            agent_id=client.agent_id,
            conversation_id=req.conversation_id,
            action=StatusAction(req.TYPE),
            client_id=req.client_id,
            survey=self._survey_ask(client, req),
        )

    def _survey_ask(self, client: Client, req: p.Request) -> csat.SurveyAsk | None:
        """What a resolve asks of the visitor: a survey on the tenant's scale, unless the tenant's ``csat``
        is off or the agent resolved with ``survey: false`` (PROTOCOL.md, "Satisfaction surveys")."""
        scale = str(self.tenants.by_id(client.tenant_id).config.get("csat", "five"))
        if not isinstance(req, p.Resolve) or not req.survey or scale not in csat.RATINGS:
            return None
        return csat.SurveyAsk(scale, self.now_ms(), self.csat_window_ms)

    async def csat_submit(self, client: Client, req: p.CsatSubmit) -> p.CsatResult:
        """The visitor rates the latest survey of their conversation, or changes the rating."""
        assert client.visitor_id is not None
        self._visitor_write(client, req.ref)
        survey = await self.store.write(
            csat.submit,
            client.tenant_id,
            visitor_id=client.visitor_id,
            conversation_id=req.conversation_id,
            rating=req.rating,
            comment=req.comment,
            now=self.now_ms(),
        )
        return p.CsatResult(csat=survey)

    async def csat_list(self, client: Client, req: p.CsatList) -> p.CsatListResult:
        if (req.conversation_id is None) == (req.visitor_id is None):
            raise ProtocolError(ErrorCode.INVALID, "give conversation_id or visitor_id", req.ref)
        found = await self.store.read(
            csat.surveys, client.tenant_id, conversation_id=req.conversation_id, visitor_id=req.visitor_id
        )
        return p.CsatListResult(surveys=found)

    async def export_records(self, client: Client, req: p.ExportRecords) -> p.ExportRecordsResult:
        """Admin only: who exported what, when (PROTOCOL.md, "Exports")."""
        self._require_admin(client, req)
        found = await self.store.read(exports.list_records, client.tenant_id, before=req.before, limit=req.limit)
        return p.ExportRecordsResult(records=found)

    async def report_get(self, client: Client, req: p.ReportGet) -> p.ReportResult:
        """``report.get`` (PROTOCOL.md, "Reports"; docs/REPORTS.md): an admin may ask for anyone's figures,
        any other agent only for their own (``agent_id`` their id), else ``forbidden``."""
        if client.role != "admin" and req.agent_id != client.agent_id:
            raise ProtocolError(
                ErrorCode.FORBIDDEN,
                "agents see their own figures only: ask with your agent_id",
                req.ref,
                field="agent_id",
            )
        query = store_reports.ReportQuery.parse(req)
        # The facts trail the commits by a moment (server/report_projection.py): bring them up to date first,
        # so the report holds every event committed before it was asked for.
        await self.store.write(store_reports.project_all, client.tenant_id)
        return await self.store.read(store_reports.report, client.tenant_id, query, now=self.now_ms())

    async def export_record(self, client: Client, req: p.ExportRecord) -> p.ExportRecordsResult:
        """Admin only: record an export the console made itself (PDF; files from its cache)."""
        self._require_admin(client, req)
        assert client.agent_id is not None
        entry = await self.store.write(
            exports.record_export,
            client.tenant_id,
            agent_id=client.agent_id,
            kind=req.what,
            format=req.format,
            flt=exports.ExportFilter(conversation_id=req.conversation_id, query=req.filter),
            rows=req.rows,
            now=self.now_ms(),
        )
        return p.ExportRecordsResult(records=[entry])

    async def assign(self, client: Client, req: p.Assign | p.Unassign) -> p.ConversationChange:
        assert client.agent_id is not None
        return await self.store.write(
            conversations.assign,
            client.tenant_id,
            agent_id=client.agent_id,
            conversation_id=req.conversation_id,
            assignee_id=req.agent_id if isinstance(req, p.Assign) else None,
            client_id=req.client_id,
            now=self.now_ms(),
        )

    async def snooze(self, client: Client, req: p.Snooze) -> p.ConversationChange:
        """Snooze until a time or the visitor's reply (PROTOCOL.md, "Snooze"); a time not in the future is
        ``invalid`` naming ``until``, and nothing changes."""
        assert client.agent_id is not None
        now = self.now_ms()
        if req.until is not None and req.until <= now:
            raise ProtocolError(
                ErrorCode.INVALID, "field 'until' is not in the future; a snooze must end later", req.ref, field="until"
            )
        return await self.store.write(
            store_snooze.snooze,
            client.tenant_id,
            agent_id=client.agent_id,
            conversation_id=req.conversation_id,
            until=req.until,
            now=now,
            client_id=req.client_id,
        )

    async def transfer(self, client: Client, req: p.Transfer) -> p.ConversationChange:
        """Hand the conversation to an agent and/or a team, with a note (PROTOCOL.md, "Transfer")."""
        assert client.agent_id is not None
        if req.agent_id is None and req.team_id is None:
            raise ProtocolError(ErrorCode.INVALID, "a transfer needs agent_id or team_id", req.ref, field="agent_id")
        return await self.store.write(
            store_handoff.transfer,
            client.tenant_id,
            agent_id=client.agent_id,
            conversation_id=req.conversation_id,
            to_agent_id=req.agent_id,
            to_team_id=req.team_id,
            note=req.note,
            client_id=req.client_id,
            now=self.now_ms(),
        )

    async def message_change(self, client: Client, req: p.MessageEdit | p.MessageDelete) -> p.MessageChange:
        """Edit or delete one's own message (PROTOCOL.md, "Editing and deleting")."""
        if client.agent_id is None:
            raise ProtocolError(ErrorCode.FORBIDDEN, "visitors cannot edit or delete messages", req.ref)
        window = int(self.tenants.by_id(client.tenant_id).config.get("edit_window_minutes", 10))
        return await self.store.write(
            edits.change_message,
            client.tenant_id,
            agent_id=client.agent_id,
            conversation_id=req.conversation_id,
            seq=req.seq,
            body=req.body if isinstance(req, p.MessageEdit) else None,
            now=self.now_ms(),
            window_ms=window * 60_000,
            client_id=req.client_id,
        )

    async def message_originals(self, client: Client, req: p.MessageOriginals) -> p.MessageOriginalsResult:
        self._require_admin(client, req)
        return await self.store.read(edits.originals, client.tenant_id, req.conversation_id, req.seq)

    # -- agent: oneself -------------------------------------------------------------------

    async def availability_set(self, client: Client, req: p.AvailabilitySet) -> p.AgentResult:
        """Away or back Online; visitors follow through ``on_committed``."""
        assert client.agent_id is not None
        agent = await self.store.write(agents_self.set_away, client.tenant_id, client.agent_id, req.away)
        self.hub.set_away(client.tenant_id, client.agent_id, agent.away)  # at once here; other nodes on commit
        return p.AgentResult(agent=agents.with_presence(agent, True))

    async def me_update(self, client: Client, req: p.MeUpdate) -> p.AgentResult:
        """One's own name and/or password; a new password needs the current
        one (``forbidden`` when it is wrong) and closes one's other sessions."""
        assert client.agent_id is not None and client.token_hash is not None
        name = req.name.strip() if req.name is not None else None
        password_hash = None
        if req.password is not None:
            if req.current_password is None:
                raise ProtocolError(
                    ErrorCode.INVALID, "a new password needs current_password", req.ref, field="current_password"
                )
            stored = await self.store.read(agents_self.password_hash_of, client.tenant_id, client.agent_id)
            ok = await asyncio.to_thread(auth.verify_password, stored, req.current_password)
            if not ok:
                raise ProtocolError(
                    ErrorCode.FORBIDDEN, "the current password is wrong", req.ref, field="current_password"
                )
            password_hash = await asyncio.to_thread(auth.hash_password, req.password)
        agent, revoked = await self.store.write(
            agents_self.update_self,
            client.tenant_id,
            client.agent_id,
            name=name,
            password_hash=password_hash,
            keep_token_hash=client.token_hash,
        )
        for token_hash in revoked:
            self.hub.revoke_token(token_hash)
        return p.AgentResult(agent=agents.with_presence(agent, True))

    # -- agent: tenant --------------------------------------------------------------------

    async def agents(self, client: Client, req: p.Agents) -> p.AgentsResult:
        profiles = await self.store.read(agents.list_agents, client.tenant_id)
        online = self.hub.agents_online(client.tenant_id)
        return p.AgentsResult(agents=[agents.with_presence(a, a.id in online) for a in profiles])

    def _require_admin(self, client: Client, req: p.Request) -> None:
        if client.role != "admin":
            raise ProtocolError(ErrorCode.FORBIDDEN, f"admins only: {req.TYPE}", req.ref)

    def add_visitor_handlers(self, table: dict[type[p.Request], Handler]) -> None:
        """Answer more visitor requests, from a feature's own module (server/csat_mail.py)."""
        self._visitor.update(table)

    def add_agent_handlers(self, table: dict[type[p.Request], Handler]) -> None:
        """Answer more agent requests: a feature that lives in its own module (server/webhooks.py)
        registers its handlers here."""
        self._agent.update(table)

    async def agent_add(self, client: Client, req: p.AgentAdd) -> p.AgentAddResult:
        self._require_admin(client, req)
        email = req.email.strip().lower()
        if "@" not in email:
            raise ProtocolError(ErrorCode.INVALID, "field 'email' is not an email address", req.ref)
        password = req.password or auth.generate_password()
        password_hash = await asyncio.to_thread(auth.hash_password, password)
        agent = await self.store.write(
            agents.create_agent, client.tenant_id, email, req.name.strip(), req.role, password_hash
        )
        return p.AgentAddResult(agent=agents.with_presence(agent, False), password=password)

    async def agent_update(self, client: Client, req: p.AgentUpdate) -> p.AgentResult:
        self._require_admin(client, req)
        changes: dict[str, Any] = {"name": req.name, "role": req.role, "active": req.active}
        if req.password is not None:
            changes["password_hash"] = await asyncio.to_thread(auth.hash_password, req.password)

        # Sockets of a disabled, demoted or re-passworded agent follow the
        # agent.updated event (FrontdeskServer._agent_changed), on every node.
        # The last active admin cannot be disabled or demoted: agents.update_agent
        # checks it inside this write (Conflict).
        agent = await self.store.write(agents.update_agent, client.tenant_id, req.agent_id, changes)
        return p.AgentResult(agent=agents.with_presence(agent, agent.id in self.hub.agents_online(client.tenant_id)))

    async def config_get(self, client: Client, req: p.ConfigGet) -> p.ConfigResult:
        return p.ConfigResult(config=p.WidgetConfig.of(self.tenants.by_id(client.tenant_id).config))

    async def config_set(self, client: Client, req: p.ConfigSet) -> p.ConfigResult:
        self._require_admin(client, req)
        try:
            patch = domain.validate_config_patch(req.config)
        except domain.ConfigError as exc:
            # Every bad value, over-long ones included, is `invalid` naming the
            # key (PROTOCOL.md, "Widget configuration").
            raise ProtocolError(
                ErrorCode.INVALID, f"config.{exc.key}: {exc.message}", req.ref, field=f"config.{exc.key}"
            ) from None
        assert client.agent_id is not None
        config = await self.store.write(tenants.set_config, client.tenant_id, patch, client.agent_id)
        return p.ConfigResult(config=config)

    async def identity_secret(
        self, client: Client, req: p.IdentitySecretGet | p.IdentitySecretRotate | p.IdentitySecretEndRotation
    ) -> p.IdentitySecretResult:
        """Admin only: show, rotate, or end the rotation of the identity secret."""
        self._require_admin(client, req)
        if isinstance(req, p.IdentitySecretGet):
            state = await self.store.read(tenants.identity_secret_state, client.tenant_id)
        else:
            new = auth.new_secret() if isinstance(req, p.IdentitySecretRotate) else None
            state = await self.store.write(tenants.rotate_identity_secret, client.tenant_id, new)
            log.info("agent %s %s the identity secret", client.agent_id, "rotated" if new else "ended rotation of")
        return p.IdentitySecretResult(identity_secret=state)

    # -- committed events that change open visitor sockets ----------------------------

    def on_committed(self, events: list[domain.EventRecord]) -> None:
        """Keep this node's visitor sockets in step with changes committed on
        any node: an erased visitor's sockets close with 4001 "erased"; a
        visitor newly verified as a user joins the scope of that user's
        sockets here (their other devices)."""
        for event in events:
            if event.kind == "visitor.erased":
                self._visitor_erased(int(event.payload["visitor_id"]))
            elif event.kind == "visitor.updated" and event.payload.get("verified") and event.payload.get("user_id"):
                self._visitor_verified(event.tenant_id, int(event.payload["id"]), str(event.payload["user_id"]))
            elif event.kind == "agent.updated":  # availability.set on any node (store/agents_self.py)
                self.hub.set_away(event.tenant_id, int(event.payload["id"]), bool(event.payload.get("away")))

    def _visitor_erased(self, visitor_id: int) -> None:
        for sock in self.hub.visitor_sockets(visitor_id):
            if sock.visitor_id == visitor_id:
                sock.close_when_idle(CloseCode.ERASED, "erased")
            elif sock.viewer is not None:
                linked = sock.viewer.linked_visitors - {visitor_id}
                self.hub.set_visitor_viewer(sock, dataclasses.replace(sock.viewer, linked_visitors=linked))

    def _visitor_verified(self, tenant_id: int, visitor_id: int, user_id: str) -> None:
        for sock in self.hub.verified_sockets(tenant_id, user_id):
            if sock.viewer is not None and visitor_id not in sock.viewer.visitor_scope:
                linked = sock.viewer.linked_visitors | {visitor_id}
                self.hub.set_visitor_viewer(sock, dataclasses.replace(sock.viewer, linked_visitors=linked))

    async def visitor_get(self, client: Client, req: p.VisitorGet) -> p.VisitorDetails:
        visitor = await self.store.read(visitors.get_visitor, client.tenant_id, req.visitor_id)
        if visitor is None:
            raise NotFound(f"no visitor {req.visitor_id}")
        return p.VisitorDetails(
            visitor=visitor,
            conversations=await self.store.read(conversations.visitor_conversations, client.tenant_id, req.visitor_id),
        )

    async def visitor_find(self, client: Client, req: p.VisitorFind) -> p.VisitorsResult:
        """Visitors by name, email, location or custom attribute values (PROTOCOL.md, "Custom attributes")."""
        words = p.search_words(req.q)
        if not words:
            raise ProtocolError(
                ErrorCode.INVALID, "the query has no letters or digits to search for", req.ref, field="q"
            )
        found = await self.store.read(visitors.find_visitors, client.tenant_id, words, req.limit)
        return p.VisitorsResult(visitors=found)

    async def search(self, client: Client, req: p.Search) -> p.SearchResult:
        """Full-text search of the agent's tenant (PROTOCOL.md, "Search")."""
        words = p.search_words(req.q)
        if not words:
            raise ProtocolError(
                ErrorCode.INVALID, "the query has no letters or digits to search for", req.ref, field="q"
            )
        before = None
        if req.before is not None:
            if (
                not req.before.isascii()
                or not req.before.isdigit()
                or not 0 < int(req.before) <= store_search.MAX_BEFORE
            ):
                raise ProtocolError(ErrorCode.INVALID, "field 'before' is not a search cursor", req.ref, field="before")
            before = int(req.before)
        hits, next_before = await self.store.read(
            store_search.search, client.tenant_id, words, status=req.status, before=before, limit=req.limit
        )
        return p.SearchResult(hits=hits, next_before=None if next_before is None else str(next_before))


def _visitor_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    """Visitor columns from a ``hello.meta`` object; unknown keys and wrong
    types are dropped, long values cut (metadata is advisory, never fatal)."""
    if not meta:
        return {}
    limits = {
        "url": ("page_url", 2048),
        "title": ("page_title", 500),
        "referrer": ("referrer", 2048),
        "language": ("language", 35),
        "timezone": ("timezone", 64),
        "user_agent": ("user_agent", 512),
    }
    out: dict[str, Any] = {}
    for key, (column, limit) in limits.items():
        value = meta.get(key)
        if isinstance(value, str) and value:
            out[column] = value[:limit]
    if "user_agent" in out:
        out["browser"], out["os"] = domain.parse_user_agent(out["user_agent"])
    return out
