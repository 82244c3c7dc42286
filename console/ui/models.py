"""Qt item models over the core (STYLE.md: manager -> model -> view).

Each model pages in what it shows from the cache (``core.cache``) when it is
(re)loaded, and then *applies* the change-sets the core announces
(:class:`~frontdesk.console.core.ConversationChanges`, the agent list)
through the :class:`~frontdesk.console.ui.bridge.CoreBridge`: rows move,
appear and go with proper row changes (insert, remove, move, dataChanged)
computed by :func:`_sync_rows`, so views keep their selection and scroll
position, and nothing re-queries the window. Models never touch the network:
lazy loading from the server goes through the core.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, TypeVar

from frontdesk.console.core import (
    AgentRow,
    Cache,
    ConversationChanges,
    ConversationRow,
    ThreadChanges,
    ThreadItem,
    VisitorRow,
)
from frontdesk.console.core.rows import MembershipKey, matches_filter
from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont

from .formatting import clock_time, day_label, local_datetime, one_line, relative_time
from .translation import QT_TRANSLATE_NOOP

__all__ = [
    "FILTER_LABELS",
    "AgentsModel",
    "DayMarker",
    "InboxModel",
    "Roles",
    "ThreadModel",
    "VisitorConversationsModel",
    "filter_label",
    "status_label",
]

log = logging.getLogger("frontdesk.console.ui.models")

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()

#: Inbox filter tabs: (cache filter, label). "All open" is every conversation
#: waiting on an agent (status open), whoever it is assigned to.
#: The labels are English; :func:`filter_label` translates them.
FILTER_LABELS: tuple[tuple[str, str], ...] = (
    ("mine", QT_TRANSLATE_NOOP("Models", "Mine")),
    ("unassigned", QT_TRANSLATE_NOOP("Models", "Unassigned")),
    ("open", QT_TRANSLATE_NOOP("Models", "All open")),
    ("pending", QT_TRANSLATE_NOOP("Models", "Pending")),
    ("resolved", QT_TRANSLATE_NOOP("Models", "Resolved")),
    (
        "snoozed",
        QT_TRANSLATE_NOOP("Models", "Snoozed"),
    ),  # put aside until a time or the visitor's reply (PROTOCOL.md, "Snooze")
)


#: What a conversation's status is called (the chip in the thread's header, the inbox rows).
_STATUS_LABELS = {
    "open": QT_TRANSLATE_NOOP("Models", "Open"),
    "pending": QT_TRANSLATE_NOOP("Models", "Pending"),
    "resolved": QT_TRANSLATE_NOOP("Models", "Resolved"),
    "snoozed": QT_TRANSLATE_NOOP("Models", "Snoozed"),
}


def status_label(status: str) -> str:
    """A conversation status, in words, translated (an unknown one capitalized)."""
    if status in _STATUS_LABELS:
        return QCoreApplication.translate("Models", _STATUS_LABELS[status])
    return status.capitalize()


def filter_label(name: str) -> str:
    """The inbox filter ``name``'s label, translated (the filter's name when unknown)."""
    return QCoreApplication.translate("Models", dict(FILTER_LABELS).get(name, name))


class Roles:
    """Custom item data roles shared by models and delegates."""

    ROW = Qt.ItemDataRole.UserRole + 1  #: the row object (ConversationRow, ThreadItem, ...)
    ID = Qt.ItemDataRole.UserRole + 2  #: the row's id (conversation/agent id, thread key)
    PREVIEW = Qt.ItemDataRole.UserRole + 3  #: one-line preview of the last message
    TIME = Qt.ItemDataRole.UserRole + 4  #: short relative time / clock time
    ASSIGNEE = Qt.ItemDataRole.UserRole + 5  #: assignee name or ""
    UNREAD = Qt.ItemDataRole.UserRole + 6  #: unread count (int)
    STATUS = Qt.ItemDataRole.UserRole + 7  #: open / pending / resolved
    KIND = Qt.ItemDataRole.UserRole + 8  #: thread: visitor/agent/system/note/day
    DELIVERY = Qt.ItemDataRole.UserRole + 9  #: thread: sent/pending/failed
    UNVERIFIED = Qt.ItemDataRole.UserRole + 10  #: inbox: the visitor's claimed identity is not verified (bool)
    HIGHLIGHTS = Qt.ItemDataRole.UserRole + 11  #: search: [start, end) offsets of the matches in PREVIEW


class CacheSource(Protocol):
    """What the models need from the core: its cache and who is logged in."""

    @property
    def cache(self) -> Cache: ...

    @property
    def me(self) -> AgentRow | None: ...


_Row = TypeVar("_Row")


def _sync_rows(
    model: QAbstractListModel | QAbstractTableModel,
    rows: list[_Row],
    new_rows: Sequence[_Row],
    key: Callable[[_Row], Hashable],
    last_column: int = 0,
) -> None:
    """Turn ``rows`` (the model's list, edited in place) into ``new_rows``,
    emitting row removals, insertions, moves and dataChanged as it goes.

    Keys must be unique within each list. Emitting granular changes (rather
    than a reset) keeps the view's selection and scroll position.
    """
    new_keys = [key(r) for r in new_rows]
    wanted = set(new_keys)
    # 1. Remove rows that are gone, in contiguous blocks from the bottom up.
    i = len(rows) - 1
    while i >= 0:
        if key(rows[i]) in wanted:
            i -= 1
            continue
        j = i
        while j > 0 and key(rows[j - 1]) not in wanted:
            j -= 1
        model.beginRemoveRows(_ROOT, j, i)
        del rows[j : i + 1]
        model.endRemoveRows()
        i = j - 1
    # 2. Walk the target order, inserting new rows (in blocks) and moving rows up.
    target = 0
    while target < len(new_rows):
        k = new_keys[target]
        if target < len(rows) and key(rows[target]) == k:
            if rows[target] != new_rows[target]:
                rows[target] = new_rows[target]
                model.dataChanged.emit(model.index(target, 0), model.index(target, last_column))
            target += 1
            continue
        present = {key(r): n for n, r in enumerate(rows)}
        if k not in present:
            end = target
            while end + 1 < len(new_rows) and new_keys[end + 1] not in present:
                end += 1
            model.beginInsertRows(_ROOT, target, end)
            rows[target:target] = new_rows[target : end + 1]
            model.endInsertRows()
            target = end + 1
            continue
        j = present[k]  # j > target: rows before target already match
        model.beginMoveRows(_ROOT, j, j, _ROOT, target)
        rows.pop(j)
        rows.insert(target, new_rows[target])
        model.endMoveRows()
        model.dataChanged.emit(model.index(target, 0), model.index(target, last_column))
        target += 1
    assert len(rows) == len(new_rows)


def conversation_role_data(row: ConversationRow, role: int, bold: QFont) -> Any:
    """The roles every list of conversations answers alike (the inbox, the search results): the row itself, its
    id, unread count and bold font, status, assignee and identity; None for any other role."""
    if role == Qt.ItemDataRole.FontRole:
        return bold if row.unread else None
    if role == Roles.ROW:
        return row
    if role == Roles.ID:
        return row.id
    if role == Roles.ASSIGNEE:
        return row.assignee_name or ""
    if role == Roles.UNREAD:
        return row.unread
    if role == Roles.STATUS:
        return row.status
    if role == Roles.UNVERIFIED:
        return row.identity_unverified
    return None


def _receipt(row: ConversationRow) -> tuple[int, int | None]:
    return row.visitor_seen_seq, row.visitor_seen_at


# ----------------------------------------------------------------------------- inbox


def _order(row: ConversationRow) -> tuple[int, int]:
    """The inbox order (newest activity first), as a sort key."""
    return (-row.last_activity, -row.id)


def _membership(row: ConversationRow) -> MembershipKey:
    return (row.status, row.assignee_id)


class InboxModel(QAbstractListModel):
    """The inbox: a filtered, searched page of conversations, newest first.

    Pages in from the cache with ``canFetchMore``/``fetchMore`` as the view
    scrolls. :meth:`apply` applies the core's change-sets to the loaded
    window (moving, inserting and removing rows) and keeps the count.
    """

    PAGE = 50

    #: The number of conversations matching the filter changed.
    total_changed = Signal(int)
    #: The unread count over every conversation that is not resolved changed.
    unread_total_changed = Signal(int)
    #: A change-set or reload was applied (the rows may have moved).
    refreshed = Signal()

    def __init__(
        self, source: CacheSource, parent: QObject | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._clock = clock
        self._rows: list[ConversationRow] = []
        self._total = 0
        self._unread_total = 0
        self._filter = "open"
        #: A team's inbox or a label's (PROTOCOL.md, "Teams", "Labels"); None: every conversation.
        self._team_id: int | None = None
        self._label_id: int | None = None
        self._query: str | None = None
        #: True while rows are being changed (views ignore selection noise then).
        self.syncing = False
        #: While held, rows change in place and keep their order (set_order_held).
        self._order_held = False
        self._held: ConversationChanges | None = None
        self._bold = QFont()
        self._bold.setBold(True)

    # -- state

    @property
    def filter(self) -> str:
        """The cache filter shown (see :data:`FILTER_LABELS`)."""
        return self._filter

    @property
    def query(self) -> str | None:
        """The search text, or None."""
        return self._query

    @property
    def total(self) -> int:
        """How many conversations match the filter and search (loaded or not)."""
        return self._total

    @property
    def unread_total(self) -> int:
        """Unread visitor messages over the conversations not resolved (the tray badge)."""
        return self._unread_total

    @property
    def scope(self) -> tuple[int | None, int | None]:
        """The (team id, label id) the inbox is narrowed to."""
        return self._team_id, self._label_id

    def set_scope(self, team_id: int | None, label_id: int | None) -> None:
        """Show only ``team_id``'s conversations and/or those with ``label_id`` (None: no narrowing)."""
        if (team_id, label_id) != (self._team_id, self._label_id):
            self._team_id, self._label_id = team_id, label_id
            self.reload()

    def _in_scope(self, row: ConversationRow) -> bool:
        return (self._team_id is None or row.team_id == self._team_id) and (
            self._label_id is None or self._label_id in row.label_ids
        )

    def set_filter(self, name: str) -> None:
        """Show conversations matching filter ``name``."""
        if name != self._filter:
            self._filter = name
            self.reload()

    def set_query(self, text: str) -> None:
        """Search the cache for ``text`` (blank shows everything)."""
        query = text.strip() or None
        if query != self._query:
            self._query = query
            self.reload()

    def _me(self) -> int | None:
        me = self._source.me
        return me.id if me is not None else None

    def _cache(self) -> Cache | None:
        try:
            return self._source.cache
        except RuntimeError:  # no session yet
            return None

    def reload(self) -> None:
        """Start over from the first page (filter or search changed, or a reset)."""
        cache = self._cache()
        self.syncing = True
        try:
            self.beginResetModel()
            self._rows = (
                []
                if cache is None
                else cache.conversations(
                    self._filter, self._query, self._me(), self.PAGE, team_id=self._team_id, label_id=self._label_id
                )
            )
            self.endResetModel()
        finally:
            self.syncing = False
        self._set_total(
            0
            if cache is None
            else cache.count_conversations(
                self._filter, self._query, self._me(), team_id=self._team_id, label_id=self._label_id
            )
        )
        self._set_unread_total(0 if cache is None else cache.unread_total())
        self.refreshed.emit()

    def apply(self, changes: ConversationChanges) -> None:
        """Apply a change-set from the core: changed rows move to their place
        in the order, rows that left the filter go, rows that joined it come
        in (when they fall inside the loaded window). A reset reloads.

        The count is recounted afterwards (one indexed COUNT; the window is
        not re-read). Adjusting it by the rows' old and new filter keys
        drifts: those keys are captured when a write commits, but the rows
        are read when it is announced, so two writes committed before the
        first is announced, or a reload in between, count a change twice.

        During a search, whether a changed row matches the text is asked of
        the cache for those rows only (a new message can make a
        conversation match)."""
        if changes.reset:
            self._held = None
            self.reload()
            return
        if self._order_held:
            self._hold(changes)
            return
        me = self._me()
        cache = self._cache()
        searched: set[int] | None = None
        if self._query is not None and cache is not None:
            searched = cache.matching_search(changes.rows, self._query)
        complete = len(self._rows) >= self._total  # the whole filter is loaded
        new_rows = [r for r in self._rows if r.id not in changes.rows]
        for cid, row in sorted(changes.rows.items()):
            if row is None or not matches_filter(self._filter, _membership(row), me) or not self._in_scope(row):
                continue
            if searched is not None and cid not in searched:
                continue
            # A row past the end of a partial window belongs to a page not
            # loaded yet: fetchMore (offset paging) will bring it.
            pos = bisect.bisect_left([_order(r) for r in new_rows], _order(row))
            if pos < len(new_rows) or complete:
                new_rows.insert(pos, row)
        if not new_rows and not complete:
            # The whole window left, and what follows it is not loaded: the
            # loaded rows no longer say where the next page starts.
            self.reload()
            return
        if not complete and len(new_rows) > len(self._rows) and len(self._rows) >= self.PAGE:
            new_rows = new_rows[: max(self.PAGE, len(self._rows))]
        self.syncing = True
        try:
            _sync_rows(self, self._rows, new_rows, lambda r: r.id)
        finally:
            self.syncing = False
        if cache is not None:
            self._set_total(
                cache.count_conversations(self._filter, self._query, me, team_id=self._team_id, label_id=self._label_id)
            )
        self._set_unread_total(changes.unread_total)
        self.refreshed.emit()

    @property
    def order_held(self) -> bool:
        """True while :meth:`set_order_held` keeps the rows where they are."""
        return self._order_held

    def set_order_held(self, held: bool) -> None:
        """Hold the rows' order (the agent is typing, or moving through the list
        with the keyboard): changed rows are updated where they are, new
        conversations come in (:meth:`_hold`), and moves and departures wait.
        Releasing applies them at once."""
        if held == self._order_held:
            return
        self._order_held = held
        if not held and self._held is not None:
            changes, self._held = self._held, None
            self.apply(changes)

    def _hold(self, changes: ConversationChanges) -> None:
        """Keep ``changes`` for the release; show the new values of rows on screen now, and let new conversations
        in. An arrival is inserted where the order puts it among the rows as they stand (a new chat: the top), so
        the rows already shown keep their order relative to each other and "next conversation" still means the
        row below; an agent typing a reply still sees a new chat come in."""
        rows = {**(self._held.rows if self._held is not None else {}), **changes.rows}
        self._held = ConversationChanges(rows=rows, unread_total=changes.unread_total)
        shown = {row.id for row in self._rows}
        for n, row in enumerate(self._rows):
            new = changes.rows.get(row.id)
            if new is not None:
                self._rows[n] = new
                self.dataChanged.emit(self.index(n, 0), self.index(n, 0))
        me = self._me()
        cache = self._cache()
        arrivals = {
            cid: row
            for cid, row in changes.rows.items()
            if cid not in shown
            and row is not None
            and matches_filter(self._filter, _membership(row), me)
            and self._in_scope(row)
        }
        if arrivals and self._query is not None and cache is not None:
            searched = cache.matching_search(arrivals, self._query)
            arrivals = {cid: row for cid, row in arrivals.items() if cid in searched}
        for _cid, row in sorted(arrivals.items()):
            pos = 0
            while pos < len(self._rows) and _order(self._rows[pos]) < _order(row):
                pos += 1
            self.beginInsertRows(QModelIndex(), pos, pos)
            self._rows.insert(pos, row)
            self.endInsertRows()
        if arrivals and cache is not None:
            self._set_total(
                cache.count_conversations(self._filter, self._query, me, team_id=self._team_id, label_id=self._label_id)
            )
        self._set_unread_total(changes.unread_total)

    def _set_unread_total(self, total: int) -> None:
        if total != self._unread_total:
            self._unread_total = total
            self.unread_total_changed.emit(total)

    def _set_total(self, total: int) -> None:
        if total != self._total:
            self._total = total
            self.total_changed.emit(total)

    def row_of(self, conversation_id: int) -> int | None:
        """The row showing ``conversation_id``, if loaded."""
        for n, row in enumerate(self._rows):
            if row.id == conversation_id:
                return n
        return None

    def conversation(self, row: int) -> ConversationRow | None:
        """The conversation at ``row``."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    # -- Qt overrides

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def canFetchMore(self, parent: _Index) -> bool:
        # Not while a change-set is being applied: the rows are in flux.
        return not parent.isValid() and not self.syncing and len(self._rows) < self._total

    def fetchMore(self, parent: _Index) -> None:
        if parent.isValid() or self.syncing:
            return
        cache = self._cache()
        if cache is None:
            return
        more = cache.conversations(
            self._filter,
            self._query,
            self._me(),
            self.PAGE,
            len(self._rows),
            team_id=self._team_id,
            label_id=self._label_id,
        )
        known = {r.id for r in self._rows}
        more = [r for r in more if r.id not in known]
        if not more:
            self._set_total(len(self._rows))  # the cache shrank under us
            return
        # syncing: a view (or the model tester) may ask for more from inside
        # the insert signals; a nested fetch would add the same page twice.
        self.syncing = True
        try:
            self.beginInsertRows(_ROOT, len(self._rows), len(self._rows) + len(more) - 1)
            self._rows.extend(more)
            self.endInsertRows()
        finally:
            self.syncing = False

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows) or index.column() != 0:
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.visitor_name
        if role == Qt.ItemDataRole.AccessibleTextRole:
            if row.identity_unverified:
                return QCoreApplication.translate("Models", "{name} (unverified)").format(name=row.visitor_name)
            return row.visitor_name
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.identity_unverified:
                unverified = QCoreApplication.translate(
                    "Models", "Unverified: the site says this is user {user_id}, without proof."
                )
                return unverified.format(user_id=row.visitor_user_id) + "\n" + one_line(row.preview, 300)
            return one_line(row.preview, 300)
        if role == Roles.PREVIEW:
            return one_line(row.preview)
        if role == Roles.TIME:
            return relative_time(row.last_activity, int(self._clock() * 1000))
        return conversation_role_data(row, role, self._bold)


# ----------------------------------------------------------------------------- thread


@dataclasses.dataclass(frozen=True, slots=True)
class DayMarker:
    """A day separator row in a thread."""

    key: str
    created_at: int
    label: str


ThreadRow = ThreadItem | DayMarker


def _with_days(items: list[ThreadItem], now_ms: int) -> list[ThreadRow]:
    """``items`` with a day marker before each run of one day's items.

    A day can come back (a reply queued yesterday, still pending, follows
    today's messages); its marker then gets a key of its own
    (``d<day>/<n>``), since :func:`_sync_rows` needs unique keys."""
    rows: list[ThreadRow] = []
    last_day = None
    seen: dict[str, int] = {}
    for item in items:
        day = local_datetime(item.created_at).date()
        if day != last_day:
            key = f"d{day.isoformat()}"
            n = seen.get(key, 0)
            seen[key] = n + 1
            if n:
                key = f"{key}/{n}"
            rows.append(DayMarker(key, item.created_at, day_label(item.created_at, now_ms)))
            last_day = day
        rows.append(item)
    return rows


class ThreadModel(QAbstractListModel):
    """One conversation's thread with day separators, oldest first.

    Shows the newest :attr:`PAGE` messages at first; :meth:`load_older`
    (called by the view when scrolled to the top) widens the window from
    the cache, and asks ``fetch_older`` (the core's ``load_history``) when the
    cache has nothing older.
    """

    PAGE = 100

    #: Older messages are being fetched from the server (True) or done (False).
    loading_changed = Signal(bool)
    #: The shown conversation changed; carries its id (0 for none).
    conversation_changed = Signal(int)
    #: The shown conversation's inbox row changed (status, assignee, unread ...).
    conversation_updated = Signal()

    def __init__(
        self,
        source: CacheSource,
        parent: QObject | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._clock = clock
        self._rows: list[ThreadRow] = []
        self._conversation_id = 0
        self._conversation: ConversationRow | None = None
        self._window = self.PAGE
        self._loading = False

    @property
    def conversation_id(self) -> int:
        """The conversation shown, 0 for none."""
        return self._conversation_id

    @property
    def conversation(self) -> ConversationRow | None:
        """The shown conversation's inbox row (kept current by :meth:`apply`)."""
        return self._conversation

    def _read_conversation(self) -> ConversationRow | None:
        if not self._conversation_id:
            return None
        try:
            return self._source.cache.conversation(self._conversation_id)
        except RuntimeError:
            return None

    def apply(self, changes: ConversationChanges) -> None:
        """Take the shown conversation's new row from a change-set."""
        before = self._conversation
        if changes.reset:
            self._conversation = self._read_conversation()
        elif self._conversation_id in changes.rows:
            self._conversation = changes.rows[self._conversation_id]
        else:
            return
        after = self._conversation
        if self._rows and (before is None or after is None or _receipt(before) != _receipt(after)):
            # The visitor read something: the agent messages' "Seen" lines change.
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 0))
        self.conversation_updated.emit()

    def receipt(self, item: ThreadItem) -> str | None:
        """The visitor's read receipt for an agent message: "Seen" once the
        visitor's widget said it read up to the message's seq, with the time
        on the newest such message when it is known; None when not seen."""
        conversation = self._conversation
        if conversation is None or item.kind != "agent" or not item.seq or item.id is None:
            return None
        seen = conversation.visitor_seen_seq
        if item.seq > seen:
            return None
        newest = max(
            (r.seq for r in self._rows if isinstance(r, ThreadItem) and r.kind == "agent" and r.seq and r.seq <= seen),
            default=0,
        )
        if item.seq == newest and conversation.visitor_seen_at is not None:
            return QCoreApplication.translate("Models", "Seen {time}").format(
                time=clock_time(conversation.visitor_seen_at)
            )
        return QCoreApplication.translate("Models", "Seen")

    @property
    def loading(self) -> bool:
        """True while older messages are being fetched from the server."""
        return self._loading

    def set_loading(self, loading: bool) -> None:
        """Mark a server fetch of older messages as running or done."""
        if loading != self._loading:
            self._loading = loading
            self.loading_changed.emit(loading)

    def _read(self) -> list[ThreadRow]:
        if not self._conversation_id:
            return []
        try:
            cache = self._source.cache
        except RuntimeError:
            return []
        items = cache.thread(self._conversation_id, None, self._window)
        return _with_days(items, int(self._clock() * 1000))

    def set_conversation(self, conversation_id: int) -> None:
        """Show ``conversation_id`` (0 clears)."""
        if conversation_id == self._conversation_id:
            return
        self.beginResetModel()
        self._conversation_id = conversation_id
        self._conversation = self._read_conversation()
        self._window = self.PAGE
        self._rows = self._read()
        self.endResetModel()
        self.set_loading(False)
        self.conversation_changed.emit(conversation_id)

    def refresh(self) -> None:
        """Re-read the thread window from the cache: on a reset, and when the
        window widens."""
        _sync_rows(self, self._rows, self._read(), lambda r: r.key)

    def apply_items(self, changes: ThreadChanges) -> None:
        """Apply a thread change-set from the core to the shown conversation:
        changed items take their new value, new ones are placed in order
        (stored items by time, then this console's outbox items in the order
        taken), gone ones leave; day markers follow. Items older than the
        window stay out (scrolling up pages them in)."""
        if changes.conversation_id != self._conversation_id or not self._conversation_id:
            return
        if changes.reset:
            self.refresh()
            return
        items = [r for r in self._rows if isinstance(r, ThreadItem) and r.key not in changes.items]
        shown = [i for i in items if i.outbox_id is None and i.kind != "note" and i.seq]  # messages only
        full = len(shown) >= self._window
        oldest = min(shown, key=lambda i: i.seq or 0, default=None)
        for item in changes.items.values():
            if item is None:
                continue
            if full and oldest is not None and item.outbox_id is None:
                if (item.kind == "note" or not item.seq) and item.created_at < oldest.created_at:
                    continue  # a note, or a line of the activity trail, placed by time
                if item.kind != "note" and item.seq and item.seq < (oldest.seq or 0):
                    continue
            items.append(item)
        stored = sorted(
            (i for i in items if i.outbox_id is None), key=lambda i: (i.created_at, i.kind == "note", i.seq or 0)
        )
        queued = sorted((i for i in items if i.outbox_id is not None), key=lambda i: i.outbox_id or 0)
        # New messages widen the window rather than push the oldest shown out.
        self._window = max(self._window, sum(1 for i in stored if i.kind != "note" and i.seq))
        _sync_rows(self, self._rows, _with_days([*stored, *queued], int(self._clock() * 1000)), lambda r: r.key)

    def oldest_seq(self) -> int | None:
        """The smallest message seq shown (notes excluded), or None."""
        seqs = [r.seq for r in self._rows if isinstance(r, ThreadItem) and r.kind != "note" and r.seq]
        return min(seqs) if seqs else None

    def message_count(self) -> int:
        """How many stored messages are shown (not notes, markers or outbox items)."""
        return sum(1 for r in self._rows if isinstance(r, ThreadItem) and r.kind != "note" and r.seq)

    def has_older(self) -> bool:
        """True when messages before the oldest shown one exist (cache or server)."""
        oldest = self.oldest_seq()
        return oldest is not None and oldest > 1

    def load_older(self) -> bool:
        """Widen the window by a page from the cache.

        Returns True when rows were added; False means the cache has nothing
        older, and the caller should fetch from the server (then call
        :meth:`refresh`).
        """
        if not self.has_older():
            return False
        before = self.message_count()
        self._window += self.PAGE
        self.refresh()
        return self.message_count() > before

    def item(self, row: int) -> ThreadRow | None:
        """The item at ``row``."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of_key(self, key: str) -> int | None:
        """The row of the item with ``key``."""
        for n, row in enumerate(self._rows):
            if row.key == key:
                return n
        return None

    # -- Qt overrides

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        row = self._rows[index.row()]
        if isinstance(row, DayMarker):
            return Qt.ItemFlag.ItemIsEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows) or index.column() != 0:
            return None
        row = self._rows[index.row()]
        if isinstance(row, DayMarker):
            if role == Qt.ItemDataRole.DisplayRole:
                return row.label
            if role == Roles.KIND:
                return "day"
            if role in (Roles.ROW, Roles.ID):
                return row if role == Roles.ROW else row.key
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return row.body
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.key.startswith("a"):
                return None  # an activity trail line: its time is only where it sits among the messages
            if row.delivery == "failed":
                return QCoreApplication.translate("Models", "Not delivered: {reason}").format(
                    reason=row.error or QCoreApplication.translate("Models", "rejected by the server")
                )
            return local_datetime(row.created_at).strftime("%A %d %B %Y, %H:%M:%S")
        if role == Roles.ROW:
            return row
        if role == Roles.ID:
            return row.key
        if role == Roles.KIND:
            return row.kind
        if role == Roles.DELIVERY:
            return row.delivery
        if role == Roles.TIME:
            return local_datetime(row.created_at).strftime("%H:%M")
        return None


# ----------------------------------------------------------------------------- agents


class AgentsModel(QAbstractTableModel):
    """The tenant's agents: name, email, role, status and presence."""

    COLUMNS = (
        QT_TRANSLATE_NOOP("Models", "Name"),
        QT_TRANSLATE_NOOP("Models", "Email"),
        QT_TRANSLATE_NOOP("Models", "Role"),
        QT_TRANSLATE_NOOP("Models", "Status"),
        QT_TRANSLATE_NOOP("Models", "Presence"),
    )

    def __init__(self, source: CacheSource, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._rows: list[AgentRow] = []

    def refresh(self) -> None:
        """Load the agents from the cache (on attach)."""
        try:
            agents = self._source.cache.agents()
        except RuntimeError:
            agents = []
        self.set_agents(agents)

    def set_agents(self, agents: list[AgentRow]) -> None:
        """Show ``agents`` (the list the core announced), as row changes."""
        _sync_rows(self, self._rows, list(agents), lambda a: a.id, len(self.COLUMNS) - 1)

    def agents(self) -> list[AgentRow]:
        """The agents shown, in order."""
        return list(self._rows)

    def agent(self, row: int) -> AgentRow | None:
        """The agent at ``row``."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.COLUMNS)
        ):
            return QCoreApplication.translate("Models", self.COLUMNS[section])
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        agent = self._rows[index.row()]
        tr = QCoreApplication.translate
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                agent.name,
                agent.email,
                tr("Models", "Admin") if agent.role == "admin" else tr("Models", "Agent"),
                tr("Models", "Active") if agent.active else tr("Models", "Disabled"),
                (tr("Models", "Away") if agent.away else tr("Models", "Online"))
                if agent.online
                else tr("Models", "Offline"),
            )[col]
        if role == Qt.ItemDataRole.ToolTipRole and col in (0, 1):
            return agent.name if col == 0 else agent.email
        if role == Qt.ItemDataRole.ForegroundRole and not agent.active:
            from PySide6.QtGui import QColor

            return QColor("#98a2b3")
        if role == Roles.ROW:
            return agent
        if role == Roles.ID:
            return agent.id
        return None


class VisitorConversationsModel(QAbstractListModel):
    """A visitor's conversations (for the details panel), newest first."""

    def __init__(
        self, source: CacheSource, parent: QObject | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._clock = clock
        self._rows: list[ConversationRow] = []
        self._visitor_id = 0
        self._visitor: VisitorRow | None = None

    #: The visitor's details changed (or another visitor is shown).
    visitor_changed = Signal()

    @property
    def visitor(self) -> VisitorRow | None:
        """The visitor shown, as last read."""
        return self._visitor

    @property
    def visitor_id(self) -> int:
        """The visitor shown, 0 for none."""
        return self._visitor_id

    def set_visitor(self, visitor_id: int) -> None:
        """Show ``visitor_id``'s details and conversations (0 clears)."""
        self._visitor_id = visitor_id
        self.refresh()

    def refresh(self) -> None:
        """Load the visitor and their conversations from the cache (when a
        visitor is chosen, after a reset, or after their details were fetched)."""
        rows: list[ConversationRow] = []
        visitor: VisitorRow | None = None
        if self._visitor_id:
            try:
                rows = self._source.cache.visitor_conversations(self._visitor_id)
                visitor = self._source.cache.visitor(self._visitor_id)
            except RuntimeError:
                rows = []
        _sync_rows(self, self._rows, rows, lambda r: r.id)
        self._visitor = visitor
        self.visitor_changed.emit()

    def apply(self, changes: ConversationChanges) -> None:
        """Apply a change-set: this visitor's conversations change in place,
        come and go; their details are re-read only when one of them changed
        (a conversation row carries the visitor's name, not the rest)."""
        if changes.reset:
            self.refresh()
            return
        mine = {cid for cid, row in changes.rows.items() if row is not None and row.visitor_id == self._visitor_id}
        shown = {r.id for r in self._rows}
        if not self._visitor_id or not (mine or shown & set(changes.rows)):
            return
        new_rows = [r for r in self._rows if r.id not in changes.rows]
        for cid in mine:
            row = changes.rows[cid]
            assert row is not None
            new_rows.append(row)
        new_rows.sort(key=_order)
        _sync_rows(self, self._rows, new_rows, lambda r: r.id)
        try:
            self._visitor = self._source.cache.visitor(self._visitor_id)
        except RuntimeError:
            self._visitor = None
        self.visitor_changed.emit()

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows) or index.column() != 0:
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            when = local_datetime(row.created_at).strftime("%d %b %Y")
            return f"{when} · {status_label(row.status)} · {one_line(row.preview, 60)}"
        if role == Roles.ROW:
            return row
        if role == Roles.ID:
            return row.id
        return None
