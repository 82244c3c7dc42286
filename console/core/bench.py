"""Cold-start benchmark of the console cache.

``frontdesk-console --bench-cache DIR`` runs it and prints the result as
JSON; ``frontdesk bench console`` starts that as a process of its own. The
filled DIR is also a data dir the console can start on, as the last agent of
:data:`BENCH_URL` (``--bench-first-paint DIR``): the bench then times the
whole start, from exec to the first paint of the inbox.

The target (DESIGN.md, "Speed"): from a cold start to a loaded inbox in at
most one second with 10,000 conversations and 100,000 messages cached. The
inbox page is one indexed query, so opening the file and reading the first
page is all a cold start costs.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from ._accounts import Accounts
from .cache import Cache, cache_path
from .cache._schema import set_meta

__all__ = ["BENCH_EMAIL", "BENCH_TOKEN", "BENCH_URL", "measure_cold_start"]

#: The server a bench data dir belongs to: nothing listens there (the discard
#: port), so the console starts offline on its cache, as after a restart
#: with the network down; the connection attempt runs in the background.
BENCH_URL = "http://127.0.0.1:9"
BENCH_EMAIL = "bench@example.com"
#: The session token the bench's console starts with (kept in memory).
BENCH_TOKEN = "bench-token"  # noqa: S105 - a placeholder no server accepts

_WORDS = [
    "hello",
    "order",
    "refund",
    "invoice",
    "shipping",
    "delivery",
    "password",
    "account",
    "login",
    "broken",
    "price",
    "discount",
    "upgrade",
    "plan",
    "billing",
    "card",
    "payment",
    "help",
    "thanks",
    "please",
    "question",
    "cancel",
    "subscription",
    "address",
    "tracking",
    "package",
    "late",
    "damaged",
    "return",
    "exchange",
    "size",
    "colour",
    "warranty",
    "support",
    "agent",
    "email",
]


def _fill(db: Any, conversations: int, messages: int, rng: random.Random) -> None:
    now = int(time.time() * 1000)
    db.execute("DELETE FROM items")
    db.execute("DELETE FROM conversations")
    db.execute("DELETE FROM visitors")
    visitors = [(v, f"Visitor {v}", f"visitor{v}@example.com") for v in range(1, conversations + 1)]
    db.conn.executemany("INSERT INTO visitors (id, name, email) VALUES (?, ?, ?)", visitors)
    per = max(1, messages // conversations)
    statuses = ("open", "pending", "resolved")
    conv_rows = []
    item_rows = []
    item_id = 0
    for c in range(1, conversations + 1):
        start = now - (conversations - c) * 60_000
        status = statuses[c % 3]
        assignee = None if c % 4 == 0 else 1 + c % 5
        body = ""
        for seq in range(1, per + 1):
            item_id += 1
            body = " ".join(rng.choices(_WORDS, k=rng.randint(4, 16)))
            author = "visitor" if seq % 2 else "agent"
            item_rows.append(("message", item_id, c, seq, author, None, None, body, start + seq * 1000))
        conv_rows.append((c, c, status, assignee, status, assignee, start, start + per * 1000, per, c % 3, body[:200]))
    db.conn.executemany(
        "INSERT INTO conversations (id, visitor_id, status, assignee_id, eff_status, eff_assignee_id, "
        "created_at, last_activity, last_seq, unread, preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        conv_rows,
    )
    db.conn.executemany(
        "INSERT INTO items (kind, server_id, conversation_id, seq, author_kind, author_id, author_name, body, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        item_rows,
    )
    set_meta(db, "last_event_id", item_id)
    set_meta(db, "epoch", "bench")
    me = {"id": 1, "email": BENCH_EMAIL, "name": "Bench Agent", "role": "admin", "active": True, "online": False}
    set_meta(db, "me", me)


async def measure_cold_start(
    tmp_dir: Path, *, conversations: int = 10_000, messages: int = 100_000, query: str = "refund deliv"
) -> dict[str, Any]:
    """Fill a cache with ``conversations`` conversations and ``messages``
    messages (10,000 and 100,000 by default), then time a cold open plus the
    first inbox page, and a full-text search.

    Returns ``{"conversations", "messages", "fill_ms", "open_ms",
    "first_page_ms", "count_ms", "cold_start_ms", "search_ms",
    "search_hits"}``; the target is ``cold_start_ms <= 1000``.
    """
    path = cache_path(Path(tmp_dir), BENCH_URL, BENCH_EMAIL)
    Accounts(Path(tmp_dir)).remember(BENCH_URL, BENCH_EMAIL)
    rng = random.Random(42)
    t0 = time.perf_counter()
    cache = Cache.open(path)
    try:
        await cache.write(lambda db: _fill(db, conversations, messages, rng))
    finally:
        cache.close()
    fill_ms = (time.perf_counter() - t0) * 1000

    # Cold start: open (migrations check, WAL, writer thread), first page, total.
    t0 = time.perf_counter()
    cache = Cache.open(path)
    t1 = time.perf_counter()
    try:
        page = cache.conversations("all", limit=100)
        t2 = time.perf_counter()
        total = cache.count_conversations("all")
        t3 = time.perf_counter()
        hits = cache.conversations("all", query=query, limit=100)
        t4 = time.perf_counter()
    finally:
        cache.close()
    assert len(page) == min(100, conversations) and total == conversations
    return {
        "conversations": conversations,
        "messages": (messages // conversations) * conversations,
        "fill_ms": round(fill_ms, 1),
        "open_ms": round((t1 - t0) * 1000, 1),
        "first_page_ms": round((t2 - t1) * 1000, 1),
        "count_ms": round((t3 - t2) * 1000, 1),
        "cold_start_ms": round((t3 - t0) * 1000, 1),
        "search_ms": round((t4 - t3) * 1000, 1),
        "search_hits": len(hits),
    }
