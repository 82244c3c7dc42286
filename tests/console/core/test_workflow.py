"""Teams, labels and canned responses in the console's core (console/core/workflow.py, cache/_workflow.py)."""

from __future__ import annotations

from pathlib import Path

from frontdesk.console.core import Cache, cache_path
from frontdesk.console.core.workflow import canned_values, rank_canned
from frontdesk.server import canned_text
from frontdesk.server.protocol import CannedResponse

from tests.console import wireobj as W
from tests.support import RunningServer, WsClient, new_client_id

from .conftest import arun, make_core, online, wait_until
from .test_cache import conv, event
from .test_outbox import offline_core


def _canned(cid: int, shortcut: str, title: str, body: str) -> CannedResponse:
    return CannedResponse(
        id=cid, scope="tenant", team_id=None, agent_id=None, shortcut=shortcut, title=title, body=body, updated_at=0
    )


def test_completion_puts_shortcut_prefixes_first_then_text_matches_by_use() -> None:
    """ "/th" lists shortcuts starting with "th" first, then title/body matches; within each the most used first."""
    thanks = _canned(1, "thanks", "Thanks for waiting", "Thanks for your patience!")
    thx = _canned(2, "thx", "Short thanks", "Thx!")
    other = _canned(3, "bye", "Wrap up", "Anything else? Thanks for chatting")
    hi = _canned(4, "hi", "Greeting", "Hello")
    assert [c.id for c in rank_canned([thanks, thx, other, hi], {}, "th")] == [1, 2, 3]
    assert [c.id for c in rank_canned([thanks, thx, other, hi], {2: 5}, "th")] == [2, 1, 3]
    assert [c.id for c in rank_canned([thanks, thx, other, hi], {3: 9}, "")] == [3, 4, 1, 2]


def test_variables_fill_with_defaults_and_prompts_take_answers() -> None:
    """A visitor without a name gets the default; the agent's first name and the prompt's answer go in."""
    body = "Hi {{visitor.first_name|there}}, {{agent.first_name}} here. Order {{?order number}} (#{{conversation.id}})"
    anonymous = canned_values(
        visitor_name="Visitor #7", visitor_email=None, agent_name="Ada Lovelace", conversation_id=7
    )
    assert canned_text.prompts(body) == ["order number"]
    assert canned_text.fill(body, anonymous, {"order number": "A-1"}) == "Hi there, Ada here. Order A-1 (#7)"
    named = canned_values(visitor_name="Jo Smith", visitor_email=None, agent_name="Ada", conversation_id=7)
    assert canned_text.fill(body, named, {}).startswith("Hi Jo, Ada here. Order  (#7)")


def test_labels_apply_offline_through_the_outbox(tmp_path: Path) -> None:
    """Offline, label.add shows on the conversation and in the label filter at once, and waits in the outbox."""

    async def main() -> None:
        core, _ = await offline_core(tmp_path)
        assert await core.resume()
        await core.start()
        await core.add_label(1, 3)
        await core.add_label(1, 5)
        row = core.cache.conversation(1)
        assert row is not None and row.label_ids == (3, 5) and row.pending_actions == 2
        assert [c.id for c in core.cache.conversations("all", label_id=3)] == [1]
        await core.remove_label(1, 3)
        row = core.cache.conversation(1)
        assert row is not None and row.label_ids == (5,)
        assert core.cache.conversations("all", label_id=3) == []
        assert [i.body for i in core.cache.thread(1)] == ["Add a label", "Add a label", "Remove a label"]
        await core.stop()

    arun(main())


def test_team_filter_and_deleted_labels_in_the_cache(tmp_path: Path) -> None:
    """The inbox's team filter keeps that team's conversations; a deleted team or label leaves every conversation."""

    async def main() -> None:
        cache = Cache.open(cache_path(tmp_path, "http://127.0.0.1:9", "ada@example.com"))
        await cache.apply_snapshot(
            W.convs([conv(1, team_id=4, label_ids=[7, 8]), conv(2, label_ids=[8]), conv(3, team_id=5)]),
            epoch="e",
            last_event_id=5,
        )
        assert [c.id for c in cache.conversations("all", team_id=4)] == [1]
        assert sorted(c.id for c in cache.conversations("all", label_id=8)) == [1, 2]
        assert cache.count_conversations("all", team_id=5) == 1
        applied = await cache.apply_events(
            W.events(
                [
                    event(6, "label.updated", {"id": 8, "name": "Bug", "color": "#ff0000", "deleted": True}),
                    event(7, "team.updated", {"id": 4, "name": "Sales", "member_ids": [], "deleted": True}),
                    event(8, "team.updated", {"id": 5, "name": "Support", "member_ids": [2], "deleted": False}),
                ]
            )
        )
        assert applied.workflow and applied.reload_all
        assert cache.conversations("all", label_id=8) == []
        row = cache.conversation(1)
        assert row is not None and row.label_ids == (7,) and row.team_id is None
        assert [t.name for t in cache.teams()] == ["Support"]
        cache.close()

    arun(main())


def test_teams_labels_and_canned_reach_a_colleagues_console(server: RunningServer, data_dir: Path) -> None:
    """An admin's teams, labels and tenant canned responses reach another agent's cache; the admin's personal
    response does not; a label put on a conversation online reaches the colleague's inbox filter."""

    async def main() -> None:
        admin, _ = make_core(server, data_dir / "admin")
        await admin.login(server.admin_email, server.admin_password, remember=False)
        await admin.start()
        await online(admin)
        password = server.add_agent("plain@example.com", "Plain")
        plain, rec = make_core(server, data_dir / "plain")
        await plain.login("plain@example.com", password, remember=False)
        await plain.start()
        await online(plain)
        assert plain.me is not None and admin.me is not None
        team = await admin.create_team("Billing", [plain.me.id])
        label = await admin.create_label("VIP", "#ff8800")
        await admin.save_canned(scope="tenant", shortcut="hi", title="Hi", body="Hi {{visitor.first_name|there}}!")
        await admin.save_canned(scope="team", team_id=team.id, shortcut="inv", title="Invoice", body="Invoice sent.")
        await admin.save_canned(scope="personal", shortcut="mine", title="Mine", body="Only mine")
        await wait_until(lambda: len(plain.cache.canned_responses()) == 2, what="canned responses pushed")
        assert [t.name for t in plain.cache.teams()] == ["Billing"] and plain.my_team_ids() == {team.id}
        assert [x.name for x in plain.cache.labels()] == ["VIP"]
        assert [c.shortcut for c in plain.complete_canned("")] == ["hi", "inv"]
        assert {c.shortcut for c in admin.complete_canned("")} == {"hi", "mine"}  # not in the team
        visitor, _ = await WsClient.visitor(server)
        ack = await visitor.request("message.send", client_id=new_client_id(), body="hello")
        cid = ack["conversation_id"]
        await wait_until(lambda: admin.cache.conversation(cid) is not None, what="conversation cached")
        await admin.add_label(cid, label.id)
        await wait_until(
            lambda: [c.id for c in plain.cache.conversations("all", label_id=label.id)] == [cid], what="label synced"
        )
        await admin.delete_label(label.id)
        await wait_until(lambda: plain.cache.labels() == [], what="label deleted")
        row = plain.cache.conversation(cid)
        assert row is not None and row.label_ids == ()
        assert rec.workflow > 0
        await visitor.close()
        await plain.stop()
        await admin.stop()

    arun(main())
