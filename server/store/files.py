"""Attachments' rows (migration 0011; PROTOCOL.md, "Attachments").

A row holds a stored file's metadata and the names of the blobs with its bytes (``server/store/blobs/``): the bytes
are stored (and fsynced) first, then :func:`add_file` commits the row, so a row never points at missing bytes. A file
belongs to its uploader until :func:`claim_files` ties it, once, to the message or note that sends it, in that
message's own transaction. Every other operation here reads or deletes rows; deleting a blob is the caller's (the
blob store is not transactional): :func:`unreferenced_blobs` says which names no row refers to any more.

Jobs (the one job table, ``store/jobs.py``): :data:`EXPIRE_JOB` per upload, due when an unsent upload is deleted;
:data:`GC_JOB` carries blob names to delete once no row refers to them (erasure, expiry on another node).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from .. import protocol
from ..exceptions import NotFound, Pending
from ._sql import Row, Tx, visitor_scope
from .jobs import enqueue

__all__ = [
    "EXPIRE_JOB",
    "GC_JOB",
    "add_file",
    "attachment_obj",
    "attachments_of",
    "claim_files",
    "delete_message_files",
    "erase_visitor_files",
    "expire_unreferenced",
    "file_row",
    "new_file_id",
    "readable_files",
    "refuse_file",
    "set_ready",
    "unreferenced_blobs",
]

#: The job that deletes one upload if no message refers to it by its due time (payload: ``file_id``).
EXPIRE_JOB = "files.expire"
#: The job that deletes blobs no row refers to any more (payload: ``names``).
GC_JOB = "files.gc"


def new_file_id() -> str:
    """A new attachment id: random, so ids cannot be guessed or enumerated."""
    return "f_" + secrets.token_urlsafe(18)


def attachment_obj(row: Row) -> protocol.Attachment:
    return protocol.Attachment(
        id=row["id"],
        name=row["name"],
        mime=row["mime"],
        size=int(row["size"]),
        width=row["width"],
        height=row["height"],
        thumbnail=row["thumb_sha256"] is not None,
        status=row["status"],
    )


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def add_file(
    tx: Tx,
    tenant_id: int,
    *,
    file_id: str,
    uploader_kind: str,
    uploader_id: int,
    name: str,
    mime: str,
    size: int,
    sha256: str,
    width: int | None,
    height: int | None,
    thumb_sha256: str | None,
    thumb_mime: str | None,
    status: str,
    now: int,
    expire_at: int,
) -> protocol.Attachment:
    """Store the row of an upload whose blobs are stored, and its expiry job (due at ``expire_at``, when it is
    deleted unless a message refers to it by then)."""
    row = tx.one(
        "INSERT INTO files (id, tenant_id, uploader_kind, uploader_id, visitor_id, name, mime, size, sha256, width,"
        " height, thumb_sha256, thumb_mime, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING *",
        (
            file_id,
            tenant_id,
            uploader_kind,
            uploader_id,
            uploader_id if uploader_kind == "visitor" else None,
            name,
            mime,
            size,
            sha256,
            width,
            height,
            thumb_sha256,
            thumb_mime,
            status,
            now,
        ),
    )
    assert row is not None
    enqueue(
        tx,
        EXPIRE_JOB,
        {"file_id": file_id},
        now=now,
        due_at=expire_at,
        tenant_id=tenant_id,
        visitor_id=row["visitor_id"],
        dedupe_key=f"{EXPIRE_JOB}:{file_id}",
    )
    return attachment_obj(row)


def claim_files(
    tx: Tx,
    tenant_id: int,
    ids: Sequence[str],
    *,
    uploader_kind: str,
    uploader_id: int,
    conversation_id: int,
    visitor_id: int,
    message_id: int | None = None,
    note_id: int | None = None,
) -> list[protocol.Attachment]:
    """Tie the uploads ``ids`` to the message (or note) being written, in its transaction, and return them in the
    order given. Each must be the sender's own, in this tenant, and not sent before; anything else is
    :class:`NotFound` (PROTOCOL.md: indistinguishable from an id that does not exist), and one still being scanned
    is :class:`Pending`. Either rolls the whole write back."""
    if not ids:
        return []
    rows = tx.all(
        f"SELECT * FROM files WHERE id IN ({_marks(ids)}) AND tenant_id = ? AND uploader_kind = ?"
        " AND uploader_id = ? AND message_id IS NULL AND note_id IS NULL",
        (*ids, tenant_id, uploader_kind, uploader_id),
    )
    if len(rows) != len(ids):
        raise NotFound("no such attachment", field="attachment_ids")
    if any(r["status"] == "pending" for r in rows):
        raise Pending("an attachment is still being scanned; resend after its file.ready", field="attachment_ids")
    if any(r["status"] != "ready" for r in rows):
        raise NotFound("no such attachment", field="attachment_ids")
    tx.run(
        "UPDATE files SET message_id = ?, note_id = ?, conversation_id = ?, visitor_id = ?"
        f" WHERE id IN ({_marks(ids)})",
        (message_id, note_id, conversation_id, visitor_id, *ids),
    )
    by_id = {r["id"]: attachment_obj(r) for r in rows}
    return [by_id[i] for i in ids]


def attachments_of(
    tx: Tx, *, message_ids: Sequence[int] = (), note_ids: Sequence[int] = ()
) -> tuple[dict[int, list[protocol.Attachment]], dict[int, list[protocol.Attachment]]]:
    """The attachments of these messages and of these notes, by message id and by note id (in upload order)."""
    by_message: dict[int, list[protocol.Attachment]] = {}
    by_note: dict[int, list[protocol.Attachment]] = {}
    for column, ids, out in (("message_id", message_ids, by_message), ("note_id", note_ids, by_note)):
        if not ids:
            continue
        for row in tx.all(f"SELECT * FROM files WHERE {column} IN ({_marks(ids)}) ORDER BY created_at, id", tuple(ids)):
            out.setdefault(int(row[column]), []).append(attachment_obj(row))
    return by_message, by_note


def readable_files(
    tx: Tx, tenant_id: int, ids: Sequence[str], *, visitor_id: int | None, agent_id: int | None
) -> list[Row]:
    """The rows of ``ids`` the caller may read: the files of messages in its conversations (a visitor: those of its
    scope; an agent: its tenant's, notes' too), and its own uploads not sent yet. Others are left out."""
    if not ids:
        return []
    rows = tx.all(f"SELECT * FROM files WHERE id IN ({_marks(ids)}) AND tenant_id = ?", (*ids, tenant_id))
    if agent_id is not None:
        return [
            r
            for r in rows
            if r["message_id"] is not None
            or r["note_id"] is not None
            or (r["uploader_kind"] == "agent" and r["uploader_id"] == agent_id)
        ]
    assert visitor_id is not None
    scope: set[int] | None = None
    readable = []
    for r in rows:
        if r["message_id"] is None and r["note_id"] is None:
            if r["uploader_kind"] == "visitor" and r["uploader_id"] == visitor_id:
                readable.append(r)
            continue
        if r["note_id"] is not None or r["conversation_id"] is None:
            continue
        if scope is None:
            scope = set(visitor_scope(tx, tenant_id, visitor_id))
        owner = tx.one("SELECT visitor_id FROM conversations WHERE id = ?", (r["conversation_id"],))
        if owner is not None and owner["visitor_id"] in scope:
            readable.append(r)
    return readable


def file_row(tx: Tx, file_id: str) -> Row | None:
    """The row of a file, for serving it through a signed link (the link was checked by the caller)."""
    return tx.one("SELECT * FROM files WHERE id = ?", (file_id,))


def _blob_names(rows: Sequence[Row]) -> list[str]:
    names = {r["sha256"] for r in rows} | {r["thumb_sha256"] for r in rows if r["thumb_sha256"] is not None}
    return sorted(names)


def unreferenced_blobs(tx: Tx, names: Sequence[str]) -> list[str]:
    """Those of ``names`` no file row refers to (as its bytes or its thumbnail): safe to delete."""
    if not names:
        return []
    used = tx.all(
        f"SELECT sha256 AS name FROM files WHERE sha256 IN ({_marks(names)})"
        f" UNION SELECT thumb_sha256 AS name FROM files WHERE thumb_sha256 IN ({_marks(names)})",
        (*names, *names),
    )
    in_use = {r["name"] for r in used}
    return [n for n in names if n not in in_use]


def expire_unreferenced(tx: Tx, file_id: str) -> list[str]:
    """Delete the upload ``file_id`` if no message or note refers to it; the blob names it used (the caller deletes
    those :func:`unreferenced_blobs` keeps). Idempotent: a sent or missing file is left alone (``[]``)."""
    row = tx.one("SELECT * FROM files WHERE id = ? AND message_id IS NULL AND note_id IS NULL", (file_id,))
    if row is None:
        return []
    tx.run("DELETE FROM files WHERE id = ?", (file_id,))
    return _blob_names([row])


def erase_visitor_files(tx: Tx, visitor_id: int) -> list[str]:
    """Erasure (``visitors.erase_visitor``, before it deletes the conversations): delete the rows of the visitor's
    files, those they uploaded and those sent in their conversations, and queue a :data:`GC_JOB` for their blobs
    (deleted by whichever node runs it; ``frontdesk visitor erase`` runs it at once). The blob names."""
    rows = tx.all(
        "SELECT * FROM files WHERE visitor_id = ? OR (uploader_kind = 'visitor' AND uploader_id = ?)"
        " OR conversation_id IN (SELECT id FROM conversations WHERE visitor_id = ?)",
        (visitor_id, visitor_id, visitor_id),
    )
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    tx.run(f"DELETE FROM files WHERE id IN ({_marks(ids)})", tuple(ids))
    names = _blob_names(rows)
    now = int(rows[0]["created_at"])  # any time will do: due at once
    enqueue(tx, GC_JOB, {"names": names}, now=now, due_at=0)
    return names


def delete_message_files(tx: Tx, message_id: int, *, now: int) -> list[str]:
    """A message was deleted by its author (``edits.change_message``): its files go with it, rows now and blobs by a
    queued :data:`GC_JOB`. The blob names."""
    rows = tx.all("SELECT * FROM files WHERE message_id = ?", (message_id,))
    if not rows:
        return []
    tx.run("DELETE FROM files WHERE message_id = ?", (message_id,))
    names = _blob_names(rows)
    enqueue(tx, GC_JOB, {"names": names}, now=now)
    return names


def set_ready(tx: Tx, file_id: str) -> Row | None:
    """A scanned file passed: ``ready``. Its row, or None if it is gone meanwhile."""
    return tx.one("UPDATE files SET status = 'ready' WHERE id = ? AND status = 'pending' RETURNING *", (file_id,))


def refuse_file(tx: Tx, file_id: str) -> list[str]:
    """A scanned file is infected: delete its row; its blob names (the caller deletes the unreferenced ones)."""
    row = tx.one("SELECT * FROM files WHERE id = ?", (file_id,))
    if row is None:
        return []
    tx.run("DELETE FROM files WHERE id = ?", (file_id,))
    return _blob_names([row])
