"""Email continuity end to end (server/mail.py): a real SMTP server (aiosmtpd) in the test receives what
the server sends, and the server's own SMTP listener takes the visitor's replies. ManualClock: no waiting."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from frontdesk.server.mail import strip_reply
from frontdesk.server.store import jobs

from tests.server.test_webhooks import Harness, in_loop
from tests.server.tls_support import make_certs
from tests.support import InProcessServer, ServerError, WsClient, run_cli

VISITOR_EMAIL = "alice@example.com"


class Sink:
    """An SMTP server on 127.0.0.1, port 0, that keeps what it accepts; it answers 451 to the first
    ``fail_first`` messages."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.attempts = 0
        self.messages: list[EmailMessage] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        if self.attempts <= self.fail_first:
            return "451 4.3.0 try again later"
        parsed = email.message_from_bytes(envelope.content or b"", policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    async def __aenter__(self) -> Sink:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="sink"), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


async def setup(h: Harness, sink: Sink, **settings: Any) -> tuple[InProcessServer, WsClient]:
    server = await h.start()
    admin, _ = await WsClient.agent(server)
    fields = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": sink.port,
        "security": "none",
        "from_address": "support@acme.test",
        "reply_domain": "reply.acme.test",
        **settings,
    }
    await admin.request("email.settings.set", **fields)
    return server, admin


async def visitor_asks(server: InProcessServer, body: str) -> tuple[WsClient, int]:
    """A visitor who gave their email and asked something; (their socket, the conversation id)."""
    visitor, _ = await WsClient.visitor(server)
    await visitor.request("profile.update", email=VISITOR_EMAIL)
    conv = await visitor.request("conversation.start")
    conversation_id = int(conv["conversation"]["id"])
    await visitor.request("message.send", conversation_id=conversation_id, client_id=str(uuid.uuid4()), body=body)
    return visitor, conversation_id


async def reply(admin: WsClient, conversation_id: int, *bodies: str) -> int:
    seq = 0
    for body in bodies:
        ack = await admin.request("reply", conversation_id=conversation_id, client_id=str(uuid.uuid4()), body=body)
        seq = int(ack["message"]["seq"])
    return seq


async def no_email_queued(h: Harness) -> bool:
    assert h.app is not None
    return not any(j.kind.startswith("email.") for j in await h.app.store.read(jobs.pending))


async def send_reply(h: Harness, to: str, sender: str, text: str) -> None:
    assert h.app is not None and h.app.smtp_listener is not None
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Re: New reply"
    message["Message-ID"] = f"<{uuid.uuid4()}@example.com>"
    message.set_content(text)
    await aiosmtplib.send(message, hostname="127.0.0.1", port=h.app.smtp_listener.port, timeout=5)


async def thread_bodies(admin: WsClient, conversation_id: int) -> list[tuple[str, str]]:
    history = await admin.request("history", conversation_id=conversation_id)
    return [(m["author_kind"], m["body"]) for m in history["messages"]]


def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path, smtp_listen="127.0.0.1:0")


# -- pure parts --------------------------------------------------------------------------------


def test_quoted_text_and_signatures_are_stripped() -> None:
    """strip_reply keeps the new text only: not the quote header, quoted lines or the signature."""
    text = (
        "Thanks, that works!\n\nAlice\n-- \nAlice Example\nACME Corp\n\n"
        "On Mon, 7 Dec 2026 at 10:00, Acme <support@acme.test> wrote:\n> It ships today.\n"
    )
    assert strip_reply(text) == "Thanks, that works!\n\nAlice"
    assert strip_reply("Yes please\r\n\r\nSent from my iPhone\r\n") == "Yes please"
    assert strip_reply("Fine.\n-----Original Message-----\nFrom: x\nhello") == "Fine."
    assert strip_reply("> only a quote\n") == ""
    wrapped = "Great\n\nOn Mon, 7 Dec 2026 at 10:00, Acme Support\n<support@acme.test> wrote:\n> old"
    assert strip_reply(wrapped) == "Great"


# -- end to end --------------------------------------------------------------------------------


@in_loop
async def test_reply_goes_by_email_and_the_emailed_answer_lands_in_the_thread(tmp_path: Path) -> None:
    """An unseen burst of replies is one email with context and a reply address; answering it by
    email posts the visitor's message (quote stripped); an unknown token is refused."""
    h = harness(tmp_path)
    async with Sink() as sink:
        try:
            server, admin = await setup(h, sink)
            visitor, conversation_id = await visitor_asks(server, "Where is my order?")
            await visitor.close()  # the visitor left
            await reply(admin, conversation_id, "Let me check.", "It ships today.", "Tracking: ABC123")
            await h.run_until(lambda: len(sink.messages) >= 1, step_ms=30_000)
            await h.run_until(lambda: no_email_queued(h), step_ms=30_000)
            [sent] = sink.messages  # a burst of three replies: one email
            assert sent["To"] == VISITOR_EMAIL and "support@acme.test" in sent["From"]
            text = sent.get_content()
            assert "3 new replies" in text
            assert text.index("Let me check.") < text.index("It ships today.") < text.index("Tracking: ABC123")
            assert "Where is my order?" in text  # the context
            reply_to = str(sent["Reply-To"])
            assert reply_to.startswith("reply+") and reply_to.endswith("@reply.acme.test")

            quoted = "Thanks!\n\nOn Mon, 7 Dec 2026, Acme <support@acme.test> wrote:\n> It ships today.\n"
            await send_reply(h, reply_to, f"Alice <{VISITOR_EMAIL}>", quoted)
            assert (await thread_bodies(admin, conversation_id))[-1] == ("visitor", "Thanks!")

            with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
                await send_reply(h, "reply+" + "0" * 32 + "@reply.acme.test", VISITOR_EMAIL, "forged")
            assert len(await thread_bodies(admin, conversation_id)) == 5  # nothing posted
            await admin.close()
        finally:
            await h.stop()


@in_loop
async def test_no_email_for_replies_seen_in_the_widget(tmp_path: Path) -> None:
    """A reply the visitor reads in the widget before the delay never goes by email."""
    h = harness(tmp_path)
    async with Sink() as sink:
        try:
            server, admin = await setup(h, sink)
            visitor, conversation_id = await visitor_asks(server, "Hello?")
            seq = await reply(admin, conversation_id, "Hi! How can I help?")
            await visitor.request("seen", conversation_id=conversation_id, seq=seq)
            h.clock.advance(60_000)
            await h.run_until(lambda: no_email_queued(h), step_ms=30_000)
            assert sink.messages == [] and sink.attempts == 0
            await visitor.close()
            await admin.close()
        finally:
            await h.stop()


@in_loop
async def test_a_restart_mid_queue_loses_no_email_and_sends_it_once(tmp_path: Path) -> None:
    """The SMTP server refuses the first attempt; after a restart the email is retried and sent once."""
    h = harness(tmp_path)
    async with Sink(fail_first=1) as sink:
        try:
            server, admin = await setup(h, sink)
            visitor, conversation_id = await visitor_asks(server, "Anyone?")
            await visitor.close()
            await reply(admin, conversation_id, "Yes, here.")
            await h.run_until(lambda: sink.attempts >= 1, step_ms=30_000)

            async def failure_recorded() -> bool:  # the job records it after the SMTP answer: wait, clock still
                settings = (await admin.request("email.settings.get"))["email"]
                return "451" in settings["last_error"]

            for _ in range(500):
                if await failure_recorded():
                    break
                await asyncio.sleep(0.01)
            assert await failure_recorded()  # the failure is visible to the console
            await admin.close()
            await h.stop()

            server = await h.start()
            await h.run_until(lambda: no_email_queued(h), step_ms=30_000)
            assert len(sink.messages) == 1 and "Yes, here." in sink.messages[0].get_content()
            admin, _ = await WsClient.agent(server)
            assert (await admin.request("email.settings.get"))["email"]["last_error"] == ""
            await admin.close()
        finally:
            await h.stop()


@in_loop
async def test_mail_from_another_address_is_held_until_an_agent_accepts_it(tmp_path: Path) -> None:
    """A reply from someone other than the visitor is held, listed, and posted only once accepted."""
    h = harness(tmp_path)
    async with Sink() as sink:
        try:
            server, admin = await setup(h, sink)
            visitor, conversation_id = await visitor_asks(server, "Question")
            await visitor.close()
            await reply(admin, conversation_id, "Answer")
            await h.run_until(lambda: len(sink.messages) == 1, step_ms=30_000)
            reply_to = str(sink.messages[0]["Reply-To"])
            out = await asyncio.to_thread(
                run_cli, "agent", "add", "--db", h.db_url, "--email", "bea@demo.test", "--name", "Bea", "--json"
            )
            bea, login = await WsClient.agent(server, "bea@demo.test", json.loads(out.stdout)["password"])
            await send_reply(h, reply_to, "mallory@example.net", "I am not Alice")
            [held] = (await admin.request("email.held.list"))["held"]
            assert (held["sender"], held["body"], held["conversation_id"]) == (
                "mallory@example.net",
                "I am not Alice",
                conversation_id,
            )
            # Every agent of the tenant hears of it, live, in the conversation's log (not only admins).
            pushed = await bea.next_event("email.held", id=held["id"])
            assert pushed["conversation_id"] == conversation_id and pushed["event_id"] > 0
            assert {**pushed["data"], "state": None} == {**held, "state": None, "actor_id": None}
            assert pushed["data"]["state"] == "held"
            assert (await thread_bodies(admin, conversation_id))[-1] == ("agent", "Answer")
            await bea.request("email.held.accept", held_id=held["id"])  # an agent, not an admin
            assert (await thread_bodies(admin, conversation_id))[-1] == ("visitor", "I am not Alice")
            accepted = await admin.next_event("email.held", id=held["id"], state="accepted")
            assert (accepted["data"]["body"], accepted["data"]["actor_id"]) == ("", login["agent"]["id"])
            await bea.close()
            assert (await admin.request("email.held.list"))["held"] == []
            with pytest.raises(ServerError) as caught:
                await admin.request("email.held.reject", held_id=held["id"])
            assert caught.value.code == "not_found"
            await admin.close()
        finally:
            await h.stop()


@in_loop
async def test_malformed_smtp_settings_are_refused_and_change_nothing(tmp_path: Path) -> None:
    """A bad host, From address, reply domain or port is `invalid` naming the field; the settings stay."""
    h = harness(tmp_path)
    async with Sink() as sink:
        try:
            _, admin = await setup(h, sink)
            before = (await admin.request("email.settings.get"))["email"]
            for field, value in (
                ("host", "smtp example com"),
                ("from_address", "not-an-address"),
                ("reply_domain", "-bad-.example"),
                ("port", 70000),
                ("security", "ssl3"),
            ):
                with pytest.raises(ServerError) as caught:
                    await admin.request("email.settings.set", **{field: value})
                assert (caught.value.code, caught.value.frame.get("field")) == ("invalid", field)
            assert (await admin.request("email.settings.get"))["email"] == before
            assert before["password_set"] is False
            await admin.request("email.settings.set", username="mailer", password="s3cret-pass")
            assert (await admin.request("email.settings.get"))["email"]["password_set"] is True
            await admin.close()
        finally:
            await h.stop()


@in_loop
async def test_send_test_email_reports_success_and_failure(tmp_path: Path) -> None:
    """email.test sends through the settings, and an unreachable server is a clear error shown as last_error."""
    h = harness(tmp_path)
    async with Sink() as sink:
        try:
            _, admin = await setup(h, sink)
            await admin.request("email.test", to="ops@acme.test")
            assert [m["To"] for m in sink.messages] == ["ops@acme.test"]
            async with Sink() as gone:
                closed_port = gone.port
            await admin.request("email.settings.set", port=closed_port)
            with pytest.raises(ServerError, match="could not send the test email"):
                await admin.request("email.test", to="ops@acme.test")
            assert "could not send" in (await admin.request("email.settings.get"))["email"]["last_error"]
            await admin.close()
        finally:
            await h.stop()


@in_loop
async def test_offline_agents_get_a_notification_email_unless_switched_off(tmp_path: Path) -> None:
    """A new conversation, and an assignment, email offline agents who want it; one who switched it off gets none."""
    h = harness(tmp_path)
    async with Sink() as sink:
        try:
            server, admin = await setup(h, sink)
            bob = (await admin.request("agent.add", email="bob@acme.test", name="Bob"))["agent"]
            added = await admin.request("agent.add", email="carol@acme.test", name="Carol")
            carol, _ = await WsClient.agent(server, "carol@acme.test", added["password"])
            await carol.request("email.notify.set", enabled=False)
            await carol.close()
            visitor, conversation_id = await visitor_asks(server, "Hi")
            await h.run_until(lambda: no_email_queued(h), step_ms=30_000)
            assert sorted(str(m["To"]) for m in sink.messages) == ["bob@acme.test"]  # the admin is online
            await admin.request("assign", conversation_id=conversation_id, agent_id=bob["id"])
            await h.run_until(lambda: len(sink.messages) == 2, step_ms=30_000)
            assert str(sink.messages[1]["To"]) == "bob@acme.test"
            assert str(sink.messages[1]["Subject"]).startswith("Assigned to you")
            await visitor.close()
            await admin.close()
        finally:
            await h.stop()


DOVECOT_IMAP = Path("/usr/lib/dovecot/imap")


class Mailbox:
    """A Maildir read by a real dovecot IMAP server, run per connection by the test (pre-authenticated
    over stdin/stdout: no daemon, no port). Delivering is writing a file into ``new/``. Dovecot refuses
    to read mail as root, so the mailbox is nobody's, in a folder of its own that nobody can reach
    (pytest's own temporary folders are root's only)."""

    def __init__(self) -> None:
        import tempfile

        home = self.home = Path(tempfile.mkdtemp(prefix="frontdesk-imap-"))
        self.maildir = home / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        self.conf = home / "dovecot.conf"
        self.conf.write_text(
            "mail_location = maildir:~/Maildir\nssl = no\nmail_uid = nobody\nmail_gid = nogroup\n"
            f"log_path = {home / 'dovecot.log'}\n"
        )
        home.chmod(0o755)
        self._chown()

    def _chown(self) -> None:
        import shutil

        for path in [self.maildir, *self.maildir.rglob("*")]:
            shutil.chown(path, "nobody", "nogroup")

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.home, ignore_errors=True)

    def deliver(self, message: EmailMessage) -> None:
        (self.maildir / "new" / f"{uuid.uuid4().hex}.eml").write_bytes(message.as_bytes())
        self._chown()

    def connect(self, settings: Any, password: str | None) -> Any:
        import imaplib
        import shlex

        command = f"HOME={shlex.quote(str(self.home))} USER=frontdesk {DOVECOT_IMAP} -c {shlex.quote(str(self.conf))}"
        return imaplib.IMAP4_stream(command)


@pytest.mark.skipif(not DOVECOT_IMAP.exists(), reason="dovecot-imapd is not installed (make test installs it)")
@in_loop
async def test_replies_are_taken_from_an_imap_mailbox(tmp_path: Path) -> None:
    """With IMAP polling set, a reply delivered to the mailbox lands in the thread once, quote stripped."""
    h = Harness(tmp_path)
    mailbox = Mailbox()
    async with Sink() as sink:
        try:
            server, admin = await setup(h, sink)
            assert h.app is not None
            h.app.mail.imap_connect = mailbox.connect
            visitor, conversation_id = await visitor_asks(server, "Do you ship to Norway?")
            await visitor.close()
            await reply(admin, conversation_id, "Yes, in 3 days.")
            await h.run_until(lambda: len(sink.messages) == 1, step_ms=30_000)
            settings = await admin.request("email.settings.set", imap_host="imap.acme.test", imap_security="none")
            assert settings["email"]["imap_host"] == "imap.acme.test"

            answer = EmailMessage()
            answer["From"] = f"Alice <{VISITOR_EMAIL}>"
            answer["To"] = str(sink.messages[0]["Reply-To"])
            answer["Subject"] = "Re: New reply"
            answer["Message-ID"] = "<answer-1@example.com>"
            answer.set_content("Great, ordering now.\n\nOn Mon, Acme <support@acme.test> wrote:\n> Yes, in 3 days.\n")
            mailbox.deliver(answer)

            async def posted() -> bool:
                return (await thread_bodies(admin, conversation_id))[-1] == ("visitor", "Great, ordering now.")

            await h.run_until(posted, step_ms=30_000)
            polls = h.app.jobs.finished
            await h.run_until(lambda: h.app is not None and h.app.jobs.finished >= polls + 2, step_ms=30_000)
            bodies = await thread_bodies(admin, conversation_id)  # two more polls: it was Seen, not posted again
            assert bodies.count(("visitor", "Great, ordering now.")) == 1
            assert (await admin.request("email.settings.get"))["email"]["last_error"] == ""
            await admin.close()
        finally:
            await h.stop()
            mailbox.remove()


@in_loop
async def test_the_listener_offers_starttls_with_the_operators_certificate(tmp_path: Path) -> None:
    """With --smtp-tls-cert/--smtp-tls-key the listener advertises STARTTLS; a sender that verifies the
    certificate upgrades, and its reply lands in the thread."""
    certs = make_certs(tmp_path / "tls", names=("localhost",), addresses=("127.0.0.1",))
    h = Harness(
        tmp_path, smtp_listen="127.0.0.1:0", smtp_tls_cert=str(certs.cert_file), smtp_tls_key=str(certs.key_file)
    )
    async with Sink() as sink:
        try:
            server, admin = await setup(h, sink)
            visitor, conversation_id = await visitor_asks(server, "Question")
            await visitor.close()
            await reply(admin, conversation_id, "Answer")
            await h.run_until(lambda: len(sink.messages) == 1, step_ms=30_000)
            reply_to = str(sink.messages[0]["Reply-To"])
            assert h.app is not None and h.app.smtp_listener is not None
            client = aiosmtplib.SMTP(
                hostname="127.0.0.1", port=h.app.smtp_listener.port, start_tls=False, timeout=5
            )
            await client.connect()
            try:
                await client.ehlo()
                assert client.supports_extension("starttls")
                await client.starttls(tls_context=certs.client_context())
                assert client.get_transport_info("peercert") is not None  # encrypted, and the certificate verified
                message = EmailMessage()
                message["From"] = VISITOR_EMAIL
                message["To"] = reply_to
                message["Subject"] = "Re: New reply"
                message["Message-ID"] = f"<{uuid.uuid4()}@example.com>"
                message.set_content("Sent over TLS")
                await client.send_message(message)
            finally:
                await client.quit()
            assert (await thread_bodies(admin, conversation_id))[-1] == ("visitor", "Sent over TLS")
            await admin.close()
        finally:
            await h.stop()


def test_the_listener_needs_a_readable_certificate_and_key_together(tmp_path: Path) -> None:
    """`serve` refuses a certificate without its key, and a file that is not one, naming the option."""
    from frontdesk.server.app import ServerSettings
    from frontdesk.server.cli import _tls_problem

    certs = make_certs(tmp_path / "tls")
    assert _tls_problem(ServerSettings(smtp_tls_cert=str(certs.cert_file))) == (
        "give both --smtp-tls-cert and --smtp-tls-key, or neither"
    )
    problem = _tls_problem(ServerSettings(smtp_tls_cert=str(certs.key_file), smtp_tls_key=str(certs.key_file)))
    assert problem is not None and problem.startswith("cannot use --smtp-tls-cert/--smtp-tls-key")
    ok = ServerSettings(smtp_tls_cert=str(certs.cert_file), smtp_tls_key=str(certs.key_file))
    assert _tls_problem(ok) is None
    assert "--webhook-ca-file" in (_tls_problem(ServerSettings(webhook_ca_file=str(tmp_path / "none.pem"))) or "")
