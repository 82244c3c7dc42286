"""Reports in the cache (cache migration 15): the last report fetched per query, so the Reports view shows
figures offline (console/core/reports.py). The report is kept as wire JSON and decoded with
``protocol.from_wire`` when read, as the link decodes it; one a newer console's protocol cannot read is dropped.

A visitor's erasure or another server database drops them all (``_apply``, ``_cache``): a report holds
satisfaction comments, which are visitor data."""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from frontdesk.server.protocol import ReportResult, from_wire

from ._schema import Db
from ._writer import Store

__all__ = ["KEEP_REPORTS", "ReportCacheMixin", "forget_reports"]

log = logging.getLogger("frontdesk.console.cache")

#: How many reports the cache keeps (the most recently fetched): a few ranges and filters per agent, each some
#: tens of kilobytes.
KEEP_REPORTS: Final = 40


def forget_reports(db: Db) -> None:
    """Drop every cached report (an erasure, another server database)."""
    db.execute("DELETE FROM reports")


class ReportCacheMixin(Store):
    """Store and read the cached reports."""

    async def store_report(self, query: str, report: dict[str, Any], fetched_at_ms: int) -> None:
        """Keep ``report`` (wire JSON) as the figures of ``query``, fetched at ``fetched_at_ms``; only the
        :data:`KEEP_REPORTS` most recent stay."""
        text = json.dumps(report, ensure_ascii=False, separators=(",", ":"))

        def job(db: Db) -> None:
            db.execute(
                "INSERT INTO reports (query, report, fetched_at) VALUES (?, ?, ?) ON CONFLICT (query) DO UPDATE SET"
                " report = excluded.report, fetched_at = excluded.fetched_at",
                [query, text, fetched_at_ms],
            )
            db.execute(
                "DELETE FROM reports WHERE query NOT IN (SELECT query FROM reports ORDER BY fetched_at DESC LIMIT ?)",
                [KEEP_REPORTS],
            )

        await self.write(job)

    def cached_report(self, query: str | None = None) -> tuple[str, ReportResult, int] | None:
        """The cached report of ``query`` (None: the most recently fetched one) as ``(query, report,
        fetched_at_ms)``; None when there is none that this console can read."""
        if query is None:
            row = self._db.execute("SELECT query, report, fetched_at FROM reports ORDER BY fetched_at DESC").fetchone()
        else:
            row = self._db.execute("SELECT query, report, fetched_at FROM reports WHERE query = ?", [query]).fetchone()
        if row is None:
            return None
        try:
            report = from_wire(ReportResult, json.loads(row[1]))
        except ValueError as exc:  # written by another version of the protocol
            log.warning("ignoring a cached report this console cannot read: %s", exc)
            return None
        return str(row[0]), report, int(row[2])
