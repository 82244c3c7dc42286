"""The console's local cache: SQLite through sqlite-utils.

One file per server and agent, in ``platformdirs.user_data_dir("frontdesk")``
unless a directory is given, created with mode 0600. It holds what the agent
may see (conversations, visitors, messages, notes, agents, config), the
durable outbox, and the resume cursor (``epoch``, ``last_event_id``). It never
holds the session token.

Threads: reads are small indexed queries, run synchronously on the caller's
(the UI loop's) connection. Writes go to one writer thread that owns its own
connection; callers ``await`` a future (datasette's ``Database._execute_writes``
pattern), so a bulk snapshot never freezes the UI. WAL mode lets reads run
while the writer works.

Every write that applies server events also stores the cursor, in the same
transaction: after a crash the cache is never ahead of or behind its cursor.

Schema changes go only through the numbered migrations in :data:`MIGRATIONS`,
recorded in the ``migrations`` table.

Optimistic actions: the ``conversations`` table keeps the server's ``status``
and ``assignee_id`` as last heard, and ``eff_status`` / ``eff_assignee_id``:
the same with this console's pending outbox actions applied in order. The
inbox shows and filters on the ``eff_`` columns, so an action shows at once;
when the server rejects it, recomputing from the server's columns undoes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import sqlite_utils

from .models import (
    FILTERS,
    AgentRow,
    ConversationRow,
    Notification,
    OutboxAction,
    OutboxItem,
    ThreadItem,
    ThreadKind,
    VisitorRow,
)

__all__ = ["MIGRATIONS", "Applied", "Cache", "cache_path", "fts_query"]

log = logging.getLogger("frontdesk.console.cache")
_T = TypeVar("_T")
Db = sqlite_utils.Database

#: Longest preview kept for an inbox line.
PREVIEW_CHARS: Final = 200

# --------------------------------------------------------------------------
# Migrations. Append only: never edit a shipped one, add the next number.


def _m1_initial(db: Db) -> None:
    for sql in (
        # Key/value: epoch, last_event_id, me, tenant, config, last_synced_at.
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            visitor_id INTEGER NOT NULL,
            status TEXT NOT NULL,
            assignee_id INTEGER,
            eff_status TEXT NOT NULL,
            eff_assignee_id INTEGER,
            created_at INTEGER NOT NULL DEFAULT 0,
            last_activity INTEGER NOT NULL DEFAULT 0,
            last_seq INTEGER NOT NULL DEFAULT 0,
            unread INTEGER NOT NULL DEFAULT 0,
            preview TEXT NOT NULL DEFAULT '',
            pending_actions INTEGER NOT NULL DEFAULT 0,
            failed_actions INTEGER NOT NULL DEFAULT 0
        )""",
        # The inbox pages: newest activity first, per filter.
        "CREATE INDEX conversations_activity ON conversations (last_activity DESC, id DESC)",
        "CREATE INDEX conversations_status ON conversations (eff_status, last_activity DESC, id DESC)",
        "CREATE INDEX conversations_assignee ON conversations (eff_assignee_id, last_activity DESC, id DESC)",
        "CREATE INDEX conversations_visitor ON conversations (visitor_id)",
        """CREATE TABLE visitors (
            id INTEGER PRIMARY KEY, name TEXT, email TEXT, user_id TEXT,
            verified INTEGER NOT NULL DEFAULT 0, browser TEXT, os TEXT, language TEXT,
            timezone TEXT, page_url TEXT, page_title TEXT, referrer TEXT,
            first_seen INTEGER, last_seen INTEGER
        )""",
        """CREATE TABLE agents (
            id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL,
            role TEXT NOT NULL, active INTEGER NOT NULL, online INTEGER NOT NULL
        )""",
        # Messages and notes in one table, so one FTS index covers both.
        """CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('message', 'note')),
            server_id INTEGER NOT NULL,
            conversation_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            author_kind TEXT NOT NULL,
            author_id INTEGER,
            author_name TEXT,
            body TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            UNIQUE (kind, server_id)
        )""",
        "CREATE INDEX items_thread ON items (conversation_id, kind, seq)",
        """CREATE VIRTUAL TABLE items_fts USING fts5 (
            body, content='items', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        )""",
        """CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
            INSERT INTO items_fts (rowid, body) VALUES (new.id, new.body);
        END""",
        """CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
            INSERT INTO items_fts (items_fts, rowid, body) VALUES ('delete', old.id, old.body);
        END""",
        """CREATE TRIGGER items_au AFTER UPDATE ON items BEGIN
            INSERT INTO items_fts (items_fts, rowid, body) VALUES ('delete', old.id, old.body);
            INSERT INTO items_fts (rowid, body) VALUES (new.id, new.body);
        END""",
        # The durable outbox. AUTOINCREMENT: ids are never reused, so order
        # is the order the agent acted in.
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            client_id TEXT NOT NULL UNIQUE,
            action TEXT NOT NULL,
            conversation_id INTEGER NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
            error TEXT,
            error_code TEXT,
            created_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX outbox_conversation ON outbox (conversation_id, id)",
    ):
        db.execute(sql)


def _m2_conversation_version(db: Db) -> None:
    # The event_id a conversation's cached state is as of: a state older than
    # the cached one (a late event, a resent write's original reply) is
    # ignored instead of rolling the inbox back.
    db.execute("ALTER TABLE conversations ADD COLUMN version INTEGER NOT NULL DEFAULT 0")


#: (number, name, function). The ``migrations`` table records which ran.
MIGRATIONS: Final[tuple[tuple[int, str, Callable[[Db], None]], ...]] = (
    (1, "initial", _m1_initial),
    (2, "conversation_version", _m2_conversation_version),
)


def _migrate(db: Db) -> int:
    """Apply pending migrations, each in its own transaction with its record.
    Returns the schema version."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at INTEGER NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT version FROM migrations").fetchall()}
    latest = max(done, default=0)
    known = max(number for number, _, _ in MIGRATIONS)
    if latest > known:
        raise RuntimeError(f"cache schema version {latest} is newer than this console ({known})")
    for number, name, fn in MIGRATIONS:
        if number in done:
            continue
        with db.atomic():
            fn(db)
            db.execute(
                "INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)",
                [number, name, int(time.time() * 1000)],
            )
        log.info("cache migrated to version %d (%s)", number, name)
        latest = number
    return latest


# --------------------------------------------------------------------------
# Paths.

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def cache_path(data_dir: Path | None, server_url: str, email: str) -> Path:
    """The cache file for this server and agent (one file each).

    Readable name plus a short hash of the exact (server, email), so two
    servers whose names sanitize alike never share a file.
    """
    if data_dir is None:
        import platformdirs

        data_dir = Path(platformdirs.user_data_dir("frontdesk"))
    server = server_url.rstrip("/").lower()
    who = email.strip().lower()
    host = _UNSAFE.sub("_", server.split("://", 1)[-1])[:60]
    digest = hashlib.sha256(f"{server}\n{who}".encode()).hexdigest()[:12]
    return data_dir / "cache" / f"{host}-{_UNSAFE.sub('_', who)[:60]}-{digest}.sqlite3"


def _create_private(path: Path) -> None:
    """Create the cache file (and its folder) readable by the user only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)  # an existing file created by an older version


def _connect(path: Path) -> Db:
    conn = sqlite3.connect(str(path), check_same_thread=False)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    db.execute("PRAGMA busy_timeout = 5000")
    # An outbox write is a promise to the agent ("sent when back online"):
    # FULL makes every commit survive power loss, not just a crash.
    db.execute("PRAGMA synchronous = FULL")
    return db


# --------------------------------------------------------------------------
# Search.

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """Turn what the agent typed into a safe FTS5 query: every word must
    appear, as a prefix (``refun`` finds "refund"). None when no words."""
    words = _WORD.findall(text)[:16]
    if not words:
        return None
    return " ".join(f'"{w}"*' for w in words)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --------------------------------------------------------------------------
# What a write changed, for the core to announce.


@dataclasses.dataclass
class Applied:
    """What a write changed: the core turns it into listener calls."""

    conversations: set[int] = dataclasses.field(default_factory=set)
    threads: set[int] = dataclasses.field(default_factory=set)
    reload_all: bool = False
    agents: bool = False
    config: dict[str, Any] | None = None
    outbox: bool = False
    notifications: list[Notification] = dataclasses.field(default_factory=list)
    cursor: int | None = None

    def merge(self, other: Applied) -> None:
        """Fold ``other`` (a later write) into this one."""
        self.conversations |= other.conversations
        self.threads |= other.threads
        self.reload_all = self.reload_all or other.reload_all
        self.agents = self.agents or other.agents
        self.config = other.config if other.config is not None else self.config
        self.outbox = self.outbox or other.outbox
        self.notifications.extend(other.notifications)
        self.cursor = other.cursor if other.cursor is not None else self.cursor


# --------------------------------------------------------------------------
# The writer thread.

_STOP: Final = object()


class _Writer:
    """One thread, one connection, one transaction per job."""

    def __init__(self, path: Path) -> None:
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), name="frontdesk-cache-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self, path: Path) -> None:
        try:
            db = _connect(path)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                fn, loop, future = job
                result: Any = None
                error: BaseException | None = None
                try:
                    with db.atomic():
                        result = fn(db)
                except BaseException as exc:
                    error = exc
                if loop is None:
                    if error is not None:
                        future.set_exception(error)
                    else:
                        future.set_result(result)
                    continue
                try:
                    loop.call_soon_threadsafe(_settle, future, result, error)
                except RuntimeError:
                    # The caller's loop is gone (shutdown): the write stands,
                    # nobody is left to tell.
                    log.debug("write finished after its event loop closed")
        finally:
            db.close()

    async def submit(self, fn: Callable[[Db], _T]) -> _T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._jobs.put((fn, loop, future))
        return await future

    def submit_sync(self, fn: Callable[[Db], _T]) -> _T:
        """Run a write and block until it is done (outside an event loop)."""
        import concurrent.futures

        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        self._jobs.put((fn, None, future))
        return future.result()

    def stop(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


# --------------------------------------------------------------------------
# Row builders.

_CONV_COLUMNS: Final = (
    "c.id, c.visitor_id, v.name, v.email, c.eff_status, c.eff_assignee_id, a.name, c.preview, "
    "c.created_at, c.last_activity, c.last_seq, c.unread, c.pending_actions, c.failed_actions"
)
_CONV_FROM: Final = (
    "FROM conversations c LEFT JOIN visitors v ON v.id = c.visitor_id LEFT JOIN agents a ON a.id = c.eff_assignee_id"
)


def _conversation_row(r: Sequence[Any]) -> ConversationRow:
    return ConversationRow(
        id=r[0],
        visitor_id=r[1],
        visitor_name=r[2] or f"Visitor #{r[1]}",
        visitor_email=r[3],
        status=r[4],
        assignee_id=r[5],
        assignee_name=r[6],
        preview=r[7],
        created_at=r[8],
        last_activity=r[9],
        last_seq=r[10],
        unread=r[11],
        pending_actions=r[12],
        failed_actions=r[13],
    )


_VISITOR_FIELDS: Final = (
    "id",
    "name",
    "email",
    "user_id",
    "verified",
    "browser",
    "os",
    "language",
    "timezone",
    "page_url",
    "page_title",
    "referrer",
    "first_seen",
    "last_seen",
)


def _outbox_item(r: Sequence[Any]) -> OutboxItem:
    return OutboxItem(
        id=r[0],
        client_id=r[1],
        action=cast(OutboxAction, r[2]),
        conversation_id=r[3],
        payload=json.loads(r[4]),
        state=r[5],
        error=r[6],
        error_code=r[7],
        created_at=r[8],
        attempts=r[9],
    )


_OUTBOX_COLUMNS: Final = (
    "id, client_id, action, conversation_id, payload, state, error, error_code, created_at, attempts"
)

#: How an outbox action reads in the thread while it waits (or failed).
_ACTION_TEXT: Final[dict[str, str]] = {
    "resolve": "Resolve the conversation",
    "reopen": "Reopen the conversation",
    "pend": "Mark the conversation pending",
    "assign": "Assign to {agent}",
    "unassign": "Remove the assignee",
}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------
# Writes. Each runs on the writer thread, inside the job's transaction.


def _set_meta(db: Db, key: str, value: Any) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, json.dumps(value)],
    )


def _get_meta(db: Db, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else json.loads(row[0])


def _set_cursor(db: Db, epoch: str | None, last_event_id: int | None) -> None:
    _set_meta(db, "epoch", epoch)
    _set_meta(db, "last_event_id", last_event_id)


def _upsert_visitor(db: Db, v: dict[str, Any]) -> None:
    vid = _opt_int(v.get("id"))
    if vid is None:
        return
    row = {f: v.get(f) for f in _VISITOR_FIELDS if f in v}
    row["id"] = vid
    if "verified" in row:
        row["verified"] = 1 if row["verified"] else 0
    cols = list(row)  # a subset of the fixed _VISITOR_FIELDS names
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id") or "id = id"
    db.execute(
        f"INSERT INTO visitors ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "  # noqa: S608
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
        [row[c] for c in cols],
    )


def _upsert_agent(db: Db, a: dict[str, Any]) -> None:
    agent = AgentRow.from_wire(a)
    db.execute(
        "INSERT INTO agents (id, email, name, role, active, online) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name, role = excluded.role, "
        "active = excluded.active, online = excluded.online",
        [agent.id, agent.email, agent.name, agent.role, int(agent.active), int(agent.online)],
    )


def _upsert_conversation(db: Db, c: dict[str, Any], version: int | None, *, force: bool = False) -> int | None:
    """Store the server's view of a conversation; keeps columns it lacks.

    ``version`` is the ``event_id`` this state is as of (an event's own id,
    a write reply's ``event_id``). Events and write replies travel on
    different paths (the applier and the outbox), and a resent write returns
    its *original* reply, so an older state can arrive after a newer one: it
    is ignored. ``None`` (a state of unknown age, e.g. ``visitor.get``) only
    inserts a conversation not cached yet. ``force`` (a snapshot, as of
    ``version``) overwrites whatever is cached.
    """
    cid = _opt_int(c.get("id"))
    if cid is None:
        return None
    visitor = c.get("visitor")
    if isinstance(visitor, dict):
        _upsert_visitor(db, visitor)
    old = db.execute(
        "SELECT visitor_id, status, assignee_id, created_at, last_activity, last_seq, unread, preview, version "
        "FROM conversations WHERE id = ?",
        [cid],
    ).fetchone()
    if old is not None and not force and (version is None or version < old[8]):
        return cid
    if old is None:
        old = (0, "open", None, 0, 0, 0, 0, "", 0)
    row = {
        "version": version or 0,
        "visitor_id": _int(c.get("visitor_id"), old[0]),
        "status": c["status"] if isinstance(c.get("status"), str) else old[1],
        "assignee_id": _opt_int(c.get("assignee_id")) if "assignee_id" in c else old[2],
        "created_at": _int(c.get("created_at"), old[3]),
        "last_activity": _int(c.get("last_activity"), old[4]),
        "last_seq": _int(c.get("last_seq"), old[5]),
        "unread": _int(c.get("unread_agent"), old[6]),
        "preview": c["preview"][:PREVIEW_CHARS] if isinstance(c.get("preview"), str) else old[7],
    }
    db.execute(
        "INSERT INTO conversations (id, visitor_id, status, assignee_id, eff_status, eff_assignee_id, "
        "created_at, last_activity, last_seq, unread, preview, version) "
        "VALUES (:id, :visitor_id, :status, :assignee_id, :status, :assignee_id, :created_at, "
        ":last_activity, :last_seq, :unread, :preview, :version) "
        "ON CONFLICT (id) DO UPDATE SET visitor_id = excluded.visitor_id, status = excluded.status, "
        "assignee_id = excluded.assignee_id, created_at = excluded.created_at, "
        "last_activity = excluded.last_activity, last_seq = excluded.last_seq, unread = excluded.unread, "
        "preview = excluded.preview, version = excluded.version",
        {"id": cid, **row},
    )
    _recompute(db, cid)
    return cid


def _recompute(db: Db, cid: int) -> None:
    """Set the conversation's ``eff_`` columns and outbox counts: the server's
    state with this console's pending actions applied in order."""
    row = db.execute("SELECT status, assignee_id FROM conversations WHERE id = ?", [cid]).fetchone()
    if row is None:
        return
    status, assignee = row
    pending = failed = 0
    for action, payload, state in db.execute(
        "SELECT action, payload, state FROM outbox WHERE conversation_id = ? ORDER BY id", [cid]
    ).fetchall():
        if state == "failed":
            failed += 1
            continue
        pending += 1
        if action == "resolve":
            status = "resolved"
        elif action == "reopen":
            status = "open"
        elif action == "pend":
            status = "pending"
        elif action == "assign":
            assignee = json.loads(payload).get("agent_id")
        elif action == "unassign":
            assignee = None
    db.execute(
        "UPDATE conversations SET eff_status = ?, eff_assignee_id = ?, pending_actions = ?, "
        "failed_actions = ? WHERE id = ?",
        [status, assignee, pending, failed, cid],
    )


def _insert_item(db: Db, kind: str, m: dict[str, Any]) -> bool:
    """Store a message or note; False when it was already there."""
    sid = _opt_int(m.get("id"))
    cid = _opt_int(m.get("conversation_id"))
    if sid is None or cid is None:
        return False
    cur = db.execute(
        "INSERT OR IGNORE INTO items (kind, server_id, conversation_id, seq, author_kind, author_id, "
        "author_name, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            kind,
            sid,
            cid,
            _int(m.get("seq")),
            str(m.get("author_kind") or ("agent" if kind == "note" else "visitor")),
            _opt_int(m.get("author_id")),
            _opt_str(m.get("author_name")),
            str(m.get("body") or ""),
            _int(m.get("created_at")),
        ],
    )
    return cur.rowcount > 0


def _drop_acked(db: Db, client_id: Any) -> bool:
    """An item the server stored (seen by its client_id) leaves the outbox."""
    if not isinstance(client_id, str):
        return False
    return db.execute("DELETE FROM outbox WHERE client_id = ?", [client_id]).rowcount > 0


def _visitor_label(db: Db, cid: int) -> str:
    row = db.execute(
        "SELECT v.name, c.visitor_id FROM conversations c LEFT JOIN visitors v ON v.id = c.visitor_id WHERE c.id = ?",
        [cid],
    ).fetchone()
    if row is None:
        return "A visitor"
    return str(row[0] or f"Visitor #{row[1]}")


def _apply_message(db: Db, kind: str, m: dict[str, Any], out: Applied, notify: bool, version: int | None) -> None:
    cid = _opt_int(m.get("conversation_id"))
    if cid is None:
        return
    acked = _drop_acked(db, m.get("client_id"))
    inserted = _insert_item(db, kind, m)
    if acked:
        out.outbox = True
        _recompute(db, cid)
    if inserted and kind == "message":
        seq = _int(m.get("seq"))
        created = _int(m.get("created_at"))
        body = str(m.get("body") or "")
        visitor = m.get("author_kind") == "visitor"
        if isinstance(m.get("conversation"), dict):
            # The server sends the conversation as it is after this message.
            _upsert_conversation(db, m["conversation"], version)
        else:
            db.execute(
                "UPDATE conversations SET last_activity = max(last_activity, ?), "
                "preview = CASE WHEN ? >= last_seq THEN ? ELSE preview END, last_seq = max(last_seq, ?), "
                "unread = unread + ? WHERE id = ?",
                [created, seq, body[:PREVIEW_CHARS], seq, 1 if visitor else 0, cid],
            )
        if visitor and notify:
            # A conversation is announced with its first message, not when the
            # widget merely opened it: one notification, with something to read.
            label, text = _visitor_label(db, cid), body[:PREVIEW_CHARS]
            if seq == 1:
                out.notifications.append(Notification("new_conversation", cid, label, text))
            else:
                out.notifications.append(Notification("new_message", cid, label, text))
    if inserted or acked:
        out.threads.add(cid)
        out.conversations.add(cid)


def _apply_event(db: Db, frame: dict[str, Any], out: Applied, notify: bool) -> None:
    """Apply one durable event. Idempotent: a replayed event changes nothing."""
    kind = frame.get("kind")
    event_id = _opt_int(frame.get("event_id"))
    data = frame.get("data")
    if not isinstance(data, dict):
        data = {}
    if kind == "message.created":
        _apply_message(db, "message", data, out, notify, event_id)
    elif kind == "note.created":
        _apply_message(db, "note", data, out, notify, event_id)
    elif kind in ("conversation.created", "conversation.updated"):
        existed = db.execute("SELECT 1 FROM conversations WHERE id = ?", [data.get("id")]).fetchone()
        cid = _upsert_conversation(db, data, event_id)
        if cid is not None:
            out.conversations.add(cid)
            if existed is None and notify and data.get("status") != "resolved" and _int(data.get("last_seq")) > 0:
                out.notifications.append(
                    Notification("new_conversation", cid, _visitor_label(db, cid), str(data.get("preview") or ""))
                )
    elif kind == "seen":
        cid = _opt_int(data.get("conversation_id")) or _opt_int(frame.get("conversation_id"))
        if cid is not None and data.get("side") == "agent":
            db.execute("UPDATE conversations SET unread = 0 WHERE id = ?", [cid])
            out.conversations.add(cid)
    elif kind == "agent.updated":
        if _opt_int(data.get("id")) is not None:
            _upsert_agent(db, data)
            out.agents = True
            # The assignee's name shows on inbox lines.
            out.reload_all = True
    elif kind == "presence":
        aid = _opt_int(data.get("agent_id"))
        if aid is not None:
            db.execute("UPDATE agents SET online = ? WHERE id = ?", [int(bool(data.get("online"))), aid])
            out.agents = True
    elif kind == "visitor.updated":
        vid = _opt_int(data.get("id"))
        if vid is not None:
            _upsert_visitor(db, data)
            ids = [r[0] for r in db.execute("SELECT id FROM conversations WHERE visitor_id = ?", [vid])]
            out.conversations.update(ids)
    elif kind == "visitor.erased":
        # A data-protection erasure: leave no trace in the cache either.
        vid = _opt_int(data.get("visitor_id"))
        if vid is not None:
            conv = "SELECT id FROM conversations WHERE visitor_id = ?"
            db.execute(f"DELETE FROM items WHERE conversation_id IN ({conv})", [vid])  # noqa: S608
            db.execute(f"DELETE FROM outbox WHERE conversation_id IN ({conv})", [vid])  # noqa: S608
            db.execute("DELETE FROM conversations WHERE visitor_id = ?", [vid])
            db.execute("DELETE FROM visitors WHERE id = ?", [vid])
            out.reload_all = True
            out.outbox = True
    elif kind == "config.updated":
        _set_meta(db, "config", data)
        out.config = data
    else:
        log.debug("ignoring event kind %r", kind)


# --------------------------------------------------------------------------


class Cache:
    """The local cache. Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path, reader: Db, writer: _Writer) -> None:
        """Use :meth:`open`."""
        self.path = path
        self._db = reader
        self._writer = writer
        self._closed = False

    @classmethod
    def open(cls, path: Path) -> Cache:
        """Open (creating, mode 0600) and migrate the cache at ``path``.

        Fast: no table scans, so the inbox shows at once on a cold start.
        """
        _create_private(path)
        setup = _connect(path)
        try:
            setup.execute("PRAGMA journal_mode = WAL")
            _migrate(setup)
        finally:
            setup.close()
        reader = _connect(path)
        reader.execute("PRAGMA query_only = ON")
        try:
            writer = _Writer(path)
        except BaseException:
            reader.close()
            raise
        return cls(path, reader, writer)

    def close(self) -> None:
        """Stop the writer thread (after its queued writes) and close files."""
        if self._closed:
            return
        self._closed = True
        self._writer.stop()
        self._db.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    async def write(self, fn: Callable[[Db], _T]) -> _T:
        """Run ``fn(db)`` in one transaction on the writer thread.

        ``db`` is the writer's ``sqlite_utils.Database``. Returns ``fn``'s
        result, or raises its exception (the transaction is rolled back).
        """
        return await self._writer.submit(fn)

    def write_sync(self, fn: Callable[[Db], _T]) -> _T:
        """:meth:`write` for code outside the event loop (tests, tools): blocks."""
        return self._writer.submit_sync(fn)

    # -- writes the core uses ------------------------------------------------------

    async def apply_events(self, frames: Sequence[dict[str, Any]], *, notify: bool = True) -> Applied:
        """Apply events in order, and move the cursor to the last one, in one
        transaction. Durable events at or below the cursor are skipped;
        events without an ``event_id`` (ephemeral ``seen``) do not move it."""

        def job(db: Db) -> Applied:
            out = Applied()
            cursor = _get_meta(db, "last_event_id")
            for frame in frames:
                event_id = _opt_int(frame.get("event_id"))
                if event_id is not None and cursor is not None and event_id <= cursor:
                    continue  # already applied (live events overlap a snapshot)
                _apply_event(db, frame, out, notify)
                if event_id is not None:
                    cursor = event_id
            if cursor is not None:
                _set_meta(db, "last_event_id", cursor)
            out.cursor = cursor
            return out

        return await self.write(job)

    async def apply_snapshot(
        self,
        conversations: Sequence[dict[str, Any]],
        *,
        epoch: str,
        last_event_id: int,
        agents: Sequence[dict[str, Any]] | None = None,
        config: dict[str, Any] | None = None,
    ) -> Applied:
        """Replace the cached state with a full snapshot and set the cursor.

        Same epoch: messages and notes stay (they never change), conversations
        missing from the snapshot are dropped with their items. Another epoch
        (another server database): everything is dropped first, and pending
        outbox items fail ("the server's data was reset"), since their ids
        mean nothing there.
        """

        def job(db: Db) -> Applied:
            out = Applied(reload_all=True, outbox=True)
            old_epoch = _get_meta(db, "epoch")
            if old_epoch is not None and old_epoch != epoch:
                log.warning("server epoch changed: clearing the cache")
                for table in ("items", "conversations", "visitors", "agents"):
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
                db.execute(
                    "UPDATE outbox SET state = 'failed', error_code = 'reset', "
                    "error = 'The server was reset; this action was not sent.' WHERE state = 'pending'"
                )
            db.execute("CREATE TEMP TABLE IF NOT EXISTS snapshot_ids (id INTEGER PRIMARY KEY)")
            db.execute("DELETE FROM snapshot_ids")
            for c in conversations:
                cid = _upsert_conversation(db, c, last_event_id, force=True)
                if cid is not None:
                    db.execute("INSERT OR IGNORE INTO snapshot_ids (id) VALUES (?)", [cid])
            db.execute("DELETE FROM items WHERE conversation_id NOT IN (SELECT id FROM snapshot_ids)")
            db.execute("DELETE FROM conversations WHERE id NOT IN (SELECT id FROM snapshot_ids)")
            db.execute("DELETE FROM snapshot_ids")
            if agents is not None:
                _replace_agents(db, agents)
                out.agents = True
            if config is not None:
                _set_meta(db, "config", config)
                out.config = config
            _set_cursor(db, epoch, last_event_id)
            out.cursor = last_event_id
            return out

        return await self.write(job)

    async def store_session(self, me: dict[str, Any], tenant: Any) -> None:
        """Remember who is logged in (never the token) for an offline start."""

        def job(db: Db) -> None:
            _set_meta(db, "me", me)
            _set_meta(db, "tenant", tenant)
            _upsert_agent(db, me)

        await self.write(job)

    async def store_agents(self, agents: Sequence[dict[str, Any]]) -> None:
        """Replace the agent list."""
        await self.write(lambda db: _replace_agents(db, agents))

    async def store_config(self, config: dict[str, Any]) -> None:
        """Remember the widget configuration."""
        await self.write(lambda db: _set_meta(db, "config", config))

    async def store_synced(self, at: float) -> None:
        """Remember when the cache last caught up with the server."""
        await self.write(lambda db: _set_meta(db, "last_synced_at", at))

    async def store_history(self, messages: Iterable[dict[str, Any]], notes: Iterable[dict[str, Any]]) -> Applied:
        """Store older messages and notes fetched with ``history``."""

        def job(db: Db) -> Applied:
            out = Applied()
            for m in messages:
                if _insert_item(db, "message", m):
                    out.threads.add(_int(m.get("conversation_id")))
            for n in notes:
                if _insert_item(db, "note", n):
                    out.threads.add(_int(n.get("conversation_id")))
            return out

        return await self.write(job)

    async def store_conversations(self, conversations: Iterable[dict[str, Any]]) -> Applied:
        """Upsert conversations the server sent outside an event (``visitor.get``)."""

        def job(db: Db) -> Applied:
            out = Applied()
            for c in conversations:
                cid = _upsert_conversation(db, c, None)
                if cid is not None:
                    out.conversations.add(cid)
            return out

        return await self.write(job)

    async def store_visitor(self, visitor: dict[str, Any]) -> None:
        """Upsert a visitor's details."""
        await self.write(lambda db: _upsert_visitor(db, visitor))

    async def mark_seen(self, conversation_id: int) -> None:
        """Zero the conversation's unread count locally."""
        await self.write(lambda db: db.execute("UPDATE conversations SET unread = 0 WHERE id = ?", [conversation_id]))

    # -- the outbox ---------------------------------------------------------------

    async def queue_action(
        self, action: OutboxAction, conversation_id: int, client_id: str, payload: dict[str, Any], now_ms: int
    ) -> int:
        """Store an action in the outbox (durably) and apply it optimistically.
        Returns its outbox id."""

        def job(db: Db) -> int:
            cur = db.execute(
                "INSERT INTO outbox (client_id, action, conversation_id, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                [client_id, action, conversation_id, json.dumps(payload), now_ms],
            )
            _recompute(db, conversation_id)
            return int(cast(int, cur.lastrowid))

        return await self.write(job)

    async def outbox_acked(self, item: OutboxItem, reply: dict[str, Any]) -> Applied:
        """The server stored ``item``: drop it, and store what the reply returned
        (the message/note, the conversation) in the same transaction."""

        def job(db: Db) -> Applied:
            out = Applied(outbox=True, conversations={item.conversation_id}, threads={item.conversation_id})
            db.execute("DELETE FROM outbox WHERE id = ?", [item.id])
            version = _opt_int(reply.get("event_id"))
            if isinstance(reply.get("message"), dict):
                _apply_message(db, "message", reply["message"], out, False, version)
            if isinstance(reply.get("note"), dict):
                _apply_message(db, "note", reply["note"], out, False, version)
            if isinstance(reply.get("conversation"), dict):
                _upsert_conversation(db, reply["conversation"], version)
            _recompute(db, item.conversation_id)
            return out

        return await self.write(job)

    async def outbox_failed(self, outbox_id: int, code: str, message: str) -> Applied:
        """The server rejected the item: mark it failed with its reason and
        undo its optimistic effect."""

        def job(db: Db) -> Applied:
            row = db.execute("SELECT conversation_id FROM outbox WHERE id = ?", [outbox_id]).fetchone()
            if row is None:
                return Applied()
            db.execute(
                "UPDATE outbox SET state = 'failed', error = ?, error_code = ? WHERE id = ?",
                [message, code, outbox_id],
            )
            _recompute(db, row[0])
            return Applied(outbox=True, conversations={row[0]}, threads={row[0]})

        return await self.write(job)

    async def outbox_attempt(self, outbox_id: int) -> None:
        """Count a send attempt (for diagnostics)."""
        await self.write(lambda db: db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [outbox_id]))

    async def outbox_retry(self, outbox_id: int, new_client_id: str) -> Applied:
        """Make a failed item pending again, under a fresh client_id."""

        def job(db: Db) -> Applied:
            row = db.execute(
                "SELECT conversation_id FROM outbox WHERE id = ? AND state = 'failed'", [outbox_id]
            ).fetchone()
            if row is None:
                return Applied()
            db.execute(
                "UPDATE outbox SET state = 'pending', error = NULL, error_code = NULL, client_id = ? WHERE id = ?",
                [new_client_id, outbox_id],
            )
            _recompute(db, row[0])
            return Applied(outbox=True, conversations={row[0]}, threads={row[0]})

        return await self.write(job)

    async def outbox_discard(self, outbox_id: int) -> Applied:
        """Delete an outbox item and undo its optimistic effect."""

        def job(db: Db) -> Applied:
            row = db.execute("SELECT conversation_id FROM outbox WHERE id = ?", [outbox_id]).fetchone()
            if row is None:
                return Applied()
            db.execute("DELETE FROM outbox WHERE id = ?", [outbox_id])
            _recompute(db, row[0])
            return Applied(outbox=True, conversations={row[0]}, threads={row[0]})

        return await self.write(job)

    # -- reads used by the UI models -------------------------------------------------

    def _where(self, filter: str, query: str | None, me: int | None) -> tuple[str, list[Any]]:
        if filter not in FILTERS:
            raise ValueError(f"unknown filter {filter!r}; expected one of {', '.join(FILTERS)}")
        clauses: list[str] = []
        params: list[Any] = []
        if filter == "mine":
            clauses.append("c.eff_assignee_id = ? AND c.eff_status != 'resolved'")
            params.append(me if me is not None else -1)
        elif filter == "unassigned":
            clauses.append("c.eff_assignee_id IS NULL AND c.eff_status != 'resolved'")
        elif filter in ("open", "pending", "resolved"):
            clauses.append("c.eff_status = ?")
            params.append(filter)
        if query is not None and query.strip():
            text = query.strip()
            match = fts_query(text)
            alternatives = [
                "c.visitor_id IN (SELECT id FROM visitors WHERE name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\')"
            ]
            params_q: list[Any] = [_like(text), _like(text)]
            if match is not None:
                alternatives.append(
                    "c.id IN (SELECT i.conversation_id FROM items_fts JOIN items i ON i.id = items_fts.rowid "
                    "WHERE items_fts MATCH ?)"
                )
                params_q.append(match)
            clauses.append("(" + " OR ".join(alternatives) + ")")
            params.extend(params_q)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def conversations(
        self,
        filter: str = "all",
        query: str | None = None,
        me: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ConversationRow]:
        """A page of the inbox, most recent activity first.

        ``filter`` is one of :data:`~.models.FILTERS`: ``all``; ``mine``
        (assigned to ``me``, not resolved); ``unassigned`` (not resolved);
        ``open``, ``pending``, ``resolved`` by status. ``query`` matches
        message and note text (FTS5, every word as a prefix) or the visitor's
        name or email. Pending outbox actions are already applied.
        """
        where, params = self._where(filter, query, me)
        sql = f"SELECT {_CONV_COLUMNS} {_CONV_FROM}{where} ORDER BY c.last_activity DESC, c.id DESC LIMIT ? OFFSET ?"
        rows = self._db.execute(sql, [*params, limit, offset]).fetchall()
        return [_conversation_row(r) for r in rows]

    def count_conversations(self, filter: str = "all", query: str | None = None, me: int | None = None) -> int:
        """How many rows :meth:`conversations` would page through."""
        where, params = self._where(filter, query, me)
        row = self._db.execute(f"SELECT count(*) FROM conversations c{where}", params).fetchone()  # noqa: S608
        return int(row[0])

    def conversation(self, conversation_id: int) -> ConversationRow | None:
        """One inbox row by id, or None when not cached."""
        r = self._db.execute(f"SELECT {_CONV_COLUMNS} {_CONV_FROM} WHERE c.id = ?", [conversation_id]).fetchone()
        return None if r is None else _conversation_row(r)

    def thread(self, conversation_id: int, before: int | None = None, limit: int = 100) -> list[ThreadItem]:
        """A conversation's thread, oldest first.

        Messages and notes merged by time, then this console's outbox items for
        it (pending or failed) at the end, in the order they were taken.
        Without ``before``: the last ``limit`` messages, the notes since the
        oldest of them, and the outbox items. With ``before`` (a message
        ``seq``): the ``limit`` messages before it and the notes of that span,
        to page back in time.
        """
        db = self._db
        params: list[Any] = [conversation_id]
        cond = ""
        if before is not None:
            cond = " AND seq < ?"
            params.append(before)
        msgs = db.execute(
            "SELECT id, kind, server_id, seq, author_kind, author_name, body, created_at FROM items "  # noqa: S608
            f"WHERE conversation_id = ? AND kind = 'message'{cond} ORDER BY seq DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        msgs.reverse()
        # Notes of the same span: from the oldest message shown (all of them
        # when the thread is short) up to the page's upper bound.
        lo: int | None = msgs[0][7] if msgs and len(msgs) == limit else None
        hi: int | None = None
        if before is not None:
            nxt = db.execute(
                "SELECT created_at FROM items WHERE conversation_id = ? AND kind = 'message' AND seq >= ? "
                "ORDER BY seq LIMIT 1",
                [conversation_id, before],
            ).fetchone()
            hi = None if nxt is None else nxt[0]
        note_sql = (
            "SELECT id, kind, server_id, seq, author_kind, author_name, body, created_at FROM items "
            "WHERE conversation_id = ? AND kind = 'note'"
        )
        note_params: list[Any] = [conversation_id]
        if lo is not None:
            note_sql += " AND created_at >= ?"
            note_params.append(lo)
        if hi is not None:
            note_sql += " AND created_at < ?"
            note_params.append(hi)
        notes = db.execute(note_sql, note_params).fetchall()
        rows = sorted([*msgs, *notes], key=lambda r: (r[7], r[1] == "note", r[3]))
        conv = self.conversation(conversation_id)
        visitor_name = conv.visitor_name if conv is not None else "Visitor"
        items = [self._stored_item(r, visitor_name) for r in rows]
        if before is None:
            items.extend(self._outbox_items(conversation_id))
        return items

    @staticmethod
    def _stored_item(r: Sequence[Any], visitor_name: str = "Visitor") -> ThreadItem:
        kind: ThreadKind
        if r[1] == "note":
            kind = "note"
        elif r[4] in ("visitor", "agent", "system"):
            kind = r[4]
        else:
            kind = "system"
        prefix = "n" if r[1] == "note" else "m"
        return ThreadItem(
            kind=kind,
            key=f"{prefix}{r[2]}",
            id=r[2],
            seq=r[3],
            author_name=r[5] or (visitor_name if kind == "visitor" else ""),
            body=r[6],
            created_at=r[7],
            delivery="sent",
        )

    def _outbox_items(self, conversation_id: int) -> list[ThreadItem]:
        me = self.me()
        my_name = me.name if me is not None else "You"
        items: list[ThreadItem] = []
        for r in self._db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE conversation_id = ? ORDER BY id",  # noqa: S608
            [conversation_id],
        ).fetchall():
            ob = _outbox_item(r)
            kind: ThreadKind
            if ob.action == "reply":
                kind, body = "agent", str(ob.payload.get("body", ""))
            elif ob.action == "note":
                kind, body = "note", str(ob.payload.get("body", ""))
            else:
                kind = "system"
                agent_id = _opt_int(ob.payload.get("agent_id"))
                agent = self.agent(agent_id) if agent_id is not None else None
                agent_name = agent.name if agent is not None else f"agent #{agent_id}"
                body = _ACTION_TEXT.get(ob.action, ob.action).format(agent=agent_name)
            items.append(
                ThreadItem(
                    kind=kind,
                    key=f"o{ob.id}",
                    id=None,
                    seq=None,
                    author_name=my_name,
                    body=body,
                    created_at=ob.created_at,
                    delivery="failed" if ob.state == "failed" else "pending",
                    error=ob.error,
                    outbox_id=ob.id,
                )
            )
        return items

    def oldest_seq(self, conversation_id: int) -> int | None:
        """The smallest cached message seq of a conversation (for load_history)."""
        row = self._db.execute(
            "SELECT min(seq) FROM items WHERE conversation_id = ? AND kind = 'message'", [conversation_id]
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def cached_messages(self, conversation_id: int) -> int:
        """How many of the conversation's messages are cached."""
        row = self._db.execute(
            "SELECT count(*) FROM items WHERE conversation_id = ? AND kind = 'message'", [conversation_id]
        ).fetchone()
        return int(row[0])

    def search_messages(self, query: str, limit: int = 50) -> list[tuple[int, ThreadItem]]:
        """Messages and notes matching ``query`` (FTS5), best first, as
        (conversation_id, item) pairs."""
        match = fts_query(query)
        if match is None:
            return []
        rows = self._db.execute(
            "SELECT i.id, i.kind, i.server_id, i.seq, i.author_kind, i.author_name, i.body, i.created_at, "
            "i.conversation_id FROM items_fts JOIN items i ON i.id = items_fts.rowid "
            "WHERE items_fts MATCH ? ORDER BY rank LIMIT ?",
            [match, limit],
        ).fetchall()
        return [(r[8], self._stored_item(r)) for r in rows]

    def visitor(self, visitor_id: int) -> VisitorRow | None:
        """A visitor's details, or None when not cached."""
        r = self._db.execute(
            f"SELECT {', '.join(_VISITOR_FIELDS)} FROM visitors WHERE id = ?",  # noqa: S608
            [visitor_id],
        ).fetchone()
        if r is None:
            return None
        values = dict(zip(_VISITOR_FIELDS, r, strict=True))
        values["verified"] = bool(values["verified"])
        return VisitorRow(**values)

    def visitor_conversations(self, visitor_id: int) -> list[ConversationRow]:
        """All cached conversations of a visitor, newest first."""
        rows = self._db.execute(
            f"SELECT {_CONV_COLUMNS} {_CONV_FROM} WHERE c.visitor_id = ? ORDER BY c.last_activity DESC, c.id DESC",
            [visitor_id],
        ).fetchall()
        return [_conversation_row(r) for r in rows]

    def agents(self) -> list[AgentRow]:
        """The tenant's agents, by name."""
        rows = self._db.execute(
            "SELECT id, email, name, role, active, online FROM agents ORDER BY name COLLATE NOCASE, id"
        ).fetchall()
        return [AgentRow(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5])) for r in rows]

    def agent(self, agent_id: int) -> AgentRow | None:
        """One agent, or None."""
        r = self._db.execute(
            "SELECT id, email, name, role, active, online FROM agents WHERE id = ?", [agent_id]
        ).fetchone()
        return None if r is None else AgentRow(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5]))

    def _meta(self, key: str) -> Any:
        return _get_meta(self._db, key)

    def me(self) -> AgentRow | None:
        """The agent this cache belongs to, as last seen by the server."""
        me = self._meta("me")
        return AgentRow.from_wire(me) if isinstance(me, dict) else None

    def config(self) -> dict[str, Any] | None:
        """The tenant's widget configuration as last seen, or None."""
        config = self._meta("config")
        return config if isinstance(config, dict) else None

    def last_synced_at(self) -> float | None:
        """When the cache last caught up with the server (unix seconds)."""
        at = self._meta("last_synced_at")
        return float(at) if isinstance(at, int | float) else None

    def outbox(self, state: str | None = None) -> list[OutboxItem]:
        """Outbox items in order; ``state`` "pending" or "failed" filters."""
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox"  # noqa: S608
        params: list[Any] = []
        if state is not None:
            sql += " WHERE state = ?"
            params.append(state)
        return [_outbox_item(r) for r in self._db.execute(sql + " ORDER BY id", params).fetchall()]

    def outbox_item(self, outbox_id: int) -> OutboxItem | None:
        """One outbox item, or None when it is gone (acked or discarded)."""
        r = self._db.execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = ?", [outbox_id]).fetchone()  # noqa: S608
        return None if r is None else _outbox_item(r)

    def next_pending(self) -> OutboxItem | None:
        """The oldest pending outbox item: the next to send."""
        r = self._db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY id LIMIT 1"  # noqa: S608
        ).fetchone()
        return None if r is None else _outbox_item(r)

    def outbox_count(self) -> int:
        """How many outbox items wait for the server (failed ones excluded)."""
        return int(self._db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0])

    def unread_total(self) -> int:
        """Sum of unread visitor messages over non-resolved conversations (tray badge)."""
        row = self._db.execute("SELECT total(unread) FROM conversations WHERE eff_status != 'resolved'").fetchone()
        return int(row[0])

    def cursor(self) -> tuple[str | None, int | None]:
        """The resume cursor: (epoch, last applied event_id)."""
        epoch = self._meta("epoch")
        last = self._meta("last_event_id")
        return (epoch if isinstance(epoch, str) else None, last if isinstance(last, int) else None)

    def schema_version(self) -> int:
        """The highest migration applied."""
        return int(self._db.execute("SELECT max(version) FROM migrations").fetchone()[0])


def _replace_agents(db: Db, agents: Sequence[dict[str, Any]]) -> None:
    ids = []
    for a in agents:
        if _opt_int(a.get("id")) is not None:
            _upsert_agent(db, a)
            ids.append(a["id"])
    if ids:
        db.execute(f"DELETE FROM agents WHERE id NOT IN ({', '.join('?' for _ in ids)})", ids)  # noqa: S608
