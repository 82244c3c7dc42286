"""Satisfaction surveys in the cache (PROTOCOL.md, "Satisfaction surveys"): kept from ``csat.requested``
and ``csat.submitted`` (:func:`apply_csat`, on the writer thread), read for the thread's header and the
visitor pane (:class:`._csat_reads.CsatMixin`). Erasure drops a visitor's with their conversations
(``_apply``'s ``visitor.erased``)."""

from __future__ import annotations

from typing import Final

from frontdesk.server.protocol import Csat

from ._schema import Db

__all__ = ["CSAT_COLUMNS", "apply_csat", "rating_text"]

CSAT_COLUMNS: Final = ("id", "conversation_id", "agent_id", "scale", "rating", "comment", "created_at", "rated_at")


def apply_csat(db: Db, survey: Csat) -> None:
    """Store the survey as it is now (a replayed older event never overwrites a newer rating)."""
    db.execute(
        f"INSERT INTO csat ({', '.join(CSAT_COLUMNS)}) VALUES ({', '.join('?' * len(CSAT_COLUMNS))})"  # noqa: S608
        " ON CONFLICT (id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment,"
        " rated_at = excluded.rated_at WHERE coalesce(excluded.rated_at, 0) >= coalesce(csat.rated_at, 0)",
        [getattr(survey, c) for c in CSAT_COLUMNS],
    )


def rating_text(scale: str, rating: int | None) -> str:
    """A rating as the console shows it: ★★★★☆, 👍 or 👎, or "not rated yet"."""
    if rating is None:
        return "not rated yet"
    if scale == "thumbs":
        return "👍" if rating else "👎"
    return "★" * rating + "☆" * (5 - rating)
