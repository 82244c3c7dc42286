"""Attachments end to end (PROTOCOL.md, "Attachments"): upload on the socket, send, links, download, refusals."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from frontdesk.server.store import files as file_ops
from PIL import Image

from tests.server.files_support import PDF, fetch, frame, jpeg_with_exif, png, png_bomb, send_bytes, upload
from tests.support import WsClient, new_client_id, serve_in_process


def test_visitor_image_round_trip_strips_exif_and_serves_signed(tmp_path: Path) -> None:
    """A visitor uploads a JPEG with EXIF, sends it; the agent gets the message with it, fetches a link, and the
    served bytes (and the stored ones) carry no EXIF, with the safe headers."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            agent, _ = await WsClient.agent(server)
            visitor, _ = await WsClient.visitor(server)
            original = jpeg_with_exif()
            assert b"SpyCam" in original
            attachment = await upload(visitor, original, "holiday.jpg")
            assert attachment["mime"] == "image/jpeg" and attachment["status"] == "ready"
            assert (attachment["width"], attachment["height"]) == (64, 48) and attachment["thumbnail"] is True
            ack = await visitor.request(
                "message.send", client_id=new_client_id(), body="look", attachment_ids=[attachment["id"]]
            )
            assert [a["id"] for a in ack["message"]["attachments"]] == [attachment["id"]]
            pushed = await agent.next_event("message.created", body="look")
            assert pushed["data"]["attachments"][0]["name"] == "holiday.jpg"
            links = (await agent.request("file.links", ids=[attachment["id"]]))["links"]
            link = links[attachment["id"]]
            status, headers, body = await fetch(server, link["url"])
            assert status == 200
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["Content-Security-Policy"] == "sandbox"
            assert headers["Content-Disposition"].startswith("inline")
            assert headers["Content-Type"] == "image/jpeg"
            assert b"SpyCam" not in body and Image.open(io.BytesIO(body)).getexif() == {}
            row = await server.app.store.read(file_ops.file_row, attachment["id"])
            assert b"SpyCam" not in server.app.blobs.path_of(row["sha256"]).read_bytes()  # stored, not only served
            status, headers, thumb = await fetch(server, link["thumbnail_url"])
            assert status == 200 and Image.open(io.BytesIO(thumb)).size[0] <= 320
            history = await visitor.request("history", conversation_id=ack["conversation_id"])
            assert history["messages"][0]["attachments"][0]["id"] == attachment["id"]
            await agent.close()
            await visitor.close()

    asyncio.run(scenario())


def test_each_refusal_has_its_documented_code(tmp_path: Path) -> None:
    """Oversize, a spoofed .png that is HTML, SVG, a kind the tenant turned off, a decompression bomb, a bad frame,
    an upload before hello and a flood are each refused with their code, and nothing of them is stored."""
    from frontdesk.server.ratelimit import Rate

    async def scenario() -> None:
        async with serve_in_process(tmp_path, rate_upload=Rate(0.001, 8)) as server:
            agent, _ = await WsClient.agent(server)
            await agent.request("config.set", config={"max_upload_mb": 1, "upload_kinds": ["images", "text"]})
            visitor, _ = await WsClient.visitor(server)

            too_big = await visitor.request_frame("file.begin", name="big.zip", size=1_000_001)
            assert (too_big["code"], too_big["field"]) == ("too_large", "size")

            async def refused_while_sending(data: bytes, name: str) -> dict[str, object]:
                begun = await visitor.request("file.begin", name=name, size=len(data))
                await visitor.send_raw(frame(begun["handle"], 0, data))
                error = next(f for f in await _wait_errors(visitor) if f.get("upload") == begun["upload"])
                finish = await visitor.request_frame("file.finish", upload=begun["upload"])
                assert finish["code"] == "not_found"  # dropped
                return error

            spoofed = await refused_while_sending(b"<!doctype html><script>alert(1)</script>", "cat.png")
            assert spoofed["code"] == "unsupported_type" and spoofed["ref"] is None
            svg = await refused_while_sending(b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "a.svg")
            assert svg["code"] == "unsupported_type"
            pdf = await refused_while_sending(PDF, "invoice.pdf")  # pdf is not among this tenant's kinds
            assert pdf["code"] == "unsupported_type"

            bomb = png_bomb()
            begun = await visitor.request("file.begin", name="bomb.png", size=len(bomb))
            await visitor.send_raw(frame(begun["handle"], 0, bomb))
            await visitor.next_event("file.progress", upload=begun["upload"], received=len(bomb))
            refused = await visitor.request_frame("file.finish", upload=begun["upload"])
            assert refused["code"] == "too_large"

            begun = await visitor.request("file.begin", name="note.txt", size=10)
            await visitor.send_raw(frame(begun["handle"], 3, b"abc"))  # not at the expected offset
            failed = next(f for f in await _wait_errors(visitor) if f.get("upload") == begun["upload"])
            assert failed["code"] == "upload_failed"

            flood = [await visitor.request_frame("file.begin", name="t.txt", size=3) for _ in range(4)]
            assert flood[-1]["code"] == "rate_limited"

            stranger = await WsClient.connect(server.visitor_url, origin=server.origin)
            early = await stranger.request_frame("file.begin", name="t.txt", size=3)
            assert early["code"] == "unauthorized"
            await stranger.send_raw(frame(1, 0, b"abc"))
            assert (await _wait_errors(stranger))[-1]["code"] == "unauthorized"

            rows = await server.app.store.read(_count_files)
            assert rows == 0
            for c in (agent, visitor, stranger):
                await c.close()

    asyncio.run(scenario())


async def _wait_errors(client: WsClient) -> list[dict[str, object]]:
    """The unsolicited error frames received so far, after a fence (a ping, answered even before hello)."""
    await client.request_frame("ping")
    return [f for f in client.frames if f.get("type") == "error" and f.get("ref") is None]


def _count_files(tx: object) -> int:
    row = tx.one("SELECT COUNT(*) AS n FROM files")  # type: ignore[attr-defined]
    return int(row["n"])


def test_an_id_is_usable_once_by_its_uploader_only(tmp_path: Path) -> None:
    """Someone else's id, an id already sent and a made-up id are all not_found, and nothing is stored; the agent's
    file in a note is not readable by the visitor, the reply's is."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            agent, _ = await WsClient.agent(server)
            alice, _ = await WsClient.visitor(server)
            mallory, _ = await WsClient.visitor(server)
            mine = await upload(alice, PDF, "invoice.pdf")
            stolen = await mallory.request_frame(
                "message.send", client_id=new_client_id(), body="mine now", attachment_ids=[mine["id"]]
            )
            assert (stolen["code"], stolen["field"]) == ("not_found", "attachment_ids")
            assert (await mallory.request("file.links", ids=[mine["id"]]))["links"] == {}
            made_up = await alice.request_frame(
                "message.send", client_id=new_client_id(), body="x", attachment_ids=["f_nope"]
            )
            assert made_up["code"] == "not_found"
            ack = await alice.request("message.send", client_id=new_client_id(), body="", attachment_ids=[mine["id"]])
            assert ack["message"]["body"] == "" and ack["conversation"]["preview"].endswith("attachment")
            again = await alice.request_frame(
                "message.send", client_id=new_client_id(), body="again", attachment_ids=[mine["id"]]
            )
            assert again["code"] == "not_found"
            conversation_id = ack["conversation_id"]
            assert ack["seq"] == 1  # the refused sends stored nothing

            in_reply = await upload(agent, png(), "chart.png")
            in_note = await upload(agent, b"internal only\n", "memo.txt")
            await agent.request(
                "reply",
                conversation_id=conversation_id,
                client_id=new_client_id(),
                body="here",
                attachment_ids=[in_reply["id"]],
            )
            note = await agent.request(
                "note",
                conversation_id=conversation_id,
                client_id=new_client_id(),
                body="fyi",
                attachment_ids=[in_note["id"]],
            )
            assert note["note"]["attachments"][0]["mime"] == "text/plain"
            seen = (await alice.request("file.links", ids=[in_reply["id"], in_note["id"], mine["id"]]))["links"]
            assert set(seen) == {in_reply["id"], mine["id"]}
            status, headers, body = await fetch(server, seen[mine["id"]]["url"])
            assert status == 200 and body == PDF and headers["Content-Disposition"].startswith("attachment")
            history = await agent.request("history", conversation_id=conversation_id)
            assert history["notes"][0]["attachments"][0]["id"] == in_note["id"]
            for c in (agent, alice, mallory):
                await c.close()

    asyncio.run(scenario())


def test_forged_and_expired_links_are_refused(tmp_path: Path) -> None:
    """A link with a changed signature, another file's signature, or a passed expiry gets 403; a fresh one 200."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            visitor, _ = await WsClient.visitor(server)
            one = await upload(visitor, b"first\n", "a.txt")
            two = await upload(visitor, b"second\n", "b.txt")
            links = (await visitor.request("file.links", ids=[one["id"], two["id"]]))["links"]
            url = links[one["id"]]["url"]
            assert (await fetch(server, url))[0] == 200
            forged = url[:-1] + ("0" if url[-1] != "0" else "1")
            assert (await fetch(server, forged))[0] == 403
            swapped = links[two["id"]]["url"].replace(two["id"], one["id"])
            assert (await fetch(server, swapped))[0] == 403
            expired_at = links[one["id"]]["expires_at"] - 3600
            expired = url.replace(f"exp={links[one['id']]['expires_at']}", f"exp={expired_at}")
            assert (await fetch(server, expired))[0] == 403
            assert (await fetch(server, "/v1/files/f_nothing?exp=1&sig=00"))[0] == 404
            await visitor.close()

    asyncio.run(scenario())


def test_an_upload_resumes_on_a_new_socket(tmp_path: Path) -> None:
    """Bytes acknowledged by file.progress survive a reconnect: file.begin with resume continues from them."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            first, hello = await WsClient.visitor(server)
            data = bytes(range(256)) * 2048  # 512 KiB of binary: an archive-less blob, so make it a zip below
            data = _zip_of(data)
            begun = await first.request("file.begin", name="logs.zip", size=len(data))
            half = 300 * 1024
            offset = 0
            while offset < half:
                part = data[offset : offset + begun["chunk"]]
                await first.send_raw(frame(begun["handle"], offset, part))
                offset += len(part)
            progress = await first.next_event("file.progress", upload=begun["upload"])
            await first.close()
            second, _ = await WsClient.visitor(server, token=hello["token"])
            resumed = await second.request("file.begin", name="logs.zip", size=len(data), resume=begun["upload"])
            assert resumed["upload"] == begun["upload"] and resumed["offset"] == progress["data"]["received"] > 0

            await send_bytes(second, resumed, data)
            await second.next_event("file.progress", upload=begun["upload"], received=len(data))
            done = await second.request("file.finish", upload=begun["upload"])
            assert done["size"] == len(data) and done["mime"] == "application/zip"
            links = (await second.request("file.links", ids=[done["id"]]))["links"]
            assert (await fetch(server, links[done["id"]]["url"]))[2] == data
            await second.close()

    asyncio.run(scenario())


def _zip_of(payload: bytes) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("log.bin", payload)
    return out.getvalue()


def test_a_flood_of_refused_upload_frames_closes_the_socket(tmp_path: Path) -> None:
    """Binary frames for no upload are each refused (`upload_failed`); past the strike limit the socket is closed
    with 1013, as a flood of rate-limited requests is."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            visitor, _ = await WsClient.visitor(server)
            for _ in range(40):
                await visitor.send_raw(frame(99, 0, b"x"))
            code, _ = await visitor.wait_closed()
            assert code == 1013
            assert any(f.get("code") == "upload_failed" for f in visitor.frames)

    asyncio.run(scenario())


def test_deleting_a_message_deletes_its_files(tmp_path: Path) -> None:
    """An agent deletes their message: its attachments leave the message (live and in history), and its link 404s."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            agent, _ = await WsClient.agent(server)
            visitor, _ = await WsClient.visitor(server)
            ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
            wrong = await upload(agent, PDF, "someone-elses-invoice.pdf")
            reply = await agent.request(
                "reply",
                conversation_id=ack["conversation_id"],
                client_id=new_client_id(),
                body="oops",
                attachment_ids=[wrong["id"]],
            )
            link = (await visitor.request("file.links", ids=[wrong["id"]]))["links"][wrong["id"]]
            deleted = await agent.request("message.delete", conversation_id=ack["conversation_id"], seq=reply["seq"])
            assert deleted["message"]["attachments"] == []
            updated = await visitor.next_event("message.updated", id=reply["message"]["id"])
            assert updated["data"]["attachments"] == []
            assert (await visitor.request("file.links", ids=[wrong["id"]]))["links"] == {}
            assert (await fetch(server, link["url"]))[0] == 404
            history = await visitor.request("history", conversation_id=ack["conversation_id"])
            assert all(m["attachments"] == [] for m in history["messages"])
            await agent.close()
            await visitor.close()

    asyncio.run(scenario())


def test_a_cancelled_upload_is_gone_and_its_socket_may_start_others(tmp_path: Path) -> None:
    """file.cancel drops an upload in progress: finishing it is not_found, its frames are refused, and the socket's
    four upload slots are free again."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            visitor, _ = await WsClient.visitor(server)
            begun = [await visitor.request("file.begin", name=f"{n}.txt", size=10) for n in range(4)]
            fifth = await visitor.request_frame("file.begin", name="5.txt", size=10)
            assert fifth["code"] == "rate_limited"
            cancelled = await visitor.request("file.cancel", upload=begun[0]["upload"])
            assert set(cancelled) == {"type", "ref"}  # the empty reply
            gone = await visitor.request_frame("file.finish", upload=begun[0]["upload"])
            assert gone["code"] == "not_found"
            await visitor.send_raw(frame(begun[0]["handle"], 0, b"0123456789"))
            assert (await _wait_errors(visitor))[-1]["code"] == "upload_failed"
            again = await visitor.request("file.begin", name="5.txt", size=10)
            assert again["offset"] == 0
            await visitor.close()

    asyncio.run(scenario())


def test_uploads_are_limited_per_visitor_and_per_address(tmp_path: Path) -> None:
    """With a burst of 3 file.begin: a visitor who used theirs is refused on a new socket from another address
    too (per visitor); another visitor from the first address is refused (per address); a third visitor from a
    third address may upload."""
    from frontdesk.server.ratelimit import Rate

    async def scenario() -> None:
        async with serve_in_process(tmp_path, rate_upload=Rate(0.001, 3), trust_proxy=True) as server:

            async def visitor_at(address: str, **hello: object) -> tuple[WsClient, dict[str, object]]:
                client = await WsClient.connect(
                    server.visitor_url, origin=server.origin, additional_headers={"X-Forwarded-For": address}
                )
                return client, await client.request("hello", **hello)

            async def begin(client: WsClient) -> str:
                reply = await client.request_frame("file.begin", name="t.txt", size=3)
                return "ok" if reply["type"] == "reply" else str(reply["code"])

            alice, hello = await visitor_at("198.51.100.1")
            assert [await begin(alice) for _ in range(4)] == ["ok", "ok", "ok", "rate_limited"]
            again, _ = await visitor_at("203.0.113.9", token=hello["token"])
            assert await begin(again) == "rate_limited"  # her own budget, whatever the address
            bob, _ = await visitor_at("198.51.100.1")
            assert await begin(bob) == "rate_limited"  # the address's budget, whoever asks
            carol, _ = await visitor_at("192.0.2.7")
            assert await begin(carol) == "ok"
            for c in (alice, again, bob, carol):
                await c.close()

    asyncio.run(scenario())
