"""Wire-format test data into the console's typed objects (``console.core.wire``).

The tests build server objects as the server sends them (dicts); the cache
takes typed objects. These helpers go through the same parse functions the
core uses, so the tests also exercise the adapter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from frontdesk.console.core import AgentRow, wire


def convs(items: Iterable[dict[str, Any]]) -> list[wire.Conversation]:
    """Conversation dicts as typed objects."""
    out = [wire.conversation(c) for c in items]
    assert all(c is not None for c in out)
    return [c for c in out if c is not None]


def events(frames: Iterable[dict[str, Any]]) -> list[wire.Event]:
    """Event frames as typed events."""
    return [wire.event(f) for f in frames]


def agent(obj: dict[str, Any]) -> AgentRow:
    """An Agent dict as a row."""
    row = wire.agent(obj)
    assert row is not None
    return row


def agents(items: Iterable[dict[str, Any]]) -> list[AgentRow]:
    """Agent dicts as rows."""
    return [agent(a) for a in items]


def messages(items: Iterable[dict[str, Any]], *, note: bool = False) -> list[wire.Message]:
    """Message (or note) dicts as typed messages."""
    out = [wire.message(m, note=note) for m in items]
    return [m for m in out if m is not None]


def reply(obj: dict[str, Any]) -> wire.WriteReply:
    """A write reply dict as a typed reply."""
    return wire.write_reply(obj)


def visitor(obj: dict[str, Any]) -> wire.Visitor:
    """A Visitor dict as a typed visitor."""
    v = wire.visitor(obj)
    assert v is not None
    return v
