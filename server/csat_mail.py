"""Surveys and transcripts by email (issue 16, items 2 and 3), over the email feature's sender (server/mail.py).

- **A survey the visitor did not answer in the widget.** A resolve's survey queues a ``csat.email`` job
  (store ``csat.open_survey``, in the resolve's transaction) due a while later (``SurveyAsk.email_after_ms``).
  If the survey is still unrated then and the visitor gave an email address, and the tenant sends email, the
  job gives the survey a link (``/v1/csat?t=TOKEN``, server/csat_page.py) and queues the email that carries
  it, as an ``email.send`` job of server/mail.py: one transaction, retried with backoff, erased with the
  visitor.
- **A transcript by email.** The visitor's ``transcript.email`` request queues the conversation's text to the
  address they gave, limited per visitor (:data:`TRANSCRIPT_RATE`, a budget in the database that every node
  shares, store ``mail.queue_transcript``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Final

from . import auth
from . import protocol as p
from .csat_page import CSAT_PATH, LINK_TTL_MS
from .exceptions import RateLimited
from .hub import Client
from .jobs import Clock
from .protocol import ErrorCode, ProtocolError
from .ratelimit import Rate
from .store import Store
from .store import csat as store_csat
from .store import mail as mail_ops
from .store.jobs import Job

__all__ = ["TRANSCRIPT_RATE", "CsatMail"]

#: Transcript emails per visitor: 3 at once, then one every 20 minutes.
TRANSCRIPT_RATE: Final = Rate(per_second=1 / 1200, burst=3)


class CsatMail:
    """The ``csat.email`` job and the visitor's ``transcript.email`` request on one node."""

    def __init__(
        self, store: Store, clock: Clock, public_url: str, *, wake: Callable[[], None], rate: Rate = TRANSCRIPT_RATE
    ) -> None:
        self.store = store
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.wake = wake
        #: Transcript emails per visitor, a budget kept in the database (shared by every node), on ``clock``.
        self.rate = rate

    async def survey_job(self, job: Job) -> None:
        """The ``csat.email`` job: email the survey's link unless it was rated, or no email can go."""
        now = self.clock.now_ms()
        target = await self.store.read(store_csat.email_target, int(job.payload["survey_id"]), now)
        if target is None:
            return
        settings = await self.store.read(mail_ops.get_settings, target.tenant_id)
        if not settings.enabled:
            return
        token = secrets.token_urlsafe(24)
        name = settings.business_name or "us"
        message = {
            "to": target.email,
            "subject": f"How did we do? Rate your conversation with {name}",
            "body": f"Hello,\n\nThank you for talking to {name}. How did we do? One click rates the conversation:\n\n"
            f"{self.public_url}{CSAT_PATH}?t={token}\n\nThe link works once, for a day.\n",
        }
        await self.store.write(
            store_csat.queue_link_email,
            target,
            message,
            token_hash=auth.token_hash(token),
            expires_at=min(now + LINK_TTL_MS, target.expires_at),
            now=now,
        )
        self.wake()

    async def transcript(self, client: Client, req: p.TranscriptEmail) -> p.Result:
        """``transcript.email``: queue the conversation's transcript to the visitor's email address."""
        assert client.visitor_id is not None
        settings = await self.store.read(mail_ops.get_settings, client.tenant_id)
        if not settings.enabled:
            raise ProtocolError(ErrorCode.CONFLICT, "this site does not send email", req.ref)
        text, address = await self.store.read(
            store_csat.transcript_text, client.tenant_id, client.visitor_id, req.conversation_id
        )
        if not address:
            raise ProtocolError(ErrorCode.INVALID, "give your email address first (profile.update)", req.ref)
        name = settings.business_name or "Support"
        message: dict[str, Any] = {
            "to": address,
            "subject": f"Your conversation with {name}",
            "body": f"Here is your conversation with {name}.\n\n{text}",
        }
        try:
            await self.store.write(
                mail_ops.queue_transcript,
                client.tenant_id,
                client.visitor_id,
                message,
                now=self.clock.now_ms(),
                per_second=self.rate.per_second,
                burst=self.rate.burst,
            )
        except RateLimited as exc:
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"too many transcript emails; try again in {max(1, round(exc.retry_after / 60))} minutes",
                req.ref,
            ) from None
        self.wake()
        return p.Result()
