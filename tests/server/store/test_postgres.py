"""What only the PostgreSQL store does: durability checks, several nodes on one
database (fan-out, ordering, concurrent writers and migrations), and
surviving lost connections."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest
from frontdesk.server.domain import EventRecord
from frontdesk.server.exceptions import DurabilityError, RateLimited
from frontdesk.server.report_projection import ReportProjection
from frontdesk.server.store import _sql, conversations, events, messages, reports, visitors
from frontdesk.server.store.base import shipped_migrations
from frontdesk.server.store.postgres import (
    CHANNEL,
    WRITE_LOCK,
    PostgresStore,
    _storage_failure,
    _unavailable,
    translate,
)

from tests.support import TIMEOUT, unused_port

from .test_contract import World, _seed, cid

pytestmark = pytest.mark.postgres


def test_placeholders_translate_to_psycopg() -> None:
    """``?`` becomes ``%s`` and a literal ``%`` is doubled, but quoted text is left as written."""
    assert translate("SELECT * FROM t WHERE a = ? AND b LIKE ?") == "SELECT * FROM t WHERE a = %s AND b LIKE %s"
    assert translate("SELECT '?', \"a?\", 5 % 2 FROM t WHERE x = ?") == "SELECT '?', \"a?\", 5 %% 2 FROM t WHERE x = %s"
    assert translate("LIKE ('%:' || x)") == "LIKE ('%%:' || x)"


class Node:
    """One PostgresStore standing in for a server node, recording what it publishes."""

    def __init__(self, url: str, *, poll_interval: float | None = None) -> None:
        self.store = PostgresStore(url)
        if poll_interval is not None:
            self.store.poll_interval = poll_interval
        self.published: list[EventRecord] = []

    async def __aenter__(self) -> Node:
        await self.store.open()
        self.store.on_commit = self.published.extend
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.store.close()

    @property
    def ids(self) -> list[int]:
        return [e.event_id for e in self.published]


async def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait until ``check()`` holds (no timing is asserted: the bound is generous)."""
    deadline = asyncio.get_running_loop().time() + 3 * TIMEOUT
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


async def say(node: Node, w: World, visitor: int, body: str, conversation_id: int | None = None) -> Any:
    return await node.store.write(
        messages.post_message,
        w.tenant,
        author_kind="visitor",
        author_id=visitor,
        conversation_id=conversation_id,
        client_id=cid(),
        body=body,
    )


def two_nodes(url: str, scenario: Callable[[Node, Node], Awaitable[None]], **kw: Any) -> None:
    async def main() -> None:
        async with Node(url, **kw) as a, Node(url, **kw) as b:
            await scenario(a, b)

    asyncio.run(main())


def test_refuses_synchronous_commit_off(pg_url: str) -> None:
    """A session with synchronous_commit=off could lose acked writes, so open() raises DurabilityError."""

    async def main() -> None:
        store = PostgresStore(pg_url + "?options=-c%20synchronous_commit%3Doff")
        with pytest.raises(DurabilityError, match="synchronous_commit=off"):
            await store.open()
        await store.close()

    asyncio.run(main())


def test_durability_reported(pg_url: str) -> None:
    """The settings in force are reported for verify and /healthz."""

    async def main() -> None:
        async with Node(pg_url) as node:
            assert await node.store.durability() == {"synchronous_commit": "on", "fsync": "on"}

    asyncio.run(main())


def test_nodes_starting_together_migrate_once(pg_url: str) -> None:
    """Several nodes opening an empty database at once apply each migration once and share one epoch."""

    async def main() -> None:
        stores = [PostgresStore(pg_url) for _ in range(3)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            assert len({s.epoch for s in stores}) == 1
            rows = await stores[0].read(lambda tx: tx.all("SELECT version FROM schema_migrations ORDER BY version"))
            assert [r["version"] for r in rows] == [v for v, _, _ in shipped_migrations("postgres")]
        finally:
            await asyncio.gather(*(s.close() for s in stores))

    asyncio.run(main())


def test_each_node_publishes_every_event_once_in_order(pg_url: str) -> None:
    """Two nodes writing at once each publish every event of both, exactly once and, within each tenant, in
    event_id order. Order across tenants is not promised (the seed writes to two tenants: a node may publish
    one tenant's later events before the other tenant's earlier one)."""

    async def scenario(a: Node, b: Node) -> None:
        w = await a.store.write(_seed)
        visitors = [w.alice, w.carol]

        async def burst(node: Node, who: int, n: int) -> list[Any]:
            return [await say(node, w, who, f"{who}-{i}") for i in range(n)]

        results = await asyncio.gather(burst(a, visitors[0], 25), burst(b, visitors[1], 25), burst(a, visitors[1], 10))
        rows = await a.store.read(lambda tx: tx.all("SELECT event_id, tenant_id FROM events ORDER BY event_id"))
        every = [r["event_id"] for r in rows]
        await eventually(lambda: set(every) <= set(a.ids) and set(every) <= set(b.ids), "both nodes caught up")
        # Both nodes opened before anything was written: each published all of it, once.
        for node in (a, b):
            assert sorted(node.ids) == every
            for tenant in {r["tenant_id"] for r in rows}:
                mine = [e.event_id for e in node.published if e.tenant_id == tenant]
                assert mine == [r["event_id"] for r in rows if r["tenant_id"] == tenant]
        acked = {r.event_id for rs in results for r in rs}
        assert acked <= set(every)
        assert b.store.caught_up > 0  # some came from reading the log

    two_nodes(pg_url, scenario)


def test_two_nodes_projecting_one_tenant_count_each_event_once(pg_url: str) -> None:
    """Each node projects the reporting facts from the events it published (its own and, through the log, the
    other's) while both write to one tenant: the facts equal one rebuild's, each reply counted once."""

    async def scenario(a: Node, b: Node) -> None:
        projections = {}
        for node in (a, b):
            projection = ReportProjection(node.store, delay=0.01)
            projections[id(node)] = projection

            def both(batch: list[EventRecord], node: Node = node, projection: ReportProjection = projection) -> None:
                node.published.extend(batch)
                projection.on_commit(batch)

            node.store.on_commit = both
        w = await a.store.write(_seed)
        first = await say(a, w, w.alice, "start")
        conversation = first.conversation_id

        async def burst(node: Node, who: int, n: int) -> None:
            for i in range(n):
                await say(node, w, who, f"{who}-{i}", conversation_id=conversation if who == w.alice else None)
                await node.store.write(
                    messages.post_message,
                    w.tenant,
                    author_kind="agent",
                    author_id=w.agent,
                    conversation_id=conversation,
                    client_id=cid(),
                    body="on it",
                )

        await asyncio.gather(burst(a, w.alice, 15), burst(b, w.alice, 15), burst(b, w.carol, 5))

        async def caught_up() -> bool:
            def read(tx: _sql.Tx) -> bool:
                newest = tx.one(
                    "SELECT MAX(event_id) AS e FROM events WHERE tenant_id = ? AND kind = 'message.created'",
                    (w.tenant,),
                )
                cursor = tx.one("SELECT last_event_id FROM report_cursors WHERE tenant_id = ?", (w.tenant,))
                return cursor is not None and newest is not None and cursor["last_event_id"] >= newest["e"]

            return bool(await a.store.read(read))

        deadline = asyncio.get_running_loop().time() + 3 * TIMEOUT
        while not await caught_up():
            assert asyncio.get_running_loop().time() < deadline, "the projections never caught up"
            await asyncio.sleep(0.02)

        async def facts() -> tuple[list[Any], ...]:
            def read(tx: _sql.Tx) -> tuple[list[Any], ...]:
                return (
                    tx.all("SELECT * FROM report_episodes ORDER BY conversation_id, start_event_id"),
                    tx.all("SELECT * FROM report_replies ORDER BY message_id"),
                    tx.all("SELECT * FROM report_hourly ORDER BY hour, agent_id, team_id, channel"),
                    tx.all("SELECT * FROM report_daily ORDER BY day, agent_id, team_id, channel"),
                )

            return await a.store.read(read)

        projected = await facts()
        assert len(projected[1]) == 15 + 15 + 5  # every agent reply once
        assert sum(h["messages_in"] for h in projected[2]) == 1 + 15 + 15 + 5
        assert sum(d["messages_in"] for d in projected[3]) == 1 + 15 + 15 + 5  # the daily counts add up too
        await a.store.write(reports.rebuild, w.tenant)
        assert await facts() == projected
        for projection in projections.values():
            projection.close()

    two_nodes(pg_url, scenario)


def test_seqs_stay_gap_free_with_two_writing_nodes(pg_url: str) -> None:
    """Visitor and agent writing one conversation from two nodes at once get seqs 1..n with no duplicate."""

    async def scenario(a: Node, b: Node) -> None:
        w = await a.store.write(_seed)
        first = await say(a, w, w.alice, "start")
        c_id = first.conversation_id

        async def visitor_side() -> list[int]:
            return [(await say(a, w, w.alice, f"v{i}", c_id)).seq for i in range(20)]

        async def agent_side() -> list[int]:
            out = []
            for i in range(20):
                r = await b.store.write(
                    messages.post_message,
                    w.tenant,
                    author_kind="agent",
                    author_id=w.agent,
                    conversation_id=c_id,
                    client_id=cid(),
                    body=f"a{i}",
                )
                out.append(r.seq)
            return out

        v, g = await asyncio.gather(visitor_side(), agent_side())
        assert sorted([1, *v, *g]) == list(range(1, 42))
        stored = await b.store.read(
            lambda tx: tx.all("SELECT seq, event_id FROM messages WHERE conversation_id = ? ORDER BY seq", (c_id,))
        )
        assert [m["seq"] for m in stored] == list(range(1, 42))
        assert [m["event_id"] for m in stored] == sorted(m["event_id"] for m in stored)

    two_nodes(pg_url, scenario)


def test_events_without_a_notification_arrive_by_polling(pg_url: str) -> None:
    """An event committed with no NOTIFY (a lost notification) still reaches every node through the poll."""

    async def scenario(a: Node, b: Node) -> None:
        w = await a.store.write(_seed)

        import psycopg

        with psycopg.connect(pg_url, autocommit=True) as raw, raw.transaction():
            raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            row = raw.execute(
                "INSERT INTO events (tenant_id, kind, payload, created_at) VALUES (%s, 'test.silent', '{}', 0)"
                " RETURNING event_id",
                (w.tenant,),
            ).fetchone()
            assert row is not None
            event_id = row[0]
        await eventually(lambda: event_id in a.ids and event_id in b.ids, "both nodes polled the silent event")

    two_nodes(pg_url, scenario, poll_interval=0.2)


def test_listener_reconnects_after_losing_its_connection(pg_url: str) -> None:
    """When the LISTEN connection is killed, the node reconnects and still gets other nodes' events."""

    async def scenario(a: Node, b: Node) -> None:
        w = await a.store.write(_seed)
        killed = await a.store.read(
            lambda tx: tx.all(
                "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'frontdesk-listener'"
            )
        )
        assert len(killed) == 2
        r = await say(a, w, w.alice, "after the outage")
        await eventually(lambda: r.event_id in b.ids, "node b heard of node a's message")

    two_nodes(pg_url, scenario, poll_interval=0.3)


def test_writer_survives_a_lost_connection(pg_url: str) -> None:
    """A write whose connection was killed before it ran is retried on a new connection and succeeds."""

    async def main() -> None:
        async with Node(pg_url) as node:
            w = await node.store.write(_seed)
            await node.store.read(
                lambda tx: tx.all(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = 'frontdesk-writer'"
                )
            )
            r = await say(node, w, w.alice, "still here")
            assert r.seq == 1
            assert r.event_id in node.ids

    asyncio.run(main())


def test_notification_channel_carries_the_last_event_id(pg_url: str) -> None:
    """A committed batch announces its node, tenant and last event_id on the channel; a rolled-back one announces
    nothing."""

    async def main() -> None:
        import psycopg

        async with Node(pg_url) as node:
            w = await node.store.write(_seed)
            listener = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
            try:
                await listener.execute(f"LISTEN {CHANNEL}")

                def doomed(tx: _sql.Tx) -> None:
                    events.append_event(tx, w.tenant, "test.doomed", {})
                    raise RuntimeError("no")

                with pytest.raises(RuntimeError):
                    await node.store.write(doomed)
                r = await say(node, w, w.alice, "hello")
                got = [n.payload async for n in listener.notifies(timeout=TIMEOUT, stop_after=1)]
                assert got == [f"{node.store.node_id}/{w.tenant}:{r.event_id}"]
            finally:
                await listener.close()

    asyncio.run(main())


def test_a_node_reads_nothing_back_for_its_own_notifications(pg_url: str) -> None:
    """A node's writer publishes its own batches, so the node's listener skips their notifications: no
    catch-up read for them (a read each used to follow most commits); another node's commit is still read."""

    async def scenario(a: Node, b: Node) -> None:
        reads: list[object] = []
        catch_up = a.store.catch_up

        async def counted(tenants: Any = None) -> int:
            reads.append(tenants)
            return await catch_up(tenants)

        a.store.catch_up = counted  # type: ignore[method-assign]
        w = await a.store.write(_seed)
        await eventually(lambda: a.store.listening and b.store.listening, "both nodes listen")
        acks = await asyncio.gather(*(say(a, w, w.alice, f"m{i}") for i in range(20)))
        assert all(x.event_id in a.ids for x in acks)
        fence = await say(b, w, w.alice, "from b")
        await eventually(lambda: fence.event_id in a.ids, "node a read node b's message")
        assert [r for r in reads if r is not None] == [{w.tenant}], reads  # None: the read when it began listening
        assert a.ids == sorted(a.ids) and len(set(a.ids)) == len(a.ids)

    two_nodes(pg_url, scenario, poll_interval=3600)


def test_broadcast_reaches_the_other_nodes_only(pg_url: str) -> None:
    """An ephemeral broadcast (typing, presence) reaches every other node's on_broadcast, not the sender's."""

    async def scenario(a: Node, b: Node) -> None:
        got_a: list[dict[str, Any]] = []
        got_b: list[dict[str, Any]] = []
        a.store.on_broadcast = got_a.append
        b.store.on_broadcast = got_b.append
        await eventually(lambda: a.store.listening and b.store.listening, "both nodes LISTEN")
        message = {"kind": "typing", "tenant_id": 1, "data": {"conversation_id": 3, "is_typing": True}}
        await a.store.broadcast(message)
        await eventually(lambda: got_b == [message], "node b got the broadcast")
        await b.store.broadcast({"kind": "presence"})
        await eventually(lambda: got_a == [{"kind": "presence"}], "node a got the broadcast")
        assert got_b == [message]
        with pytest.raises(ValueError, match="too large"):
            await a.store.broadcast({"blob": "x" * 8000})

    two_nodes(pg_url, scenario)


def test_reads_survive_lost_connections(pg_url: str) -> None:
    """A read whose pooled connection was killed is retried once on a new connection."""

    async def main() -> None:
        async with Node(pg_url) as node, Node(pg_url) as killer:
            w = await node.store.write(_seed)
            for _ in range(8):  # touch every reader thread's connection
                await asyncio.gather(*(node.store.read(_sql.get_meta, "epoch") for _ in range(4)))
            killed = await killer.store.read(
                lambda tx: tx.all(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = 'frontdesk-reader' AND pid <> pg_backend_pid()"
                )
            )
            assert killed
            results = await asyncio.gather(
                *(node.store.read(conversations.visitor_conversations, w.tenant, w.alice) for _ in range(8))
            )
            assert results == [[]] * 8

    asyncio.run(main())


def _admin(sql: str, params: tuple[Any, ...] = ()) -> None:
    import psycopg

    from .conftest import PG_ADMIN_URL

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.encode(), params)


def _kick_writer(db: str) -> None:
    """Terminate the store's writer session: its next batch reconnects, with the database's current settings."""
    _admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
        " AND application_name = 'frontdesk-writer'",
        (db,),
    )


def test_a_read_only_database_answers_unavailable_and_health_says_so(pg_url: str) -> None:
    """Writes to a database that turned read-only (a standby, default_transaction_read_only) raise
    Unavailable, not the statement's error, and check_writable reports it; once writable, both recover."""
    from frontdesk.server.exceptions import Unavailable

    db = pg_url.rpartition("/")[2]

    async def main() -> None:
        async with Node(pg_url) as node:
            w = await node.store.write(_seed)
            assert await node.store.check_writable() == (True, None)
            _admin(f"ALTER DATABASE {db} SET default_transaction_read_only = on")
            _kick_writer(db)
            with pytest.raises(Unavailable) as caught:
                await say(node, w, w.alice, "refused")
            assert "read-only" in caught.value.reason
            writable, error = await node.store.check_writable()
            assert writable is False and error is not None and "read-only" in error
            _admin(f"ALTER DATABASE {db} RESET default_transaction_read_only")
            _kick_writer(db)
            r = await say(node, w, w.alice, "stored")
            assert r.seq == 1  # nothing of the refused write was stored
            assert await node.store.check_writable() == (True, None)

    asyncio.run(main())


def test_a_pg_restore_gets_a_new_epoch(pg_url: str, tmp_path: Any) -> None:
    """pg_dump, then pg_restore --clean: the store sees the recreated tables at open and changes the
    epoch once; opening again keeps it."""
    import shutil
    import subprocess

    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not installed")

    async def epoch() -> str:
        store = PostgresStore(pg_url)
        await store.open()
        await store.close()
        return store.epoch

    first = asyncio.run(epoch())
    assert asyncio.run(epoch()) == first  # a plain restart keeps it
    dump = tmp_path / "db.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), pg_url], check=True, capture_output=True)
    subprocess.run(["pg_restore", "--clean", "-d", pg_url, str(dump)], check=True, capture_output=True)
    restored = asyncio.run(epoch())
    assert restored != first
    assert asyncio.run(epoch()) == restored


# -- what is a storage failure, and what /healthz may say about it -----------------------------


@pytest.mark.parametrize(
    ("error", "storage", "words"),
    [
        (psycopg.errors.DeadlockDetected, False, None),  # 40P01
        (psycopg.errors.SerializationFailure, False, None),  # 40001
        (psycopg.errors.QueryCanceled, False, None),  # 57014: statement timeout
        (psycopg.errors.LockNotAvailable, False, None),  # 55P03: lock timeout
        (psycopg.errors.ProgramLimitExceeded, False, None),  # 54000
        (psycopg.errors.DiskFull, True, "disk full"),  # 53100
        (psycopg.errors.ReadOnlySqlTransaction, True, "read-only"),  # 25006
        (psycopg.errors.IoError, True, "I/O error"),  # 58030
        (psycopg.errors.AdminShutdown, True, "database unreachable"),  # 57P01
        (psycopg.errors.ConnectionFailure, True, "database unreachable"),  # 08006
    ],
)
def test_only_storage_sqlstates_count_as_storage_failures(error: type[Exception], storage: bool, words: str) -> None:
    """Deadlocks, timeouts and limits fail a statement; connection, disk, I/O, read-only and shutdown
    SQLSTATEs fail the storage, and /healthz names them in fixed words."""
    exc = error("detail naming host db.internal port 6543 user frontdesk_owner")
    assert _storage_failure(exc) is storage
    if words is not None:
        assert _unavailable(exc, "write").reason == words


def test_a_refused_connection_is_unreachable_without_naming_the_host() -> None:
    """A connection error (no SQLSTATE) is a storage failure, published as "database unreachable"."""
    exc = psycopg.OperationalError(
        'connection to server at "10.9.8.7", port 6543 failed: Connection refused (user "secret_user")'
    )
    assert _storage_failure(exc)
    error = _unavailable(exc, "write")
    assert error.reason == "database unreachable" and "10.9.8.7" in str(error)


def test_a_job_that_times_out_fails_alone_and_the_storage_stays_healthy(pg_url: str) -> None:
    """A job cancelled by its own statement timeout (57014, an OperationalError) fails with that
    error; the other jobs of its batch commit, and the health stays writable."""

    def slow(tx: _sql.Tx) -> None:
        tx.run("SET LOCAL statement_timeout = 50")
        tx.one("SELECT pg_sleep(5)")

    def deadlocked(tx: _sql.Tx) -> None:
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    async def main() -> None:
        async with Node(pg_url) as node:
            w = await node.store.write(_seed)
            outcomes = await asyncio.gather(
                say(node, w, w.alice, "before"),
                node.store.write(slow),
                say(node, w, w.alice, "between"),
                node.store.write(deadlocked),
                say(node, w, w.alice, "after"),
                return_exceptions=True,
            )
            assert isinstance(outcomes[1], psycopg.errors.QueryCanceled), outcomes[1]
            assert isinstance(outcomes[3], psycopg.errors.DeadlockDetected), outcomes[3]
            assert [o.seq for o in (outcomes[0], outcomes[2], outcomes[4])] == [1, 2, 3], outcomes
            assert node.store.health.writable and node.store.health.error is None
            assert await node.store.check_writable() == (True, None)

    asyncio.run(main())


def test_a_batch_runs_without_savepoints_unless_a_job_raises(pg_url: str) -> None:
    """Writes that all succeed commit in one pass with no savepoint per job; a job that raises after writing
    sends its batch round again with savepoints: its own write is undone, the others commit exactly once."""

    def writes_then_refuses(tx: _sql.Tx, tenant_id: int) -> None:
        tx.run("UPDATE tenants SET name = 'Renamed' WHERE id = ?", (tenant_id,))
        raise ValueError("refused after writing")

    async def main() -> None:
        async with Node(pg_url) as node:
            w = await node.store.write(_seed)
            await asyncio.gather(*(say(node, w, w.alice, f"plain {i}") for i in range(5)))
            assert node.store.savepoint_passes == 0
            outcomes = await asyncio.gather(
                say(node, w, w.alice, "before"),
                node.store.write(writes_then_refuses, w.tenant),
                say(node, w, w.alice, "after"),
                return_exceptions=True,
            )
            assert isinstance(outcomes[1], ValueError), outcomes[1]
            assert node.store.savepoint_passes >= 1
            name = await node.store.read(lambda tx: tx.one("SELECT name FROM tenants WHERE id = ?", (w.tenant,)))
            assert name == {"name": "Acme"}
            bodies = await node.store.read(lambda tx: tx.all("SELECT body FROM messages ORDER BY id"))
            assert sorted(r["body"] for r in bodies) == sorted([*(f"plain {i}" for i in range(5)), "after", "before"])

    asyncio.run(main())


def test_a_batch_of_messages_costs_two_round_trips(pg_url: str) -> None:
    """A batch of visitor messages in their open conversation, charged to the shared budget as a server on
    PostgreSQL charges them, costs the writer two round trips whatever its size (BEGIN, the locks and every
    message's conversation update; every message's inserts with the catch-up read, the NOTIFY and COMMIT),
    and so does a batch of agents' replies; they commit in order, gap-free."""

    def send(node: Node, author_kind: str, author_id: int, tenant: int, conversation_id: int, body: str) -> Any:
        # post_message itself: the writer begins it apart from the rest (a wrapper would run whole)
        return node.store.write(
            messages.post_message, tenant, author_kind=author_kind, author_id=author_id,
            conversation_id=conversation_id, client_id=cid(), body=body,
            budget=(1000.0, 1000.0) if author_kind == "visitor" else None,
        )  # fmt: skip

    async def main() -> None:
        async with Node(pg_url) as node:
            w = await node.store.write(_seed)
            first = await say(node, w, w.alice, "first")
            conv = first.conversation_id
            for author_kind, author_id in (("visitor", w.alice), ("agent", w.agent)):
                trips, batches, jobs = node.store.trips.round_trips, node.store.batches, node.store.batched_jobs
                acks = await asyncio.gather(
                    *(send(node, author_kind, author_id, w.tenant, conv, f"m{i}") for i in range(20))
                )
                trips = node.store.trips.round_trips - trips
                batches, jobs = node.store.batches - batches, node.store.batched_jobs - jobs
                assert node.store.savepoint_passes == 0
                assert jobs == 20 and trips == 2 * batches, (author_kind, trips, jobs, batches)
                # Per batch: BEGIN, the locks (one statement), the catch-up read, the NOTIFY, COMMIT; per
                # message: its conversation's update, its inserts.
                sent = node.store.trips.statements
                await send(node, author_kind, author_id, w.tenant, conv, "alone")
                assert node.store.trips.statements - sent == 5 + 2
                low = min(a.seq for a in acks)
                assert sorted(a.seq for a in acks) == list(range(low, low + 20))
                ids = {a.event_id for a in acks}
                await eventually(lambda: ids <= set(node.ids), "every message was published")  # noqa: B023
            last = await send(node, "visitor", w.alice, w.tenant, conv, "last")
            assert last.seq == first.seq + 43

    asyncio.run(main())


def test_a_visitors_first_message_costs_five_round_trips(pg_url: str) -> None:
    """A new visitor's first message, which starts its conversation, costs the writer five round trips alone in
    its batch (its conversation update finding none; the earlier client_id, the visitor and its latest
    conversation read together; the conversation's INSERT with the visitor's row; the conversation's update;
    the inserts, the budget, the catch-up read, the NOTIFY and COMMIT); it was fifteen. Its events come in
    order and a resend returns the original ack."""

    def send(node: Node, tenant: int, visitor: int, client_id: str) -> Any:
        return node.store.write(
            messages.post_message, tenant, author_kind="visitor", author_id=visitor, conversation_id=None,
            client_id=client_id, body="hello", budget=(1000.0, 1000.0),
        )  # fmt: skip

    async def main() -> None:
        async with Node(pg_url) as node:
            w = await node.store.write(_seed)
            bob = await node.store.write(lambda tx: visitors.create_visitor(tx, w.tenant, "tok-bob", {}).id)
            trips = node.store.trips.round_trips
            ack = await send(node, w.tenant, bob, "first")
            assert node.store.trips.round_trips - trips == 5
            assert node.store.savepoint_passes == 0 and ack.seq == 1
            await eventually(lambda: ack.event_id in node.ids, "the message was published")
            kinds = [(e.kind, e.event_id) for e in node.published if e.conversation_id == ack.conversation_id]
            assert [k for k, _ in kinds] == ["conversation.created", "message.created"]
            assert kinds[0][1] < kinds[1][1]
            assert await send(node, w.tenant, bob, "first") == ack
            rows = await node.store.read(lambda tx: tx.all("SELECT id FROM conversations WHERE visitor_id = ?", (bob,)))
            assert [r["id"] for r in rows] == [ack.conversation_id]

    asyncio.run(main())


def test_messages_begun_together_are_stored_as_if_one_after_another(pg_url: str) -> None:
    """Messages whose conversation updates went out together: a visitor's first messages (the first starts the
    conversation, the next find it), a resend of one of them in the same batch (the original ack, one row), and
    another visitor's: each stored once, in order, seqs gap-free."""

    def send(node: Node, tenant: int, visitor: int, client_id: str, body: str) -> Any:
        # post_message itself: the writer begins it apart from the rest (a wrapper would run whole)
        return node.store.write(
            messages.post_message, tenant, author_kind="visitor", author_id=visitor, conversation_id=None,
            client_id=client_id, body=body,
        )  # fmt: skip

    async def main() -> None:
        async with Node(pg_url) as node:
            w = await node.store.write(_seed)
            bob = await node.store.write(lambda tx: visitors.create_visitor(tx, w.tenant, "tok-bob", {}).id)
            sends = [("a-1", w.alice, "one"), ("b-1", bob, "bob"), ("a-2", w.alice, "two"), ("a-1", w.alice, "one")]
            sends += [(f"a-{n}", w.alice, f"m{n}") for n in range(3, 9)]
            acks = await asyncio.gather(*(send(node, w.tenant, v, c, b) for c, v, b in sends))
            assert acks[3] == acks[0]
            alice = [a for a, (_, v, _) in zip(acks, sends, strict=True) if v == w.alice]
            assert sorted({a.seq for a in alice}) == list(range(1, 9))
            assert len({a.conversation_id for a in alice}) == 1 and acks[1].seq == 1
            rows = await node.store.read(
                lambda tx: tx.all("SELECT client_id, seq FROM messages WHERE author_id = ? ORDER BY seq", (w.alice,))
            )
            assert [r["client_id"] for r in rows] == ["a-1", "a-2", *(f"a-{n}" for n in range(3, 9))]
            assert [r["seq"] for r in rows] == list(range(1, 9))
            # In the open conversation, a resend's update passes too (its original is not inserted yet when it
            # runs): the unique index refuses the second insert, and the batch runs again one job at a time.
            again = [("a-9", w.alice, "nine"), ("a-10", w.alice, "ten"), ("a-9", w.alice, "nine")]
            started, release = threading.Event(), threading.Event()

            def hold(tx: _sql.Tx) -> None:  # keeps the writer busy while the three queue up: one batch
                started.set()
                release.wait(TIMEOUT)

            held = asyncio.ensure_future(node.store.write(hold))
            await asyncio.to_thread(started.wait, TIMEOUT)
            passes = node.store.savepoint_passes
            queued = [asyncio.ensure_future(send(node, w.tenant, v, c, b)) for c, v, b in again]
            await asyncio.sleep(0)  # each has put its job on the queue
            release.set()
            await held
            acks = await asyncio.gather(*queued)
            assert acks[2] == acks[0] and sorted(a.seq for a in acks[:2]) == [9, 10]
            assert node.store.savepoint_passes == passes + 1
            rows = await node.store.read(
                lambda tx: tx.all("SELECT client_id, seq FROM messages WHERE author_id = ? ORDER BY seq", (w.alice,))
            )
            assert [r["seq"] for r in rows] == list(range(1, 11)) and len({r["client_id"] for r in rows}) == 10

    asyncio.run(main())


def test_a_visitor_over_budget_fails_alone_in_a_pipelined_batch(pg_url: str) -> None:
    """The budget's check runs after its statement was sent ahead: a message over budget still fails alone
    (RateLimited), the others of its batch commit, and nothing of the refused ones is stored."""

    def send(tx: _sql.Tx, tenant: int, visitor: int, n: int) -> Any:
        return messages.post_message(
            tx, tenant, author_kind="visitor", author_id=visitor, conversation_id=None, client_id=f"b-{n}",
            body=f"b{n}", budget=(0.001, 3),
        )  # fmt: skip

    async def main() -> None:
        async with Node(pg_url) as node:
            w = await node.store.write(_seed)
            await node.store.write(send, w.tenant, w.alice, 0)
            outcomes = await asyncio.gather(
                *(node.store.write(send, w.tenant, w.alice, n) for n in range(1, 6)), return_exceptions=True
            )
            refused = [o for o in outcomes if isinstance(o, RateLimited)]
            acked = [o for o in outcomes if not isinstance(o, BaseException)]
            assert len(refused) == 3 and len(acked) == 2, outcomes
            bodies = await node.store.read(lambda tx: tx.all("SELECT body, seq FROM messages ORDER BY seq"))
            assert [r["seq"] for r in bodies] == [1, 2, 3]
            assert {r["body"] for r in bodies} == {"b0", *(f"b{n}" for n, o in enumerate(outcomes, 1) if o in acked)}

    asyncio.run(main())


def test_healthz_does_not_name_an_unreachable_database(pg_url: str, tmp_path: Any) -> None:
    """When PostgreSQL becomes unreachable, /healthz says "database unreachable" and names none of
    its host, port or user; `check_writable` (for `frontdesk verify`) keeps the full text."""
    from frontdesk.server.app import FrontdeskServer, ServerSettings

    from tests.server.test_http import _raw_get
    from tests.support import run_cli

    run_cli("init", "--db", pg_url, "--json", "--admin-password", "admin-password-1")
    db = pg_url.rpartition("/")[2]
    hidden_user, hidden_port = "frontdesk_hidden_user", str(unused_port())

    async def main() -> None:
        app = FrontdeskServer(ServerSettings(db_url=pg_url, host="127.0.0.1", port=0))
        await app.start()
        try:
            store = app.store
            assert isinstance(store, PostgresStore)
            store.probe_interval = 3600.0
            store.url = f"postgresql://{hidden_user}@127.0.0.1:{hidden_port}/{db}?connect_timeout=3"
            _kick_writer(db)  # the writer reconnects to the unreachable URL
            writable, detail = await store.check_writable()
            assert writable is False and detail is not None and hidden_port in detail
            status, body = await _raw_get(app.port, "/healthz")
            health = json.loads(body)
            assert status == 503 and health["storage"] == {"writable": False, "error": "database unreachable"}
            for secret in (hidden_user, hidden_port, "127.0.0.1"):
                assert secret not in body.decode(), body
        finally:
            await app.stop()

    asyncio.run(main())


def test_a_read_with_no_connection_to_be_had_is_unavailable(pg_url: str) -> None:
    """A read whose connection broke and whose new connection is refused raises Unavailable (which /healthz and
    the handlers answer), never psycopg's own error."""
    from frontdesk.server.exceptions import Unavailable

    async def main() -> None:
        async with Node(pg_url) as node:
            assert await node.store.schema_version() > 0  # a reader connection now exists
            node.store.url = f"postgresql://nobody@127.0.0.1:{unused_port()}/nowhere?connect_timeout=3"
            with psycopg.connect(pg_url, autocommit=True) as admin:  # break the readers' connections
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'frontdesk-reader' AND datname = current_database()"
                )
            with pytest.raises(Unavailable):
                await node.store.schema_version()

    asyncio.run(main())
