"""Exports from the cache, without Qt (core/export.py): formats, notes on request, cancel leaves no file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from frontdesk.console.core import Cache
from frontdesk.console.core.export import (
    ExportCancelled,
    ExportRequest,
    conversation_record,
    run_export,
    transcript_html,
)

from tests.console import wireobj as W

from .conftest import arun
from .test_cache import cache, conv, msg

__all__ = ["cache"]


def fill(cache: Cache) -> None:
    arun(cache.apply_snapshot(W.convs([conv(1, last_seq=2), conv(2, last_seq=1)]), epoch="e", last_event_id=1))
    arun(
        cache.store_history(
            W.messages([msg(1, 1, 1, "<b>hi</b>"), msg(2, 1, 2, "hello", author="agent"), msg(3, 2, 1, "yo")]),
            W.notes([{**msg(9, 1, 1, "vip customer", author="agent"), "private": True}]),
        )
    )


def test_json_carries_messages_and_notes_only_when_asked(cache: Cache, tmp_path: Path) -> None:
    """The JSON export holds each conversation's messages; notes only with include_notes; rows = conversations."""
    fill(cache)
    seen: list[tuple[int, int]] = []
    request = ExportRequest((1, 2), "json")
    rows = arun(run_export(cache, request, tmp_path / "a.json", progress=lambda d, t: seen.append((d, t))))
    data = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))["conversations"]
    assert rows == 2 and [c["id"] for c in data] == [1, 2] and "notes" not in data[0]
    assert [m["body"] for m in data[0]["messages"]] == ["<b>hi</b>", "hello"]
    assert seen == [(1, 2), (2, 2)]
    arun(run_export(cache, ExportRequest((1,), "json", include_notes=True), tmp_path / "b.json"))
    [one] = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))["conversations"]
    assert [n["body"] for n in one["notes"]] == ["vip customer"]


def test_messages_csv_counts_messages_and_the_transcript_is_escaped(cache: Cache, tmp_path: Path) -> None:
    """The messages CSV has one row per message; the PDF's HTML escapes every text."""
    fill(cache)
    assert arun(run_export(cache, ExportRequest((1, 2), "messages"), tmp_path / "m.csv")) == 3
    record = conversation_record(cache, 1, include_notes=True)
    assert record is not None
    page = transcript_html(record)
    assert "&lt;b&gt;hi&lt;/b&gt;" in page and "<b>hi</b>" not in page and "private note" in page


def test_cancel_leaves_no_file(cache: Cache, tmp_path: Path) -> None:
    """A cancel between conversations raises ExportCancelled and leaves neither the file nor its part."""
    fill(cache)
    target = tmp_path / "x.csv"
    with pytest.raises(ExportCancelled):
        arun(run_export(cache, ExportRequest((1, 2), "csv"), target, cancelled=lambda: True))
    assert list(tmp_path.iterdir()) == [p for p in tmp_path.iterdir() if not p.name.startswith((".x", "x"))]
    assert not target.exists()
