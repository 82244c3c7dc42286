"""Satisfaction surveys (CSAT): one per resolution episode (migration 0018).

A survey is opened by the resolve that ends an episode
(:func:`conversations.change_status` calls :func:`open_survey` in its own
transaction), stored with the agent who handled the conversation, and
announced to the visitor and the agents as ``csat.requested``. The visitor
rates it on the socket (:func:`submit`) or through an emailed link
(:func:`issue_link`, :func:`submit_by_link`); either may change the rating
until the survey's ``expires_at``, and each rating is announced as
``csat.submitted``. Erasing the visitor deletes their surveys, comments
included (:mod:`.visitors`).
"""

from __future__ import annotations

import datetime as dt
from typing import Final, NamedTuple

from .. import protocol
from ..exceptions import Conflict, NotFound, ProtocolError
from ..protocol import ErrorCode
from . import jobs
from . import mail as mail_ops
from ._sql import Row, Tx
from .events import append_event

__all__ = [
    "EMAIL_JOB",
    "RATINGS",
    "EmailTarget",
    "LinkRefused",
    "SurveyAsk",
    "email_target",
    "issue_link",
    "link_survey",
    "open_survey",
    "queue_link_email",
    "submit",
    "submit_by_link",
    "surveys",
    "transcript_text",
]

#: The job that emails an unrated survey's link to a visitor who was not there (server/csat_mail.py).
EMAIL_JOB: Final = "csat.email"
#: The ratings each scale accepts.
RATINGS: Final = {"five": range(1, 6), "thumbs": range(0, 2)}


class SurveyAsk(NamedTuple):
    """A resolve's request for a survey: the tenant's scale, the time, how long a rating may be given, and
    after how long an unrated survey goes to the visitor by email instead (the ``csat.email`` job)."""

    scale: str  #: five or thumbs
    now: int
    window_ms: int
    email_after_ms: int = 10 * 60_000


class EmailTarget(NamedTuple):
    """Whom an unrated survey's email goes to (:func:`email_target`)."""

    tenant_id: int
    survey_id: int
    visitor_id: int
    email: str
    expires_at: int


class LinkRefused(Conflict):
    """An emailed survey link that cannot be used: ``reason`` is ``used``, ``expired`` or ``unknown``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _obj(row: Row) -> protocol.Csat:
    return protocol.Csat(
        id=row["id"],
        conversation_id=row["conversation_id"],
        agent_id=row["agent_id"],
        scale=row["scale"],
        rating=row["rating"],
        comment=row["comment"],
        created_at=row["created_at"],
        rated_at=row["rated_at"],
        expires_at=row["expires_at"],
    )


def _announce(tx: Tx, tenant_id: int, kind: str, row: Row) -> protocol.Csat:
    csat = _obj(row)
    append_event(
        tx,
        tenant_id,
        kind,
        csat,
        conversation_id=row["conversation_id"],
        visitor_id=row["visitor_id"],
        visitor_payload=csat,
    )
    return csat


def open_survey(
    tx: Tx,
    tenant_id: int,
    conversation: Row,
    *,
    agent_id: int | None,
    episode: int,
    scale: str,
    now: int,
    window_ms: int,
    email_after_ms: int = 10 * 60_000,
) -> protocol.Csat:
    """Open the survey of the resolution ``episode`` (the resolving event's id) of ``conversation`` (its row
    after the resolve), and announce it (``csat.requested``)."""
    row = tx.one(
        "INSERT INTO csat_surveys (tenant_id, conversation_id, visitor_id, agent_id, episode, scale, created_at,"
        " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (tenant_id, conversation["id"], conversation["visitor_id"], agent_id, episode, scale, now, now + window_ms),
    )
    assert row is not None
    # Still unrated after a while: the visitor was not there; the job emails them the link (if it can).
    jobs.enqueue(
        tx,
        EMAIL_JOB,
        {"survey_id": row["id"]},
        now=now,
        due_at=now + email_after_ms,
        tenant_id=tenant_id,
        visitor_id=conversation["visitor_id"],
    )
    return _announce(tx, tenant_id, "csat.requested", row)


def _rate(tx: Tx, tenant_id: int, survey: Row, rating: int, comment: str | None, now: int) -> protocol.Csat:
    if survey["expires_at"] <= now:
        raise Conflict("this survey has closed; a rating can be given or changed for a limited time only")
    if rating not in RATINGS[survey["scale"]]:
        allowed = "1 to 5" if survey["scale"] == "five" else "0 (down) or 1 (up)"
        raise ProtocolError(ErrorCode.INVALID, f"this survey takes a rating of {allowed}", field="rating")
    text = comment.strip() if comment else None
    row = tx.one(
        "UPDATE csat_surveys SET rating = ?, comment = ?, rated_at = ? WHERE id = ? RETURNING *",
        (rating, text or None, now, survey["id"]),
    )
    assert row is not None
    return _announce(tx, tenant_id, "csat.submitted", row)


def submit(
    tx: Tx, tenant_id: int, *, visitor_id: int, conversation_id: int, rating: int, comment: str | None, now: int
) -> protocol.Csat:
    """The visitor rates the latest survey of their conversation (or changes its rating). ``NotFound``: no
    survey of theirs; ``Conflict``: the survey has closed, or the rating is not on its scale."""
    survey = tx.one(
        "SELECT * FROM csat_surveys WHERE conversation_id = ? AND tenant_id = ? AND visitor_id = ?"
        " ORDER BY episode DESC LIMIT 1",
        (conversation_id, tenant_id, visitor_id),
    )
    if survey is None:
        raise NotFound(f"no survey for conversation {conversation_id}")
    return _rate(tx, tenant_id, survey, rating, comment, now)


def issue_link(tx: Tx, tenant_id: int, survey_id: int, *, token_hash: str, expires_at: int) -> None:
    """Give the survey an emailed link: the hash of its random token, good once until ``expires_at``."""
    changed = tx.run(
        "UPDATE csat_surveys SET link_hash = ?, link_expires_at = ?, link_used_at = NULL"
        " WHERE id = ? AND tenant_id = ?",
        (token_hash, expires_at, survey_id, tenant_id),
    )
    if not changed:
        raise NotFound(f"no survey {survey_id}")


def _by_link(tx: Tx, token_hash: str, now: int) -> Row:
    survey = tx.one("SELECT * FROM csat_surveys WHERE link_hash = ?", (token_hash,))
    if survey is None:
        raise LinkRefused("unknown", "this survey link is not valid")
    if survey["link_used_at"] is not None:
        raise LinkRefused("used", "this survey link has already been used; thank you for your rating")
    if survey["link_expires_at"] is None or survey["link_expires_at"] <= now or survey["expires_at"] <= now:
        raise LinkRefused("expired", "this survey link has expired")
    return survey


def link_survey(tx: Tx, token_hash: str, now: int) -> protocol.Csat:
    """The survey an emailed link opens, or :class:`LinkRefused`."""
    return _obj(_by_link(tx, token_hash, now))


def submit_by_link(tx: Tx, token_hash: str, *, rating: int, comment: str | None, now: int) -> protocol.Csat:
    """Rate through an emailed link, which is then used up; :class:`LinkRefused` for a link used before, past
    its expiry, or unknown."""
    survey = _by_link(tx, token_hash, now)
    csat = _rate(tx, survey["tenant_id"], survey, rating, comment, now)
    tx.run("UPDATE csat_surveys SET link_used_at = ? WHERE id = ?", (now, survey["id"]))
    return csat


def surveys(
    tx: Tx, tenant_id: int, *, conversation_id: int | None = None, visitor_id: int | None = None, limit: int = 200
) -> list[protocol.Csat]:
    """The surveys of a conversation, or of a visitor's conversations, newest first."""
    if conversation_id is not None:
        rows = tx.all(
            "SELECT * FROM csat_surveys WHERE tenant_id = ? AND conversation_id = ? ORDER BY episode DESC LIMIT ?",
            (tenant_id, conversation_id, limit),
        )
    else:
        rows = tx.all(
            "SELECT * FROM csat_surveys WHERE tenant_id = ? AND visitor_id = ? ORDER BY episode DESC LIMIT ?",
            (tenant_id, visitor_id, limit),
        )
    return [_obj(r) for r in rows]


def latest_survey(tx: Tx, tenant_id: int, conversation_id: int) -> protocol.Csat | None:
    """The newest survey of a conversation (its latest rated resolution), or None."""
    found = surveys(tx, tenant_id, conversation_id=conversation_id, limit=1)
    return found[0] if found else None


def email_target(tx: Tx, survey_id: int, now: int) -> EmailTarget | None:
    """Whom to email survey ``survey_id``'s link: None when it was rated, has closed, its link was sent
    already, or the visitor gave no email address."""
    row = tx.one(
        "SELECT s.*, v.email FROM csat_surveys s JOIN visitors v ON v.id = s.visitor_id WHERE s.id = ?", (survey_id,)
    )
    if row is None or row["rating"] is not None or row["expires_at"] <= now or row["link_hash"] is not None:
        return None
    if not row["email"]:
        return None
    return EmailTarget(row["tenant_id"], row["id"], row["visitor_id"], row["email"], row["expires_at"])


def queue_link_email(
    tx: Tx, target: EmailTarget, message: dict[str, str], *, token_hash: str, expires_at: int, now: int
) -> int:
    """Give the survey its link and queue the email that carries it, in one transaction (the email job
    carries the visitor's id: erasure deletes it); the email job's id."""
    issue_link(tx, target.tenant_id, target.survey_id, token_hash=token_hash, expires_at=expires_at)
    return mail_ops.enqueue_email(tx, target.tenant_id, message, now=now, visitor_id=target.visitor_id)


def transcript_text(tx: Tx, tenant_id: int, visitor_id: int, conversation_id: int) -> tuple[str, str | None]:
    """A conversation of the visitor's as plain text (no notes), and the visitor's email (None: none given).
    ``NotFound`` for a conversation that is not theirs."""
    conv = tx.one(
        "SELECT c.id, v.email FROM conversations c JOIN visitors v ON v.id = c.visitor_id"
        " WHERE c.id = ? AND c.tenant_id = ? AND c.visitor_id = ?",
        (conversation_id, tenant_id, visitor_id),
    )
    if conv is None:
        raise NotFound(f"no conversation {conversation_id}")
    rows = tx.all(
        "SELECT m.author_kind, m.body, m.created_at, m.deleted, a.name AS agent_name FROM messages m"
        " LEFT JOIN agents a ON m.author_kind = 'agent' AND a.id = m.author_id"
        " WHERE m.conversation_id = ? ORDER BY m.seq",
        (conversation_id,),
    )
    lines = []
    for r in rows:
        if r["deleted"]:
            continue
        who = "You" if r["author_kind"] == "visitor" else (r["agent_name"] or "Support")
        stamp = dt.datetime.fromtimestamp(r["created_at"] / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines += [f"[{stamp}] {who}:", r["body"], ""]
    return "\n".join(lines), conv["email"]
