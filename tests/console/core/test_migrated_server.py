"""A console that was working against SQLite carries on after ``frontdesk migrate-db`` moved its server to
PostgreSQL (issue 18, item 5): same cache, same cursor, no snapshot refetch, its offline reply delivered once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from frontdesk.console.core import ConnectionState

from tests.support import RunningServer, WsClient, init_demo, new_client_id, run_cli

from .conftest import arun, make_core, online, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_console_resumes_on_the_migrated_server_without_a_reset(
    pg_url: str, tmp_path: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server stops, its database moves, it starts on PostgreSQL at the same address: the running console
    reconnects with its cursor (no refetch), delivers the reply it queued while offline exactly once, and keeps
    receiving the visitor's messages."""
    sqlite_url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    server = RunningServer.from_init(sqlite_url, init_demo(sqlite_url), log_path=tmp_path / "server.log")
    server.start()

    async def main() -> None:
        visitor, hello = await WsClient.visitor(server)
        sent = await visitor.request("message.send", client_id=new_client_id(), body="Where is my order?")
        conversation_id = sent["conversation_id"]
        core, _ = make_core(server, data_dir)
        await core.login(server.admin_email, server.admin_password, remember=True)
        await core.start()
        await online(core)
        await wait_until(lambda: core.cache.conversation(conversation_id) is not None, what="the chat cached")
        core.focused_conversation = conversation_id  # the agent opens it: its history is fetched
        await wait_until(lambda: len(core.cache.thread(conversation_id)) == 1, what="the thread fetched")
        epoch_before, _ = core.cache.cursor()
        visitor_cursor = sent["event_id"]
        await visitor.close()

        server.stop()  # the operator stops the server to migrate it
        await wait_until(lambda: core.state is not ConnectionState.ONLINE, what="the console offline")
        await core.reply(conversation_id, "Your parcel left the warehouse today.")  # into the outbox
        out = run_cli("migrate-db", "--from", sqlite_url, "--to", pg_url)
        assert "Kept the epoch" in out.stdout
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="frontdesk.console.sync"):
            server.db_url = pg_url
            server.start()  # the same port: the console's address does not change
            await online(core)
            await wait_until(lambda: not core.cache.outbox(), what="the outbox drained")
        assert not [r for r in caplog.records if "refetching a snapshot" in r.getMessage()]
        assert core.cache.cursor()[0] == epoch_before

        # The visitor resumes from their SQLite-era cursor and gets the reply once; their next message reaches
        # the console through PostgreSQL.
        back, hello_back = await WsClient.visitor(
            server, token=hello["token"], since=visitor_cursor, epoch=hello["epoch"]
        )
        assert hello_back["reset_required"] is False
        await back.next_event("message.created", body="Your parcel left the warehouse today.")
        await back.request("message.send", client_id=new_client_id(), body="Thank you!")
        await wait_until(
            lambda: (
                [(i.body, i.id is not None) for i in core.cache.thread(conversation_id)]
                == [("Where is my order?", True), ("Your parcel left the warehouse today.", True), ("Thank you!", True)]
            ),
            what="the thread on the console",
        )
        await back.fence()
        assert "Your parcel left the warehouse today." not in [f["data"].get("body") for f in back.drain()]
        await core.stop()
        await back.close()

    try:
        arun(main())
    finally:
        server.stop()
