"""``frontdesk migrate-db``: a populated SQLite installation moved to PostgreSQL, its clients resuming there."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server.store.transfer import _checksum

from tests.support import RunningServer, WsClient, init_demo, new_client_id, run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_checksum_ignores_order_and_counts_duplicates() -> None:
    """Row order (collations differ between the databases) does not matter; a duplicated or changed row does."""
    rows = [(1, "a", None), (2, "b", 1.5), (3, b"\x00", 7)]
    assert _checksum(rows) == _checksum(list(reversed(rows)))
    assert _checksum([*rows, rows[0]])[1] != _checksum(rows)[1]
    assert _checksum([(1, "a", None)]) != _checksum([(1, "a", "")])
    assert _checksum([(1, "1")]) != _checksum([(1, 1)])


def _populate(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """A SQLite installation with two chats, a note, a resolve and an erased visitor; what its clients knew."""
    url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    info = init_demo(url)
    server = RunningServer.from_init(url, info, log_path=tmp_path / "sqlite.log")
    server.start()
    known: dict[str, Any] = {"info": info}

    async def scenario() -> None:
        agent, login = await WsClient.agent(server)
        visitor, hello = await WsClient.visitor(server)
        first = await visitor.request("message.send", client_id=new_client_id(), body="Where is my order?")
        await agent.request("reply", conversation_id=first["conversation_id"], client_id=new_client_id(), body="Here")
        await agent.request("note", conversation_id=first["conversation_id"], client_id=new_client_id(), body="VIP")
        reply = await visitor.next_event("message.created", body="Here")
        leaver, _ = await WsClient.visitor(server)
        gone = await leaver.request("message.send", client_id=new_client_id(), body="Erase me")
        await agent.request("resolve", conversation_id=gone["conversation_id"])
        await leaver.close()
        known.update(
            token=hello["token"],
            visitor_id=hello["visitor"]["id"],
            epoch=hello["epoch"],
            visitor_cursor=reply["event_id"],
            conversation_id=first["conversation_id"],
            erased_conversation_id=gone["conversation_id"],
        )
        # The agent's cursor is now; then the visitor writes once more, which the agent must get on resume.
        await agent.fence()
        known["agent_cursor"] = max(f["event_id"] for f in agent.frames if f.get("type") == "event")
        known["login_epoch"] = login["epoch"]
        late = await visitor.request("message.send", client_id=new_client_id(), body="Still there?")
        known["late_event_id"] = late["event_id"]
        await visitor.close()
        await agent.close()

    asyncio.run(scenario())
    server.cli("visitor", "erase", "--id", str(_visitor_of(tmp_path, known["erased_conversation_id"])))
    server.stop()
    return url, known


def _visitor_of(tmp_path: Path, conversation_id: int) -> int:
    with contextlib.closing(sqlite3.connect(tmp_path / "frontdesk.db")) as db:
        return int(db.execute("SELECT visitor_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0])


def test_a_migrated_installation_resumes_without_a_reset_and_never_reuses_ids(pg_url: str, tmp_path: Path) -> None:
    """Every row and cursor moves: visitor and agent resume on PostgreSQL from their SQLite cursors, gap-free."""
    sqlite_url, known = _populate(tmp_path)
    out = run_cli("migrate-db", "--from", sqlite_url, "--to", pg_url)
    assert "Kept the epoch" in out.stdout and "✓ messages: 3 rows, checksum matches" in out.stdout
    assert "messages: 3 of 3 rows" in out.stderr  # progress
    pg = RunningServer.from_init(pg_url, known["info"], log_path=tmp_path / "pg.log")
    pg.start()
    try:

        async def scenario() -> None:
            visitor, hello = await WsClient.visitor(
                pg, token=known["token"], since=known["visitor_cursor"], epoch=known["epoch"]
            )
            assert hello["reset_required"] is False and hello["visitor"]["id"] == known["visitor_id"]
            replayed = await visitor.next_event("message.created", body="Still there?")
            assert replayed["event_id"] == known["late_event_id"]

            agent, _ = await WsClient.agent(pg, subscribe=False)
            sub = await agent.request("subscribe", since=known["agent_cursor"], epoch=known["login_epoch"])
            assert sub["reset_required"] is False
            await agent.next_event("message.created", body="Still there?")
            history = await agent.request("history", conversation_id=known["conversation_id"])
            assert [m["body"] for m in history["messages"]][:3] == ["Where is my order?", "Here", "Still there?"]

            # New writes continue the sequences: no event id and no conversation id is handed out twice.
            newcomer, _ = await WsClient.visitor(pg)
            fresh = await newcomer.request("message.send", client_id=new_client_id(), body="New here")
            assert fresh["event_id"] > known["late_event_id"]
            assert fresh["conversation_id"] > known["erased_conversation_id"]
            await agent.next_event("message.created", body="New here")
            for client in (visitor, agent, newcomer):
                await client.close()

        asyncio.run(scenario())
    finally:
        pg.stop()


def test_migrate_db_refuses_a_non_empty_target_unless_told_and_then_replaces_it(pg_url: str, tmp_path: Path) -> None:
    """A second copy into the same database is refused and changes nothing; with --replace it starts over."""
    sqlite_url, _ = _populate(tmp_path)
    run_cli("migrate-db", "--from", sqlite_url, "--to", pg_url)
    again = run_cli("migrate-db", "--from", sqlite_url, "--to", pg_url, check=False)
    assert again.returncode == 1 and "the target is not empty" in again.stderr and "--replace" in again.stderr
    replaced = run_cli("migrate-db", "--from", sqlite_url, "--to", pg_url, "--replace", "--new-epoch")
    assert "New epoch" in replaced.stdout and "✓ conversations: 1 row," in replaced.stdout


def test_migrate_db_refuses_a_source_that_is_being_served(pg_url: str, tmp_path: Path) -> None:
    """While `frontdesk serve` holds the SQLite file the copy would race its writes: it is refused."""
    url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    server = RunningServer.from_init(url, init_demo(url), log_path=tmp_path / "s.log")
    server.start()
    try:
        out = run_cli("migrate-db", "--from", url, "--to", pg_url, check=False)
    finally:
        server.stop()
    assert out.returncode == 1 and "stop the server first" in out.stderr


def test_migrate_db_with_a_new_epoch_makes_clients_refetch(pg_url: str, tmp_path: Path) -> None:
    """--new-epoch: a client resuming with the old epoch is told reset_required, never replayed in part."""
    sqlite_url, known = _populate(tmp_path)
    run_cli("migrate-db", "--from", sqlite_url, "--to", pg_url, "--new-epoch")
    pg = RunningServer.from_init(pg_url, known["info"], log_path=tmp_path / "pg.log")
    pg.start()
    try:

        async def scenario() -> None:
            visitor, hello = await WsClient.visitor(
                pg, token=known["token"], since=known["visitor_cursor"], epoch=known["epoch"]
            )
            assert hello["reset_required"] is True and hello["epoch"] != known["epoch"]
            await visitor.close()

        asyncio.run(scenario())
    finally:
        pg.stop()


def test_migrate_db_names_bad_urls() -> None:
    """The wrong kind of URL on either side gets a clear error and exit 1."""
    out = run_cli("migrate-db", "--from", "postgresql://x/y", "--to", "postgresql://x/z", check=False)
    assert out.returncode == 1 and "--from must be a sqlite:/// URL" in out.stderr
    out = run_cli("migrate-db", "--from", "sqlite:///nowhere.db", "--to", "sqlite:///b.db", check=False)
    assert out.returncode == 1 and "--to must be a postgresql:// URL" in out.stderr


def test_a_copy_that_does_not_match_its_source_commits_nothing(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The verification is real: a row lost on the way fails the checks, and the target is left empty."""
    import psycopg
    from frontdesk.server.store import transfer

    sqlite_url, _ = _populate(tmp_path)
    real_copy_rows = transfer._copy_rows

    def lossy_copy_rows(src: Any, conn: Any, table: str, columns: list[str], progress: Any) -> None:
        real_copy_rows(src, conn, table, columns, progress)
        if table == "messages":
            conn.execute("DELETE FROM messages WHERE id = (SELECT MAX(id) FROM messages)")

    monkeypatch.setattr(transfer, "_copy_rows", lossy_copy_rows)
    with pytest.raises(transfer.FrontdeskError, match=r"does not match its source in messages \(3 → 2\)"):
        asyncio.run(transfer.migrate_database(sqlite_url, pg_url, progress=lambda *_: None))
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM tenants").fetchone() == (0,)
