"""The cache's reads of satisfaction surveys (the rules that store them are in :mod:`._csat`)."""

from __future__ import annotations

from collections.abc import Iterable

from frontdesk.server.protocol import Csat

from ..rows import CsatRow
from ._csat import CSAT_COLUMNS, apply_csat
from ._schema import Db
from ._writer import Store

__all__ = ["CsatMixin"]


class CsatMixin(Store):
    """The cache's reads of surveys, and storing those a ``csat.list`` brought."""

    async def store_csat(self, surveys: Iterable[Csat]) -> None:
        items = list(surveys)

        def job(db: Db) -> None:
            for survey in items:
                apply_csat(db, survey)

        await self.write(job)

    def _csat_rows(self, where: str, param: int) -> list[CsatRow]:
        rows = self._db.execute(
            f"SELECT s.{', s.'.join(CSAT_COLUMNS)}, a.name FROM csat s LEFT JOIN agents a ON a.id = s.agent_id"  # noqa: S608
            f" WHERE {where} ORDER BY s.id DESC",
            [param],
        ).fetchall()
        return [CsatRow(*r) for r in rows]

    def conversation_csat(self, conversation_id: int) -> list[CsatRow]:
        """The surveys of a conversation, newest first."""
        return self._csat_rows("s.conversation_id = ?", conversation_id)

    def visitor_csat(self, visitor_id: int) -> list[CsatRow]:
        """The surveys of a visitor's cached conversations, newest first."""
        return self._csat_rows("s.conversation_id IN (SELECT id FROM conversations WHERE visitor_id = ?)", visitor_id)
