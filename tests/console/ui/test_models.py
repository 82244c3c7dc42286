"""The Qt models over the cache: paging, granular row changes, day markers."""

from __future__ import annotations

import random
from typing import Any

import pytest
from frontdesk.console.core import ThreadItem, conversation_changes, thread_changes
from frontdesk.console.ui.models import (
    AgentsModel,
    DayMarker,
    InboxModel,
    Roles,
    ThreadModel,
    VisitorConversationsModel,
    _sync_rows,
)
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from tests.console import wireobj as W

from .conftest import NOW, FakeCore, conversation, fill, message, run


class _ListModel(QAbstractListModel):
    def __init__(self, rows: list[int]) -> None:
        super().__init__()
        self.rows = rows

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        return self.rows[index.row()] if role == Qt.ItemDataRole.DisplayRole else None


def test_sync_rows_reaches_any_target_order(qtbot: Any, qtmodeltester: Any) -> None:
    """_sync_rows turns any list into any other with inserts, removes and moves only."""
    rng = random.Random(7)
    for _ in range(200):
        old = rng.sample(range(30), rng.randint(0, 12))
        new = rng.sample(range(30), rng.randint(0, 12))
        model = _ListModel(list(old))
        with qtbot.assertNotEmitted(model.modelReset):
            _sync_rows(model, model.rows, new, lambda r: r)
        assert model.rows == new
    qtmodeltester.check(_ListModel([1, 2, 3]))


def test_inbox_pages_with_fetch_more(qtbot: Any, core: FakeCore, qtmodeltester: Any) -> None:
    """The inbox loads a page at a time and fetchMore appends the next page."""
    fill(qtbot, core, [conversation(n, f"Visitor {n}") for n in range(1, 121)])
    model = InboxModel(core)
    model.set_filter("all")
    model.reload()
    assert model.rowCount() == InboxModel.PAGE
    assert model.total == 120
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 120
    assert not model.canFetchMore(QModelIndex())
    qtmodeltester.check(model)


def test_inbox_rows_show_name_preview_time_assignee_and_unread(qtbot: Any, core: FakeCore) -> None:
    """A row carries the visitor's name (or Visitor #ID), preview, time, assignee and unread (bold)."""
    fill(
        qtbot,
        core,
        [
            conversation(1, "Maya", assignee_id=2, unread=2, preview="Line one\nline two", last_activity=NOW),
            conversation(2, None, last_activity=NOW - 10),
        ],
    )
    model = InboxModel(core, clock=lambda: (NOW + 5 * 60_000) / 1000)
    model.set_filter("all")
    model.reload()
    first, second = model.index(0, 0), model.index(1, 0)
    assert first.data() == "Maya"
    assert first.data(Roles.PREVIEW) == "Line one line two"
    assert first.data(Roles.TIME) == "5m"
    assert first.data(Roles.ASSIGNEE) == "Grace Hopper"
    assert first.data(Roles.UNREAD) == 2
    assert first.data(Qt.ItemDataRole.FontRole).bold()
    assert second.data() == "Visitor #2"
    assert second.data(Qt.ItemDataRole.FontRole) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [("mine", [1]), ("unassigned", [3, 4]), ("open", [1, 3]), ("pending", [4]), ("resolved", [2])],
)
def test_inbox_filters(qtbot: Any, core: FakeCore, name: str, expected: list[int]) -> None:
    """Mine, Unassigned, All open, Pending and Resolved select the right conversations."""
    fill(
        qtbot,
        core,
        [
            conversation(1, "A", assignee_id=1),
            conversation(2, "B", status="resolved", assignee_id=1),
            conversation(3, "C"),
            conversation(4, "D", status="pending"),
        ],
    )
    model = InboxModel(core)
    model.set_filter(name)
    model.reload()
    assert [model.index(r, 0).data(Roles.ID) for r in range(model.rowCount())] == expected


def test_inbox_search_uses_the_cache(qtbot: Any, core: FakeCore) -> None:
    """The search box text narrows the inbox to matching names or message text."""
    fill(
        qtbot,
        core,
        [conversation(1, "Maya Patel"), conversation(2, "Lucas")],
        [message(10, 2, 1, "my parcel never arrived")],
    )
    model = InboxModel(core)
    model.set_filter("all")
    model.set_query("parcel")
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["Lucas"]
    model.set_query("maya")
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["Maya Patel"]
    model.set_query("")
    assert model.rowCount() == 2


def test_inbox_refresh_moves_rows_instead_of_resetting(qtbot: Any, core: FakeCore, qtmodeltester: Any) -> None:
    """New activity moves a conversation to the top with a row move, keeping selection-friendly indexes."""
    fill(qtbot, core, [conversation(n, f"V{n}") for n in (1, 2, 3)])
    model = InboxModel(core)
    model.set_filter("all")
    model.reload()
    qtmodeltester.check(model)
    assert [model.index(r, 0).data(Roles.ID) for r in range(3)] == [1, 2, 3]
    tracked = QPersistentModelIndex(model.index(2, 0))
    moves: list[Any] = []
    resets: list[Any] = []
    model.rowsMoved.connect(lambda *a: moves.append(a))
    model.modelReset.connect(lambda: resets.append(1))
    update = conversation(3, "V3", last_activity=NOW + 1000, preview="new!")
    event = {"type": "event", "kind": "conversation.updated", "event_id": 5, "conversation_id": 3, "data": update}
    applied = run(qtbot, core.cache.apply_events(W.events([event])))
    changes = conversation_changes(core.cache, applied)
    assert changes is not None
    model.apply(changes)
    assert [model.index(r, 0).data(Roles.ID) for r in range(3)] == [3, 1, 2]
    assert moves and not resets
    assert tracked.row() == 0 and tracked.data(Roles.PREVIEW) == "new!"


def test_thread_has_day_markers_and_outbox_items(qtbot: Any, core: FakeCore, qtmodeltester: Any) -> None:
    """Messages are grouped under day separators; a queued reply shows as a pending agent item."""
    day = 86_400_000
    fill(
        qtbot,
        core,
        [conversation(1, "Maya", last_seq=3)],
        [
            message(10, 1, 1, "Hello", at=NOW - 2 * day),
            message(11, 1, 2, "Anyone?", at=NOW - 2 * day + 60_000),
            message(12, 1, 3, "Hi! Ada here", kind="agent", author="Ada Lovelace", at=NOW),
        ],
    )
    model = ThreadModel(core)
    model.set_conversation(1)
    qtmodeltester.check(model)
    kinds = [model.index(r, 0).data(Roles.KIND) for r in range(model.rowCount())]
    assert kinds == ["day", "visitor", "visitor", "day", "agent"]
    assert isinstance(model.item(0), DayMarker)
    oid, applied = run(qtbot, core.cache.queue("reply", 1, "c-queued", {"body": "Queued reply"}, NOW))
    [changes] = thread_changes(core.cache, applied)
    model.apply_items(changes)
    assert changes.items[f"o{oid}"] is not None
    last = model.item(model.rowCount() - 1)
    assert isinstance(last, ThreadItem)
    assert (last.kind, last.body, last.delivery) == ("agent", "Queued reply", "pending")
    qtmodeltester.check(model)


def test_thread_loads_older_messages_from_the_cache(qtbot: Any, core: FakeCore) -> None:
    """Scrolling up widens the window a page at a time until seq 1 is shown."""
    msgs = [message(100 + s, 1, s, f"m{s}", at=NOW + s) for s in range(1, 251)]
    fill(qtbot, core, [conversation(1, "Maya", last_seq=250)], msgs)
    model = ThreadModel(core)
    model.set_conversation(1)
    assert model.message_count() == ThreadModel.PAGE
    assert model.oldest_seq() == 151 and model.has_older()
    assert model.load_older()
    assert model.oldest_seq() == 51
    assert model.load_older()
    assert model.oldest_seq() == 1 and not model.has_older()
    assert not model.load_older()


def test_agents_and_visitor_conversation_models(qtbot: Any, core: FakeCore, qtmodeltester: Any) -> None:
    """The agents table and a visitor's conversation list read the cache and pass the model tester."""
    fill(qtbot, core, [conversation(1, "Maya", visitor_id=7), conversation(2, "Maya", visitor_id=7, status="resolved")])
    agents = AgentsModel(core)
    agents.refresh()
    qtmodeltester.check(agents)
    assert [agents.index(r, 0).data() for r in range(agents.rowCount())] == [
        "Ada Lovelace",
        "Alan Turing",
        "Grace Hopper",
    ]
    assert agents.index(1, 4).data() == "Offline"
    history = VisitorConversationsModel(core)
    history.set_visitor(7)
    qtmodeltester.check(history)
    assert history.rowCount() == 2


class _NoRequery:
    """Fails the test if the model re-reads its window (a read from offset 0) while armed;
    paging further in (fetchMore) and recounting (one indexed COUNT) are allowed."""

    def __init__(self, core: FakeCore) -> None:
        self.cache = core.cache
        self.armed = False
        self.counts = 0

    def conversations(self, *args: Any, **kw: Any) -> Any:
        offset = args[4] if len(args) > 4 else kw.get("offset", 0)
        assert not (self.armed and offset == 0), "the model re-read its window"
        return self.cache.conversations(*args, **kw)

    def count_conversations(self, *args: Any, **kw: Any) -> Any:
        self.counts += self.armed
        return self.cache.count_conversations(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cache, name)


@pytest.mark.parametrize("filter_name", ["all", "mine", "unassigned", "open", "pending", "resolved"])
def test_inbox_applies_change_sets_like_a_fresh_read(
    qtbot: Any, core: FakeCore, qtmodeltester: Any, filter_name: str
) -> None:
    """Random events and actions applied as change-sets leave the inbox as a fresh read would, without re-querying."""
    rng = random.Random(filter_name)
    fill(qtbot, core, [conversation(n, f"V{n}", last_activity=NOW + n) for n in range(1, 41)])
    guard = _NoRequery(core)

    class _Source:
        me = core.me

        @property
        def cache(self) -> Any:
            return guard

    model = InboxModel(_Source())  # type: ignore[arg-type]
    model.PAGE = 10
    model.set_filter(filter_name)
    model.reload()
    qtmodeltester.check(model)
    event_id = 10
    for step in range(60):
        cid = rng.randint(1, 45)
        choice = rng.random()
        if choice < 0.5:
            event_id += 1
            update = conversation(
                cid,
                f"V{cid}",
                status=rng.choice(["open", "pending", "resolved"]),
                assignee_id=rng.choice([None, 1, 2]),
                last_activity=NOW + 100 + step if rng.random() < 0.5 else NOW + cid,
            )
            frame = {"type": "event", "kind": "conversation.updated", "event_id": event_id, "data": update}
            applied = run(qtbot, core.cache.apply_events(W.events([frame])))
        elif cid <= 40:
            action = rng.choice(["resolve", "reopen", "pend", "unassign"])
            _, applied = run(qtbot, core.cache.queue(action, cid, f"c{step}", {}, NOW))  # type: ignore[arg-type]
        else:
            continue
        changes = conversation_changes(core.cache, applied)
        assert changes is not None and not changes.reset
        guard.armed = True
        model.apply(changes)
        guard.armed = False
        fresh = core.cache.conversations(filter_name, None, 1, limit=len(model._rows) or 1)
        assert [r.id for r in model._rows] == [r.id for r in fresh][: len(model._rows)]
        assert model._rows == fresh[: len(model._rows)]
        assert model.total == core.cache.count_conversations(filter_name, None, 1)
        while model.canFetchMore(QModelIndex()) and rng.random() < 0.2:
            model.fetchMore(QModelIndex())
    qtmodeltester.check(model)


def _updated(event_id: int, cid: int, **fields: Any) -> dict[str, Any]:
    """A conversation.updated frame for conversation ``cid``."""
    return {"type": "event", "kind": "conversation.updated", "event_id": event_id, "data": conversation(cid, **fields)}


def _fetch_all(model: InboxModel) -> list[int]:
    """Page the whole filter in, as a view scrolled to the bottom would; the ids shown."""
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    return [model.index(r, 0).data(Roles.ID) for r in range(model.rowCount())]


def _fresh(core: FakeCore, filter_name: str) -> list[int]:
    return [r.id for r in core.cache.conversations(filter_name, None, 1, limit=1000)]


def test_inbox_count_holds_when_two_writes_are_announced_late(qtbot: Any, core: FakeCore, qtmodeltester: Any) -> None:
    """A visitor message then a Resolve, both committed before either is announced, leave the count and rows exact."""
    fill(qtbot, core, [conversation(n, f"V{n}", last_activity=NOW + n) for n in range(1, 13)])
    model = InboxModel(core)
    model.PAGE = 5
    model.set_filter("open")
    model.reload()
    new = message(50, 3, 1, "hello?", at=NOW + 1000)
    new["conversation"] = {**conversation(3, last_activity=NOW + 1000, preview="hello?"), "unread_agent": 1}
    frame = {"type": "event", "kind": "message.created", "event_id": 2, "data": new}
    first = run(qtbot, core.cache.apply_events(W.events([frame])))
    _, second = run(qtbot, core.cache.queue("resolve", 3, "c1", {}, NOW))
    for applied in (first, second):  # announced after both committed: rows read now
        changes = conversation_changes(core.cache, applied)
        assert changes is not None
        model.apply(changes)
    assert model.total == core.cache.count_conversations("open", None, 1) == 11
    assert _fetch_all(model) == _fresh(core, "open")
    qtmodeltester.check(model)


def test_inbox_count_holds_across_a_filter_switch_before_an_announcement(qtbot: Any, core: FakeCore) -> None:
    """A filter switch (which recounts) between a write and its announcement does not count the change twice."""
    fill(qtbot, core, [conversation(n, f"V{n}", last_activity=NOW + n) for n in range(1, 13)])
    model = InboxModel(core)
    model.PAGE = 5
    model.set_filter("open")
    model.reload()
    _, applied = run(qtbot, core.cache.queue("resolve", 3, "c1", {}, NOW))
    model.set_filter("resolved")
    changes = conversation_changes(core.cache, applied)
    assert changes is not None
    model.apply(changes)
    assert model.total == core.cache.count_conversations("resolved", None, 1) == 1
    assert [model.index(r, 0).data(Roles.ID) for r in range(model.rowCount())] == [3]
    _, applied = run(qtbot, core.cache.queue("reopen", 3, "c2", {}, NOW))
    model.set_filter("open")
    changes = conversation_changes(core.cache, applied)
    assert changes is not None
    model.apply(changes)
    assert model.total == core.cache.count_conversations("open", None, 1) == 12
    assert _fetch_all(model) == _fresh(core, "open")


def test_inbox_change_set_that_empties_the_window_keeps_paging_right(
    qtbot: Any, core: FakeCore, qtmodeltester: Any
) -> None:
    """A batch that removes every loaded row and brings an older one back does not misplace it or skip the next page."""
    fill(
        qtbot,
        core,
        [
            conversation(n, f"V{n}", last_activity=NOW + n, status="pending" if n <= 5 else "open")
            for n in range(1, 121)
        ],
    )
    model = InboxModel(core)
    model.set_filter("open")
    model.reload()
    assert model.rowCount() == InboxModel.PAGE == 50 and model.total == 115
    frames = [
        _updated(10 + n, n, visitor_name=f"V{n}", status="resolved", last_activity=NOW + n) for n in range(71, 121)
    ]
    frames.append(_updated(200, 2, visitor_name="V2", status="open", last_activity=NOW + 2))
    changes = conversation_changes(core.cache, run(qtbot, core.cache.apply_events(W.events(frames))))
    assert changes is not None
    model.apply(changes)
    assert model.total == 66
    assert model.index(0, 0).data(Roles.ID) == 70
    assert _fetch_all(model) == _fresh(core, "open") == [*range(70, 5, -1), 2]
    qtmodeltester.check(model)


def test_inbox_change_set_during_a_search(qtbot: Any, core: FakeCore) -> None:
    """While searching, a change-set brings in a conversation that now matches the text, and keeps the count."""
    fill(
        qtbot,
        core,
        [conversation(1, "Maya"), conversation(2, "Lucas"), conversation(3, "Ines")],
        [message(10, 1, 1, "where is my parcel")],
    )
    model = InboxModel(core)
    model.set_filter("all")
    model.set_query("parcel")
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["Maya"] and model.total == 1
    new = message(11, 3, 2, "a parcel for me?", at=NOW + 5000)
    new["conversation"] = conversation(3, last_activity=NOW + 5000, last_seq=2, preview="a parcel for me?")
    frame = {"type": "event", "kind": "message.created", "event_id": 9, "data": new}
    changes = conversation_changes(core.cache, run(qtbot, core.cache.apply_events(W.events([frame]))))
    assert changes is not None
    model.apply(changes)
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["Ines", "Maya"] and model.total == 2


def test_thread_day_marker_keys_stay_unique_when_a_day_comes_back(
    qtbot: Any, core: FakeCore, qtmodeltester: Any
) -> None:
    """A reply queued yesterday and still pending after today's messages gets its own day marker key."""
    day = 86_400_000
    fill(
        qtbot,
        core,
        [conversation(1, "Maya", last_seq=2)],
        [message(10, 1, 1, "Hello", at=NOW - day), message(11, 1, 2, "Still there?", at=NOW)],
    )
    model = ThreadModel(core, clock=lambda: (NOW + 60_000) / 1000)
    model.set_conversation(1)
    qtmodeltester.check(model)
    oid, applied = run(qtbot, core.cache.queue("reply", 1, "c-late", {"body": "Sorry, on it"}, NOW - day + 60_000))
    [changes] = thread_changes(core.cache, applied)
    model.apply_items(changes)
    for seq, mid in ((3, 12), (4, 13)):  # today's messages keep arriving while it is pending
        new = message(mid, 1, seq, f"m{seq}", at=NOW + seq * 1000)
        frame = {"type": "event", "kind": "message.created", "event_id": 20 + seq, "data": new}
        [changes] = thread_changes(core.cache, run(qtbot, core.cache.apply_events(W.events([frame]))))
        model.apply_items(changes)
        keys = [model.index(r, 0).data(Roles.ID) for r in range(model.rowCount())]
        assert len(keys) == len(set(keys)), keys
        assert [k[0] for k in keys] == ["d", "m", "d", *["m"] * (seq - 1), "d", "o"]
        assert keys[-1] == f"o{oid}" and model.item(len(keys) - 2).label == model.item(0).label  # type: ignore[union-attr]
    fresh = ThreadModel(core, clock=lambda: (NOW + 60_000) / 1000)
    fresh.set_conversation(1)
    assert [model.item(r) for r in range(model.rowCount())] == [fresh.item(r) for r in range(fresh.rowCount())]
    qtmodeltester.check(model)


def test_thread_applies_change_sets_like_a_fresh_read(qtbot: Any, core: FakeCore, qtmodeltester: Any) -> None:
    """Random thread change-sets (messages, notes, outbox items queued/failed/retried/acked) match a fresh read."""
    rng = random.Random(11)
    msgs = [message(100 + s, 1, s, f"m{s}", at=NOW + s * 1000) for s in range(1, 131)]
    fill(qtbot, core, [conversation(1, "Maya", last_seq=130)], msgs)
    model = ThreadModel(core)
    model.set_conversation(1)
    qtmodeltester.check(model)
    reads: list[int] = []
    real_thread = core.cache.thread
    seq, event_id, at = 130, 10, NOW + 200_000

    def counting_thread(*args: Any, **kw: Any) -> Any:
        reads.append(1)
        return real_thread(*args, **kw)

    for step in range(80):
        choice = rng.random()
        pending = core.cache.outbox("pending")
        failed = core.cache.outbox("failed")
        at += 1000
        if choice < 0.3:
            seq += 1
            event_id += 1
            kind = "note.created" if rng.random() < 0.3 else "message.created"
            data = message(1000 + step, 1, seq if kind == "message.created" else step + 1, f"e{step}", at=at)
            frame = {"type": "event", "kind": kind, "event_id": event_id, "data": data}
            if kind == "message.created":
                data["conversation"] = conversation(1, last_seq=seq, last_activity=at, preview=f"e{step}")
            else:
                seq -= 1
            applied = run(qtbot, core.cache.apply_events(W.events([frame])))
        elif choice < 0.55:
            action = rng.choice(["reply", "note", "resolve", "assign"])
            payload = (
                {"body": f"q{step}"} if action in ("reply", "note") else {"agent_id": 2} if action == "assign" else {}
            )
            _, applied = run(qtbot, core.cache.queue(action, 1, f"c{step}", payload, at))  # type: ignore[arg-type]
        elif choice < 0.7 and pending:
            applied = run(qtbot, core.cache.outbox_failed(pending[0].id, "conflict", "no"))
        elif choice < 0.8 and failed:
            applied = run(qtbot, core.cache.outbox_retry(failed[0].id, f"r{step}"))
        elif choice < 0.9 and (pending or failed):
            applied = run(qtbot, core.cache.outbox_discard((pending or failed)[-1].id))
        elif pending and pending[0].action == "reply":
            seq += 1
            event_id += 1
            stored = message(5000 + step, 1, seq, pending[0].payload["body"], kind="agent", author="Ada", at=at)
            stored["client_id"] = pending[0].client_id
            after = conversation(1, last_seq=seq, last_activity=at, preview=stored["body"])
            reply = {"event_id": event_id, "message": stored, "conversation": after}
            applied = run(qtbot, core.cache.outbox_acked(pending[0], W.reply(reply)))
        else:
            continue
        core.cache.thread = counting_thread  # type: ignore[method-assign]
        for changes in thread_changes(core.cache, applied):
            model.apply_items(changes)
        core.cache.thread = real_thread  # type: ignore[method-assign]
        assert reads == [], "the model re-read the thread"
        fresh = real_thread(1, None, model._window)  # the window widens as messages arrive
        got = [r for r in (model.item(n) for n in range(model.rowCount())) if isinstance(r, ThreadItem)]
        assert [i.key for i in got] == [i.key for i in fresh]
        assert got == fresh
    qtmodeltester.check(model)
