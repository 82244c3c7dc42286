"""``GET /v1/export/…``: conversations exported over HTTP for admins, streamed (PROTOCOL.md, "Exports").

``websockets`` answers plain HTTP from its handshake hook with a response whose body is built whole. An export
of a tenant's history must not be, so :func:`serve_export` writes the response to the connection's transport
itself: the head, then the body a page of conversations at a time (:func:`export_chunks`, an async generator),
waiting on the connection's flow control after each chunk, then closes the connection (the body ends there:
``Connection: close``, no length). The library then sends nothing of its own for that request.

Routes (``?conversation_id=&visitor_id=&status=&since=&until=&ids=`` narrow the set; ``notes=1`` adds notes to
JSON; ``describe=`` is how the client names its own filter, for the record):

- ``/v1/export/conversations.json``: full fidelity, one object per conversation with its messages, events,
  surveys, attachment metadata (none yet) and, when asked, its notes;
- ``/v1/export/conversations.csv``: one row per conversation (:data:`CONVERSATION_COLUMNS`);
- ``/v1/export/messages.csv``: one row per message (:data:`MESSAGE_COLUMNS`).

``Authorization: Bearer <agent token>``; no token or a forged or revoked one: 401; an agent who is not an
admin: 403. Every export is recorded (store ``exports.record_export``), with the rows it held.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import http
import io
import logging
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request

from . import auth
from . import protocol as p
from .protocol import CONVERSATION_COLUMNS, MESSAGE_COLUMNS
from .store import Store, agents
from .store import exports as store_exports
from .store.exports import ExportFilter

__all__ = ["CONVERSATION_COLUMNS", "EXPORT_PREFIX", "MESSAGE_COLUMNS", "ExportRefused", "export_chunks", "serve_export"]

log = logging.getLogger("frontdesk.server.exports")

EXPORT_PREFIX: Final = "/v1/export/"
#: Conversations read from the store per round trip (and per chunk written).
PAGE: Final = 100
#: Conversation ids one export's ``ids=`` may name (a client's own list, e.g. its inbox's filter).
MAX_IDS: Final = 500
#: The longest a chunk waits for the client to take more bytes.
WRITE_TIMEOUT_S: Final = 30.0
#: Route → (the record's kind, format, content type).
ROUTES: Final = {
    "conversations.json": ("conversations", "json", "application/json; charset=utf-8"),
    "conversations.csv": ("conversations", "csv", "text/csv; charset=utf-8"),
    "messages.csv": ("messages", "csv", "text/csv; charset=utf-8"),
}


class ExportRefused(Exception):
    """An export request answered with an error status instead of a body."""

    def __init__(self, status: http.HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def iso(ms: int | None) -> str:
    """A time in ms as ISO 8601 UTC, or empty."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _int(params: dict[str, list[str]], name: str) -> int | None:
    text = params.get(name, [""])[0]
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) < 19):
        raise ExportRefused(http.HTTPStatus.BAD_REQUEST, f"{name} must be a whole number")
    return int(text)


def parse_filter(query: str) -> tuple[ExportFilter, bool]:
    """The filter and the ``notes`` flag of an export's query string, or :class:`ExportRefused` (400)."""
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    status = params.get("status", [""])[0] or None
    if status is not None and status not in p.SEARCH_STATUSES:
        raise ExportRefused(http.HTTPStatus.BAD_REQUEST, "status must be open, pending or resolved")
    ids: tuple[int, ...] | None = None
    if "ids" in params:
        texts = [t for t in params["ids"][0].split(",") if t]
        if len(texts) > MAX_IDS or not all(t.isascii() and t.isdigit() and len(t) < 19 for t in texts):
            raise ExportRefused(
                http.HTTPStatus.BAD_REQUEST, f"ids must be at most {MAX_IDS} comma-separated conversation ids"
            )
        ids = tuple(sorted({int(t) for t in texts}))
    flt = ExportFilter(
        conversation_id=_int(params, "conversation_id"),
        visitor_id=_int(params, "visitor_id"),
        status=status,
        since=_int(params, "since"),
        until=_int(params, "until"),
        query=params.get("describe", [""])[0][:200] or None,
        conversation_ids=ids,
    )
    return flt, params.get("notes", ["0"])[0] in ("1", "true")


async def admin_of(store: Store, authorization: str | None) -> tuple[int, int]:
    """The (tenant, agent) of a bearer token that names an active admin; :class:`ExportRefused` 401 or 403."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ExportRefused(http.HTTPStatus.UNAUTHORIZED, "send Authorization: Bearer <token> (an admin's token)")
    found = await store.read(agents.account_by_token, auth.token_hash(token.strip()))
    if found is None or not found.profile.active:
        raise ExportRefused(http.HTTPStatus.UNAUTHORIZED, "invalid or revoked token; log in again")
    if found.profile.role != "admin":
        raise ExportRefused(http.HTTPStatus.FORBIDDEN, "admins only: exports")
    return found.profile.tenant_id, found.profile.id


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def conversation_row(row: dict[str, Any]) -> list[Any]:
    """One ``conversations.csv`` row (:data:`CONVERSATION_COLUMNS`) of a store row."""
    resolved = row["resolved_at"] if row["status"] == "resolved" else None
    rating = row["csat_rating"]
    if rating is not None and row["csat_scale"] == "thumbs":
        rating = "up" if rating else "down"
    return [
        row["id"],
        row["visitor_name"] or "",
        row["visitor_email"] or "",
        row["agent_name"] or "",
        row["team_name"] or "",
        row["status"],
        "; ".join(row.get("label_names") or ()),
        iso(row["created_at"]),
        iso(row["first_response_at"]),
        iso(resolved),
        "" if resolved is None else (resolved - row["created_at"]) // 1000,
        "" if rating is None else rating,
    ]


async def export_chunks(
    store: Store, tenant_id: int, route: str, flt: ExportFilter, *, notes: bool, counted: Callable[[int], None]
) -> AsyncIterator[bytes]:
    """The body of export ``route`` (a key of :data:`ROUTES`), a page of conversations per chunk;
    ``counted(n)`` hears each page's rows."""
    kind, fmt, _ = ROUTES[route]
    if fmt == "json":
        yield b'{"conversations":['
    elif kind == "conversations":
        yield _csv_line(list(CONVERSATION_COLUMNS)).encode()
    else:
        yield _csv_line(list(MESSAGE_COLUMNS)).encode()
    after, first = 0, True
    while True:
        page = await store.read(store_exports.conversation_page, tenant_id, flt, after_id=after, limit=PAGE)
        if not page:
            break
        after = page[-1]["id"]
        ids = [r["id"] for r in page]
        if kind == "conversations" and fmt == "csv":
            counted(len(page))
            yield "".join(_csv_line(conversation_row(r)) for r in page).encode()
            continue
        details = await store.read(store_exports.conversation_details, ids, include_notes=notes and fmt == "json")
        if kind == "messages":
            lines = []
            for r in page:
                for m in details[r["id"]]["messages"]:
                    lines.append(
                        _csv_line(
                            [
                                m["conversation_id"],
                                m["seq"],
                                iso(m["created_at"]),
                                m["author_kind"],
                                m["author_name"] or "",
                                "" if m["deleted"] else m["body"],
                                iso(m["edited_at"]),
                                "yes" if m["deleted"] else "",
                            ]
                        )
                    )
            counted(len(lines))
            yield "".join(lines).encode()
            continue
        parts = []
        for r in page:
            item = {
                **p.to_wire(p.Conversation(**{f: r[f] for f in p.wire_fields(p.Conversation)})),
                "visitor": {"id": r["visitor_id"], "name": r["visitor_name"], "email": r["visitor_email"]},
                "agent_name": r["agent_name"],
                "first_response_at": r["first_response_at"],
                "resolved_at": r["resolved_at"] if r["status"] == "resolved" else None,
                **details[r["id"]],
            }
            if not notes:
                item.pop("notes")
            parts.append(p.encode(item))
        counted(len(page))
        yield (("" if first else ",") + ",".join(parts)).encode()
        first = False
    if fmt == "json":
        yield b"]}\n"


def _head(status: http.HTTPStatus, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _finish(connection: ServerConnection) -> None:
    """Close the transport once what was written is out; wait until the connection knows it is closed."""
    connection.transport.close()
    try:
        await asyncio.wait_for(asyncio.shield(connection.connection_lost_waiter), WRITE_TIMEOUT_S)
    except TimeoutError:
        connection.transport.abort()
        await asyncio.shield(connection.connection_lost_waiter)


async def serve_export(
    connection: ServerConnection, request: Request, path: str, query: str, *, store: Store, now_ms: Callable[[], int]
) -> None:
    """Answer ``GET /v1/export/<route>`` on ``connection``'s transport (module doc). Returns once the connection
    is closed; the caller's response is then never sent."""
    route = path[len(EXPORT_PREFIX) :]
    base = [("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"), ("Connection", "close")]
    try:
        if route not in ROUTES:
            raise ExportRefused(http.HTTPStatus.NOT_FOUND, f"no export {route[:60]!r}; try {', '.join(ROUTES)}")
        tenant_id, agent_id = await admin_of(store, request.headers.get("Authorization"))
        flt, notes = parse_filter(query)
    except ExportRefused as refused:
        body = (refused.message + "\n").encode()
        extra = [("WWW-Authenticate", 'Bearer realm="frontdesk"')] if refused.status == 401 else []
        connection.transport.write(
            _head(
                refused.status,
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *extra, *base],
            )
            + body
        )
        await _finish(connection)
        return
    kind, fmt, content_type = ROUTES[route]
    stamp = dt.datetime.fromtimestamp(now_ms() / 1000, dt.UTC).strftime("%Y%m%d-%H%M%S")
    name = f"frontdesk-{route.replace('.', f'-{stamp}.')}"
    transport = connection.transport
    transport.write(
        _head(
            http.HTTPStatus.OK,
            [("Content-Type", content_type), ("Content-Disposition", f'attachment; filename="{name}"'), *base],
        )
    )
    rows = 0

    def counted(n: int) -> None:
        nonlocal rows
        rows += n

    try:
        async for chunk in export_chunks(store, tenant_id, route, flt, notes=notes, counted=counted):
            if transport.is_closing():
                break
            transport.write(chunk)
            await asyncio.wait_for(connection.drain(), WRITE_TIMEOUT_S)
    except TimeoutError:
        log.info("an export stalled; dropping it")
        transport.abort()
    finally:
        # Recorded whether or not the client read it all: the rows left the server.
        await store.write(
            store_exports.record_export,
            tenant_id,
            agent_id=agent_id,
            kind=kind,
            format=fmt,
            flt=flt,
            rows=rows,
            now=now_ms(),
        )
    await _finish(connection)
