"""The bar above the composer for email replies held for review (PROTOCOL.md, "Email", *Held replies*).

A reply to the conversation's email address from someone other than the visitor waits for any agent. The thread
shows it as a line (right-click: Accept / Discard); this bar puts the same two actions on buttons, one row per held
reply of the open conversation, read from the thread model's rows (so it follows the cache, live).
"""

from __future__ import annotations

import functools

from frontdesk.console.core import ThreadItem
from PySide6.QtCore import QAbstractItemModel, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..models import Roles
from ._common import plain_label

__all__ = ["HeldBar"]

#: Held replies given their own row in the bar; more are counted.
SHOWN = 3


class HeldBar(QFrame):
    """One row per held email reply of the shown conversation: who sent it, Accept, Discard. Hidden when none."""

    #: Accept (post as the visitor's message) or discard a held reply; carries its id.
    accept_requested = Signal(int)
    reject_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heldBar")
        self._model: QAbstractItemModel | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(24, 6, 24, 6)
        self._layout.setSpacing(4)
        self.held: list[ThreadItem] = []
        #: Each shown row's (label, Accept button, Discard button), for tests and screenshots.
        self.rows: list[tuple[QLabel, QPushButton, QPushButton]] = []
        self.more_label = plain_label("", "hint")
        self.hide()

    def set_model(self, model: QAbstractItemModel) -> None:
        """Follow ``model`` (the thread's): rebuilt whenever its rows change."""
        self._model = model
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.dataChanged):
            signal.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args: object) -> None:
        model = self._model
        held: list[ThreadItem] = []
        if model is not None:
            for row in range(model.rowCount()):
                item = model.index(row, 0).data(Roles.ROW)
                if isinstance(item, ThreadItem) and item.held_id is not None:
                    held.append(item)
        if [h.held_id for h in held] == [h.held_id for h in self.held]:
            return
        self.held = held
        while self._layout.count():
            taken = self._layout.takeAt(0)
            widget = taken.widget() if taken is not None else None
            if widget is not None and widget is not self.more_label:
                widget.deleteLater()
        self.rows = []
        for item in held[:SHOWN]:
            assert item.held_id is not None
            line = QWidget()
            box = QHBoxLayout(line)
            box.setContentsMargins(0, 0, 0, 0)
            label = plain_label(
                self.tr("Email from %1 held for review (not the visitor's address)").replace("%1", item.held_sender),
                "heldLabel",
            )
            label.setWordWrap(True)
            accept = QPushButton(self.tr("Accept"))
            accept.setObjectName("heldAccept")
            accept.setToolTip(self.tr("Post it in the thread as the visitor's message"))
            accept.clicked.connect(functools.partial(self.accept_requested.emit, item.held_id))
            discard = QPushButton(self.tr("Discard"))
            discard.setObjectName("heldDiscard")
            discard.clicked.connect(functools.partial(self.reject_requested.emit, item.held_id))
            box.addWidget(label, 1)
            box.addWidget(accept)
            box.addWidget(discard)
            self._layout.addWidget(line)
            self.rows.append((label, accept, discard))
        extra = len(held) - SHOWN
        self.more_label.setText(self.tr("%1 more held in this conversation (see the thread)").replace("%1", str(extra)))
        self._layout.addWidget(self.more_label)
        self.more_label.setVisible(extra > 0)
        self.setVisible(bool(held))
