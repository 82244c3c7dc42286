"""The store's webhook operations: endpoints, fan-out into deliveries, the delivery log.

Issue 16, item 4 (docs/OPERATIONS.md, "Webhooks"). Each webhook keeps a
cursor into the event log: :func:`fan_out` reads the tenant's events after
it, writes one delivery row and one ``webhook.deliver`` job (store/jobs.py)
per subscribed webhook and event, and moves the cursor, all in one
transaction. So an event committed is delivered at least once even if the
node dies before fanning it out: the next fan-out (on any node, or at start)
finds it after the cursor. A delivery row keeps the exact body it sends, so a
retry or a redelivery sends the same bytes under the same ``webhook-id``.

Secrets are not here: they live in the secret store under
:func:`secret_name` (the store only reads their names, to tell whether a
rotation is under way). ``now`` is always passed in (time is injected).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .. import protocol
from ..exceptions import NotFound
from . import jobs
from ._sql import Row, Tx
from .events import last_event_id

__all__ = [
    "DELIVER_KIND",
    "DeliveryToSend",
    "create_webhook",
    "delete_webhook",
    "erase_visitor_deliveries",
    "fan_out",
    "finish_delivery",
    "get_webhook",
    "hooked_tenants",
    "list_deliveries",
    "list_webhooks",
    "record_attempt",
    "redeliver",
    "secret_name",
    "to_send",
    "update_webhook",
]

#: The job kind that sends one delivery (payload ``{"delivery_id": N}``).
DELIVER_KIND = "webhook.deliver"
#: A delivery job is never buried by its attempt count: the retry window decides (server/webhooks.py).
_DELIVER_MAX_ATTEMPTS = 1_000_000


def secret_name(webhook_id: int, *, previous: bool = False) -> str:
    """The secret store's name for a webhook's signing secret (or the previous one during a rotation)."""
    return f"webhook:{webhook_id}:previous" if previous else f"webhook:{webhook_id}"


def _webhook(tx: Tx, row: Row) -> protocol.Webhook:
    rotating = tx.one(
        "SELECT 1 FROM secrets WHERE tenant_id = ? AND name = ?",
        (row["tenant_id"], secret_name(int(row["id"]), previous=True)),
    )
    return protocol.Webhook(
        id=int(row["id"]),
        url=str(row["url"]),
        events=list(json.loads(row["events"])),
        description=str(row["description"]),
        enabled=bool(row["enabled"]),
        disabled_reason=str(row["disabled_reason"]),
        failures=int(row["failures"]),
        rotating=rotating is not None,
        created_at=int(row["created_at"]),
    )


def _delivery(row: Row) -> protocol.WebhookDelivery:
    return protocol.WebhookDelivery(
        id=int(row["id"]),
        webhook_id=int(row["webhook_id"]),
        event_id=None if row["event_id"] is None else int(row["event_id"]),
        kind=str(row["kind"]),
        msg_id=str(row["msg_id"]),
        status=str(row["status"]),
        attempts=int(row["attempts"]),
        response_status=None if row["response_status"] is None else int(row["response_status"]),
        last_error=str(row["last_error"]),
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
    )


def _row(tx: Tx, tenant_id: int, webhook_id: int, *, lock: bool = False) -> Row:
    lock_sql = " FOR UPDATE" if lock and tx.dialect == "postgres" else ""
    row = tx.one(f"SELECT * FROM webhooks WHERE id = ? AND tenant_id = ?{lock_sql}", (webhook_id, tenant_id))
    if row is None:
        raise NotFound("no such webhook")
    return row


def _check_events(events: Sequence[str]) -> str:
    if not events:
        raise ValueError("a webhook needs at least one event")
    unknown = [e for e in events if e not in protocol.WEBHOOK_EVENTS]
    if unknown:
        raise ValueError(f"unknown event {unknown[0]!r}; one of {', '.join(protocol.WEBHOOK_EVENTS)}")
    return json.dumps(sorted(set(events)))


def create_webhook(
    tx: Tx, tenant_id: int, url: str, events: Sequence[str], description: str, *, now: int
) -> protocol.Webhook:
    """A new, enabled webhook; it receives the events committed after this transaction."""
    row = tx.one(
        "INSERT INTO webhooks (tenant_id, url, events, description, event_cursor, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (tenant_id, url, _check_events(events), description, last_event_id(tx), now, now),
    )
    assert row is not None
    return _webhook(tx, row)


def list_webhooks(tx: Tx, tenant_id: int) -> list[protocol.Webhook]:
    """The tenant's webhooks, oldest first."""
    return [_webhook(tx, r) for r in tx.all("SELECT * FROM webhooks WHERE tenant_id = ? ORDER BY id", (tenant_id,))]


def get_webhook(tx: Tx, tenant_id: int, webhook_id: int) -> protocol.Webhook:
    """One of the tenant's webhooks (:class:`NotFound` for another tenant's)."""
    return _webhook(tx, _row(tx, tenant_id, webhook_id))


def update_webhook(
    tx: Tx, tenant_id: int, webhook_id: int, changes: Mapping[str, Any], *, now: int
) -> protocol.Webhook:
    """Apply ``changes`` (``url``, ``events``, ``description``, ``enabled``; None: unchanged).

    Switching a webhook on clears its failure count and starts it at the
    current end of the log: events from while it was off are not sent."""
    row = _row(tx, tenant_id, webhook_id, lock=True)
    sets: list[str] = ["updated_at = ?"]
    params: list[Any] = [now]
    if changes.get("url") is not None:
        sets.append("url = ?")
        params.append(changes["url"])
    if changes.get("events") is not None:
        sets.append("events = ?")
        params.append(_check_events(changes["events"]))
    if changes.get("description") is not None:
        sets.append("description = ?")
        params.append(changes["description"])
    enabled = changes.get("enabled")
    if enabled is True and not row["enabled"]:
        sets += ["enabled = 1", "disabled_reason = ''", "failures = 0", "event_cursor = ?"]
        params.append(last_event_id(tx))
    elif enabled is False:
        sets += ["enabled = 0", "disabled_reason = ''"]
    tx.run(f"UPDATE webhooks SET {', '.join(sets)} WHERE id = ?", (*params, webhook_id))
    return get_webhook(tx, tenant_id, webhook_id)


def delete_webhook(tx: Tx, tenant_id: int, webhook_id: int) -> None:
    """Remove a webhook, its delivery log, its queued deliveries and its secrets."""
    _row(tx, tenant_id, webhook_id)
    tx.run(
        "DELETE FROM jobs WHERE kind = ? AND dedupe_key IN (SELECT ? || CAST(id AS TEXT) FROM webhook_deliveries"
        " WHERE webhook_id = ?)",
        (DELIVER_KIND, f"{DELIVER_KIND}:", webhook_id),
    )
    tx.run("DELETE FROM webhook_deliveries WHERE webhook_id = ?", (webhook_id,))
    tx.run("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
    tx.run(
        "DELETE FROM secrets WHERE tenant_id = ? AND name IN (?, ?)",
        (tenant_id, secret_name(webhook_id), secret_name(webhook_id, previous=True)),
    )


def hooked_tenants(tx: Tx) -> list[int]:
    """The tenants with at least one enabled webhook."""
    return [int(r["tenant_id"]) for r in tx.all("SELECT DISTINCT tenant_id FROM webhooks WHERE enabled = 1")]


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _enqueue(tx: Tx, tenant_id: int, delivery_id: int, visitor_id: int | None, *, now: int) -> None:
    jobs.enqueue(
        tx,
        DELIVER_KIND,
        {"delivery_id": delivery_id},
        now=now,
        tenant_id=tenant_id,
        visitor_id=visitor_id,
        dedupe_key=f"{DELIVER_KIND}:{delivery_id}",
        max_attempts=_DELIVER_MAX_ATTEMPTS,
    )


def fan_out(tx: Tx, tenant_id: int, *, now: int, limit: int = 500) -> tuple[int, bool]:
    """Turn the tenant's events after each enabled webhook's cursor into deliveries and
    their jobs, up to ``limit`` events per webhook; (deliveries made, whether events remain).

    The body follows Standard Webhooks: ``{"type", "timestamp", "data"}`` with the
    event's agent payload as ``data``. A delivery carrying a visitor's data
    (their conversation's events, their profile) records the visitor for erasure."""
    lock = " FOR UPDATE" if tx.dialect == "postgres" else ""
    hooks = tx.all(f"SELECT * FROM webhooks WHERE tenant_id = ? AND enabled = 1 ORDER BY id{lock}", (tenant_id,))
    made, more = 0, False
    for hook in hooks:
        wanted = set(json.loads(hook["events"]))
        rows = tx.all(
            "SELECT e.event_id, e.kind, e.payload, e.created_at, COALESCE(e.visitor_id, c.visitor_id) AS visitor_id"
            " FROM events e LEFT JOIN conversations c ON c.id = e.conversation_id"
            " WHERE e.tenant_id = ? AND e.event_id > ? ORDER BY e.event_id LIMIT ?",
            (tenant_id, hook["event_cursor"], limit),
        )
        if not rows:
            continue
        more = more or len(rows) == limit
        for event in rows:
            if event["kind"] not in wanted:
                continue
            body = (
                f'{{"type":{json.dumps(event["kind"])},"timestamp":"{_iso(int(event["created_at"]))}",'
                f'"data":{event["payload"]}}}'
            )
            delivery = tx.one(
                "INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, kind, msg_id, body, visitor_id,"
                " retry_from, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    tenant_id,
                    hook["id"],
                    event["event_id"],
                    event["kind"],
                    f"msg_{hook['id']}_{event['event_id']}",
                    body,
                    event["visitor_id"],
                    now,
                    now,
                    now,
                ),
            )
            assert delivery is not None
            _enqueue(tx, tenant_id, int(delivery["id"]), event["visitor_id"], now=now)
            made += 1
        tx.run("UPDATE webhooks SET event_cursor = ? WHERE id = ?", (rows[-1]["event_id"], hook["id"]))
    return made, more


class DeliveryToSend:
    """What the deliver job needs: the delivery, and its webhook's URL and state."""

    __slots__ = ("body", "enabled", "id", "msg_id", "retry_from", "status", "tenant_id", "url", "webhook_id")

    def __init__(self, row: Row) -> None:
        self.id = int(row["id"])
        self.tenant_id = int(row["tenant_id"])
        self.webhook_id = int(row["webhook_id"])
        self.msg_id = str(row["msg_id"])
        self.body = str(row["body"])
        self.status = str(row["status"])
        self.retry_from = int(row["retry_from"])
        self.url = str(row["url"])
        self.enabled = bool(row["enabled"])


def to_send(tx: Tx, delivery_id: int) -> DeliveryToSend | None:
    """A delivery with its webhook's URL, or None when it (or its webhook) is gone."""
    row = tx.one(
        "SELECT d.*, w.url, w.enabled FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ?",
        (delivery_id,),
    )
    return None if row is None else DeliveryToSend(row)


def record_attempt(
    tx: Tx,
    delivery_id: int,
    *,
    ok: bool,
    response_status: int | None,
    error: str,
    now: int,
    give_up: bool,
    disable_after: int,
) -> str:
    """Log one attempt of a delivery and count it on its webhook; the delivery's new status.

    A success marks it delivered and resets the webhook's failure count. A
    failure counts one more failure in a row; at ``disable_after`` the webhook
    is switched off (``disabled_reason`` says why). ``give_up`` (the retry
    window has passed) marks the delivery failed; otherwise it stays pending
    for the next attempt."""
    status = "delivered" if ok else ("failed" if give_up else "pending")
    row = tx.one(
        "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, response_status = ?, last_error = ?,"
        " updated_at = ? WHERE id = ? RETURNING webhook_id",
        (status, response_status, "" if ok else error[:500], now, delivery_id),
    )
    if row is None:
        return "failed"
    if ok:
        tx.run("UPDATE webhooks SET failures = 0 WHERE id = ?", (row["webhook_id"],))
        return status
    tx.run(
        "UPDATE webhooks SET failures = failures + 1, enabled = CASE WHEN failures + 1 >= ? THEN 0 ELSE enabled END,"
        " disabled_reason = CASE WHEN failures + 1 >= ? AND enabled = 1 THEN ? ELSE disabled_reason END WHERE id = ?",
        (disable_after, disable_after, f"{disable_after} failed attempts in a row", row["webhook_id"]),
    )
    return status


def finish_delivery(tx: Tx, delivery_id: int, status: str, error: str, *, now: int) -> None:
    """Set a delivery's status without an attempt (e.g. ``failed`` because its webhook is off)."""
    tx.run(
        "UPDATE webhook_deliveries SET status = ?, last_error = ?, updated_at = ? WHERE id = ?",
        (status, error[:500], now, delivery_id),
    )


def list_deliveries(
    tx: Tx, tenant_id: int, webhook_id: int, *, before: int | None = None, limit: int = 50
) -> list[protocol.WebhookDelivery]:
    """A webhook's delivery log, newest first (ids below ``before``)."""
    _row(tx, tenant_id, webhook_id)
    rows = tx.all(
        "SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        (webhook_id, before if before is not None else protocol.MAX_INT, limit),
    )
    return [_delivery(r) for r in rows]


def redeliver(tx: Tx, tenant_id: int, delivery_id: int, *, now: int) -> protocol.WebhookDelivery:
    """Queue a logged delivery again (same ``webhook-id`` and body), its retry window starting now."""
    row = tx.one(
        "UPDATE webhook_deliveries SET status = 'pending', retry_from = ?, updated_at = ?"
        " WHERE id = ? AND tenant_id = ?"
        " RETURNING *",
        (now, now, delivery_id, tenant_id),
    )
    if row is None:
        raise NotFound("no such delivery")
    _enqueue(tx, tenant_id, delivery_id, row["visitor_id"], now=now)
    return _delivery(row)


def erase_visitor_deliveries(tx: Tx, visitor_id: int) -> int:
    """Delete the delivery log entries carrying this visitor's data (part of an erasure); how many."""
    return tx.run("DELETE FROM webhook_deliveries WHERE visitor_id = ?", (visitor_id,))
