"""The inbox filters of the store (server/store/conversations.py) follow the one declared rule,
``protocol.SNAPSHOT_FILTER_RULES``, which the console's tabs follow too."""

from __future__ import annotations

from frontdesk.server import protocol
from frontdesk.server.store import Store, conversations, visitors

from .test_contract import cid, run, say, seed, status


def test_every_filter_keeps_exactly_what_its_rule_says(store_url: str) -> None:
    """For each filter, the conversations listed are those the rule matches, across statuses and assignees."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        shapes = [("open", None), ("open", w.admin), ("open", w.agent), ("pending", None), ("pending", w.admin)]
        shapes += [("resolved", None), ("resolved", w.admin)]
        made: dict[int, tuple[str, int | None]] = {}
        for n, (state, assignee) in enumerate(shapes):
            visitor = await store.write(visitors.create_visitor, w.tenant, f"tok-filter-{n}", {})
            said = await say(store, w, visitor.id, f"message {n}", client_id=cid())
            conversation_id = said["conversation_id"]
            await store.write(
                conversations.assign,
                w.tenant,
                agent_id=w.admin,
                conversation_id=conversation_id,
                assignee_id=assignee,
                client_id=None,
            )
            if state != "open":
                await status(store, w, conversation_id, "pend" if state == "pending" else "resolve")
            made[conversation_id] = (state, assignee)
        for name, rule in protocol.SNAPSHOT_FILTER_RULES.items():
            listed, _ = await store.read(
                conversations.list_conversations,
                w.tenant,
                filter=name,
                me=w.admin,
                query=None,
                visitor_id=None,
                cursor=None,
                limit=100,
            )
            shown = {c.id for c in listed if c.id in made}
            expected = {c for c, (state, assignee) in made.items() if rule.matches(state, assignee, w.admin)}
            assert shown == expected, name

    run(store_url, scenario)
