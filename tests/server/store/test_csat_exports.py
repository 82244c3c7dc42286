"""Satisfaction surveys and export records (server/store/csat.py, exports.py), on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.server import auth
from frontdesk.server.domain import StatusAction
from frontdesk.server.exceptions import Conflict, NotFound, ProtocolError
from frontdesk.server.store import Store, conversations, csat, exports, visitors

from .test_contract import World, reply, rows, run, say, seed

HOUR = 3600_000
T0 = 1_800_000_000_000


async def resolve(store: Store, w: World, c: int, *, scale: str | None = "five", now: int = T0) -> Any:
    return await store.write(
        conversations.change_status,
        w.tenant,
        agent_id=w.admin,
        conversation_id=c,
        action=StatusAction.RESOLVE,
        client_id=None,
        survey=None if scale is None else csat.SurveyAsk(scale, now, 24 * HOUR),
    )


async def rate(store: Store, w: World, c: int, rating: int, comment: str | None = None, now: int = T0 + 1) -> Any:
    return await store.write(
        csat.submit, w.tenant, visitor_id=w.alice, conversation_id=c, rating=rating, comment=comment, now=now
    )


def test_a_resolve_opens_one_survey_per_episode_with_the_handling_agent(store_url: str) -> None:
    """A resolve with a survey stores one survey for that episode, with the assignee as its agent, and announces
    it to the visitor and agents (csat.requested); a resolve without one stores none; a new episode gets its own."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "help"))["conversation_id"]
        await reply(store, w, w.agent, c, "sure")  # the first reply assigns Bob
        change = await resolve(store, w, c)
        found = await store.read(csat.surveys, w.tenant, conversation_id=c)
        assert [(s.agent_id, s.scale, s.rating, s.expires_at) for s in found] == [
            (w.agent, "five", None, T0 + 24 * HOUR)
        ]
        events = await rows(store, "SELECT kind, event_id, visitor_payload FROM events ORDER BY event_id")
        assert events[-1]["kind"] == "csat.requested" and events[-1]["visitor_payload"] is not None
        assert events[-2]["event_id"] == change.event_id
        await say(store, w, w.alice, "one more thing", conversation_id=c)  # reopens
        await resolve(store, w, c, scale=None)
        assert len(await store.read(csat.surveys, w.tenant, conversation_id=c)) == 1
        await say(store, w, w.alice, "and another", conversation_id=c)
        await resolve(store, w, c, now=T0 + 5)
        assert len(await store.read(csat.surveys, w.tenant, conversation_id=c)) == 2

    run(store_url, scenario)


def test_a_rating_is_given_and_changed_within_the_window_only(store_url: str) -> None:
    """The visitor rates, changes the rating within the window (csat.submitted each time), and is refused with
    conflict after it; a rating off the scale is invalid and changes nothing; another visitor finds no survey."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "help"))["conversation_id"]
        await resolve(store, w, c)
        first = await rate(store, w, c, 2, "slow")
        assert (first.rating, first.comment) == (2, "slow")
        changed = await rate(store, w, c, 5, "  sorted in the end ", now=T0 + 23 * HOUR)
        assert (changed.rating, changed.comment, changed.rated_at) == (5, "sorted in the end", T0 + 23 * HOUR)
        kinds = [r["kind"] for r in await rows(store, "SELECT kind FROM events WHERE kind LIKE 'csat.%'")]
        assert kinds == ["csat.requested", "csat.submitted", "csat.submitted"]
        with pytest.raises(Conflict, match="closed"):
            await rate(store, w, c, 1, now=T0 + 24 * HOUR)
        with pytest.raises(ProtocolError) as bad:
            await rate(store, w, c, 0)
        assert bad.value.field == "rating"
        with pytest.raises(NotFound):
            await store.write(
                csat.submit, w.tenant, visitor_id=w.carol, conversation_id=c, rating=3, comment=None, now=T0
            )
        assert (await store.read(csat.surveys, w.tenant, conversation_id=c))[0].rating == 5

    run(store_url, scenario)


def test_an_emailed_link_works_once_and_not_past_its_expiry(store_url: str) -> None:
    """A survey link rates once; used twice it is refused as used, past its expiry as expired, a made-up one as
    unknown; a thumbs survey takes 0 or 1."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "help"))["conversation_id"]
        await resolve(store, w, c, scale="thumbs")
        survey = (await store.read(csat.surveys, w.tenant, conversation_id=c))[0]
        await store.write(csat.issue_link, w.tenant, survey.id, token_hash=auth.token_hash("tok"), expires_at=T0 + HOUR)
        assert (await store.read(csat.link_survey, auth.token_hash("tok"), T0)).scale == "thumbs"
        done = await store.write(csat.submit_by_link, auth.token_hash("tok"), rating=1, comment="great", now=T0 + 10)
        assert (done.rating, done.comment) == (1, "great")
        with pytest.raises(csat.LinkRefused) as used:
            await store.write(csat.submit_by_link, auth.token_hash("tok"), rating=0, comment=None, now=T0 + 20)
        assert used.value.reason == "used"
        await store.write(csat.issue_link, w.tenant, survey.id, token_hash=auth.token_hash("t2"), expires_at=T0 + HOUR)
        with pytest.raises(csat.LinkRefused) as expired:
            await store.write(csat.submit_by_link, auth.token_hash("t2"), rating=0, comment=None, now=T0 + HOUR)
        assert expired.value.reason == "expired"
        with pytest.raises(csat.LinkRefused) as unknown:
            await store.read(csat.link_survey, auth.token_hash("forged"), T0)
        assert unknown.value.reason == "unknown"
        assert (await store.read(csat.surveys, w.tenant, conversation_id=c))[0].rating == 1

    run(store_url, scenario)


def test_export_reads_and_records(store_url: str) -> None:
    """The export page carries the CSV's columns (visitor, agent, first response, resolved, rating) and honours
    the filter; details carry messages, optional notes, events and surveys; records list newest first."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "help"))["conversation_id"]
        await reply(store, w, w.agent, c, "sure")
        await resolve(store, w, c)
        await rate(store, w, c, 4, "ok")
        other = (await say(store, w, w.carol, "hi"))["conversation_id"]
        page = await store.read(exports.conversation_page, w.tenant, exports.ExportFilter(), after_id=0, limit=10)
        assert [r["id"] for r in page] == [c, other]
        first = page[0]
        assert (first["visitor_name"], first["visitor_email"], first["agent_name"]) == (
            "Alice",
            "alice@example.com",
            "Bob",
        )
        assert first["first_response_at"] is not None and first["resolved_at"] is not None
        assert (first["csat_rating"], first["csat_scale"]) == (4, "five")
        narrowed = exports.ExportFilter(status="open")
        assert [
            r["id"] for r in await store.read(exports.conversation_page, w.tenant, narrowed, after_id=0, limit=10)
        ] == [other]
        foreign = await store.read(
            exports.conversation_page, w.other_tenant, exports.ExportFilter(), after_id=0, limit=9
        )
        assert foreign == []
        details = await store.read(exports.conversation_details, [c], include_notes=False)
        assert [m["body"] for m in details[c]["messages"]] == ["help", "sure"]
        assert "resolved" in [e.get("change") for e in details[c]["events"]]
        assert details[c]["csat"][0]["comment"] == "ok"
        one = await store.write(
            exports.record_export,
            w.tenant,
            agent_id=w.admin,
            kind="conversation",
            format="json",
            flt=exports.ExportFilter(conversation_id=c),
            rows=1,
        )
        two = await store.write(
            exports.record_export, w.tenant, agent_id=w.admin, kind="conversations", format="csv", flt=narrowed, rows=1
        )
        listed = await store.read(exports.list_records, w.tenant, before=None, limit=10)
        assert [r.id for r in listed] == [two.id, one.id]
        assert listed[0].filter == '{"status":"open"}'
        assert await store.read(exports.list_records, w.other_tenant, before=None, limit=10) == []

    run(store_url, scenario)


def test_erasure_removes_surveys_comments_and_records_naming_the_visitor(store_url: str) -> None:
    """Erasing a visitor deletes their surveys (comments included), the survey's email job and the export
    records naming them, and keeps other visitors' and tenant-wide records."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "help"))["conversation_id"]
        await resolve(store, w, c)
        await rate(store, w, c, 1, "my-private-complaint")
        kept = (await say(store, w, w.carol, "hi"))["conversation_id"]
        for flt in (
            exports.ExportFilter(conversation_id=c),
            exports.ExportFilter(conversation_id=kept),
            exports.ExportFilter(),
        ):
            await store.write(
                exports.record_export, w.tenant, agent_id=w.admin, kind="conversation", format="json", flt=flt, rows=1
            )
        assert len(await rows(store, "SELECT * FROM jobs WHERE kind = 'csat.email'")) == 1  # the survey's email
        await store.write(visitors.erase_visitor, w.tenant, w.alice)
        assert await rows(store, "SELECT * FROM csat_surveys") == []
        assert await rows(store, "SELECT * FROM jobs WHERE kind = 'csat.email'") == []
        left = await rows(store, "SELECT filter FROM export_records ORDER BY id")
        assert [r["filter"] for r in left] == [f'{{"conversation_id":{kept}}}', "{}"]
        text = str(await rows(store, "SELECT * FROM events"))
        assert "my-private-complaint" not in text

    run(store_url, scenario)


def test_export_details_carry_attachment_metadata(store_url: str) -> None:
    """A message's attachment is in the export's details: on the message and in the conversation's list."""
    from frontdesk.server.store import files, messages

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "help"))["conversation_id"]
        await store.write(
            files.add_file,
            w.tenant,
            file_id="f_invoice",
            uploader_kind="visitor",
            uploader_id=w.alice,
            name="invoice.pdf",
            mime="application/pdf",
            size=1234,
            sha256="ab" * 32,
            width=None,
            height=None,
            thumb_sha256=None,
            thumb_mime=None,
            status="ready",
            now=T0,
            expire_at=T0 + HOUR,
        )
        await store.write(
            messages.post_message,
            w.tenant,
            author_kind="visitor",
            author_id=w.alice,
            conversation_id=c,
            client_id="with-file",
            body="here it is",
            attachment_ids=["f_invoice"],
        )
        details = (await store.read(exports.conversation_details, [c], include_notes=True))[c]
        assert [a["name"] for a in details["attachments"]] == ["invoice.pdf"]
        assert [m["attachments"][0]["mime"] for m in details["messages"] if m["attachments"]] == ["application/pdf"]

    run(store_url, scenario)
