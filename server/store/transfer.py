"""Moving a whole installation from SQLite to PostgreSQL (``frontdesk migrate-db``).

The copy keeps every id, every ``event_id`` and the epoch, so a client that was connected to the SQLite server
resumes against the PostgreSQL one from its cursor, with no reset and no gap. It is table-generic: every table the
two schemas share is copied, column by column where both have the column, in foreign-key order; so a migration
that adds a table needs nothing here, and the contract is checked afterwards instead of assumed:

- each table's row count, and an order-independent checksum of its rows (the sum of a hash per row, so neither
  side's sort order or collation matters), compared between source and target;
- derived tables (the search index) rebuilt by the target's own triggers as their source rows arrive;
- every id sequence moved past the highest id SQLite ever handed out (its ``sqlite_sequence``, which is higher
  than ``MAX(id)`` after an erasure), so ids are never reused on the new database either.

The source must not be served meanwhile: the copy holds the same lock ``frontdesk serve`` takes. Both schemas must
be at the same migration, which :func:`migrate_database` arranges for the target and demands of the source.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import FrontdeskError

__all__ = ["TableReport", "TransferReport", "migrate_database"]

log = logging.getLogger("frontdesk.server.store.transfer")

#: Tables each database keeps for itself: its migration record is written by its own migrations, and ``meta``
#: holds per-database bookkeeping (only the epoch is carried over, on purpose); ``search_progress`` is SQLite's own
#: (how far its full-text index has caught up: migration 0017).
_OWN_TABLES = frozenset(
    {"schema_migrations", "meta", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4", "search_progress"}
)
#: Tables the target's triggers fill from the rows they derive from (the search index: migration 0008), so they are
#: rebuilt as ``messages`` and ``notes`` are copied, never copied themselves.
_DERIVED_TABLES = frozenset({"search_entries"})
#: ``meta`` keys carried to the target: the epoch, so clients resume instead of refetching.
_CARRIED_META = ("epoch",)
#: Rows per COPY chunk and per progress line.
_CHUNK = 5_000

Progress = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True)
class TableReport:
    """One table after the copy: rows on each side and whether their checksums agree."""

    name: str
    source_rows: int
    target_rows: int
    checksum_matches: bool

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.checksum_matches


@dataclasses.dataclass(frozen=True)
class TransferReport:
    """What :func:`migrate_database` did: the tables, the epoch the target serves and whether it is the source's."""

    tables: tuple[TableReport, ...]
    epoch: str
    epoch_kept: bool

    @property
    def ok(self) -> bool:
        return all(table.ok for table in self.tables)


def _row_digest(values: Iterable[Any]) -> int:
    """A 128-bit hash of one row's values, the same for equal values read from either database."""
    h = hashlib.blake2b(digest_size=16)
    for value in values:
        if value is None:
            h.update(b"\x00N")
        elif isinstance(value, bool):  # before int: bool is an int
            h.update(b"\x00i" + str(int(value)).encode())
        elif isinstance(value, int):
            h.update(b"\x00i" + str(value).encode())
        elif isinstance(value, float):
            h.update(b"\x00f" + value.hex().encode())
        elif isinstance(value, (bytes, bytearray, memoryview)):
            h.update(b"\x00b" + bytes(value))
        else:
            h.update(b"\x00s" + str(value).encode())
    return int.from_bytes(h.digest(), "big")


def _checksum(rows: Iterable[Sequence[Any]]) -> tuple[int, int]:
    """(rows, the sum of their digests mod 2**128): order-independent, and a duplicated row changes it."""
    count = 0
    total = 0
    for row in rows:
        count += 1
        total = (total + _row_digest(row)) % (1 << 128)
    return count, total


def _hold_source(path: Path) -> Any:
    """Take the lock a ``frontdesk serve`` on ``path`` holds, so none runs while it is copied."""
    lock_path = path.with_name(path.name + ".lock")
    handle = open(lock_path, "a+")  # noqa: SIM115 - held until the copy ends
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise FrontdeskError(f"a frontdesk serve is using {path}; stop the server first") from None
    return handle


def _sqlite_tables(src: sqlite3.Connection) -> dict[str, list[str]]:
    """Ordinary tables of the source and their columns (virtual tables and their shadow tables left out)."""
    rows = src.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
    tables: dict[str, list[str]] = {}
    for name, _sql in rows:
        if name in virtual or any(name.startswith(v + "_") for v in virtual):
            continue  # e.g. a full-text index: the target builds its own from the rows
        tables[name] = [r[1] for r in src.execute(f'PRAGMA table_info("{name}")')]
    return tables


def _pg_tables(conn: Any) -> dict[str, list[str]]:
    """Tables of the target's public schema and their columns that may be written (generated ones left out)."""
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND is_generated = 'NEVER' ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def _fk_order(conn: Any, names: Iterable[str]) -> list[str]:
    """``names`` ordered so that every table comes after the tables its foreign keys point at."""
    wanted = set(names)
    edges: dict[str, set[str]] = {name: set() for name in wanted}
    for child, parent in conn.execute(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c WHERE c.contype = 'f'"
    ).fetchall():
        if child in wanted and parent in wanted and child != parent:
            edges[child].add(parent)
    ordered: list[str] = []
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in path:
            raise FrontdeskError(f"foreign keys form a cycle through {name}; cannot order the copy")
        for parent in sorted(edges[name]):
            visit(parent, (*path, name))
        done.add(name)
        ordered.append(name)

    for name in sorted(wanted):
        visit(name, ())
    return ordered


def _chunks(cursor: sqlite3.Cursor) -> Iterator[list[Any]]:
    while True:
        batch = cursor.fetchmany(_CHUNK)
        if not batch:
            return
        yield batch


def _tables_with_rows(conn: Any, tables: Iterable[str]) -> list[str]:
    """The tables of the target that hold rows (``meta`` and the migration record do not count)."""
    return [t for t in tables if conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{t}")').fetchone()[0]]


def _copy_rows(src: sqlite3.Connection, conn: Any, table: str, columns: list[str], progress: Progress) -> None:
    total = src.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    quoted = ", ".join(f'"{c}"' for c in columns)
    done = 0
    progress(table, 0, total)
    with conn.cursor().copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
        for batch in _chunks(src.execute(f'SELECT {quoted} FROM "{table}"')):
            for row in batch:
                copy.write_row(row)
            done += len(batch)
            progress(table, done, total)


def _advance_sequences(src: sqlite3.Connection, conn: Any, tables: Iterable[str]) -> None:
    """Every serial column's sequence past the highest id the source ever handed out."""
    handed_out: dict[str, int] = {}
    if src.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        handed_out = {name: int(seq) for name, seq in src.execute("SELECT name, seq FROM sqlite_sequence")}
    for table in tables:
        for (column,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s"
            " AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL",
            (table,),
        ).fetchall():
            highest = conn.execute(f'SELECT COALESCE(MAX("{column}"), 0) FROM "{table}"').fetchone()[0]
            floor = max(int(highest), handed_out.get(table, 0))
            if floor > 0:
                conn.execute("SELECT setval(pg_get_serial_sequence(%s, %s), %s, true)", (f'"{table}"', column, floor))


def _verify(src: sqlite3.Connection, conn: Any, plan: dict[str, list[str]]) -> tuple[TableReport, ...]:
    reports = []
    for table, columns in plan.items():
        quoted = ", ".join(f'"{c}"' for c in columns)
        source_rows, source_sum = _checksum(src.execute(f'SELECT {quoted} FROM "{table}"'))
        with conn.cursor(name=f"verify_{table}") as cur:  # server-side: bounded memory on big tables
            cur.execute(f'SELECT {quoted} FROM "{table}"')
            target_rows, target_sum = _checksum(cur)
        reports.append(TableReport(table, source_rows, target_rows, source_sum == target_sum))
    return tuple(reports)


def copy_sqlite_to_postgres(
    source: Path, target_url: str, *, replace: bool = False, new_epoch: bool = False, progress: Progress
) -> TransferReport:
    """Copy the SQLite database ``source`` into the migrated, empty PostgreSQL database at ``target_url``.

    One transaction on the target: a failure leaves it as it was. Raises :class:`FrontdeskError` when a server
    holds the source, the schemas differ, or the target has rows and ``replace`` is false (with ``replace``, its
    rows are deleted first). ``new_epoch`` gives the target a fresh epoch, so every client refetches a snapshot
    instead of resuming. Call it with the target already migrated (:func:`migrate_database` does).
    """
    import psycopg

    if not source.is_file():
        raise FrontdeskError(f"{source} does not exist")
    lock = _hold_source(source)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            with psycopg.connect(target_url) as conn:
                return _copy(src, conn, replace=replace, new_epoch=new_epoch, progress=progress)
        finally:
            src.close()
    finally:
        lock.close()


def _copy(src: sqlite3.Connection, conn: Any, *, replace: bool, new_epoch: bool, progress: Progress) -> TransferReport:
    src_version = src.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    dst_version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    if src_version != dst_version:
        raise FrontdeskError(
            f"the source is at schema {src_version} and the target at {dst_version}; run `frontdesk migrate --db"
            " SOURCE` with this Frontdesk first"
        )
    source_tables = _sqlite_tables(src)
    target_tables = _pg_tables(conn)
    shared = [t for t in source_tables if t in target_tables and t not in _OWN_TABLES | _DERIVED_TABLES]
    derived = sorted(t for t in _DERIVED_TABLES if t in target_tables)
    missing = sorted(set(source_tables) - set(target_tables) - _OWN_TABLES - _DERIVED_TABLES)
    if missing:
        raise FrontdeskError(f"the target has no table for {', '.join(missing)}; is it a Frontdesk database?")
    order = _fk_order(conn, shared)
    plan = {t: [c for c in source_tables[t] if c in target_tables[t]] for t in order}
    with conn.transaction():
        busy = _tables_with_rows(conn, [*order, *derived])
        if busy and not replace:
            raise FrontdeskError(
                f"the target is not empty ({', '.join(busy)} hold rows); pass --replace to delete them first"
            )
        if busy:
            log.warning("deleting the target's rows in %s", ", ".join(busy))
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in [*order, *derived]) + " RESTART IDENTITY CASCADE")
        for table, columns in plan.items():
            _copy_rows(src, conn, table, columns, progress)
        _advance_sequences(src, conn, order)
        carried = dict(
            src.execute(
                f"SELECT key, value FROM meta WHERE key IN ({', '.join('?' for _ in _CARRIED_META)})", _CARRIED_META
            ).fetchall()
        )
        kept = not new_epoch and "epoch" in carried
        epoch = str(carried["epoch"]) if kept else uuid.uuid4().hex
        carried["epoch"] = epoch
        for key, value in carried.items():
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )
        reports = _verify(src, conn, plan)
        if not all(r.ok for r in reports):
            bad = ", ".join(f"{r.name} ({r.source_rows} → {r.target_rows})" for r in reports if not r.ok)
            raise FrontdeskError(f"the copy does not match its source in {bad}; nothing was committed")
    return TransferReport(reports, epoch, epoch_kept=kept)


async def migrate_database(
    source_url: str, target_url: str, *, replace: bool = False, new_epoch: bool = False, progress: Progress
) -> TransferReport:
    """``frontdesk migrate-db``: bring the PostgreSQL target to this Frontdesk's schema, then copy the SQLite source.

    See :func:`copy_sqlite_to_postgres` for the contract.
    """
    import asyncio

    from . import open_store, sqlite_path

    if not source_url.startswith("sqlite:///"):
        raise FrontdeskError("--from must be a sqlite:/// URL (the database to move)")
    if not target_url.startswith(("postgresql://", "postgres://")):
        raise FrontdeskError("--to must be a postgresql:// URL (the database to move to)")
    source = Path(sqlite_path(source_url))
    if not await asyncio.to_thread(source.is_file):
        raise FrontdeskError(f"{source} does not exist")
    target = open_store(target_url)
    await target.open()  # applies this Frontdesk's migrations: both sides now share one schema version
    await target.close()
    return await asyncio.to_thread(
        copy_sqlite_to_postgres, source, target_url, replace=replace, new_epoch=new_epoch, progress=progress
    )
