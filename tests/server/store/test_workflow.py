"""Teams, labels and canned responses (store/teams.py, labels.py, canned.py), on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from frontdesk.server import protocol
from frontdesk.server.exceptions import Conflict, Forbidden, NotFound
from frontdesk.server.store import Store, canned, conversations, labels, teams, visitors

from .test_contract import World, rows, run, say, seed


async def kinds(store: Store) -> list[str]:
    return [r["kind"] for r in await rows(store, "SELECT kind FROM events ORDER BY event_id")]


async def page(store: Store, w: World, **kw: Any) -> list[int]:
    found, _ = await store.read(
        conversations.list_conversations,
        w.tenant,
        filter="all",
        me=None,
        query=None,
        visitor_id=None,
        cursor=None,
        limit=50,
        **kw,
    )
    return [c.id for c in found]


def test_teams_are_created_renamed_given_members_and_deleted(store_url: str) -> None:
    """A team's changes are stored and each appends team.updated; deleting it takes its conversations out of it."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        made = await store.write(teams.create_team, w.tenant, "  Billing   team ", [w.agent, w.admin])
        assert made.team.name == "Billing team" and made.team.member_ids == sorted([w.agent, w.admin])
        changed = await store.write(teams.update_team, w.tenant, made.team.id, name="Billing", member_ids=[w.agent])
        assert changed.team.member_ids == [w.agent] and changed.team.name == "Billing"
        assert [t.name for t in await store.read(teams.list_teams, w.tenant)] == ["Billing"]
        assert await store.read(teams.list_teams, w.other_tenant) == []
        assert await store.read(teams.teams_of_agent, w.tenant, w.agent) == [made.team.id]
        c = (await say(store, w, w.alice, "hi"))["conversation_id"]
        await store.write(lambda tx: tx.run("UPDATE conversations SET team_id = ? WHERE id = ?", (made.team.id, c)))
        assert await page(store, w, team_id=made.team.id) == [c]
        conv = await store.read(conversations.get_conversation, w.tenant, c)
        assert conv.team_id == made.team.id
        await store.write(teams.delete_team, w.tenant, made.team.id)
        assert await store.read(teams.list_teams, w.tenant) == []
        assert (await store.read(conversations.get_conversation, w.tenant, c)).team_id is None
        events = await rows(store, "SELECT payload FROM events WHERE kind = 'team.updated' ORDER BY event_id")
        last = protocol.from_wire(protocol.TeamUpdated, protocol.decode(events[-1]["payload"]))
        assert len(events) == 3 and last.deleted and last.id == made.team.id

    run(store_url, scenario)


def test_a_team_name_is_unique_in_its_tenant_whatever_the_case(store_url: str) -> None:
    """A second team of the same name (case aside) is a Conflict; another tenant may use it."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        await store.write(teams.create_team, w.tenant, "Sales", None)
        with pytest.raises(Conflict):
            await store.write(teams.create_team, w.tenant, "sales", None)
        await store.write(teams.create_team, w.other_tenant, "Sales", None)

    run(store_url, scenario)


def test_another_tenants_team_or_agent_is_not_found_and_nothing_is_half_applied(store_url: str) -> None:
    """Members or teams from another tenant are NotFound; the team keeps its name and members, no event."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        made = await store.write(teams.create_team, w.tenant, "Sales", [w.agent])
        before = await kinds(store)
        with pytest.raises(NotFound):
            await store.write(teams.update_team, w.tenant, made.team.id, name="Renamed", member_ids=[w.foreign_agent])
        with pytest.raises(NotFound):
            await store.write(teams.create_team, w.tenant, "Other", [w.agent, w.foreign_agent])
        with pytest.raises(NotFound):
            await store.write(teams.update_team, w.other_tenant, made.team.id, name="Stolen", member_ids=None)
        with pytest.raises(NotFound):
            await store.write(teams.delete_team, w.other_tenant, made.team.id)
        assert [protocol.to_wire(t) for t in await store.read(teams.list_teams, w.tenant)] == [
            {"id": made.team.id, "name": "Sales", "member_ids": [w.agent]}
        ]
        assert await kinds(store) == before

    run(store_url, scenario)


def test_labels_go_on_and_off_conversations_and_filter_the_inbox(store_url: str) -> None:
    """label.add/remove change the conversation's label_ids (agents-only conversation.updated); a repeat changes
    nothing; deleting a label takes it off every conversation."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        vip = (await store.write(labels.create_label, w.tenant, "VIP", "#FF0000")).label
        bug = (await store.write(labels.create_label, w.tenant, "Bug", "#00ff00")).label
        assert vip.color == "#ff0000"
        a = (await say(store, w, w.alice, "hi"))["conversation_id"]
        b = (await say(store, w, w.carol, "hello"))["conversation_id"]

        async def change(c: int, label: int, add: bool, client_id: str | None = None) -> protocol.ConversationChange:
            return await store.write(
                labels.change_labels,
                w.tenant,
                agent_id=w.agent,
                conversation_id=c,
                label_id=label,
                add=add,
                client_id=client_id,
            )

        first = await change(a, vip.id, True, "11111111-1111-4111-8111-111111111111")
        assert first.conversation.label_ids == [vip.id] and first.event_id > 0
        again = await change(a, vip.id, True, "11111111-1111-4111-8111-111111111111")
        assert again == first
        assert (await change(a, vip.id, True)).event_id == 0  # already there: no event
        await change(a, bug.id, True)
        await change(b, bug.id, True)
        assert (await store.read(conversations.get_conversation, w.tenant, a)).label_ids == sorted([vip.id, bug.id])
        assert await page(store, w, label_id=vip.id) == [a]
        assert sorted(await page(store, w, label_id=bug.id)) == sorted([a, b])
        ev = (await rows(store, "SELECT * FROM events WHERE kind = 'conversation.updated' ORDER BY event_id"))[-1]
        assert ev["visitor_payload"] is None and '"change":"labeled"' in ev["payload"]
        assert (await change(b, bug.id, False)).conversation.label_ids == []
        await store.write(labels.delete_label, w.tenant, vip.id)
        assert (await store.read(conversations.get_conversation, w.tenant, a)).label_ids == [bug.id]
        assert [x.name for x in await store.read(labels.list_labels, w.tenant)] == ["Bug"]
        renamed = await store.write(labels.update_label, w.tenant, bug.id, name="Defect", color="#0000FF")
        assert protocol.to_wire(renamed.label) == {"id": bug.id, "name": "Defect", "color": "#0000ff"}
        with pytest.raises(Conflict):
            await store.write(labels.create_label, w.tenant, "defect", "#000000")

    run(store_url, scenario)


def test_a_label_from_another_tenant_is_not_found_and_changes_nothing(store_url: str) -> None:
    """Another tenant's label on our conversation, or our label on theirs: NotFound, no change, no event."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        theirs = (await store.write(labels.create_label, w.other_tenant, "Theirs", "#123456")).label
        ours = (await store.write(labels.create_label, w.tenant, "Ours", "#123456")).label
        a = (await say(store, w, w.alice, "hi"))["conversation_id"]
        before = await kinds(store)
        for tenant, label in ((w.tenant, theirs.id), (w.other_tenant, ours.id)):
            with pytest.raises(NotFound):
                await store.write(
                    labels.change_labels,
                    tenant,
                    agent_id=w.agent,
                    conversation_id=a,
                    label_id=label,
                    add=True,
                    client_id=None,
                )
        with pytest.raises(NotFound):
            await store.write(labels.update_label, w.tenant, theirs.id, name="Mine", color=None)
        with pytest.raises(NotFound):
            await store.write(labels.delete_label, w.tenant, theirs.id)
        assert (await store.read(conversations.get_conversation, w.tenant, a)).label_ids == []
        assert await kinds(store) == before

    run(store_url, scenario)


def test_canned_responses_by_scope(store_url: str) -> None:
    """Tenant and team responses are admins' and pushed; personal ones are their owner's alone and never pushed."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        team = (await store.write(teams.create_team, w.tenant, "Sales", [w.agent])).team

        async def save(agent: int, admin: bool, scope: str, shortcut: str, **kw: Any) -> protocol.CannedResponse:
            return await store.write(
                canned.save_canned,
                kw.pop("tenant", w.tenant),
                agent_id=agent,
                is_admin=admin,
                canned_id=kw.pop("canned_id", None),
                scope=scope,
                team_id=kw.pop("team_id", None),
                shortcut=shortcut,
                title=kw.pop("title", shortcut.title()),
                body=kw.pop("body", "Hello {{visitor.first_name|there}}"),
            )

        hello = await save(w.admin, True, "tenant", "hello")
        sales = await save(w.admin, True, "team", "pricing", team_id=team.id)
        mine = await save(w.agent, False, "personal", "thanks")
        assert mine.agent_id == w.agent and sales.team_id == team.id and hello.agent_id is None
        with pytest.raises(Forbidden):
            await save(w.agent, False, "tenant", "nope")
        with pytest.raises(Forbidden):
            await save(w.agent, False, "personal", "steal", canned_id=hello.id)
        with pytest.raises(Conflict):
            await save(w.admin, True, "tenant", "HELLO")
        await save(w.admin, True, "personal", "thanks")  # another owner: the same shortcut is fine
        with pytest.raises(NotFound):
            await save(w.admin, True, "team", "x", team_id=team.id, tenant=w.other_tenant)
        with pytest.raises(NotFound):  # someone else's personal one is none of yours
            await store.write(canned.delete_canned, w.tenant, mine.id, w.admin, True)
        seen_by_agent = {c.shortcut for c in await store.read(canned.list_canned, w.tenant, w.agent)}
        assert seen_by_agent == {"hello", "pricing", "thanks"}
        pushed = await rows(store, "SELECT payload FROM events WHERE kind = 'canned.updated'")
        assert len(pushed) == 2 and all('"personal"' not in r["payload"] for r in pushed)
        edited = await save(w.agent, False, "personal", "thx", canned_id=mine.id, body="Thanks!")
        assert edited.id == mine.id and edited.shortcut == "thx"
        assert (await store.write(canned.delete_canned, w.tenant, mine.id, w.agent, False)).event_id == 0
        await store.write(teams.delete_team, w.tenant, team.id)
        assert {c.shortcut for c in await store.read(canned.list_canned, w.tenant, w.agent)} == {"hello"}

    run(store_url, scenario)


def test_erasing_a_visitor_with_a_labelled_conversation(store_url: str) -> None:
    """Erasure removes the labelled conversation and its label changes' events and write records."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        label = (await store.write(labels.create_label, w.tenant, "VIP", "#ff0000")).label
        c = (await say(store, w, w.alice, "hi"))["conversation_id"]
        await store.write(
            labels.change_labels,
            w.tenant,
            agent_id=w.agent,
            conversation_id=c,
            label_id=label.id,
            add=True,
            client_id="22222222-2222-4222-8222-222222222222",
        )
        await store.write(visitors.erase_visitor, w.tenant, w.alice)
        assert await rows(store, "SELECT id FROM conversations WHERE id = ?", (c,)) == []
        assert await rows(store, "SELECT 1 FROM events WHERE conversation_id = ?", (c,)) == []
        assert await rows(store, "SELECT 1 FROM client_writes WHERE scope LIKE 'label.%'") == []

    run(store_url, scenario)
