"""Visitor context: where a visitor is, and what the site says about them.

Pure rules and lookups, no I/O beyond reading the geo database files:

- :class:`GeoLookup`: the country from the address with no setup (``iptocc``,
  an offline IP-to-country table shipped in the package), and the city and
  region when the operator names a MaxMind-format database (``--geoip``,
  read with ``maxminddb``). PROTOCOL.md, "Location"; OPERATIONS.md says how
  to get and update a database.
- :func:`validate_attributes`: custom attributes (``Frontdesk.setAttributes``
  and ``identify``), bounded and typed (PROTOCOL.md, "Custom attributes").
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from . import protocol
from .exceptions import ProtocolError, StoreError

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTES_BYTES",
    "MAX_ATTRIBUTE_CHARS",
    "AttributeError_",
    "GeoLookup",
    "Location",
    "attributes_text",
    "merge_attributes",
    "validate_attributes",
]

#: At most this many attributes per visitor.
MAX_ATTRIBUTES = 50
#: A string value's length, in characters.
MAX_ATTRIBUTE_CHARS = 500
#: The whole set, encoded as JSON.
MAX_ATTRIBUTES_BYTES = 8192
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
#: Numbers a JavaScript double holds exactly.
_MAX_NUMBER = 2**53


class Location(NamedTuple):
    """What the address tells: each part None when unknown."""

    country: str | None = None  #: ISO 3166-1 alpha-2
    region: str | None = None
    city: str | None = None


class GeoLookup:
    """Country from ``iptocc`` always; city and region from ``mmdb_path`` when given.

    A private, loopback or malformed address has no location. The MaxMind
    reader is opened once (memory-mapped where possible) and shared.
    """

    def __init__(self, mmdb_path: str | Path | None = None) -> None:
        self._reader: Any = None
        if mmdb_path is not None:
            import maxminddb

            self._reader = maxminddb.open_database(str(mmdb_path))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def lookup(self, address: str | None) -> Location:
        try:
            ip = ipaddress.ip_address((address or "").strip())
        except ValueError:
            return Location()
        if not ip.is_global:
            return Location()
        country = region = city = None
        if self._reader is not None:
            try:
                record = self._reader.get(str(ip))
            except ValueError:
                record = None
            if isinstance(record, Mapping):
                country = _iso(record.get("country"))
                city = _name(record.get("city"))
                subdivisions = record.get("subdivisions")
                if isinstance(subdivisions, list) and subdivisions:
                    region = _name(subdivisions[0])
        if country is None:
            import iptocc

            code = iptocc.country_code(str(ip))
            country = code.upper() if isinstance(code, str) and len(code) == 2 else None
        return Location(country, region, city)


def _iso(part: Any) -> str | None:
    code = part.get("iso_code") if isinstance(part, Mapping) else None
    return code.upper() if isinstance(code, str) and len(code) == 2 else None


def _name(part: Any) -> str | None:
    names = part.get("names") if isinstance(part, Mapping) else None
    name = names.get("en") if isinstance(names, Mapping) else None
    return name[:100] if isinstance(name, str) and name else None


class AttributeError_(ProtocolError, StoreError):
    """An attribute set the server refuses (one ``error`` frame, field
    ``attributes``); raised inside a write, it rolls the transaction back."""

    def __init__(self, code: protocol.ErrorCode, message: str) -> None:
        super().__init__(code, message, field="attributes")


def _bad(message: str, code: protocol.ErrorCode = protocol.ErrorCode.INVALID) -> AttributeError_:
    return AttributeError_(code, message)


def _typed(name: str, value: Any) -> tuple[Any, str]:
    if isinstance(value, bool):
        return value, "boolean"
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > _MAX_NUMBER:
            raise _bad(f"attribute {name!r} is a number out of range (at most {_MAX_NUMBER} either way)")
        return value, "number"
    if isinstance(value, str):
        if len(value) > MAX_ATTRIBUTE_CHARS:
            raise _bad(f"attribute {name!r} is longer than {MAX_ATTRIBUTE_CHARS} characters")
        if _DATE.fullmatch(value):
            try:
                dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
            except ValueError:
                return value, "string"
            return value, "date"
        return value, "string"
    if isinstance(value, Mapping) and "verified" in value:
        raise _bad(
            f"attribute {name!r} claims to be verified: only the server marks attributes verified"
            " (pass them through identify with a valid user_hash)",
            protocol.ErrorCode.FORBIDDEN,
        )
    kind = "an object" if isinstance(value, Mapping) else "a list" if isinstance(value, list) else "not a value"
    raise _bad(f"attribute {name!r} is {kind}: values are strings, numbers, booleans or dates")


def validate_attributes(raw: Any, *, verified: bool) -> dict[str, dict[str, Any] | None]:
    """The checked form of an attribute set: name -> {"value", "type",
    "verified"}, or None to remove it. Raises :class:`AttributeError_`."""
    if not isinstance(raw, Mapping):
        raise _bad("attributes must be an object of name: value")
    if len(raw) > MAX_ATTRIBUTES:
        raise _bad(f"too many attributes: at most {MAX_ATTRIBUTES}", protocol.ErrorCode.TOO_LARGE)
    out: dict[str, dict[str, Any] | None] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            shown = str(name)[:40]
            raise _bad(f"attribute name {shown!r} must be a letter, then up to 39 letters, digits or underscores")
        if name.lower() == "verified":
            raise _bad(
                "'verified' is not an attribute the page may set: only the server marks attributes verified",
                protocol.ErrorCode.FORBIDDEN,
            )
        if value is None:
            out[name] = None
            continue
        typed, kind = _typed(name, value)
        out[name] = {"value": typed, "type": kind, "verified": verified}
    return out


def merge_attributes(
    current: Mapping[str, Any], update: Mapping[str, dict[str, Any] | None]
) -> dict[str, dict[str, Any]]:
    """``current`` with ``update`` applied. An unverified update may not
    change or remove a verified attribute (``forbidden``); the result is
    bounded in count and size (``too_large``)."""
    merged = dict(current)
    for name, entry in update.items():
        old = merged.get(name)
        if isinstance(old, Mapping) and old.get("verified") and not (entry or {}).get("verified"):
            if entry is None or entry.get("value") != old.get("value"):
                raise _bad(
                    f"attribute {name!r} was set verified through identify; the page cannot change it",
                    protocol.ErrorCode.FORBIDDEN,
                )
            continue
        if entry is None:
            merged.pop(name, None)
        else:
            merged[name] = entry
    if len(merged) > MAX_ATTRIBUTES:
        raise _bad(f"too many attributes: at most {MAX_ATTRIBUTES}", protocol.ErrorCode.TOO_LARGE)
    if len(json.dumps(merged, separators=(",", ":")).encode()) > MAX_ATTRIBUTES_BYTES:
        raise _bad(f"the attributes would be larger than {MAX_ATTRIBUTES_BYTES} bytes", protocol.ErrorCode.TOO_LARGE)
    return merged


def attributes_text(attributes: Mapping[str, Any]) -> str:
    """The attributes as searchable text: ``name value`` pairs, one per line."""
    lines = []
    for name, entry in attributes.items():
        value = entry.get("value") if isinstance(entry, Mapping) else entry
        shown = ("true" if value else "false") if isinstance(value, bool) else str(value)
        lines.append(f"{name} {shown}")
    return "\n".join(lines)
