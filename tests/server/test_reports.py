"""report.get on a running server: the figures over the socket, who may ask for what, and bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from frontdesk.server.app import FrontdeskServer, ServerSettings

from tests.support import ServerError, WsClient, new_client_id, serve_in_process


def test_report_get_rights_and_bad_input(tmp_path: Path) -> None:
    """An admin gets anyone's figures; an agent only their own (others' or everyone's: forbidden); an end
    before the start, a range over two years or a malformed date is invalid; an unknown agent, team or label
    is not_found."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            admin, session = await WsClient.agent(server)
            added = await admin.request("agent.add", email="bea@demo.test", name="Bea", password="bea-password-1")
            bea_client, bea = await WsClient.agent(server, "bea@demo.test", added["password"])
            bea_id = bea["agent"]["id"]
            visitor, _ = await WsClient.visitor(server)
            cid = (await visitor.request("message.send", client_id=new_client_id(), body="hi"))["conversation_id"]
            await bea_client.request("reply", conversation_id=cid, client_id=new_client_id(), body="hello")
            await admin.request("resolve", conversation_id=cid)
            today = dt.datetime.now(dt.UTC).date()
            week = {
                "start": (today - dt.timedelta(days=6)).isoformat(),
                "end": (today + dt.timedelta(days=1)).isoformat(),
            }

            everyone = await admin.request("report.get", **week)
            assert (everyone["summary"]["conversations"], everyone["summary"]["resolutions"]) == (1, 1)
            assert [row["id"] for row in everyone["agents"]] == [bea_id]
            assert everyone["summary"]["first_response"]["count"] == 1
            own = await bea_client.request("report.get", agent_id=bea_id, **week)
            assert own["summary"]["messages_out"] == 1
            admin_id = session["agent"]["id"]
            assert (await admin.request("report.get", agent_id=admin_id, **week))["summary"]["messages_out"] == 0

            for fields in ({}, {"agent_id": admin_id}):
                try:
                    await bea_client.request("report.get", **week, **fields)
                    raise AssertionError("an agent got figures not their own")
                except ServerError as err:
                    assert err.code == "forbidden"
            bad = (
                {"start": "2026-03-10", "end": "2026-03-09"},
                {"start": "2024-01-01", "end": "2026-01-02"},
                {"start": "2026-02-30", "end": "2026-03-01"},
                {"start": "10/03/2026", "end": "2026-03-11"},
                {"start": "2026-W10-1", "end": "2026-03-11"},
            )
            for fields in bad:
                try:
                    await admin.request("report.get", **fields)
                    raise AssertionError(f"{fields} was accepted")
                except ServerError as err:
                    assert err.code == "invalid", fields
            for fields in ({"agent_id": 9999}, {"team_id": 9999}, {"label_id": 9999}):
                try:
                    await admin.request("report.get", **week, **fields)
                    raise AssertionError(f"{fields} was found")
                except ServerError as err:
                    assert err.code == "not_found", fields
            assert (await admin.request("report.get", start="2024-01-01", end="2025-12-31"))["start"] == "2024-01-01"

    asyncio.run(scenario())


def test_the_facts_follow_the_commits_in_the_background_and_a_report_holds_every_event(tmp_path: Path) -> None:
    """Without any report.get, the server projects the facts a moment after the commits (the tenant's cursor
    reaches the newest event); a report asked for right after a write already counts it, and a server started
    on events no one projected catches up by itself."""

    async def cursor_and_newest(server: object) -> tuple[int, int]:
        store = server.app.store  # type: ignore[attr-defined]

        def read(tx: object) -> tuple[int, int]:
            newest = tx.one("SELECT MAX(event_id) AS e FROM events WHERE kind = 'message.created'")  # type: ignore[attr-defined]
            cursor = tx.one("SELECT MAX(last_event_id) AS c FROM report_cursors")  # type: ignore[attr-defined]
            return int(cursor["c"] or 0), int(newest["e"] or 0)

        return await store.read(read)

    async def wait_caught_up(server: object) -> None:
        for _ in range(500):
            cursor, newest = await cursor_and_newest(server)
            if cursor >= newest > 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the facts never caught up with the commits")

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            server.app.reports.delay = 0.05
            admin, _ = await WsClient.agent(server)
            visitor, _ = await WsClient.visitor(server)
            cid = (await visitor.request("message.send", client_id=new_client_id(), body="hi"))["conversation_id"]
            await wait_caught_up(server)
            server.app.reports.delay = 3600.0  # from here on, only report.get projects
            await visitor.request("message.send", client_id=new_client_id(), body="still there?", conversation_id=cid)
            cursor, newest = await cursor_and_newest(server)
            assert cursor < newest
            today = dt.datetime.now(dt.UTC).date().isoformat()
            report = await admin.request("report.get", start=today, end=today)
            assert report["summary"]["messages_in"] == 2
            # Events no projection has seen yet when the server stops: the next start projects them.
            await visitor.request("message.send", client_id=new_client_id(), body="third", conversation_id=cid)
        again = FrontdeskServer(ServerSettings(db_url=f"sqlite:///{tmp_path / 'frontdesk.db'}", port=0))
        await again.start()
        try:
            await wait_caught_up(SimpleNamespace(app=again))
            rows = await again.store.read(lambda tx: tx.all("SELECT SUM(messages_in) AS n FROM report_hourly"))
            assert rows[0]["n"] == 3
        finally:
            await again.stop()

    asyncio.run(scenario())


def test_numpy_loads_with_the_first_report_not_with_the_server() -> None:
    """A server that serves no report never imports numpy (~10 MB of its resident memory); the reports' code
    imports it the first time it needs an array."""
    code = (
        "import sys\n"
        "import frontdesk.server.app, frontdesk.server.cli\n"
        "assert 'numpy' not in sys.modules, 'numpy imported at start'\n"
        "from frontdesk.server.store import reports\n"
        "assert reports._ascending('[3,1,2]').tolist() == [1, 2, 3]\n"
        "assert 'numpy' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
