"""The cache's file and schema: where it lives, how it is opened, and the
numbered migrations recorded in its ``migrations`` table.

Schema changes go only through :data:`MIGRATIONS`. Append only: never edit a
shipped migration, add the next number.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

__all__ = ["MIGRATIONS", "Db", "cache_path", "connect", "create_private", "get_meta", "migrate", "set_meta"]

log = logging.getLogger("frontdesk.console.cache")


class Db:
    """One connection to the cache: SQLite in autocommit mode (a statement
    outside :meth:`atomic` commits on its own), and :meth:`atomic` for a
    transaction, nested ones as savepoints.

    This is the part of sqlite-utils' ``Database`` the cache used. Importing
    sqlite-utils (with click, dateutil and pluggy) took about a third of the
    console's start before its first paint (issue 13, item 7).
    """

    __slots__ = ("_savepoints", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._savepoints = 0

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        """Run one statement (committed at once outside a transaction)."""
        return self.conn.execute(sql, parameters)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Db]:
        """A transaction (a savepoint inside one): committed when the block
        ends, rolled back when it raises."""
        if self.conn.in_transaction:
            self._savepoints += 1
            name = f"atomic_{self._savepoints}"
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException:
                self._rollback_to(name)
                raise
            else:
                self.conn.execute(f"RELEASE SAVEPOINT {name}")
            finally:
                self._savepoints -= 1
            return
        self.conn.execute("BEGIN")
        try:
            yield self
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback_to(self, savepoint: str) -> None:
        """Undo a savepoint, if an error has not ended the whole transaction already."""
        if self.conn.in_transaction:
            self.conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
            self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")

    def _rollback(self) -> None:
        """Roll back the transaction, if an error has not ended it already."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


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


def _m3_visitor_seen(db: Db) -> None:
    # The visitor's read receipt: the seq they read up to, and when the
    # console learned it live (ms; NULL when only a replayed event said so).
    db.execute("ALTER TABLE conversations ADD COLUMN visitor_seen_seq INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE conversations ADD COLUMN visitor_seen_at INTEGER")


def _m4_message_edits(db: Db) -> None:
    # An agent edited or deleted a message (PROTOCOL.md, "Editing and deleting"):
    # the item keeps only the current text, as the server does.
    db.execute("ALTER TABLE items ADD COLUMN edited_at INTEGER")
    db.execute("ALTER TABLE items ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0")


def _m5_activity(db: Db) -> None:
    # The activity trail (_activity.py): one line per status or assignee change.
    db.execute(
        """CREATE TABLE activity (
            id INTEGER PRIMARY KEY,
            event_id INTEGER UNIQUE,
            conversation_id INTEGER NOT NULL,
            change TEXT NOT NULL,
            actor_id INTEGER,
            assignee_id INTEGER,
            created_at INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX activity_thread ON activity (conversation_id, created_at)")


def _m6_agent_away(db: Db) -> None:
    # An agent's availability (PROTOCOL.md, availability.set), shown to colleagues.
    db.execute("ALTER TABLE agents ADD COLUMN away INTEGER NOT NULL DEFAULT 0")


def _m7_visitor_display_name(db: Db) -> None:
    # The name the server shows for a visitor (their name, or "Visitor #ID"):
    # the console shows the server's, rather than a copy of its rule. Rows
    # cached before have none: the cursor goes, so the next connection
    # refetches a snapshot, which brings every visitor's display_name.
    db.execute("ALTER TABLE visitors ADD COLUMN display_name TEXT")
    db.execute("DELETE FROM meta WHERE key = 'last_event_id'")


def _m8_attachments(db: Db) -> None:
    # A message's or note's files (PROTOCOL.md, "Attachments"): the server's
    # Attachment objects as a JSON list, NULL when it has none. (Idempotent:
    # a cache whose record of it was lost keeps the column it has.)
    columns = {row[1] for row in db.execute("PRAGMA table_info(items)").fetchall()}
    if "attachments" not in columns:
        db.execute("ALTER TABLE items ADD COLUMN attachments TEXT")


def _m9_teams_labels_canned(db: Db) -> None:
    # Teams, labels and canned responses (issue 15; PROTOCOL.md, "Teams", "Labels", "Canned responses"). A
    # conversation's team and labels as the server last said (``label_ids`` ",3,7,"), and ``eff_label_ids``: with
    # this console's pending label.add/label.remove applied (_apply.recompute). ``canned_uses`` counts this agent's
    # own uses, for the completion's order; it never leaves the console. The cursor goes, so the next connection
    # refetches a snapshot that brings every conversation's team and labels.
    db.execute("ALTER TABLE conversations ADD COLUMN team_id INTEGER")
    db.execute("ALTER TABLE conversations ADD COLUMN label_ids TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE conversations ADD COLUMN eff_label_ids TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL, member_ids TEXT NOT NULL)")
    db.execute("CREATE TABLE labels (id INTEGER PRIMARY KEY, name TEXT NOT NULL, color TEXT NOT NULL)")
    db.execute(
        """CREATE TABLE canned (
            id INTEGER PRIMARY KEY, scope TEXT NOT NULL, team_id INTEGER, agent_id INTEGER,
            shortcut TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, updated_at INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE TABLE canned_uses (canned_id INTEGER PRIMARY KEY, uses INTEGER NOT NULL, last_used INTEGER)")
    db.execute("DELETE FROM meta WHERE key = 'last_event_id'")


def _m10_snooze(db: Db) -> None:
    # Snooze (PROTOCOL.md, "Snooze"): when a snoozed conversation wakes (NULL: when the visitor writes).
    db.execute("ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER")


def _m12_visitor_context(db: Db) -> None:
    # Where the visitor is, their visit count and the site's custom attributes
    # (PROTOCOL.md, "Visitor"; attributes as JSON text). Rows cached before have
    # none: the cursor goes, so the next connection refetches a snapshot.
    have = {row[1] for row in db.execute("PRAGMA table_info(visitors)").fetchall()}
    for column in ("ip TEXT", "country TEXT", "region TEXT", "city TEXT", "visits INTEGER", "attributes TEXT"):
        if column.split()[0] not in have:  # a cache rewound by hand (tests) may have them
            db.execute(f"ALTER TABLE visitors ADD COLUMN {column}")
    db.execute("DELETE FROM meta WHERE key = 'last_event_id'")


def _m14_csat(db: Db) -> None:
    # Satisfaction surveys (csat.requested / csat.submitted), shown in the thread's header and the visitor pane.
    # IF NOT EXISTS: a test (or a downgrade) that forgets later migrations' records may run this again.
    db.execute(
        """CREATE TABLE IF NOT EXISTS csat (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL,
            agent_id INTEGER,
            scale TEXT NOT NULL,
            rating INTEGER,
            comment TEXT,
            created_at INTEGER NOT NULL,
            rated_at INTEGER
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS csat_conversation ON csat (conversation_id)")


def _m15_reports(db: Db) -> None:
    # The last report fetched per query (console/core/reports.py): ``query`` is the canonical JSON of the
    # report.get fields, ``report`` the ReportResult as wire JSON (decoded with protocol.from_wire when read),
    # ``fetched_at`` this console's clock (ms). The Reports view shows them offline, marked as such.
    db.execute(
        """CREATE TABLE IF NOT EXISTS reports (
            query TEXT PRIMARY KEY,
            report TEXT NOT NULL,
            fetched_at INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS reports_fetched ON reports (fetched_at DESC)")


def _m16_held_emails(db: Db) -> None:
    # Email replies held for review (email.held events, email.held.list), shown in the thread (cache/_held.py).
    db.execute(
        """CREATE TABLE IF NOT EXISTS held_emails (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL,
            visitor_id INTEGER NOT NULL,
            sender TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS held_emails_conversation ON held_emails (conversation_id)")


def _m17_activity_team(db: Db) -> None:
    # The team a conversation was transferred to, so the trail can name it (_activity.py; PROTOCOL.md, "Transfer").
    db.execute("ALTER TABLE activity ADD COLUMN team_id INTEGER")


#: (number, name, function). The ``migrations`` table records which ran.
MIGRATIONS: Final[tuple[tuple[int, str, Callable[[Db], None]], ...]] = (
    (1, "initial", _m1_initial),
    (2, "conversation_version", _m2_conversation_version),
    (3, "visitor_seen", _m3_visitor_seen),
    (4, "message_edits", _m4_message_edits),
    (5, "activity", _m5_activity),
    (6, "agent_away", _m6_agent_away),
    (7, "visitor_display_name", _m7_visitor_display_name),
    (8, "attachments", _m8_attachments),
    (9, "teams_labels_canned", _m9_teams_labels_canned),
    (10, "snooze", _m10_snooze),
    (12, "visitor_context", _m12_visitor_context),
    (14, "csat", _m14_csat),
    (15, "reports", _m15_reports),
    (16, "held_emails", _m16_held_emails),
    (17, "activity_team", _m17_activity_team),
)


def migrate(db: Db) -> int:
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


def create_private(path: Path) -> None:
    """Create the cache file (and its folder) readable by the user only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)  # an existing file created by an older version


def connect(path: Path) -> Db:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db = Db(conn)
    db.execute("PRAGMA busy_timeout = 5000")
    # An outbox write is a promise to the agent ("sent when back online"):
    # FULL makes every commit survive power loss, not just a crash.
    db.execute("PRAGMA synchronous = FULL")
    return db


def set_meta(db: Db, key: str, value: Any) -> None:
    """Store a JSON value under ``key`` in the ``meta`` table."""
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, json.dumps(value)],
    )


def get_meta(db: Db, key: str) -> Any:
    """The JSON value stored under ``key``, or None."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else json.loads(row[0])
