"""A month of plausible figures for the Reports view's screenshot (``make screenshots``), made up with a fixed
seed: weekday traffic and quiet weekends, busy mornings, six agents in three teams, two channels.

The demo server of the screenshots holds a handful of conversations, too few for charts worth looking at.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics

from frontdesk.server.protocol import (
    CsatComment,
    CsatStats,
    DurationStats,
    ReportBucket,
    ReportResult,
    ReportRow,
    ReportSummary,
)

__all__ = ["demo_report"]

_AGENTS = (
    (1, "Ada Lovelace", 1.0),
    (2, "Grace Hopper", 1.25),
    (3, "Katherine Johnson", 0.9),
    (4, "Alan Turing", 0.7),
    (5, "Margaret Hamilton", 1.1),
    (6, "Linus Okafor", 0.45),
)
_TEAMS = ((11, "Billing", (1, 3)), (12, "Support", (2, 4, 6)), (13, "Sales", (5,)))
_COMMENTS = (
    (5, "stars", "Sorted my invoice in two minutes, thank you Ada!", 1),
    (5, "stars", "Grace walked me through the API keys step by step. Brilliant.", 2),
    (2, "stars", "Waited over an hour on a Saturday for a first answer.", 6),
    (1, "thumbs", "Quick and friendly.", 3),
    (4, "stars", "Good help, though I had to explain the problem twice.", 4),
    (5, "stars", "The volume discount was applied the same day.", 5),
    (0, "thumbs", "The refund still hasn't arrived.", 1),
    (5, "stars", "Fast, clear and kind. Best support chat I've used.", 2),
)


def _stats(rng: random.Random, median: float, count: int) -> DurationStats:
    mean, p90 = median * rng.uniform(1.45, 1.7), median * rng.uniform(3.6, 4.4)
    return DurationStats(
        count=count,
        mean=mean,
        median=median,
        p90=p90,
        business_mean=mean * 0.72,
        business_median=median * 0.8,
        business_p90=p90 * 0.6,
    )


def _csat(surveys: int, responses: int, score: float) -> CsatStats:
    return CsatStats(surveys=surveys, responses=responses, score=score, response_rate=responses / surveys)


def _summary(
    rng: random.Random, days: list[ReportBucket], first: float, resolution: float, score: float
) -> ReportSummary:
    conversations = sum(b.conversations for b in days)
    resolutions = sum(b.resolutions for b in days)
    messages_out = sum(b.messages_out for b in days)
    surveys = round(resolutions * 0.82)
    return ReportSummary(
        conversations=conversations,
        messages_in=sum(b.messages_in for b in days),
        messages_out=messages_out,
        resolutions=resolutions,
        first_response=_stats(rng, first, conversations),
        reply_time=_stats(rng, first * 0.6, messages_out),
        resolution=_stats(rng, resolution, resolutions),
        csat=_csat(surveys, round(surveys * 0.38), score),
    )


def _day(rng: random.Random, day: dt.date, growth: float) -> ReportBucket:
    weekend = day.weekday() >= 5
    conversations = round((38 if weekend else 104) * growth * rng.uniform(0.85, 1.15))
    messages_in = round(conversations * rng.uniform(3.9, 4.5))
    return ReportBucket(
        bucket=day.isoformat(),
        conversations=conversations,
        messages_in=messages_in,
        messages_out=round(messages_in * rng.uniform(1.02, 1.12)),
        resolutions=round(conversations * rng.uniform(0.86, 0.98)),
        first_response_median=(rng.uniform(260, 420) if weekend else rng.uniform(70, 130)),
        resolution_median=(rng.uniform(5.5, 8.5) if weekend else rng.uniform(2.2, 4.2)) * 3600,
    )


def _heatmap(rng: random.Random, total: int) -> list[list[int]]:
    shape = [
        0.3,
        0.2,
        0.15,
        0.1,
        0.1,
        0.2,
        0.6,
        1.6,
        3.8,
        6.2,
        7.4,
        7.0,
        5.2,
        5.8,
        6.6,
        6.1,
        5.0,
        3.6,
        2.2,
        1.6,
        1.3,
        1.0,
        0.7,
        0.5,
    ]
    days = [1.0, 1.05, 0.98, 0.95, 0.85, 0.38, 0.3]
    weights = [[shape[h] * days[d] * rng.uniform(0.8, 1.2) for h in range(24)] for d in range(7)]
    scale = total / sum(map(sum, weights))
    return [[round(w * scale) for w in row] for row in weights]


def _row(rng: random.Random, id_: int, name: str, share: float, total: int, first: float) -> ReportRow:
    conversations = round(total * share)
    surveys = round(conversations * 0.8)
    responses = round(surveys * rng.uniform(0.3, 0.45))
    score = min(0.99, rng.uniform(0.84, 0.97))
    return ReportRow(
        id=id_,
        name=name,
        conversations=conversations,
        replies=round(conversations * rng.uniform(4.0, 5.2)),
        first_response_median=first * rng.uniform(0.7, 1.5),
        resolution_median=rng.uniform(2.0, 5.5) * 3600,
        csat=_csat(max(1, surveys), responses, score),
    )


def demo_report(end: dt.date, days: int = 30, *, generated_at: int) -> ReportResult:
    """A report of the ``days`` days up to ``end``, by day, with the period before to compare."""
    rng = random.Random(17)
    start = end - dt.timedelta(days=days - 1)
    before = [_day(rng, start - dt.timedelta(days=days - n), 0.92) for n in range(days)]
    volume = [_day(rng, start + dt.timedelta(days=n), 1.0 + 0.12 * n / days) for n in range(days)]
    first = statistics.median(b.first_response_median or 0 for b in volume)
    resolution = statistics.median(b.resolution_median or 0 for b in volume)
    summary = _summary(rng, volume, first, resolution, 0.91)
    previous = _summary(rng, before, first * 1.22, resolution * 1.08, 0.87)
    weight = sum(w for _, _, w in _AGENTS)
    agents = [_row(rng, i, name, w / weight, summary.conversations, first) for i, name, w in _AGENTS]
    teams = [
        _row(rng, i, name, sum(w for a, _, w in _AGENTS if a in members) / weight, summary.conversations, first)
        for i, name, members in _TEAMS
    ]
    email = [
        ReportBucket(
            bucket=b.bucket,
            conversations=round(b.conversations * 0.18),
            messages_in=round(b.messages_in * 0.12),
            messages_out=round(b.messages_out * 0.1),
            resolutions=round(b.resolutions * 0.17),
            first_response_median=None,
            resolution_median=None,
        )
        for b in volume
    ]
    email_summary = _summary(rng, email, first * 9, resolution * 2.5, 0.86)
    widget = [
        ReportBucket(
            bucket=b.bucket,
            conversations=b.conversations - e.conversations,
            messages_in=b.messages_in - e.messages_in,
            messages_out=b.messages_out - e.messages_out,
            resolutions=b.resolutions - e.resolutions,
            first_response_median=None,
            resolution_median=None,
        )
        for b, e in zip(volume, email, strict=True)
    ]
    comments = [
        CsatComment(
            conversation_id=4200 + 37 * n,
            agent_id=agent,
            rating=rating,
            scale=scale,
            comment=text,
            rated_at=generated_at - (n * 19 + 3) * 3_600_000,
        )
        for n, (rating, scale, text, agent) in enumerate(_COMMENTS)
    ]
    return ReportResult(
        start=start.isoformat(),
        end=end.isoformat(),
        group="day",
        time_zone="Europe/London",
        generated_at=generated_at,
        summary=summary,
        previous=previous,
        volume=volume,
        heatmap=_heatmap(rng, summary.conversations),
        agents=agents,
        teams=teams,
        channels={"widget": _summary(rng, widget, first * 0.9, resolution * 0.9, 0.92), "email": email_summary},
        csat_comments=comments,
    )
