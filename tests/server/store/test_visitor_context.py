"""Visitor context in the store (store/visitors.py, migration 0015), on every backend:
location columns, custom attributes, visitor search, erasure."""

from __future__ import annotations

import json

import pytest
from frontdesk.server import protocol
from frontdesk.server.exceptions import NotFound, ProtocolError
from frontdesk.server.protocol import to_wire
from frontdesk.server.store import Store, _sql, jobs, tenants, visitors, webhooks
from frontdesk.server.visitor_context import validate_attributes

from .test_contract import rows, run, say, seed


def test_attributes_location_search_and_erasure(store_url: str) -> None:
    """Attributes merge (null removes; a verified one the page cannot change), are found by value within the
    tenant only, the location columns round-trip, and erasure leaves no visitor row."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        located = {"ip": "81.2.69.142", "country": "GB", "region": "England", "city": "London"}
        v = await store.write(visitors.update_visitor, w.tenant, w.alice, located)
        assert (v.ip, v.country, v.region, v.city, v.visits) == ("81.2.69.142", "GB", "England", "London", 1)
        page = validate_attributes({"plan": "Team", "orders": 12, "gone": True}, verified=False)
        await store.write(visitors.set_attributes, w.tenant, w.alice, page)
        v = await store.write(
            visitors.set_attributes, w.tenant, w.alice, validate_attributes({"gone": None}, verified=False)
        )
        assert sorted(v.attributes) == ["orders", "plan"]
        v = await store.write(
            visitors.set_attributes, w.tenant, w.alice, validate_attributes({"plan": "Enterprise"}, verified=True)
        )
        assert v.attributes["plan"] == protocol.VisitorAttribute(value="Enterprise", type="string", verified=True)
        with pytest.raises(ProtocolError) as caught:
            await store.write(
                visitors.set_attributes, w.tenant, w.alice, validate_attributes({"plan": "Free"}, verified=False)
            )
        assert caught.value.code == "forbidden"
        stored = await store.read(visitors.get_visitor, w.tenant, w.alice)
        assert stored is not None and stored.attributes["plan"].value == "Enterprise"
        found = await store.read(visitors.find_visitors, w.tenant, ["enterprise"])
        assert [f.id for f in found] == [w.alice]
        assert [f.id for f in await store.read(visitors.find_visitors, w.tenant, ["london", "12"])] == [w.alice]
        assert await store.read(visitors.find_visitors, w.other_tenant, ["enterprise"]) == []
        with pytest.raises(NotFound):
            await store.write(visitors.set_attributes, w.other_tenant, w.alice, page)
        await store.write(visitors.erase_visitor, w.tenant, w.alice)
        assert await rows(store, "SELECT id FROM visitors WHERE id = ?", (w.alice,)) == []

    run(store_url, scenario)


async def _dump(store: Store, url: str) -> str:
    """Every row of every table, as text (what a database dump would hold)."""
    if url.startswith("sqlite"):
        # A contentless FTS table cannot be read back; its shadow tables (what it stores) are dumped.
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'"
    else:
        sql = "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
    tables = [r["name"] for r in await rows(store, sql)]
    assert "events" in tables and "visitors" in tables
    out = []
    for table in tables:
        out += [str(r) for r in await rows(store, f"SELECT * FROM {table}")]  # noqa: S608 - names from the catalogue
    return "\n".join(out)


def test_store_ip_off_scrubs_every_stored_address(store_url: str) -> None:
    """Switching store_ip off forgets the tenant's stored addresses in the same write: the visitors' column,
    events (visitor.updated, a conversation's visitor), webhook deliveries and queued jobs; no copy of the
    address is left anywhere in the database, the country stays, and another tenant's address is untouched."""

    async def scenario(store: Store) -> None:
        w = await seed(store)
        hook = await store.write(
            webhooks.create_webhook, w.tenant, "https://hooks.example/x", ["visitor.updated"], "", now=1
        )
        assert hook.id
        where = {"ip": "203.0.113.77", "country": "DE"}
        await store.write(visitors.update_visitor, w.tenant, w.alice, where)
        await say(store, w, w.alice, "hello from alice")
        await store.write(visitors.update_visitor, w.tenant, w.alice, {"ip": "198.51.100.23"})  # she moved
        await store.write(visitors.update_visitor, w.tenant, w.carol, {"ip": "192.0.2.99", "country": "FR"})
        await store.write(webhooks.fan_out, w.tenant, now=2)
        alice = await store.read(visitors.get_visitor, w.tenant, w.alice)
        await store.write(
            jobs.enqueue, "test.visitor", {"visitor": to_wire(alice)}, now=3, tenant_id=w.tenant, visitor_id=w.alice
        )
        await store.write(visitors.update_visitor, w.other_tenant, w.foreign_visitor, {"ip": "198.18.0.5"})
        before = await _dump(store, store_url)
        for ip in ("203.0.113.77", "198.51.100.23", "192.0.2.99", "198.18.0.5"):
            assert ip in before
        assert await rows(store, "SELECT id FROM webhook_deliveries WHERE body LIKE ?", ("%203.0.113.77%",))

        await store.write(tenants.set_config, w.tenant, {"store_ip": False}, w.admin)

        after = await _dump(store, store_url)
        for ip in ("203.0.113.77", "198.51.100.23", "192.0.2.99"):
            assert ip not in after
        assert "198.18.0.5" in after  # the other tenant keeps theirs
        located = await rows(store, "SELECT id, ip, country FROM visitors WHERE tenant_id = ? ORDER BY id", (w.tenant,))
        assert {r["id"]: (r["ip"], r["country"]) for r in located}[w.alice] == (None, "DE")
        # The events still read as events (valid JSON, the visitor's other fields kept).
        updated = await rows(
            store, "SELECT payload FROM events WHERE kind = 'visitor.updated' AND visitor_id = ?", (w.alice,)
        )
        assert updated and all(json.loads(r["payload"])["country"] == "DE" for r in updated)
        assert all(json.loads(r["payload"])["ip"] is None for r in updated)

    run(store_url, scenario)


def test_a_big_tenants_scrub_goes_on_in_jobs(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past IP_SCRUB_BATCH copies, the switch's write scrubs one batch and queues a job; each job scrubs the
    next batch and queues the one after, in its transaction; when none is left queued, no address is."""
    monkeypatch.setattr(visitors, "IP_SCRUB_BATCH", 2)

    async def scenario(store: Store) -> None:
        w = await seed(store)
        for n in range(7):  # seven visitor.updated events with an address, the last one stays on the row
            await store.write(visitors.update_visitor, w.tenant, w.alice, {"ip": f"203.0.113.{10 + n}"})
        await store.write(tenants.set_config, w.tenant, {"store_ip": False}, w.admin)
        left = await rows(store, "SELECT event_id FROM events WHERE payload LIKE ?", ('%"ip":"203.0.113.%',))
        assert len(left) == 5  # two scrubbed in the switch's own write
        assert (await store.read(visitors.get_visitor, w.tenant, w.alice)).ip is None  # type: ignore[union-attr]
        ran = 0
        while queued := await store.write(jobs.claim, "test", now=_sql.now_ms(), lease_ms=60_000):
            for job in queued:
                assert job.kind == visitors.IP_SCRUB_JOB and job.tenant_id == w.tenant
                await store.write(visitors.scrub_ip_batch, job.tenant_id, job.payload["after"])
                await store.write(jobs.complete, job.id, "test")
                ran += 1
            assert ran < 10
        assert ran == 3  # 2 + 2 + 1 rows; the last batch, short, queues nothing
        text = await _dump(store, store_url)
        assert "203.0.113." not in text

    run(store_url, scenario)


def test_a_resume_is_one_statement_and_counts_visits_and_changes(store_url: str) -> None:
    """resume_visitor (a hello with a token) is one UPDATE and no event when nothing agents see changed; a
    changed page is two and one visitor.updated event; a hello VISIT_GAP_MS after the last one counts a new
    visit, with or without a change; an unknown token, or another tenant's, is None (issue 12: the reconnect
    storm)."""
    from .test_contract import _Counting

    async def scenario(store: Store) -> None:
        w = await seed(store)
        published: list[object] = []
        store.on_commit = published.extend
        page = {"page_url": "https://acme.test/pricing", "browser": "Firefox"}

        def counted(tx: _sql.Tx, tenant_id: int, token_hash: str, fields: dict[str, str]) -> tuple[object, int]:
            counting = _Counting(tx)
            result = visitors.resume_visitor(counting, tenant_id, token_hash, fields)  # type: ignore[arg-type]
            return result, len(counting.statements)

        first, _ = await store.write(counted, w.tenant, "tok-alice", page)
        assert first is not None and first.page_url == page["page_url"] and len(published) == 1
        published.clear()
        again, statements = await store.write(counted, w.tenant, "tok-alice", page)
        assert again is not None and statements == 1 and published == []
        assert again.visits == first.visits and again.last_seen >= first.last_seen

        def long_ago(tx: _sql.Tx) -> None:
            tx.run("UPDATE visitors SET last_seen = ? WHERE id = ?", (_sql.now_ms() - visitors.VISIT_GAP_MS, w.alice))

        await store.write(long_ago)
        back, statements = await store.write(counted, w.tenant, "tok-alice", page)
        assert back is not None and back.visits == first.visits + 1 and statements == 1 and published == []
        await store.write(long_ago)
        later, statements = await store.write(
            counted, w.tenant, "tok-alice", {**page, "page_url": "https://acme.test/"}
        )
        assert later is not None and later.visits == first.visits + 2 and statements == 3  # + the event
        assert later.page_url == "https://acme.test/" and len(published) == 1
        published.clear()
        # NULL compares as a value: a field cleared is a change, cleared again is none.
        for n, expected in ((1, 3), (2, 1)):
            cleared, statements = await store.write(counted, w.tenant, "tok-alice", {**page, "browser": None})
            assert cleared is not None and cleared.browser is None and statements == expected
            assert len(published) == 1 and cleared.visits == later.visits, n
        assert (await store.write(counted, w.tenant, "tok-nobody", page))[0] is None
        assert (await store.write(counted, w.other_tenant, "tok-alice", page))[0] is None

    run(store_url, scenario)
