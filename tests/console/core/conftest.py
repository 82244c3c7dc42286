"""Helpers for the console core tests: no Qt anywhere.

pytest-asyncio is not used: each test runs its coroutine with :func:`arun`,
under a timeout that scales with ``FRONTDESK_TEST_TIMEOUT_SCALE``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from frontdesk.console.core import (
    AgentRow,
    Backoff,
    ConnectionState,
    ConsoleCore,
    ConversationChanges,
    CoreListenerBase,
    MemoryTokenStore,
    Notification,
    ThreadChanges,
    TokenStore,
)

from tests.support import TIMEOUT, RunningServer

_T = TypeVar("_T")


def arun(coro: Coroutine[Any, Any, _T], timeout: float = 12 * TIMEOUT) -> _T:
    """Run ``coro`` on a fresh event loop, failing after ``timeout`` seconds."""

    async def bounded() -> _T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def wait_until(predicate: Callable[[], bool], timeout: float = 3 * TIMEOUT, what: str = "condition") -> None:
    """Poll ``predicate`` on the loop until it holds (the core works in tasks).

    Generous by default: waiting longer costs nothing when the condition
    comes, and a CI box running several suites at once is slow."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Recorder(CoreListenerBase):
    """A listener that records every call."""

    def __init__(self) -> None:
        self.states: list[ConnectionState] = []
        self.conversations: list[list[int]] = []
        self.changes: list[ConversationChanges] = []
        self.threads: list[int] = []
        self.outbox: list[int] = []
        self.notifications: list[Notification] = []
        self.typing: list[tuple[int, bool, str | None]] = []
        self.ended: list[str] = []
        self.synced: list[float] = []
        self.configs: list[dict[str, Any]] = []
        self.agents_changed = 0
        self.workflow = 0

    def on_state_changed(self, state: ConnectionState) -> None:
        self.states.append(state)

    def on_conversations_changed(self, changes: ConversationChanges) -> None:
        self.conversations.append(changes.ids)
        self.changes.append(changes)

    def on_thread_changed(self, changes: ThreadChanges) -> None:
        self.threads.append(changes.conversation_id)

    def on_outbox_changed(self, count: int) -> None:
        self.outbox.append(count)

    def on_agents_changed(self, agents: list[AgentRow]) -> None:
        self.agents_changed += 1

    def on_workflow_changed(self) -> None:
        self.workflow += 1

    def on_config_changed(self, config: dict[str, Any]) -> None:
        self.configs.append(config)

    def on_synced(self, at: float) -> None:
        self.synced.append(at)

    def on_notification(self, notification: Notification) -> None:
        self.notifications.append(notification)

    def on_typing(self, conversation_id: int, is_typing: bool, who: str | None) -> None:
        self.typing.append((conversation_id, is_typing, who))

    def on_session_ended(self, reason: str) -> None:
        self.ended.append(reason)


class FakeKeyring(MemoryTokenStore):
    """A token store that behaves like a working OS keyring (tokens survive
    a core restart within the test)."""

    def available(self) -> bool:
        return True


def fast_backoff() -> Backoff:
    """Reconnect quickly in tests (a restarted server is back within a second)."""
    return Backoff(initial=0.05, maximum=0.3)


def make_core(server: RunningServer, data_dir: Path, store: TokenStore | None = None) -> tuple[ConsoleCore, Recorder]:
    """A core for ``server`` with its cache under ``data_dir``, and a recorder."""
    core = ConsoleCore(server.http_url, data_dir, store or FakeKeyring(), backoff=fast_backoff())
    recorder = Recorder()
    core.add_listener(recorder)
    return core, recorder


async def online(core: ConsoleCore) -> None:
    """Wait until the core is connected and caught up."""
    await wait_until(lambda: core.state is ConnectionState.ONLINE, what="ONLINE")


async def offline(core: ConsoleCore) -> None:
    """Wait until the core noticed the connection is gone."""
    await wait_until(lambda: core.state is not ConnectionState.ONLINE, what="not ONLINE")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Where the console under test keeps its caches."""
    path = tmp_path / "console-data"
    path.mkdir()
    return path


class NetworkSwitch:
    """A ``connect`` for the core that a test can cut: closes the open
    sockets and refuses new ones until restored (a network outage, while the
    server keeps running)."""

    def __init__(self) -> None:
        self.down = False
        self.sockets: list[Any] = []
        self.connects = 0

    async def connect(self, url: str) -> Any:
        if self.down:
            raise ConnectionRefusedError("network is down (test)")
        from websockets.asyncio.client import connect

        ws = await connect(url, compression=None, proxy=None)
        self.connects += 1
        self.sockets.append(ws)
        return ws

    async def cut(self) -> None:
        self.down = True
        for ws in self.sockets:
            await ws.close()
        self.sockets.clear()

    def restore(self) -> None:
        self.down = False
