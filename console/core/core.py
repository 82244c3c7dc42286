"""The console core: one agent's session with one server.

Qt-free. The UI creates one :class:`ConsoleCore`, registers listeners, and
calls its coroutines from ``@asyncSlot`` handlers on the one asyncio loop
(qasync). The core never blocks the loop on slow disk work (see
:mod:`.cache`).

Lifecycle::

    core = ConsoleCore(url, None, KeyringTokenStore())
    if not await core.resume():          # no stored token
        await core.login(email, password, remember=True)
    await core.start()                   # cached inbox now; sync in background
    ...
    await core.reply(cid, "Hello!")      # queued in the outbox, sent when online
    ...
    await core.stop()

Split by job: the sync loop (:mod:`._sync`), the outbox drainer and actions
(:mod:`._drain`), which agent last used a server (:mod:`._accounts`), the
shared state and announcements (:mod:`._base`). This module holds the
session (login, resume, start, stop, logout) and the online-only calls.
Frames are decoded by the protocol layer in :mod:`._link`: everything here
reads typed results.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
from frontdesk.server.protocol import (
    RESULTS,
    AgentAddResult,
    AgentResult,
    AgentsResult,
    ConfigResult,
    CsatListResult,
    Endpoint,
    ExportEntry,
    ExportRecordsResult,
    FileLink,
    FileLinksResult,
    IdentitySecretResult,
    LoginResult,
    MessageOriginal,
    MessageOriginalsResult,
    Result,
    SearchResult,
    VisitorDetails,
    VisitorsResult,
    to_wire,
)

from ._base import coalesce
from ._connection import Backoff, Connect, WebSocketLike, agent_endpoint
from ._drain import DrainMixin
from ._link import LinkClosed, _Link
from ._sync import SyncMixin
from ._tasks import TaskSet
from .cache import Applied, Cache, cache_path, config_values
from .cache._schema import set_meta
from .downloads import Downloads, http_base
from .exceptions import LoginError, OfflineError, ServerError
from .reports import ReportsMixin
from .rows import AgentRow
from .state import ConnectionState
from .workflow import WorkflowMixin

__all__ = ["Backoff", "Connect", "ConsoleCore", "WebSocketLike", "agent_endpoint", "coalesce"]

log = logging.getLogger("frontdesk.console.sync")


class ConsoleCore(DrainMixin, SyncMixin, WorkflowMixin, ReportsMixin):
    """Login, token, cache, connection loop and outbox of one console session.

    Attributes the UI reads: ``state``, ``me``, ``cache`` (after
    :meth:`login` / :meth:`resume`), ``outbox_count`` (pending items),
    ``last_synced_at`` (unix seconds), ``keyring_available``, and
    ``focused_conversation``, which the UI sets to the conversation on screen
    (no notification is raised for it; its missing history is fetched).
    """

    # -- accounts: which agent last used this server (never the token) -------------

    def last_email(self) -> str | None:
        """The email last used on this server (to prefill the login form)."""
        return self._accounts.email_for(self.server_url)

    def _open_cache(self, email: str) -> Cache:
        path = cache_path(self.data_dir, self.server_url, email)
        if self._cache is not None and self._cache.path == path and not self._cache.closed:
            return self._cache
        if self._cache is not None:
            self._cache.close()
        self._cache = Cache.open(path)
        self.outbox_count = self._cache.outbox_count()
        self.last_synced_at = self._cache.last_synced_at()
        return self._cache

    # -- session -----------------------------------------------------------------

    async def login(self, email: str, password: str, *, remember: bool, tenant: str | None = None) -> AgentRow:
        """Log in with a password; keep the token (keyring if ``remember``
        and a backend exists, else memory only) and open this agent's cache.

        Raises :class:`~.exceptions.LoginError`.
        """
        email = email.strip()
        try:
            ws = await asyncio.wait_for(self._connect(self.ws_url), self._timeout)
        except Exception as exc:
            log.info("login: cannot reach %s: %s", self.ws_url, type(exc).__name__)
            raise LoginError("unreachable", f"Cannot reach the server at {self.server_url}.") from exc
        link = _Link(ws, lambda frame: None, self._timeout)
        tasks = TaskSet()
        tasks.spawn(link.run(), name="frontdesk-login-reader", log_errors=False)
        try:
            reply = await link.request(LoginResult, "login", email=email, password=password, tenant=tenant)
        except ServerError as exc:
            raise _login_error(exc) from None
        except (LinkClosed, TimeoutError) as exc:
            raise LoginError("unreachable", "The server closed the connection during login.") from exc
        finally:
            await link.close()
            await tasks.cancel_all()
        if self._loop_task is not None and not self._loop_task.done():
            await self.stop()  # a new session replaces the running one; start() again
        self._email = email
        self._token = reply.token
        if remember and self._tokens.available():
            self._tokens.set(self.server_url, email, reply.token)
        else:
            self._tokens.delete(self.server_url, email)
        self._accounts.remember(self.server_url, email)
        cache = self._open_cache(email)
        self.me = AgentRow.of(reply.agent)
        await cache.store_session(self.me, to_wire(reply.tenant))
        log.info("logged in as agent %d", self.me.id)
        return self.me

    async def resume(self) -> bool:
        """Prepare to reuse the stored token of the last agent on this server.

        True when there is a token to try: the cache is open, ``me`` is the
        cached agent, and :meth:`start` will authenticate with the token (a
        rejected token ends in ``on_session_ended``). False: show the login.
        """
        email = self._email or self.last_email()
        if email is None:
            return False
        token = self._token if self._email == email and self._token else self._tokens.get(self.server_url, email)
        if not token:
            return False
        self._email = email
        self._token = token
        cache = self._open_cache(email)
        self.me = cache.me()
        return True

    async def start(self) -> None:
        """Open the cache (the inbox can show at once) and start the
        connection loop in the background. Works offline from the start."""
        cache = self.cache
        if self._loop_task is not None and not self._loop_task.done():
            return
        self._stopping = False
        self.outbox_count = cache.outbox_count()
        self.last_synced_at = cache.last_synced_at()
        self._announce(Applied(reload_all=True))  # every model reloads
        self._emit("on_outbox_changed", self.outbox_count)
        self._loop_task = self._tasks.spawn(self._run(), name="frontdesk-sync")

    async def stop(self) -> None:
        """Stop the connection loop and close the cache. Outbox items stay."""
        self._stopping = True
        await self._tasks.cancel_all()
        self._loop_task = None
        if self._link is not None:
            await self._link.close()
            self._link = None
        if self.state is not ConnectionState.OFFLINE:
            self._set_state(ConnectionState.OFFLINE)
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    async def logout(self) -> None:
        """Revoke the token on the server (if online), forget it locally,
        and stop. The cache stays on disk (it holds no token). Does not call
        ``on_session_ended``: the UI asked for it."""
        self._stopping = True  # the server's close after logout is not a drop to recover from
        link = self._link
        if link is not None:
            with contextlib.suppress(ServerError, LinkClosed, TimeoutError):
                await link.request(Result, "logout")
        if self._email is not None:
            self._tokens.delete(self.server_url, self._email)
        self._token = None
        await self.stop()
        self.me = None

    def reconnect_now(self) -> None:
        """Skip the current backoff wait (e.g. the network came back)."""
        self._reconnect_now.set()

    # -- attachments: their bytes, from signed links (downloads.py) -------------------

    @property
    def downloads(self) -> Downloads:
        """Attachments' files, fetched into the cache folder (needs the session's cache)."""
        if self._downloads is None:
            self._downloads = Downloads(
                self.server_url, self.cache.path.with_suffix(".files"), self.file_links, self._clock
            )
        return self._downloads

    async def file_links(self, ids: Sequence[str]) -> dict[str, FileLink]:
        """Fresh signed links to these attachments (those this agent may read). Raises OfflineError."""
        return (await self._call(FileLinksResult, "file.links", ids=list(ids))).links

    # -- online-only calls -------------------------------------------------------

    async def get_config(self) -> dict[str, Any]:
        """The full widget configuration. Raises OfflineError / ServerError."""
        config = (await self._call(ConfigResult, "config.get")).config
        await self.cache.store_config(config)
        return config_values(config)

    async def set_config(self, partial: dict[str, Any]) -> dict[str, Any]:
        """Admin: change some configuration keys; returns the full config.
        ``ServerError("invalid", ...)`` names a bad key."""
        config = (await self._call(ConfigResult, "config.set", config=partial)).config
        await self.cache.store_config(config)
        values = config_values(config)
        self._emit("on_config_changed", values)
        return values

    async def list_agents(self) -> list[AgentRow]:
        """The tenant's agents with presence (also cached)."""
        agents = [AgentRow.of(a) for a in (await self._call(AgentsResult, "agents")).agents]
        await self.cache.store_agents(agents)
        self._emit_agents()
        return agents

    async def add_agent(
        self, email: str, name: str, role: str = "agent", password: str | None = None
    ) -> tuple[AgentRow, str]:
        """Admin: add an agent; returns it and its password (generated when
        not given; shown once, never stored)."""
        reply = await self._call(AgentAddResult, "agent.add", email=email, name=name, role=role, password=password)
        agent = AgentRow.of(reply.agent)
        await self.cache.store_agent(agent)
        self._emit_agents()
        return agent, reply.password or password or ""

    async def update_agent(self, agent_id: int, **changes: Any) -> AgentRow:
        """Admin: change ``name``, ``role``, ``active`` or ``password``."""
        unknown = set(changes) - {"name", "role", "active", "password"}
        if unknown:
            raise ValueError(f"unknown agent fields: {', '.join(sorted(unknown))}")
        agent = AgentRow.of((await self._call(AgentResult, "agent.update", agent_id=agent_id, **changes)).agent)
        await self.cache.store_agent(agent)
        self._emit_agents()
        self._announce(Applied(reload_all=True))  # assignee names
        return agent

    async def set_away(self, away: bool, *, automatic: bool = False) -> AgentRow:
        """Set this agent Away (or back Online) on the server: colleagues see
        it, and visitors are told nobody is there when no one else is.
        ``automatic``: the idle watcher did it, not the agent (remembered in the
        cache: :meth:`Cache.away_was_automatic`). Raises OfflineError / ServerError."""
        reply = await self._call(AgentResult, "availability.set", away=away)
        # Whether it was automatic is in the cache before :attr:`me` says Away: whoever sees the one sees the
        # other (a console quitting right after an idle Away still resumes it as automatic).
        await self.cache.write(lambda db: set_meta(db, "away_automatic", away and automatic))
        return await self._stored_me(AgentRow.of(reply.agent))

    async def update_me(
        self, *, name: str | None = None, password: str | None = None, current_password: str | None = None
    ) -> AgentRow:
        """Change this agent's display name and/or password (a new password
        needs the current one: ``forbidden`` when it is wrong). Raises
        OfflineError / ServerError."""
        fields = {
            k: v for k, v in {"name": name, "password": password, "current_password": current_password}.items() if v
        }
        reply = await self._call(AgentResult, "me.update", **fields)
        return await self._stored_me(AgentRow.of(reply.agent))

    async def _stored_me(self, agent: AgentRow) -> AgentRow:
        await self.cache.store_agent(agent)
        record = dataclasses.asdict(agent)
        await self.cache.write(lambda db: set_meta(db, "me", record))  # the offline start's "me" too
        self.me = agent
        self._emit_agents()
        self._announce(Applied(reload_all=True))  # assignee names
        return agent

    async def message_originals(self, conversation_id: int, seq: int) -> list[MessageOriginal]:
        """Admin: the texts message ``seq`` had before its edits and deletion,
        oldest first. Raises OfflineError / ServerError."""
        reply = await self._call(MessageOriginalsResult, "message.originals", conversation_id=conversation_id, seq=seq)
        return reply.originals

    async def identity_secret(self, action: str = "get") -> dict[str, Any]:
        """Admin: the identity secret (``get``), a new one (``rotate``: the old
        one stays accepted as ``previous``), or the end of a rotation
        (``end_rotation``). Returns ``{"secret", "previous", "rotated_at"}``;
        never cached. Raises OfflineError / ServerError."""
        if action not in ("get", "rotate", "end_rotation"):
            raise ValueError(f"unknown identity secret action {action!r}")
        reply = await self._call(IdentitySecretResult, f"identity_secret.{action}")
        return dict(to_wire(reply.identity_secret))

    async def webhook_request(self, kind: str, **fields: Any) -> Result:
        """Admin: one ``webhook.*`` request (PROTOCOL.md, "Webhooks"), e.g. ``webhook.list``;
        its typed result (``protocol.RESULTS``). Never cached. Raises OfflineError / ServerError."""
        if not kind.startswith("webhook.") or (Endpoint.AGENT, kind) not in RESULTS:
            raise ValueError(f"not a webhook request: {kind!r}")
        return await self._call(RESULTS[(Endpoint.AGENT, kind)], kind, **fields)

    async def email_request(self, kind: str, **fields: Any) -> Result:
        """One ``email.*`` request (PROTOCOL.md, "Email"), e.g. ``email.settings.get``; its typed result.
        Never cached. Raises OfflineError / ServerError."""
        if not kind.startswith("email.") or (Endpoint.AGENT, kind) not in RESULTS:
            raise ValueError(f"not an email request: {kind!r}")
        return await self._call(RESULTS[(Endpoint.AGENT, kind)], kind, **fields)

    async def accept_held(self, held_id: int) -> None:
        """Post a held email reply as the visitor's message (online only; the ``email.held`` and
        ``message.created`` events update the cache). Raises OfflineError / ServerError."""
        await self._call(Result, "email.held.accept", held_id=held_id)

    async def reject_held(self, held_id: int) -> None:
        """Discard a held email reply (online only). Raises OfflineError / ServerError."""
        await self._call(Result, "email.held.reject", held_id=held_id)

    async def fetch_visitor(self, visitor_id: int) -> None:
        """Refresh a visitor's details and conversations from the server."""
        reply = await self._call(VisitorDetails, "visitor.get", visitor_id=visitor_id)
        await self.cache.store_visitor(reply.visitor)
        applied = await self.cache.store_conversations(reply.conversations)
        surveys = await self._call(CsatListResult, "csat.list", visitor_id=visitor_id)
        await self.cache.store_csat(surveys.surveys)  # ratings older than the cache's cursor, too
        applied.conversations.update(r.id for r in self.cache.visitor_conversations(visitor_id))
        self._announce(applied)

    async def export_records(self, before: int | None = None) -> list[ExportEntry]:
        """Admin: who exported what, when, newest first. Raises OfflineError / ServerError."""
        fields = {} if before is None else {"before": before}
        return (await self._call(ExportRecordsResult, "export.records", **fields)).records

    async def record_export(self, what: str, fmt: str, *, conversation_id: int | None, query: str, rows: int) -> None:
        """Admin: record an export this console made (PROTOCOL.md, "Exports"). Raises OfflineError / ServerError."""
        fields: dict[str, Any] = {"what": what, "format": fmt, "filter": query[:500], "rows": rows}
        if conversation_id is not None:
            fields["conversation_id"] = conversation_id
        await self._call(ExportRecordsResult, "export.record", **fields)

    @property
    def exports_from_server(self) -> bool:
        """Whether an export comes from the server (online, and an admin: the server's exports are theirs),
        rather than from the cache (PROTOCOL.md, "Exports"; core/export.py)."""
        return self.state is ConnectionState.ONLINE and self.me is not None and self.me.is_admin

    @contextlib.asynccontextmanager
    async def export_stream(self, route: str, params: Mapping[str, str]) -> AsyncIterator[AsyncIterator[bytes]]:
        """``GET /v1/export/<route>?params`` with this session's token: the body's chunks as they arrive (for
        core/export.py's ``run_server_export``). A refusal is ServerError (401 ``unauthorized``, 403
        ``forbidden``, 400 ``invalid``) with the server's reason; no connection, or one lost mid-body, is
        OfflineError."""
        token = self._token
        if token is None or self.state is not ConnectionState.ONLINE:
            raise OfflineError()
        timeout = httpx.Timeout(60.0, connect=10.0)
        try:
            async with (
                httpx.AsyncClient(base_url=http_base(self.server_url), timeout=timeout) as client,
                client.stream(
                    "GET", f"/v1/export/{route}", params=dict(params), headers={"Authorization": f"Bearer {token}"}
                ) as response,
            ):
                if response.status_code != 200:
                    reason = (await response.aread()).decode("utf-8", "replace").strip()[:300]
                    code = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found"}
                    raise ServerError(
                        code.get(response.status_code, "unavailable"), reason or f"HTTP {response.status_code}"
                    )
                yield response.aiter_bytes(64 * 1024)
        except httpx.HTTPError as exc:
            raise OfflineError(f"the export from the server was cut off: {exc}") from exc

    async def search(
        self, text: str, *, status: str | None = None, before: str | None = None, limit: int = 20
    ) -> SearchResult:
        """The server's full-text search (PROTOCOL.md, "Search"): what the
        cache may not hold (older history, conversations never synced). The
        conversations found that the cache lacks are stored (and announced),
        so a hit opens like any cached conversation. Raises OfflineError /
        ServerError (``invalid`` for a query without words)."""
        result = await self._call(SearchResult, "search", q=text, status=status, before=before, limit=limit)
        if result.hits:
            self._announce(await self.cache.store_conversations(hit.conversation for hit in result.hits))
        if before is None:
            await self._refresh_found_visitors(text)
        return result

    #: At most this many found visitors whose conversations the cache lacks are fetched per search.
    FOUND_VISITORS_FETCHED = 20

    async def _refresh_found_visitors(self, text: str) -> None:
        """The visitors whose custom attributes or location match (``visitor.find``), stored fresh in the
        cache, with their conversations when the cache holds none of them (``visitor.get``, the newest
        :attr:`FOUND_VISITORS_FETCHED` such visitors): the search's cache hits, read again after the server
        answers, then find their conversations by those values, cached or not. An older server without
        ``visitor.find`` changes nothing."""
        try:
            found = await self._call(VisitorsResult, "visitor.find", q=text, limit=50)
        except ServerError as exc:
            log.info("visitor.find: %s", exc)
            return
        applied = Applied()
        missing = 0
        for visitor in found.visitors:
            await self.cache.store_visitor(visitor)
            if self.cache.visitor_conversations(visitor.id) or missing >= self.FOUND_VISITORS_FETCHED:
                continue
            missing += 1
            try:
                details = await self._call(VisitorDetails, "visitor.get", visitor_id=visitor.id)
            except ServerError as exc:  # erased meanwhile, or out of reach: the others still count
                log.info("visitor.get %s: %s", visitor.id, exc)
                continue
            got = await self.cache.store_conversations(details.conversations)
            applied.conversations.update(got.conversations)
        if applied.conversations:
            self._announce(applied)

    async def mark_seen(self, conversation_id: int) -> None:
        """Mark the conversation read: locally at once, on the server when online."""
        applied: Applied = await self.cache.mark_seen(conversation_id)
        self._announce(applied)
        row = self.cache.conversation(conversation_id)
        if self._link is not None and row is not None:
            await self._link.send("seen", conversation_id=conversation_id, seq=row.last_seq)

    async def set_typing(self, conversation_id: int, is_typing: bool) -> None:
        """Tell the visitor (and other agents) whether we are typing. Best
        effort: dropped when offline."""
        if self._link is not None:
            await self._link.send("typing", conversation_id=conversation_id, is_typing=is_typing)


def _login_error(exc: ServerError) -> LoginError:
    text = exc.message or exc.code
    if exc.code == "rate_limited":
        return LoginError("throttled", text or "Too many failed logins; wait a few minutes.")
    if "disabled" in text.lower() or exc.code == "forbidden":
        return LoginError("disabled", text or "This account is disabled.")
    if exc.code == "unauthorized":
        return LoginError("wrong_credentials", text or "Wrong email or password.")
    return LoginError("other", text)
