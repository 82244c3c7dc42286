"""A small ``report.get`` answer with figures the tests know by heart (the server side is another branch's), and
a core put online over a scripted socket that answers ``report.get`` with it, through the real link.

Built as the protocol's typed objects and passed once through ``to_wire``/``from_wire``, as the link would
decode it, so a field this file forgets fails here rather than in the view.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from frontdesk.console.core import AgentRow, ConnectionState, ConsoleCore, MemoryTokenStore
from frontdesk.console.core._link import _Link
from frontdesk.server import protocol as p

GENERATED_AT = 1_764_547_200_000  # 1 Dec 2025, 00:00 UTC (ms)


def stats(count: int, median: float | None, mean: float | None = None, p90: float | None = None) -> p.DurationStats:
    """Duration statistics with the business-hours form a little shorter."""
    return p.DurationStats(
        count=count,
        mean=mean if mean is not None else median,
        median=median,
        p90=p90 if p90 is not None else (None if median is None else median * 3),
        business_mean=None if mean is None else mean * 0.8,
        business_median=None if median is None else median * 0.8,
        business_p90=None if median is None else median * 2.5,
    )


def csat(surveys: int, responses: int, good: int) -> p.CsatStats:
    return p.CsatStats(
        surveys=surveys,
        responses=responses,
        score=good / responses if responses else None,
        response_rate=responses / surveys if surveys else None,
    )


def summary(conversations: int, messages_in: int, messages_out: int, resolutions: int, first: float,
            resolution: float, rated: tuple[int, int, int]) -> p.ReportSummary:  # fmt: skip
    return p.ReportSummary(
        conversations=conversations,
        messages_in=messages_in,
        messages_out=messages_out,
        resolutions=resolutions,
        first_response=stats(conversations, first, first * 1.5),
        reply_time=stats(messages_out, first / 2),
        resolution=stats(resolutions, resolution, resolution * 1.2),
        csat=csat(*rated),
    )


def row(id_: int, name: str, conversations: int, replies: int, first: float | None, score: float | None) -> p.ReportRow:
    responses = 10 if score is not None else 0
    return p.ReportRow(
        id=id_,
        name=name,
        conversations=conversations,
        replies=replies,
        first_response_median=first,
        resolution_median=None if first is None else first * 20,
        csat=p.CsatStats(surveys=12, responses=responses, score=score, response_rate=responses / 12),
    )


def make_report(*, start: str = "2025-11-01", end: str = "2025-11-03", agents: list[p.ReportRow] | None = None,
                generated_at: int = GENERATED_AT) -> p.ReportResult:  # fmt: skip
    """Three days of figures: 120 conversations (100 the period before), first response median 90 s (120 s before),
    CSAT 45 of 50 (90 %), three agents and two teams, two comments."""
    heatmap = [[0] * 24 for _ in range(7)]
    heatmap[0][10] = 9
    heatmap[2][14] = 4
    report = p.ReportResult(
        start=start,
        end=end,
        group="day",
        time_zone="Europe/Berlin",
        generated_at=generated_at,
        summary=summary(120, 480, 530, 110, 90.0, 7200.0, (60, 50, 45)),
        previous=summary(100, 400, 500, 100, 120.0, 9000.0, (50, 40, 32)),
        volume=[
            p.ReportBucket(
                bucket="2025-11-01",
                conversations=50,
                messages_in=200,
                messages_out=220,
                resolutions=45,
                first_response_median=80.0,
                resolution_median=7000.0,
            ),
            p.ReportBucket(
                bucket="2025-11-02",
                conversations=30,
                messages_in=120,
                messages_out=130,
                resolutions=30,
                first_response_median=None,
                resolution_median=None,
            ),
            p.ReportBucket(
                bucket="2025-11-03",
                conversations=40,
                messages_in=160,
                messages_out=180,
                resolutions=35,
                first_response_median=100.0,
                resolution_median=7400.0,
            ),
        ],
        heatmap=heatmap,
        agents=agents
        if agents is not None
        else [
            row(1, "Ada Lovelace", 50, 200, 60.0, 0.95),
            row(2, "Grace Hopper", 70, 300, 150.0, 0.85),
            row(3, "Alan Turing", 5, 30, None, None),
        ],
        teams=[row(11, "Billing", 60, 250, 100.0, 0.9), row(12, "Support", 65, 280, 80.0, 0.88)],
        channels={"widget": summary(100, 400, 450, 95, 85.0, 7000.0, (60, 50, 45))},
        csat_comments=[
            p.CsatComment(
                conversation_id=7,
                agent_id=1,
                rating=5,
                scale="stars",
                comment="Quick and kind, thanks!",
                rated_at=GENERATED_AT - 3_600_000,
            ),
            p.CsatComment(
                conversation_id=9,
                agent_id=2,
                rating=0,
                scale="thumbs",
                comment="Took a day to answer.",
                rated_at=GENERATED_AT - 7_200_000,
            ),
        ],
    )
    return p.from_wire(p.ReportResult, p.to_wire(report))


class ScriptedSocket:
    """A socket whose server answers ``report.get`` with ``report`` (or ``error``), recording each request."""

    def __init__(self, report: p.ReportResult, error: tuple[str, str] | None = None) -> None:
        self.report = report
        self.error = error
        self.requests: list[dict[str, Any]] = []
        self._incoming: asyncio.Queue[str | None] = asyncio.Queue()

    async def send(self, message: str | bytes) -> None:
        frame = json.loads(message)
        self.requests.append(frame)
        if self.error is not None:
            self._incoming.put_nowait(p.encode_error(frame["ref"], p.ErrorCode(self.error[0]), self.error[1]))
        else:
            self._incoming.put_nowait(p.encode_reply(frame["ref"], self.report))

    async def recv(self) -> str | bytes:
        item = await self._incoming.get()
        if item is None:
            raise ConnectionError("closed")
        return item

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self._incoming.put_nowait(None)


class Session:
    """A core with an open cache as ``me``, put online over a :class:`ScriptedSocket` (or offline)."""

    def __init__(self, data_dir: Path, me: AgentRow, clock: list[float]) -> None:
        self.core = ConsoleCore("http://reports.test", data_dir, MemoryTokenStore(), clock=lambda: clock[0])
        self.core._open_cache(me.email)
        self.core.me = me
        self.socket: ScriptedSocket | None = None
        self._reader: asyncio.Task[Any] | None = None

    def online(self, socket: ScriptedSocket) -> None:
        self.socket = socket
        link = _Link(socket, lambda frame: None, 5.0)
        self._reader = asyncio.ensure_future(link.run())
        self.core._link = link
        self.core.state = ConnectionState.ONLINE

    async def offline(self) -> None:
        if self.core._link is not None:
            await self.core._link.close()
        if self._reader is not None:
            await self._reader
        self.core._link = None
        self.core.state = ConnectionState.OFFLINE

    async def close(self) -> None:
        await self.offline()
        await self.core.stop()
