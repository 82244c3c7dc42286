"""Attachments over time: the unsent-upload cleanup job (an injected clock), erasure, backup and restore."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from frontdesk.server.files import cleanup_handlers
from frontdesk.server.jobs import JobRunner, ManualClock
from frontdesk.server.store import files as file_ops

from tests.server.files_support import PDF, fetch, upload
from tests.support import WsClient, new_client_id, run_cli, serve_in_process


def test_an_upload_never_sent_is_deleted_after_the_knob(tmp_path: Path) -> None:
    """With unreferenced_upload_s = 60, an unsent upload and its bytes are gone once a clock 61 s ahead runs the
    jobs; a sent one stays, and nothing is deleted at 59 s."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path, unreferenced_upload_s=60) as server:
            app = server.app
            visitor, _ = await WsClient.visitor(server)
            unsent = await upload(visitor, b"never sent\n", "draft.txt")
            sent = await upload(visitor, PDF, "invoice.pdf")
            await visitor.request("message.send", client_id=new_client_id(), body="", attachment_ids=[sent["id"]])
            row = await app.store.read(file_ops.file_row, unsent["id"])
            path = app.blobs.path_of(row["sha256"])
            clock = ManualClock(app.clock.now_ms())
            runner = JobRunner(app.store, cleanup_handlers(app.store, app.blobs), clock=clock)
            clock.advance(59_000)
            assert await runner.run_due() == 0 and path.exists()
            clock.advance(2_000)
            assert await runner.run_due() == 2  # both expiry jobs ran; only the unsent file went
            assert not path.exists() and await app.store.read(file_ops.file_row, unsent["id"]) is None
            links = (await visitor.request("file.links", ids=[sent["id"], unsent["id"]]))["links"]
            assert list(links) == [sent["id"]] and (await fetch(server, links[sent["id"]]["url"]))[2] == PDF
            await visitor.close()

    asyncio.run(scenario())


def test_visitor_erase_removes_their_files(tmp_path: Path) -> None:
    """`frontdesk visitor erase` deletes the files a visitor sent and those sent to them, rows and bytes."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            app = server.app
            agent, _ = await WsClient.agent(server)
            visitor, hello = await WsClient.visitor(server)
            theirs = await upload(visitor, PDF, "passport.pdf")
            ack = await visitor.request(
                "message.send", client_id=new_client_id(), body="", attachment_ids=[theirs["id"]]
            )
            to_them = await upload(agent, b"your refund form\n", "form.txt")
            await agent.request(
                "reply",
                conversation_id=ack["conversation_id"],
                client_id=new_client_id(),
                body="",
                attachment_ids=[to_them["id"]],
            )
            paths = []
            for file_id in (theirs["id"], to_them["id"]):
                row = await app.store.read(file_ops.file_row, file_id)
                paths.append(app.blobs.path_of(row["sha256"]))
            assert all(p.exists() for p in paths)
            visitor_id = hello["visitor"]["id"]
            await asyncio.to_thread(
                run_cli, "visitor", "erase", "--db", server.db_url, "--tenant", "demo", "--id", str(visitor_id)
            )
            assert not any(p.exists() for p in paths)
            for file_id in (theirs["id"], to_them["id"]):
                assert await app.store.read(file_ops.file_row, file_id) is None
            await agent.close()

    asyncio.run(scenario())


def test_backup_carries_the_files_and_restore_puts_them_back(tmp_path: Path) -> None:
    """A backup copies the attachment bytes beside the database copy; restoring it into an empty place serves them."""
    live = tmp_path / "live"
    live.mkdir()
    copy = tmp_path / "copy.db"

    async def first() -> str:
        async with serve_in_process(live) as server:
            visitor, _ = await WsClient.visitor(server)
            sent = await upload(visitor, PDF, "invoice.pdf")
            await visitor.request("message.send", client_id=new_client_id(), body="", attachment_ids=[sent["id"]])
            await asyncio.to_thread(run_cli, "backup", "--db", server.db_url, str(copy))
            await visitor.close()
            return str(sent["id"])

    file_id = asyncio.run(first())
    assert any(p.is_file() for p in Path(str(copy) + ".blobs").rglob("*"))
    shutil.rmtree(live)  # the machine is gone; only the backup is left
    restored = tmp_path / "restored"
    restored.mkdir()
    run_cli("restore", "--db", f"sqlite:///{restored / 'frontdesk.db'}", str(copy))

    async def second() -> None:
        from frontdesk.server.app import FrontdeskServer, ServerSettings

        app = FrontdeskServer(ServerSettings(db_url=f"sqlite:///{restored / 'frontdesk.db'}", port=0))
        await app.start()
        try:
            row = await app.store.read(file_ops.file_row, file_id)
            assert row is not None and app.blobs.path_of(row["sha256"]).read_bytes() == PDF
        finally:
            await app.stop()

    asyncio.run(second())
