"""The console core consumes typed protocol objects: nothing in console/core
probes a wire dict (issue 10, "Done when"), and its link decodes every frame
with the protocol layer."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from frontdesk.console.core._link import _Link, read_event
from frontdesk.console.core.exceptions import ServerError
from frontdesk.server import protocol as p

CORE = Path(__file__).resolve().parents[3] / "console" / "core"

#: The types a JSON value decodes to: isinstance against one of them is a
#: probe of decoded JSON.
_JSON_TYPES = frozenset({"dict", "list", "str", "int", "float", "bool", "Mapping", "MutableMapping"})

#: A line that reads the console's *own* JSON (its accounts file, the
#: cache's meta values, a keyring value) says so with this comment.
_OWN_DATA = "# own data"


def _probes(path: Path) -> list[str]:
    """``.get("...")`` and ``isinstance(x, <JSON type>)`` calls in a file, not marked as own data."""
    source = path.read_text("utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        probe = False
        if isinstance(func, ast.Attribute) and func.attr == "get" and node.args:
            probe = isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
        elif isinstance(func, ast.Name) and func.id == "isinstance" and len(node.args) == 2:
            names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
            probe = bool(names & _JSON_TYPES)
        span = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        if probe and not any(_OWN_DATA in lines[i - 1] for i in span):
            found.append(f"{path.relative_to(CORE)}:{node.lineno}: {ast.get_source_segment(source, node)}")
    return found


def test_console_core_never_probes_wire_dicts() -> None:
    """No file of console/core calls .get("key") or isinstance(x, dict/list/str/int/...) on data, except lines
    marked "# own data" that read the console's own files; wire data arrives as typed protocol objects."""
    found = [probe for path in sorted(CORE.rglob("*.py")) for probe in _probes(path)]
    assert found == []


def test_the_scan_finds_a_probe(tmp_path: Path) -> None:
    """The scan above flags a .get("key") and an isinstance(x, dict), and lets a marked line pass."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f(frame):\n"
        "    a = frame.get('kind')\n"
        "    b = isinstance(frame, dict | None)\n"
        "    c = frame.get('x')  # own data: test\n"
        "    return a, b, c\n"
    )
    global CORE
    saved, CORE = CORE, tmp_path
    try:
        assert [line.split(":")[1] for line in _probes(probe)] == ["2", "3"]
    finally:
        CORE = saved


def test_read_event_decodes_and_stands_in_for_what_does_not_decode() -> None:
    """An event comes out with its typed data; an unknown kind or bad data keeps its event_id with data None
    (so the cursor moves past it); a bad ephemeral event or a reply is no event at all."""
    erased = read_event(p.encode_event("visitor.erased", {"visitor_id": 4}, event_id=9))
    assert erased is not None and erased.data == p.VisitorErased(visitor_id=4) and erased.event_id == 9
    unknown = read_event(p.encode_event("future.kind", {"a": 1}, event_id=10))
    assert unknown is not None and unknown.kind == "future.kind" and unknown.data is None and unknown.event_id == 10
    bad = read_event(p.encode_event("conversation.updated", {"id": "x"}, event_id=11))
    assert bad is not None and bad.kind == "conversation.updated" and bad.data is None
    assert read_event(p.encode_event("typing", {"conversation_id": "x"})) is None
    assert read_event('{"type":"reply","ref":"1"}') is None and read_event("not json") is None


class _Socket:
    """A socket that answers each request with a canned frame built from its ref."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.inbox: asyncio.Queue[str] = asyncio.Queue()

    async def send(self, message: str) -> None:
        ref = p.decode(message)["ref"]
        await self.inbox.put(self.answer.replace("REF", ref))

    async def recv(self) -> str:
        return await self.inbox.get()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ('{"type":"reply","ref":"REF","server_time":"soon"}', "invalid"),
        ('{"type":"error","ref":"REF","code":"forbidden","message":"no","field":null}', "forbidden"),
    ],
)
def test_a_request_fails_on_an_error_or_a_malformed_reply(answer: str, code: str) -> None:
    """A reply that does not fit its request's result type fails that request with ServerError("invalid");
    an error frame with its code."""

    async def main() -> None:
        link = _Link(_Socket(answer), lambda event: None, timeout=5)
        reader = asyncio.create_task(link.run())
        with pytest.raises(ServerError) as caught:
            await link.request(p.PingResult, "ping")
        assert caught.value.code == code
        reader.cancel()

    asyncio.run(main())


def test_a_reply_comes_out_as_its_typed_result() -> None:
    """The link decodes a reply as the RESULTS type of the request it answers."""

    async def main() -> None:
        link = _Link(_Socket('{"type":"reply","ref":"REF","server_time":5}'), lambda event: None, timeout=5)
        reader = asyncio.create_task(link.run())
        assert await link.request(p.PingResult, "ping") == p.PingResult(server_time=5)
        with pytest.raises(TypeError):
            await link.request(p.SessionResult, "ping")
        reader.cancel()

    asyncio.run(main())
