"""``frontdesk bench reports``: ``report.get`` over a year of history, and the reporting's cost per message.

The data set (deterministic, seeded): 100,000 conversations of 10 messages (1,000,000 messages) over 365 days,
busier on weekday afternoons, 50 agents in 5 teams, one conversation in five labelled, 15 % reopened once
(a second episode, some by email), 85 % resolved, a survey on 40 % of resolutions. Visitors, conversations,
messages, their events and surveys are loaded through one store operation per chunk
(``bulk.insert_report_bench_rows``), then ``reports.rebuild`` writes the reporting facts from that event log
with the very rule the live path uses. Then ``report.get``'s store read plus the reply's encoding is timed
over the last 30 days and the whole year, with several groupings and filters.

``--callgrind`` also counts the instructions per stored message (``post_message`` through the store, a
visitor message or an agent reply) with the reporting on (the facts projected every :data:`PROJECT_EVERY`
conversations, about 110 events, as the server's projection batches them a moment after the commits) and off,
under ``valgrind --tool=callgrind``: the run is repeated with two message counts and the difference divided, so
start-up cancels out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import domain, protocol
from ._stats import Progress

__all__ = ["reports_bench"]

JSON = dict[str, Any]
#: Messages per conversation.
PER_CONVERSATION = 10
#: With ``--callgrind``, project the facts after this many conversations (of 11 events each).
PROJECT_EVERY = 10
#: Conversations per load transaction.
CHUNK = 5000
AGENTS = 50
TEAMS = 5
DAYS = 365
#: Monday 6 January 2025, 00:00 UTC: the first day of the data.
START = int(dt.datetime(2025, 1, 6, tzinfo=dt.UTC).timestamp() * 1000)
HOURS = {
    "enabled": True,
    "timezone": "Europe/Paris",
    "days": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}
#: Relative traffic per local hour of the day (busier in the afternoon).
_HOUR_WEIGHTS = [1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 11, 11, 9, 10, 12, 12, 11, 9, 6, 4, 3, 2, 2, 1]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(domain.percentile(ordered, q) or 0.0, 1)


async def _setup(url: str) -> tuple[int, list[int], dict[int, int], int]:
    """The tenant, agents, teams and a label; (tenant id, agent ids, agent → team, label id)."""
    from ..store import agents, labels, open_store, teams, tenants

    store = open_store(url)
    await store.open()
    try:

        def seed(tx: Any) -> tuple[int, list[int], dict[int, int], int]:
            tenant = tenants.create_tenant(
                tx, "bench", "Bench", "site-bench", "secret-bench", {"business_hours": HOURS}
            )
            ids = [
                agents.create_agent(tx, tenant.id, f"agent{i}@bench.test", f"Agent {i}", "agent", "x").id
                for i in range(AGENTS)
            ]
            team_of: dict[int, int] = {}
            for t in range(TEAMS):
                members = ids[t::TEAMS]
                team = teams.create_team(tx, tenant.id, f"Team {t}", members).team
                team_of.update(dict.fromkeys(members, team.id))
            label = labels.create_label(tx, tenant.id, "vip", "#ff0000").label
            return tenant.id, ids, team_of, label.id

        result: tuple[int, list[int], dict[int, int], int] = await store.write(seed)
        return result
    finally:
        await store.close()


class _Gen:
    """The deterministic history, one chunk of conversations at a time."""

    def __init__(self, tenant_id: int, agent_ids: list[int], team_of: dict[int, int], label_id: int) -> None:
        self.rng = random.Random(17)
        self.tenant_id, self.agent_ids, self.team_of, self.label_id = tenant_id, agent_ids, team_of, label_id
        self.event_id = 1_000_000  # above the setup's events
        self.message_id = 0
        self.hours = list(range(24))

    def _start(self) -> int:
        day = self.rng.randrange(DAYS)
        if day % 7 >= 5 and self.rng.random() < 0.6:  # quieter weekends
            day -= 2
        hour = self.rng.choices(self.hours, _HOUR_WEIGHTS)[0]
        return START + day * 86_400_000 + hour * 3_600_000 + self.rng.randrange(3_600_000)

    def _event(self, rows: list[tuple[Any, ...]], kind: str, c: int, v: int, payload: JSON, at: int) -> int:
        self.event_id += 1
        rows.append((self.event_id, self.tenant_id, kind, c, v, json.dumps(payload), at))
        return self.event_id

    def _resolve(
        self, events: list[tuple[Any, ...]], surveys: list[tuple[Any, ...]], brief: JSON, v: int, at: int
    ) -> None:
        rng, c, agent = self.rng, int(brief["id"]), int(brief["assignee_id"])
        eid = self._event(events, "conversation.updated", c, v, {**brief, "change": "resolved"}, at)
        if rng.random() < 0.4:
            rated = rng.random() < 0.5
            rating = rng.choice((1, 2, 3, 4, 4, 5, 5, 5)) if rated else None
            comment = "thanks, quick and kind" if rated and rng.random() < 0.2 else None
            rated_at = at + 60_000 if rated else None
            surveys.append((self.tenant_id, c, v, agent, eid, "five", rating, comment, at, rated_at, at + 86_400_000))

    def chunk(self, first: int, count: int) -> tuple[list[tuple[Any, ...]], ...]:
        rng, tenant = self.rng, self.tenant_id
        visitors: list[tuple[Any, ...]] = []
        convs: list[tuple[Any, ...]] = []
        messages: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        surveys: list[tuple[Any, ...]] = []
        for c in range(first, first + count):
            v = c
            agent = rng.choice(self.agent_ids)
            team = self.team_of[agent]
            labelled = rng.random() < 0.2
            brief = {"id": c, "assignee_id": agent, "team_id": team}
            at = self._start()
            created = at
            self._event(events, "conversation.created", c, v, brief, at)
            reopen_after = 6 if rng.random() < 0.15 else None
            resolved = rng.random() < 0.85

            for seq in range(1, PER_CONVERSATION + 1):
                visitor = seq % 2 == 1
                if seq > 1:
                    if visitor:
                        at += int(rng.expovariate(1 / 120_000))
                    elif rng.random() < 0.1:
                        at += int(rng.expovariate(1 / 7_200_000))  # a slow one
                    else:
                        at += int(rng.expovariate(1 / 240_000))
                if reopen_after is not None and seq == reopen_after + 1:
                    self._resolve(events, surveys, brief, v, at)
                    at += rng.randrange(3_600_000, 48 * 3_600_000)
                self.message_id += 1
                mid = self.message_id
                email = visitor and seq == (reopen_after or 0) + 1 and rng.random() < 0.3
                client_id = domain.email_client_id(f"<{mid}@bench>") if email else f"bench-{mid}"
                author = ("visitor", v) if visitor else ("agent", agent)
                payload = {
                    "id": mid,
                    "author_kind": author[0],
                    "author_id": author[1],
                    "client_id": client_id,
                    "conversation": brief,
                }
                eid = self._event(events, "message.created", c, v, payload, at)
                messages.append((mid, c, seq, author[0], author[1], f"message {mid}", at, eid))
            if resolved:
                at += rng.randrange(60_000, 1_800_000)
                self._resolve(events, surveys, brief, v, at)
            visitors.append((v, tenant, f"bench-token-{v}", f"Visitor {v}", created, at))
            convs.append(
                (
                    c,
                    tenant,
                    v,
                    "resolved" if resolved else "open",
                    agent,
                    team,
                    f",{self.label_id}," if labelled else "",
                    created,
                    at,
                    PER_CONVERSATION,
                    "…",
                )
            )
        return visitors, convs, messages, events, surveys


async def _load(url: str, conversations: int, progress: Progress) -> JSON:
    from ..store import bulk, open_store, reports

    tenant_id, agent_ids, team_of, label_id = await _setup(url)
    gen = _Gen(tenant_id, agent_ids, team_of, label_id)
    store = open_store(url)
    await store.open()
    try:
        started = time.monotonic()
        progress.begin(f"reports: load {conversations * PER_CONVERSATION:,} msgs")
        done = 0
        while done < conversations:
            count = min(CHUNK, conversations - done)
            await store.write(bulk.insert_report_bench_rows, *gen.chunk(done + 1, count))
            done += count
            progress.update(done / conversations, f"{done * PER_CONVERSATION:,} messages")
        loaded = time.monotonic() - started
        progress.end(f"loaded in {loaded:.0f} s")
        progress.begin("reports: rebuild the facts from the event log")
        started = time.monotonic()
        replayed = await store.write(reports.rebuild, tenant_id)
        rebuilt = time.monotonic() - started
        await store.write(bulk.after_bulk_load)
        progress.end(f"{replayed:,} events in {rebuilt:.0f} s")
    finally:
        await store.close()
    return {
        "tenant_id": tenant_id,
        "agent_id": agent_ids[0],
        "team_id": team_of[agent_ids[0]],
        "label_id": label_id,
        "messages": gen.message_id,
        "conversations": conversations,
        "events_replayed": replayed,
        "load_s": round(loaded, 1),
        "rebuild_s": round(rebuilt, 1),
    }


def _queries(data: JSON) -> list[tuple[str, JSON]]:
    last = dt.date(2025, 1, 6) + dt.timedelta(days=DAYS - 1)
    month = {"start": (last - dt.timedelta(days=29)).isoformat(), "end": last.isoformat()}
    half = {"start": (last - dt.timedelta(days=181)).isoformat(), "end": last.isoformat()}
    year = {"start": "2025-01-06", "end": last.isoformat()}
    return [
        ("30 days by day", {**month, "group": "day"}),
        ("30 days by hour", {**month, "group": "hour"}),
        ("30 days, one agent", {**month, "agent_id": data["agent_id"]}),
        ("30 days, one team", {**month, "team_id": data["team_id"]}),
        ("30 days, one label", {**month, "label_id": data["label_id"]}),
        ("30 days, email", {**month, "channel": "email"}),
        ("182 days by week (previous full)", {**half, "group": "week"}),
        ("year by week", {**year, "group": "week"}),
        ("year by month", {**year, "group": "month"}),
        ("year by day, one team", {**year, "team_id": data["team_id"]}),
        ("year by month, one label", {**year, "group": "month", "label_id": data["label_id"]}),
    ]


async def _measure(url: str, data: JSON, rounds: int, progress: Progress) -> list[JSON]:
    from ..store import open_store, reports

    store = open_store(url)
    await store.open()
    out = []
    try:
        queries = _queries(data)
        for n, (name, fields) in enumerate(queries):
            progress.update(n / len(queries), name)
            req = protocol.ReportGet(ref="1", **fields)
            q = reports.ReportQuery.parse(req)
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                result = await store.read(reports.report, data["tenant_id"], q, now=0)
                protocol.encode_reply("1", result)
                times.append((time.perf_counter() - t0) * 1000)
            out.append(
                {
                    "query": name,
                    "p50_ms": _pct(times, 0.5),
                    "max_ms": round(max(times), 1),
                    "conversations": result.summary.conversations,
                    "messages_in": result.summary.messages_in,
                }
            )
    finally:
        await store.close()
    return out


# -- instructions per message, under callgrind ---------------------------------------------------------


async def _cost_run(path: str, messages: int, reporting: bool) -> None:
    """Store ``messages`` messages (conversations of 10, alternating visitor and agent, then resolved)."""
    from ..domain import StatusAction
    from ..report_projection import ReportProjection
    from ..store import agents, conversations, open_store, tenants, visitors
    from ..store import messages as store_messages

    store = open_store(f"sqlite:///{path}")
    # The server's projection, fed by the store's publication as in the server; run at set points here.
    projection = ReportProjection(store, delay=3600.0)
    await store.open()
    if reporting:
        store.on_commit = projection.on_commit
    try:

        def seed(tx: Any) -> tuple[int, int]:
            tenant = tenants.create_tenant(tx, "cost", "Cost", "site-cost", "secret", {"business_hours": HOURS})
            return tenant.id, agents.create_agent(tx, tenant.id, "a@cost.test", "A", "agent", "x").id

        tenant_id, agent_id = await store.write(seed)
        for c in range(messages // PER_CONVERSATION):
            visitor = await store.write(visitors.create_visitor, tenant_id, f"cost-{c}", {"name": f"V{c}"})
            conversation_id = None
            for seq in range(PER_CONVERSATION):
                kind, author = ("visitor", visitor.id) if seq % 2 == 0 else ("agent", agent_id)
                ack = await store.write(
                    store_messages.post_message,
                    tenant_id,
                    author_kind=kind,
                    author_id=author,
                    conversation_id=conversation_id,
                    client_id=f"c{c}-{seq}",
                    body="a message of an ordinary length, about a parcel",
                )
                conversation_id = ack.conversation_id
            assert conversation_id is not None
            await store.write(
                conversations.change_status,
                tenant_id,
                agent_id=agent_id,
                conversation_id=conversation_id,
                action=StatusAction.RESOLVE,
                client_id=None,
            )
            if reporting and (c + 1) % PROJECT_EVERY == 0:  # as the server does, a moment after the commits
                await projection.project(tenant_id)
        if reporting:
            await projection.project(tenant_id)
    finally:
        await store.close()


def _instructions(messages: int, reporting: bool, folder: str) -> int:
    db = os.path.join(folder, f"cost-{messages}-{int(reporting)}.db")
    out = os.path.join(folder, "callgrind.out")
    proc = subprocess.run(
        [
            shutil.which("valgrind") or "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "frontdesk.server.bench._reports",
            db,
            str(messages),
            "on" if reporting else "off",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in callgrind's output: {proc.stderr[-500:]}")
    return int(found.group(1))


def _cost(messages: int, progress: Progress) -> JSON:
    if shutil.which("valgrind") is None:
        return {"error": "valgrind is not installed: no instruction counts"}
    folder = tempfile.mkdtemp(prefix="frontdesk-cost-")
    try:
        per: JSON = {}
        small = max(PER_CONVERSATION, messages // 5 // PER_CONVERSATION * PER_CONVERSATION)
        for n, reporting in enumerate((False, True)):
            progress.update(n / 2, f"callgrind, reporting {'on' if reporting else 'off'}")
            big = _instructions(messages, reporting, folder)
            little = _instructions(small, reporting, folder)
            per["on" if reporting else "off"] = round((big - little) / (messages - small))
        per["increase_pct"] = round(100 * (per["on"] - per["off"]) / per["off"], 1)
        per["messages"] = [small, messages]
        return per
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def reports_bench(
    db_url: str | None,
    messages: int,
    rounds: int,
    callgrind: int,
    db_dir: str | None,
    progress: Progress,
    keep: str | None = None,
) -> JSON:
    """The whole workload; a JSON report. With ``keep`` (a SQLite file) the data set is built there once and
    kept, with what the queries need beside it (``keep`` + ``.json``); a later run with the same ``keep``
    times the queries on it without loading again."""
    folder = None
    meta = Path(f"{keep}.json") if keep else None
    if keep:
        db_url = f"sqlite:///{Path(keep).resolve()}"
    elif db_url is None:
        folder = tempfile.mkdtemp(prefix="frontdesk-reports-", dir=db_dir)
        db_url = f"sqlite:///{Path(folder) / 'reports.db'}"
    try:
        if meta is not None and meta.exists():
            data = {**json.loads(meta.read_text()), "reused": True}
        else:
            data = asyncio.run(_load(db_url, messages // PER_CONVERSATION, progress))
            if meta is not None:
                meta.write_text(json.dumps(data))
        progress.begin("reports: report.get")
        timings = asyncio.run(_measure(db_url, data, rounds, progress))
        progress.end("timed")
        report: JSON = {"data": data, "report_get": timings}
        if callgrind:
            progress.begin("reports: instructions per message")
            report["instructions_per_message"] = _cost(callgrind, progress)
            progress.end("counted")
        return report
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def table(report: JSON) -> str:
    """The report as text."""
    d = report["data"]
    lines = [
        f"data: {d['messages']:,} messages, {d['conversations']:,} conversations, {AGENTS} agents over {DAYS} days;"
        f" loaded in {d['load_s']} s, facts rebuilt from {d['events_replayed']:,} events in {d['rebuild_s']} s"
        + (" (an earlier run's, reused)" if d.get("reused") else ""),
        "",
        f"{'report.get (store read + encoding)':<36} {'p50 ms':>8} {'max ms':>8} {'convs':>8} {'msgs in':>9}",
    ]
    for row in report["report_get"]:
        counts = f"{row['conversations']:>8} {row['messages_in']:>9}"
        lines.append(f"{row['query']:<36} {row['p50_ms']:>8} {row['max_ms']:>8} {counts}")
    cost = report.get("instructions_per_message")
    if cost:
        lines.append("")
        if "error" in cost:
            lines.append(f"instructions per message: {cost['error']}")
        else:
            lines.append(
                f"instructions per stored message (callgrind, {cost['messages'][0]} vs {cost['messages'][1]} messages):"
                f" reporting off {cost['off']:,}, on {cost['on']:,} ({cost['increase_pct']:+} %)"
            )
    return "\n".join(lines)


if __name__ == "__main__":  # the process callgrind counts: python -m frontdesk.server.bench._reports DB N on|off
    asyncio.run(_cost_run(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "on"))
