"""Collision awareness in the console core: who else views and types, and the reply block (issue 15, item 6)."""

from __future__ import annotations

from pathlib import Path

from frontdesk.console.core import AgentRow, ConsoleCore, ConversationRow, CoreListenerBase
from frontdesk.console.core.collision import Collision, collision_text, reply_blocked_reason
from frontdesk.server.protocol import AgentViewing, ConversationViewer

from tests.support import RunningServer, WsClient, new_client_id

from .conftest import FakeKeyring, NetworkSwitch, arun, fast_backoff, offline, online, wait_until


class CollisionRecorder(CoreListenerBase):
    """Records on_collision_changed."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, list[str], list[str]]] = []

    def on_collision_changed(self, conversation_id: int, viewers: list[str], typing: list[str]) -> None:
        self.seen.append((conversation_id, viewers, typing))


def conversation_row(
    *, assignee_id: int | None, assignee_name: str | None = None, status: str = "open"
) -> ConversationRow:
    return ConversationRow(
        id=5,
        visitor_id=9,
        visitor_name="Visitor #9",
        visitor_email=None,
        status=status,
        assignee_id=assignee_id,
        assignee_name=assignee_name,
        preview="hi",
        created_at=0,
        last_activity=0,
        last_seq=1,
        unread=0,
        pending_actions=0,
        failed_actions=0,
    )


def _viewing(cid: int, agent_id: int, name: str, viewing: bool) -> AgentViewing:
    return AgentViewing(conversation_id=cid, agent_id=agent_id, name=name, viewing=viewing)


def test_collision_state_follows_viewing_and_typing() -> None:
    """The reply replaces a conversation's viewers (never oneself); events add and remove; leaving ends typing."""
    state = Collision()
    state.replace(7, [ConversationViewer(agent_id=2, name="Bea"), ConversationViewer(agent_id=1, name="Me")], me=1)
    assert state.viewers(7) == ["Bea"]
    assert state.apply(_viewing(7, 3, "cy", True), me=1) and state.viewers(7) == ["Bea", "cy"]
    assert not state.apply(_viewing(7, 1, "Me", True), me=1)
    state.set_typing(7, "Bea", True)
    assert state.typing(7) == ["Bea"]
    assert state.apply(_viewing(7, 2, "Bea", False), me=1)
    assert state.viewers(7) == ["cy"] and state.typing(7) == []
    assert not state.apply(_viewing(7, 2, "Bea", False), me=1)
    assert state.clear() == [7] and state.viewers(7) == []


def test_collision_text() -> None:
    """The header line names the others viewing and typing; nothing when alone."""
    assert collision_text([], []) == ""
    assert collision_text(["Bea"], []) == "Bea is also viewing"
    assert collision_text(["Bea", "Cy", "Di"], ["Bea"]) == "Bea, Cy and Di are also viewing  ·  Bea is typing a reply…"


def test_reply_blocked_reason() -> None:
    """Only with reply_assignee_only, and only in a conversation assigned to someone else."""
    me = AgentRow(id=1, email="me@x", name="Me", role="agent", active=True, online=True)
    on = {"reply_assignee_only": True}
    assert reply_blocked_reason(conversation_row(assignee_id=2, assignee_name="Bea"), me, {}) is None
    assert reply_blocked_reason(conversation_row(assignee_id=None), me, on) is None
    assert reply_blocked_reason(conversation_row(assignee_id=1, assignee_name="Me"), me, on) is None
    reason = reply_blocked_reason(conversation_row(assignee_id=2, assignee_name="Bea"), me, on)
    assert reason is not None and reason.startswith("Only Bea, the assignee, can reply here.")


def test_a_resolved_conversation_takes_notes_but_no_reply_until_reopened() -> None:
    """The server refuses replies in a resolved conversation, so the console says so before one is typed,
    whoever the assignee and whatever the tenant's setting."""
    me = AgentRow(id=1, email="me@x", name="Me", role="agent", active=True, online=True)
    for config in ({}, {"reply_assignee_only": True}):
        reason = reply_blocked_reason(conversation_row(assignee_id=1, status="resolved"), me, config)
        assert reason is not None and reason.startswith("This conversation is resolved. Reopen it")
    assert reply_blocked_reason(conversation_row(assignee_id=1, status="pending"), me, {}) is None


def test_core_hears_who_else_views_and_types(server: RunningServer, data_dir: Path) -> None:
    """set_viewing tells the server and learns who is there; another agent's viewing and typing reach
    on_collision_changed; their socket closing removes them."""
    password = server.add_agent("bea@demo.test", "Bea")

    async def main() -> None:
        visitor, _ = await WsClient.visitor(server)
        cid = int((await visitor.request("message.send", client_id=new_client_id(), body="hi"))["conversation_id"])
        bea, _ = await WsClient.agent(server, "bea@demo.test", password)
        await bea.request("viewing", conversation_id=cid)
        core = ConsoleCore(server.http_url, data_dir, FakeKeyring(), backoff=fast_backoff())
        rec = CollisionRecorder()
        core.add_listener(rec)
        await core.login(server.admin_email, server.admin_password, remember=True)
        await core.start()
        await online(core)
        await core.set_viewing(cid)
        assert rec.seen[-1] == (cid, ["Bea"], [])
        joined = await bea.next_event("viewing", conversation_id=cid, viewing=True)
        assert joined["data"]["agent_id"] == core.me.id  # type: ignore[union-attr]
        await bea.request("typing", conversation_id=cid, is_typing=True)
        await wait_until(lambda: rec.seen[-1] == (cid, ["Bea"], ["Bea"]), what="Bea typing")
        await bea.close()
        await wait_until(lambda: rec.seen[-1] == (cid, [], []), what="Bea gone")
        await core.stop()
        await visitor.close()

    arun(main())


def test_core_forgets_viewers_offline_and_asks_again_on_reconnect(server: RunningServer, data_dir: Path) -> None:
    """When the connection goes, nobody is known to be there any more; back online, the core sends viewing
    again for the open conversation and hears who is there."""
    password = server.add_agent("bea@demo.test", "Bea")

    async def main() -> None:
        visitor, _ = await WsClient.visitor(server)
        cid = int((await visitor.request("message.send", client_id=new_client_id(), body="hi"))["conversation_id"])
        bea, _ = await WsClient.agent(server, "bea@demo.test", password)
        await bea.request("viewing", conversation_id=cid)
        network = NetworkSwitch()
        core = ConsoleCore(server.http_url, data_dir, FakeKeyring(), backoff=fast_backoff(), connect=network.connect)
        rec = CollisionRecorder()
        core.add_listener(rec)
        await core.login(server.admin_email, server.admin_password, remember=True)
        await core.start()
        await online(core)
        await core.set_viewing(cid)
        assert rec.seen[-1] == (cid, ["Bea"], [])
        await network.cut()
        await offline(core)
        assert rec.seen[-1] == (cid, [], []) and core.collision.viewers(cid) == []
        network.restore()
        await online(core)
        await wait_until(lambda: rec.seen[-1] == (cid, ["Bea"], []), what="viewers again")
        assert (await bea.request("viewing", conversation_id=cid))["viewers"][0]["agent_id"] == core.me.id  # type: ignore[union-attr]
        await core.stop()
        await bea.close()
        await visitor.close()

    arun(main())
