"""Test data as the protocol layer's typed objects.

The tests write server objects as short dicts with only the fields they care
about; these helpers complete them with neutral values (0, "", None, False,
an empty list) and build the typed objects with ``from_wire``, the decoder
the console's link uses. Events go through the link's own event decoding
(:func:`frontdesk.console.core._link.read_event`), so a malformed event
becomes the same stand-in the console would apply.
"""

from __future__ import annotations

import dataclasses
import typing
import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from frontdesk.console.core import AgentRow
from frontdesk.console.core._link import read_event
from frontdesk.server import protocol as p
from frontdesk.server.domain import display_name

_T = TypeVar("_T")

#: Field values that fit better than the neutral one of their type.
_DEFAULTS: dict[str, Any] = {
    "status": "open",
    "author_kind": "visitor",
    "role": "agent",
    "active": True,
    "side": "agent",
    "change": "open",
    "epoch": "e",
}


def _neutral(name: str, hint: Any) -> Any:
    if name in _DEFAULTS:
        return _DEFAULTS[name]
    args = typing.get_args(hint)
    if type(None) in args:
        return None
    origin = typing.get_origin(hint) or hint
    if dataclasses.is_dataclass(origin):
        return complete(origin, {})
    return {int: 0, str: "", bool: False, list: [], dict: {}}.get(origin)


def complete(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every missing wire field of ``cls`` filled in (nested
    objects too, and a null where the field allows none); ``client_id`` gets
    a fresh UUID and ``display_name`` the server's rule (name or "Visitor #id")."""
    hints = typing.get_type_hints(cls)
    out = dict(data)
    for name in p.wire_fields(cls):
        hint = hints[name]
        base = next((a for a in typing.get_args(hint) if a is not type(None)), hint)
        if name in out and out[name] is None and type(None) not in typing.get_args(hint):
            del out[name]  # a null where the protocol has none (a visitor message's author_id in old test data)
        if name in out:
            if dataclasses.is_dataclass(base) and isinstance(out[name], dict):
                out[name] = complete(typing.cast(type[Any], base), out[name])
            elif typing.get_origin(base) is list and isinstance(out[name], list):
                (item,) = typing.get_args(base)
                if dataclasses.is_dataclass(item):
                    item_cls = typing.cast(type[Any], item)
                    out[name] = [complete(item_cls, x) if isinstance(x, dict) else x for x in out[name]]
            continue
        if name == "client_id":
            out[name] = str(uuid.uuid4())
        elif name == "display_name":
            out[name] = display_name(out.get("name"), out.get("id", 0))
        elif name == "visitor_id" and isinstance(out.get("visitor"), dict):
            out[name] = out["visitor"].get("id", 0)
        else:
            out[name] = _neutral(name, hint)
    return out


def build(cls: type[_T], data: dict[str, Any]) -> _T:
    """A typed ``cls`` from a partial dict."""
    return p.from_wire(cls, complete(cls, data))


def _event_data_type(kind: str, data: Any) -> type[Any] | None:
    """Of the agents' data types of ``kind``, the one naming most of ``data``'s keys."""
    choices = p.EVENT_DATA.get(kind, ((), ()))[0]
    if not choices or not isinstance(data, dict):
        return None
    return max(choices, key=lambda c: (len(set(p.wire_fields(c)) & set(data)), -len(p.wire_fields(c))))


def convs(items: Iterable[dict[str, Any]]) -> list[p.ConversationWithVisitor]:
    """Conversation dicts (with a visitor) as typed objects."""
    return [build(p.ConversationWithVisitor, c) for c in items]


def conversations(items: Iterable[dict[str, Any]]) -> list[p.Conversation]:
    """Conversation dicts (without a visitor) as typed objects."""
    return [build(p.Conversation, {k: v for k, v in c.items() if k != "visitor"}) for c in items]


def events(frames: Iterable[dict[str, Any]]) -> list[p.EventFrame]:
    """Event frames as the console's link decodes them, data completed.

    A ``message.created`` written without its ``conversation`` comes out
    with a plain Message as data, which the cache applies as it applies a
    write reply's message (the conversation's last_seq, preview and unread
    follow from the message): the server always sends the conversation, but
    tests of the cache's message rules need not spell it out.
    """
    out = []
    for frame in frames:
        frame = dict(frame)
        data = frame.get("data")
        if frame.get("kind") == "message.created" and isinstance(data, dict) and "conversation" not in data:
            message = build(p.Message, data)
            out.append(p.EventFrame(kind="message.created", data=message, event_id=frame.get("event_id")))
            continue
        cls = _event_data_type(str(frame.get("kind")), frame.get("data"))
        if cls is not None:
            frame["data"] = complete(cls, frame["data"])
        event = read_event(p.encode({"type": "event", **frame}))
        assert event is not None, frame
        out.append(event)
    return out


def agent(obj: dict[str, Any]) -> AgentRow:
    """An Agent dict as a row."""
    return AgentRow.of(build(p.Agent, obj))


def agents(items: Iterable[dict[str, Any]]) -> list[AgentRow]:
    """Agent dicts as rows."""
    return [agent(a) for a in items]


def messages(items: Iterable[dict[str, Any]]) -> list[p.Message]:
    """Message dicts as typed messages."""
    return [build(p.Message, m) for m in items]


def notes(items: Iterable[dict[str, Any]]) -> list[p.PrivateNote]:
    """Note dicts as typed notes."""
    return [build(p.PrivateNote, {**m, "author_kind": "agent"}) for m in items]


def reply(obj: dict[str, Any]) -> p.Result:
    """A write reply dict as the typed ack: a MessageAck when it carries a
    message, a NoteAck for a note, else a ConversationChange."""
    cls: type[p.Result] = p.MessageAck if "message" in obj else p.NoteAck if "note" in obj else p.ConversationChange
    return build(cls, obj)


def visitor(obj: dict[str, Any]) -> p.Visitor:
    """A Visitor dict as a typed visitor."""
    return build(p.Visitor, obj)


def config(obj: dict[str, Any]) -> p.WidgetConfig:
    """A (partial) configuration dict as a typed WidgetConfig."""
    return build(p.WidgetConfig, obj)
