"""Abuse: agent roles, identity verification, token hygiene, frame size,
floods and agent credentials (issue 5, cases 14 to 18 and 21)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server import domain
from websockets.exceptions import ConnectionClosed

from tests.adversarial._util import (
    add_tenant,
    assert_log_clean,
    db_rows,
    frame,
    raw_handshake,
    read_close,
    rss_kib,
    spoofed,
)
from tests.support import TIMEOUT, RunningServer, WsClient, new_client_id, start_server


async def _error(client: WsClient, type_: str, **fields: Any) -> dict[str, Any]:
    reply = await client.request_frame(type_, **fields)
    assert reply["type"] == "error", (type_, reply)
    return reply


async def _login(server: RunningServer, email: str, password: str, **connect: Any) -> tuple[WsClient, dict[str, Any]]:
    client = await WsClient.connect(server.agent_url, **connect)
    return client, await client.request_frame("login", email=email, password=password)


# -- 14. agent roles ------------------------------------------------------------------------------


def test_plain_agent_gets_forbidden_on_admin_requests(server: RunningServer) -> None:
    """Attack: a plain agent sends config.set, agent.add and agent.update (promoting
    itself, disabling or re-passwording the admin); each is forbidden and nothing changes."""
    password = server.add_agent("plain@demo.test", "Plain")

    async def scenario() -> None:
        admin, admin_login = await WsClient.agent(server)
        plain, login = await WsClient.agent(server, "plain@demo.test", password)
        me, admin_id = login["agent"]["id"], admin_login["agent"]["id"]
        for type_, fields in [
            ("config.set", {"config": {"allowed_origins": ["evil.io"]}}),
            ("config.set", {"config": {"require_identity": False}}),
            ("agent.add", {"email": "mole@demo.test", "name": "Mole", "role": "admin", "password": "mole-password"}),
            ("agent.update", {"agent_id": me, "role": "admin"}),
            ("agent.update", {"agent_id": admin_id, "active": False}),
            ("agent.update", {"agent_id": admin_id, "password": "taken-over-1"}),
        ]:
            err = await _error(plain, type_, **fields)
            assert err["code"] == "forbidden", (type_, err)
        config = (await admin.request("config.get"))["config"]
        assert "evil.io" not in config["allowed_origins"]
        agents = {a["email"]: a for a in (await admin.request("agents"))["agents"]}
        assert "mole@demo.test" not in agents
        assert agents["plain@demo.test"]["role"] == "agent" and agents[server.admin_email]["active"] is True
        await asyncio.sleep(0.2)
        assert [f for f in admin.drain() if f.get("kind") in ("config.updated", "agent.updated")] == []
        relog, again = await _login(server, server.admin_email, server.admin_password)
        assert again["type"] == "reply"
        for c in (admin, plain, relog):
            await c.close()

    asyncio.run(scenario())


def test_disabled_agent_sockets_close_1008_and_token_dies(server: RunningServer) -> None:
    """Attack: an agent keeps working after an admin disables them; both of their open
    sockets close with 1008 at once, their token is refused, and login is forbidden."""
    password = server.add_agent("gone@demo.test", "Gone")

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        s1, login = await WsClient.agent(server, "gone@demo.test", password)
        s2 = await WsClient.connect(server.agent_url)
        await s2.request("auth", token=login["token"])
        await s2.request("subscribe")
        await admin.request("agent.update", agent_id=login["agent"]["id"], active=False)
        for s in (s1, s2):
            code, _ = await s.wait_closed(TIMEOUT)
            assert code == 1008
        retry = await WsClient.connect(server.agent_url)
        assert (await _error(retry, "auth", token=login["token"]))["code"] == "unauthorized"
        relog, reply = await _login(server, "gone@demo.test", password)
        assert reply["type"] == "error" and reply["code"] == "forbidden"
        for c in (admin, s1, s2, retry, relog):
            await c.close()

    asyncio.run(scenario())


def test_admin_who_disables_themselves_loses_the_socket_too(server: RunningServer) -> None:
    """Attack: an admin disables their own account (another admin remains) and keeps
    using the socket that sent the request; it is closed with 1008 after the reply."""
    password = server.add_agent("second@demo.test", "Second", role="admin")

    async def scenario() -> None:
        second, login = await WsClient.agent(server, "second@demo.test", password)
        await second.request("agent.update", agent_id=login["agent"]["id"], active=False)
        code, _ = await second.wait_closed(TIMEOUT)
        assert code == 1008
        await second.close()

    asyncio.run(scenario())


def test_agent_disabled_from_the_cli_is_cut_off_too(server: RunningServer) -> None:
    """Attack: an agent stays connected after `frontdesk agent disable` (another
    process wrote the change); the running server closes their socket with 1008."""
    password = server.add_agent("cli@demo.test", "Cli")

    async def scenario() -> None:
        s1, _ = await WsClient.agent(server, "cli@demo.test", password)
        await asyncio.to_thread(server.cli, "agent", "disable", "--email", "cli@demo.test")
        code, _ = await s1.wait_closed(TIMEOUT)
        assert code == 1008
        await s1.close()

    asyncio.run(scenario())


# -- 15. identity verification ------------------------------------------------------------------


def test_identity_required_refuses_unverified_stale_and_forged(relaxed_server: RunningServer) -> None:
    """Attack: with require_identity on, a visitor sends without identity, with a wrong
    hash, another user's hash, a stale or future timestamp, a non-hex or non-ASCII hash;
    all are forbidden, nothing is stored, and only a fresh valid HMAC lets them send."""
    server = relaxed_server
    secret = server.identity_secret

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        await admin.request("config.set", config={"require_identity": True})
        visitor, _ = await WsClient.visitor(server)
        assert (await _error(visitor, "message.send", client_id=new_client_id(), body="x"))["code"] == "forbidden"
        assert (await _error(visitor, "conversation.start"))["code"] == "forbidden"
        now = int(time.time())
        good = domain.identity_hash(secret, "user-1", now)
        old, future = now - 25 * 3600, now + 25 * 3600
        forged: list[dict[str, Any]] = [
            {"user_id": "user-1", "ts": now, "user_hash": "0" * 64},
            {"user_id": "user-1", "ts": now, "user_hash": domain.identity_hash(secret, "user-2", now)},
            {"user_id": "user-1", "ts": old, "user_hash": domain.identity_hash(secret, "user-1", old)},
            {"user_id": "user-1", "ts": future, "user_hash": domain.identity_hash(secret, "user-1", future)},
            {"user_id": "user-1", "ts": now + 1, "user_hash": good},  # a hash for another timestamp
            {"user_id": "user-1", "ts": now, "user_hash": domain.identity_hash("wrong secret", "user-1", now)},
            {"user_id": "user-1", "ts": now, "user_hash": "é" * 64},  # non-ASCII
            {"user_id": "user-1", "ts": now, "user_hash": good[:-1]},  # truncated
            {"user_id": "user-1", "ts": now},  # no hash
            {"user_id": "user-1", "user_hash": good},  # no timestamp
        ]
        for identity in forged:
            err = await _error(visitor, "identify", **identity)
            assert err["code"] == "forbidden", (identity, err)
            assert (await _error(visitor, "message.send", client_id=new_client_id(), body="x"))["code"] == "forbidden"
        # hello.identity is checked the same way.
        other = await WsClient.connect(server.visitor_url, origin=server.origin)
        err = await _error(other, "hello", identity=forged[0])
        assert err["code"] == "forbidden"
        assert db_rows(server, "SELECT COUNT(*) AS n FROM messages")[0]["n"] == 0
        ok = await visitor.request("identify", user_id="user-1", ts=now, user_hash=good.upper())
        assert ok["visitor"]["verified"] is True and ok["visitor"]["user_id"] == "user-1"
        sent = await visitor.request("message.send", client_id=new_client_id(), body="verified hello")
        assert sent["seq"] == 1
        for c in (admin, visitor, other):
            await c.close()
        assert_log_clean(server)

    asyncio.run(scenario())


def test_identity_hash_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The identity check compares digests with hmac.compare_digest (constant time),
    never with ==, and refuses timestamps more than 24 hours away before comparing."""
    calls: list[tuple[Any, Any]] = []
    real = domain.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(domain.hmac, "compare_digest", spy)
    now = 1_764_120_000
    good = domain.identity_hash("s3cret", "u", now)
    assert domain.verify_identity("s3cret", "u", now, good, now + 10) is True
    assert domain.verify_identity("s3cret", "u", now, "f" * 64, now) is False
    assert len(calls) == 2
    assert domain.verify_identity("s3cret", "u", now, good, now + 24 * 3600 + 1) is False
    assert domain.verify_identity("s3cret", "u", now, good, now - 24 * 3600 - 1) is False
    assert len(calls) == 2  # stale timestamps are refused before any comparison


# -- 16. token hygiene ----------------------------------------------------------------------------


def test_tokens_stay_out_of_urls_logs_and_other_users_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack: look for visitor and agent tokens (and their hashes) in the server log at
    DEBUG level, in the URL, and in every frame other users receive; none is found."""
    monkeypatch.setenv("FRONTDESK_LOG_LEVEL", "DEBUG")
    server = start_server(tmp_path)

    async def scenario() -> list[str]:
        agent, login = await WsClient.agent(server)
        observer, _ = await WsClient.agent(server)
        alice, ha = await WsClient.visitor(server)
        bob, hb = await WsClient.visitor(server)
        a = await alice.request("message.send", client_id=new_client_id(), body="hi")
        await bob.request("message.send", client_id=new_client_id(), body="hi")
        await agent.request("reply", conversation_id=a["conversation_id"], client_id=new_client_id(), body="yo")
        await agent.request("visitor.get", visitor_id=ha["visitor"]["id"])
        await agent.request("snapshot")
        await agent.request("agents")
        # A token in the URL is ignored: the socket is a brand-new visitor.
        url_visitor = await WsClient.connect(server.visitor_url + "&token=" + ha["token"], origin=server.origin)
        fresh = await url_visitor.request("hello")
        assert fresh["visitor"]["id"] != ha["visitor"]["id"]
        bad = await WsClient.connect(server.agent_url)
        await _error(bad, "auth", token="not-a-real-token-" + "x" * 30)
        again = await WsClient.connect(server.agent_url)
        await again.request("auth", token=login["token"])
        await again.request("logout")
        await asyncio.sleep(0.3)
        secrets = {"alice": ha["token"], "bob": hb["token"], "agent": login["token"]}
        from frontdesk.server.auth import token_hash

        secrets |= {f"{k}-hash": token_hash(v) for k, v in list(secrets.items())}
        leaks = []
        for name, client in (("observer", observer), ("bob", bob), ("url_visitor", url_visitor), ("alice", alice)):
            text = str(client.frames)
            for what, value in secrets.items():
                own = (name == "alice" and what == "alice") or (name == "bob" and what == "bob")
                if value in text and not own:
                    leaks.append(f"{what} token in {name}'s frames")
        for c in (agent, observer, alice, bob, url_visitor, bad, again):
            await c.close()
        log = server.log_path.read_text(errors="replace")
        for what, value in secrets.items():
            if value[:8] in log or value[-8:] in log:
                leaks.append(f"{what} token in the server log")
        return leaks

    try:
        assert asyncio.run(scenario()) == []
    finally:
        server.stop()


def test_logout_revokes_the_token_on_every_socket_at_once(server: RunningServer) -> None:
    """Attack: a stolen token keeps working on another socket after logout; logout
    answers, closes its socket with 1000 and every other socket on that token with
    1008, the token is refused afterwards, and a different login stays open."""

    async def scenario() -> None:
        s1, login = await WsClient.agent(server)
        s2 = await WsClient.connect(server.agent_url)
        await s2.request("auth", token=login["token"])
        await s2.request("subscribe")
        other, _ = await WsClient.agent(server)  # the same agent, another token
        reply = await s1.request("logout")
        assert reply["type"] == "reply"
        assert (await s1.wait_closed())[0] == 1000
        assert (await s2.wait_closed())[0] == 1008
        retry = await WsClient.connect(server.agent_url)
        assert (await _error(retry, "auth", token=login["token"]))["code"] == "unauthorized"
        assert (await other.request("ping"))["type"] == "reply"
        for c in (s1, s2, other, retry):
            await c.close()

    asyncio.run(scenario())


# -- 17. size -----------------------------------------------------------------------------------


def test_oversized_frames_close_1009_with_bounded_memory(server: RunningServer) -> None:
    """Attack: a text frame over 64 KiB, a header announcing 1 TiB, and 80 KiB in
    fragments; each closes with 1009, the server's memory stays flat, and it serves on."""
    assert server.process is not None
    pid = server.process.pid

    async def one(payload_frames: list[bytes]) -> int | None:
        reader, writer, head = await raw_handshake(server, "/v1/agent", None)
        assert head.startswith(b"HTTP/1.1 101")
        for f in payload_frames:
            writer.write(f)
        await writer.drain()
        code, _ = await read_close(reader)
        writer.close()
        return code

    async def scenario() -> None:
        await one([frame(0x1, b"x" * (64 * 1024 + 1))])  # warm up buffers before measuring
        before = rss_kib(pid)
        for _ in range(10):
            assert await one([frame(0x1, b"x" * (64 * 1024 + 1))]) == 1009
            assert await one([frame(0x1, b"x" * 1024, length=1 << 40)]) == 1009
            fragments = [frame(0x1, b"a" * 4096, fin=False)]
            fragments += [frame(0x0, b"a" * 4096, fin=False) for _ in range(18)]
            fragments += [frame(0x0, b"a" * 4096)]
            assert await one(fragments) == 1009
        after = rss_kib(pid)
        assert after - before < 16 * 1024, (before, after)
        ok, _ = await WsClient.agent(server)
        await ok.close()

    asyncio.run(scenario())


def test_compression_is_never_negotiated(server: RunningServer) -> None:
    """Attack: the client offers permessage-deflate (zip bombs, CRIME-style leaks);
    the server's handshake answer accepts no extension."""

    async def scenario() -> None:
        for path, origin in ((f"/v1/visitor?site={server.site_key}", server.origin), ("/v1/agent", None)):
            _, w, head = await raw_handshake(
                server, path, origin, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
            )
            assert head.startswith(b"HTTP/1.1 101") and b"sec-websocket-extensions" not in head.lower()
            w.close()

    asyncio.run(scenario())


# -- 18. floods ---------------------------------------------------------------------------------


async def _flood(client: WsClient, type_: str, n: int, *, until_closed: bool = True, **fields: Any) -> list[str]:
    """Send ``n`` requests without waiting, then wait for the close (or, without
    ``until_closed``, for the answer to a last ping); the error codes received."""
    for i in range(n):
        try:
            await client.ws.send(
                json.dumps({"type": type_, "ref": f"f{i}", **{k: v() if callable(v) else v for k, v in fields.items()}})
            )
        except Exception:
            break
    if until_closed:
        await client.wait_closed(3 * TIMEOUT)
    else:
        with contextlib.suppress(ConnectionError):
            await client.request_frame("ping")
    return [f["code"] for f in client.frames if f.get("type") == "error"]


def test_connection_flood_gets_errors_then_1013(server: RunningServer) -> None:
    """Attack: one socket sends 300 pings at once; past its burst it gets rate_limited
    errors, then the socket is closed with 1013."""

    async def scenario() -> None:
        client, _ = await WsClient.visitor(server)
        codes = await _flood(client, "ping", 300)
        assert codes and set(codes) == {"rate_limited"}
        assert client.ws.close_code == 1013
        await client.close()

    asyncio.run(scenario())


def test_sustained_flood_above_the_refill_rate_gets_1013(server: RunningServer) -> None:
    """Attack: one socket pings at 150/s, paced, for up to 8 s (7x the 20/s limit, so a
    token refills between every few refusals); it is still closed with 1013, instead
    of living on with one request in seven served."""

    async def scenario() -> None:
        client, _ = await WsClient.visitor(server)
        for i in range(1200):
            if client.closed.done():
                break
            try:
                await client.ws.send(json.dumps({"type": "ping", "ref": f"p{i}"}))
            except ConnectionClosed:
                break
            await asyncio.sleep(1 / 150)
        await client.wait_closed(TIMEOUT)
        assert client.ws.close_code == 1013
        await client.close()

    asyncio.run(scenario())


def test_visitor_message_flood_across_sockets_gets_errors_then_1013(tmp_path: Path) -> None:
    """Attack: one visitor floods messages over three sockets (each under the
    per-connection limit); past the per-visitor burst they get rate_limited, nothing
    more is stored, and the flooding sockets are closed with 1013."""
    server = start_server(tmp_path, ("--rate-conn", "1000/2000", "--rate-ip", "1000/2000"))

    async def scenario() -> None:
        first, hello = await WsClient.visitor(server)
        tabs = [first] + [(await WsClient.visitor(server, token=hello["token"]))[0] for _ in range(2)]
        results = await asyncio.gather(
            *(_flood(t, "message.send", 100, client_id=new_client_id, body="spam") for t in tabs)
        )
        codes = [c for r in results for c in r]
        assert "rate_limited" in codes
        stored = db_rows(server, "SELECT COUNT(*) AS n FROM messages")[0]["n"]
        assert 20 <= stored <= 30  # the burst, plus what refilled during the flood
        assert {t.ws.close_code for t in tabs} == {1013}
        for t in tabs:
            await t.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_visitor_profile_and_page_writes_are_throttled_per_visitor(tmp_path: Path) -> None:
    """Attack: one visitor floods `page` and `profile.update` (each a stored event pushed
    to every agent) over three sockets under the per-connection limit; the per-visitor
    limit bounds the stored events as it bounds messages."""
    server = start_server(tmp_path, ("--rate-conn", "1000/2000", "--rate-ip", "1000/2000"))

    async def scenario() -> None:
        first, hello = await WsClient.visitor(server)
        tabs = [first] + [(await WsClient.visitor(server, token=hello["token"]))[0] for _ in range(2)]
        before = db_rows(server, "SELECT COUNT(*) AS n FROM events")[0]["n"]
        await asyncio.gather(
            *(
                _flood(t, "page", 60, until_closed=False, url=lambda: f"https://example.com/{new_client_id()}")
                for t in tabs[:2]
            ),
            _flood(tabs[2], "profile.update", 60, until_closed=False, name=new_client_id),
        )
        written = db_rows(server, "SELECT COUNT(*) AS n FROM events")[0]["n"] - before
        assert written <= 30, written
        for t in tabs:
            await t.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_ip_flood_across_connections_gets_errors_then_1013(tmp_path: Path) -> None:
    """Attack: one address spreads a flood over five sockets, each under its own
    limit; the per-IP limit answers rate_limited and closes them with 1013."""
    server = start_server(tmp_path, ("--rate-conn", "1000/2000", "--rate-ip", "10/20"))

    async def scenario() -> None:
        clients = [await WsClient.connect(server.agent_url) for _ in range(5)]
        results = await asyncio.gather(*(_flood(c, "ping", 60) for c in clients))
        assert all(set(r) <= {"rate_limited", "unauthorized"} for r in results)
        assert sum(r.count("rate_limited") for r in results) > 0
        assert {c.ws.close_code for c in clients} == {1013}
        for c in clients:
            await c.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_reconnect_flood_is_refused_at_the_handshake(tmp_path: Path) -> None:
    """Attack: one address opens handshakes in a loop (a client closed with 1013 just
    reconnects); past the per-IP burst the handshake gets HTTP 429, before any upgrade."""
    server = start_server(tmp_path, ("--rate-ip", "5/10"))

    async def scenario() -> None:
        heads = []
        for _ in range(30):
            _, writer, head = await raw_handshake(server, f"/v1/visitor?site={server.site_key}", server.origin)
            heads.append(head.split(b"\r\n", 1)[0])
            writer.close()
        assert heads[0] == b"HTTP/1.1 101 Switching Protocols"
        assert b"HTTP/1.1 429 Too Many Requests" in heads
        assert heads.count(b"HTTP/1.1 101 Switching Protocols") <= 15

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_new_visitor_burst_gets_errors_then_1013(tmp_path: Path) -> None:
    """Attack: one address creates visitors in a burst (one socket per hello, then one
    socket repeating hello); past the burst hello gets rate_limited, the repeating socket
    is closed with 1013, and a returning visitor's hello (with its token) still works."""
    server = start_server(tmp_path, ("--rate-new-visitor", "1/5"))

    async def scenario() -> None:
        made = []
        for _ in range(5):
            c, h = await WsClient.visitor(server)
            made.append((c, h))
        extra = await WsClient.connect(server.visitor_url, origin=server.origin)
        assert (await _error(extra, "hello"))["code"] == "rate_limited"
        codes = await _flood(extra, "hello", 40)
        assert set(codes) == {"rate_limited"}
        assert extra.ws.close_code == 1013
        back, again = await WsClient.visitor(server, token=made[0][1]["token"])
        assert again["visitor"]["id"] == made[0][1]["visitor"]["id"]
        assert db_rows(server, "SELECT COUNT(*) AS n FROM visitors")[0]["n"] <= 6
        for c, _ in made:
            await c.close()
        await extra.close()
        await back.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


@pytest.mark.slow
def test_flooding_tenant_does_not_starve_another_tenant(proxy_server: RunningServer) -> None:
    """Attack: tenant T1 is flooded from 40 addresses by another process (pings and
    messages as fast as TCP takes them, reconnecting after each 1013) while a T2
    visitor chats; every T2 request succeeds and its latency is measured. The 50 ms
    bound is asserted only with FRONTDESK_STRICT_TIMING=1: timings on a shared
    2-core CI machine are not a pass/fail signal (docs/SECURITY.md has the numbers)."""
    server = proxy_server
    t2 = add_tenant(server, "t2")

    async def measure(victim: WsClient, n: int) -> list[float]:
        latencies = []
        for i in range(n):
            t0 = time.perf_counter()
            if i % 2:
                await victim.request("ping")
            else:
                await victim.request("message.send", client_id=new_client_id(), body=f"t2 {i}")
            latencies.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.05)
        return latencies

    async def scenario() -> tuple[list[float], list[float], str]:
        victim = await WsClient.connect(t2.visitor_url(server), origin=server.origin, **spoofed("10.200.0.1"))
        await victim.request("hello")
        quiet = await measure(victim, 20)
        flood = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.adversarial._flood",
            server.visitor_url,
            server.origin,
            "6",
            "40",
            stdout=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(1.0)
        loud = await measure(victim, 60)
        out, _ = await flood.communicate()
        assert not victim.closed.done()
        await victim.close()
        return quiet, loud, out.decode()

    quiet, loud, counts = asyncio.run(scenario())
    assert json.loads(counts)["frames"] > 1000  # the flood did happen

    def pct(values: list[float], q: float) -> float:
        return sorted(values)[max(0, int(q * len(values)) - 1)]

    print(
        f"T2 latency quiet: p50 {statistics.median(quiet):.1f} ms, p95 {pct(quiet, 0.95):.1f} ms;"
        f" under T1 flood {counts.strip()}: p50 {statistics.median(loud):.1f} ms,"
        f" p95 {pct(loud, 0.95):.1f} ms, max {max(loud):.1f} ms"
    )
    if os.environ.get("FRONTDESK_STRICT_TIMING") == "1":
        assert pct(loud, 0.95) < 50, loud


# -- 21. agent credentials --------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id(server: RunningServer) -> None:
    """Every way of setting a password (init, CLI add, agent.add, agent.update, CLI
    passwd) stores an argon2id hash, never the password."""
    server.add_agent("cli@demo.test", "Cli")

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        added = await admin.request("agent.add", email="new@demo.test", name="New", password="new-password-1")
        await admin.request("agent.update", agent_id=added["agent"]["id"], password="changed-password-2")
        await admin.close()

    asyncio.run(scenario())
    server.cli("agent", "passwd", "--email", "cli@demo.test", "--password", "cli-password-3")
    rows = db_rows(server, "SELECT email, password_hash FROM agents")
    assert len(rows) == 3
    for r in rows:
        assert r["password_hash"].startswith("$argon2id$"), r["email"]
        for plain in ("admin-password-1", "new-password-1", "changed-password-2", "cli-password-3"):
            assert plain not in r["password_hash"]


def test_login_failures_throttle_the_account_including_spelling_variants(proxy_server: RunningServer) -> None:
    """Attack: guess an admin's password, varying the email's case and surrounding
    spaces to dodge the per-account counter, from several addresses; after 5 failures
    the account is throttled (even the right password is rate_limited)."""
    server = proxy_server

    async def scenario() -> None:
        variants = [server.admin_email, " " + server.admin_email, server.admin_email.upper(), server.admin_email + " "]
        for i in range(5):
            c, reply = await _login(server, variants[i % len(variants)], f"guess-{i}", **spoofed(f"10.3.0.{i + 1}"))
            assert reply["code"] == "unauthorized", reply
            await c.close()
        c, reply = await _login(server, server.admin_email, server.admin_password, **spoofed("10.3.1.1"))
        assert reply["type"] == "error" and reply["code"] == "rate_limited", reply
        await c.close()

    asyncio.run(scenario())


@pytest.mark.slow
def test_login_failures_throttle_the_ip_across_accounts(proxy_server: RunningServer) -> None:
    """Attack: one address sprays 20 different accounts; its next login (even a
    correct one) is rate_limited, while another address logs in fine."""
    server = proxy_server

    async def scenario() -> None:
        for i in range(20):
            c, reply = await _login(server, f"nobody{i}@demo.test", "guess", **spoofed("10.4.0.1"))
            assert reply["code"] == "unauthorized"
            await c.close()
        c, reply = await _login(server, server.admin_email, server.admin_password, **spoofed("10.4.0.1"))
        assert reply["code"] == "rate_limited"
        await c.close()
        c, reply = await _login(server, server.admin_email, server.admin_password, **spoofed("10.4.0.2"))
        assert reply["type"] == "reply"
        await c.close()

    asyncio.run(scenario())


def test_parallel_login_burst_cannot_overrun_the_throttle(proxy_server: RunningServer) -> None:
    """Attack: 30 wrong-password logins for one account sent at the same moment on
    30 sockets (before any failure is recorded); at most 5 are checked, the rest are
    rate_limited."""
    server = proxy_server

    async def scenario() -> None:
        clients = [await WsClient.connect(server.agent_url, **spoofed(f"10.5.0.{i + 1}")) for i in range(30)]
        replies = await asyncio.gather(
            *(
                c.request_frame("login", email=server.admin_email, password=f"guess-{i}", timeout=6 * TIMEOUT)
                for i, c in enumerate(clients)
            )
        )
        codes = [r.get("code") for r in replies]
        assert codes.count("unauthorized") <= 5, codes
        assert codes.count("rate_limited") >= 25, codes
        for c in clients:
            await c.close()

    asyncio.run(scenario())


def test_bad_tokens_from_one_address_do_not_lock_out_other_agents(proxy_server: RunningServer) -> None:
    """Attack: an address sends junk tokens to `auth`; it gets throttled, but agents
    elsewhere still resume with their valid tokens."""
    server = proxy_server

    async def scenario() -> None:
        first, login = await _login(server, server.admin_email, server.admin_password, **spoofed("10.6.0.1"))
        await first.close()
        attacker = await WsClient.connect(server.agent_url, **spoofed("10.6.6.6"))
        codes = [(await attacker.request_frame("auth", token=f"junk-{i}"))["code"] for i in range(25)]
        assert codes[:20] == ["unauthorized"] * 20 and set(codes[20:]) == {"rate_limited"}
        agent = await WsClient.connect(server.agent_url, **spoofed("10.6.0.1"))
        reply = await agent.request_frame("auth", token=login["token"])
        assert reply["type"] == "reply", reply
        for c in (attacker, agent):
            await c.close()

    asyncio.run(scenario())


def test_tokens_of_revoked_sessions_are_throttled_not_fatal(server: RunningServer) -> None:
    """A wrong token is an `unauthorized` error, not a crash: the socket stays usable
    for a fresh login."""

    async def scenario() -> None:
        c = await WsClient.connect(server.agent_url)
        assert (await _error(c, "auth", token="x"))["code"] == "unauthorized"
        reply = await c.request("login", email=server.admin_email, password=server.admin_password)
        assert reply["agent"]["role"] == "admin"
        await c.close()
        assert_log_clean(server)

    asyncio.run(scenario())
