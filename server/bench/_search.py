"""``frontdesk bench search``: the ``search`` request over a large history.

The data set is built straight into a fresh database through the store (one
write transaction per chunk, the search triggers firing as they do in
production; not through the socket, which would take hours), then a server is
started on it and one agent sends ``search`` requests one at a time over a mix
of common, rare, prefix and status-narrowed queries, timing each request from
send to reply.

The data are deterministic (a seeded generator): conversations of 20
messages, each message 6–18 words drawn with a Zipf law from a vocabulary of
common chat words and made-up rare ones, and every 50th message carrying an
order number (a word found in one message only).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ..protocol import SearchResult
from ._stats import Progress, summary_ms
from ._targets import BENCH_PASSWORD, BENCH_RATES, Target, _python, _spawn, init_bench_tenant
from ._workloads import BenchError, _open_agent, _request

__all__ = ["QUERY_MIX", "search"]

JSON = dict[str, Any]

#: Messages per conversation in the data set.
PER_CONVERSATION = 20
#: Messages per write transaction while loading.
CHUNK = 20_000

_COMMON_WORDS = (
    "the you to and a i is for it my of on this in have can with be order thanks please not that was "
    "hello hi we your me are but do at just what there so if help need please account get any would "
    "invoice refund shipping delivery payment password email address package tracking return price "
    "subscription login card billing discount coupon size color stock warranty cancel update problem "
    "question support agent chat today tomorrow week monday friday number phone website app error "
    "working received arrived late missing wrong broken damaged replace exchange pdf receipt confirm"
)
COMMON = tuple(_COMMON_WORDS.split())

#: (class, query, status) — each class is timed on its own and all together.
QUERY_MIX: tuple[tuple[str, str, str | None], ...] = (
    ("common", "the", None),
    ("common", "order", None),
    ("common", "thanks", None),
    ("common", "order refund", None),
    ("common", "please help", None),
    ("common", "invoice pdf", None),
    ("rare", "@rare0", None),
    ("rare", "@rare1", None),
    ("rare", "@rare2", None),
    ("rare", "@order0", None),
    ("rare", "@order1", None),
    ("rare", "zzqxv", None),  # in no message
    ("prefix", "invo", None),
    ("prefix", "deliv", None),
    ("prefix", "pass", None),
    ("prefix", "@prefix0", None),
    ("prefix", "@prefix1", None),
    ("prefix", "refu ship", None),
    ("narrowed", "refund", "pending"),
    ("narrowed", "order", "open"),
    ("narrowed", "@rare0", "resolved"),
    ("narrowed", "invo", "pending"),
)


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    """COMMON, then ``size`` made-up words (rarer the later they come)."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ar", "en", "or")]
    made: dict[str, None] = {}
    while len(made) < size:
        made["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))] = None
    return [*COMMON, *(w for w in made if w not in COMMON)]


class DataSet:
    """The deterministic message bodies and the words the queries use."""

    def __init__(self, seed: int = 13, pool: int = 1 << 16) -> None:
        rng = random.Random(seed)
        self.words = _vocabulary(rng, 30_000)
        cum = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(self.words))))
        self.pool = [" ".join(rng.choices(self.words, cum_weights=cum, k=rng.randint(6, 18))) for _ in range(pool)]

    def body(self, i: int) -> str:
        text = self.pool[(i * 40503) % len(self.pool)].capitalize()
        return f"{text} (order {100_000 + i // 50})" if i % 50 == 0 else text

    def resolve(self, query: str, messages: int) -> str:
        """A QUERY_MIX query with its ``@`` placeholders replaced by words of this data set."""
        if not query.startswith("@"):
            return query
        kind, n = query[1:-1], int(query[-1])
        if kind == "rare":  # a made-up word far down the Zipf tail: in a handful of pool bodies
            return self.words[len(self.words) - 1 - 997 * (n + 1)]
        if kind == "order":  # in exactly one message
            last = max(0, (messages - 1) // 50)
            return str(100_000 + (last * (n + 1)) // 3)
        return self.words[len(COMMON) + 40 + 10 * n][:4]  # prefix: a mid-rank made-up word's first letters


def _chunk_rows(
    data: DataSet, tenant_id: int, start: int, count: int, t0: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The visitors, conversations and messages of messages ``start``…``start+count-1`` (whole conversations),
    as rows for :func:`frontdesk.server.store.bulk.insert_bench_rows`."""
    conversations = range(start // PER_CONVERSATION, (start + count) // PER_CONVERSATION)
    statuses = ("resolved",) * 7 + ("open",) * 2 + ("pending",)
    visitors, convs, messages = [], [], []
    for c in conversations:
        vid = cid = c + 1
        first = t0 + c * PER_CONVERSATION * 1000
        last = first + (PER_CONVERSATION - 1) * 1000
        visitors.append((vid, tenant_id, f"bench-token-{vid}", f"Visitor {vid}", first, last))
        preview = data.body(c * PER_CONVERSATION + PER_CONVERSATION - 1)[:120]
        convs.append((cid, tenant_id, vid, statuses[c % len(statuses)], first, last, PER_CONVERSATION, preview))
        for seq in range(1, PER_CONVERSATION + 1):
            i = c * PER_CONVERSATION + seq - 1
            author = ("visitor", vid) if seq % 2 else ("agent", None)
            messages.append((i + 1, cid, seq, author[0], author[1], data.body(i), first + (seq - 1) * 1000, i + 1))
    return visitors, convs, messages


async def _build(url: str, tenant_id: int, messages: int, data: DataSet, progress: Progress) -> float:
    """Load the data set through the store; the seconds it took."""
    from ..store import bulk, open_store

    store = open_store(url)
    await store.open()
    started = time.monotonic()
    try:
        t0 = 1_700_000_000_000
        done = 0
        progress.begin(f"search: load {messages:,} msgs")
        while done < messages:
            count = min(CHUNK, messages - done)
            await store.write(bulk.insert_bench_rows, *_chunk_rows(data, tenant_id, done, count, t0))
            done += count
            progress.update(done / messages, f"{done:,} messages")
        await store.write(bulk.after_bulk_load)
        progress.end(f"{messages:,} messages in {time.monotonic() - started:.0f} s")
    finally:
        await store.close()
    return time.monotonic() - started


def _init(url: str) -> JSON:
    try:
        return init_bench_tenant(url, timeout=300)
    except RuntimeError as exc:
        raise BenchError(str(exc)) from None


def _tenant_id(url: str) -> int:
    from ..store import open_store
    from ..store import tenants as store_tenants

    async def read() -> int:
        store = open_store(url)
        await store.open()
        try:
            tenant = await store.read(store_tenants.tenant_by_slug, "bench")
        finally:
            await store.close()
        if tenant is None:
            raise BenchError("the bench tenant is missing after init")
        return tenant.id

    return asyncio.run(read())


async def _measure(target: Target, queries: list[tuple[str, str, str | None]], rounds: int, progress: Progress) -> JSON:
    """Each query ``rounds`` times, one request at a time; latencies by class."""
    from ._workloads import _agent_token

    token, _ = await _agent_token(target)
    agent = await _open_agent(target, 0, token, subscribe=False)
    samples: dict[str, list[int]] = {}
    hits: dict[str, int] = {}
    try:
        for _cls, query, status in queries:  # warm the server's caches once, untimed
            warm: JSON = {"q": query, **({"status": status} if status else {})}
            await _request(agent, SearchResult, "search", **warm)
        total = rounds * len(queries)
        progress.begin("search: requests")
        order = [item for _ in range(rounds) for item in queries]
        random.Random(7).shuffle(order)
        for n, (cls, query, status) in enumerate(order, 1):
            fields: JSON = {"q": query, **({"status": status} if status else {})}
            sent = time.perf_counter_ns()
            reply = await _request(agent, SearchResult, "search", **fields)
            elapsed = time.perf_counter_ns() - sent
            samples.setdefault(cls, []).append(elapsed)
            samples.setdefault("all", []).append(elapsed)
            hits[query] = len(reply.hits)
            progress.update(n / total, f"{n}/{total}")
        progress.end()
    finally:
        agent.close()
    return {"latency_ms": {cls: summary_ms(v) for cls, v in samples.items()}, "hits_per_query": hits}


def search(
    db_url: str | None, messages: int, rounds: int, cpu: int | None, db_dir: str | None, progress: Progress
) -> JSON:
    """Build the data set in a fresh database (a temporary SQLite file, or the
    empty database at ``db_url``), start a server on it, time the queries."""
    messages = -(-messages // PER_CONVERSATION) * PER_CONVERSATION  # whole conversations
    workdir = Path(tempfile.mkdtemp(prefix="frontdesk-bench-search-", dir=db_dir))
    url = db_url or f"sqlite:///{workdir / 'search.db'}"
    target: Target | None = None
    try:
        info = _init(url)
        data = DataSet()
        load_s = asyncio.run(_build(url, _tenant_id(url), messages, data, progress))
        queries = [(cls, data.resolve(q, messages), status) for cls, q, status in QUERY_MIX]
        cli = [*_python(), "-m", "frontdesk.server.cli", "--log-level", "WARNING"]
        log_path = workdir / "server.log"
        proc, host, port = _spawn(
            [*cli, "serve", "--db", url, "--host", "127.0.0.1", "--port", "0", *BENCH_RATES], log_path, cpu
        )
        target = Target(
            "frontdesk",
            host,
            port,
            site_key=info["site_key"],
            email=info["admin_email"],
            password=BENCH_PASSWORD,
            process=proc,
            log_path=log_path,
        )
        result = asyncio.run(_measure(target, queries, rounds, progress))
        size = None if db_url else sum(p.stat().st_size for p in workdir.glob("search.db*"))
        return {
            "backend": url.split(":", 1)[0],
            "messages": messages,
            "conversations": messages // PER_CONVERSATION,
            "load_s": round(load_s, 1),
            "database_bytes": size,
            "queries": [{"class": c, "q": q, "status": s} for c, q, s in queries],
            "rounds": rounds,
            **result,
        }
    finally:
        if target is not None:
            target.stop()
        shutil.rmtree(workdir, ignore_errors=True)
