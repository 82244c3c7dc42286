"""Docs are tested: every message type, event kind, config key and command is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from frontdesk.server import domain
from frontdesk.server import protocol as p
from frontdesk.server.cli import build_parser

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
