"""The console's exports from the server (core/export.py ``run_server_export``, the core's ``export_stream``):
the bodies of several batches joined into one file, chunk boundaries anywhere, a body cut short refused, cancel
leaving no file; and against a real server, the complete figures the cache lacks, and admins only."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from frontdesk.console.core import ServerError
from frontdesk.console.core.export import ExportCancelled, ExportRequest, run_server_export
from frontdesk.server.protocol import CONVERSATION_COLUMNS

from tests.support import RunningServer, WsClient, new_client_id

from .conftest import arun, make_core, online


class FakeServer:
    """Answers each export request with a body made from the ids asked for, in chunks of ``chunk`` bytes."""

    def __init__(self, chunk: int, *, cut: bool = False) -> None:
        self.chunk = chunk
        self.cut = cut
        self.asked: list[tuple[str, dict[str, str]]] = []

    def body(self, route: str, ids: list[int]) -> bytes:
        if route == "conversations.json":
            items = ",".join(json.dumps({"id": i, "messages": [{"body": "]}\n" + str(i)}]}) for i in ids if i % 10)
            return ('{"conversations":[' + items + "]}\n").encode()
        lines = ["id,visitor_name\r\n"] + [f'{i},"V\r\n{i}"\r\n' for i in ids if i % 10]
        return "".join(lines).encode()

    @contextlib.asynccontextmanager
    async def open(self, route: str, params: Mapping[str, str]) -> AsyncIterator[AsyncIterator[bytes]]:
        self.asked.append((route, dict(params)))
        ids = [int(i) for i in params["ids"].split(",") if i]
        data = self.body(route, ids)
        if self.cut:
            data = data[:-2]

        async def chunks() -> AsyncIterator[bytes]:
            for n in range(0, len(data), self.chunk):
                yield data[n : n + self.chunk]

        yield chunks()


@pytest.mark.parametrize("chunk", [1, 2, 7, 4096])
def test_batches_are_joined_into_one_json_and_one_csv(tmp_path: Path, chunk: int) -> None:
    """Ids go in batches; the JSON holds every batch's items once, comma-separated (a batch with none adds
    nothing); the CSV has the header once; progress counts conversations; the rows are counted from the file."""
    server = FakeServer(chunk)
    ids = (1, 2, 10, 20, 3)  # the batch (10, 20) has no conversation: an empty body
    progress: list[tuple[int, int]] = []
    target = tmp_path / "out.json"
    rows = arun(
        run_server_export(
            server.open,
            ExportRequest(ids, "json", include_notes=True),
            target,
            describe="Open",
            progress=lambda d, t: progress.append((d, t)),
            batch=2,
        )
    )
    assert [c["id"] for c in json.loads(target.read_text())["conversations"]] == [1, 2, 3] and rows == 3
    assert progress == [(2, 5), (4, 5), (5, 5)]
    assert server.asked[0] == ("conversations.json", {"ids": "1,2", "describe": "Open", "notes": "1"})
    target = tmp_path / "out.csv"
    rows = arun(run_server_export(server.open, ExportRequest(ids, "csv"), target, batch=2))
    table = list(csv.reader(io.StringIO(target.read_bytes().decode(), newline="")))
    assert table == [["id", "visitor_name"], ["1", "V\r\n1"], ["2", "V\r\n2"], ["3", "V\r\n3"]] and rows == 3
    assert [p for _, p in server.asked[-3:]] == [{"ids": "1,2", "describe": ""}, {"ids": "10,20", "describe": ""},
                                                 {"ids": "3", "describe": ""}]  # fmt: skip


def test_a_body_cut_short_or_a_cancel_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with pytest.raises(ValueError, match="ended early"):
        arun(run_server_export(FakeServer(5, cut=True).open, ExportRequest((1, 2), "json"), target))
    with pytest.raises(ExportCancelled):
        arun(run_server_export(FakeServer(5).open, ExportRequest((1, 2), "csv"), target, cancelled=lambda: True))
    assert list(tmp_path.iterdir()) == []


def test_an_admin_online_exports_the_servers_complete_figures(server: RunningServer, data_dir: Path) -> None:
    """Online, an admin's export comes from the server: the resolved time and resolution time the cache does not
    have, every message, and a PDF laid out from the server's JSON; an agent who is not an admin is refused there
    (its console exports from the cache)."""

    async def main() -> None:
        visitor, _ = await WsClient.visitor(server)
        sent = await visitor.request("message.send", client_id=new_client_id(), body="Where is it?")
        cid = int(sent["conversation_id"])
        core, _ = make_core(server, data_dir)
        await core.login(server.admin_email, server.admin_password, remember=False)
        await core.start()
        try:
            await online(core)
            assert core.exports_from_server
            await core.reply(cid, "Shipped today")
            await core.note(cid, "Checked the carrier")
            await core.resolve(cid)
            await visitor.next_event("conversation.updated", change="resolved")
            target = data_dir / "out.csv"
            rows = await run_server_export(core.export_stream, ExportRequest((cid,), "csv"), target)
            [row] = list(csv.DictReader(io.StringIO(target.read_bytes().decode(), newline="")))
            assert rows == 1 and list(row) == list(CONVERSATION_COLUMNS)
            assert row["resolved"] and int(row["resolution_time_s"]) >= 0 and row["status"] == "resolved"
            parts: list[str] = []

            def write_pdf(html: list[str], path: Path) -> None:
                parts.extend(html)
                path.write_bytes(b"%PDF-")

            pdf = data_dir / "out.pdf"
            assert await run_server_export(
                core.export_stream, ExportRequest((cid,), "pdf", True), pdf, write_pdf=write_pdf
            )
            assert pdf.read_bytes() == b"%PDF-"
            [page] = parts
            assert "Resolved:" in page and "Where is it?" in page and "Shipped today" in page
            assert "(private note)" in page and "Checked the carrier" in page  # notes, as asked

            password = server.add_agent("bea@example.com", "Bea")
            bea, _ = make_core(server, data_dir / "bea")
            await bea.login("bea@example.com", password, remember=False)
            await bea.start()
            try:
                await online(bea)
                assert not bea.exports_from_server
                with pytest.raises(ServerError) as refused:
                    await run_server_export(bea.export_stream, ExportRequest((cid,), "csv"), data_dir / "bea.csv")
                assert refused.value.code == "forbidden"
            finally:
                await bea.stop()
        finally:
            await core.stop()
            await visitor.close()

    arun(main())
