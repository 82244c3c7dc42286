"""The store's email operations: SMTP settings, reply threads, the digest, held replies.

Issue 16, item 1 (docs/OPERATIONS.md, "Email"). An agent's reply that the
visitor has not seen within the tenant's delay goes out by email:
:func:`schedule_digest` keeps one ``email.digest`` job per conversation (a
debounce: a burst of replies moves it and becomes one email);
:func:`compose_digest`, run by that job, reads the replies not yet emailed
and, in the same transaction, records them as emailed and enqueues the
``email.send`` job that carries the message, so a message is composed once
and sent at least once. Nothing is composed when the visitor has seen the
replies in the widget (the conversation's ``unread_visitor`` is 0).

Each conversation that got an email has a random reply token
(:func:`thread_of_token`); mail to ``reply+TOKEN@reply_domain`` continues it.
The SMTP password is in the secret store, never here. ``now`` is passed in.
"""

from __future__ import annotations

import dataclasses
import secrets as _secrets
from collections.abc import Mapping, Sequence
from typing import Any

from .. import protocol
from ..exceptions import NotFound
from . import jobs
from ._sql import Row, Tx
from .events import append_event

__all__ = [
    "DIGEST_KIND",
    "IMAP_POLL_KIND",
    "NOTIFY_KIND",
    "SEND_KIND",
    "Digest",
    "EmailThread",
    "SmtpSettings",
    "catch_up_digests",
    "compose_digest",
    "email_tenants",
    "enqueue_email",
    "enqueue_emails",
    "enqueue_notification",
    "get_settings",
    "held_get",
    "held_list",
    "hold",
    "notify_of",
    "offline_notify_targets",
    "queue_transcript",
    "record_send",
    "schedule_digest",
    "schedule_imap_poll",
    "set_notify",
    "set_settings",
    "take_held",
    "thread_of_token",
]

#: Composes a conversation's digest email (payload ``{"conversation_id": N}``).
DIGEST_KIND = "email.digest"
#: Sends one composed email (payload: the message's parts).
SEND_KIND = "email.send"
#: Emails the offline agents who want to know of a new conversation or an assignment (payload
#: ``{"conversation_id": N, "agent_ids": [...] or null, "what": "..."}``), enqueued in the transaction of the
#: event itself, so a crash just after the commit loses no notification.
NOTIFY_KIND = "email.notify"
#: Messages before the new replies that a digest quotes as context.
CONTEXT_MESSAGES = 6
#: The passwords' names in the secret store.
PASSWORD_SECRET = "smtp_password"  # noqa: S105 - a name, not a password
IMAP_PASSWORD_SECRET = "imap_password"  # noqa: S105 - a name, not a password
#: Polls a tenant's IMAP mailbox for replies, then queues the next poll (payload ``{"tenant_id": N}``).
IMAP_POLL_KIND = "email.imap_poll"


@dataclasses.dataclass(frozen=True, slots=True)
class SmtpSettings:
    """A tenant's email settings as the sender needs them (the password is fetched apart)."""

    tenant_id: int
    enabled: bool
    host: str
    port: int
    security: str
    username: str
    from_address: str
    reply_domain: str
    delay_minutes: int
    imap_host: str
    imap_port: int
    imap_security: str
    imap_username: str
    imap_mailbox: str
    business_name: str
    last_error: str
    last_error_at: int | None

    def wire(self, password_set: bool, imap_password_set: bool = False) -> protocol.EmailSettings:
        return protocol.EmailSettings(
            enabled=self.enabled,
            host=self.host,
            port=self.port,
            security=self.security,
            username=self.username,
            password_set=password_set,
            from_address=self.from_address,
            reply_domain=self.reply_domain,
            delay_minutes=self.delay_minutes,
            imap_host=self.imap_host,
            imap_port=self.imap_port,
            imap_security=self.imap_security,
            imap_username=self.imap_username,
            imap_password_set=imap_password_set,
            imap_mailbox=self.imap_mailbox,
            last_error=self.last_error,
            last_error_at=self.last_error_at,
        )


_DEFAULTS: dict[str, Any] = {
    "enabled": 0,
    "host": "",
    "port": 587,
    "security": "starttls",
    "username": "",
    "from_address": "",
    "reply_domain": "",
    "delay_minutes": 2,
    "imap_host": "",
    "imap_port": 993,
    "imap_security": "tls",
    "imap_username": "",
    "imap_mailbox": "INBOX",
    "last_error": "",
    "last_error_at": None,
}
_FIELDS = (
    "enabled",
    "host",
    "port",
    "security",
    "username",
    "from_address",
    "reply_domain",
    "delay_minutes",
    "imap_host",
    "imap_port",
    "imap_security",
    "imap_username",
    "imap_mailbox",
)


def get_settings(tx: Tx, tenant_id: int) -> SmtpSettings:
    """The tenant's email settings (the defaults when none were saved)."""
    tenant = tx.one("SELECT name FROM tenants WHERE id = ?", (tenant_id,))
    if tenant is None:
        raise NotFound("no such tenant")
    row = tx.one("SELECT * FROM email_settings WHERE tenant_id = ?", (tenant_id,)) or _DEFAULTS
    return SmtpSettings(
        tenant_id=tenant_id,
        enabled=bool(row["enabled"]),
        host=str(row["host"]),
        port=int(row["port"]),
        security=str(row["security"]),
        username=str(row["username"]),
        from_address=str(row["from_address"]),
        reply_domain=str(row["reply_domain"]),
        delay_minutes=int(row["delay_minutes"]),
        imap_host=str(row["imap_host"]),
        imap_port=int(row["imap_port"]),
        imap_security=str(row["imap_security"]),
        imap_username=str(row["imap_username"]),
        imap_mailbox=str(row["imap_mailbox"]),
        business_name=str(tenant["name"]),
        last_error=str(row["last_error"]),
        last_error_at=None if row["last_error_at"] is None else int(row["last_error_at"]),
    )


def set_settings(tx: Tx, tenant_id: int, changes: Mapping[str, Any], *, now: int) -> SmtpSettings:
    """Apply the changed fields (already checked by the caller); the new settings."""
    current = dataclasses.asdict(get_settings(tx, tenant_id))
    values = {f: changes[f] if changes.get(f) is not None else current[f] for f in _FIELDS}
    values["enabled"] = int(bool(values["enabled"]))
    tx.run(
        f"INSERT INTO email_settings (tenant_id, {', '.join(_FIELDS)}, updated_at)"
        f" VALUES (?, {', '.join('?' for _ in _FIELDS)}, ?)"
        f" ON CONFLICT (tenant_id) DO UPDATE SET {', '.join(f'{f} = excluded.{f}' for f in _FIELDS)},"
        " updated_at = excluded.updated_at",
        (tenant_id, *(values[f] for f in _FIELDS), now),
    )
    return get_settings(tx, tenant_id)


def email_tenants(tx: Tx) -> list[int]:
    """The tenants with email switched on."""
    return [int(r["tenant_id"]) for r in tx.all("SELECT tenant_id FROM email_settings WHERE enabled = 1")]


def record_send(tx: Tx, tenant_id: int, error: str, *, now: int) -> None:
    """Remember the outcome of a send for the console: the error, or "" after a success."""
    tx.run(
        "UPDATE email_settings SET last_error = ?, last_error_at = ? WHERE tenant_id = ?",
        (error[:500], now if error else None, tenant_id),
    )


def enqueue_email(
    tx: Tx, tenant_id: int, message: Mapping[str, Any], *, now: int, visitor_id: int | None = None
) -> int:
    """Queue one composed email (``to``, ``subject``, ``body``, optional ``reply_to``,
    ``message_id``, ``in_reply_to``); the job's id. ``visitor_id`` when it carries a visitor's data."""
    return jobs.enqueue(
        tx, SEND_KIND, {"tenant_id": tenant_id, **message}, now=now, tenant_id=tenant_id, visitor_id=visitor_id
    )


def enqueue_notification(
    tx: Tx, tenant_id: int, conversation_id: int, agent_ids: list[int] | None, what: str, *, now: int
) -> int:
    """Queue the :data:`NOTIFY_KIND` job of one event: ``what`` happened to the conversation, for
    ``agent_ids`` (None: every agent of the tenant); the job's id."""
    payload = {"conversation_id": conversation_id, "agent_ids": agent_ids, "what": what}
    return jobs.enqueue(tx, NOTIFY_KIND, payload, now=now, tenant_id=tenant_id)


def enqueue_emails(tx: Tx, tenant_id: int, messages: Sequence[Mapping[str, Any]], *, now: int) -> list[int]:
    """:func:`enqueue_email` for each of ``messages``, all in one transaction; the jobs' ids."""
    return [enqueue_email(tx, tenant_id, message, now=now) for message in messages]


def queue_transcript(
    tx: Tx,
    tenant_id: int,
    visitor_id: int,
    message: Mapping[str, Any],
    *,
    now: int,
    per_second: float,
    burst: float,
) -> int:
    """Queue a visitor's transcript email, taking one token of their shared transcript budget first (the
    ``rate_buckets`` row ``transcript:<visitor id>``, full at ``burst``, refilled at ``per_second``): every node on
    the database counts against the one budget. ``RateLimited`` (nothing queued, nothing taken) when it is spent."""
    from ..exceptions import RateLimited
    from .messages import take_token  # not at import: messages -> conversations -> csat -> this module

    try:
        take_token(tx, f"transcript:{visitor_id}", per_second, burst, now=now)
    except RateLimited as exc:
        raise RateLimited("too many transcript emails; try again later", exc.retry_after) from None
    return enqueue_email(tx, tenant_id, message, now=now, visitor_id=visitor_id)


def schedule_digest(tx: Tx, tenant_id: int, conversation_id: int, *, now: int) -> bool:
    """After an agent's reply: (re)schedule the conversation's digest at now + the tenant's delay,
    when email is on and the visitor gave an email address; whether it was scheduled."""
    row = tx.one(
        "SELECT c.visitor_id, s.delay_minutes FROM conversations c JOIN visitors v ON v.id = c.visitor_id"
        " JOIN email_settings s ON s.tenant_id = c.tenant_id"
        " WHERE c.id = ? AND c.tenant_id = ? AND s.enabled = 1 AND v.email IS NOT NULL AND v.email <> ''",
        (conversation_id, tenant_id),
    )
    if row is None:
        return False
    jobs.enqueue(
        tx,
        DIGEST_KIND,
        {"conversation_id": conversation_id},
        now=now,
        due_at=now + int(row["delay_minutes"]) * 60_000,
        tenant_id=tenant_id,
        visitor_id=int(row["visitor_id"]),
        dedupe_key=f"{DIGEST_KIND}:{conversation_id}",
    )
    return True


def catch_up_digests(tx: Tx, tenant_id: int, *, now: int, window_ms: int = 86_400_000) -> int:
    """At a node's start: schedule the digest of every conversation with an agent reply from the
    last ``window_ms`` that the visitor has not seen, that was not emailed, and that has no digest
    queued (its node stopped between the reply's commit and scheduling it); how many."""
    rows = tx.all(
        "SELECT c.id FROM conversations c JOIN visitors v ON v.id = c.visitor_id"
        " LEFT JOIN email_threads t ON t.conversation_id = c.id"
        " WHERE c.tenant_id = ? AND c.unread_visitor > 0 AND v.email IS NOT NULL AND v.email <> ''"
        " AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.author_kind = 'agent'"
        " AND m.seq > COALESCE(t.emailed_seq, 0) AND m.created_at > ?)"
        " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.dedupe_key = ? || CAST(c.id AS TEXT))",
        (tenant_id, now - window_ms, f"{DIGEST_KIND}:"),
    )
    return sum(schedule_digest(tx, tenant_id, int(r["id"]), now=now) for r in rows)


@dataclasses.dataclass(frozen=True, slots=True)
class EmailThread:
    """A conversation's reply thread, found by its token."""

    conversation_id: int
    tenant_id: int
    visitor_id: int
    visitor_email: str


def _thread(tx: Tx, conversation_id: int, tenant_id: int, visitor_id: int, *, now: int) -> Row:
    row = tx.one("SELECT * FROM email_threads WHERE conversation_id = ?", (conversation_id,))
    if row is None:
        row = tx.one(
            "INSERT INTO email_threads (conversation_id, tenant_id, visitor_id, token, created_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING *",
            (conversation_id, tenant_id, visitor_id, _secrets.token_hex(16), now),
        )
        assert row is not None
    return row


def thread_of_token(tx: Tx, token: str) -> EmailThread | None:
    """The conversation whose reply address carries ``token``, or None (unknown or forged)."""
    row = tx.one(
        "SELECT t.conversation_id, t.tenant_id, t.visitor_id, v.email FROM email_threads t"
        " JOIN visitors v ON v.id = t.visitor_id WHERE t.token = ?",
        (token,),
    )
    if row is None:
        return None
    return EmailThread(
        int(row["conversation_id"]), int(row["tenant_id"]), int(row["visitor_id"]), str(row["email"] or "")
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Digest:
    """What :func:`compose_digest` queued (for logs and tests)."""

    job_id: int
    to: str
    new_replies: int


def _quote(rows: list[Row], names: Mapping[tuple[str, int | None], str]) -> list[str]:
    lines = []
    for r in rows:
        who = names.get((r["author_kind"], r["author_id"]), "You" if r["author_kind"] == "visitor" else "Us")
        lines.append(f"{who}:\n{r['body']}\n")
    return lines


def compose_digest(tx: Tx, conversation_id: int, *, now: int) -> Digest | None:
    """Compose the email of a conversation's agent replies the visitor has not seen and that were not
    emailed yet, with the messages before them as context; queue its ``email.send`` job and record
    the replies as emailed, in this transaction. None when there is nothing to send (seen in the
    widget, already emailed, no email address, email off, or the conversation is gone)."""
    conv = tx.one(
        "SELECT c.*, v.email, v.name AS visitor_name FROM conversations c JOIN visitors v ON v.id = c.visitor_id"
        " WHERE c.id = ?",
        (conversation_id,),
    )
    if conv is None or not conv["email"] or int(conv["unread_visitor"]) == 0:
        return None
    settings = get_settings(tx, int(conv["tenant_id"]))
    if not settings.enabled:
        return None
    thread = _thread(tx, conversation_id, int(conv["tenant_id"]), int(conv["visitor_id"]), now=now)
    unseen = tx.all(
        "SELECT seq FROM messages WHERE conversation_id = ? AND author_kind = 'agent' AND deleted = 0"
        " ORDER BY seq DESC LIMIT ?",
        (conversation_id, int(conv["unread_visitor"])),
    )
    first_new = max(int(thread["emailed_seq"]) + 1, min((int(r["seq"]) for r in unseen), default=10**18))
    new = tx.all(
        "SELECT * FROM messages WHERE conversation_id = ? AND seq >= ? AND author_kind = 'agent' AND deleted = 0"
        " ORDER BY seq",
        (conversation_id, first_new),
    )
    if not new:
        return None
    context = tx.all(
        "SELECT * FROM messages WHERE conversation_id = ? AND seq < ? AND deleted = 0 ORDER BY seq DESC LIMIT ?",
        (conversation_id, first_new, CONTEXT_MESSAGES),
    )[::-1]
    agent_ids = {int(r["author_id"]) for r in new + context if r["author_kind"] == "agent" and r["author_id"]}
    names: dict[tuple[str, int | None], str] = {}
    for agent_id in agent_ids:
        agent = tx.one("SELECT name FROM agents WHERE id = ?", (agent_id,))
        if agent is not None:
            names[("agent", agent_id)] = str(agent["name"])
    body = [
        f"You have {'a new reply' if len(new) == 1 else f'{len(new)} new replies'} from {settings.business_name}:\n"
    ]
    body += _quote(new, names)
    if context:
        body.append("---\nEarlier in this conversation:\n")
        body += _quote(context, names)
    body.append(
        "---\nReply to this email to answer; your reply goes to the same conversation."
        if settings.reply_domain
        else "---\nOpen the chat on our website to answer."
    )
    last_seq = int(new[-1]["seq"])
    domain = settings.reply_domain or "frontdesk.invalid"
    message = {
        "to": str(conv["email"]),
        "subject": f"New reply from {settings.business_name}",
        "body": "\n".join(body),
        "reply_to": f"reply+{thread['token']}@{settings.reply_domain}" if settings.reply_domain else "",
        "message_id": f"<c{conversation_id}.s{last_seq}.{thread['token'][:8]}@{domain}>",
        "in_reply_to": f"<c{conversation_id}.{thread['token'][:8]}@{domain}>",
    }
    job_id = enqueue_email(tx, int(conv["tenant_id"]), message, now=now, visitor_id=int(conv["visitor_id"]))
    tx.run("UPDATE email_threads SET emailed_seq = ? WHERE conversation_id = ?", (last_seq, conversation_id))
    return Digest(job_id, str(conv["email"]), len(new))


def _held(r: Row) -> protocol.HeldEmail:
    return protocol.HeldEmail(
        id=int(r["id"]),
        conversation_id=int(r["conversation_id"]),
        visitor_id=int(r["visitor_id"]),
        sender=str(r["sender"]),
        body=str(r["body"]),
        created_at=int(r["created_at"]),
    )


def _announce_held(tx: Tx, tenant_id: int, held: protocol.HeldEmail, state: str, actor_id: int | None) -> None:
    """The ``email.held`` event to the tenant's agents (erased with the visitor, like the row)."""
    body = held.body if state == "held" else ""
    payload = protocol.HeldEmailUpdated(
        **{**dataclasses.asdict(held), "body": body}, state=state, actor_id=actor_id
    )
    append_event(
        tx, tenant_id, "email.held", payload, conversation_id=held.conversation_id, visitor_id=held.visitor_id
    )


def hold(tx: Tx, thread: EmailThread, sender: str, body: str, message_id: str, *, now: int) -> int:
    """Keep a reply from an address other than the visitor's for an agent, and tell the agents
    (``email.held``, state ``held``); its id."""
    row = tx.one(
        "INSERT INTO email_held (tenant_id, conversation_id, visitor_id, sender, body, message_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (thread.tenant_id, thread.conversation_id, thread.visitor_id, sender, body, message_id, now),
    )
    assert row is not None
    _announce_held(tx, thread.tenant_id, _held(row), "held", None)
    return int(row["id"])


def held_get(tx: Tx, tenant_id: int, held_id: int) -> tuple[protocol.HeldEmail, str]:
    """A held reply of the tenant and its email Message-ID; ``NotFound`` when it is gone."""
    row = tx.one("SELECT * FROM email_held WHERE id = ? AND tenant_id = ?", (held_id, tenant_id))
    if row is None:
        raise NotFound("no such held email (another agent may have accepted or rejected it)")
    return _held(row), str(row["message_id"])


def held_list(tx: Tx, tenant_id: int) -> list[protocol.HeldEmail]:
    """The tenant's held replies, oldest first."""
    rows = tx.all("SELECT * FROM email_held WHERE tenant_id = ? ORDER BY id", (tenant_id,))
    return [_held(r) for r in rows]


def take_held(
    tx: Tx, tenant_id: int, held_id: int, *, state: str = "rejected", actor_id: int | None = None
) -> tuple[int, int, str, str]:
    """Remove a held reply, telling the agents it was ``state`` (``accepted``, ``rejected``) by ``actor_id``;
    (conversation id, visitor id, body, message id) to post it, if accepted."""
    row = tx.one("DELETE FROM email_held WHERE id = ? AND tenant_id = ? RETURNING *", (held_id, tenant_id))
    if row is None:
        raise NotFound("no such held email (another agent may have accepted or rejected it)")
    _announce_held(tx, tenant_id, _held(row), state, actor_id)
    return int(row["conversation_id"]), int(row["visitor_id"]), str(row["body"]), str(row["message_id"])


def set_notify(tx: Tx, tenant_id: int, agent_id: int, enabled: bool) -> bool:
    """An agent's own switch for notification emails; the new value."""
    if (
        tx.run("UPDATE agents SET email_notify = ? WHERE id = ? AND tenant_id = ?", (int(enabled), agent_id, tenant_id))
        != 1
    ):
        raise NotFound("no such agent")
    return enabled


def notify_of(tx: Tx, agent_id: int) -> bool:
    """Whether an agent wants notification emails."""
    row = tx.one("SELECT email_notify FROM agents WHERE id = ?", (agent_id,))
    return row is not None and bool(row["email_notify"])


def offline_notify_targets(
    tx: Tx, tenant_id: int, agent_ids: list[int] | None, online: set[int]
) -> list[tuple[int, str, str]]:
    """Active agents of the tenant (of ``agent_ids`` if given) who want notification emails and are not
    in ``online``: (id, email, name)."""
    rows = tx.all(
        "SELECT id, email, name FROM agents WHERE tenant_id = ? AND active = 1 AND email_notify = 1 ORDER BY id",
        (tenant_id,),
    )
    return [
        (int(r["id"]), str(r["email"]), str(r["name"]))
        for r in rows
        if int(r["id"]) not in online and (agent_ids is None or int(r["id"]) in agent_ids)
    ]


def schedule_imap_poll(tx: Tx, tenant_id: int, *, now: int, due_at: int, replace: bool = False) -> bool:
    """Queue the tenant's next IMAP poll at ``due_at`` when email is on and an IMAP host is set; with
    ``replace``, drop any queued poll first (the settings changed). Whether one was queued. Each poll's
    key names its due time, so the running poll can queue the next one before it completes."""
    if replace:
        tx.run("DELETE FROM jobs WHERE kind = ? AND tenant_id = ? AND lease_owner IS NULL", (IMAP_POLL_KIND, tenant_id))
    settings = get_settings(tx, tenant_id)
    if not settings.enabled or not settings.imap_host:
        return False
    jobs.enqueue(
        tx,
        IMAP_POLL_KIND,
        {"tenant_id": tenant_id},
        now=now,
        due_at=due_at,
        tenant_id=tenant_id,
        dedupe_key=f"{IMAP_POLL_KIND}:{tenant_id}:{due_at}",
    )
    return True
