"""Webhooks end to end (server/webhooks.py): a real HTTP receiver in the test, the server in process
with a ManualClock, an injected resolver (there is no DNS here) and loopback allow-listed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec

import pytest
from frontdesk.server import webhooks
from frontdesk.server.app import FrontdeskServer, ServerSettings
from frontdesk.server.jobs import ManualClock
from frontdesk.server.secrets import SecretBox, generate_key
from frontdesk.server.store import jobs, messages
from frontdesk.server.webhooks import UnsafeTarget

from tests.server.tls_support import make_certs
from tests.support import TIMEOUT, InProcessServer, ServerError, WsClient, init_demo, run_on_store

HOST = "hooks.test"
P = ParamSpec("P")
MINUTE = 60_000


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's side of Standard Webhooks: does one of the signatures match ``secret``?"""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig == f"v1,{expected}" for sig in headers["webhook-signature"].split(" "))


class Receiver:
    """An HTTP server on 127.0.0.1, port 0: checks each request's signature, answers 500 to the first
    ``fail_first`` requests and 204 to the rest, and keeps what it accepted."""

    def __init__(self, fail_first: int = 0, *, tls: ssl.SSLContext | None = None) -> None:
        self.fail_first = fail_first
        self.tls = tls
        self.secrets: list[str] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.changed = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}/hook"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        assert head[0] == "POST /hook HTTP/1.1"
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        body = await reader.readexactly(int(headers["content-length"]))
        self.requests.append((headers, body))
        signed = any(verify(s, headers, body) for s in self.secrets)
        if not signed or len(self.requests) <= self.fail_first:
            status = "401 Unauthorized" if not signed else "500 Internal Server Error"
        else:
            status = "204 No Content"
            self.accepted.append((headers, body))
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()
        self.changed.set()

    def accepted_ids(self) -> list[str]:
        return [h["webhook-id"] for h, _ in self.accepted]


async def loopback_resolver(host: str, port: int) -> list[str]:
    """The test's DNS: the receiver's name and a name that points at loopback, nothing else."""
    if host in (HOST, "sneaky.example"):
        return ["127.0.0.1"]
    if host == "public.example":
        return ["93.184.216.34"]
    raise OSError(f"no such host {host}")


class Harness:
    """The server in this loop on one database, restartable; one secret key and clock across restarts."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        self.db_url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
        self.box = SecretBox([generate_key()])
        self.clock = ManualClock()
        self.settings = settings
        self.app: FrontdeskServer | None = None
        self.address: InProcessServer | None = None
        self.info: dict[str, Any] = {}

    async def start(self) -> InProcessServer:
        if not self.info:
            self.info = await asyncio.to_thread(init_demo, self.db_url)
        settings = ServerSettings(db_url=self.db_url, host="127.0.0.1", port=0, **self.settings)
        self.app = FrontdeskServer(settings, clock=self.clock, secret_box=self.box, resolver=loopback_resolver)
        await self.app.start()
        self.address = InProcessServer.from_init(self.db_url, self.info, port=self.app.port, app=self.app)
        return self.address

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    async def no_deliveries_queued(self) -> bool:
        assert self.app is not None
        return not await self.app.store.read(jobs.pending, "webhook.deliver")

    async def run_until(self, done: Callable[[], Any], *, step_ms: int = 5_000) -> None:
        """Advance the clock a step at a time, so that retries come due for the node's own job
        runner, until ``done()`` (a bool, or an awaitable of one). Steps stay well below the
        jobs' lease, which the runner renews on the same clock."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while True:
            result = done()
            if await result if asyncio.iscoroutine(result) else result:
                return
            assert loop.time() < deadline, "timed out waiting for deliveries"
            assert self.app is not None
            if not self.app.jobs.in_flight:  # a running job's lease must not expire under it
                self.clock.advance(step_ms)
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def harness(tmp_path: Path, **settings: Any) -> AsyncIterator[Harness]:
    h = Harness(tmp_path, webhook_allow=("127.0.0.0/8",), **settings)
    try:
        yield h
    finally:
        await h.stop()


async def visitor_says(server: InProcessServer, *bodies: str) -> int:
    """A new visitor's conversation with ``bodies``; the visitor's id."""
    visitor, hello = await WsClient.visitor(server)
    conv = await visitor.request("conversation.start")
    for body in bodies:
        await visitor.request("message.send", conversation_id=conv["conversation"]["id"], client_id=_uuid(), body=body)
    await visitor.close()
    return int(hello["visitor"]["id"])


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def in_loop(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test in a fresh event loop (the suite has no asyncio plugin)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


# -- pure parts --------------------------------------------------------------------------------


def test_signature_matches_the_standard_webhooks_example() -> None:
    """sign() gives the signature of the Standard Webhooks specification's worked example."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signature = webhooks.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_private_and_loopback_addresses_are_refused_unless_allow_listed() -> None:
    """check_address refuses loopback, private, link-local and mapped loopback, and lets allow-listed nets through."""
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "0.0.0.0"):  # noqa: S104 - an address refused, not bound
        with pytest.raises(UnsafeTarget):
            webhooks.check_address(address, [])
    webhooks.check_address("93.184.216.34", [])
    import ipaddress

    webhooks.check_address("127.0.0.1", [ipaddress.ip_network("127.0.0.0/8")])


# -- end to end --------------------------------------------------------------------------------


@in_loop
async def test_deliveries_are_signed_retried_and_survive_a_restart_once_each(tmp_path: Path) -> None:
    """A receiver failing the first 3 requests gets every event once in the end, signed, across a restart."""
    async with Receiver(fail_first=3) as receiver, harness(tmp_path) as h:
        server = await h.start()
        admin, _ = await WsClient.agent(server)
        created = await admin.request("webhook.create", url=receiver.url, events="message.created,conversation.created")
        receiver.secrets.append(created["secret"])
        assert created["secret"].startswith("whsec_")
        visitor_id = await visitor_says(server, "one", "two")
        # The first three requests fail (a retry may already be on its way when the third is seen).
        await h.run_until(lambda: len(receiver.requests) >= 3)
        await admin.close()

        await h.stop()  # the deliveries are queued jobs now, not timers
        # An event committed with no server to fan it out (as if a node died right after a commit).
        await asyncio.to_thread(run_on_store, h.db_url, functools.partial(_post_as_visitor, visitor_id, "three"))
        server = await h.start()
        await h.run_until(h.no_deliveries_queued)
        ids = receiver.accepted_ids()
        assert len(ids) == len(set(ids)) == 4  # none lost, none twice
        kinds = sorted(json.loads(body)["type"] for _, body in receiver.accepted)
        assert kinds == ["conversation.created"] + ["message.created"] * 3

        admin, _ = await WsClient.agent(server)
        [hook] = (await admin.request("webhook.list"))["webhooks"]
        log = (await admin.request("webhook.deliveries", webhook_id=hook["id"]))["deliveries"]
        assert sorted(d["status"] for d in log) == ["delivered"] * 4
        assert sum(d["attempts"] for d in log) == 7  # 3 failed attempts and 4 successful ones
        assert hook["failures"] == 0
        await admin.close()


@in_loop
async def test_a_url_resolving_to_loopback_is_refused_without_the_allow_list(tmp_path: Path) -> None:
    """webhook.create with a URL whose host resolves to 127.0.0.1 is `invalid` on `url`, and nothing is stored."""
    h = Harness(tmp_path)
    try:
        server = await h.start()
        admin, _ = await WsClient.agent(server)
        for url in ("http://sneaky.example/x", "http://127.0.0.1:9/x", "ftp://public.example/", "http://nowhere.test/"):
            with pytest.raises(ServerError) as caught:
                await admin.request("webhook.create", url=url, events="message.created")
            assert (caught.value.code, caught.value.frame.get("field")) == ("invalid", "url")
        with pytest.raises(ServerError, match=r"127\.0\.0\.1"):
            await admin.request("webhook.create", url="http://sneaky.example/x", events="message.created")
        with pytest.raises(ServerError, match="unknown event 'nope'"):
            await admin.request("webhook.create", url="https://public.example/x", events="nope")
        assert (await admin.request("webhook.list"))["webhooks"] == []
        await admin.close()
    finally:
        await h.stop()


@in_loop
async def test_webhooks_are_for_admins_only(tmp_path: Path) -> None:
    """An agent who is not an admin is refused every webhook request."""
    async with harness(tmp_path) as h:
        server = await h.start()
        admin, _ = await WsClient.agent(server)
        added = await admin.request("agent.add", email="agent@example.com", name="Agent")
        agent_password = added["password"]
        agent, _ = await WsClient.agent(server, "agent@example.com", agent_password)
        with pytest.raises(ServerError) as caught:
            await agent.request("webhook.list")
        assert caught.value.code == "forbidden"
        await agent.close()


async def _post_as_visitor(visitor_id: int, body: str, store: Any) -> None:
    await store.write(
        messages.post_message,
        1,
        author_kind="visitor",
        author_id=visitor_id,
        conversation_id=None,
        client_id=_uuid(),
        body=body,
    )


@in_loop
async def test_rotation_signs_with_both_secrets_until_it_ends(tmp_path: Path) -> None:
    """After rotate_secret a delivery verifies with the old secret and with the new; after end_rotation only the new."""
    async with Receiver() as receiver, harness(tmp_path) as h:
        server = await h.start()
        admin, _ = await WsClient.agent(server)
        created = await admin.request("webhook.create", url=receiver.url, events="message.created")
        hook_id = created["webhook"]["id"]
        rotated = await admin.request("webhook.rotate_secret", webhook_id=hook_id)
        assert rotated["webhook"]["rotating"] is True and rotated["secret"] != created["secret"]
        receiver.secrets.append(created["secret"])  # a receiver not yet told of the new secret
        await visitor_says(server, "during the rotation")
        await h.run_until(lambda: len(receiver.accepted) == 1)
        headers, body = receiver.accepted[0]
        assert verify(rotated["secret"], headers, body) and len(headers["webhook-signature"].split(" ")) == 2

        ended = await admin.request("webhook.end_rotation", webhook_id=hook_id)
        assert ended["webhook"]["rotating"] is False
        receiver.secrets = [rotated["secret"]]
        await visitor_says(server, "after the rotation")
        await h.run_until(lambda: len(receiver.accepted) == 2)
        headers, body = receiver.accepted[1]
        assert not verify(created["secret"], headers, body) and verify(rotated["secret"], headers, body)
        await admin.close()


@in_loop
async def test_a_failing_endpoint_is_switched_off_and_redelivery_sends_the_same_id(tmp_path: Path) -> None:
    """After `disable_after` failures in a row the webhook is off; switched on again, a redelivery succeeds
    with the original webhook-id."""
    async with Receiver(fail_first=2) as receiver, harness(tmp_path, webhook_disable_after=2) as h:
        server = await h.start()
        admin, _ = await WsClient.agent(server)
        created = await admin.request("webhook.create", url=receiver.url, events="message.created")
        receiver.secrets.append(created["secret"])
        hook_id = created["webhook"]["id"]
        await visitor_says(server, "hello")

        async def log() -> list[dict[str, Any]]:
            return list((await admin.request("webhook.deliveries", webhook_id=hook_id))["deliveries"])

        async def settled() -> bool:
            entries = await log()  # fanned out after the commit: may not be there yet
            return bool(entries) and entries[0]["status"] == "failed"

        await h.run_until(settled)
        [hook] = (await admin.request("webhook.list"))["webhooks"]
        assert (hook["enabled"], hook["disabled_reason"]) == (False, "2 failed attempts in a row")
        [entry] = await log()
        assert (entry["last_error"], len(receiver.requests)) == ("the webhook is switched off", 2)

        await admin.request("webhook.update", webhook_id=hook_id, enabled=True)
        again = await admin.request("webhook.redeliver", delivery_id=entry["id"])
        assert again["delivery"]["status"] == "pending"
        await h.run_until(lambda: len(receiver.accepted) == 1)
        assert receiver.accepted_ids() == [entry["msg_id"]]
        await admin.close()


@in_loop
async def test_a_delivery_is_given_up_after_its_retry_window(tmp_path: Path) -> None:
    """A delivery failing past the retry window is marked failed, with its last error, and its job is gone."""
    async with Receiver(fail_first=10**6) as receiver, harness(tmp_path, webhook_retry_window_ms=10 * MINUTE) as h:
        server = await h.start()
        admin, _ = await WsClient.agent(server)
        created = await admin.request("webhook.create", url=receiver.url, events="message.created")
        receiver.secrets.append(created["secret"])
        await visitor_says(server, "hello")

        async def given_up() -> bool:
            # The job marks the delivery failed, then the runner deletes the finished job in its next write:
            # wait for both, not for the first alone (a loaded machine runs the check in between).
            log = (await admin.request("webhook.deliveries", webhook_id=created["webhook"]["id"]))["deliveries"]
            left = await h.app.store.read(jobs.pending, "webhook.deliver")  # type: ignore[union-attr]
            return bool(log) and log[0]["status"] == "failed" and not left

        await h.run_until(given_up, step_ms=MINUTE // 2)
        [entry] = (await admin.request("webhook.deliveries", webhook_id=created["webhook"]["id"]))["deliveries"]
        assert entry["last_error"] == "HTTP 500" and entry["response_status"] == 500 and entry["attempts"] >= 2
        await admin.close()


@in_loop
async def test_https_deliveries_verify_the_receivers_certificate(tmp_path: Path) -> None:
    """An https:// webhook to a real TLS receiver: refused while the server does not trust the receiver's CA
    (the handshake fails, nothing reaches the receiver); once the operator adds the CA (--webhook-ca-file), the
    same delivery goes through, signed."""
    certs = make_certs(tmp_path / "tls", names=(HOST,))
    async with Receiver(tls=certs.server_context()) as receiver, harness(tmp_path) as h:
        server = await h.start()
        admin, _ = await WsClient.agent(server)
        created = await admin.request("webhook.create", url=receiver.url, events="message.created")
        assert receiver.url.startswith("https://")
        receiver.secrets.append(created["secret"])
        hook_id = created["webhook"]["id"]
        await visitor_says(server, "over TLS")

        async def failed_once() -> bool:
            log = (await admin.request("webhook.deliveries", webhook_id=hook_id))["deliveries"]
            return bool(log) and log[0]["attempts"] >= 1

        await h.run_until(failed_once)
        [entry] = (await admin.request("webhook.deliveries", webhook_id=hook_id))["deliveries"]
        assert entry["status"] == "pending" and "certificate verify failed" in entry["last_error"]
        assert receiver.requests == []  # the untrusted handshake carried no request
        await admin.close()

        await h.stop()
        h.settings["webhook_ca_file"] = str(certs.ca_file)
        server = await h.start()
        await h.run_until(lambda: len(receiver.accepted) == 1)
        [(headers, body)] = receiver.accepted
        assert headers["webhook-id"] == entry["msg_id"] and json.loads(body)["data"]["body"] == "over TLS"
        assert verify(created["secret"], headers, body)


def test_a_delivery_refuses_a_tls_context_that_does_not_verify() -> None:
    """post() will not send over TLS that checks no certificate or host name (no knob turns verification off)."""
    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError, match="verify"):
        asyncio.run(webhooks.post("https://hooks.test/x", "127.0.0.1", {}, b"{}", timeout=1, ssl_context=lax))
    with pytest.raises(ValueError, match="verify"):
        webhooks.Webhooks(None, None, ManualClock(), wake=lambda: None, ssl_context=lax)  # type: ignore[arg-type]
