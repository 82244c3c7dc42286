"""The widget's configuration fallbacks are the declared defaults (protocol.CONFIG_FIELDS).

widget.js cannot import Python, so this reads its source: wherever it falls
back to a value of its own for a configuration key (before the config arrives,
or when the tenant left a text empty), that value must be the key's default.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from frontdesk.server.protocol import CONFIG_FIELD

WIDGET = (Path(__file__).resolve().parents[2] / "widget" / "widget.js").read_text("utf-8")

#: A JS string literal in either quote style.
_LITERAL = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""


def _js_string(literal: str) -> str:
    """The value of a JS string literal (the escapes JSON shares, plus \\')."""
    if literal[0] == '"':
        return str(json.loads(literal))
    body = literal[1:-1].replace("\\'", "'").replace('"', '\\"')
    return str(json.loads(f'"{body}"'))


def fallbacks() -> dict[str, list[str]]:
    """Every ``config.KEY || 'text'`` and ``config.KEY) ? config.KEY : 'text'`` in widget.js, by key."""
    found: dict[str, list[str]] = {}
    patterns = (
        rf"config\.([a-z_]+)\s*\|\|\s*{_LITERAL}",
        rf"config\.([a-z_]+)\)\s*\?\s*config\.\1\s*:\s*{_LITERAL}",
    )
    for pattern in patterns:
        for m in re.finditer(pattern, WIDGET):
            value = _js_string(m.group(2))
            if value:  # ``config.greeting || ''``: show nothing, not a default
                found.setdefault(m.group(1), []).append(value)
    return found


def test_the_scan_sees_the_widgets_fallbacks() -> None:
    """The widget falls back for its colour, launcher label and away message (if it stops, this test says so)."""
    assert {"color", "launcher_label", "away_message"} <= set(fallbacks())


@pytest.mark.parametrize(("key", "values"), sorted(fallbacks().items()))
def test_each_fallback_is_the_declared_default(key: str, values: list[str]) -> None:
    """A configuration key's fallback in widget.js equals its default in protocol.CONFIG_FIELDS
    (business_name has none: the widget's "Chat" stands in for a tenant name, not for a default)."""
    if key == "business_name":
        pytest.skip("the default business name is the tenant's name, written in at creation")
    assert key in CONFIG_FIELD, f"widget.js reads config.{key}, which is not a configuration key"
    assert set(values) == {CONFIG_FIELD[key].default}
