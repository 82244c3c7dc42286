"""``GET /v1/csat?t=…``: the small page an emailed survey link opens (PROTOCOL.md, "Satisfaction surveys").

The ``websockets`` server answers GET only, so the page's form submits with GET too: the token, the rating and
the comment travel in the query of ``/v1/csat?t=…&rating=…&comment=…`` (docs/ARCHITECTURE.md, "HTTP beside the
socket"). The link's token is random and only its hash is stored (like visitor tokens), so a link cannot be
forged or guessed; it is good once and until its expiry (store ``csat.submit_by_link``). Used twice: 409;
expired: 410; unknown: 404; each a page that says so.
"""

from __future__ import annotations

import html
import http
import secrets
import urllib.parse
from collections.abc import Callable
from typing import Final

from . import auth
from .exceptions import ProtocolError
from .store import Store
from .store import csat as store_csat

__all__ = ["CSAT_PATH", "LINK_TTL_MS", "issue_survey_link", "survey_page"]

CSAT_PATH: Final = "/v1/csat"
#: How long an emailed survey link stays good (never past the survey's own window).
LINK_TTL_MS: Final = 24 * 3600 * 1000
_STATUS: Final = {
    "used": http.HTTPStatus.CONFLICT,
    "expired": http.HTTPStatus.GONE,
    "unknown": http.HTTPStatus.NOT_FOUND,
}


async def issue_survey_link(
    store: Store, tenant_id: int, survey_id: int, *, public_url: str, now_ms: int, ttl_ms: int = LINK_TTL_MS
) -> str:
    """A new link to survey ``survey_id`` (what an email carries): a random token whose hash the survey keeps.
    Issuing again replaces the previous link."""
    token = secrets.token_urlsafe(24)
    await store.write(
        store_csat.issue_link, tenant_id, survey_id, token_hash=auth.token_hash(token), expires_at=now_ms + ttl_ms
    )
    return f"{public_url.rstrip('/')}{CSAT_PATH}?t={token}"


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
        "label{margin-right:1rem}textarea{width:100%;min-height:5rem}button{margin-top:1rem;padding:.5rem 1rem}</style>"
        f"<h1>{html.escape(title)}</h1>{body}</html>"
    ).encode()


def _form(token: str, scale: str) -> str:
    stars = [(n, "★" * n) for n in range(5, 0, -1)]
    choices = [(1, "👍 Good"), (0, "👎 Bad")] if scale == "thumbs" else stars
    radios = "".join(
        f"<label><input type=radio name=rating value={n} required> <span aria-label='{n}'>{html.escape(text)}</span>"
        "</label>"
        for n, text in choices
    )
    return (
        f"<form method=get action='{CSAT_PATH}'><input type=hidden name=t value='{html.escape(token, quote=True)}'>"
        f"<p>How did we do?</p><p>{radios}</p>"
        "<p><label for=comment>Anything to add? (optional)</label><br>"
        "<textarea id=comment name=comment maxlength=1000></textarea></p>"
        "<button type=submit>Send</button></form>"
    )


async def survey_page(store: Store, query: str, now_ms: Callable[[], int]) -> tuple[http.HTTPStatus, bytes]:
    """The status and HTML of ``GET /v1/csat?<query>``: the form, the thanks, or why the link is refused."""
    params = urllib.parse.parse_qs(query)
    token = params.get("t", [""])[0]
    rating_text = params.get("rating", [""])[0]
    comment = params.get("comment", [""])[0][:1000] or None
    token_hash = auth.token_hash(token) if 0 < len(token) <= 100 else ""
    try:
        if not rating_text:
            survey = await store.read(store_csat.link_survey, token_hash, now_ms())
            return http.HTTPStatus.OK, _page("Rate your conversation", _form(token, survey.scale))
        if not (rating_text.isascii() and rating_text.isdigit() and len(rating_text) == 1):
            return http.HTTPStatus.BAD_REQUEST, _page("That rating is not valid", "<p>Go back and pick one.</p>")
        await store.write(store_csat.submit_by_link, token_hash, rating=int(rating_text), comment=comment, now=now_ms())
    except store_csat.LinkRefused as refused:
        return _STATUS[refused.reason], _page("This link cannot be used", f"<p>{html.escape(refused.message)}.</p>")
    except ProtocolError as exc:  # a rating off the survey's scale
        return http.HTTPStatus.BAD_REQUEST, _page("That rating is not valid", f"<p>{html.escape(exc.message)}.</p>")
    return http.HTTPStatus.OK, _page("Thank you!", "<p>Your rating was saved.</p>")
