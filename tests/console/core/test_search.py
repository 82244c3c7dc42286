"""Search across every status (console/core/search.py): the cache first, then the server, merged. No Qt."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from frontdesk.console.core import AgentRow, Cache, OfflineError, ServerError, cache_path
from frontdesk.console.core.search import Searcher, SearchResults, SearchState, cache_hits, merge
from frontdesk.server import protocol

from tests.console import wireobj as W
from tests.support import RunningServer, WsClient, new_client_id

from .conftest import arun, make_core, online, wait_until
from .test_cache import NOW, conv, msg

ME = AgentRow(id=2, email="ada@example.com", name="Ada", role="admin", active=True, online=True)


@pytest.fixture
def cache(tmp_path: Path) -> Any:
    """A cache with an open, a pending (assigned to me) and a resolved conversation about a PDF."""
    c = Cache.open(cache_path(tmp_path, "http://127.0.0.1:9", "ada@example.com"))
    convs = [
        conv(1, activity=3, preview="where is my parcel"),
        conv(2, status="pending", assignee=2, activity=2, preview="the PDF"),
        conv(3, status="resolved", activity=1, visitor={"id": 103, "name": "Pdf Fan", "email": None}),
    ]
    arun(c.apply_snapshot(W.convs(convs), epoch="e", last_event_id=1))
    arun(
        c.store_history(
            W.messages([msg(10, 1, 1, "where is my parcel"), msg(20, 2, 1, "Here is the PDF you asked for")]), []
        )
    )
    yield c
    c.close()


class Source:
    """The core's search surface over a real cache; the server's answer is set per test."""

    def __init__(self, cache: Cache, reply: protocol.SearchResult | Exception) -> None:
        self.cache = cache
        self.me: AgentRow | None = ME
        self.reply = reply
        self.asked: list[tuple[str, str | None]] = []
        self.gate: asyncio.Event | None = None

    async def search(
        self, text: str, *, status: str | None = None, before: str | None = None, limit: int = 20
    ) -> protocol.SearchResult:
        self.asked.append((text, status))
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


def _server_hit(cid: int, body: str, at: int, status: str = "resolved") -> protocol.SearchHit:
    visitor = {
        "id": cid + 100, "name": None, "email": None, "display_name": f"Visitor #{cid + 100}", "user_id": None,
        "verified": False, "browser": None, "os": None, "language": None, "timezone": None, "page_url": None,
        "page_title": None, "referrer": None, "first_seen": NOW, "last_seen": NOW,
    }  # fmt: skip
    conversation = {**conv(cid, status=status), "visitor": visitor}
    snippet, spans = protocol.search_snippet(body, ["pdf"])
    return protocol.SearchHit(
        conversation=protocol.from_wire(protocol.ConversationWithVisitor, conversation),
        match=protocol.SearchMatch(
            kind="message", id=cid, seq=1, author_kind="visitor", created_at=at, snippet=snippet, highlights=spans
        ),
    )


def _run(source: Source, text: str, scope: str = "all") -> list[SearchResults]:
    seen: list[SearchResults] = []
    arun(Searcher(source).run(text, scope, seen.append))
    return seen


def test_the_cache_answers_across_every_status_with_highlights(cache: Cache) -> None:
    """Cache hits cover every status: a message match with its words marked, and a name match with the preview."""
    hits = cache_hits(cache, "pdf")
    assert [(h.conversation.id, h.snippet, h.highlights) for h in hits] == [
        (2, "Here is the PDF you asked for", ((12, 15),)),
        (3, "", ()),
    ]
    assert [h.conversation.id for h in cache_hits(cache, "pdf", "pending")] == [2]
    assert [h.conversation.id for h in cache_hits(cache, "pdf", "mine", me=2)] == [2]


def test_results_come_from_the_cache_first_then_merged_with_the_server(cache: Cache) -> None:
    """First the cache's hits (searching), then one list with the server's: no duplicate, newest match first."""
    reply = protocol.SearchResult(
        hits=[_server_hit(9, "an old PDF", NOW - 10**9), _server_hit(2, "PDF again", NOW + 50_000, "pending")],
        next_before=None,
    )
    source = Source(cache, reply)
    first, last = _run(source, "pdf")
    assert first.state is SearchState.SEARCHING and [h.conversation.id for h in first.hits] == [2, 3]
    assert last.state is SearchState.COMPLETE and not last.from_cache_only
    assert [(h.conversation.id, h.from_server) for h in last.hits] == [(2, True), (3, False), (9, True)]
    assert last.hits[0].snippet == "PDF again"
    assert last.hits[0].conversation.assignee_id == 2  # the cache's row, pending actions and all
    assert source.asked == [("pdf", None)]


def test_a_status_tab_narrows_the_server_query_and_mine_narrows_the_rows(cache: Cache) -> None:
    """Scope pending asks the server for pending only; scope mine filters the server's rows itself."""
    source = Source(cache, protocol.SearchResult(hits=[_server_hit(9, "a PDF", NOW)], next_before=None))
    assert [h.conversation.id for h in _run(source, "pdf", "pending")[-1].hits] == [2]
    assert [h.conversation.id for h in _run(source, "pdf", "mine")[-1].hits] == [2]
    assert source.asked == [("pdf", "pending"), ("pdf", None)]


@pytest.mark.parametrize(
    ("error", "state"), [(OfflineError(), SearchState.OFFLINE), (ServerError("invalid", "nope"), SearchState.FAILED)]
)
def test_without_the_server_the_cache_hits_stay_and_say_so(cache: Cache, error: Exception, state: SearchState) -> None:
    """Offline or refused, the results are the cache's, marked as from the cache only."""
    last = _run(Source(cache, error), "parcel")[-1]
    assert last.state is state and last.from_cache_only
    assert [h.conversation.id for h in last.hits] == [1]


def test_a_newer_search_drops_the_answers_of_an_older_one(cache: Cache) -> None:
    """Results of a search overtaken by another are never reported."""

    async def main() -> list[str]:
        source = Source(cache, protocol.SearchResult(hits=[], next_before=None))
        source.gate = asyncio.Event()
        searcher = Searcher(source)
        seen: list[SearchResults] = []
        older = asyncio.ensure_future(searcher.run("pdf", "all", seen.append))
        await wait_until(lambda: len(source.asked) == 1)
        searcher.cancel()
        source.gate.set()
        assert await older is None
        return [r.state.value for r in seen]

    assert arun(main()) == ["searching"]


def test_merge_keeps_the_newest_match_of_each_conversation(cache: Cache) -> None:
    """merge() holds each conversation once, with its newest match."""
    local = cache_hits(cache, "pdf")
    again = [h for h in local if h.conversation.id == 2]
    assert [h.conversation.id for h in merge(local, again, local)] == [2, 3]


def test_core_search_stores_what_the_cache_lacked(server: RunningServer, data_dir: Path) -> None:
    """ConsoleCore.search asks the server, and a conversation missing from the cache is cached from the hit."""

    async def main() -> None:
        visitor, _ = await WsClient.visitor(server)
        cid = (await visitor.request("message.send", client_id=new_client_id(), body="Please resend the PDF"))[
            "conversation_id"
        ]
        core, _ = make_core(server, data_dir)
        await core.login(server.admin_email, server.admin_password, remember=False)
        await core.start()
        await online(core)
        await wait_until(lambda: core.cache.conversation(cid) is not None, what="the conversation cached")
        await core.cache.write(lambda db: db.execute("DELETE FROM conversations WHERE id = ?", [cid]))
        result = await core.search("pdf")
        assert [h.conversation.id for h in result.hits] == [cid]
        assert [result.hits[0].match.snippet[a:b] for a, b in result.hits[0].match.highlights] == ["PDF"]
        assert core.cache.conversation(cid) is not None
        with pytest.raises(ServerError):
            await core.search("***")
        await core.stop()
        await visitor.close()

    arun(main())


def test_more_merges_the_servers_next_page(cache: Cache) -> None:
    """more() asks the server for the page before ``next_before`` and merges it in; then there is no more."""

    async def main() -> tuple[SearchResults | None, SearchResults | None, list[tuple[str, str | None]]]:
        source = Source(cache, protocol.SearchResult(hits=[_server_hit(8, "PDF", NOW - 10**8)], next_before="41"))
        searcher = Searcher(source)
        first = await searcher.run("pdf", "all", lambda r: None)
        assert first is not None and first.next_before == "41"
        source.reply = protocol.SearchResult(
            hits=[_server_hit(2, "old PDF", NOW - 10**9, "pending"), _server_hit(9, "older PDF", NOW - 10**9)],
            next_before=None,
        )
        second = await searcher.more(first, lambda r: None)
        return first, second, source.asked

    first, second, asked = arun(main())
    assert first is not None and second is not None
    assert [h.conversation.id for h in first.hits] == [2, 3, 8]
    assert [h.conversation.id for h in second.hits] == [2, 3, 8, 9]  # 2 keeps its newer match
    assert second.next_before is None and second.state is SearchState.COMPLETE
    assert asked == [("pdf", None), ("pdf", None)]


def test_core_search_finds_a_conversation_by_a_custom_attribute(server: RunningServer, data_dir: Path) -> None:
    """A visitor whose cached row lacks their attributes (cached by an older console, say) is refreshed by the
    search's visitor.find, so the cache's hits, read again after the server answers, include the conversation."""

    async def main() -> None:
        visitor, hello = await WsClient.visitor(server)
        vid = hello["visitor"]["id"]
        cid = (await visitor.request("message.send", client_id=new_client_id(), body="Hello"))["conversation_id"]
        await visitor.request("attributes.set", attributes={"plan": "Platinum"})
        core, _ = make_core(server, data_dir)
        await core.login(server.admin_email, server.admin_password, remember=False)
        await core.start()
        await online(core)
        await wait_until(lambda: core.cache.conversation(cid) is not None, what="the conversation cached")
        await core.cache.write(lambda db: db.execute("UPDATE visitors SET attributes = NULL WHERE id = ?", [vid]))
        assert core.cache.conversations("all", "platinum", None, 50) == []
        found = await Searcher(core).run("platinum", "all", lambda _results: None)
        assert found is not None and [h.conversation.id for h in found.hits] == [cid]
        cached = core.cache.visitor(vid)
        assert cached is not None and cached.attributes["plan"].value == "Platinum"
        await core.stop()
        await visitor.close()

    arun(main())


def test_core_search_finds_an_uncached_visitors_conversation_by_attribute(
    server: RunningServer, data_dir: Path
) -> None:
    """A visitor matched by an attribute value whose conversations the cache does not hold at all (never
    synced, or dropped) is found: the search asks visitor.find, then fetches that visitor's conversations
    (visitor.get), and the merged results list it; an unmatched visitor's conversation stays out."""

    async def main() -> None:
        visitor, hello = await WsClient.visitor(server)
        vid = hello["visitor"]["id"]
        cid = (await visitor.request("message.send", client_id=new_client_id(), body="Hello"))["conversation_id"]
        await visitor.request("attributes.set", attributes={"plan": "Osmium", "orders": 12})
        other, _ = await WsClient.visitor(server)
        other_cid = (await other.request("message.send", client_id=new_client_id(), body="Hi"))["conversation_id"]
        await other.request("attributes.set", attributes={"plan": "Free"})
        core, _ = make_core(server, data_dir)
        await core.login(server.admin_email, server.admin_password, remember=False)
        await core.start()
        await online(core)
        await wait_until(lambda: core.cache.conversation(other_cid) is not None, what="the conversations cached")

        def forget(db: Any) -> None:  # as if this console had never synced them
            db.execute("DELETE FROM items WHERE conversation_id IN (?, ?)", [cid, other_cid])
            db.execute("DELETE FROM conversations WHERE id IN (?, ?)", [cid, other_cid])
            db.execute("DELETE FROM visitors WHERE id = ?", [vid])

        await core.cache.write(forget)
        assert core.cache.conversation(cid) is None and cache_hits(core.cache, "osmium") == []
        found = await Searcher(core).run("osmium", "all", lambda _results: None)
        assert found is not None and found.state is SearchState.COMPLETE
        assert [h.conversation.id for h in found.hits] == [cid]
        assert core.cache.conversation(cid) is not None  # stored: the hit opens like any conversation
        assert core.cache.conversation(other_cid) is None
        await core.stop()
        await visitor.close()
        await other.close()

    arun(main())
