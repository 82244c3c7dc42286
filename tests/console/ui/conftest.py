"""Fixtures for the console UI tests (pytest-qt, offscreen).

- ``aloop``: a qasync loop bound to the running QApplication, so asyncio
  tasks (the core, ``@asyncSlot`` handlers) run whenever pytest-qt spins the
  Qt event loop (``qtbot.waitUntil`` / ``waitSignal``).
- :func:`run`: run a coroutine to completion by waiting on its task with
  ``qtbot.waitUntil`` (never sleeping).
- :class:`FakeCore`: the core's UI-facing surface over a *real* cache
  (``frontdesk.console.core.Cache``) filled with wire-format data; actions go
  through the cache's real outbox so pending/failed states are genuine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from frontdesk.console.core import (
    AgentRow,
    Cache,
    ConnectionState,
    CoreListener,
    ServerError,
    conversation_changes,
    thread_changes,
)
from frontdesk.console.core.cache import Applied
from frontdesk.console.core.collision import Collision
from frontdesk.console.ui._refcount import guard
from frontdesk.console.ui.preferences import Preferences
from frontdesk.server import protocol
from PySide6.QtWidgets import QApplication

from tests.console import wireobj as W
from tests.support import TIMEOUT

_T = TypeVar("_T")

# No display in CI: Qt's offscreen platform, unless the caller chose one (Xvfb).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# PySide6 6.12.0 loses a reference to True/None per signal; without this the
# interpreter aborts once enough signals have fired (see _refcount).
guard()

#: Qt's offscreen platform says what it cannot do (raise a window, grab the
#: keyboard for a popup menu, propagate size hints): not bugs of ours.
OFFSCREEN_NOISE = [r"^This plugin does not support (propagateSizeHints\(\)|raise\(\)|grabbing the keyboard)"]

NOW = 1_764_120_000_000  # ms; a fixed "now" for rows
WAIT_MS = int(TIMEOUT * 1000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/console/ui" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE))


@pytest.fixture
def aloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync event loop marked as running on top of pytest-qt's QApplication."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            gathered = asyncio.gather(*pending, return_exceptions=True)
            deadline = loop.time() + TIMEOUT
            while not gathered.done() and loop.time() < deadline:
                qapp.processEvents()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)


def run(qtbot: Any, coro: Coroutine[Any, Any, _T], timeout_ms: int = WAIT_MS) -> _T:
    """Run ``coro`` on the qasync loop; wait (processing Qt events) until done."""
    task = asyncio.get_event_loop().create_task(coro)
    qtbot.waitUntil(task.done, timeout=timeout_ms)
    return task.result()


# ---------------------------------------------------------------- wire-format data


def agent(id: int, name: str, role: str = "agent", *, online: bool = True, active: bool = True) -> dict[str, Any]:
    """An Agent object as the server sends it."""
    return {
        "id": id,
        "email": f"{name.split()[0].lower()}@example.com",
        "name": name,
        "role": role,
        "active": active,
        "online": online,
    }


def visitor(id: int, name: str | None, **extra: Any) -> dict[str, Any]:
    """A Visitor object as agents see it."""
    base = {
        "id": id,
        "name": name,
        "email": f"{name.split()[0].lower()}@example.org" if name else None,
        "user_id": None,
        "verified": False,
        "browser": "Firefox 133",
        "os": "Ubuntu",
        "language": "en-GB",
        "timezone": "Europe/London",
        "page_url": "https://example.com/pricing",
        "page_title": "Pricing",
        "referrer": "https://duckduckgo.com/",
        "first_seen": NOW - 86_400_000,
        "last_seen": NOW,
    }
    base.update(extra)
    return base


def conversation(
    id: int,
    visitor_name: str | None = None,
    *,
    status: str = "open",
    assignee_id: int | None = None,
    unread: int = 0,
    last_activity: int | None = None,
    preview: str = "Hello!",
    last_seq: int = 1,
    visitor_id: int | None = None,
) -> dict[str, Any]:
    """A Conversation object (with its visitor) as agents see it."""
    vid = visitor_id if visitor_id is not None else id
    return {
        "id": id,
        "visitor_id": vid,
        "status": status,
        "assignee_id": assignee_id,
        "created_at": NOW - 3_600_000,
        "last_activity": last_activity if last_activity is not None else NOW - id * 60_000,
        "last_seq": last_seq,
        "unread_agent": unread,
        "unread_visitor": 0,
        "preview": preview,
        "visitor": visitor(vid, visitor_name),
    }


def message(
    id: int, cid: int, seq: int, body: str, *, kind: str = "visitor", author: str | None = None, at: int | None = None
) -> dict[str, Any]:
    """A Message object."""
    return {
        "id": id,
        "conversation_id": cid,
        "seq": seq,
        "author_kind": kind,
        "author_id": None if kind == "visitor" else 1,
        "author_name": author,
        "body": body,
        "created_at": at if at is not None else NOW - 3_600_000 + seq * 1000,
    }


# ---------------------------------------------------------------- the fake core


class FakeCore:
    """The part of ``ConsoleCore`` the UI uses, over a real :class:`Cache`."""

    def __init__(self, cache: Cache, me: AgentRow) -> None:
        self._cache: Cache | None = cache
        self.me: AgentRow | None = me
        self.state = ConnectionState.ONLINE
        self.outbox_count = 0
        self.last_synced_at: float | None = None
        self.keyring_available = False
        self.focused_conversation: int | None = None
        #: Collision awareness: what the core heard, and the conversation told to the server as viewing.
        self.collision = Collision()
        self.viewing: int | None = None
        self.listeners: list[CoreListener] = []
        self.calls: list[tuple[Any, ...]] = []
        self.config: dict[str, Any] = {
            "business_name": "Example",
            "color": "#2563eb",
            "position": "right",
            "greeting": "Hi there! How can we help?",
            "launcher_label": "Chat with us",
            "away_message": "We're away.",
            "business_hours": {"enabled": False, "timezone": "UTC", "days": {}},
            "prechat": {"enabled": False, "fields": [{"name": "name", "required": False}]},
            "sound": True,
            "allowed_origins": ["example.com"],
            "require_identity": False,
        }
        #: Set to a ServerError to make set_config fail with it.
        self.set_config_error: ServerError | None = None
        #: What ``search`` answers: a SearchResult, or an exception it raises.
        self.search_reply: protocol.SearchResult | Exception = protocol.SearchResult(hits=[], next_before=None)
        #: Replies by the ``before`` cursor asked for, when a test pages (else :attr:`search_reply`).
        self.search_pages: dict[str | None, protocol.SearchResult] = {}

    @property
    def cache(self) -> Cache:
        if self._cache is None:
            raise RuntimeError("no cache")
        return self._cache

    def add_listener(self, listener: CoreListener) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: CoreListener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def emit(self, method: str, *args: Any) -> None:
        """Call ``method`` on every listener, as the core does."""
        for listener in list(self.listeners):
            getattr(listener, method)(*args)

    def announce(self, applied: Applied) -> None:
        """Tell the listeners what a cache write changed, with the core's own change-set."""
        changes = conversation_changes(self.cache, applied)
        if changes is not None:
            self.emit("on_conversations_changed", changes)
        for thread in thread_changes(self.cache, applied):
            self.emit("on_thread_changed", thread)
        if applied.outbox:
            self.outbox_count = self.cache.outbox_count()
            self.emit("on_outbox_changed", self.outbox_count)

    async def _queue(self, action: str, cid: int, payload: dict[str, Any]) -> int:
        oid, applied = await self.cache.queue(action, cid, str(uuid.uuid4()), payload, NOW)  # type: ignore[arg-type]
        self.calls.append((action, cid, *payload.values()))  # after the write, as the core returns
        self.announce(applied)
        return oid

    async def reply(self, cid: int, body: str) -> int:
        return await self._queue("reply", cid, {"body": body})

    async def note(self, cid: int, body: str) -> int:
        return await self._queue("note", cid, {"body": body})

    async def resolve(self, cid: int) -> int:
        return await self._queue("resolve", cid, {})

    #: Exports from the "server" (core/export.py): whether the core would use it, and what it answers.
    exports_from_server = False
    export_body: bytes = b""
    export_error: Exception | None = None

    @contextlib.asynccontextmanager
    async def export_stream(self, route: str, params: Mapping[str, str]) -> AsyncIterator[AsyncIterator[bytes]]:
        self.calls.append(("export_stream", route, dict(params)))
        if self.export_error is not None:
            raise self.export_error
        body = self.export_body

        async def chunks() -> AsyncIterator[bytes]:
            for n in range(0, len(body), 5):
                yield body[n : n + 5]

        yield chunks()

    async def record_export(self, what: str, fmt: str, *, conversation_id: int | None, query: str, rows: int) -> None:
        self.calls.append(("export.record", what, fmt, conversation_id, query, rows))

    async def export_records(self, before: int | None = None) -> list[protocol.ExportEntry]:
        self.calls.append(("export.records", before))
        return [
            protocol.ExportEntry(
                id=1,
                agent_id=1,
                kind="conversations",
                format="csv",
                filter='{"status":"resolved"}',
                rows=12,
                created_at=NOW,
            )
        ]

    async def reopen(self, cid: int) -> int:
        return await self._queue("reopen", cid, {})

    async def pend(self, cid: int) -> int:
        return await self._queue("pend", cid, {})

    async def snooze(self, cid: int, until: int | None) -> int:
        return await self._queue("snooze", cid, {} if until is None else {"until": until})

    async def transfer(
        self, cid: int, *, agent_id: int | None = None, team_id: int | None = None, note: str = ""
    ) -> int:
        payload = {k: v for k, v in (("agent_id", agent_id), ("team_id", team_id), ("note", note)) if v}
        return await self._queue("transfer", cid, payload)

    async def assign(self, cid: int, agent_id: int) -> int:
        return await self._queue("assign", cid, {"agent_id": agent_id})

    async def unassign(self, cid: int) -> int:
        return await self._queue("unassign", cid, {})

    async def add_label(self, cid: int, label_id: int) -> int:
        return await self._queue("label.add", cid, {"label_id": label_id})

    async def remove_label(self, cid: int, label_id: int) -> int:
        return await self._queue("label.remove", cid, {"label_id": label_id})

    async def fail(self, outbox_id: int, cid: int, code: str, message: str) -> None:
        """Make an outbox item fail as a server rejection would."""
        del cid
        self.announce(await self.cache.outbox_failed(outbox_id, code, message))

    async def retry(self, outbox_id: int) -> None:
        self.calls.append(("retry", outbox_id))

    async def discard(self, outbox_id: int) -> None:
        self.calls.append(("discard", outbox_id))

    async def mark_seen(self, cid: int) -> None:
        applied = await self.cache.mark_seen(cid)
        self.calls.append(("seen", cid))
        self.announce(applied)

    async def set_typing(self, cid: int, is_typing: bool) -> None:
        self.calls.append(("typing", cid, is_typing))

    async def set_viewing(self, cid: int | None) -> None:
        self.viewing = cid

    async def fetch_visitor(self, visitor_id: int) -> None:
        self.calls.append(("fetch_visitor", visitor_id))

    async def load_history(self, cid: int, before_seq: int | None = None) -> bool:
        self.calls.append(("history", cid, before_seq))
        return False

    async def search(
        self, text: str, *, status: str | None = None, before: str | None = None, limit: int = 20
    ) -> protocol.SearchResult:
        """As the core: the server's hits, their conversations stored in the cache when new."""
        self.calls.append(("search", text, status))
        reply = self.search_pages.get(before, self.search_reply)
        if isinstance(reply, Exception):
            raise reply
        found = W.convs([protocol.to_wire(h.conversation) for h in reply.hits])
        self.announce(await self.cache.store_conversations(found))
        return reply

    async def get_config(self) -> dict[str, Any]:
        return dict(self.config)

    async def set_config(self, partial: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("set_config", partial))
        if self.set_config_error is not None:
            raise self.set_config_error
        self.config.update(partial)
        return dict(self.config)

    async def list_agents(self) -> list[AgentRow]:
        return self.cache.agents()

    async def add_agent(
        self, email: str, name: str, role: str = "agent", password: str | None = None
    ) -> tuple[AgentRow, str]:
        self.calls.append(("add_agent", email, name, role))
        new = agent(100 + len(self.calls), name, role)
        new["email"] = email
        await self.cache.store_agents(W.agents([*[_wire(a) for a in self.cache.agents()], new]))
        return W.agent(new), "generated-pass-123"

    async def update_agent(self, agent_id: int, **changes: Any) -> AgentRow:
        self.calls.append(("update_agent", agent_id, changes))
        rows = [_wire(a) for a in self.cache.agents()]
        for row in rows:
            if row["id"] == agent_id:
                row.update(changes)
        await self.cache.store_agents(W.agents(rows))
        updated = self.cache.agent(agent_id)
        assert updated is not None
        return updated


def _wire(a: AgentRow) -> dict[str, Any]:
    return {"id": a.id, "email": a.email, "name": a.name, "role": a.role, "active": a.active, "online": a.online}


ME = agent(1, "Ada Lovelace", "admin")
AGENTS = [ME, agent(2, "Grace Hopper"), agent(3, "Alan Turing", online=False)]


@pytest.fixture
def cache(tmp_path: Path, aloop: asyncio.AbstractEventLoop, qtbot: Any) -> Iterator[Cache]:
    """A real, empty console cache in ``tmp_path`` with the session and agents stored."""
    c = Cache.open(tmp_path / "cache.db")
    run(qtbot, c.store_session(W.agent(ME), {"slug": "demo"}))
    run(qtbot, c.store_agents(W.agents(AGENTS)))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def core(cache: Cache) -> FakeCore:
    """A :class:`FakeCore` logged in as the admin Ada (id 1)."""
    return FakeCore(cache, W.agent(ME))


@pytest.fixture
def prefs(tmp_path: Path) -> Preferences:
    """Preferences in a temporary file."""
    return Preferences(tmp_path / "prefs.json")


def fill(qtbot: Any, core: FakeCore, conversations: list[dict[str, Any]], messages: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    """Store conversations (and messages) in the cache as a snapshot would."""
    run(qtbot, core.cache.apply_snapshot(W.convs(conversations), epoch="e1", last_event_id=1))
    if messages:
        run(qtbot, core.cache.store_history(W.messages(messages), []))
