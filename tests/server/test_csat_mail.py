"""Surveys and transcripts by email (server/csat_mail.py) through a real SMTP server in the test (aiosmtpd)."""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server.store import jobs

from tests.server.test_mail import VISITOR_EMAIL, Sink, setup, visitor_asks
from tests.server.test_webhooks import Harness, in_loop
from tests.support import ServerError, WsClient

MINUTE = 60_000


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - a local test server
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@in_loop
async def test_an_unanswered_survey_goes_by_email_and_its_link_rates_once(tmp_path: Path) -> None:
    """A visitor who left gets the survey by email once the widget's chance has passed; the link rates the
    conversation once (409 the second time); a survey rated in the widget sends no email."""
    h = Harness(tmp_path)
    async with Sink() as sink:
        try:
            server, admin = await setup(h, sink)
            visitor, conversation_id = await visitor_asks(server, "Can I change my plan?")
            await visitor.close()  # the visitor left
            await admin.request("resolve", conversation_id=conversation_id)
            await h.run_until(lambda: any("How did we do" in str(m["Subject"]) for m in sink.messages), step_ms=60_000)
            [mail] = [m for m in sink.messages if "How did we do" in str(m["Subject"])]
            assert mail["To"] == VISITOR_EMAIL
            found = re.search(r"/v1/csat\?t=([\w-]+)", mail.get_content())
            assert found is not None
            link = f"{server.http_url}/v1/csat?t={found.group(1)}"
            status, page = await asyncio.to_thread(get, link + "&rating=5&comment=Great")
            assert status == 200 and "Thank you" in page
            listed = await admin.request("csat.list", conversation_id=conversation_id)
            assert [(s["rating"], s["comment"]) for s in listed["surveys"]] == [(5, "Great")]
            status, page = await asyncio.to_thread(get, link + "&rating=1")
            assert status == 409 and "already been used" in page

            # Rated in the widget in time: no email.
            present, second = await visitor_asks(server, "Another question")
            await admin.request("resolve", conversation_id=second)
            await present.request("csat.submit", conversation_id=second, rating=4)
            sent = len(sink.messages)
            await h.run_until(lambda: _no_csat_job(h), step_ms=60_000)
            assert len(sink.messages) == sent
            await admin.close()
        finally:
            await h.stop()


def transcripts(sink: Sink) -> list[Any]:
    return [m for m in sink.messages if "Your conversation" in str(m["Subject"])]


async def _no_csat_job(h: Harness) -> bool:
    assert h.app is not None
    return not any(j.kind in ("csat.email", "email.send") for j in await h.app.store.read(jobs.pending))


@in_loop
async def test_a_transcript_goes_by_email_rate_limited(tmp_path: Path) -> None:
    """transcript.email sends the conversation's text to the visitor's address; the fourth in a row is
    rate_limited; a visitor without an address is told to give one."""
    h = Harness(tmp_path)
    async with Sink() as sink:
        try:
            server, admin = await setup(h, sink)
            visitor, conversation_id = await visitor_asks(server, "Where is my parcel?")
            await admin.request(
                "reply", conversation_id=conversation_id, client_id=str(uuid.uuid4()), body="It ships today."
            )
            for _ in range(3):
                await visitor.request("transcript.email", conversation_id=conversation_id)
            with pytest.raises(ServerError) as limited:
                await visitor.request("transcript.email", conversation_id=conversation_id)
            assert limited.value.code == "rate_limited"
            await h.run_until(lambda: len(transcripts(sink)) >= 3, step_ms=30_000)
            h.clock.advance(20 * 60_000)  # the budget refills on the server's clock (it is in the database)
            await visitor.request("transcript.email", conversation_id=conversation_id)
            with pytest.raises(ServerError):
                await visitor.request("transcript.email", conversation_id=conversation_id)
            await h.run_until(lambda: len(transcripts(sink)) >= 4, step_ms=30_000)
            mail = transcripts(sink)[0]
            assert mail["To"] == VISITOR_EMAIL
            text = mail.get_content().replace("\r\n", "\n")
            assert "You:\nWhere is my parcel?" in text and "It ships today." in text

            anonymous, _ = await WsClient.visitor(server)
            conv = await anonymous.request("conversation.start")
            with pytest.raises(ServerError) as no_address:
                await anonymous.request("transcript.email", conversation_id=conv["conversation"]["id"])
            assert no_address.value.code == "invalid"
            with pytest.raises(ServerError) as not_theirs:
                await anonymous.request("transcript.email", conversation_id=conversation_id)
            assert not_theirs.value.code == "not_found"
            await admin.close()
        finally:
            await h.stop()
