"""The Frontdesk server process: sockets, HTTP routes, and the connection loop.

One asyncio process on the ``websockets`` library. HTTP requests (``/``,
``/widget.js``, ``/healthz``) are answered from the opening-handshake hook;
``/v1/visitor`` and ``/v1/agent`` upgrade to WebSocket. The visitor endpoint
checks the site key and the ``Origin`` before the upgrade (HTTP 403 if
refused).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import http
import json
import logging
import os
import re
import signal
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import __version__, domain
from . import protocol as p
from .csat_mail import CsatMail
from .csat_page import CSAT_PATH, survey_page
from .downloads import FILES_PREFIX, stream_file
from .exceptions import FrontdeskError, Unavailable
from .exports import EXPORT_PREFIX, serve_export
from .files import LinkKeys, Uploads, cleanup_handlers, spool_dir_for
from .guard import ASYNCIO_ACCEPT_MESSAGE, AcceptReport, GuardedConnection, listen, log_every
from .handlers import Handlers, Limits
from .hub import PRESENCE_HEARTBEAT_S, Client, ClientState, Hub, spawn
from .jobs import Clock, JobRunner, SystemClock
from .keepalive import KeepaliveSweeper
from .mail import Mail, SmtpListener, smtp_tls_context
from .protocol import CloseCode, Endpoint, ErrorCode, ProtocolError
from .ratelimit import BucketMap, Rate, TokenBucket, default_rate
from .report_projection import ReportProjection
from .routing import Routing
from .secrets import KEY_FILE_ENV, KEYS_ENV, SecretBox, SecretStore, load_box
from .store import Store, open_store
from .store import csat as store_csat
from .store import tenants as store_tenants
from .store import visitors as store_visitors
from .store.blobs import BlobStore, open_blob_store
from .store.jobs import Job
from .tenants import TenantCache
from .visitor_context import GeoLookup
from .webhooks import (
    DEFAULT_DISABLE_AFTER,
    DEFAULT_RETRY_WINDOW_MS,
    Resolver,
    Webhooks,
    system_resolver,
    webhook_ssl_context,
)

__all__ = ["FrontdeskServer", "ServerSettings", "public_url", "run"]

log = logging.getLogger("frontdesk.server")

#: How many more rate-limited frames than served ones a connection may send
#: before it is closed with 1013.
MAX_STRIKES = 20
#: ``/widget/NAME.js``: a lazily loaded widget module, ``widget/NAME.js`` beside widget.js.
_WIDGET_MODULE = re.compile(r"/widget/[a-z][a-z0-9-]{0,39}\.js")
#: Seconds between a node's refreshes of which tenants have webhooks or email, when several nodes share the store.
FEATURE_REFRESH_S = 30.0
#: What a client is told when the storage fails (the log has the details).
#: Headers of the pages the server renders (the survey page): never cached, never framed, no referrer.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
UNAVAILABLE_MESSAGE = (
    "the server cannot store this right now; it may not have been stored, retry with the same client_id"
)


@dataclasses.dataclass
class ServerSettings:
    """Everything ``frontdesk serve`` can be told (README, "Configuration")."""

    db_url: str = "sqlite:///var/frontdesk.db"
    host: str = "127.0.0.1"
    port: int = 8080
    # Rate limits: declared once, with their meaning, in ratelimit.RATE_SETTINGS.
    rate_conn: Rate = dataclasses.field(default_factory=lambda: default_rate("rate_conn"))
    rate_visitor: Rate = dataclasses.field(default_factory=lambda: default_rate("rate_visitor"))
    rate_ip: Rate = dataclasses.field(default_factory=lambda: default_rate("rate_ip"))
    rate_new_visitor: Rate = dataclasses.field(default_factory=lambda: default_rate("rate_new_visitor"))
    #: Take the client address from X-Forwarded-For (only behind a proxy you run).
    trust_proxy: bool = False
    #: Seconds a socket has after the upgrade to authenticate (a successful
    #: hello, login or auth) before it is closed with 1013.
    auth_timeout: float = 10.0
    #: Open sockets per client address (both endpoints); one more is closed with 1013.
    max_sockets_per_ip: int = 256
    #: WebSocket pings a connection may send (control frames; over it: close 1008).
    rate_ping: Rate = dataclasses.field(default_factory=lambda: default_rate("rate_ping"))
    #: Uploads started per visitor or agent, and per address (PROTOCOL.md, "Attachments").
    rate_upload: Rate = dataclasses.field(default_factory=lambda: default_rate("rate_upload"))
    #: Seconds between the server's keepalive pings to each socket; a ping still unanswered one interval later
    #: closes the socket with 1011 (server/keepalive.py).
    keepalive_interval: float = 20.0
    #: Seconds an upload no message refers to is kept before the cleanup job deletes it (PROTOCOL.md, "Attachments").
    unreferenced_upload_s: float = 3600.0
    #: Where partial uploads are spooled (default: ``<database>.uploads/`` beside SQLite, else a temporary folder).
    upload_dir: str | None = None
    #: A clamd socket (``/path/to/clamd.sock`` or ``tcp://host:port``): files stay pending until it passes them.
    clamd: str | None = None
    #: The secret store's key file (else FRONTDESK_SECRET_KEYS / FRONTDESK_SECRET_KEY_FILE); without any key,
    #: features that keep secrets (webhooks) refuse to be set up.
    secret_key_file: str | None = None
    #: Networks webhooks may reach although they are not public (SSRF allow-list, server/webhooks.py).
    webhook_allow: tuple[str, ...] = ()
    #: How long a failing webhook delivery is retried, in ms.
    webhook_retry_window_ms: int = DEFAULT_RETRY_WINDOW_MS
    #: Failed webhook attempts in a row that switch the webhook off.
    webhook_disable_after: int = DEFAULT_DISABLE_AFTER
    #: ``HOST:PORT`` of the inbound SMTP listener for email replies (off when None; port 0 picks one).
    smtp_listen: str | None = None
    #: PEM certificate chain and key for the SMTP listener's STARTTLS (both or neither; docs/OPERATIONS.md, "Email").
    smtp_tls_cert: str | None = None
    smtp_tls_key: str | None = None
    #: A PEM file of CAs webhook deliveries trust besides the system's (a private CA); certificates are always checked.
    webhook_ca_file: str | None = None
    #: A MaxMind-format database (``--geoip``) for visitors' city and region; the country needs none.
    geoip: str | None = None
    #: The address visitors reach the server at, for links in emails (survey links); None: host and port.
    public_url: str | None = None


def _response(status: http.HTTPStatus, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
        ]
    )
    for key, value in (extra or {}).items():
        headers[key] = value
    return Response(status.value, status.phrase, headers, body)


def _text(status: http.HTTPStatus, message: str) -> Response:
    return _response(status, (message + "\n").encode(), "text/plain; charset=utf-8")


def _asset(name: str) -> bytes | None:
    try:
        return (resources.files("frontdesk.widget") / name).read_bytes()
    except (FileNotFoundError, OSError):
        return None


class FrontdeskServer:
    """The server: open a store, serve sockets and HTTP, fan out events."""

    def __init__(
        self,
        settings: ServerSettings,
        store: Store | None = None,
        *,
        clock: Clock | None = None,
        secret_box: SecretBox | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.settings = settings
        #: Time for the keepalive sweeper (tests pass a ManualClock).
        self.clock: Clock = clock or SystemClock()
        self.keepalive = KeepaliveSweeper(self._open_sockets, interval_s=settings.keepalive_interval, clock=self.clock)
        self._keepalive_task: asyncio.Task[None] | None = None
        self.store = store or open_store(settings.db_url)
        self.hub = Hub()
        self.tenants = TenantCache(self.store)
        limits = Limits(settings.rate_conn, settings.rate_visitor, settings.rate_ip, settings.rate_new_visitor)
        self.handlers = Handlers(self.store, self.hub, self.tenants, limits)
        if clock is not None:  # one injected clock for the time rules too (edit window, surveys), not only jobs
            self.handlers.now_ms = clock.now_ms
        # Attachments (server/files.py, server/downloads.py): bytes beside the database, uploads on the socket.
        self.blobs: BlobStore = open_blob_store(settings.db_url)
        self.link_keys = LinkKeys(self.store)
        scanner = None
        if settings.clamd:
            from .clamd import clamd_scanner

            scanner = clamd_scanner(settings.clamd)
        self.uploads = Uploads(
            self.store,
            self.blobs,
            self.hub,
            self.tenants,
            Path(settings.upload_dir) if settings.upload_dir else spool_dir_for(settings.db_url),
            clock=self.clock,
            rate=settings.rate_upload,
            link_keys=self.link_keys,
            unreferenced_ttl_ms=int(settings.unreferenced_upload_s * 1000),
            scanner=scanner,
        )
        self.handlers.uploads = self.uploads
        #: The one job table's runner on this node (server/jobs.py); attachments' cleanup is its first user.
        self.jobs = JobRunner(self.store, cleanup_handlers(self.store, self.blobs), clock=self.clock)
        self.secrets = _secret_store(self.store, settings, secret_box)
        self.webhooks = Webhooks(
            self.store,
            self.secrets,
            self.clock,
            wake=self.jobs.wake,
            resolver=resolver or system_resolver,
            allow=settings.webhook_allow,
            retry_window_ms=settings.webhook_retry_window_ms,
            disable_after=settings.webhook_disable_after,
            ssl_context=webhook_ssl_context(settings.webhook_ca_file),
        )
        self.jobs.handlers["webhook.deliver"] = self.webhooks.deliver
        self.handlers.add_agent_handlers(self.webhooks.request_handlers(self.handlers._require_admin))
        self.mail = Mail(self.store, self.secrets, self.clock, self.hub, wake=self.jobs.wake)
        self.jobs.handlers["email.digest"] = self.mail.digest
        self.jobs.handlers["email.send"] = self.mail.send_job
        self.jobs.handlers["email.notify"] = self.mail.notify_job
        self.store.add_reactor(self.mail.react)
        self.jobs.handlers["email.imap_poll"] = self.mail.imap_poll
        self.handlers.add_agent_handlers(self.mail.request_handlers(self.handlers._require_admin))
        # Surveys and transcripts by email (server/csat_mail.py), over the email feature's send jobs.
        link_base = settings.public_url or public_url(settings.host, settings.port)
        self.csat_mail = CsatMail(self.store, self.clock, link_base, wake=self.jobs.wake)
        self.jobs.handlers[store_csat.EMAIL_JOB] = self.csat_mail.survey_job
        # store_ip switched off on a big tenant: the scrub goes on in batches (store/visitors.scrub_ip_batch).
        self.jobs.handlers[store_visitors.IP_SCRUB_JOB] = self._ip_scrub_job
        self.handlers.add_visitor_handlers({p.TranscriptEmail: self.csat_mail.transcript})
        self.smtp_listener: SmtpListener | None = None
        if settings.smtp_listen:
            smtp_host, _, smtp_port = settings.smtp_listen.rpartition(":")
            smtp_tls = None
            if settings.smtp_tls_cert or settings.smtp_tls_key:
                if not (settings.smtp_tls_cert and settings.smtp_tls_key):
                    raise ValueError("give both --smtp-tls-cert and --smtp-tls-key, or neither")
                smtp_tls = smtp_tls_context(settings.smtp_tls_cert, settings.smtp_tls_key)
            self.smtp_listener = SmtpListener(
                self.mail, smtp_host or "127.0.0.1", int(smtp_port), tls_context=smtp_tls
            )
        self.handlers.now_ms = self.clock.now_ms
        #: Snooze wake-ups and the auto-assigner: durable jobs on this node's one runner (server/routing.py).
        self.routing = Routing(self.store, self.hub, self.tenants, self.clock, self.jobs)
        #: The reporting facts, projected from the event log a moment after commits (server/report_projection.py).
        self.reports = ReportProjection(self.store)
        self.handlers.geo = GeoLookup(settings.geoip)  # server/visitor_context.py
        self.ip_buckets = BucketMap(settings.rate_ip)
        self._servers: list[Server] = []
        self._heartbeat: asyncio.Task[None] | None = None
        self._features: asyncio.Task[None] | None = None
        self.accept_report = AcceptReport()
        self._loop_handler: Any = None
        #: Asset name -> (ETag, gzipped body) of its current version.
        self._gzipped: dict[str, tuple[str, bytes]] = {}
        self.port: int = settings.port

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and start listening; :attr:`port` is then the bound port.

        Refuses (``FrontdeskError``, one line naming the file and the cause)
        to serve a database it cannot write: every write would fail."""
        if self.store.capabilities.server_lock:
            self.store.acquire_server_lock()  # first: it checks the files, and marks the store as the serving one
        try:
            await self.store.open()
            writable, error = await self.store.check_writable()
        except BaseException:
            await self.store.close()  # releases the lock: a later start in this process may take it
            raise
        if not writable:
            await self.store.close()
            raise FrontdeskError(f"cannot write {self.store.location}: {error}; refusing to start")
        self.store.start_probing()
        self.store.on_commit = self._on_commit
        try:
            await self.blobs.open()
            self.uploads.open()
        except BaseException:
            await self.store.close()
            raise
        if self.store.capabilities.shared:  # several nodes share the store: relay what is never stored
            broadcast = self.store.broadcast

            def relay(message: dict[str, Any]) -> None:
                spawn(broadcast(message))

            self.hub.relay = relay
            self._heartbeat = spawn(self._presence_heartbeat())
            self._features = spawn(self._refresh_features())
            self.store.on_broadcast = self.hub.relayed
        await self.tenants.load()
        await self.webhooks.start()  # catches up on events fanned out by no one before a stop
        await self.mail.start()
        await self.reports.start()  # the facts of what committed while no node projected them
        self.jobs.start()
        if self.smtp_listener is not None:
            await self.smtp_listener.start()
        loop = asyncio.get_running_loop()
        self._loop_handler = loop.get_exception_handler()
        loop.set_exception_handler(_quiet_accept_errors(self._loop_handler))
        # A reconnect storm (every widget after a restart or a network blip)
        # must not overflow the accept queue: asyncio's default of 100 drops
        # SYNs, and each drop costs a client a 1 s, then 3 s, retransmit. The
        # kernel caps this at net.core.somaxconn.
        backlog = 4096
        connection_class = GuardedConnection.configured(self.settings.rate_ping, self._client_ip)
        try:
            for sock in listen(self.settings.host, self.settings.port, backlog, self.accept_report):
                self._servers.append(
                    await serve(
                        self._connection,
                        sock=sock,
                        process_request=self._process_request,
                        # Text frames are held to MAX_FRAME_BYTES in _frame; binary ones carry an upload chunk.
                        max_size=p.MAX_FRAME_BYTES + p.UPLOAD_FRAME_HEADER,
                        # The request is bounded by GuardedConnection.request_timeout instead: this would also
                        # cut a download streamed from the hook (server/downloads.py).
                        open_timeout=None,
                        compression=None,  # DESIGN.md: compression is off (CRIME-style leaks, zip bombs)
                        max_queue=16,
                        write_limit=64 * 1024,
                        close_timeout=5,
                        # One sweeper pings every socket (server/keepalive.py): no keepalive task per socket.
                        ping_interval=None,
                        ping_timeout=None,
                        server_header=f"Frontdesk/{__version__}",
                        create_connection=connection_class,
                        backlog=backlog,
                    )
                )
        except BaseException:
            await self.jobs.stop()
            await self._close_servers()
            await self.store.close()
            raise
        bound = next(iter(self._servers[0].sockets))
        self.port = bound.getsockname()[1]
        self._keepalive_task = spawn(self.keepalive.run())
        self.jobs.start()

    def _open_sockets(self) -> Iterator[ServerConnection]:
        for server in self._servers:
            yield from server.connections

    async def _refresh_features(self) -> None:
        """Several nodes: learn every FEATURE_REFRESH_S which tenants another node gave webhooks or email,
        and fan out events no node fanned out yet (each webhook's cursor makes that exactly once)."""
        while True:
            await asyncio.sleep(FEATURE_REFRESH_S)
            try:
                await self.mail.start()
                await self.webhooks.start()
            except Exception:  # the database is away: the next round tries again
                log.warning("could not refresh the webhook and email tenants", exc_info=True)

    async def _presence_heartbeat(self) -> None:
        """Re-announce this node's online agents so other nodes keep counting them."""
        while True:
            await asyncio.sleep(PRESENCE_HEARTBEAT_S)
            self.hub.relay_presence()

    async def stop(self) -> None:
        """Close every socket with 1001, finish queued writes, close the store."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._features is not None:
            self._features.cancel()
        self.keepalive.stop()
        if self._keepalive_task is not None:
            await self._keepalive_task
        await self._close_servers()
        if self.smtp_listener is not None:
            await self.smtp_listener.stop()
        await self.jobs.stop()
        self.reports.close()
        self.uploads.close()
        await self.blobs.close()
        await self.store.close()
        asyncio.get_running_loop().set_exception_handler(self._loop_handler)

    async def _close_servers(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close(close_connections=True)
        for server in servers:
            await server.wait_closed()

    def _on_commit(self, events: list[domain.EventRecord]) -> None:
        self.tenants.apply(events)
        self.hub.publish(events)
        self.handlers.on_committed(events)  # erased visitors' sockets, verified identities' scopes
        self.webhooks.on_commit(events)
        self.mail.on_commit(events)
        self.routing.on_committed(events)  # the auto-assigner's triggers
        self.reports.on_commit(events)
        for event in events:
            if event.kind == "agent.updated":
                self._agent_changed(event.payload)
            elif event.kind == "visitor.erased":  # their partial uploads on this node go too
                self.uploads.forget_owner("visitor", int(event.payload["visitor_id"]))

    async def _ip_scrub_job(self, job: Job) -> None:
        """The next batch of a tenant's IP scrub (it queues the one after, if any, in its transaction)."""
        assert job.tenant_id is not None
        await self.store.write(store_visitors.scrub_ip_batch, job.tenant_id, job.payload.get("after", {}))
        self.jobs.wake()

    def _agent_changed(self, agent: Any) -> None:
        """Keep this node's open sockets of an agent in step with a change
        committed anywhere (another node, or the CLI beside this server): a
        demoted admin loses admin rights at once, a disabled agent's sockets
        close with 1008 (after the reply to a request in hand)."""
        for sock in self.hub.sockets_of_agent(int(agent["id"])):
            sock.agent_changed(agent["name"], agent["role"])
            if not agent["active"]:
                sock.close_when_idle(CloseCode.POLICY, "agent disabled")
            elif agent.get("sessions_revoked"):
                sock.close_when_idle(CloseCode.POLICY, "password changed; log in again")

    # -- HTTP ---------------------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if path in ("/v1/visitor", "/v1/agent") and not self.ip_buckets.take(self._client_ip(connection)):
            # A handshake costs a token too: a socket closed with 1013 cannot just reconnect in a loop.
            return _text(http.HTTPStatus.TOO_MANY_REQUESTS, "too many requests from this address; back off")
        if path == "/v1/visitor":
            site = parse_qs(query).get("site", [""])[0]
            tenant = await self.tenants.by_site_key(site)
            if tenant is None:
                return _text(http.HTTPStatus.FORBIDDEN, "unknown site key")
            origin = request.headers.get("Origin")
            if not domain.origin_allowed(origin, tenant.config.get("allowed_origins", []), request.headers.get("Host")):
                log.warning("refused a visitor socket for site %s from origin %r", tenant.slug, origin)
                return _text(http.HTTPStatus.FORBIDDEN, "this website's origin is not allowed for this site key")
            return None
        if path == "/v1/agent":
            origin = request.headers.get("Origin")
            if origin and not domain.origin_allowed(origin, [], request.headers.get("Host")):
                return _text(http.HTTPStatus.FORBIDDEN, "agent sockets are not opened from web pages")
            return None
        if request.headers.get("Upgrade"):
            return _text(http.HTTPStatus.NOT_FOUND, "no WebSocket endpoint here; use /v1/visitor or /v1/agent")
        if path.startswith(EXPORT_PREFIX) or path == CSAT_PATH:
            if not self.ip_buckets.take(self._client_ip(connection)):
                return _text(http.HTTPStatus.TOO_MANY_REQUESTS, "too many requests from this address; back off")
            if path == CSAT_PATH:
                status, page = await survey_page(self.store, query, self.handlers.now_ms)
                return _response(status, page, "text/html; charset=utf-8", _PAGE_HEADERS)
            await serve_export(connection, request, path, query, store=self.store, now_ms=self.handlers.now_ms)
            return _text(http.HTTPStatus.OK, "")  # never sent: the connection is closed (server/exports.py)
        if path.startswith(FILES_PREFIX):
            if not self.ip_buckets.take(self._client_ip(connection)):
                return _text(http.HTTPStatus.TOO_MANY_REQUESTS, "too many requests from this address; back off")
            await stream_file(
                connection,
                path,
                query,
                store=self.store,
                blobs=self.blobs,
                link_keys=self.link_keys,
                now_s=self.clock.now_ms() / 1000,
                server=f"Frontdesk/{__version__}",
            )
            return _text(http.HTTPStatus.OK, "")  # never sent: the connection is closed (server/downloads.py)
        if path == "/healthz":
            return await self._healthz()
        if path == "/widget.js":
            return self._static("widget.js", "application/javascript; charset=utf-8", request)
        if _WIDGET_MODULE.fullmatch(path) and (module := _asset(path[len("/widget/") :])) is not None:
            # A module the widget loads lazily (Frontdesk.load): widget/NAME.js, gzipped, with an ETag.
            return self._static(path[len("/widget/") :], "application/javascript; charset=utf-8", request, body=module)
        if path in ("/", "/index.html"):
            return await self._demo_page()
        return _text(http.HTTPStatus.NOT_FOUND, f"not found: {path[:100]}")

    def _static(self, name: str, content_type: str, request: Request, *, body: bytes | None = None) -> Response:
        body = body if body is not None else _asset(name)
        if body is None:
            body = b"/* Frontdesk widget: not built into this install */\n"
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        cache = {
            "ETag": etag,
            "Cache-Control": "public, max-age=300, must-revalidate",
            "Access-Control-Allow-Origin": "*",
            "Vary": "Accept-Encoding",
        }
        if request.headers.get("If-None-Match") == etag:
            return _response(http.HTTPStatus.NOT_MODIFIED, b"", content_type, cache)
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            cached = self._gzipped.get(name)
            if cached is None or cached[0] != etag:  # one version kept per asset: the current one
                cached = self._gzipped[name] = (etag, gzip.compress(body, 9, mtime=0))
            return _response(http.HTTPStatus.OK, cached[1], content_type, {**cache, "Content-Encoding": "gzip"})
        return _response(http.HTTPStatus.OK, body, content_type, cache)

    async def _demo_page(self) -> Response:
        tenant = await self.demo_tenant()
        page = _asset("demo.html")
        if tenant is None:
            body = b"<!doctype html><title>Frontdesk</title><p>No tenant yet: run <code>frontdesk init</code>.</p>"
        elif page is None:
            body = (
                "<!doctype html><title>Frontdesk demo</title><h1>Frontdesk</h1>"
                f'<script src="/widget.js" data-site="{tenant.site_key}" async></script>'
            ).encode()
        else:
            body = page.replace(b"{{SITE_KEY}}", tenant.site_key.encode()).replace(b"{{WIDGET_URL}}", b"/widget.js")
        return _response(
            http.HTTPStatus.OK,
            body,
            "text/html; charset=utf-8",
            {"Cache-Control": "no-cache", "Referrer-Policy": "strict-origin-when-cross-origin"},
        )

    async def demo_tenant(self) -> Any:
        """The tenant the demo page embeds: slug ``demo`` if any, else the first."""
        found = await self.store.read(store_tenants.demo_tenant)
        return await self.tenants.by_site_key(found.site_key) if found else None

    async def _healthz(self) -> Response:
        """200 while the server can write its database, else 503 with the
        storage error in fixed words (never a path, host or user: anyone may
        read this). The outcome of the last write: a request never writes (the
        store probes by itself when idle, ``Store.start_probing``)."""
        writable, error = self.store.health.writable, self.store.health.error
        try:
            schema: int | None = await self.store.schema_version()
        except Unavailable as exc:
            schema, writable, error = None, False, error or exc.reason
        body = {
            "status": "ok" if writable else "unavailable",
            "version": __version__,
            "schema_version": schema,
            "connections": len(self.hub.clients),
            "epoch": self.store.epoch,
            "storage": {"writable": writable, "error": error},
        }
        status = http.HTTPStatus.OK if writable else http.HTTPStatus.SERVICE_UNAVAILABLE
        return _response(status, json.dumps(body).encode(), "application/json", {"Cache-Control": "no-store"})

    # -- sockets ------------------------------------------------------------------------

    def _client_ip(self, ws: ServerConnection) -> str:
        if self.settings.trust_proxy and ws.request is not None:
            forwarded = ws.request.headers.get("X-Forwarded-For")
            if forwarded:
                return forwarded.split(",")[0].strip()
        addr = ws.remote_address
        return str(addr[0]) if addr else "?"

    async def _socket_target(self, ws: ServerConnection) -> tuple[Endpoint, int | None]:
        """The endpoint of an upgraded socket and its tenant: a visitor's from its site key (None when the key is
        unknown now), 0 for an agent (its tenant comes with its login). A method of its own so that the path and
        query strings die here instead of living in the connection's frame for hours."""
        assert ws.request is not None
        path, _, query = ws.request.path.partition("?")
        if path != "/v1/visitor":
            return Endpoint.AGENT, 0
        tenant = await self.tenants.by_site_key(parse_qs(query).get("site", [""])[0])
        return Endpoint.VISITOR, None if tenant is None else tenant.id

    async def _connection(self, ws: ServerConnection) -> None:
        """One socket, from the upgrade to the close. Nothing a peer sends
        may raise out of here (websockets would log a traceback and close
        with 1011): a frame that trips an unexpected error gets ``invalid``."""
        endpoint, tenant_id = await self._socket_target(ws)
        if tenant_id is None:  # deleted between the handshake and now
            await ws.close(int(CloseCode.POLICY), "unknown site key")
            return
        client = Client(ws, endpoint, self._client_ip(ws), tenant_id=tenant_id)
        if isinstance(ws, GuardedConnection):
            ws.forget_handshake(client.ip)  # nothing reads the headers again
        client.bucket = TokenBucket(self.settings.rate_conn)
        # Counted and registered with no await in between, so the cap is exact.
        if self.hub.sockets_from(client.ip) >= self.settings.max_sockets_per_ip:
            log_every(
                "per-ip-cap",
                logging.WARNING,
                "refusing a %s socket from %s: %d sockets open from that address already",
                endpoint.value,
                client.ip,
                self.settings.max_sockets_per_ip,
            )
            await ws.close(int(CloseCode.TRY_AGAIN_LATER), "too many open sockets from this address")
            return
        self.hub.add(client)
        deadline: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            self.settings.auth_timeout, self._auth_deadline, client
        )
        try:
            while True:
                # recv() rather than ``async for``: the library's iterator is an async generator, ~260 bytes a
                # socket for as long as it is open (docs/PERFORMANCE.md, idle memory). The close ends the loop
                # the same way: recv raises ConnectionClosed (OK or Error) where the iterator stopped or raised.
                raw = await ws.recv()
                if client.state is ClientState.CLOSING:
                    continue  # keep reading so the closing handshake can complete
                try:
                    await self._frame(client, raw)
                    if deadline is not None and client.authenticated:
                        # Authenticated for good (the session never goes back): its timer, callback and
                        # arguments (~200 bytes) are freed now rather than auth_timeout after the upgrade.
                        deadline.cancel()
                        deadline = None
                except ConnectionClosed:
                    raise
                except Exception as exc:  # a bug, not the peer's fault: answer, log one line, read on
                    log_every(
                        "frame-failed",
                        logging.ERROR,
                        "a %s frame from %s failed: %s: %s",
                        endpoint.value,
                        client.ip,
                        type(exc).__name__,
                        exc,
                    )
                    log.debug("the failure", exc_info=True)
                    ref = _peek_ref(raw)
                    client.push(p.encode_error(ref, ErrorCode.INVALID, "the server could not read this frame"))
        except ConnectionClosed:
            pass
        finally:
            if deadline is not None:
                deadline.cancel()
            self.uploads.socket_closed(client)
            self.hub.remove(client)

    def _auth_deadline(self, client: Client) -> None:
        """``auth_timeout`` after the upgrade: close a socket that has not
        authenticated (after the reply to a hello/login/auth still in hand)."""
        if client.authenticated or client.state is ClientState.CLOSING:
            return
        close = (CloseCode.TRY_AGAIN_LATER, f"no hello, login or auth within {self.settings.auth_timeout:g} s")
        if client.busy:
            client.close_unless_authenticated = close
        else:
            log_every(
                "auth-timeout",
                logging.INFO,
                "closing a %s socket from %s: it did not authenticate in time",
                client.endpoint.value,
                client.ip,
            )
            client.close(*close)

    async def _frame(self, client: Client, raw: str | bytes) -> None:
        """Handle one incoming frame: rate check, parse, dispatch, reply. A binary frame is a chunk of an upload
        (PROTOCOL.md, "Attachments"): flow control bounds those, not the request buckets."""
        if isinstance(raw, bytes):
            if not await self.uploads.data(client, raw):
                client.strikes += 1  # refused frames count like rate-limited ones: a flood ends in 1013
                if client.strikes > MAX_STRIKES:
                    client.close(CloseCode.TRY_AGAIN_LATER, "too many refused upload frames; back off")
            return
        if len(raw) * 4 > p.MAX_FRAME_BYTES and len(raw.encode("utf-8", "surrogatepass")) > p.MAX_FRAME_BYTES:
            client.close(CloseCode.TOO_BIG, f"a text frame is at most {p.MAX_FRAME_BYTES} bytes")
            return
        if not (client.bucket.take() and self.ip_buckets.take(client.ip)):
            self._strike(client, _peek_ref(raw), "too many requests; slow down")
            return
        try:
            request = p.parse_request(raw, endpoint=client.endpoint)
        except ProtocolError as exc:
            client.push(p.encode_protocol_error(exc))
            return
        client.busy = True
        try:
            await self._handle(client, request)
        finally:
            client.busy = False
            if client.close_after_reply is not None:
                code, reason = client.close_after_reply
                client.close_after_reply = None
                client.close(code, reason)
            if client.close_unless_authenticated is not None and not client.authenticated:
                client.close(*client.close_unless_authenticated)

    async def _handle(self, client: Client, request: p.Request) -> None:
        """Dispatch a parsed request and queue its reply or error."""
        try:
            reply = await self.handlers.dispatch(client, request)
        except ProtocolError as exc:
            if exc.code is ErrorCode.RATE_LIMITED:  # per-visitor, new-visitor, login limits
                self._strike(client, request.ref, exc.message)
            else:  # the store's NotFound and Conflict, and the session's InvalidState, too (exceptions.py)
                client.push(p.encode_protocol_error(exc, request.ref))
            return
        except Unavailable:  # the store logged it, once; the client backs off and retries
            client.push(p.encode_error(request.ref, ErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE))
            return
        except ConnectionClosed:
            raise
        except Exception:
            log.exception("handler for %s failed", request.TYPE)
            client.push(p.encode_error(request.ref, ErrorCode.INVALID, "the server could not process this request"))
            return
        # Decay, not reset: a flood paced just above the refill rate gets one
        # request in N served, and must still end in 1013.
        client.strikes = max(0, client.strikes - 1)
        if reply is None:
            return
        if request.ref is not None:
            client.push(p.encode_reply(request.ref, reply))
        if isinstance(reply, p.Resume) and reply.replay_from is not None:
            await self.handlers.stream_replay(client, reply.replay_from, reply.replay_first)

    @staticmethod
    def _strike(client: Client, ref: str | None, message: str) -> None:
        """Answer a rate-limited frame with an error; once rate-limited frames
        outnumber served ones by MAX_STRIKES (whichever limit tripped), close
        the socket with 1013."""
        client.strikes += 1
        if client.strikes > MAX_STRIKES:
            log.warning("closing a %s socket from %s: flooding", client.endpoint.value, client.ip)
            client.close(CloseCode.TRY_AGAIN_LATER, "too many requests; back off and reconnect")
            return
        client.push(p.encode_error(ref, ErrorCode.RATE_LIMITED, message))


def _secret_store(store: Store, settings: ServerSettings, box: SecretBox | None) -> SecretStore | None:
    """The secret store, when the operator gave a key (a malformed key stops the start: SecretKeyError)."""
    if box is None and (
        settings.secret_key_file or os.environ.get(KEYS_ENV, "").strip() or os.environ.get(KEY_FILE_ENV)
    ):
        box = load_box(settings.secret_key_file)
    return None if box is None else SecretStore(store, box)


def _peek_ref(raw: str | bytes) -> str | None:
    """The ``ref`` of a frame we will not parse fully (rate-limited), if
    cheap; None for anything else, deep nesting included (the standard
    library's parser raises RecursionError there, not ValueError)."""
    if isinstance(raw, str) and len(raw) < 4096:
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        ref = obj.get("ref") if isinstance(obj, dict) else None
        return ref if isinstance(ref, str) and len(ref) <= 64 else None
    return None


def _quiet_accept_errors(previous: Any) -> Any:
    """An event-loop exception handler that drops asyncio's own report of a
    failed ``accept()`` (a traceback per failure; ``guard.AcceptReport``
    logs one line per interval instead) and passes everything else on."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ASYNCIO_ACCEPT_MESSAGE:
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    return handler


async def run(settings: ServerSettings, *, on_ready: Any = None) -> None:
    """Run until SIGINT or SIGTERM, then shut down cleanly."""
    server = FrontdeskServer(settings)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if on_ready is not None:
        on_ready(server)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await server.stop()


def public_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - display only
    return f"http://{shown}:{port}"
