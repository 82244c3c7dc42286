"""Attachments in the widget (docs/PROTOCOL.md, "Attachments"): the paperclip, drop and paste,
uploads in binary frames with progress and cancel, thumbnails that open full size, file cards,
refusals in words, Retry, and an upload that survives a lost connection.

The server is a scripted protocol peer (tests/widget/protocol_peer.py) serving the real widget.js
and widget/attach.js to Chromium, so every step of the upload is under the test's control.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support import RunningServer
from tests.widget.conftest import STORAGE_KEY, Agent, Widget, embed_page, open_widget
from tests.widget.protocol_peer import CONFIG, SITE_KEY, Frame, ProtocolPeer, message

TOKEN = "token-of-visitor-5"
UPLOADS = {**CONFIG, "max_upload_mb": 1, "upload_kinds": ["images", "pdf", "text", "office", "archives"]}
#: A 1×1 PNG (a 3×2 one, PNG_3X2, for the real server, which re-encodes it).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PNG_3X2 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAEElEQVR4nGM4IScHQQxwFgBBAAYZPEVBlgAAAABJRU5ErkJggg=="
)
PDF_BYTES = b"%PDF-1.4\n%%EOF\n"
PAST_BACKOFF_MS = 10_000


@pytest.fixture
def peer() -> Iterator[ProtocolPeer]:
    running = ProtocolPeer()
    yield running
    running.stop()


def visitor(page: Page, peer: ProtocolPeer, config: dict[str, Any] = UPLOADS, clock: bool = False) -> Widget:
    """Open the peer's page as visitor 5 of conversation 7 (panel open), welcomed with ``config``."""
    record = {
        "version": 2,
        "session": {"token": TOKEN, "visitorId": 5},
        "conversationId": 7,
        "config": config,
        "panelOpen": True,
        "prechatDone": False,
        "pendingProfile": None,
        "outbox": [],
    }
    key = STORAGE_KEY.format(site=SITE_KEY)
    page.add_init_script(f"localStorage.setItem({json.dumps(key)}, {json.dumps(json.dumps(record))})")
    if clock:
        page.clock.install()
    page.goto(peer.url)
    welcome(peer, peer.next("hello"), config)
    widget = Widget(page)
    widget.wait_online()
    return widget


def welcome(peer: ProtocolPeer, hello: Frame, config: dict[str, Any] = UPLOADS) -> None:
    """Answer ``hello`` as visitor 5 of conversation 7; on a first socket, the history that follows too."""
    peer.welcome(
        hello,
        TOKEN,
        5,
        conversations=[{"id": 7, "status": "open", "unread_visitor": 0}],
        last_event_id=10,
        config=config,
    )
    if "since" not in hello.data:
        peer.reply(peer.next("history"), messages=[], has_more=False)


def attachment(id_: str, name: str, mime: str, size: int, **extra: Any) -> dict[str, Any]:
    """An attachment object as file.finish answers it."""
    return {"id": id_, "name": name, "mime": mime, "size": size, "status": "ready", **extra}


def drop(page: Page, name: str, mime: str, data: bytes, event: str = "drop") -> None:
    """Drop (or paste, with ``event="paste"``) one file onto the open panel."""
    page.evaluate(
        """([name, mime, bytes, event]) => {
          const file = new File([new Uint8Array(bytes)], name, {type: mime}), dt = new DataTransfer();
          dt.items.add(file);
          const root = document.querySelector('frontdesk-chat').shadowRoot;
          const target = event == 'paste' ? root.querySelector('textarea') : root.querySelector('.p');
          const init = {bubbles: true, cancelable: true};
          target.dispatchEvent(event == 'paste' ? new ClipboardEvent('paste', {...init, clipboardData: dt})
            : new DragEvent('drop', {...init, dataTransfer: dt}));
        }""",
        [name, mime, list(data), event],
    )


def receive_upload(peer: ProtocolPeer, begin: Frame, size: int, offset: int = 0, chunk: int = 4096) -> bytes:
    """Answer file.begin, then take the frames up to ``size`` (acking each window); the bytes received."""
    peer.reply(begin, upload="up-1", handle=3, offset=offset, chunk=chunk, window=4 * chunk)
    received = b""
    while offset + len(received) < size:
        frame = peer.next("binary")
        assert frame.data["handle"] == 3 and frame.data["offset"] == offset + len(received)
        received += frame.data["data"]
        peer.send(
            frame.socket,
            {"type": "event", "kind": "file.progress", "data": {"upload": "up-1", "received": offset + len(received)}},
        )
    return received


def ack(peer: ProtocolPeer, send: Frame, seq: int, attachments: list[dict[str, Any]]) -> None:
    """Answer message.send as the server does, the message carrying ``attachments``."""
    stored = message(
        7, seq, send.data.get("body", ""), "visitor", client_id=send.data["client_id"], attachments=attachments
    )
    peer.reply(
        send,
        client_id=send.data["client_id"],
        conversation_id=7,
        seq=seq,
        event_id=10 + seq,
        server_time=1_764_000_000_000 + seq,
        message=stored,
    )


def test_paperclip_only_when_the_tenant_allows_uploads_and_module_loaded_on_use(page: Page, peer: ProtocolPeer) -> None:
    """No paperclip without max_upload_mb; with it, attach.js is fetched only when the paperclip is used."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url) if "/widget/" in r.url else None)
    widget = visitor(page, peer, CONFIG)
    clip = widget.host.locator("button.ac")
    expect(clip).to_be_hidden()
    peer.send(
        0,
        {
            "type": "event",
            "event_id": 11,
            "kind": "config.updated",
            "data": {"max_upload_mb": 5, "upload_kinds": ["text"]},
        },
    )
    expect(clip).to_be_visible()
    expect(clip).to_have_accessible_name("Attach a file")
    assert urls == []
    with page.expect_file_chooser() as chooser:
        clip.click()
    chooser.value.set_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"})
    assert urls == [f"http://127.0.0.1:{peer.port}/widget/attach.js"]
    begin = peer.next("file.begin")
    assert begin.data["name"] == "notes.txt" and begin.data["size"] == 5 and "resume" not in begin.data


def test_dropped_file_uploads_in_frames_with_progress_then_is_sent_as_a_card(page: Page, peer: ProtocolPeer) -> None:
    """A dropped file: begin, frames within the window with a progress bar, finish, message.send, a named card."""
    widget = visitor(page, peer)
    data = bytes(range(256)) * 40  # 10 KiB: three 4 KiB chunks
    drop(page, "invoice.pdf", "application/pdf", data)
    row = widget.host.locator("ol > li").filter(has_text="invoice.pdf")
    expect(row).to_have_attribute("data-status", "up")
    begin = peer.next("file.begin")
    assert (begin.data["name"], begin.data["size"]) == ("invoice.pdf", len(data))
    bar = row.locator("progress")
    expect(bar).to_have_accessible_name("Uploading invoice.pdf")
    assert receive_upload(peer, begin, len(data)) == data
    expect(bar).to_have_attribute("value", str(len(data)))  # the server's count, not the bytes sent
    finish = peer.next("file.finish")
    assert finish.data["upload"] == "up-1"
    stored = attachment("f-1", "invoice.pdf", "application/pdf", len(data))
    peer.reply(finish, **stored)
    send = peer.next("message.send")
    assert send.data["attachment_ids"] == ["f-1"] and send.data["conversation_id"] == 7
    ack(peer, send, 1, [stored])
    expect(row).to_have_attribute("data-status", "sent")
    card = row.locator("a.atf")
    expect(card).to_contain_text("invoice.pdf")
    expect(card).to_contain_text("10 KB")
    links = peer.next("file.links")
    assert links.data["ids"] == ["f-1"]
    url = "/v1/files/f-1?exp=1&sig=abc"
    peer.reply(links, links={"f-1": {"url": url, "expires_at": 4_000_000_000}})
    expect(card).to_have_attribute("href", f"http://127.0.0.1:{peer.port}{url}")
    assert page.errors == []  # type: ignore[attr-defined]


def test_pasted_image_shows_as_a_thumbnail_that_opens_full_size(page: Page, peer: ProtocolPeer) -> None:
    """A pasted image shows at once as a thumbnail; an agent's loads from its signed link and opens full size."""
    peer.files["/v1/files/f-9"] = (PNG, "image/png")
    widget = visitor(page, peer)
    drop(page, "image.png", "image/png", PNG, event="paste")
    begin = peer.next("file.begin")
    receive_upload(peer, begin, len(PNG))
    stored = attachment("f-2", "image.png", "image/png", len(PNG), width=1, height=1, thumbnail=True)
    peer.reply(peer.next("file.finish"), **stored)
    ack(peer, peer.next("message.send"), 1, [stored])
    own = widget.host.locator("ol > li[data-author=visitor] .ati img")
    expect(own).to_have_attribute("alt", "image.png")
    page.wait_for_function(
        "() => document.querySelector('frontdesk-chat').shadowRoot.querySelector('.ati img').naturalWidth == 1"
    )

    theirs = attachment("f-9", "photo.png", "image/png", len(PNG), width=1, height=1, thumbnail=True)
    peer.send(
        0,
        {
            "type": "event",
            "event_id": 20,
            "kind": "message.created",
            "data": message(7, 2, "", "agent", attachments=[theirs]),
        },
    )
    links = peer.next("file.links")
    assert links.data["ids"] == ["f-9"]
    peer.reply(
        links,
        links={
            "f-9": {
                "url": "/v1/files/f-9?exp=1&sig=t",
                "thumbnail_url": "/v1/files/f-9?exp=1&sig=t",
                "expires_at": 4_000_000_000,
            }
        },
    )
    thumb = widget.host.locator("ol > li[data-author=agent] button.ati")
    expect(thumb).to_have_accessible_name("Open image photo.png")
    page.wait_for_function(
        "() => [...document.querySelector('frontdesk-chat').shadowRoot.querySelectorAll('li[data-author=agent] img')]"
        ".some((i) => i.naturalWidth == 1)"
    )
    thumb.click()
    viewer = widget.host.locator(".atv")
    expect(viewer).to_be_visible()
    expect(viewer.locator("img")).to_have_attribute("src", f"http://127.0.0.1:{peer.port}/v1/files/f-9?exp=1&sig=t")
    viewer.locator("img").press("Escape")
    expect(viewer).to_have_count(0)
    expect(widget.panel).to_be_visible()  # Escape closed the viewer, not the chat


def test_an_expired_link_is_asked_for_again_before_the_viewer_and_a_card_open(page: Page, peer: ProtocolPeer) -> None:
    """Links last minutes: an image whose link is about to expire asks file.links again when its viewer opens, and
    a file card does the same when clicked, opening the fresh link."""
    peer.files["/v1/files/f-9"] = (PNG, "image/png")
    peer.files["/v1/files/f-8"] = (PDF_BYTES, "application/pdf")
    widget = visitor(page, peer)
    soon = int(page.evaluate("Date.now()") / 1000) + 5  # within the widget's 15 s margin: stale at once
    photo = attachment("f-9", "photo.png", "image/png", len(PNG), width=1, height=1, thumbnail=True)
    pdf = attachment("f-8", "invoice.pdf", "application/pdf", len(PDF_BYTES))
    peer.send(
        0,
        {
            "type": "event",
            "event_id": 20,
            "kind": "message.created",
            "data": message(7, 2, "", "agent", attachments=[photo, pdf]),
        },
    )
    links = peer.next("file.links")
    assert sorted(links.data["ids"]) == ["f-8", "f-9"]
    stale = {
        i: {"url": f"/v1/files/{i}?exp=1&sig=old", "thumbnail_url": f"/v1/files/{i}?exp=1&sig=old"}
        for i in ("f-8", "f-9")
    }
    peer.reply(links, links={i: {**link, "expires_at": soon} for i, link in stale.items()})
    page.wait_for_function(
        "() => [...document.querySelector('frontdesk-chat').shadowRoot.querySelectorAll('li[data-author=agent] img')]"
        ".some((i) => i.naturalWidth == 1)"
    )

    widget.host.locator("ol > li[data-author=agent] button.ati").click()
    again = peer.next("file.links")
    assert again.data["ids"] == ["f-9"]
    peer.reply(again, links={"f-9": {"url": "/v1/files/f-9?exp=2&sig=new", "expires_at": 4_000_000_000}})
    viewer = widget.host.locator(".atv")
    expect(viewer.locator("img")).to_have_attribute("src", f"http://127.0.0.1:{peer.port}/v1/files/f-9?exp=2&sig=new")
    viewer.locator("img").press("Escape")

    with page.expect_popup() as popup:
        widget.host.locator("ol > li[data-author=agent] a.atf").click()
        card = peer.next("file.links")
        assert card.data["ids"] == ["f-8"]
        peer.reply(card, links={"f-8": {"url": "/v1/files/f-8?exp=2&sig=new", "expires_at": 4_000_000_000}})
    assert popup.value.url == f"http://127.0.0.1:{peer.port}/v1/files/f-8?exp=2&sig=new"


def test_failed_upload_offers_retry_that_keeps_the_message(page: Page, peer: ProtocolPeer) -> None:
    """An upload the server drops shows why, in words, with Retry; Retry uploads it again and it is sent."""
    widget = visitor(page, peer)
    drop(page, "notes.txt", "text/plain", b"meeting notes")
    begin = peer.next("file.begin")
    peer.reply(begin, upload="up-1", handle=3, offset=0, chunk=4096, window=16384)
    peer.next("binary")
    peer.send(0, {"type": "error", "code": "upload_failed", "message": "bad offset", "upload": "up-1"})
    row = widget.host.locator("ol > li").filter(has_text="notes.txt")
    expect(row).to_have_attribute("data-status", "upfail")
    expect(row).to_contain_text("The file could not be sent.")
    row.get_by_role("button", name="Retry sending notes.txt").click()
    again = peer.next("file.begin")
    assert "resume" not in again.data  # the dropped upload is gone: from the start
    assert receive_upload(peer, again, 13) == b"meeting notes"
    stored = attachment("f-3", "notes.txt", "text/plain", 13)
    peer.reply(peer.next("file.finish"), **stored)
    ack(peer, peer.next("message.send"), 1, [stored])
    expect(row).to_have_attribute("data-status", "sent")
    expect(widget.host.locator("ol > li")).to_have_count(1)


def test_refusals_are_explained_in_words(page: Page, peer: ProtocolPeer) -> None:
    """Too large is refused before any byte goes (the limit named); a kind the server refuses says so."""
    widget = visitor(page, peer)
    page.evaluate(
        """() => {
          const dt = new DataTransfer();
          dt.items.add(new File([new Uint8Array(1048577)], 'huge.zip', {type: 'application/zip'}));
          document.querySelector('frontdesk-chat').shadowRoot.querySelector('.p')
            .dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: dt}));
        }"""
    )
    big = widget.host.locator("ol > li").filter(has_text="huge.zip")
    expect(big).to_contain_text("\u201chuge.zip\u201d is too large to send. The limit is 1 MB.")
    expect(big.get_by_role("button", name="Retry sending huge.zip")).to_have_count(0)

    drop(page, "run.exe", "application/octet-stream", b"MZ\x90\x00")
    begin = peer.next("file.begin")
    assert begin.data["name"] == "run.exe"  # the huge one never asked
    peer.reply(begin, upload="up-2", handle=4, offset=0, chunk=4096, window=16384)
    peer.next("binary")
    peer.send(0, {"type": "error", "code": "unsupported_type", "message": "not allowed", "upload": "up-2"})
    kind = widget.host.locator("ol > li").filter(has_text="run.exe")
    expect(kind).to_contain_text("Files like \u201crun.exe\u201d can\u2019t be sent here.")
    kind.get_by_role("button", name="Remove run.exe").click()
    expect(kind).to_have_count(0)


def test_cancel_stops_the_upload_and_removes_it(page: Page, peer: ProtocolPeer) -> None:
    """Cancel during an upload tells the server (file.cancel) and the file leaves the thread."""
    widget = visitor(page, peer)
    drop(page, "big.bin", "application/octet-stream", bytes(20000))
    begin = peer.next("file.begin")
    peer.reply(begin, upload="up-1", handle=3, offset=0, chunk=4096, window=8192)
    peer.next("binary")
    row = widget.host.locator("ol > li").filter(has_text="big.bin")
    row.get_by_role("button", name="Cancel sending big.bin").click()
    assert peer.next("file.cancel").data["upload"] == "up-1"
    expect(row).to_have_count(0)


def test_upload_cut_by_a_lost_connection_resumes_on_reconnect(page: Page, peer: ProtocolPeer) -> None:
    """The file stays in the page while offline; on the next socket the upload resumes from the server's offset."""
    widget = visitor(page, peer, clock=True)
    data = bytes(range(256)) * 48  # 12 KiB
    drop(page, "log.txt", "text/plain", data)
    begin = peer.next("file.begin")
    peer.reply(begin, upload="up-1", handle=3, offset=0, chunk=4096, window=4096)
    first = peer.next("binary")
    assert first.data["data"] == data[:4096]
    peer.close(0, 1012, "restart")
    peer.wait_closed(0)
    row = widget.host.locator("ol > li").filter(has_text="log.txt")
    expect(row).to_contain_text("Waiting for connection")

    page.clock.run_for(PAST_BACKOFF_MS)
    welcome(peer, peer.next("hello"))
    again = peer.next("file.begin")
    assert again.socket == 1 and again.data["resume"] == "up-1"
    assert receive_upload(peer, again, len(data), offset=4096) == data[4096:]
    stored = attachment("f-4", "log.txt", "text/plain", len(data))
    peer.reply(peer.next("file.finish"), **stored)
    send = peer.next("message.send")
    assert send.data["attachment_ids"] == ["f-4"]
    ack(peer, send, 1, [stored])
    expect(row).to_have_attribute("data-status", "sent")


def test_dropped_image_reaches_the_agent_and_shows_from_its_signed_link(
    page: Page, server: RunningServer, agent: Agent, foreign_site: Callable[[str], str]
) -> None:
    """Against the real server, embedded on another site: a dropped image is sent; after a reload it shows from
    its signed link on the chat server (not the page's origin)."""
    url = foreign_site(embed_page(server))
    agent.request("config.set", config={"allowed_origins": [url.split("//")[1].split("/")[0]]})
    widget = open_widget(page, url)
    drop(page, "screen.png", "image/png", PNG_3X2)
    created = agent.wait_event("message.created", author_kind="visitor")
    (sent,) = created["data"]["attachments"]
    assert (sent["name"], sent["mime"], sent["width"], sent["height"]) == ("screen.png", "image/png", 3, 2)
    row = widget.host.locator("ol > li:has(img[alt='screen.png'])")
    expect(row).to_have_attribute("data-status", "sent")

    page.reload()
    widget.wait_online()
    thumb = widget.host.locator("button.ati img[alt='screen.png']")
    expect(thumb).to_have_attribute("src", re.compile("^" + re.escape(server.http_url) + "/v1/files/"))
    page.wait_for_function(
        "() => [...document.querySelector('frontdesk-chat').shadowRoot.querySelectorAll('.ati img')]"
        ".some((i) => i.complete && i.naturalWidth > 0)"
    )
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_file_being_scanned_is_sent_once_the_scan_passes(page: Page, peer: ProtocolPeer) -> None:
    """file.finish says "pending": the row says the file is being checked; file.ready (ready) sends the message."""
    widget = visitor(page, peer)
    drop(page, "report.pdf", "application/pdf", PDF_BYTES)
    receive_upload(peer, peer.next("file.begin"), len(PDF_BYTES))
    pending = attachment("f-5", "report.pdf", "application/pdf", len(PDF_BYTES), status="pending")
    peer.reply(peer.next("file.finish"), **pending)
    row = widget.host.locator("ol > li").filter(has_text="report.pdf")
    expect(row).to_contain_text("Checking the file")
    # The finish reply was handled (the label shows) in the same turn that would have sent it: it did not.
    assert not [f for f in peer.frames if f.type == "message.send"]
    peer.send(0, {"type": "event", "kind": "file.ready", "data": {**pending, "status": "ready"}})
    send = peer.next("message.send")
    assert send.data["attachment_ids"] == ["f-5"]
    ack(peer, send, 1, [{**pending, "status": "ready"}])
    expect(row).to_have_attribute("data-status", "sent")


def test_a_file_the_scan_refuses_is_explained_and_never_sent(page: Page, peer: ProtocolPeer) -> None:
    """file.ready with "refused" (infected): the row says so in words, with Remove and no Retry."""
    widget = visitor(page, peer)
    drop(page, "invoice.pdf", "application/pdf", PDF_BYTES)
    receive_upload(peer, peer.next("file.begin"), len(PDF_BYTES))
    pending = attachment("f-6", "invoice.pdf", "application/pdf", len(PDF_BYTES), status="pending")
    peer.reply(peer.next("file.finish"), **pending)
    peer.send(0, {"type": "event", "kind": "file.ready", "data": {**pending, "status": "refused"}})
    row = widget.host.locator("ol > li").filter(has_text="invoice.pdf")
    expect(row).to_contain_text("\u201cinvoice.pdf\u201d was refused by the virus check.")
    expect(row.get_by_role("button", name="Retry sending invoice.pdf")).to_have_count(0)
    expect(row.get_by_role("button", name="Remove invoice.pdf")).to_be_visible()
