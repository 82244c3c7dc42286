"""Webhooks: tell the tenant's own systems what happened (issue 16, item 4).

An admin registers a URL, the event kinds it wants (:data:`protocol.WEBHOOK_EVENTS`)
and gets a signing secret. After a commit, :meth:`Webhooks.on_commit` fans the
tenant's new events out into deliveries (store/webhooks.py: a cursor per
webhook into the event log, so nothing committed is skipped, even across a
crash); each delivery is a ``webhook.deliver`` job of the one job table, sent
by :meth:`Webhooks.deliver` with the runner's retries and exponential backoff
until it succeeds or ``retry_window_ms`` (24 h by default) has passed.

Signed the Standard Webhooks way (https://www.standardwebhooks.com): headers
``webhook-id`` (the same on every attempt, for de-duplication),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``:
``v1,`` + base64(HMAC-SHA256(key, "id.timestamp.body")) where the key is the
base64 part of the ``whsec_`` secret. During a rotation both secrets sign,
space-separated, so a receiver holding either verifies.

SSRF: a target must resolve only to public addresses, unless the operator
allow-lists networks (``--webhook-allow 10.0.0.0/8``). The check runs after
DNS resolution, at registration and again on every attempt, and the request
goes to the address that was checked (no second lookup a rebinding DNS could
answer differently). The resolver is injected: tests have no DNS.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import secrets as _secrets
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from . import domain
from . import protocol as p
from .jobs import Clock
from .protocol import ErrorCode, ProtocolError
from .secrets import SecretKeyError, SecretStore
from .store import Store
from .store import webhooks as ops
from .store.jobs import Job
from .tenant_runner import TenantRunner

__all__ = [
    "DEFAULT_DISABLE_AFTER",
    "DEFAULT_RETRY_WINDOW_MS",
    "Resolver",
    "UnsafeTarget",
    "Webhooks",
    "check_address",
    "new_secret",
    "post",
    "sign",
    "system_resolver",
    "webhook_ssl_context",
]

log = logging.getLogger("frontdesk.server.webhooks")

#: How long a delivery is retried (with the job runner's exponential backoff) before it is marked failed.
DEFAULT_RETRY_WINDOW_MS = 24 * 3600 * 1000
#: Failed attempts in a row (over all of a webhook's deliveries) that switch the webhook off.
DEFAULT_DISABLE_AFTER = 50
#: Seconds one attempt may take, connect to last byte of the status line.
DEFAULT_TIMEOUT_S = 10.0

#: Resolves a host name and port to IP address strings.
Resolver = Callable[[str, int], Awaitable[list[str]]]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeTarget(ValueError):
    """A webhook URL that is malformed or resolves to a private, loopback or otherwise non-public address."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo``)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=0, proto=0)
    return sorted({str(info[4][0]) for info in infos})


def new_secret() -> str:
    """A new signing secret in the Standard Webhooks form: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(_secrets.token_bytes(24)).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """One ``v1,`` signature of a delivery with ``secret`` (Standard Webhooks, "Signature scheme")."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def check_address(address: str, allow: Iterable[IPNetwork]) -> None:
    """Refuse an address that is not public, unless an allow-listed network holds it."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allow):
        return
    if not ip.is_global or ip.is_multicast:
        what = "loopback" if ip.is_loopback else "private or reserved"
        raise UnsafeTarget(
            f"the URL resolves to {ip}, a {what} address; webhooks go to public addresses only"
            " (the operator may allow a network: frontdesk serve --webhook-allow CIDR)"
        )


def _split(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("the URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise UnsafeTarget("the URL must not carry a user or password")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


async def resolve_checked(url: str, resolver: Resolver, allow: Sequence[IPNetwork]) -> str:
    """The address to send ``url``'s requests to, after checking every address its host resolves to."""
    _, host, port, _ = _split(url)
    try:
        addresses = await resolver(host, port)
    except OSError as exc:
        raise UnsafeTarget(f"cannot resolve {host}: {exc.strerror or exc}") from None
    if not addresses:
        raise UnsafeTarget(f"{host} resolves to no address")
    for address in addresses:
        check_address(address, allow)
    return addresses[0]


def webhook_ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The TLS context of HTTPS deliveries: the system's CAs, plus those of ``ca_file`` (PEM) when the operator
    names one (``--webhook-ca-file``, a private CA). Certificates and host names are always checked."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def _verifying(context: ssl.SSLContext) -> ssl.SSLContext:
    """``context``, if it checks certificates and host names; ``ValueError`` otherwise (no way to switch it off)."""
    if context.verify_mode != ssl.CERT_REQUIRED or not context.check_hostname:
        raise ValueError("webhook deliveries verify certificates and host names; this TLS context does not")
    return context


async def post(
    url: str,
    address: str,
    headers: dict[str, str],
    body: bytes,
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """POST ``body`` to ``url`` over a connection to ``address``; the response's status code.

    A minimal HTTP/1.1 client (the status line is all a webhook needs): TLS with the
    URL's host name for SNI and certificate checks (``ssl_context``, else the system's CAs),
    ``Connection: close``."""
    scheme, host, port, path = _split(url)
    context = _verifying(ssl_context or webhook_ssl_context()) if scheme == "https" else None

    async def exchange() -> int:
        reader, writer = await asyncio.open_connection(
            address, port, ssl=context, server_hostname=host if context else None
        )
        try:
            host_header = host if port in (80, 443) else f"{host}:{port}"
            head = [f"POST {path} HTTP/1.1", f"Host: {host_header}", f"Content-Length: {len(body)}"]
            head += [f"{k}: {v}" for k, v in headers.items()] + ["Connection: close", "", ""]
            writer.write("\r\n".join(head).encode("latin-1") + body)
            await writer.drain()
            status_line = await reader.readline()
            fields = status_line.decode("latin-1").split(" ", 2)
            if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
                raise ConnectionError(f"not an HTTP response: {status_line[:60]!r}")
            return int(fields[1])
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await asyncio.wait_for(exchange(), timeout)


class Webhooks:
    """The webhook feature of one server node: requests, fan-out and the deliver job."""

    def __init__(
        self,
        store: Store,
        secrets: SecretStore | None,
        clock: Clock,
        *,
        wake: Callable[[], None],
        resolver: Resolver = system_resolver,
        allow: Sequence[str] = (),
        retry_window_ms: int = DEFAULT_RETRY_WINDOW_MS,
        disable_after: int = DEFAULT_DISABLE_AFTER,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.clock = clock
        self.wake = wake
        self.resolver = resolver
        self.allow: list[IPNetwork] = [ipaddress.ip_network(net, strict=False) for net in allow]
        self.retry_window_ms = retry_window_ms
        self.disable_after = disable_after
        self.timeout_s = timeout_s
        #: TLS for https:// targets (:func:`webhook_ssl_context`): the system's CAs unless the operator adds some.
        self.ssl_context = _verifying(ssl_context or webhook_ssl_context())
        #: Tenants with an enabled webhook, as this node last saw them.
        self.hooked: set[int] = set()
        self._fan_outs = TenantRunner(self.fan_out, name="fan out webhook deliveries")

    # -- lifecycle and fan-out -------------------------------------------------------

    async def start(self) -> None:
        """Learn which tenants have webhooks and catch up on events committed but not yet
        fanned out (the node stopped in between)."""
        self.hooked = set(await self.store.read(ops.hooked_tenants))
        for tenant_id in sorted(self.hooked):
            await self.fan_out(tenant_id)

    def on_commit(self, events: Sequence[domain.EventRecord]) -> None:
        """After a commit: fan out the hooked tenants' new events (in the background). Never raises: it
        runs in the commit's publication."""
        try:
            self._on_commit(events)
        except Exception:
            log.exception("could not react to committed events")

    def _on_commit(self, events: Sequence[domain.EventRecord]) -> None:
        # One fan-out per tenant at a time, once more if a commit comes while it runs; when the database is
        # away, the next commit or start fans these events out (:class:`~.tenant_runner.TenantRunner`).
        for event in events:
            if event.tenant_id in self.hooked and event.kind in p.WEBHOOK_EVENTS:
                self._fan_outs.poke(event.tenant_id)

    async def fan_out(self, tenant_id: int) -> int:
        """Make the deliveries of the tenant's events not fanned out yet; how many."""
        total = 0
        while True:
            made, more = await self.store.write(ops.fan_out, tenant_id, now=self.clock.now_ms())
            total += made
            if not more:
                break
        if total:
            self.wake()
        return total

    async def _refresh_hooked(self) -> None:
        self.hooked = set(await self.store.read(ops.hooked_tenants))

    # -- the deliver job ---------------------------------------------------------------

    async def deliver(self, job: Job) -> None:
        """Send one delivery (a ``webhook.deliver`` job). Raises to have the runner retry it
        with backoff; returns when it was delivered, given up, or is moot."""
        delivery = await self.store.read(ops.to_send, int(job.payload["delivery_id"]))
        if delivery is None or delivery.status == "delivered":
            return  # deleted with its webhook, erased, or already sent by an earlier run of this job
        now = self.clock.now_ms()
        if not delivery.enabled:
            await self.store.write(ops.finish_delivery, delivery.id, "failed", "the webhook is switched off", now=now)
            return
        status: int | None = None
        try:
            address = await resolve_checked(delivery.url, self.resolver, self.allow)
            timestamp = now // 1000
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Frontdesk-Webhooks",
                "webhook-id": delivery.msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": await self._signatures(
                    delivery.tenant_id, delivery.webhook_id, delivery, timestamp
                ),
            }
            status = await post(
                delivery.url,
                address,
                headers,
                delivery.body.encode(),
                timeout=self.timeout_s,
                ssl_context=self.ssl_context,
            )
            error = "" if 200 <= status < 300 else f"HTTP {status}"
        except (OSError, TimeoutError, UnsafeTarget, SecretKeyError, ConnectionError) as exc:
            error = str(exc) or type(exc).__name__
        now = self.clock.now_ms()
        ok = not error
        give_up = not ok and now - delivery.retry_from >= self.retry_window_ms
        outcome = await self.store.write(
            ops.record_attempt,
            delivery.id,
            ok=ok,
            response_status=status,
            error=error,
            now=now,
            give_up=give_up,
            disable_after=self.disable_after,
        )
        if outcome == "pending":
            raise ConnectionError(f"webhook delivery {delivery.id} failed: {error}")
        if outcome == "failed":
            log.warning("gave up webhook delivery %d after its retry window: %s", delivery.id, error)

    async def _signatures(self, tenant_id: int, webhook_id: int, delivery: ops.DeliveryToSend, timestamp: int) -> str:
        if self.secrets is None:
            raise SecretKeyError("the server has no secret key to open the webhook secret with")
        current = await self.secrets.get(tenant_id, ops.secret_name(webhook_id))
        if current is None:
            raise SecretKeyError("the webhook has no secret")
        previous = await self.secrets.get(tenant_id, ops.secret_name(webhook_id, previous=True))
        return " ".join(
            sign(secret, delivery.msg_id, timestamp, delivery.body) for secret in (current, previous) if secret
        )

    # -- requests (admin only) ---------------------------------------------------------

    def request_handlers(self, require_admin: Callable[[Any, p.Request], None]) -> dict[type[p.Request], Any]:
        """The agent requests this feature answers, each checking the admin role first."""

        def admin(handler: Callable[[Any, Any], Awaitable[p.Result]]) -> Callable[[Any, Any], Awaitable[p.Result]]:
            async def checked(client: Any, req: Any) -> p.Result:
                require_admin(client, req)
                return await handler(client, req)  # the store's NotFound is a ProtocolError: `not_found`

            return checked

        return {
            p.WebhookList: admin(self._list),
            p.WebhookCreate: admin(self._create),
            p.WebhookUpdate: admin(self._update),
            p.WebhookDelete: admin(self._delete),
            p.WebhookRotateSecret: admin(self._rotate),
            p.WebhookEndRotation: admin(self._end_rotation),
            p.WebhookDeliveries: admin(self._deliveries),
            p.WebhookRedeliver: admin(self._redeliver),
        }

    def _secret_store(self, req: p.Request) -> SecretStore:
        if self.secrets is None:
            raise ProtocolError(
                ErrorCode.UNAVAILABLE,
                "this server has no secret key for webhook secrets: start it with --secret-key-file or"
                ' FRONTDESK_SECRET_KEYS (docs/OPERATIONS.md, "Secrets")',
                req.ref,
            )
        return self.secrets

    @staticmethod
    def _events(text: str, req: p.Request) -> list[str]:
        events = [e.strip() for e in text.split(",") if e.strip()]
        unknown = [e for e in events if e not in p.WEBHOOK_EVENTS]
        if not events or unknown:
            raise ProtocolError(
                ErrorCode.INVALID,
                f"field 'events': {'unknown event ' + repr(unknown[0]) if unknown else 'name at least one event'};"
                f" one of {', '.join(p.WEBHOOK_EVENTS)}",
                req.ref,
                field="events",
            )
        return events

    async def _check_url(self, url: str, req: p.Request) -> str:
        try:
            await resolve_checked(url, self.resolver, self.allow)
        except UnsafeTarget as exc:
            raise ProtocolError(ErrorCode.INVALID, f"field 'url': {exc}", req.ref, field="url") from None
        return url.strip()

    async def _list(self, client: Any, req: p.WebhookList) -> p.WebhooksResult:
        return p.WebhooksResult(webhooks=await self.store.read(ops.list_webhooks, client.tenant_id))

    async def _create(self, client: Any, req: p.WebhookCreate) -> p.WebhookSecretResult:
        secrets = self._secret_store(req)
        events = self._events(req.events, req)
        url = await self._check_url(req.url, req)
        hook = await self.store.write(
            ops.create_webhook, client.tenant_id, url, events, req.description.strip(), now=self.clock.now_ms()
        )
        secret = new_secret()
        try:
            await secrets.put(client.tenant_id, ops.secret_name(hook.id), secret)
        except BaseException:
            await self.store.write(ops.delete_webhook, client.tenant_id, hook.id)
            raise
        self.hooked.add(client.tenant_id)
        log.info("agent %s added webhook %d", client.agent_id, hook.id)
        return p.WebhookSecretResult(webhook=hook, secret=secret)

    async def _update(self, client: Any, req: p.WebhookUpdate) -> p.WebhookResult:
        changes: dict[str, Any] = {"description": req.description, "enabled": req.enabled}
        if req.events is not None:
            changes["events"] = self._events(req.events, req)
        if req.url is not None:
            changes["url"] = await self._check_url(req.url, req)
        hook = await self.store.write(
            ops.update_webhook, client.tenant_id, req.webhook_id, changes, now=self.clock.now_ms()
        )
        await self._refresh_hooked()
        return p.WebhookResult(webhook=hook)

    async def _delete(self, client: Any, req: p.WebhookDelete) -> p.Result:
        await self.store.write(ops.delete_webhook, client.tenant_id, req.webhook_id)
        await self._refresh_hooked()
        return p.Result()

    async def _rotate(self, client: Any, req: p.WebhookRotateSecret) -> p.WebhookSecretResult:
        secrets = self._secret_store(req)
        await self.store.read(ops.get_webhook, client.tenant_id, req.webhook_id)
        current = await secrets.get(client.tenant_id, ops.secret_name(req.webhook_id))
        if current is not None:
            await secrets.put(client.tenant_id, ops.secret_name(req.webhook_id, previous=True), current)
        secret = new_secret()
        await secrets.put(client.tenant_id, ops.secret_name(req.webhook_id), secret)
        hook = await self.store.read(ops.get_webhook, client.tenant_id, req.webhook_id)
        return p.WebhookSecretResult(webhook=hook, secret=secret)

    async def _end_rotation(self, client: Any, req: p.WebhookEndRotation) -> p.WebhookResult:
        secrets = self._secret_store(req)
        await self.store.read(ops.get_webhook, client.tenant_id, req.webhook_id)
        await secrets.delete(client.tenant_id, ops.secret_name(req.webhook_id, previous=True))
        return p.WebhookResult(webhook=await self.store.read(ops.get_webhook, client.tenant_id, req.webhook_id))

    async def _deliveries(self, client: Any, req: p.WebhookDeliveries) -> p.WebhookDeliveriesResult:
        deliveries = await self.store.read(
            ops.list_deliveries, client.tenant_id, req.webhook_id, before=req.before, limit=req.limit
        )
        return p.WebhookDeliveriesResult(deliveries=deliveries)

    async def _redeliver(self, client: Any, req: p.WebhookRedeliver) -> p.WebhookDeliveryResult:
        delivery = await self.store.write(ops.redeliver, client.tenant_id, req.delivery_id, now=self.clock.now_ms())
        self.wake()
        return p.WebhookDeliveryResult(delivery=delivery)
