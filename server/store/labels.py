"""Labels: a name and a colour per tenant, put on conversations by agents (PROTOCOL.md, "Labels").

A conversation's labels live on its row (``conversations.label_ids``, ",3,7,"; migration 0012), so every read of a
conversation carries them without a join and the inbox filters with one ``LIKE``. Adding or removing one appends
``conversation.updated`` (change ``labeled`` / ``unlabeled``, agents only: visitors are not told). A label or
conversation of another tenant is ``NotFound``, checked before anything is written.
"""

from __future__ import annotations

from .. import protocol
from ..exceptions import Conflict, NotFound
from ._sql import Row, Tx, conversation_fields, idempotent, label_ids_of, label_ids_text, now_ms, remember
from .events import append_event

__all__ = ["change_labels", "create_label", "delete_label", "label_like", "list_labels", "update_label"]


def _label(row: Row) -> protocol.Label:
    return protocol.Label(id=row["id"], name=row["name"], color=row["color"])


def label_like(label_id: int) -> str:
    """The ``LIKE`` pattern of the conversations carrying ``label_id``."""
    return f"%,{int(label_id)},%"


def _label_row(tx: Tx, tenant_id: int, label_id: int) -> Row:
    row = tx.one("SELECT * FROM labels WHERE id = ? AND tenant_id = ?", (label_id, tenant_id))
    if row is None:
        raise NotFound(f"no label {label_id} in this tenant")
    return row


def list_labels(tx: Tx, tenant_id: int) -> list[protocol.Label]:
    """The tenant's labels, by name."""
    return [
        _label(r) for r in tx.all("SELECT * FROM labels WHERE tenant_id = ? ORDER BY lower(name), id", (tenant_id,))
    ]


def _check_name(tx: Tx, tenant_id: int, name: str, label_id: int | None) -> str:
    name = " ".join(name.split())
    other = tx.one("SELECT id FROM labels WHERE tenant_id = ? AND lower(name) = lower(?)", (tenant_id, name))
    if other is not None and other["id"] != label_id:
        raise Conflict(f"a label named {name!r} already exists")
    return name


def _changed(tx: Tx, tenant_id: int, label: protocol.Label, *, deleted: bool = False) -> int:
    return append_event(
        tx,
        tenant_id,
        "label.updated",
        protocol.LabelUpdated(id=label.id, name=label.name, color=label.color, deleted=deleted),
    )


def create_label(tx: Tx, tenant_id: int, name: str, color: str) -> protocol.LabelResult:
    """A new label (``Conflict``: the name is taken, case aside)."""
    name = _check_name(tx, tenant_id, name, None)
    row = tx.one(
        "INSERT INTO labels (tenant_id, name, color, created_at) VALUES (?, ?, ?, ?) RETURNING *",
        (tenant_id, name, color.lower(), now_ms()),
    )
    assert row is not None
    label = _label(row)
    return protocol.LabelResult(label=label, event_id=_changed(tx, tenant_id, label))


def update_label(tx: Tx, tenant_id: int, label_id: int, *, name: str | None, color: str | None) -> protocol.LabelResult:
    """Rename and/or recolour a label (None: unchanged)."""
    row = _label_row(tx, tenant_id, label_id)
    name = _check_name(tx, tenant_id, name, label_id) if name is not None else row["name"]
    color = color.lower() if color is not None else row["color"]
    tx.run("UPDATE labels SET name = ?, color = ? WHERE id = ?", (name, color, label_id))
    label = protocol.Label(id=label_id, name=name, color=color)
    return protocol.LabelResult(label=label, event_id=_changed(tx, tenant_id, label))


def delete_label(tx: Tx, tenant_id: int, label_id: int) -> protocol.Deleted:
    """Delete a label and take it off every conversation. Those conversations get no event each:
    ``label.updated`` with ``deleted`` tells clients to drop the id everywhere."""
    label = _label(_label_row(tx, tenant_id, label_id))
    for r in tx.all(
        "SELECT id, label_ids FROM conversations WHERE tenant_id = ? AND label_ids LIKE ?",
        (tenant_id, label_like(label_id)),
    ):
        ids = [i for i in label_ids_of(r["label_ids"]) if i != label_id]
        tx.run("UPDATE conversations SET label_ids = ? WHERE id = ?", (label_ids_text(ids), r["id"]))
    tx.run("DELETE FROM labels WHERE id = ?", (label_id,))
    return protocol.Deleted(event_id=_changed(tx, tenant_id, label, deleted=True))


def change_labels(
    tx: Tx, tenant_id: int, *, agent_id: int, conversation_id: int, label_id: int, add: bool, client_id: str | None
) -> protocol.ConversationChange:
    """Put ``label_id`` on a conversation or take it off. Already so: the conversation as it is, no event
    (``event_id`` 0). Both must be the tenant's (``NotFound``)."""
    action = "label.add" if add else "label.remove"
    sender, scope = f"agent:{agent_id}", f"{action}:{label_id}:{conversation_id}"
    prior = idempotent(tx, protocol.ConversationChange, sender, scope, client_id)
    if prior is not None:
        return prior
    conv = tx.one("SELECT * FROM conversations WHERE id = ? AND tenant_id = ?", (conversation_id, tenant_id))
    if conv is None:
        raise NotFound(f"no conversation {conversation_id}")
    _label_row(tx, tenant_id, label_id)
    ids = label_ids_of(conv["label_ids"])
    if (label_id in ids) == add:
        result = protocol.ConversationChange(
            conversation=protocol.Conversation(**conversation_fields(conv)), event_id=0
        )
    else:
        ids = [*ids, label_id] if add else [i for i in ids if i != label_id]
        row = tx.one(
            "UPDATE conversations SET label_ids = ? WHERE id = ? RETURNING *", (label_ids_text(ids), conversation_id)
        )
        assert row is not None
        fields = conversation_fields(row)
        event_id = append_event(
            tx,
            tenant_id,
            "conversation.updated",
            protocol.ConversationUpdated(**fields, change="labeled" if add else "unlabeled", actor_id=agent_id),
            conversation_id=conversation_id,
            visitor_id=row["visitor_id"],
        )
        result = protocol.ConversationChange(conversation=protocol.Conversation(**fields), event_id=event_id)
    remember(tx, sender, scope, client_id, result)
    return result
