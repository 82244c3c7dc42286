"""Email continuity: replies by email to visitors who left, and their replies back in the thread.

Issue 16, item 1 (docs/OPERATIONS.md, "Email"; the store's side is store/mail.py).

- **Out.** After an agent's reply is committed, :meth:`Mail.on_commit` (re)schedules
  the conversation's ``email.digest`` job at the tenant's delay (2 minutes by
  default); a burst of replies moves the one job, so it becomes one email. The
  digest job composes the email only if the visitor has still not seen the
  replies in the widget, and queues an ``email.send`` job, which sends it with
  ``aiosmtplib`` and is retried with the job runner's backoff. A failure is kept
  in the tenant's settings (``last_error``) for the console to show.
- **In.** ``frontdesk serve --smtp-listen HOST:PORT`` starts an SMTP listener
  (``aiosmtpd``, on the server's own loop). Mail to ``reply+TOKEN@…`` with a
  known token is stripped of quoted text and signature and posted as the
  visitor's message; from another address it is held for an agent. An unknown
  (or forged) token is refused at ``RCPT TO`` with 550.
- **Agents.** A new conversation, or an assignment, emails the agents concerned
  who are offline and have not switched these emails off.

Time is the injected clock; no timer lives in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import html
import imaplib
import logging
import re
import ssl
import uuid
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from . import domain
from . import protocol as p
from .exceptions import Conflict, NotFound
from .hub import Hub
from .jobs import Clock
from .protocol import ErrorCode, ProtocolError
from .secrets import SecretKeyError, SecretStore
from .store import Store, Tx, messages
from .store import mail as ops
from .store.jobs import Job

__all__ = ["Mail", "SmtpListener", "check_settings", "smtp_tls_context", "strip_reply"]

log = logging.getLogger("frontdesk.server.mail")

_HOST = re.compile(r"(?=.{1,253}\Z)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\Z")
_EMAIL = re.compile(r"[^@\s<>]{1,64}@[A-Za-z0-9.-]{1,253}\Z")
_TOKEN = re.compile(r"reply\+([0-9a-f]{32})@", re.IGNORECASE)
#: Seconds one SMTP conversation (out) may take.
SMTP_TIMEOUT_S = 30.0
#: The largest message the listener accepts.
MAX_INBOUND_BYTES = 1024 * 1024


# -- settings --------------------------------------------------------------------------------


def check_settings(req: p.EmailSettingsSet) -> dict[str, Any]:
    """The changes of an ``email.settings.set``, checked; ``invalid`` naming the field otherwise."""

    def bad(field: str, why: str) -> ProtocolError:
        return ProtocolError(ErrorCode.INVALID, f"field {field!r} {why}", req.ref, field=field)

    changes: dict[str, Any] = {
        "enabled": req.enabled,
        "port": req.port,
        "security": req.security,
        "delay_minutes": req.delay_minutes,
    }
    if req.host is not None:
        host = req.host.strip()
        if host and not _HOST.match(host) and not _is_ip(host):
            raise bad("host", "is not a host name or address (e.g. smtp.example.com)")
        changes["host"] = host
    if req.username is not None:
        changes["username"] = req.username.strip()
    if req.imap_host is not None:
        imap_host = req.imap_host.strip()
        if imap_host and not _HOST.match(imap_host) and not _is_ip(imap_host):
            raise bad("imap_host", "is not a host name or address (e.g. imap.example.com)")
        changes["imap_host"] = imap_host
    if req.imap_username is not None:
        changes["imap_username"] = req.imap_username.strip()
    if req.imap_mailbox is not None:
        mailbox = req.imap_mailbox.strip()
        if not mailbox or any(c in mailbox for c in '"\\\r\n'):
            raise bad("imap_mailbox", "is not a mailbox name (e.g. INBOX)")
        changes["imap_mailbox"] = mailbox
    changes["imap_port"] = req.imap_port
    changes["imap_security"] = req.imap_security
    if req.from_address is not None:
        address = req.from_address.strip()
        if address and not _EMAIL.match(address):
            raise bad("from_address", "is not an email address (e.g. support@example.com)")
        changes["from_address"] = address
    if req.reply_domain is not None:
        reply_domain = req.reply_domain.strip().lower()
        if reply_domain and not _HOST.match(reply_domain):
            raise bad("reply_domain", "is not a domain (e.g. reply.example.com)")
        changes["reply_domain"] = reply_domain
    return changes


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _ready(settings: ops.SmtpSettings) -> str | None:
    """Why email cannot be sent with these settings, or None."""
    if not settings.host:
        return "no SMTP host is set"
    if not settings.from_address:
        return "no From address is set"
    return None


# -- inbound text ------------------------------------------------------------------------------

_QUOTE_HEADER = re.compile(
    r"^(On\s.+wrote:|Le\s.+a écrit\s?:|Am\s.+schrieb\s.+:|-{2,}\s*Original Message\s*-{2,}|_{10,}|From:\s.+)\s*$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^(-- ?|Sent from my .+|Get Outlook for .+)$", re.IGNORECASE)


def strip_reply(text: str) -> str:
    """The new part of an email reply: cut at the first quote header ("On … wrote:", an "Original
    Message" line, a forwarded "From:" line), drop ``>`` quoted lines and the signature (after a
    ``-- `` line, or "Sent from my …")."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for n, line in enumerate(lines):
        stripped = line.strip()
        joined = f"{stripped} {lines[n + 1].strip()}" if n + 1 < len(lines) else stripped
        if _QUOTE_HEADER.match(stripped) or (
            stripped.startswith("On ") and not stripped.endswith("wrote:") and _QUOTE_HEADER.match(joined)
        ):
            break
        if _SIGNATURE.match(line.rstrip()) or _SIGNATURE.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def _text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = re.sub(r"(?is)<(script|style).*?</\1>", "", content)
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content)
        content = html.unescape(re.sub(r"<[^>]+>", "", content))
    return content


# -- the feature -------------------------------------------------------------------------------


#: Milliseconds between two polls of a tenant's IMAP mailbox.
IMAP_POLL_MS = 60_000
#: Opens and logs in to a tenant's IMAP server: (settings, password) -> a logged-in client.
ImapConnect = Callable[[ops.SmtpSettings, "str | None"], imaplib.IMAP4]


def connect_imap(settings: ops.SmtpSettings, password: str | None) -> imaplib.IMAP4:
    """A logged-in IMAP client for ``settings`` (TLS from the start, STARTTLS, or plain)."""
    context = ssl.create_default_context()
    client: imaplib.IMAP4
    if settings.imap_security == "tls":
        client = imaplib.IMAP4_SSL(settings.imap_host, settings.imap_port, ssl_context=context, timeout=SMTP_TIMEOUT_S)
    else:
        client = imaplib.IMAP4(settings.imap_host, settings.imap_port, timeout=SMTP_TIMEOUT_S)
        if settings.imap_security == "starttls":
            client.starttls(ssl_context=context)
    if settings.imap_username:
        client.login(settings.imap_username, password or "")
    return client


def _fetch_unseen(connect: ImapConnect, settings: ops.SmtpSettings, password: str | None) -> list[bytes]:
    """The unseen messages of the mailbox, each then flagged Seen (in a worker thread: imaplib blocks).
    A message is flagged after it was read; one read twice is posted once (its Message-ID)."""
    client = connect(settings, password)
    try:
        status, _ = client.select(f'"{settings.imap_mailbox}"')
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open the mailbox {settings.imap_mailbox!r}")
        status, found = client.uid("SEARCH", "UNSEEN")
        taken: list[bytes] = []
        for uid in (found[0] or b"").decode("ascii").split()[:100]:
            status, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if status == "OK" and isinstance(raw, bytes):
                taken.append(raw)
                client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
        return taken
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def _token_of(raw: bytes) -> str | None:
    """The reply token in a message's recipient headers, if any."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    for header in ("Delivered-To", "X-Original-To", "To", "Cc"):
        for value in parsed.get_all(header, []):
            match = _TOKEN.search(str(value))
            if match:
                return match.group(1).lower()
    return None


class Mail:
    """The email feature of one server node: settings requests, the digest and send jobs, inbound mail."""

    def __init__(
        self,
        store: Store,
        secrets: SecretStore | None,
        clock: Clock,
        hub: Hub,
        *,
        wake: Callable[[], None],
        imap_connect: ImapConnect | None = None,
        imap_poll_ms: int = IMAP_POLL_MS,
    ) -> None:
        self.store = store
        self.imap_connect: ImapConnect = imap_connect or connect_imap
        self.imap_poll_ms = imap_poll_ms
        self.secrets = secrets
        self.clock = clock
        self.hub = hub
        self.wake = wake
        #: Tenants with email switched on, as this node last saw them.
        self.enabled: set[int] = set()

    async def start(self) -> None:
        """Learn which tenants send email, and schedule the digests a stopped node left unscheduled."""
        self.enabled = set(await self.store.read(ops.email_tenants))
        for tenant_id in sorted(self.enabled):
            if await self.store.write(ops.catch_up_digests, tenant_id, now=self.clock.now_ms()):
                self.wake()

    # -- in the transaction of the events, and after it ---------------------------------

    def react(self, tx: Tx, events: list[domain.EventRecord]) -> None:
        """A store reactor (:meth:`Store.add_reactor`): in the transaction that appends them, turn agents'
        replies into (re)scheduled digests and new conversations and assignments into notification jobs,
        so they commit with the events or not at all."""
        now = self.clock.now_ms()
        for event in events:
            if event.tenant_id not in self.enabled or event.conversation_id is None:
                continue
            if event.kind == "message.created" and event.payload.get("author_kind") == "agent":
                ops.schedule_digest(tx, event.tenant_id, event.conversation_id, now=now)
            elif event.kind == "conversation.created":
                ops.enqueue_notification(tx, event.tenant_id, event.conversation_id, None, "New conversation", now=now)
            elif event.kind == "conversation.updated" and event.payload.get("change") == "assigned":
                assignee, actor = event.payload.get("assignee_id"), event.payload.get("actor_id")
                if assignee is not None and assignee != actor:
                    ops.enqueue_notification(
                        tx, event.tenant_id, event.conversation_id, [int(assignee)], "Assigned to you", now=now
                    )

    def on_commit(self, events: Sequence[domain.EventRecord]) -> None:
        """After a commit: wake the job runner when :meth:`react` may have queued a job. Never raises."""
        if any(e.tenant_id in self.enabled and e.conversation_id is not None for e in events):
            self.wake()

    # -- jobs ---------------------------------------------------------------------------

    async def digest(self, job: Job) -> None:
        """The ``email.digest`` job: compose and queue the email, unless the replies were seen."""
        composed = await self.store.write(
            ops.compose_digest, int(job.payload["conversation_id"]), now=self.clock.now_ms()
        )
        if composed is not None:
            log.info(
                "queued an email of %d replies for conversation %s",
                composed.new_replies,
                job.payload["conversation_id"],
            )
            self.wake()

    async def notify_job(self, job: Job) -> None:
        """The ``email.notify`` job: queue one email to each agent it names (or every agent) who wants
        notifications and is offline now, all in one transaction."""
        assert job.tenant_id is not None
        tenant_id, conversation_id = job.tenant_id, int(job.payload["conversation_id"])
        raw_ids = job.payload.get("agent_ids")
        agent_ids = [int(i) for i in raw_ids] if raw_ids is not None else None
        what = str(job.payload["what"])
        online = set(self.hub.agents_online(tenant_id))
        targets = await self.store.read(ops.offline_notify_targets, tenant_id, agent_ids, online)
        messages = [
            {
                "to": address,
                "subject": f"{what}: conversation #{conversation_id}",
                "body": f"Hello {name},\n\n{what}: conversation #{conversation_id} is waiting in Frontdesk.\n\n"
                "(Switch these emails off in the console: Settings → Email, or with the email.notify.set request.)",
            }
            for _, address, name in targets
        ]
        if messages:
            await self.store.write(ops.enqueue_emails, tenant_id, messages, now=self.clock.now_ms())
            self.wake()

    async def send_job(self, job: Job) -> None:
        """The ``email.send`` job: send one composed email; raise to be retried with backoff."""
        tenant_id = int(job.payload["tenant_id"])
        settings = await self.store.read(ops.get_settings, tenant_id)
        try:
            await self.send(settings, job.payload)
        except Exception as exc:
            await self.store.write(ops.record_send, tenant_id, f"{type(exc).__name__}: {exc}", now=self.clock.now_ms())
            raise
        if settings.last_error:
            await self.store.write(ops.record_send, tenant_id, "", now=self.clock.now_ms())

    async def imap_poll(self, job: Job) -> None:
        """The ``email.imap_poll`` job: take the unseen replies of the tenant's mailbox, then queue the
        next poll. A failure is kept as ``last_error`` and the next poll comes all the same."""
        tenant_id = int(job.payload["tenant_id"])
        settings = await self.store.read(ops.get_settings, tenant_id)
        if not settings.enabled or not settings.imap_host:
            return
        try:
            password = None
            if settings.imap_username:
                if self.secrets is None:
                    raise SecretKeyError("the server has no secret key to open the IMAP password with")
                password = await self.secrets.get(tenant_id, ops.IMAP_PASSWORD_SECRET)
            taken = await asyncio.to_thread(_fetch_unseen, self.imap_connect, settings, password)
            for raw in taken:
                token = _token_of(raw)
                outcome = await self.receive(token, raw) if token else "no reply address"
                log.info("IMAP reply for tenant %d: %s", tenant_id, outcome)
            if settings.last_error.startswith("IMAP:"):  # the mailbox answers again
                await self.store.write(ops.record_send, tenant_id, "", now=self.clock.now_ms())
        except (OSError, imaplib.IMAP4.error, SecretKeyError, TimeoutError) as exc:
            log.warning("could not poll the IMAP mailbox of tenant %d: %s", tenant_id, exc)
            await self.store.write(ops.record_send, tenant_id, f"IMAP: {exc}", now=self.clock.now_ms())
        finally:
            now = self.clock.now_ms()
            await self.store.write(ops.schedule_imap_poll, tenant_id, now=now, due_at=now + self.imap_poll_ms)

    async def send(self, settings: ops.SmtpSettings, parts: dict[str, Any]) -> None:
        """Send one email now with ``settings`` (raises on any failure)."""
        problem = _ready(settings)
        if problem:
            raise ValueError(problem)
        password = None
        if settings.username:
            if self.secrets is None:
                raise SecretKeyError("the server has no secret key to open the SMTP password with")
            password = await self.secrets.get(settings.tenant_id, ops.PASSWORD_SECRET)
        message = EmailMessage()
        message["From"] = formataddr((settings.business_name, settings.from_address))
        message["To"] = str(parts["to"])
        message["Subject"] = str(parts["subject"])
        message["Message-ID"] = str(parts.get("message_id") or make_msgid(domain=settings.from_address.split("@")[-1]))
        if parts.get("reply_to"):
            message["Reply-To"] = str(parts["reply_to"])
        if parts.get("in_reply_to"):
            message["In-Reply-To"] = str(parts["in_reply_to"])
            message["References"] = str(parts["in_reply_to"])
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(str(parts["body"]))
        await aiosmtplib.send(
            message,
            hostname=settings.host,
            port=settings.port,
            username=settings.username or None,
            password=password if settings.username else None,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
            timeout=SMTP_TIMEOUT_S,
        )

    # -- inbound ----------------------------------------------------------------------------

    async def receive(self, token: str, raw: bytes) -> str:
        """One inbound reply for ``token``'s conversation: posted as the visitor's message, or held when
        it comes from another address. The SMTP answer."""
        thread = await self.store.read(ops.thread_of_token, token)
        if thread is None:
            return "550 5.1.1 unknown reply address"
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        sender = parseaddr(str(parsed.get("From", "")))[1].strip().lower()
        body = strip_reply(_text_of(parsed))[: p.MAX_BODY_CHARS]
        if not body:
            return "550 5.6.0 the reply is empty once quoted text and signature are removed"
        message_id = str(parsed.get("Message-ID", "")).strip() or f"<{uuid.uuid4()}@inbound>"
        now = self.clock.now_ms()
        if sender != thread.visitor_email.strip().lower():
            await self.store.write(ops.hold, thread, sender, body, message_id, now=now)
            log.info("held an email reply for conversation %d from another address", thread.conversation_id)
            return "250 2.0.0 held for an agent"
        await self.post_as_visitor(thread.tenant_id, thread.visitor_id, thread.conversation_id, body, message_id)
        return "250 2.0.0 delivered to the conversation"

    async def post_as_visitor(
        self, tenant_id: int, visitor_id: int, conversation_id: int, body: str, message_id: str
    ) -> None:
        """Post ``body`` as the visitor's message (idempotent per email Message-ID); into their open
        conversation when this one is resolved and they have opened another since."""
        client_id = domain.email_client_id(message_id)
        post: dict[str, Any] = {"author_kind": "visitor", "author_id": visitor_id, "client_id": client_id, "body": body}
        try:
            await self.store.write(messages.post_message, tenant_id, conversation_id=conversation_id, **post)
        except Conflict:
            await self.store.write(messages.post_message, tenant_id, conversation_id=None, **post)

    # -- requests ------------------------------------------------------------------------------

    def request_handlers(self, require_admin: Callable[[Any, p.Request], None]) -> dict[type[p.Request], Any]:
        """The agent requests this feature answers."""

        def admin(handler: Any) -> Any:
            async def checked(client: Any, req: Any) -> p.Result:
                require_admin(client, req)
                return await handler(client, req)  # type: ignore[no-any-return]

            return checked

        return {
            p.EmailSettingsGet: admin(self._settings_get),
            p.EmailSettingsSet: admin(self._settings_set),
            p.EmailTest: admin(self._test),
            p.EmailHeldList: self._held_list,
            p.EmailHeldAccept: self._held_accept,
            p.EmailHeldReject: self._held_reject,
            p.EmailNotifySet: self._notify_set,
            p.EmailNotifyGet: self._notify_get,
        }

    async def _wire(self, client: Any, settings: ops.SmtpSettings) -> p.EmailSettingsResult:
        names: list[str] = [] if self.secrets is None else await self.secrets.names(settings.tenant_id)
        notify = await self.store.read(ops.notify_of, client.agent_id)
        wired = settings.wire(ops.PASSWORD_SECRET in names, ops.IMAP_PASSWORD_SECRET in names)
        return p.EmailSettingsResult(email=wired, notify=notify)

    async def _settings_get(self, client: Any, req: p.EmailSettingsGet) -> p.EmailSettingsResult:
        return await self._wire(client, await self.store.read(ops.get_settings, client.tenant_id))

    async def _settings_set(self, client: Any, req: p.EmailSettingsSet) -> p.EmailSettingsResult:
        changes = check_settings(req)
        for field, name, value in (
            ("password", ops.PASSWORD_SECRET, req.password),
            ("imap_password", ops.IMAP_PASSWORD_SECRET, req.imap_password),
        ):
            if value is None:
                continue
            if self.secrets is None:
                raise ProtocolError(
                    ErrorCode.UNAVAILABLE,
                    "this server has no secret key for mail passwords: start it with --secret-key-file or"
                    ' FRONTDESK_SECRET_KEYS (docs/OPERATIONS.md, "Secrets")',
                    req.ref,
                    field=field,
                )
            if value:
                await self.secrets.put(client.tenant_id, name, value)
            else:
                await self.secrets.delete(client.tenant_id, name)
        settings = await self.store.write(ops.set_settings, client.tenant_id, changes, now=self.clock.now_ms())
        now = self.clock.now_ms()
        if await self.store.write(ops.schedule_imap_poll, client.tenant_id, now=now, due_at=now, replace=True):
            self.wake()
        if settings.enabled:
            self.enabled.add(client.tenant_id)
        else:
            self.enabled.discard(client.tenant_id)
        return await self._wire(client, settings)

    async def _test(self, client: Any, req: p.EmailTest) -> p.Result:
        to = req.to.strip()
        if not _EMAIL.match(to):
            raise ProtocolError(ErrorCode.INVALID, "field 'to' is not an email address", req.ref, field="to")
        settings = await self.store.read(ops.get_settings, client.tenant_id)
        parts = {
            "to": to,
            "subject": f"Frontdesk test email for {settings.business_name}",
            "body": "This is a test email from Frontdesk: your SMTP settings work.",
        }
        try:
            await self.send(settings, parts)
        except (OSError, TimeoutError, ValueError, SecretKeyError, aiosmtplib.SMTPException) as exc:
            message = f"could not send the test email: {exc}"
            await self.store.write(ops.record_send, client.tenant_id, message, now=self.clock.now_ms())
            raise ProtocolError(ErrorCode.INVALID, message, req.ref, field="smtp") from None
        await self.store.write(ops.record_send, client.tenant_id, "", now=self.clock.now_ms())
        return p.Result()

    async def _held_list(self, client: Any, req: p.EmailHeldList) -> p.HeldEmailsResult:
        return p.HeldEmailsResult(held=await self.store.read(ops.held_list, client.tenant_id))

    async def _held_accept(self, client: Any, req: p.EmailHeldAccept) -> p.Result:
        # Posted first, then removed: a crash in between leaves it held, and accepting it again posts nothing
        # twice (the post is idempotent per email Message-ID).
        held, message_id = await self.store.read(ops.held_get, client.tenant_id, req.held_id)
        await self.post_as_visitor(client.tenant_id, held.visitor_id, held.conversation_id, held.body, message_id)
        await self.store.write(
            ops.take_held, client.tenant_id, req.held_id, state="accepted", actor_id=client.agent_id
        )
        return p.Result()

    async def _held_reject(self, client: Any, req: p.EmailHeldReject) -> p.Result:
        await self.store.write(
            ops.take_held, client.tenant_id, req.held_id, state="rejected", actor_id=client.agent_id
        )
        return p.Result()

    async def _notify_get(self, client: Any, req: p.EmailNotifyGet) -> p.EmailNotifyResult:
        return p.EmailNotifyResult(enabled=await self.store.read(ops.notify_of, client.agent_id))

    async def _notify_set(self, client: Any, req: p.EmailNotifySet) -> p.EmailNotifyResult:
        enabled = await self.store.write(ops.set_notify, client.tenant_id, client.agent_id, req.enabled)
        return p.EmailNotifyResult(enabled=enabled)


class _Handler:
    """aiosmtpd's handler: refuse unknown reply addresses at RCPT TO, hand the message to :class:`Mail`."""

    def __init__(self, mail: Mail) -> None:
        self.mail = mail

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        match = _TOKEN.search(address)
        if match is None:
            return "550 5.1.1 not a reply address"
        if await self.mail.store.read(ops.thread_of_token, match.group(1).lower()) is None:
            return "550 5.1.1 unknown reply address"
        if envelope.rcpt_tos:
            return "452 4.5.3 one reply address per message"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        match = _TOKEN.search(envelope.rcpt_tos[0]) if envelope.rcpt_tos else None
        if match is None:
            return "554 5.5.1 no valid recipient"
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        try:
            return await self.mail.receive(match.group(1).lower(), raw)
        except (NotFound, Conflict) as exc:
            return f"550 5.7.0 {exc.message}"
        except Exception:
            log.exception("could not take an inbound email")
            return "451 4.3.0 try again later"


def smtp_tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """The listener's STARTTLS context: the certificate chain and key in PEM (``--smtp-tls-cert/--smtp-tls-key``).
    Raises ``OSError``/``ssl.SSLError`` naming a file that cannot be read or does not match."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


class SmtpListener:
    """The inbound SMTP listener on the server's own loop (``--smtp-listen HOST:PORT``); with ``tls_context``
    it offers STARTTLS (``--smtp-tls-cert/--smtp-tls-key``; senders that do not ask for it still deliver)."""

    def __init__(self, mail: Mail, host: str, port: int, *, tls_context: ssl.SSLContext | None = None) -> None:
        self.mail = mail
        self.host = host
        self.port = port
        self.tls_context = tls_context
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        handler = _Handler(self.mail)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                handler,
                data_size_limit=MAX_INBOUND_BYTES,
                hostname="frontdesk",
                ident="Frontdesk",
                tls_context=self.tls_context,
            ),
            self.host,
            self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "receiving email replies on %s:%d%s", self.host, self.port, " (STARTTLS)" if self.tls_context else ""
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
