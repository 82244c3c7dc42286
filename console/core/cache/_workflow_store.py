"""The cache's teams, labels and canned responses: the reads and writes the core makes (rules in :mod:`._workflow`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from frontdesk.server.protocol import CannedResponse, Label, Team

from ._schema import Db
from ._workflow import (
    CANNED_COLUMNS,
    drop_canned,
    record_canned_use,
    replace_canned,
    replace_labels,
    replace_teams,
    store_canned,
)
from ._writer import Store

__all__ = ["WorkflowMixin"]


class WorkflowMixin(Store):
    """Teams, labels and canned responses: reads and writes, as methods of :class:`~.Cache`."""

    async def store_workflow(
        self,
        teams: Sequence[Team] | None = None,
        labels: Sequence[Label] | None = None,
        canned: Sequence[CannedResponse] | None = None,
    ) -> None:
        """Replace the cached teams, labels and/or canned responses with the server's lists."""

        def job(db: Db) -> None:
            if teams is not None:
                replace_teams(db, teams)
            if labels is not None:
                replace_labels(db, labels)
            if canned is not None:
                replace_canned(db, canned)

        await self.write(job)

    async def store_canned_response(self, response: CannedResponse) -> None:
        """One response as this console's ``canned.save`` returned it."""
        await self.write(lambda db: store_canned(db, response))

    async def drop_canned_response(self, canned_id: int) -> None:
        """One response this console deleted."""
        await self.write(lambda db: drop_canned(db, canned_id))

    async def used_canned(self, canned_id: int, now_ms: int) -> None:
        """Count one more use of a canned response by this agent."""
        await self.write(lambda db: record_canned_use(db, canned_id, now_ms))

    def teams(self) -> list[Team]:
        """The tenant's teams, by name."""
        rows = self._db.execute("SELECT id, name, member_ids FROM teams ORDER BY lower(name), id").fetchall()
        return [Team(id=r[0], name=r[1], member_ids=json.loads(r[2])) for r in rows]

    def labels(self) -> list[Label]:
        """The tenant's labels, by name."""
        rows = self._db.execute("SELECT id, name, color FROM labels ORDER BY lower(name), id").fetchall()
        return [Label(id=r[0], name=r[1], color=r[2]) for r in rows]

    def canned_responses(self) -> list[CannedResponse]:
        """Every cached canned response, by shortcut."""
        cols = ", ".join(CANNED_COLUMNS)
        rows = self._db.execute(f"SELECT {cols} FROM canned ORDER BY lower(shortcut), id").fetchall()  # noqa: S608
        return [CannedResponse(**dict(zip(CANNED_COLUMNS, r, strict=True))) for r in rows]

    def canned_uses(self) -> dict[int, int]:
        """How often this agent used each canned response, by id."""
        return {int(r[0]): int(r[1]) for r in self._db.execute("SELECT canned_id, uses FROM canned_uses")}
