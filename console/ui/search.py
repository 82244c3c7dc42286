"""The inbox's search results: a thin Qt model over :mod:`frontdesk.console.core.search`.

The core's :class:`~frontdesk.console.core.search.Searcher` answers from the
cache at once and then with the server's hits merged in; this model shows
whichever answer is the latest, and keeps the rows' conversation data in step
with the change-sets the core announces. The inbox's delegate paints each row,
with the snippet's matched words highlighted (``Roles.HIGHLIGHTS``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from frontdesk.console.core import ConversationChanges
from frontdesk.console.core.search import Searcher, SearchHit, SearchResults, SearchState
from PySide6.QtCore import QAbstractListModel, QCoreApplication, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont

from .formatting import one_line, relative_time
from .models import Roles, _sync_rows, conversation_role_data
from .tasks import spawn

__all__ = ["SearchModel", "search_note"]

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


def search_note(results: SearchResults | None) -> str:
    """The line under the search box: how complete the results are."""
    if results is None:
        return ""
    n = len(results.hits)
    found = (
        QCoreApplication.translate("Search", "1 conversation")
        if n == 1
        else QCoreApplication.translate("Search", "%n conversations", None, n)
    )
    if results.state is SearchState.SEARCHING:
        return QCoreApplication.translate("Search", "{found} in the cache · searching the server…").format(found=found)
    if results.state is SearchState.OFFLINE:
        return QCoreApplication.translate("Search", "{found} · offline: results from the cache only").format(
            found=found
        )
    if results.state is SearchState.FAILED:
        return QCoreApplication.translate("Search", "{found} · results from the cache only ({detail})").format(
            found=found, detail=results.detail
        )
    return found


class SearchModel(QAbstractListModel):
    """The hits of the current search, newest match first (same roles as the inbox)."""

    #: New results arrived (from the cache, or merged with the server's).
    results_changed = Signal()

    def __init__(
        self, searcher: Searcher, parent: QObject | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(parent)
        self._searcher = searcher
        self._clock = clock
        self._hits: list[SearchHit] = []
        self._results: SearchResults | None = None
        self._fetching = False
        self._bold = QFont()
        self._bold.setBold(True)

    @property
    def results(self) -> SearchResults | None:
        """The latest results, or None when no search is shown."""
        return self._results

    def search(self, text: str, scope: str = "all") -> None:
        """Search ``text`` in ``scope`` (``"all"`` or an inbox filter), in the background."""
        spawn(self._searcher.run(text, scope, self._show), name="search")

    def clear(self) -> None:
        """No search: drop the results (and the answers of one still running)."""
        self._searcher.cancel()
        self._show(None)

    def _show(self, results: SearchResults | None) -> None:
        previous = self._results
        self._results = results
        if (
            results is not None
            and previous is not None
            and (previous.text, previous.scope) == (results.text, results.scope)
        ):
            # The same search, more complete: move rows rather than reset
            # (the view keeps its selection and scroll position).
            _sync_rows(self, self._hits, list(results.hits), lambda h: h.conversation.id)
        else:
            self.beginResetModel()
            self._hits = list(results.hits) if results is not None else []
            self.endResetModel()
        self.results_changed.emit()

    async def _more(self, results: SearchResults) -> None:
        try:
            await self._searcher.more(results, self._show)
        finally:
            self._fetching = False

    def apply(self, changes: ConversationChanges) -> None:
        """Keep the shown rows' conversations current; a conversation that
        is gone from the cache (erased) leaves the results."""
        for n in range(len(self._hits) - 1, -1, -1):
            hit = self._hits[n]
            if hit.conversation.id not in changes.rows:
                continue
            row = changes.rows[hit.conversation.id]
            if row is None:
                self.beginRemoveRows(_ROOT, n, n)
                del self._hits[n]
                self.endRemoveRows()
            elif row != hit.conversation:
                self._hits[n] = SearchHit(row, hit.snippet, hit.highlights, hit.matched_at, hit.from_server)
                self.dataChanged.emit(self.index(n, 0), self.index(n, 0))

    def conversation_id(self, row: int) -> int:
        """The conversation shown at ``row`` (0 outside)."""
        return self._hits[row].conversation.id if 0 <= row < len(self._hits) else 0

    def row_of(self, conversation_id: int) -> int | None:
        """The row showing ``conversation_id``, if any."""
        for n, hit in enumerate(self._hits):
            if hit.conversation.id == conversation_id:
                return n
        return None

    # -- Qt overrides

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._hits)

    def canFetchMore(self, parent: _Index) -> bool:
        results = self._results
        return not parent.isValid() and not self._fetching and results is not None and results.next_before is not None

    def fetchMore(self, parent: _Index) -> None:
        """Ask the server for the next page of older matches (when it said it has one)."""
        if not self.canFetchMore(parent) or self._results is None:
            return
        self._fetching = True
        spawn(self._more(self._results), name="search-more")

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._hits) or index.column() != 0:
            return None
        hit = self._hits[index.row()]
        row = hit.conversation
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return row.visitor_name
        if role == Qt.ItemDataRole.ToolTipRole:
            return one_line(hit.snippet, 300)
        if role == Roles.PREVIEW:
            return hit.snippet
        if role == Roles.HIGHLIGHTS:
            return hit.highlights
        if role == Roles.TIME:
            return relative_time(hit.matched_at, int(self._clock() * 1000))
        return conversation_role_data(row, role, self._bold)
