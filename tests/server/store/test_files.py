"""The attachments' store operations (server/store/files.py), on every backend: add, claim once by the uploader,
read back with messages and notes, who may read, expiry, erasure."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from frontdesk.server.exceptions import NotFound, Pending
from frontdesk.server.store import Store, files, jobs, messages, visitors

from tests.server.store.test_contract import World, run, seed


async def _add(store: Store, w: World, kind: str, uploader: int, *, status: str = "ready", sha: str = "a") -> str:
    file_id = files.new_file_id()
    await store.write(
        files.add_file,
        w.tenant,
        file_id=file_id,
        uploader_kind=kind,
        uploader_id=uploader,
        name="f.pdf",
        mime="application/pdf",
        size=10,
        sha256=sha * 64,
        width=None,
        height=None,
        thumb_sha256=None,
        thumb_mime=None,
        status=status,
        now=1000,
        expire_at=1000 + 3_600_000,
    )
    return file_id


async def _send(store: Store, w: World, visitor: int, ids: list[str], body: str = "") -> Any:
    return await store.write(
        messages.post_message,
        w.tenant,
        author_kind="visitor",
        author_id=visitor,
        conversation_id=None,
        client_id=str(uuid.uuid4()),
        body=body,
        attachment_ids=ids,
    )


def test_a_file_is_sent_once_by_its_uploader_and_comes_back_with_the_message(store_url: str) -> None:
    """claim_files ties an upload to one message of its uploader; another sender, a second send, a pending file and
    an unknown id roll the message back; history and the event carry the attachment."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        mine = await _add(store, w, "visitor", w.alice)
        with pytest.raises(NotFound):
            await _send(store, w, w.carol, [mine], "stolen")
        ack = await _send(store, w, w.alice, [mine])
        assert [a.id for a in ack.message.attachments] == [mine] and ack.seq == 1
        with pytest.raises(NotFound):
            await _send(store, w, w.alice, [mine], "twice")
        scanning = await _add(store, w, "visitor", w.alice, status="pending")
        with pytest.raises(Pending):
            await _send(store, w, w.alice, [scanning], "too soon")
        with pytest.raises(NotFound):
            await _send(store, w, w.alice, ["f_unknown"], "made up")
        page = await store.read(
            messages.history,
            w.tenant,
            ack.conversation_id,
            visitor_id=w.alice,
            before_seq=None,
            limit=10,
            include_notes=False,
        )
        assert [m.seq for m in page.messages] == [1]  # the refused sends stored nothing
        assert page.messages[0].attachments[0].id == mine
        note_file = await _add(store, w, "agent", w.agent, sha="b")
        note = await store.write(
            messages.post_note,
            w.tenant,
            agent_id=w.agent,
            conversation_id=ack.conversation_id,
            client_id=str(uuid.uuid4()),
            body="",
            attachment_ids=[note_file],
        )
        assert note.note.attachments[0].id == note_file
        readable = await store.read(
            files.readable_files, w.tenant, [mine, note_file], visitor_id=w.alice, agent_id=None
        )
        assert [r["id"] for r in readable] == [mine]
        readable = await store.read(
            files.readable_files, w.tenant, [mine, note_file], visitor_id=None, agent_id=w.admin
        )
        assert sorted(r["id"] for r in readable) == sorted([mine, note_file])
        other = await store.read(
            files.readable_files, w.other_tenant, [mine], visitor_id=None, agent_id=w.foreign_agent
        )
        assert other == []

    run(store_url, scenario)


def test_an_unsent_upload_expires_and_its_blob_is_freed_once_unreferenced(store_url: str) -> None:
    """expire_unreferenced deletes an unsent upload (not a sent one); a blob shared with another row stays."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        sent = await _add(store, w, "visitor", w.alice, sha="c")
        unsent = await _add(store, w, "visitor", w.alice, sha="c")
        alone = await _add(store, w, "visitor", w.alice, sha="d")
        await _send(store, w, w.alice, [sent])
        assert await store.write(files.expire_unreferenced, sent) == []
        names = await store.write(files.expire_unreferenced, unsent)
        assert names == ["c" * 64] and await store.read(files.unreferenced_blobs, names) == []
        names = await store.write(files.expire_unreferenced, alone)
        assert await store.read(files.unreferenced_blobs, names) == ["d" * 64]
        assert await store.read(files.file_row, alone) is None
        queued = await store.read(jobs.pending, files.EXPIRE_JOB)
        assert {j.payload["file_id"] for j in queued} == {sent, unsent, alone}

    run(store_url, scenario)


def test_erasure_deletes_the_visitors_files_and_queues_their_blobs(store_url: str) -> None:
    """Erasing a visitor deletes the rows of the files they sent and of those sent to them, and queues a GC job."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        theirs = await _add(store, w, "visitor", w.alice, sha="e")
        ack = await _send(store, w, w.alice, [theirs])
        to_them = await _add(store, w, "agent", w.agent, sha="f")
        await store.write(
            messages.post_message,
            w.tenant,
            author_kind="agent",
            author_id=w.agent,
            conversation_id=ack.conversation_id,
            client_id=str(uuid.uuid4()),
            body="here",
            attachment_ids=[to_them],
        )
        unsent = await _add(store, w, "visitor", w.alice, sha="0")
        carols = await _add(store, w, "visitor", w.carol, sha="1")
        await store.write(visitors.erase_visitor, w.tenant, w.alice)
        for gone in (theirs, to_them, unsent):
            assert await store.read(files.file_row, gone) is None
        assert await store.read(files.file_row, carols) is not None
        gc = await store.read(jobs.pending, files.GC_JOB)
        assert sorted(gc[0].payload["names"]) == sorted(c * 64 for c in "ef0")
        expiring = {j.payload["file_id"] for j in await store.read(jobs.pending, files.EXPIRE_JOB)}
        assert theirs not in expiring and unsent not in expiring  # jobs carrying the visitor's data went too

    run(store_url, scenario)
