"""Snooze (store/snooze.py) and the auto-assigner's queue and sweep (store/assignment.py), on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.server.exceptions import Conflict, NotFound
from frontdesk.server.protocol import decode
from frontdesk.server.store import Store, _sql, agents_self, conversations, handoff, jobs, teams, tenants, visitors
from frontdesk.server.store import assignment as assign_ops
from frontdesk.server.store import snooze as snooze_ops

from tests.server.store.test_contract import World, conv, reply, rows, run, say, seed, status

NOW = 1_800_000_000_000
HOUR = 3_600_000


async def snooze(store: Store, w: World, conversation_id: int, until: int | None, *, now: int = NOW) -> Any:
    return await store.write(
        snooze_ops.snooze,
        w.tenant,
        agent_id=w.agent,
        conversation_id=conversation_id,
        until=until,
        now=now,
        client_id=None,
    )


async def listed(store: Store, w: World, filter: str) -> list[int]:
    page, _ = await store.read(
        conversations.list_conversations,
        w.tenant,
        filter=filter,
        me=w.agent,
        query=None,
        visitor_id=None,
        cursor=None,
        limit=50,
    )
    return [c.id for c in page]


def test_a_snooze_until_a_time_leaves_the_open_list_and_its_job_wakes_it(store_url: str) -> None:
    """Snoozed: status "snoozed", out of "open", in "snoozed", a wake-up job due at the time; the job's
    wake reopens it once (change "woken"), and a second run finds nothing to do."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "hi"))["conversation_id"]
        change = await snooze(store, w, c, NOW + HOUR)
        assert (change.conversation.status, change.conversation.snoozed_until) == ("snoozed", NOW + HOUR)
        assert await listed(store, w, "open") == []
        assert await listed(store, w, "snoozed") == [c]
        assert c in await listed(store, w, "all")
        [job] = await store.read(jobs.pending, snooze_ops.WAKE_JOB)
        assert (job.due_at, job.payload, job.tenant_id) == (
            NOW + HOUR,
            {"conversation_id": c, "until": NOW + HOUR},
            w.tenant,
        )
        assert await store.write(jobs.claim, "n", now=NOW + HOUR - 1, lease_ms=1000) == []
        woke = await store.write(snooze_ops.wake, w.tenant, c, NOW + HOUR)
        assert woke is not None and woke.conversation.status == "open" and woke.conversation.snoozed_until is None
        events = await rows(store, "SELECT kind, payload FROM events WHERE conversation_id = ? ORDER BY event_id", (c,))
        assert [decode(e["payload"])["change"] for e in events[-2:]] == ["snoozed", "woken"]
        assert await store.write(snooze_ops.wake, w.tenant, c, NOW + HOUR) is None
        assert await listed(store, w, "open") == [c]

    run(store_url, scenario)


def test_a_snooze_in_the_past_or_of_a_resolved_conversation_is_refused_and_changes_nothing(store_url: str) -> None:
    """A snooze not after now is a Conflict naming ``until``; a resolved conversation cannot be snoozed;
    neither stores a flag or a job."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "hi"))["conversation_id"]
        with pytest.raises(Conflict) as refused:
            await snooze(store, w, c, NOW)
        assert refused.value.field == "until"
        assert (await conv(store, w, c)).status == "open"
        await status(store, w, c, "resolve")
        with pytest.raises(Conflict):
            await snooze(store, w, c, NOW + HOUR)
        assert (await conv(store, w, c)).status == "resolved"
        assert await store.read(jobs.pending, snooze_ops.WAKE_JOB) == []

    run(store_url, scenario)


def test_a_visitor_message_wakes_a_snoozed_conversation_at_once(store_url: str) -> None:
    """Snoozed until the reply (no job) or until a time, a visitor's message reopens it in the same write;
    the time's job then finds nothing to wake. An agent's reply leaves the snooze alone."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "hi"))["conversation_id"]
        change = await snooze(store, w, c, None)
        assert (change.conversation.status, change.conversation.snoozed_until) == ("snoozed", None)
        assert await store.read(jobs.pending, snooze_ops.WAKE_JOB) == []
        await reply(store, w, w.agent, c, "we will look at it tomorrow")
        assert (await conv(store, w, c)).status == "snoozed"
        ack = await say(store, w, w.alice, "any news?", conversation_id=c)
        assert ack["conversation"]["status"] == "open"
        assert (await conv(store, w, c)).status == "open"

        await snooze(store, w, c, NOW + HOUR)
        ack = await say(store, w, w.alice, "hello?")  # no conversation_id: the checked path
        assert ack["conversation"]["status"] == "open"
        assert await store.write(snooze_ops.wake, w.tenant, c, NOW + HOUR) is None

    run(store_url, scenario)


def test_reopen_wakes_and_resolve_ends_a_snooze(store_url: str) -> None:
    """``reopen`` of a snoozed conversation wakes it; a resolve ends the snooze too."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "hi"))["conversation_id"]
        await snooze(store, w, c, NOW + HOUR)
        assert (await status(store, w, c, "reopen"))["conversation"]["status"] == "open"
        await snooze(store, w, c, None)
        assert (await status(store, w, c, "resolve"))["conversation"]["status"] == "resolved"
        assert (await status(store, w, c, "reopen"))["conversation"]["status"] == "open"

    run(store_url, scenario)


def test_erasure_removes_a_snooze_wake_up_job(store_url: str) -> None:
    """The wake-up job names the visitor, so erasing the visitor deletes it with the conversation."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "hi"))["conversation_id"]
        await snooze(store, w, c, NOW + HOUR)
        await store.write(visitors.erase_visitor, w.tenant, w.alice)
        assert await store.read(jobs.pending, snooze_ops.WAKE_JOB) == []

    run(store_url, scenario)


# -- auto-assignment ------------------------------------------------------------------------


async def turn_on(store: Store, w: World, **config: Any) -> None:
    await store.write(tenants.set_config, w.tenant, {"auto_assign": True, **config}, w.admin)


async def more_visitors(store: Store, w: World, n: int) -> list[int]:
    def make(tx: _sql.Tx) -> list[int]:
        return [visitors.create_visitor(tx, w.tenant, f"tok-extra-{i}", {}).id for i in range(n)]

    return await store.write(make)


async def sweep(store: Store, w: World, online: set[int], now: int = NOW) -> assign_ops.Sweep:
    return await store.write(assign_ops.sweep, w.tenant, online=online, now=now)


def test_the_assigner_is_off_by_default_and_then_fills_the_least_loaded_under_capacity(store_url: str) -> None:
    """Off: nothing moves. On: the queue goes out oldest first to online, active, available agents under
    their capacity, least loaded first, ties to the one idle longest; the rest wait in order."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        extra = await more_visitors(store, w, 4)
        convs = [(await say(store, w, v, "help"))["conversation_id"] for v in [w.alice, w.carol, *extra]]
        online = {w.admin, w.agent, w.disabled}
        assert await sweep(store, w, online) == assign_ops.Sweep(False, [], [])
        assert await store.read(assign_ops.queue, w.tenant) == []
        await turn_on(store, w, agent_capacity=2)
        assert [c for c, *_ in await store.read(assign_ops.queue, w.tenant)] == convs
        # Bob already has one: Ada (least loaded) first, then a tie at one each goes to the one idle longest.
        await store.write(
            conversations.assign,
            w.tenant,
            agent_id=w.admin,
            conversation_id=convs[5],
            assignee_id=w.agent,
            client_id=None,
            now=NOW - HOUR,
        )
        done = await sweep(store, w, online)
        assert [(c, a) for c, _, a in done.assigned] == [(convs[0], w.admin), (convs[1], w.agent), (convs[2], w.admin)]
        assert [c for c, *_ in done.waiting] == [convs[3], convs[4]]  # both at capacity; Dan is disabled
        first = await conv(store, w, convs[0])
        assert (first.assignee_id, first.assign_reason) == (w.admin, "auto")
        assert (await conv(store, w, convs[5])).assign_reason == "manual"
        changes = await rows(
            store, "SELECT payload FROM events WHERE conversation_id = ? AND kind = 'conversation.updated'", (convs[0],)
        )
        assert [decode(r["payload"])["change"] for r in changes] == ["auto_assigned"]
        # Resolving frees a slot: the next sweep hands out the first in line.
        await status(store, w, convs[0], "resolve")
        done = await sweep(store, w, online)
        assert [(c, a) for c, _, a in done.assigned] == [(convs[3], w.admin)]
        assert [c for c, *_ in done.waiting] == [convs[4]]

    run(store_url, scenario)


def test_offline_away_and_after_hours_agents_get_nothing(store_url: str) -> None:
    """Agents not online, or Away, are skipped; outside business hours nobody qualifies."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "help"))["conversation_id"]
        await turn_on(store, w)
        assert (await sweep(store, w, set())).assigned == []
        await store.write(agents_self.set_away, w.tenant, w.admin, True)
        assert (await sweep(store, w, {w.admin})).assigned == []  # online but away
        closed = {"enabled": True, "timezone": "UTC", "days": {}}
        await turn_on(store, w, business_hours=closed)
        done = await sweep(store, w, {w.agent})
        assert (done.assigned, [x for x, *_ in done.waiting]) == ([], [c])
        await turn_on(store, w, business_hours={"enabled": False, "timezone": "UTC", "days": {}})
        assert [(x, a) for x, _, a in (await sweep(store, w, {w.agent})).assigned] == [(c, w.agent)]

    run(store_url, scenario)


def test_a_reopened_conversation_returns_to_the_queue_when_its_assignee_stays_offline(store_url: str) -> None:
    """A visitor reopening a resolved, assigned conversation enqueues the grace check, due after the grace;
    with the assignee offline then, it is unassigned, queued (change "queued") and a sweep is asked for;
    with the assignee online it stays."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "help"))["conversation_id"]
        await turn_on(store, w, reassign_grace_minutes=5)
        await reply(store, w, w.agent, c, "done")
        await status(store, w, c, "resolve")
        await say(store, w, w.alice, "it broke again", conversation_id=c)
        [grace] = await store.read(jobs.pending, assign_ops.GRACE_JOB)
        assert grace.payload == {"conversation_id": c, "assignee_id": w.agent}
        assert grace.due_at - grace.created_at == 5 * 60_000
        assert not await store.write(
            assign_ops.return_to_queue, w.tenant, c, w.agent, online={w.agent}, now=NOW
        )  # back online: it stays
        assert await store.write(assign_ops.return_to_queue, w.tenant, c, w.agent, online=set(), now=NOW)
        back = await conv(store, w, c)
        assert (back.assignee_id, back.assign_reason) == (None, None)
        assert [x for x, *_ in await store.read(assign_ops.queue, w.tenant)] == [c]
        assert [j.kind for j in await store.read(jobs.pending, assign_ops.SWEEP_JOB)] == [assign_ops.SWEEP_JOB]

    run(store_url, scenario)


def test_sweep_requests_keep_one_waiting_job_and_one_more_while_it_runs(store_url: str) -> None:
    """Asking for a sweep twice keeps one job; while that one runs, a new ask waits as a second job."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        await store.write(assign_ops.request_sweep, w.tenant, now=NOW)
        await store.write(assign_ops.request_sweep, w.tenant, now=NOW)
        assert len(await store.read(jobs.pending, assign_ops.SWEEP_JOB)) == 1
        await store.write(jobs.claim, "n", now=NOW, lease_ms=60_000)
        await store.write(assign_ops.request_sweep, w.tenant, now=NOW)
        await store.write(assign_ops.request_sweep, w.tenant, now=NOW)
        assert len(await store.read(jobs.pending, assign_ops.SWEEP_JOB)) == 2

    run(store_url, scenario)


# -- transfer ---------------------------------------------------------------------------------


async def transfer(
    store: Store, w: World, c: int, *, agent: int | None = None, team: int | None = None, note: str | None = None
) -> Any:
    return await store.write(
        handoff.transfer,
        w.tenant,
        agent_id=w.admin,
        conversation_id=c,
        to_agent_id=agent,
        to_team_id=team,
        note=note,
        client_id=None,
    )


def test_a_transfer_to_an_agent_or_a_team_records_its_reason_and_its_note(store_url: str) -> None:
    """To an agent: theirs, reason "transfer", change "transferred" by the transferring agent, the note a
    private note in the same write. To a team alone: in the team's inbox, unassigned."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "refund please"))["conversation_id"]
        team = (await store.write(teams.create_team, w.tenant, "Billing", [w.agent])).team.id
        change = await transfer(store, w, c, agent=w.agent, note="Bob, this one is about a refund")
        assert (change.conversation.assignee_id, change.conversation.assign_reason) == (w.agent, "transfer")
        updated = await rows(
            store, "SELECT payload FROM events WHERE kind = 'conversation.updated' AND conversation_id = ?", (c,)
        )
        last = decode(updated[-1]["payload"])
        assert (last["change"], last["actor_id"], last["assignee_id"]) == ("transferred", w.admin, w.agent)
        notes = await rows(store, "SELECT agent_id, body FROM notes WHERE conversation_id = ?", (c,))
        assert notes == [{"agent_id": w.admin, "body": "Bob, this one is about a refund"}]
        moved = await transfer(store, w, c, team=team)
        assert (moved.conversation.team_id, moved.conversation.assignee_id) == (team, None)
        assert moved.conversation.assign_reason is None

    run(store_url, scenario)


def test_a_refused_transfer_changes_nothing(store_url: str) -> None:
    """A disabled agent is a Conflict; another tenant's agent or team is NotFound; a resolved conversation is
    a Conflict: no assignee, team, event or note is written."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        c = (await say(store, w, w.alice, "hi"))["conversation_id"]
        foreign_team = (await store.write(teams.create_team, w.other_tenant, "Theirs", [])).team.id
        before = await rows(store, "SELECT COUNT(*) AS n FROM events")
        with pytest.raises(Conflict, match="disabled"):
            await transfer(store, w, c, agent=w.disabled, note="for Dan")
        with pytest.raises(NotFound):
            await transfer(store, w, c, agent=w.foreign_agent)
        with pytest.raises(NotFound):
            await transfer(store, w, c, agent=w.agent, team=foreign_team, note="x")
        assert await rows(store, "SELECT COUNT(*) AS n FROM events") == before
        assert await rows(store, "SELECT id FROM notes") == []
        same = await conv(store, w, c)
        assert (same.assignee_id, same.team_id) == (None, None)
        await status(store, w, c, "resolve")
        with pytest.raises(Conflict, match="resolved"):
            await transfer(store, w, c, agent=w.agent)

    run(store_url, scenario)


def test_a_team_queue_goes_to_its_members_only(store_url: str) -> None:
    """With only a team's auto-assignment on, its conversations go to its online members; conversations in no
    team wait for nobody (their queue is off); each queue counts places on its own."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        extra = await more_visitors(store, w, 2)
        team = (await store.write(teams.create_team, w.tenant, "Billing", [w.agent])).team.id
        c1, c2, c3 = [(await say(store, w, v, "help"))["conversation_id"] for v in (w.alice, w.carol, extra[0])]
        for c in (c1, c2):
            await transfer(store, w, c, team=team)
        await store.write(tenants.set_config, w.tenant, {"auto_assign_teams": [team], "agent_capacity": 1}, w.admin)
        assert await store.read(assign_ops.queue, w.tenant) == [(c1, w.alice, 1), (c2, w.carol, 2)]
        done = await sweep(store, w, {w.admin})  # Ada is online but not a member
        assert done.assigned == [] and [p for *_, p in done.waiting] == [1, 2]
        done = await sweep(store, w, {w.admin, w.agent})
        assert [(c, a) for c, _, a in done.assigned] == [(c1, w.agent)]
        assert done.waiting == [(c2, w.carol, 1)]  # Bob is at capacity
        assert (await conv(store, w, c3)).assignee_id is None

    run(store_url, scenario)


def test_a_tie_goes_to_the_agent_assigned_longest_ago_by_any_means(store_url: str) -> None:
    """Ties go to the one assigned longest ago, counting every assignment: a conversation Bob took by hand, or got
    by transfer, after Ada's automatic one makes Ada the one the next tie goes to."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        extra = await more_visitors(store, w, 3)
        online = {w.admin, w.agent}
        await turn_on(store, w, agent_capacity=5)
        c0 = (await say(store, w, w.alice, "one"))["conversation_id"]
        assert [(c, a) for c, _, a in (await sweep(store, w, {w.admin}, NOW)).assigned] == [(c0, w.admin)]
        c1 = (await say(store, w, w.carol, "two"))["conversation_id"]
        await store.write(
            conversations.assign,
            w.tenant,
            agent_id=w.agent,
            conversation_id=c1,
            assignee_id=w.agent,
            client_id=None,
            now=NOW + HOUR,
        )
        c2 = (await say(store, w, extra[0], "three"))["conversation_id"]
        # One each; Ada's (NOW) is older than Bob's manual one (NOW + 1 h).
        assert [(c, a) for c, _, a in (await sweep(store, w, online, NOW + 2 * HOUR)).assigned] == [(c2, w.admin)]
        await status(store, w, c0, "resolve")
        c3 = (await say(store, w, extra[1], "four"))["conversation_id"]
        await store.write(
            handoff.transfer,
            w.tenant,
            agent_id=w.admin,
            conversation_id=c3,
            to_agent_id=w.agent,
            to_team_id=None,
            note=None,
            client_id=None,
            now=NOW + 3 * HOUR,
        )
        await status(store, w, c1, "resolve")
        c4 = (await say(store, w, extra[2], "five"))["conversation_id"]
        # One each again; Ada's (NOW + 2 h) is older than Bob's transfer (NOW + 3 h).
        assert [(c, a) for c, _, a in (await sweep(store, w, online, NOW + 4 * HOUR)).assigned] == [(c4, w.admin)]

    run(store_url, scenario)
