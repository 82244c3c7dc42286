"""Docs are tested: every message type, event kind, config key and command is documented."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server import domain
from frontdesk.server import protocol as p
from frontdesk.server.app import ServerSettings
from frontdesk.server.cli import build_parser
from frontdesk.server.ratelimit import RATE_SETTINGS, RateSetting, parse_rate

from tests.support import run_cli

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = (ROOT / "docs" / "PROTOCOL.md").read_text()
README = (ROOT / "README.md").read_text()

REQUEST_TYPES = sorted({t for e in p.Endpoint for t in p.request_types(e)})


@pytest.mark.parametrize("type_", REQUEST_TYPES)
def test_every_request_type_is_in_protocol_md(type_: str) -> None:
    """Each request type appears in PROTOCOL.md's tables."""
    assert f"`{type_}`" in PROTOCOL


@pytest.mark.parametrize("kind", p.EVENT_KINDS)
def test_every_event_kind_is_in_protocol_md(kind: str) -> None:
    """Each pushed event kind is documented."""
    assert f"`{kind}`" in PROTOCOL


@pytest.mark.parametrize("key", sorted(domain.DEFAULT_CONFIG))
def test_every_config_key_is_in_protocol_md(key: str) -> None:
    """Each widget configuration key is in the configuration table."""
    assert f"| `{key}` |" in PROTOCOL


@pytest.mark.parametrize("code", [c.value for c in p.ErrorCode])
def test_every_error_code_is_in_protocol_md(code: str) -> None:
    """Each error code is explained."""
    assert f"| `{code}` |" in PROTOCOL


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", _commands())
def test_every_cli_command_is_in_the_readme(command: str) -> None:
    """The README's command table lists every subcommand."""
    assert f"`frontdesk {command}" in README


def test_the_readme_gives_the_two_commands_first() -> None:
    """`make run` and `make test` come before any other section."""
    first_section = README.split("\n## ")[1]
    assert "make run" in first_section and "make test" in first_section


# -- the typed layer against PROTOCOL.md: every field of every object, reply and event ---------------

_TICKED = re.compile(r"`([a-z_]+)`")


def _section(title: str) -> str:
    start = PROTOCOL.index(f"\n## {title}\n")
    end = PROTOCOL.find("\n## ", start + 1)
    return PROTOCOL[start : end if end >= 0 else None]


#: The doc's name of each object → its type.
OBJECTS: dict[str, type[Any]] = {
    "Message": p.Message,
    "Note": p.PrivateNote,
    "Conversation": p.Conversation,
    "Visitor": p.Visitor,
    "Agent": p.Agent,
    "Tenant": p.Tenant,
    "Attachment": p.Attachment,
}
#: Names the Events table uses for objects that have no JSON example of their own.
NAMED = {
    **{name: set(p.wire_fields(cls)) for name, cls in OBJECTS.items()},
    "Agent profile": set(p.wire_fields(p.AgentProfile)),
    "Widget configuration": set(p.wire_fields(p.WidgetConfig)),
    "Public configuration": set(p.wire_fields(p.PublicConfig)),
}


def _example(name: str) -> dict[str, Any]:
    """The JSON example under **name** in the Objects section."""
    objects = _section("Objects")
    at = objects.index(f"\n**{name}**")
    block = objects[objects.index("```json\n", at) + 8 : objects.index("```", objects.index("```json\n", at) + 8)]
    return dict(json.loads(block.replace("…", "")))


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_every_object_field_is_in_its_protocol_md_example(name: str) -> None:
    """Each object's JSON example in PROTOCOL.md has exactly the fields the typed layer sends."""
    assert list(_example(name)) == list(p.wire_fields(OBJECTS[name]))


def test_conversation_with_visitor_is_documented() -> None:
    """The agents' conversation shape is a Conversation plus `visitor`, as PROTOCOL.md says."""
    extra = set(p.wire_fields(p.ConversationWithVisitor)) - set(p.wire_fields(p.Conversation))
    assert extra == {"visitor"}
    assert "**Conversation with visitor**" in PROTOCOL and "a Conversation plus `visitor`" in PROTOCOL


def test_widget_configuration_types_match_the_config_table() -> None:
    """The configuration table, the defaults and the typed configs name the same keys; visitors get the public ones."""
    table = {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \|", _section("Widget configuration"), re.M)}
    assert table == set(domain.DEFAULT_CONFIG) == set(p.wire_fields(p.WidgetConfig))
    assert set(p.wire_fields(p.PublicConfig)) == table - domain.PRIVATE_CONFIG_KEYS


@pytest.mark.parametrize("field", p.CONFIG_FIELDS, ids=lambda f: f.name)
def test_config_table_row_matches_the_declaration(field: p.ConfigField) -> None:
    """Each configuration row says the declared default, length limit, choices and meaning (protocol.CONFIG_FIELDS)."""
    rows = {
        m.group(1): [c.strip() for c in m.group(2).split(" | ")]
        for m in re.finditer(r"^\| `([a-z_]+)` \| (.*) \|$", _section("Widget configuration"), re.M)
    }
    kind, default, meaning = rows[field.name]
    assert meaning == field.description
    if field.type is str and field.max_len is not None:
        assert kind == f"string ≤ {field.max_len}"
    if field.type is int:
        assert kind == f"integer 0–{field.maximum}"
    if field.choices is not None:
        assert kind == " \\| ".join(f"`{c}`" for c in field.choices)
    if field.name == "business_name":
        assert default == "tenant name"  # the tenant's name is written in at creation, over the empty default
    elif field.type is str:
        assert default == f"`{field.default}`"
    else:
        assert json.loads(default.strip("`")) == field.default


def _endpoint_rows(title: str) -> dict[str, list[str]]:
    rows = {}
    for line in _section(title).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    return rows


@pytest.mark.parametrize(
    ("endpoint", "type_"), sorted(p.RESULTS, key=lambda k: (k[0].value, k[1])), ids=lambda v: getattr(v, "value", v)
)
def test_every_reply_field_is_in_the_endpoint_table(endpoint: p.Endpoint, type_: str) -> None:
    """Each request's reply column in PROTOCOL.md lists exactly the fields of its typed result, in order."""
    title = "Visitor endpoint" if endpoint is p.Endpoint.VISITOR else "Agent endpoint"
    _, fields, reply, _ = _endpoint_rows(title)[type_]
    assert _TICKED.findall(reply) == list(p.wire_fields(p.RESULTS[(endpoint, type_)]))
    cls = p.request_types(endpoint)[type_]
    declared = [f.name for f in dataclasses.fields(cls) if f.name != "ref"]
    documented = re.findall(r"`([a-z_]+)\??`", re.sub(r"\([^)]*\)", "", fields))
    assert documented == declared, "request fields"


def _shapes(cell: str) -> set[frozenset[str]]:
    """The field sets an Events-table cell describes ("Name + `a`, `b` or `c`, `d`")."""
    if cell == "—":
        return set()
    shapes = set()
    for part in cell.split(" or "):
        fields: set[str] = set()
        head, _, rest = part.partition(" + ")
        if head in NAMED:
            fields |= NAMED[head]
            part = rest
        fields |= set(_TICKED.findall(part))
        shapes.add(frozenset(fields))
    return shapes


@pytest.mark.parametrize("kind", p.EVENT_KINDS)
def test_every_event_field_is_in_the_events_table(kind: str) -> None:
    """Each event kind's data, per endpoint, has exactly the fields the Events table of PROTOCOL.md gives."""
    rows = {}
    for line in _section("Events").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    _, agents, visitors = rows[kind]
    agent_types, visitor_types = p.EVENT_DATA[kind]
    assert _shapes(agents) == {frozenset(p.wire_fields(c)) for c in agent_types}, "agent endpoint"
    assert _shapes(visitors) == {frozenset(p.wire_fields(c)) for c in visitor_types}, "visitor endpoint"


def test_the_error_frame_fields_are_documented() -> None:
    """The error frame example shows every field of ErrorFrame, plus its type."""
    errors = _section("Frames")
    example = json.loads(
        errors[errors.index('{"type": "error"') : errors.index("}", errors.index('{"type": "error"')) + 1]
    )
    assert list(example) == ["type", *p.wire_fields(p.ErrorFrame)]


def test_init_json_keys_are_documented(tmp_path: Path) -> None:
    """Every key `frontdesk init --json` prints, on a first run and a repeated one, is in PROTOCOL.md's table."""
    table = _section("Provisioning: `frontdesk init --json`")
    documented = {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \|", table, re.M)}
    db = f"sqlite:///{tmp_path / 'fd.db'}"
    seen: set[str] = set()
    for _ in range(2):
        out = run_cli("init", "--db", db, "--json").stdout
        seen |= set(json.loads(out))
    assert seen == documented


@pytest.mark.parametrize("rate", RATE_SETTINGS, ids=lambda r: r.name)
def test_readme_rate_limit_row_is_the_declaration(rate: RateSetting) -> None:
    """The README's row of each rate limit names its flag, variable, default and meaning as declared
    (ratelimit.RATE_SETTINGS, which the CLI and ServerSettings also read)."""
    assert f"| `{rate.flag}` | `{rate.env}` | `{rate.default}` | {rate.meaning} |" in README
    assert getattr(ServerSettings(), rate.name) == rate.default
    serve = build_parser().parse_args(["serve"])
    assert parse_rate(getattr(serve, rate.name)) == rate.default
