"""What the visitor panel shows of a visitor's context (Qt-free): the flag and
place, the visit count, and the site's custom attributes, verified or not
(PROTOCOL.md, "Location" and "Custom attributes")."""

from __future__ import annotations

import dataclasses

from frontdesk.server.protocol import Visitor, VisitorAttribute

__all__ = ["AttributeLine", "attribute_lines", "flag", "place"]


def flag(country: str | None) -> str:
    """The flag emoji of an ISO 3166-1 alpha-2 code (two regional indicator letters); "" for none."""
    if not country or len(country) != 2 or not country.isascii() or not country.isalpha():
        return ""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in country.upper())


def place(visitor: Visitor, country_name: str | None = None) -> str | None:
    """ "🇬🇧 London, England, United Kingdom": the flag, then city, region and country
    (its name when given, else the code); None when nothing is known."""
    parts = [p for p in (visitor.city, visitor.region, country_name or visitor.country) if p]
    if not parts:
        return None
    mark = flag(visitor.country)
    return f"{mark} {', '.join(parts)}" if mark else ", ".join(parts)


@dataclasses.dataclass(frozen=True, slots=True)
class AttributeLine:
    """One custom attribute as the panel lists it."""

    name: str
    value: str  #: as text: booleans "yes"/"no", numbers without a trailing ".0"
    kind: str  #: string, number, boolean or date
    verified: bool  #: passed through a verified identify; else the page's say-so


def _text(attribute: VisitorAttribute) -> str:
    value = attribute.value
    if attribute.type == "boolean":
        return "yes" if value else "no"
    if attribute.type == "number" and float(value).is_integer():
        return str(int(value))
    return str(value)


def attribute_lines(visitor: Visitor) -> list[AttributeLine]:
    """The visitor's custom attributes, verified ones first, then by name."""
    lines = [
        AttributeLine(name=name, value=_text(entry), kind=entry.type, verified=entry.verified)
        for name, entry in visitor.attributes.items()
    ]
    lines.sort(key=lambda line: (not line.verified, line.name.lower()))
    return lines
