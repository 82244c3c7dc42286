"""The workloads. Each drives real WebSocket clients through the public
protocol (docs/PROTOCOL.md) and returns a JSON-able dict of figures.

Hot paths (frames during a measured run) never decode JSON: the agent side
finds the send timestamp in the body with one regular expression, the
visitor side matches its ack by ``ref``. Setup frames are decoded normally.
"""

from __future__ import annotations

import array
import asyncio
import collections
import dataclasses
import json
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from ..protocol import (
    ClientProtocol,
    Endpoint,
    ErrorFrame,
    HelloResult,
    Incoming,
    LoginResult,
    ReplyFrame,
    Result,
    SessionResult,
    SnapshotResult,
    SubscribeResult,
)
from . import _targets
from ._stats import Progress, summary_ms
from ._targets import ProcStats, Target
from ._wsclient import WsConn, connect

__all__ = ["BenchError", "LoadOptions", "catchup", "console", "idle", "latency", "relay_storm", "storm", "throughput"]

JSON = dict[str, Any]
_BODY = re.compile(rb'"body":"b:(\d+):(\d+)"')
_ACK = re.compile(rb'\{"type":"reply","ref":"m(\d+)"')
_EVENT_ID = re.compile(rb'[{,]"event_id":(\d+)')  # not "last_event_id"
_CONV_ID = re.compile(rb'"conversation_id":(\d+)')
#: Generator CPU (share of one core) above which a run is not the server's figure.
GENERATOR_SATURATED = 0.9
#: 99th percentile of how late the generator sent, above which a run gets a warning.
SEND_LAG_LIMIT_MS = 10.0
SETUP_CONCURRENCY = 100


class BenchError(Exception):
    """A workload could not run (the server refused, a setup step failed)."""


@dataclasses.dataclass
class LoadOptions:
    visitors: int = 500
    agents: int = 5
    rate: float = 2000
    duration: float = 30
    rates: tuple[float, ...] = (1000, 2000, 4000, 6000, 8000, 10000, 12500, 15000, 20000, 25000, 30000, 40000)
    step_duration: float = 5
    p99_limit_ms: float = 50
    idle_visitors: int = 10000
    catchup_events: int = 10000
    storm_visitors: int = 5000
    storm_missed: int = 20
    console_conversations: int = 10_000
    console_messages: int = 100_000
    console_runs: int = 3
    search_messages: int = 1_000_000
    search_rounds: int = 20
    upload_files: int = 40


# -- connections and setup requests --------------------------------------------------------


_R = TypeVar("_R", bound=Result)


class _Rpc:
    """Per-socket state during setup: the protocol's client side (refs, typed
    replies: the one every Python client shares), the requests in flight, and
    the event cursor."""

    __slots__ = ("events", "hello", "max_event_id", "pending", "protocol", "subscribed")

    def __init__(self, endpoint: Endpoint) -> None:
        self.protocol = ClientProtocol(endpoint, ref_prefix="s")
        self.hello: HelloResult | None = None
        self.subscribed: SubscribeResult | None = None
        self.pending: dict[str, asyncio.Future[Incoming]] = {}
        self.max_event_id = 0
        self.events = 0


def _cid(kind: int, a: int, b: int = 0) -> str:
    """A distinct, UUID-shaped client_id (the protocol requires a UUID)."""
    return f"{kind:08x}-0000-4000-8000-{a:08x}{b:04x}"


def _rpc_frame(conn: WsConn, payload: bytes, now: int) -> None:
    st: _Rpc = conn.state
    found = _EVENT_ID.search(payload)
    if found is not None:
        st.max_event_id = max(st.max_event_id, int(found.group(1)))
    if payload.startswith(b'{"type":"event"'):
        st.events += 1  # events are only counted here, never decoded: the generator stays cheap
        return
    incoming = st.protocol.receive(payload)
    fut = st.pending.pop(incoming.answers, None) if incoming.answers is not None else None
    if fut is not None and not fut.done():
        fut.set_result(incoming)


async def _request(conn: WsConn, result: type[_R], kind: str, timeout: float = 120, **fields: Any) -> _R:
    """Send a setup request and return its typed reply (``result``)."""
    st: _Rpc = conn.state
    ref, text = st.protocol.request(kind, **fields)
    fut: asyncio.Future[Incoming] = asyncio.get_running_loop().create_future()
    st.pending[ref] = fut
    conn.send_text(text)
    try:
        incoming = await asyncio.wait_for(fut, timeout)
    except TimeoutError:
        st.protocol.forget(ref)
        raise BenchError(f"no reply to {kind} within {timeout:g}s (connection closed: {conn.closed.done()})") from None
    frame = incoming.frame
    if isinstance(frame, ErrorFrame):
        raise BenchError(f"{kind} failed: {frame.code}: {frame.message}")
    if not isinstance(frame, ReplyFrame) or not isinstance(frame.result, result):
        raise BenchError(f"the reply to {kind} does not fit the protocol: {incoming.error}")
    return frame.result


def _source_ip(target: Target, i: int) -> str | None:
    """Spread client sockets over 127.0.0.1–127.0.0.250 so that ephemeral
    ports (about 28,000 per source address) never run out."""
    return f"127.0.0.{1 + i % 250}" if target.host.startswith("127.") else None


async def _connect(target: Target, path: str, i: int, origin: bool) -> WsConn:
    conn = await connect(
        target.host,
        target.port,
        path,
        _rpc_frame,
        origin=target.origin if origin else None,
        local_ip=_source_ip(target, i),
    )
    conn.state = _Rpc(Endpoint.AGENT if path == "/v1/agent" else Endpoint.VISITOR)
    return conn


async def _open_visitor(target: Target, i: int, *, meta: bool = True) -> WsConn:
    conn = await _connect(target, target.visitor_path, i, origin=True)
    if target.kind == "relay":
        conn.send_text('{"type":"hello","ref":"s0"}')  # forwarded to nobody; the relay does not parse
        return conn
    fields: JSON = {"meta": {"url": "https://bench.test/", "user_agent": "frontdesk-bench", "language": "en"}}
    conn.state.hello = await _request(conn, HelloResult, "hello", **(fields if meta else {}))
    return conn


async def _agent_token(target: Target) -> tuple[str, LoginResult]:
    conn = await _connect(target, "/v1/agent", 0, origin=False)
    try:
        reply = await _request(conn, LoginResult, "login", email=target.email, password=target.password)
    finally:
        conn.close()
    return reply.token, reply


async def _open_agent(target: Target, i: int, token: str, *, subscribe: bool = True, **sub: Any) -> WsConn:
    conn = await _connect(target, "/v1/agent", i, origin=False)
    if target.kind == "relay":
        return conn
    await _request(conn, SessionResult, "auth", token=token)
    if subscribe:
        conn.state.subscribed = await _request(conn, SubscribeResult, "subscribe", **sub)
    return conn


async def _open_many(
    n: int, opener: Callable[[int], Awaitable[WsConn]], progress: Progress, label: str
) -> list[WsConn]:
    """Open ``n`` sockets, at most :data:`SETUP_CONCURRENCY` handshakes at a time."""
    conns: list[WsConn | None] = [None] * n
    sem = asyncio.Semaphore(SETUP_CONCURRENCY)
    done = 0

    async def one(i: int) -> None:
        nonlocal done
        async with sem:
            conns[i] = await opener(i)
        done += 1
        progress.update(done / n, f"{label} {done}/{n}")

    await asyncio.gather(*(one(i) for i in range(n)))
    return [c for c in conns if c is not None]


def _close_all(conns: list[WsConn]) -> None:
    for conn in conns:
        conn.close()


async def _until(cond: Callable[[], bool], timeout: float, tick: Callable[[], None] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        if tick is not None:
            tick()
        await asyncio.sleep(0.02)
    return True


# -- the open-loop load (latency, throughput) -----------------------------------------------


class _Step:
    """One measured run at one rate: what was sent, acked and delivered."""

    def __init__(self, base: int, total: int, agents: int, expect_acks: bool) -> None:
        self.base = base
        self.total = total
        self.agents = agents
        self.expect_acks = expect_acks
        self.sent_at = array.array("q", bytes(8 * total))
        self.counts = bytearray(total)
        self.latency: array.array[int] = array.array("q")
        self.ack_latency: array.array[int] = array.array("q")
        self.deliveries = 0
        self.acks = 0
        self.errors = 0
        self.error_sample: str | None = None

    def agent_frame(self, conn: WsConn, payload: bytes, now: int) -> None:
        m = _BODY.search(payload)
        if m is None:
            return
        idx = int(m.group(1)) - self.base
        if 0 <= idx < self.total:
            self.latency.append(now - int(m.group(2)))
            if self.counts[idx] < 255:
                self.counts[idx] += 1
            self.deliveries += 1

    def visitor_frame(self, conn: WsConn, payload: bytes, now: int) -> None:
        m = _ACK.match(payload)
        if m is not None:
            idx = int(m.group(1)) - self.base
            if 0 <= idx < self.total:
                self.ack_latency.append(now - self.sent_at[idx])
                self.acks += 1
        elif payload.startswith(b'{"type":"error"'):
            self.errors += 1
            if self.error_sample is None:
                self.error_sample = payload[:300].decode(errors="replace")

    def complete(self) -> bool:
        return self.deliveries >= self.total * self.agents and (not self.expect_acks or self.acks >= self.total)

    def lost(self) -> tuple[int, int]:
        """(missing deliveries, duplicate deliveries)."""
        want = self.agents
        missing = dup = 0
        for c in self.counts:
            if c < want:
                missing += want - c
            elif c > want:
                dup += c - want
        return missing, dup


class _Load:
    """Visitors and agents kept open across steps, and the message counter."""

    def __init__(self, target: Target, visitors: list[WsConn], agents: list[WsConn]) -> None:
        self.target = target
        self.visitors = visitors
        self.agents = agents
        self.next_id = 0

    @classmethod
    async def open(cls, target: Target, opts: LoadOptions, progress: Progress) -> _Load:
        token = ""
        if target.kind == "frontdesk":
            token, _ = await _agent_token(target)
        agents = await _open_many(opts.agents, lambda i: _open_agent(target, i, token), progress, "agents")
        visitors = await _open_many(opts.visitors, lambda i: _open_visitor(target, i + 1), progress, "visitors")
        return cls(target, visitors, agents)

    def broken(self) -> str | None:
        closed = [c.close_code for c in self.agents + self.visitors if c.closed.done()]
        return f"{len(closed)} sockets were closed by the server (codes {sorted(set(closed))})" if closed else None

    def close(self) -> None:
        _close_all(self.visitors + self.agents)

    async def run(self, rate: float, duration: float, progress: Progress, label: str) -> JSON:
        """Send ``rate`` messages/s for ``duration`` s, round-robin over the
        visitors, open loop (on a clock, not on acks); wait for delivery."""
        total = max(1, int(rate * duration))
        step = _Step(self.next_id, total, len(self.agents), self.target.kind == "frontdesk")
        self.next_id += total
        for a in self.agents:
            a.handler = step.agent_frame
        for v in self.visitors:
            v.handler = step.visitor_frame
        visitors = self.visitors
        nv = len(visitors)
        interval = 1e9 / rate
        lags: array.array[int] = array.array("q")
        stats = ProcStats(self.target.pid).start()
        start = time.monotonic_ns()
        n = 0
        base = step.base
        sent_at = step.sent_at
        progress.begin(label)
        while n < total:
            now = time.monotonic_ns()
            due = min(total, int((now - start) / interval) + 1)
            if due > n:
                lags.append(now - start - int(n * interval))
            while n < due:
                mid = base + n
                sent_at[n] = now
                visitors[n % nv].send_text(
                    f'{{"type":"message.send","ref":"m{mid}","client_id":"{_cid(1, mid)}","body":"b:{mid}:{now}"}}'
                )
                n += 1
            progress.update(n / total * 0.95, f"{rate:g}/s sent {n} delivered {step.deliveries}")
            wait = (start + n * interval - time.monotonic_ns()) / 1e9
            await asyncio.sleep(max(wait, 0.0))
        send_window = (time.monotonic_ns() - start) / 1e9
        complete = await _until(
            step.complete,
            max(10.0, duration / 3),
            lambda: progress.update(0.95, f"draining: delivered {step.deliveries}/{total * len(self.agents)}"),
        )
        usage = stats.stop()
        progress.end(f"{rate:g}/s: {step.deliveries} deliveries")
        missing, dup = step.lost()
        lag = summary_ms(lags, (99,)) or {"p99": 0.0, "max": 0.0}
        result: JSON = {
            "rate": rate,
            "duration_s": duration,
            "visitors": nv,
            "agents": len(self.agents),
            "sent": total,
            "achieved_rate": round(total / max(send_window, 1e-9), 1),
            "deliveries_expected": total * len(self.agents),
            "deliveries": step.deliveries,
            "lost": missing,
            "duplicates": dup,
            "complete": complete,
            "acks": step.acks if step.expect_acks else None,
            "acks_missing": total - step.acks if step.expect_acks else None,
            "errors": step.errors,
            "error_sample": step.error_sample,
            "latency_ms": summary_ms(step.latency),
            "ack_ms": summary_ms(step.ack_latency) if step.expect_acks else None,
            "send_lag_ms": {"p99": lag["p99"], "max": lag["max"]},
            **usage,
        }
        result["deliveries_per_s"] = round(step.deliveries / max(usage["wall_s"], 1e-9), 1)
        # CPU per message is steadier than latency on a shared machine: use it to compare builds.
        if usage["server_cpu"] is not None:
            result["server_cpu_us_per_msg"] = round(usage["server_cpu"] * usage["wall_s"] / total * 1e6, 1)
        reasons = []
        if usage["generator_cpu"] >= GENERATOR_SATURATED:
            reasons.append(f"generator CPU {usage['generator_cpu']:.0%} of a core")
        if result["achieved_rate"] < 0.95 * rate:
            reasons.append(f"generator sent only {result['achieved_rate']}/s of {rate:g}/s")
        result["valid"] = not reasons
        result["invalid_reason"] = "; ".join(reasons) or None
        # Latency runs from the actual send, so a late generator skews the
        # rate's evenness, not the figures; say so when it happened.
        result["warning"] = (
            f"the generator woke late (send lag p99 {lag['p99']} ms): a busy machine; load is burstier than planned"
            if lag["p99"] > SEND_LAG_LIMIT_MS
            else None
        )
        result["_latency_samples"] = step.latency
        return result


async def latency(target: Target, opts: LoadOptions, progress: Progress) -> JSON:
    """``visitors`` visitors and ``agents`` agents in one tenant; ``rate``
    messages/s in aggregate for ``duration`` s; every message to every agent."""
    progress.begin(f"latency setup ({target.kind})")
    load = await _Load.open(target, opts, progress)
    try:
        # Warm-up, not measured: one message per visitor opens its conversation.
        await load.run(min(opts.rate, 1000), len(load.visitors) / min(opts.rate, 1000), progress, "latency warm-up")
        await asyncio.sleep(0.5)
        result = await load.run(opts.rate, opts.duration, progress, f"latency ({target.kind})")
        result["broken"] = load.broken()
        return result
    finally:
        load.close()


async def throughput(target: Target, opts: LoadOptions, progress: Progress) -> JSON:
    """The latency shape with the rate raised step by step; the best rate
    with p99 ≤ ``p99_limit_ms``, nothing lost and the generator not saturated."""
    progress.begin(f"throughput setup ({target.kind})")
    load = await _Load.open(target, opts, progress)
    steps: list[JSON] = []
    best: JSON | None = None
    stop_reason = "all steps passed"
    try:
        await load.run(min(opts.rates[0], 1000), len(load.visitors) / min(opts.rates[0], 1000), progress, "warm-up")
        for rate in opts.rates:
            await asyncio.sleep(1.0)
            res = await load.run(rate, opts.step_duration, progress, f"throughput {rate:g}/s ({target.kind})")
            res.pop("_latency_samples", None)
            steps.append(res)
            p99 = (res["latency_ms"] or {}).get("p99", float("inf"))
            broken = load.broken()
            if not res["valid"]:
                stop_reason = f"stopped at {rate:g}/s: run invalid, {res['invalid_reason']}"
                break
            if res["lost"] or not res["complete"] or broken:
                stop_reason = f"stopped at {rate:g}/s: {res['lost']} deliveries lost" + (
                    f"; {broken}" if broken else ""
                )
                break
            if p99 > opts.p99_limit_ms:
                stop_reason = f"stopped at {rate:g}/s: p99 {p99} ms > {opts.p99_limit_ms:g} ms"
                break
            if res["achieved_rate"] < 0.95 * rate:
                stop_reason = f"stopped at {rate:g}/s: only {res['achieved_rate']}/s could be sent"
                break
            best = res
    finally:
        load.close()
    return {
        "best_rate": best["rate"] if best else 0,
        "best_deliveries_per_s": best["deliveries_per_s"] if best else 0,
        "best_p99_ms": (best["latency_ms"] or {}).get("p99") if best else None,
        "best_server_cpu": best["server_cpu"] if best else None,
        "stop_reason": stop_reason,
        "generator_bound": stop_reason.startswith("stopped") and "invalid" in stop_reason,
        "p99_limit_ms": opts.p99_limit_ms,
        "step_duration_s": opts.step_duration,
        "steps": steps,
    }


# -- idle ----------------------------------------------------------------------------------


async def idle(target: Target, opts: LoadOptions, progress: Progress) -> JSON:
    """``idle_visitors`` visitors connected and past hello; the server's RSS
    growth per connection, measured after the first 100 (which pay one-time
    costs: thread pools, caches)."""
    n = opts.idle_visitors
    first = min(100, max(1, n // 10))
    progress.begin(f"idle ({target.kind})")
    conns = await _open_many(first, lambda i: _open_visitor(target, i + 1), progress, "visitors")
    await asyncio.sleep(1.0)
    rss0 = _targets.rss_bytes(target.pid)
    t0 = time.monotonic()
    try:
        conns += await _open_many(n - first, lambda i: _open_visitor(target, first + i + 1), progress, "visitors")
        setup_s = time.monotonic() - t0
        await asyncio.sleep(2.0)
        rss1 = _targets.rss_bytes(target.pid)
        closed = sum(1 for c in conns if c.closed.done())
    finally:
        _close_all(conns)
    progress.end(f"{n} connected")
    per_conn = None if rss0 is None or rss1 is None else (rss1 - rss0) / max(1, n - first)
    return {
        "connections": n,
        "measured_connections": n - first,
        "rss_before_bytes": rss0,
        "rss_after_bytes": rss1,
        "rss_per_connection_bytes": None if per_conn is None else round(per_conn),
        "rss_per_connection_kib": None if per_conn is None else round(per_conn / 1024, 2),
        "connect_rate_per_s": round((n - first) / max(setup_s, 1e-9), 1),
        "closed_by_server": closed,
    }


# -- catch-up and the reconnect storm (Frontdesk only) -----------------------------------------


class _Counter:
    """Fast per-socket tallies for setup floods and replays."""

    __slots__ = ("acks", "done_at", "events", "max_event_id", "outbox", "target_events", "until_event_id")

    def __init__(self) -> None:
        #: Requests still to send, one per reply received (see :func:`_pipeline`).
        self.outbox: collections.deque[str] = collections.deque()
        self.acks = 0
        self.events = 0
        self.max_event_id = 0
        self.until_event_id = 0
        self.target_events = 0
        self.done_at = 0


def _count_frame(conn: WsConn, payload: bytes, now: int) -> None:
    c: _Counter = conn.state
    if payload.startswith(b'{"type":"reply"') or payload.startswith(b'{"type":"error"'):
        c.acks += 1
        if c.outbox:
            conn.send_text(c.outbox.popleft())
        for found in _EVENT_ID.finditer(payload):
            c.max_event_id = max(c.max_event_id, int(found.group(1)))
        return
    if payload.startswith(b'{"type":"event"'):
        if payload.startswith(b'{"type":"event","kind":"message.created"'):
            c.events += 1
        m = _EVENT_ID.search(payload)
        if m is not None:
            c.max_event_id = max(c.max_event_id, int(m.group(1)))
        if not c.done_at and (
            (c.until_event_id and c.max_event_id >= c.until_event_id)
            or (c.target_events and c.events >= c.target_events)
        ):
            c.done_at = now


#: Requests a setup flood keeps in flight per socket. Unbounded pipelining
#: would queue our pongs behind thousands of requests, and the server would
#: rightly close the socket for a missed keepalive.
PIPELINE_WINDOW = 8


def _pipeline(conn: WsConn, frames: list[str]) -> None:
    """Send ``frames`` on ``conn`` with at most :data:`PIPELINE_WINDOW` unanswered."""
    c: _Counter = conn.state
    c.outbox.extend(frames[PIPELINE_WINDOW:])
    for frame in frames[:PIPELINE_WINDOW]:
        conn.send_text(frame)


async def _wait_acks(conns: list[WsConn], total: int, progress: Progress, label: str, timeout: float = 900) -> None:
    def acked() -> int:
        return sum(c.state.acks for c in conns)

    def closed() -> int:
        return sum(1 for c in conns if c.closed.done())

    ok = await _until(
        lambda: acked() >= total or closed() > 0,
        timeout,
        lambda: progress.update(acked() / total, f"{label} {acked()}/{total}"),
    )
    if closed():
        codes = sorted({c.close_code for c in conns if c.closed.done()})
        raise BenchError(f"{label}: the server closed {closed()} sockets (codes {codes}) after {acked()} of {total}")
    if not ok:
        raise BenchError(f"{label}: only {acked()} of {total} requests were answered in {timeout:g}s")


async def _flood_messages(conns: list[WsConn], per_conn: int, progress: Progress, label: str) -> None:
    """Each visitor socket sends ``per_conn`` messages, pipelined; wait for every ack."""
    for i, conn in enumerate(conns):
        conn.state = _Counter()
        conn.handler = _count_frame
        _pipeline(
            conn,
            [
                f'{{"type":"message.send","ref":"f{j}","client_id":"{_cid(2, i, j)}","body":"catch-up {j}"}}'
                for j in range(per_conn)
            ],
        )
    await _wait_acks(conns, per_conn * len(conns), progress, label)


async def catchup(target: Target, opts: LoadOptions, progress: Progress) -> JSON:
    """An agent is offline while ``catchup_events`` events happen; the time
    from its reconnect (socket, auth, subscribe with ``since``) to having
    applied the last of them."""
    progress.begin("catch-up setup")
    token, _ = await _agent_token(target)
    agent = await _open_agent(target, 0, token)
    subscribed: SubscribeResult = agent.state.subscribed
    cursor, epoch = subscribed.last_event_id, subscribed.epoch
    agent.close()
    nv = 100
    visitors = await _open_many(nv, lambda i: _open_visitor(target, i + 1), progress, "visitors")
    per = max(1, opts.catchup_events // nv)
    try:
        await _flood_messages(visitors, per, progress, "events while the agent is offline")
    finally:
        _close_all(visitors)
    progress.update(1.0, "reconnecting the agent", force=True)
    stats = ProcStats(target.pid).start()
    t0 = time.monotonic_ns()
    conn = await _connect(target, "/v1/agent", 0, origin=False)
    auth = await _request(conn, SessionResult, "auth", token=token)
    counter = _Counter()
    counter.until_event_id = auth.last_event_id
    sub = await _request(conn, SubscribeResult, "subscribe", since=cursor, epoch=epoch)
    # Events that arrived in the same read as the reply were tallied by the setup handler.
    counter.events = conn.state.events
    counter.max_event_id = conn.state.max_event_id
    if counter.max_event_id >= counter.until_event_id:
        counter.done_at = time.monotonic_ns()
    conn.state = counter
    conn.handler = _count_frame
    ok = await _until(lambda: bool(counter.done_at), 120)
    elapsed_ms = (counter.done_at - t0) / 1e6 if ok else None
    usage = stats.stop()
    conn.close()
    progress.end(f"caught up in {elapsed_ms} ms")
    return {
        "events_missed": counter.until_event_id - cursor,
        "events_received": counter.events,
        "reset_required": sub.reset_required,
        "caught_up": ok,
        "time_ms": None if elapsed_ms is None else round(elapsed_ms, 1),
        "events_per_s": None if not elapsed_ms else round(counter.events / (elapsed_ms / 1000)),
        "includes": "TCP connect, WebSocket upgrade, auth (token), subscribe(since), replay",
        **usage,
    }


async def storm(target: Target, opts: LoadOptions, progress: Progress) -> JSON:
    """``storm_visitors`` visitors reconnect at once, each resuming with
    ``storm_missed`` agent replies missed; the time until all are caught up."""
    n, missed = opts.storm_visitors, opts.storm_missed
    progress.begin("storm setup")
    visitors = await _open_many(n, lambda i: _open_visitor(target, i + 1), progress, "visitors")
    hellos: list[HelloResult] = [v.state.hello for v in visitors]
    epoch = hellos[0].epoch
    tokens = [h.token for h in hellos]
    try:
        await _flood_messages(visitors, 1, progress, "first messages")
        await asyncio.sleep(0.5)  # their own message.created events
        cursors = [v.state.max_event_id for v in visitors]
    finally:
        _close_all(visitors)
    # The conversation of each visitor, via an agent snapshot.
    token, _ = await _agent_token(target)
    agents = await _open_many(min(100, n), lambda i: _open_agent(target, i, token, subscribe=False), progress, "agents")
    convs: list[int] = []
    cursor: str | None = None
    while True:
        extra: JSON = {"cursor": cursor} if cursor else {}
        page = await _request(agents[0], SnapshotResult, "snapshot", limit=500, **extra)
        convs += [c.id for c in page.conversations]
        cursor = page.next_cursor
        if not cursor:
            break
    if len(convs) != n:
        raise BenchError(f"storm: expected {n} conversations, the snapshot lists {len(convs)}")
    plan: list[list[str]] = [[] for _ in agents]
    for j in range(missed):
        for k, conv in enumerate(convs):
            plan[k % len(agents)].append(
                f'{{"type":"reply","ref":"r","conversation_id":{conv},'
                f'"client_id":"{_cid(3, conv, j)}","body":"missed {j}"}}'
            )
    for a, frames in zip(agents, plan, strict=True):
        a.state = _Counter()
        a.handler = _count_frame
        _pipeline(a, frames)
    try:
        await _wait_acks(agents, n * missed, progress, "agent replies")
    finally:
        _close_all(agents)
    await asyncio.sleep(1.0)
    hello = [
        json.dumps({"type": "hello", "ref": "h", "token": tokens[i], "since": cursors[i], "epoch": epoch})
        for i in range(n)
    ]
    return await _reconnect_storm(target, target.visitor_path, hello, missed, progress)


async def relay_storm(target: Target, opts: LoadOptions, progress: Progress) -> JSON:
    """The storm's baseline on the bare relay: ``storm_visitors`` sockets at
    once, each sending one frame and getting ``storm_missed`` replayed frames
    back (the relay's ``?replay=N``). Handshake and framing, without the store."""
    n, missed = opts.storm_visitors, opts.storm_missed
    hello = [json.dumps({"type": "hello", "ref": "h"})] * n
    return await _reconnect_storm(target, f"{target.visitor_path}&replay={missed}", hello, missed, progress)


async def _reconnect_storm(target: Target, path: str, hello: list[str], missed: int, progress: Progress) -> JSON:
    """Open one socket per frame of ``hello`` at once, send it, and wait until
    each socket has received ``missed`` ``message.created`` events: the storm's timed part."""
    n = len(hello)
    progress.begin(f"reconnect storm ({n} visitors)")
    stats = ProcStats(target.pid).start()
    t0 = time.monotonic_ns()
    counters = [_Counter() for _ in range(n)]
    failures: list[str] = []
    conns: list[WsConn] = []

    async def reconnect(i: int) -> None:
        try:
            conn = await connect(
                target.host,
                target.port,
                path,
                _count_frame,
                origin=target.origin,
                local_ip=_source_ip(target, i + 1),
                timeout=60,
            )
        except (OSError, TimeoutError) as exc:
            failures.append(repr(exc))
            return
        counters[i].target_events = missed
        conn.state = counters[i]
        conns.append(conn)
        conn.send_text(hello[i])

    await asyncio.gather(*(reconnect(i) for i in range(n)))

    def caught_up() -> int:
        return sum(1 for c in counters if c.done_at)

    ok = await _until(
        lambda: caught_up() + len(failures) >= n,
        120,
        lambda: progress.update(caught_up() / n, f"caught up {caught_up()}/{n}"),
    )
    usage = stats.stop()
    _close_all(conns)
    done = [c.done_at - t0 for c in counters if c.done_at]
    progress.end(f"{len(done)}/{n} caught up")
    per = summary_ms(done) or {}
    return {
        "visitors": n,
        "missed_each": missed,
        "caught_up": len(done),
        "failures": len(failures),
        "failure_sample": failures[:3],
        "complete": ok and len(done) == n,
        "time_ms": round(max(done) / 1e6, 1) if done and len(done) == n else None,
        "per_visitor_ms": {k: per.get(k) for k in ("p50", "p99", "max")},
        "includes": "TCP connect, WebSocket upgrade, hello(token, since), replay of the missed messages",
        **usage,
    }


# -- console ---------------------------------------------------------------------------


def console(opts: LoadOptions, progress: Progress) -> JSON:
    """The console's start as the agent waits for it, measured in processes of
    its own (the server never imports the console).

    ``frontdesk-console --bench-cache DIR`` fills a cache (and times opening
    it alone); then ``--bench-first-paint DIR`` starts the console offscreen
    on it, and the figure is from the exec to the first paint of the main
    window with inbox rows: the median of ``console_runs`` warm starts (after
    one untimed start), and of as many cold ones, each after evicting the
    cache file and the Qt libraries from the page cache (never the whole
    machine's)."""
    from ._console import console_command, console_installed, evict, first_paint, qt_library_files

    if not console_installed():
        return {"available": False, "note": "not available (the console is not installed)"}
    progress.begin("console cold start")
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-console-") as tmp:
        command = [
            *console_command(),
            "--bench-cache",
            tmp,
            "--bench-conversations",
            str(opts.console_conversations),
            "--bench-messages",
            str(opts.console_messages),
        ]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            progress.end()
            return {"available": False, "note": f"the console did not run ({exc})"}
        if proc.returncode != 0:
            progress.end()
            return {"available": False, "note": f"the console failed: {proc.stderr.strip()[-300:]}"}
        try:
            result = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError):
            progress.end()
            return {"available": False, "note": "the console printed no result"}
        result["cache_open_ms"] = result.pop("cold_start_ms", None)
        try:
            first_paint(Path(tmp))  # untimed: the page cache now holds what a start reads
            warm = [first_paint(Path(tmp)) for _ in range(opts.console_runs)]
            files = [*sorted((Path(tmp) / "cache").iterdir()), *qt_library_files()]
            cold = []
            for _ in range(opts.console_runs):
                evicted = evict(files)
                cold.append(first_paint(Path(tmp)))
        except (OSError, RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
            progress.end()
            return {"available": True, **result, "note": f"first paint not measured: {exc}"}
    progress.end()
    return {
        "available": True,
        **result,
        "cold_start_ms": statistics.median(r["ms"] for r in cold),
        "warm_start_ms": statistics.median(r["ms"] for r in warm),
        "cold_start_cpu_ms": statistics.median(r["cpu_ms"] for r in cold),
        "warm_start_cpu_ms": statistics.median(r["cpu_ms"] for r in warm),
        "inbox_rows_painted": warm[0]["rows"],
        "evicted_mb": round(evicted / 2**20, 1),
        "runs": opts.console_runs,
        "includes": "exec to the first paint of the main window with inbox rows (offscreen, offline)",
    }
