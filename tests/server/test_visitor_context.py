"""Visitor context (server/visitor_context.py): location from the address,
IP storage off, custom attributes and their validation, visitor search, erasure."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from frontdesk.server.domain import identity_hash
from frontdesk.server.visitor_context import GeoLookup, validate_attributes

from tests.support import TIMEOUT, InProcessServer, WsClient, run_cli, serve_in_process


def _mmdb(path: Path) -> Path:
    """A tiny MaxMind-format City database, built here: 81.2.69.0/24 is London, England."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City")
    writer.insert_network(
        IPSet(["81.2.69.0/24"]),
        {
            "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
            "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
            "city": {"names": {"en": "London"}},
        },
    )
    writer.to_db_file(str(path))
    return path


def _rows(server: InProcessServer, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(server.db_url.removeprefix("sqlite:///"))
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


async def _visitor_from(server: InProcessServer, address: str, **hello: Any) -> tuple[WsClient, dict[str, Any]]:
    client = await WsClient.connect(
        server.visitor_url, origin=server.origin, additional_headers={"X-Forwarded-For": address}
    )
    return client, await client.request("hello", **hello)


def test_country_of_known_addresses_offline() -> None:
    """The country comes from the shipped table, with no database named; private and bad addresses have none."""
    geo = GeoLookup()
    assert geo.lookup("8.8.8.8").country == "US"
    assert geo.lookup("193.99.144.80").country == "DE"
    assert geo.lookup("2a00:1450:4001::1").country == "IE"
    for address in ("127.0.0.1", "10.1.2.3", "::1", "not an address", "", None):
        assert geo.lookup(address) == (None, None, None)


def test_city_and_region_from_a_maxmind_database(tmp_path: Path) -> None:
    """With --geoip, city and region come from the MaxMind database; addresses it lacks keep their country."""
    geo = GeoLookup(_mmdb(tmp_path / "city.mmdb"))
    try:
        assert geo.lookup("81.2.69.142") == ("GB", "England", "London")
        assert geo.lookup("8.8.8.8") == ("US", None, None)
    finally:
        geo.close()


def test_hello_stores_the_location_of_the_trusted_address(tmp_path: Path) -> None:
    """Behind a trusted proxy, the X-Forwarded-For address is looked up; agents see country, city and IP."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path, trust_proxy=True, geoip=str(_mmdb(tmp_path / "c.mmdb"))) as server:
            visitor, hello = await _visitor_from(server, "81.2.69.142")
            v = hello["visitor"]
            assert (v["ip"], v["country"], v["region"], v["city"], v["visits"]) == (
                "81.2.69.142",
                "GB",
                "England",
                "London",
                1,
            )
            admin, _ = await WsClient.agent(server)
            got = await admin.request("visitor.get", visitor_id=v["id"])
            assert got["visitor"]["city"] == "London"
            await visitor.close()
            await admin.close()

    asyncio.run(scenario())


def test_ip_storage_off_stores_no_address(tmp_path: Path) -> None:
    """With store_ip off, the country is still stored and no address is, checked in the database;
    turning it off forgets the stored addresses at once."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path, trust_proxy=True) as server:
            first, hello = await _visitor_from(server, "193.99.144.80")
            vid, token = hello["visitor"]["id"], hello["token"]
            await first.close()
            assert dict(_rows(server, "SELECT ip, country FROM visitors WHERE id = ?", (vid,))[0]) == {
                "ip": "193.99.144.80",
                "country": "DE",
            }
            admin, _ = await WsClient.agent(server)
            await admin.request("config.set", config={"store_ip": False})
            # Forgotten as the setting changes (store/visitors.scrub_ips), not only at the next hello.
            assert _rows(server, "SELECT ip FROM visitors WHERE id = ?", (vid,))[0]["ip"] is None
            again, hello = await _visitor_from(server, "193.99.144.80", token=token)
            fresh, other = await _visitor_from(server, "8.8.8.8")
            assert hello["visitor"]["ip"] is None and hello["visitor"]["country"] == "DE"
            assert other["visitor"]["ip"] is None and other["visitor"]["country"] == "US"
            rows = _rows(server, "SELECT ip, country FROM visitors ORDER BY id")
            assert [r["ip"] for r in rows] == [None, None]
            assert [r["country"] for r in rows] == ["DE", "US"]
            # Nor in any event payload.
            assert not _rows(server, "SELECT 1 FROM events WHERE payload LIKE '%193.99.144.80%'")
            for client in (again, fresh, admin):
                await client.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("attributes", "code", "words"),
    [
        ({"plan": "x" * 501}, "invalid", "longer than 500"),
        ({f"k{i}": i for i in range(51)}, "too_large", "too many attributes"),
        ({"plan": ["a"]}, "invalid", "a list"),
        ({"plan": {"nested": 1}}, "invalid", "an object"),
        ({"orders": float("inf")}, "invalid", "out of range"),
        ({"1bad": 1}, "invalid", "attribute name"),
        ({"plan": {"value": "Enterprise", "verified": True}}, "forbidden", "only the server marks"),
        ({"verified": True}, "forbidden", "only the server marks"),
    ],
)
def test_attribute_validation_refuses_with_a_clear_error(attributes: Any, code: str, words: str) -> None:
    """Oversize, too many keys, wrong types and a forged verified flag each get their error."""
    with pytest.raises(Exception) as caught:
        validate_attributes(attributes, verified=False)
    assert getattr(caught.value, "code", None) == code and words in str(caught.value)


def test_attributes_are_typed_and_unverified_from_the_page() -> None:
    """Strings, numbers, booleans and ISO dates are typed; null removes."""
    got = validate_attributes(
        {"plan": "Team", "orders": 12, "vip": True, "signed_up": "2025-03-01", "x": None}, verified=False
    )
    assert got == {
        "plan": {"value": "Team", "type": "string", "verified": False},
        "orders": {"value": 12, "type": "number", "verified": False},
        "vip": {"value": True, "type": "boolean", "verified": False},
        "signed_up": {"value": "2025-03-01", "type": "date", "verified": False},
        "x": None,
    }


def test_attributes_from_page_and_identify_searchable_and_erased(tmp_path: Path) -> None:
    """attributes.set stores unverified ones, identify with a valid hash verified ones the page cannot change;
    agents see them live and find the visitor by a value; erasure removes the row with all of it."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path, trust_proxy=True) as server:
            admin, _ = await WsClient.agent(server)
            visitor, hello = await _visitor_from(server, "8.8.8.8")
            vid = hello["visitor"]["id"]
            reply = await visitor.request("attributes.set", attributes={"plan": "Team", "orders": 12})
            assert reply["visitor"]["attributes"]["plan"] == {"value": "Team", "type": "string", "verified": False}
            err = await visitor.request_frame("attributes.set", attributes={"plan": "Gold"}, verified=True)
            assert err["type"] == "error" and err["code"] == "forbidden" and err["field"] == "verified"
            ts = int(time.time())
            claim = {"user_id": "u-1", "ts": ts, "user_hash": identity_hash(server.identity_secret, "u-1", ts)}
            reply = await visitor.request("identify", **claim, attributes={"plan": "Enterprise"})
            assert reply["visitor"]["attributes"]["plan"] == {"value": "Enterprise", "type": "string", "verified": True}
            err = await visitor.request_frame("attributes.set", attributes={"plan": "Free"})
            assert err["type"] == "error" and err["code"] == "forbidden" and "verified" in err["message"]
            await admin.request("ping")
            updates = [e for e in admin.drain("visitor.updated") if e["data"]["id"] == vid]
            assert updates and updates[-1]["data"]["attributes"]["plan"]["verified"] is True
            found = await admin.request("visitor.find", q="enterprise")
            assert [v["id"] for v in found["visitors"]] == [vid]
            assert (await admin.request("visitor.find", q="nothing-like-it"))["visitors"] == []
            await visitor.close()
            await admin.close()
            info = await asyncio.to_thread(
                run_cli, "visitor", "erase", "--db", server.db_url, "--tenant", server.tenant_slug, "--id", str(vid)
            )
            assert info.returncode == 0
            assert not _rows(server, "SELECT 1 FROM visitors WHERE id = ?", (vid,))
            assert not _rows(server, "SELECT 1 FROM events WHERE payload LIKE '%Enterprise%'")

    asyncio.run(scenario())


def test_a_big_tenants_ip_scrub_finishes_in_the_job_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past one batch, the rest of the scrub runs as visitor.ip_scrub jobs on the server's job runner, one
    batch each, until no event holds the address."""
    from frontdesk.server.store import visitors as store_visitors

    monkeypatch.setattr(store_visitors, "IP_SCRUB_BATCH", 1)

    def holding() -> int:
        return len(_rows(server, "SELECT 1 FROM events WHERE payload LIKE '%193.99.144.80%'"))

    def queued() -> int:
        return len(_rows(server, "SELECT 1 FROM jobs WHERE kind = 'visitor.ip_scrub'"))

    async def scenario() -> None:
        nonlocal server
        async with serve_in_process(tmp_path, trust_proxy=True) as server:
            visitor, _ = await _visitor_from(server, "193.99.144.80")
            for n in range(4):
                await visitor.request("page", url=f"https://shop.example/{n}", title=f"Page {n}")
            assert holding() == 4
            admin, _ = await WsClient.agent(server)
            await admin.request("config.set", config={"store_ip": False})
            assert holding() == 3  # one batch in the switch's write; the rest is queued
            runner = server.app.jobs
            for _ in range(10):
                if not holding() and not queued():
                    break
                finished = runner.finished
                runner.wake()
                await asyncio.wait_for(runner.wait_finished(finished + 1), TIMEOUT)
            assert holding() == 0 and queued() == 0
            await visitor.close()
            await admin.close()

    server: Any = None
    asyncio.run(scenario())
