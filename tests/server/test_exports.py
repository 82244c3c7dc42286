"""GET /v1/export/…: admins only (401/403), streamed bodies, and the record of every export."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import urllib.error
import urllib.request
from pathlib import Path

from frontdesk.server.exports import CONVERSATION_COLUMNS, MESSAGE_COLUMNS

from tests.support import WsClient, new_client_id, serve_in_process


def get(url: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - a local test server
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_exports_need_an_admin_token_and_are_recorded(tmp_path: Path) -> None:
    """No token or a forged one is 401, an agent's is 403, and neither is recorded; an admin gets the JSON, the
    conversations CSV (with the team and the labels by name) and the messages CSV of the filtered set, and
    export.records lists each export."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            admin, session = await WsClient.agent(server)
            added = await admin.request("agent.add", email="bea@demo.test", name="Bea", password="bea-password-1")
            _, bea = await WsClient.agent(server, "bea@demo.test", added["password"])
            visitor, _ = await WsClient.visitor(server)
            await visitor.request("profile.update", name="Vera", email="vera@example.com")
            cid = (await visitor.request("message.send", client_id=new_client_id(), body='hi, "quoted"\nline'))[
                "conversation_id"
            ]
            await admin.request("reply", conversation_id=cid, client_id=new_client_id(), body="hello")
            await admin.request("note", conversation_id=cid, client_id=new_client_id(), body="internal-note")
            team = (await admin.request("team.create", name="Billing", member_ids=[session["agent"]["id"]]))["team"]
            await admin.request("transfer", conversation_id=cid, team_id=team["id"], agent_id=session["agent"]["id"])
            for name in ("refund", "vip"):
                label = (await admin.request("label.create", name=name, color="#2563eb"))["label"]
                await admin.request("label.add", conversation_id=cid, label_id=label["id"])
            await admin.request("resolve", conversation_id=cid)
            await visitor.request("csat.submit", conversation_id=cid, rating=4)
            base = server.http_url + "/v1/export/"

            for token, code in ((None, 401), ("forged", 401), (bea["token"], 403)):
                status, headers, body = await asyncio.to_thread(get, base + "conversations.json", token)
                assert status == code, token
            assert (await admin.request("export.records"))["records"] == []
            status, _, _ = await asyncio.to_thread(get, base + "conversations.json?status=bogus", session["token"])
            assert status == 400

            status, headers, body = await asyncio.to_thread(get, base + "conversations.json", session["token"])
            assert status == 200 and headers["Content-Type"].startswith("application/json")
            assert "attachment" in headers["Content-Disposition"]
            [conv] = json.loads(body)["conversations"]
            assert conv["visitor"] == {"id": conv["visitor_id"], "name": "Vera", "email": "vera@example.com"}
            assert [m["body"] for m in conv["messages"]] == ['hi, "quoted"\nline', "hello"]
            assert "notes" not in conv and conv["csat"][0]["rating"] == 4 and conv["attachments"] == []
            assert "resolved" in [e.get("change") for e in conv["events"]]
            _, _, body = await asyncio.to_thread(
                get, base + f"conversations.json?notes=1&conversation_id={cid}", session["token"]
            )
            assert [n["body"] for n in json.loads(body)["conversations"][0]["notes"]] == ["internal-note"]

            _, _, body = await asyncio.to_thread(get, base + "conversations.csv", session["token"])
            table = list(csv.DictReader(io.StringIO(body.decode())))
            assert list(table[0]) == list(CONVERSATION_COLUMNS)
            row = table[0]
            assert (row["visitor_name"], row["visitor_email"], row["status"], row["csat"]) == (
                "Vera",
                "vera@example.com",
                "resolved",
                "4",
            )
            assert row["agent"] == session["agent"]["name"] and row["first_response"] and row["resolved"]
            assert row["team"] == "Billing" and row["labels"] == "refund; vip" and int(row["resolution_time_s"]) >= 0

            _, _, body = await asyncio.to_thread(get, base + "messages.csv?status=resolved", session["token"])
            lines = list(csv.DictReader(io.StringIO(body.decode())))
            assert list(lines[0]) == list(MESSAGE_COLUMNS)
            assert [m["body"] for m in lines] == ['hi, "quoted"\nline', "hello"]
            _, _, body = await asyncio.to_thread(get, base + "messages.csv?status=open", session["token"])
            assert len(list(csv.DictReader(io.StringIO(body.decode())))) == 0

            records = (await admin.request("export.records"))["records"]
            assert [(r["kind"], r["format"], r["rows"]) for r in records] == [
                ("messages", "csv", 0),
                ("messages", "csv", 2),
                ("conversations", "csv", 1),
                ("conversations", "json", 1),
                ("conversations", "json", 1),
            ]
            assert all(r["agent_id"] == session["agent"]["id"] for r in records)
            assert json.loads(records[0]["filter"]) == {"status": "open"}
            bea_socket, _ = await WsClient.agent(server, "bea@demo.test", added["password"])
            refused = await bea_socket.request_frame("export.records")
            assert refused["code"] == "forbidden"
            pdf = await admin.request("export.record", what="conversation", format="pdf", conversation_id=cid, rows=1)
            assert pdf["records"][0]["format"] == "pdf"

    asyncio.run(scenario())


def test_an_export_of_a_clients_own_list_of_conversations(tmp_path: Path) -> None:
    """ids= takes exactly the listed conversations (an unknown id is left out), describe= is kept on the record,
    and more than 500 ids or a malformed one is 400."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            admin, session = await WsClient.agent(server)
            cids = []
            for n in range(3):
                visitor, _ = await WsClient.visitor(server)
                sent = await visitor.request("message.send", client_id=new_client_id(), body=f"question {n}")
                cids.append(int(sent["conversation_id"]))
                await visitor.close()
            base = server.http_url + "/v1/export/"
            wanted = f"{cids[2]},{cids[0]},999999"
            status, _, body = await asyncio.to_thread(
                get, base + f"conversations.csv?ids={wanted}&describe=Open%2C%20mine", session["token"]
            )
            assert status == 200
            assert [int(r["id"]) for r in csv.DictReader(io.StringIO(body.decode()))] == [cids[0], cids[2]]
            [record] = (await admin.request("export.records"))["records"]
            assert json.loads(record["filter"]) == {
                "query": "Open, mine",
                "conversation_ids": sorted([*cids[::2], 999999]),
            }
            assert record["rows"] == 2
            for bad in (",".join(str(i) for i in range(1, 502)), "1,x", "-1"):
                status, _, _ = await asyncio.to_thread(get, base + f"messages.csv?ids={bad}", session["token"])
                assert status == 400, bad
            _, _, body = await asyncio.to_thread(get, base + "conversations.json?ids=", session["token"])
            assert json.loads(body) == {"conversations": []}  # an empty list is nothing, not everything
            await admin.close()

    asyncio.run(scenario())
