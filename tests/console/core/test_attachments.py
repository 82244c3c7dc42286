"""Attachments in the console core: the upload state machine, replies with files
through the outbox (offline, across a restart, exactly once), and downloads from
signed links fetched again once expired."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest
from frontdesk.console.core.downloads import Downloads, http_base
from frontdesk.console.core.uploads import InvalidUploadState, Upload, UploadError, UploadState
from frontdesk.server.protocol import Attachment, FileBeginResult, FileLink

from tests.server.files_support import PDF, png, upload
from tests.support import RunningServer, WsClient, new_client_id

from .conftest import NetworkSwitch, arun, make_core, offline, online, wait_until
from .test_sync import logged_in, visitor_says


def begun(offset: int = 0, chunk: int = 4, window: int = 8) -> FileBeginResult:
    return FileBeginResult(upload="u-1", handle=7, offset=offset, chunk=chunk, window=window)


# -- the state machine, sans I/O ---------------------------------------------------------


def test_upload_sends_within_the_window_and_moves_on_with_progress() -> None:
    """Frames carry handle and offset; no more than ``window`` bytes go beyond the server's count."""
    data = bytes(range(20))
    up = Upload(size=len(data))
    up.begun(begun())
    frames = []
    while (span := up.next_span()) is not None:
        frames.append(up.frame(data[span[0] : span[0] + span[1]]))
    assert [struct.unpack(">IQ", f[:12]) for f in frames] == [(7, 0), (7, 4)]  # the 8-byte window is full
    assert b"".join(f[12:] for f in frames) == data[:8]
    up.progress(8)
    while (span := up.next_span()) is not None:
        frames.append(up.frame(data[span[0] : span[0] + span[1]]))
    assert up.sent == 16 and not up.all_sent
    up.progress(3)  # an old count never moves it back
    assert up.received == 8
    up.progress(20)
    while (span := up.next_span()) is not None:
        frames.append(up.frame(data[span[0] : span[0] + span[1]]))
    assert up.all_sent and b"".join(f[12:] for f in frames) == data
    up.finishing()
    up.finished(Attachment(id="f", name="n", mime="text/plain", size=20))
    assert up.state is UploadState.DONE


def test_resumed_upload_starts_at_the_servers_offset() -> None:
    """A resume answered with offset 12 sends from byte 12."""
    up = Upload(size=20)
    up.begun(begun(offset=12, chunk=64, window=64))
    assert up.next_span() == (12, 8)


def test_upload_transitions_are_guarded() -> None:
    """No frames before begin, no finish before every byte, nothing after a failure."""
    up = Upload(size=10)
    with pytest.raises(InvalidUploadState):
        up.next_span()
    up.begun(begun(chunk=64, window=64))
    with pytest.raises(InvalidUploadState):
        up.finishing()
    with pytest.raises(UploadError):
        up.frame(b"short")  # not the bytes the span asked for
    up.failed(UploadError("upload_failed", "dropped"))
    with pytest.raises(InvalidUploadState):
        up.begun(begun())
    assert up.state is UploadState.FAILED


# -- through the outbox, against a real server ---------------------------------------------


def attachments_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    return list(event["data"].get("attachments") or [])


def test_reply_with_a_file_reaches_the_visitor_and_the_thread(
    server: RunningServer, data_dir: Path, tmp_path: Path
) -> None:
    """A reply with a PDF uploads it, is acked with the attachment, and the outbox copy goes."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "Can I have the invoice?")
        core, rec = await logged_in(server, data_dir)
        progress: list[tuple[int, int, int]] = []
        rec.on_upload_progress = lambda *a: progress.append(a)  # type: ignore[method-assign]
        await core.start()
        await online(core)
        original = tmp_path / "invoice.pdf"
        original.write_bytes(PDF)
        await core.reply(cid, "Here it is", [original])
        await wait_until(lambda: core.outbox_count == 0, what="ack")
        event = await visitor.next_event("message.created", body="Here it is")
        (sent,) = attachments_of(event)
        assert (sent["name"], sent["mime"], sent["size"]) == ("invoice.pdf", "application/pdf", len(PDF))
        (item,) = [i for i in core.cache.thread(cid) if i.kind == "agent"]
        assert item.delivery == "sent" and [a.id for a in item.attachments] == [sent["id"]]
        assert progress and progress[-1][1:] == (len(PDF), len(PDF))
        outbox_dir = core.cache.path.with_suffix(".outbox")
        await wait_until(lambda: not any(outbox_dir.rglob("*.pdf")), what="the copy to go with the ack")
        await core.stop()
        await visitor.close()

    arun(main())


def test_offline_attachment_survives_a_restart_and_is_delivered_once(
    server: RunningServer, data_dir: Path, tmp_path: Path
) -> None:
    """Offline, a file waits in the outbox as a copy in the cache folder; a restarted console sends it exactly once."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "Send me the screenshot")
        switch = NetworkSwitch()
        core, _ = await logged_in(server, data_dir)
        core._connect = switch.connect
        await core.start()
        await online(core)
        await switch.cut()
        await offline(core)
        original = tmp_path / "screen.png"
        original.write_bytes(png())
        outbox_id = await core.reply(cid, "", [original])
        original.unlink()  # the outbox has its own copy
        (item,) = core.cache.outbox()
        (copy,) = item.payload["files"]
        copied = Path(copy["path"])
        assert await asyncio.to_thread(copied.read_bytes) == png() and copied.is_relative_to(data_dir)
        (shown,) = [i for i in core.cache.thread(cid) if i.outbox_id == outbox_id]
        assert shown.delivery == "pending" and [f.name for f in shown.files] == ["screen.png"]
        tokens = core._tokens
        await core.stop()

        again, _ = make_core(server, data_dir, tokens)
        assert await again.resume()
        assert [i.id for i in again.cache.outbox()] == [outbox_id]
        await again.start()
        await online(again)
        await wait_until(lambda: again.outbox_count == 0, what="delivery after the restart")
        event = await visitor.next_event("message.created", author_kind="agent")
        assert len(attachments_of(event)) == 1
        history = await visitor.request("history", conversation_id=cid)
        agent_messages = [m for m in history["messages"] if m["author_kind"] == "agent"]
        assert len(agent_messages) == 1 and len(agent_messages[0]["attachments"]) == 1
        await wait_until(lambda: not Path(copy["path"]).exists(), what="the copy to go with the ack")
        await again.stop()
        await visitor.close()

    arun(main())


def test_refused_upload_fails_the_item_in_words_and_keeps_it(
    server: RunningServer, data_dir: Path, tmp_path: Path
) -> None:
    """A file of a kind the server refuses fails the reply with the reason in words; nothing reaches the visitor."""

    async def main() -> None:
        visitor, cid = await visitor_says(server, "hello")
        core, _ = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        page = tmp_path / "page.html"
        page.write_bytes(b"<!doctype html><html><script>alert(1)</script></html>")
        outbox_id = await core.reply(cid, "look", [page])
        await wait_until(lambda: core.cache.outbox("failed") != [], what="failure")
        (failed,) = core.cache.outbox("failed")
        assert failed.id == outbox_id and failed.error_code == "unsupported_type"
        assert failed.error is not None and "page.html" in failed.error
        (shown,) = [i for i in core.cache.thread(cid) if i.outbox_id == outbox_id]
        assert shown.delivery == "failed" and shown.files[0].name == "page.html"
        await core.discard(outbox_id)
        assert not any(core.cache.path.with_suffix(".outbox").rglob("page.html"))
        await core.stop()
        await visitor.close()

    arun(main())


def test_a_file_over_the_tenant_limit_is_refused_before_queueing(
    server: RunningServer, data_dir: Path, tmp_path: Path
) -> None:
    """With max_upload_mb known, a bigger file is a ValueError naming the limit; nothing is queued."""

    async def main() -> None:
        core, _ = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        await core.set_config({"max_upload_mb": 1})
        big = tmp_path / "big.zip"
        big.write_bytes(b"\0" * 1_000_001)
        with pytest.raises(ValueError, match="the limit is 1 MB"):
            await core.reply(1, "", [big])
        assert core.cache.outbox() == []
        await core.stop()

    arun(main())


# -- downloads ---------------------------------------------------------------------------------


def test_visitor_file_downloads_once_from_a_signed_link(server: RunningServer, data_dir: Path) -> None:
    """An image the visitor sent is fetched (and its thumbnail) over HTTP from file.links, then kept locally."""

    async def main() -> None:
        visitor, _ = await WsClient.visitor(server)
        image = png((80, 60))
        stored = await upload(visitor, image, name="photo.png")
        reply = await visitor.request("message.send", client_id=new_client_id(), attachment_ids=[stored["id"]])
        cid = reply["conversation_id"]
        core, _ = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        await core.load_history(cid)
        (attachment,) = next(i for i in core.cache.thread(cid) if i.attachments).attachments
        assert attachment.mime == "image/png" and attachment.thumbnail
        path = await core.downloads.fetch(attachment)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.is_relative_to(data_dir)
        thumb = await core.downloads.fetch(attachment, thumbnail=True)
        assert thumb != path and thumb.stat().st_size > 0
        assert core.downloads.cached(attachment) == path
        await core.stop()
        await visitor.close()

    arun(main())


def test_an_expired_link_is_replaced_by_a_fresh_one(tmp_path: Path) -> None:
    """A kept link past its expiry is not used; a 403 (expired) asks once more for a fresh one."""
    now = [1_000.0]
    asked: list[list[str]] = []
    served: list[str] = []

    async def ask(ids: Any) -> dict[str, FileLink]:
        asked.append(list(ids))
        return {
            i: FileLink(url=f"/v1/files/{i}?exp=1&sig={len(asked)}", thumbnail_url=None, expires_at=int(now[0]) + 300)
            for i in ids
        }

    def handler(request: httpx.Request) -> httpx.Response:
        served.append(str(request.url))
        if request.url.params["sig"] == "1":
            return httpx.Response(403)
        return httpx.Response(200, content=b"%PDF-1.4 bytes")

    downloads = Downloads(
        "ws://files.test:8/v1/agent", tmp_path / "files", ask, lambda: now[0], httpx.MockTransport(handler)
    )
    attachment = Attachment(id="f_1", name="a.pdf", mime="application/pdf", size=14)

    async def main() -> None:
        path = await downloads.fetch(attachment)
        assert path.read_bytes() == b"%PDF-1.4 bytes"
        assert [u.rsplit("sig=", 1)[1] for u in served] == ["1", "2"]  # refused, then a fresh link
        assert served[0].startswith("http://files.test:8/v1/files/f_1?")
        link = await downloads.link("f_1")
        assert link.url.endswith("sig=2") and len(asked) == 2  # still valid: kept
        now[0] += 290  # within the margin of its expiry
        assert (await downloads.link("f_1")).url.endswith("sig=3")

    arun(main())
    assert http_base("https://chat.example.com/") == "https://chat.example.com"


def test_erasing_the_visitor_deletes_their_downloaded_files(server: RunningServer, data_dir: Path) -> None:
    """`frontdesk visitor erase`: the console deletes the files it downloaded of that visitor (and thumbnails)."""

    async def main() -> None:
        visitor, _ = await WsClient.visitor(server)
        stored = await upload(visitor, png((50, 50)), name="passport.png")
        reply = await visitor.request("message.send", client_id=new_client_id(), attachment_ids=[stored["id"]])
        cid, author = reply["conversation_id"], reply["message"]["author_id"]
        core, _ = await logged_in(server, data_dir)
        await core.start()
        await online(core)
        await core.load_history(cid)
        (attachment,) = next(i for i in core.cache.thread(cid) if i.attachments).attachments
        files = [await core.downloads.fetch(attachment), await core.downloads.fetch(attachment, thumbnail=True)]
        assert all(f.is_file() for f in files)
        await asyncio.to_thread(server.cli, "visitor", "erase", "--id", str(author))
        await wait_until(lambda: core.cache.conversation(cid) is None, what="the erasure to reach the cache")
        await wait_until(lambda: not any(f.exists() for f in files), what="the downloaded files to go")
        assert core.downloads.cached(attachment) is None
        await core.stop()
        await visitor.close()

    arun(main())
