"""Search across every status: the cache first, then the server (issue 13, item 2).

Qt-free. A search answers twice: at once from the local cache (instant, and
the only answer offline), then merged with the server's ``search`` reply,
which reaches what the cache does not hold (older history, conversations
never synced). Merging keeps one hit per conversation, the newer of the two
matches, newest match first.

A search covers every status unless a *scope* narrows it to one of the
inbox filters (``FILTERS``): ``open``, ``pending`` and ``resolved`` narrow
the server's query too; ``mine`` and ``unassigned`` are applied to the
merged rows (the server has no such parameter).

Snippets and highlights are plain text and ``[start, end)`` code-point
offsets: the server sends them; for cache hits they are made here with the
protocol's own rule (``protocol.search_snippet``), so both look alike.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from frontdesk.server import protocol

from .cache import Cache
from .exceptions import OfflineError, ServerError
from .rows import FILTERS, AgentRow, ConversationRow, matches_filter

__all__ = ["SearchHit", "SearchResults", "SearchSource", "SearchState", "Searcher", "cache_hits", "merge"]

log = logging.getLogger("frontdesk.console.search")

#: Scopes the server can narrow by itself (its ``status`` field).
_SERVER_STATUSES = frozenset(protocol.SEARCH_STATUSES)


class SearchState(enum.Enum):
    """How complete a :class:`SearchResults` is."""

    SEARCHING = "searching"  #: the cache's hits; the server is being asked
    COMPLETE = "complete"  #: the cache's and the server's hits, merged
    OFFLINE = "offline"  #: the cache's hits only: not connected
    FAILED = "failed"  #: the cache's hits only: the server's search failed (see ``detail``)


@dataclasses.dataclass(frozen=True, slots=True)
class SearchHit:
    """One conversation found, with a plain-text snippet of its newest match."""

    conversation: ConversationRow
    snippet: str  #: plain text, one line
    highlights: tuple[tuple[int, int], ...]  #: [start, end) code-point offsets into ``snippet``
    matched_at: int  #: ms: when the matching message was written (or the last activity, for a name match)
    from_server: bool  #: found by the server (the cache may not hold the message)


@dataclasses.dataclass(frozen=True, slots=True)
class SearchResults:
    """What a search found so far."""

    text: str
    scope: str  #: "all", or the inbox filter that narrows it
    hits: tuple[SearchHit, ...]
    state: SearchState
    detail: str = ""  #: why the server did not answer (FAILED)
    next_before: str | None = None  #: the server has more (older matches): pass to :meth:`Searcher.more`

    @property
    def from_cache_only(self) -> bool:
        """True when the server's answer is missing (offline or failed)."""
        return self.state in (SearchState.OFFLINE, SearchState.FAILED)


class SearchSource(Protocol):
    """What a :class:`Searcher` needs of the core."""

    @property
    def cache(self) -> Cache: ...

    @property
    def me(self) -> AgentRow | None: ...

    async def search(
        self, text: str, *, status: str | None = None, before: str | None = None, limit: int = 20
    ) -> protocol.SearchResult: ...


def cache_hits(cache: Cache, text: str, scope: str = "all", me: int | None = None, limit: int = 50) -> list[SearchHit]:
    """The cache's hits for ``text`` in ``scope``, newest match first."""
    words = protocol.search_words(text)
    hits = []
    for row, body, at in cache.search_hits(text, scope, me, limit):
        if body is None:  # the visitor's name or email matched: show the last message
            snippet, spans = protocol.search_snippet(row.preview, words)
        else:
            snippet, spans = protocol.search_snippet(body, words)
        hits.append(
            SearchHit(
                conversation=row,
                snippet=snippet,
                highlights=tuple((a, b) for a, b in spans),
                matched_at=at if at is not None else row.last_activity,
                from_server=False,
            )
        )
    hits.sort(key=_newest_first)
    return hits


def _row_of(cache: Cache, conversation: protocol.ConversationWithVisitor) -> ConversationRow:
    """The cached row (pending actions applied), else one built from the server's object."""
    row = cache.conversation(conversation.id)
    if row is not None:
        return row
    return ConversationRow(
        id=conversation.id,
        visitor_id=conversation.visitor_id,
        visitor_name=conversation.visitor.display_name,
        visitor_email=conversation.visitor.email,
        status=conversation.status,
        assignee_id=conversation.assignee_id,
        assignee_name=None,
        preview=conversation.preview,
        created_at=conversation.created_at,
        last_activity=conversation.last_activity,
        last_seq=conversation.last_seq,
        unread=conversation.unread_agent,
        pending_actions=0,
        failed_actions=0,
        visitor_user_id=conversation.visitor.user_id,
        visitor_verified=conversation.visitor.verified,
    )


def server_hits(cache: Cache, result: protocol.SearchResult) -> list[SearchHit]:
    """The server's hits as :class:`SearchHit`, with the cache's rows."""
    return [
        SearchHit(
            conversation=_row_of(cache, hit.conversation),
            snippet=hit.match.snippet,
            highlights=tuple((int(a), int(b)) for a, b in hit.match.highlights),
            matched_at=hit.match.created_at,
            from_server=True,
        )
        for hit in result.hits
    ]


def _newest_first(hit: SearchHit) -> tuple[int, int]:
    return (-hit.matched_at, -hit.conversation.id)


def merge(*lists: Iterable[SearchHit]) -> list[SearchHit]:
    """One hit per conversation (the newest match of any list; the cache's
    row wins for the conversation itself, since it has this console's
    pending actions applied), newest match first."""
    best: dict[int, SearchHit] = {}
    rows: dict[int, ConversationRow] = {}
    for hits in lists:
        for hit in hits:
            cid = hit.conversation.id
            if not hit.from_server or cid not in rows:
                rows[cid] = hit.conversation
            if cid not in best or hit.matched_at > best[cid].matched_at:
                best[cid] = hit
    merged = [dataclasses.replace(hit, conversation=rows[cid]) for cid, hit in best.items()]
    merged.sort(key=_newest_first)
    return merged


class Searcher:
    """Runs the agent's searches, one at a time: starting one makes the
    answers of any earlier one that is still running be dropped."""

    def __init__(self, source: SearchSource, *, limit: int = 50) -> None:
        self._source = source
        self._limit = limit
        self._generation = 0

    def cancel(self) -> None:
        """Drop the answers of a search still running (the box was cleared)."""
        self._generation += 1

    async def run(self, text: str, scope: str, on_results: Callable[[SearchResults], None]) -> SearchResults | None:
        """Search ``text`` in ``scope`` (``"all"`` or one of ``FILTERS``):
        ``on_results`` gets the cache's hits at once, then the merged hits
        (or the cache's again, marked offline or failed). Returns the last
        results, or None when a newer search superseded this one."""
        if scope not in FILTERS:
            raise ValueError(f"unknown scope {scope!r}")
        self._generation += 1
        generation = self._generation
        me = self._source.me.id if self._source.me is not None else None
        cache = self._source.cache
        local = cache_hits(cache, text, scope, me, self._limit)
        if not protocol.search_words(text):  # nothing the server could search for (a name fragment like "@")
            results = SearchResults(text, scope, tuple(local), SearchState.COMPLETE)
            on_results(results)
            return results
        on_results(SearchResults(text, scope, tuple(local), SearchState.SEARCHING))
        status = scope if scope in _SERVER_STATUSES else None
        try:
            reply = await self._source.search(text, status=status, limit=min(self._limit, 100))
        except OfflineError:
            results = SearchResults(text, scope, tuple(local), SearchState.OFFLINE)
        except ServerError as exc:
            log.warning("the server's search failed: %s", exc)
            results = SearchResults(text, scope, tuple(local), SearchState.FAILED, exc.message or exc.code)
        else:
            if generation != self._generation:
                return None
            remote = [h for h in server_hits(cache, reply) if _in_scope(h.conversation, scope, me)]
            # The rows of the cache's hits may have changed while the server answered: read them again.
            local = cache_hits(cache, text, scope, me, self._limit)
            results = SearchResults(
                text, scope, tuple(merge(local, remote)), SearchState.COMPLETE, next_before=reply.next_before
            )
        if generation != self._generation:
            return None
        on_results(results)
        return results

    async def more(self, results: SearchResults, on_results: Callable[[SearchResults], None]) -> SearchResults | None:
        """The server's next page of ``results`` (older matches) merged into
        them and reported; ``results`` unchanged when there is no next page.
        Offline or refused, the hits stay and no next page is offered."""
        if results.next_before is None:
            return results
        generation = self._generation
        status = results.scope if results.scope in _SERVER_STATUSES else None
        me = self._source.me.id if self._source.me is not None else None
        try:
            reply = await self._source.search(
                results.text, status=status, before=results.next_before, limit=min(self._limit, 100)
            )
        except OfflineError:
            new = dataclasses.replace(results, state=SearchState.OFFLINE, next_before=None)
        except ServerError as exc:
            log.warning("the server's search failed: %s", exc)
            new = dataclasses.replace(
                results, state=SearchState.FAILED, detail=exc.message or exc.code, next_before=None
            )
        else:
            remote = [h for h in server_hits(self._source.cache, reply) if _in_scope(h.conversation, results.scope, me)]
            new = dataclasses.replace(results, hits=tuple(merge(results.hits, remote)), next_before=reply.next_before)
        if generation != self._generation:
            return None
        on_results(new)
        return new


def _in_scope(row: ConversationRow, scope: str, me: int | None) -> bool:
    return matches_filter(scope, (row.status, row.assignee_id), me)
