"""The console's exports (PROTOCOL.md, "Exports"): from the server when it can, from the cache when it cannot.

Qt-free. Two sources, one file format (the columns are declared once, in ``frontdesk.server.protocol``, which
``frontdesk.server.exports`` uses too):

- **The server** (:func:`run_server_export`), for an admin who is online: ``GET /v1/export/…`` with the chosen
  conversations as ``ids=`` (in batches the server takes), streamed to the file chunk by chunk. The server holds
  the complete figures: every stored message, when each conversation was resolved, its team, labels, attachments
  and events. The PDF is laid out from the server's JSON.
- **The cache** (:func:`run_export`), offline or for an agent who is not an admin (the server's exports are for
  admins): what this console has loaded. Some columns stay empty there (:data:`CACHE_GAPS`).

Both report progress, check a cancel flag between chunks (yielding to the event loop, so a large export never
freezes the window) and write to a temporary file beside the target, renamed into place only when complete: a
cancelled or failed export leaves no partial file. The PDF is made by the UI from :func:`transcript_html`
(``QTextDocument`` + ``QPdfWriter``).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import html
import io
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, BinaryIO, Final, TextIO

from frontdesk.server.protocol import Message, PrivateNote, from_wire, to_wire

from ._io import run_io
from .cache import Cache, rating_text
from .rows import ConversationRow, CsatRow

__all__ = [
    "CACHE_GAPS",
    "FORMATS",
    "SERVER_BATCH",
    "SERVER_ROUTES",
    "ExportCancelled",
    "ExportRequest",
    "ExportStream",
    "conversation_record",
    "run_export",
    "run_server_export",
    "server_record",
    "transcript_html",
]

#: Format key → (the record's kind, its format, a file suffix, a label).
FORMATS: Final = {
    "json": ("conversations", "json", ".json", "JSON (full: messages, notes, ratings)"),
    "csv": ("conversations", "csv", ".csv", "CSV: one row per conversation"),
    "messages": ("messages", "csv", ".csv", "CSV: one row per message"),
    "pdf": ("conversations", "pdf", ".pdf", "PDF: readable transcripts"),
}
#: Items read per conversation (the whole cached thread).
_THREAD_LIMIT: Final = 1_000_000
#: Format key → the server's route (``GET /v1/export/<route>``); the PDF is laid out from the JSON.
SERVER_ROUTES: Final = {
    "json": "conversations.json",
    "csv": "conversations.csv",
    "messages": "messages.csv",
    "pdf": "conversations.json",
}
#: Conversation ids per request to the server (it takes up to 500); each request is one export record there.
SERVER_BATCH: Final = 250
#: Format key → what a file made from the cache lacks (the server's export has it), for the dialog to say.
CACHE_GAPS: Final = {
    "json": "resolved_at, events, team and labels are not in it; messages are those loaded here",
    "csv": "the resolved, resolution_time_s, team and labels columns are empty",
    "messages": "only the messages this console has loaded are in it",
    "pdf": "resolution times are not in it; messages are those loaded here",
}
#: Opens the server's export ``route`` with query ``params``: an async context manager giving the body's
#: chunks (the core's ``export_stream``). Raises the core's OfflineError / ServerError.
ExportStream = Callable[[str, Mapping[str, str]], AbstractAsyncContextManager[AsyncIterator[bytes]]]


class ExportCancelled(Exception):
    """The user cancelled the export; nothing was written."""


@dataclasses.dataclass(frozen=True, slots=True)
class ExportRequest:
    """What to export: conversations by id, in a format of :data:`FORMATS`."""

    conversation_ids: tuple[int, ...]
    format: str
    include_notes: bool = False


def iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def conversation_record(cache: Cache, conversation_id: int, *, include_notes: bool) -> dict[str, Any] | None:
    """One conversation as the JSON export holds it, from the cache (None: not cached)."""
    row = cache.conversation(conversation_id)
    if row is None:
        return None
    items = [i for i in cache.thread(conversation_id, limit=_THREAD_LIMIT) if i.id is not None]
    messages = [i for i in items if i.kind != "note"]
    surveys = cache.conversation_csat(conversation_id)
    first_response = next((m.created_at for m in messages if m.kind == "agent"), None)
    record: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "created_at": row.created_at,
        "last_activity": row.last_activity,
        "visitor": {"id": row.visitor_id, "name": row.visitor_name, "email": row.visitor_email},
        "assignee_id": row.assignee_id,
        "agent_name": row.assignee_name,
        "first_response_at": first_response,
        "resolved_at": None,  # not in the cache (a resolve's time is the server's); the server's export has it
        "messages": [_item(m) for m in messages],
        "csat": [_survey(s) for s in reversed(surveys)],
        "attachments": [to_wire(a) for m in messages for a in m.attachments],  # those of the loaded messages
    }
    if include_notes:
        record["notes"] = [_item(n) for n in items if n.kind == "note"]
        record["attachments"] += [to_wire(a) for n in items if n.kind == "note" for a in n.attachments]
    return record


def _item(item: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "seq": item.seq,
        "author_kind": item.kind,
        "author_name": item.author_name,
        "body": "" if item.deleted else item.body,
        "created_at": item.created_at,
        "edited": item.edited,
        "deleted": item.deleted,
        "attachments": [to_wire(a) for a in item.attachments],
    }


def _survey(s: CsatRow) -> dict[str, Any]:
    return {
        "agent_id": s.agent_id,
        "agent_name": s.agent_name,
        "scale": s.scale,
        "rating": s.rating,
        "comment": s.comment,
        "created_at": s.created_at,
        "rated_at": s.rated_at,
    }


def _csat_cell(record: dict[str, Any]) -> str:
    rated = [s for s in record["csat"] if s["rating"] is not None]
    if not rated:
        return ""
    last = rated[-1]
    if last["scale"] == "thumbs":
        return "up" if last["rating"] else "down"
    return str(last["rating"])


def conversation_csv_row(row: ConversationRow, record: dict[str, Any]) -> list[Any]:
    """One conversations.csv row (the server's columns). ``resolved`` and the resolution time are not in the
    cache (a resolve's time is the server's), so they stay empty here; the server's export has them."""
    return [
        row.id,
        row.visitor_name,
        row.visitor_email or "",
        row.assignee_name or "",
        "",  # team
        row.status,
        "",  # labels
        iso(row.created_at),
        iso(record["first_response_at"]),
        "",  # resolved
        "",  # resolution_time_s
        _csat_cell(record),
    ]


def transcript_html(record: dict[str, Any]) -> str:
    """A readable transcript of one conversation as HTML (every text escaped), for the PDF."""
    e = html.escape
    visitor = record["visitor"]
    head = f"<h2>Conversation #{record['id']} — {e(visitor['name'] or '')}</h2>"
    meta = [f"Status: {e(record['status'])}", f"Started: {e(iso(record['created_at']))}"]
    if visitor["email"]:
        meta.append(f"Email: {e(visitor['email'])}")
    if record["agent_name"]:
        meta.append(f"Agent: {e(record['agent_name'])}")
    if record["resolved_at"]:
        meta.append(f"Resolved: {e(iso(record['resolved_at']))}")
    for s in record["csat"]:
        if s["rating"] is not None:
            meta.append(f"Rating: {e(rating_text(s['scale'], s['rating']))} {e(s['comment'] or '')}")
    lines = [head, "<p>" + "<br>".join(meta) + "</p>"]
    notes = record.get("notes", [])  # own data: the export's record, notes only when asked
    entries = sorted(record["messages"] + notes, key=lambda m: (m["created_at"], m["seq"] or 0))
    for m in entries:
        who = e(m["author_name"] or m["author_kind"])
        tag = " (private note)" if m["author_kind"] == "note" else ""
        body = e(m["body"] or ("Message deleted" if m["deleted"] else "")).replace("\n", "<br>")
        files = "".join(
            f"<br><i>Attachment: {e(a['name'])} ({e(a['mime'])}, {int(a['size']):,} bytes)</i>"
            for a in m["attachments"]
        )
        lines.append(f"<p><b>{who}</b>{tag} <small>{e(iso(m['created_at']))}</small><br>{body}{files}</p>")
    return "\n".join(lines)


def _csv(out: io.StringIO) -> Any:
    return csv.writer(out, lineterminator="\r\n")


async def run_export(
    cache: Cache,
    request: ExportRequest,
    target: Path,
    *,
    progress: Callable[[int, int], None] = lambda done, total: None,
    cancelled: Callable[[], bool] = lambda: False,
    write_pdf: Callable[[list[str], Path], None] | None = None,
) -> int:
    """Export ``request`` to ``target``; the number of rows (conversations, or messages for the messages CSV).
    Raises :class:`ExportCancelled` when ``cancelled()`` turns true; ``target`` is then untouched. The PDF
    format needs ``write_pdf(html_parts, path)`` (the UI's)."""
    if request.format not in FORMATS:
        raise ValueError(f"unknown export format {request.format!r}")
    # The server's columns, declared once there; imported here, not at start-up (the server's HTTP module).
    from frontdesk.server.protocol import CONVERSATION_COLUMNS, MESSAGE_COLUMNS

    total = len(request.conversation_ids)
    tmp = target.with_name(f".{target.name}.part")
    rows = 0
    out = _open_part(tmp)
    try:
        buf = io.StringIO()
        writer = _csv(buf)
        if request.format == "json":
            buf.write('{"conversations":[')
        elif request.format == "csv":
            writer.writerow(CONVERSATION_COLUMNS)
        elif request.format == "messages":
            writer.writerow(MESSAGE_COLUMNS)
        parts: list[str] = []
        for done, record, row in _records(cache, request):
            if cancelled():
                raise ExportCancelled()
            if record is not None and row is not None:
                if request.format == "json":
                    buf.write(("," if rows else "") + json.dumps(record, ensure_ascii=False))
                    rows += 1
                elif request.format == "csv":
                    writer.writerow(conversation_csv_row(row, record))
                    rows += 1
                elif request.format == "messages":
                    for m in record["messages"]:
                        writer.writerow(
                            [row.id, m["seq"], iso(m["created_at"]), m["author_kind"], m["author_name"] or "",
                             m["body"], "yes" if m["edited"] else "", "yes" if m["deleted"] else ""]
                        )  # fmt: skip
                        rows += 1
                else:
                    parts.append(transcript_html(record))
                    rows += 1
            # One conversation's text at a time goes to the file (a small local write, like the cache's reads
            # on this loop); then the loop runs, so the window stays responsive and a Cancel click arrives.
            out.write(buf.getvalue())
            buf.seek(0)
            buf.truncate()
            progress(done, total)
            await asyncio.sleep(0)
        if request.format == "json":
            out.write("]}\n")
        out.close()
        if cancelled():
            raise ExportCancelled()
        if request.format == "pdf":
            if write_pdf is None:
                raise ValueError("the PDF format needs write_pdf")
            write_pdf(parts, tmp)
        os.replace(tmp, target)
    finally:
        out.close()
        tmp.unlink(missing_ok=True)
    return rows


def _open_part(path: Path) -> TextIO:
    """The temporary file an export is written to, renamed into place when complete."""
    return open(path, "w", encoding="utf-8", newline="")


def _records(cache: Cache, request: ExportRequest) -> Iterator[tuple[int, dict[str, Any] | None, Any]]:
    for done, cid in enumerate(request.conversation_ids, 1):
        row = cache.conversation(cid)
        notes = request.include_notes and request.format in ("json", "pdf")
        record = conversation_record(cache, cid, include_notes=notes) if row is not None else None
        yield done, record, row


# -- from the server ---------------------------------------------------------------------------


def server_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """One conversation of the server's JSON export in the shape :func:`transcript_html` reads: its messages
    and notes decoded as the protocol's typed objects (notes become ``author_kind`` ``note``), with their
    attachments' metadata, and the resolved time the cache does not have."""
    messages: list[Message | PrivateNote] = [from_wire(Message, m) for m in item["messages"]]
    notes = [from_wire(PrivateNote, n) for n in item["notes"]] if "notes" in item else None

    def entry(m: Message | PrivateNote) -> dict[str, Any]:
        deleted = isinstance(m, Message) and m.deleted
        return {
            "id": m.id,
            "seq": m.seq,
            "author_kind": "note" if isinstance(m, PrivateNote) else m.author_kind,
            "author_name": m.author_name,
            "body": "" if deleted else m.body,
            "created_at": m.created_at,
            "edited": isinstance(m, Message) and m.edited_at is not None,
            "deleted": deleted,
            "attachments": [to_wire(a) for a in m.attachments],
        }

    record = {
        "id": item["id"],
        "status": item["status"],
        "created_at": item["created_at"],
        "visitor": dict(item["visitor"]),
        "agent_name": item["agent_name"],
        "resolved_at": item["resolved_at"],
        "messages": [entry(m) for m in messages],
        "csat": list(item["csat"]),
    }
    if notes is not None:
        record["notes"] = [entry(n) for n in notes]
    return record


_JSON_HEAD: Final = b'{"conversations":['
_JSON_TAIL: Final = b"]}\n"


class _Joiner:
    """Joins the server's bodies for several batches into one file: one JSON object (each body's array items,
    comma-separated), or one CSV (the header line once). A body cut short (no closing ``]}``, or not even a
    header line) is a ``ValueError``."""

    def __init__(self, fmt: str) -> None:
        self.json = fmt in ("json", "pdf")
        self.bodies = 0  #: bodies finished
        self.items = False  #: some JSON items were written
        self.begin()

    def start(self) -> bytes:
        return _JSON_HEAD if self.json else b""

    def begin(self) -> None:
        """Before a body."""
        self._head = b""
        self._held = b""
        self._in = False
        self._comma = self.items  # a comma before this body's first item, after an earlier body's

    def feed(self, block: bytes) -> bytes:
        """What of a body's chunk goes to the file."""
        if not self._in:
            self._head += block
            if self.json:
                if len(self._head) < len(_JSON_HEAD):
                    return b""
                if not self._head.startswith(_JSON_HEAD):
                    raise ValueError("the server's export is not the expected JSON")
                block = self._head[len(_JSON_HEAD) :]
            elif self.bodies == 0:
                block = self._head
            else:
                end = self._head.find(b"\r\n")
                if end < 0:
                    return b""
                block = self._head[end + 2 :]  # the header line once, from the first body
            self._in = True
        if not self.json:
            return block
        data = self._held + block
        cut = max(0, len(data) - len(_JSON_TAIL))
        self._held, data = data[cut:], data[:cut]  # hold back what may be the closing "]}\n"
        if not data:
            return b""
        if self._comma:
            data, self._comma = b"," + data, False
        self.items = True
        return data

    def end(self) -> bytes:
        """After a body's last chunk."""
        if not self._in or (self.json and self._held != _JSON_TAIL):
            raise ValueError("the server's export ended early; try again")
        self.bodies += 1
        return b""

    def finish(self) -> bytes:
        return _JSON_TAIL if self.json else b""


def _open_binary(path: Path) -> BinaryIO:
    """The temporary file a server export is streamed to."""
    return open(path, "wb")


def _load_items(path: Path) -> list[dict[str, Any]]:
    """The conversations of a finished JSON export (for the PDF)."""
    with open(path, encoding="utf-8") as f:
        return list(json.load(f)["conversations"])


def _count_rows(path: Path, fmt: str) -> int:
    """Conversations (JSON, conversations CSV) or messages (messages CSV) in a finished file."""
    if fmt in ("json", "pdf"):
        with open(path, encoding="utf-8") as f:
            return len(json.load(f)["conversations"])
    with open(path, encoding="utf-8", newline="") as f:
        return max(0, sum(1 for _ in csv.reader(f)) - 1)


async def run_server_export(
    open_stream: ExportStream,
    request: ExportRequest,
    target: Path,
    *,
    describe: str = "",
    progress: Callable[[int, int], None] = lambda done, total: None,
    received: Callable[[int], None] = lambda n: None,
    cancelled: Callable[[], bool] = lambda: False,
    write_pdf: Callable[[list[str], Path], None] | None = None,
    batch: int = SERVER_BATCH,
) -> int:
    """Export ``request`` from the server (``GET /v1/export/…``, module doc) to ``target``; the number of rows.
    ``progress(done, total)`` after each batch of conversations, ``received(bytes)`` as the body arrives.
    Raises :class:`ExportCancelled` (``target`` untouched), the core's OfflineError / ServerError, or
    ``ValueError`` when a body is cut short."""
    if request.format not in FORMATS:
        raise ValueError(f"unknown export format {request.format!r}")
    ids = list(request.conversation_ids)
    batches = [ids[i : i + batch] for i in range(0, len(ids), batch)]
    tmp = target.with_name(f".{target.name}.part")
    data = tmp if request.format != "pdf" else target.with_name(f".{target.name}.json.part")
    joiner = _Joiner(request.format)
    total_bytes = 0
    try:
        with _open_binary(data) as out:
            out.write(joiner.start())
            for done, chunk in enumerate(batches, 1):
                params = {"ids": ",".join(str(i) for i in chunk), "describe": describe[:200]}
                if request.include_notes and request.format in ("json", "pdf"):
                    params["notes"] = "1"
                joiner.begin()
                async with open_stream(SERVER_ROUTES[request.format], params) as body:
                    async for block in body:
                        if cancelled():
                            raise ExportCancelled()
                        out.write(joiner.feed(block))
                        total_bytes += len(block)
                        received(total_bytes)
                out.write(joiner.end())
                progress(min(len(ids), done * batch), len(ids))
                await asyncio.sleep(0)
            out.write(joiner.finish())
        if cancelled():
            raise ExportCancelled()
        if request.format == "pdf":
            if write_pdf is None:
                raise ValueError("the PDF format needs write_pdf")
            items = await run_io(_load_items, data)
            write_pdf([transcript_html(server_record(item)) for item in items], tmp)
            rows = len(items)
        else:
            rows = await run_io(_count_rows, data, request.format)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        data.unlink(missing_ok=True)
    return rows
