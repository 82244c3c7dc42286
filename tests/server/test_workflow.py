"""Teams, labels and canned responses against a live in-process server (server/workflow.py; PROTOCOL.md "Teams",
"Labels", "Canned responses"): admins only where it says so, the pushes, the documented errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support import ServerError, WsClient, new_client_id, serve_in_process


def test_teams_reach_every_console_and_only_admins_change_them(tmp_path: Path) -> None:
    """An admin's team.create/update/delete push team.updated to every agent; an agent gets forbidden;
    a member from nowhere is not_found; the team filter of snapshot keeps the team's conversations."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            admin, session = await WsClient.agent(server)
            added = await admin.request("agent.add", email="bea@demo.test", name="Bea", password="bea-password-1")
            bea, _ = await WsClient.agent(server, "bea@demo.test", added["password"])
            made = await admin.request("team.create", name="Billing", member_ids=[added["agent"]["id"]])
            pushed = await bea.next_event("team.updated", id=made["team"]["id"])
            assert pushed["data"]["member_ids"] == [added["agent"]["id"]] and pushed["data"]["deleted"] is False
            with pytest.raises(ServerError) as err:
                await bea.request("team.create", name="Mine")
            assert err.value.code == "forbidden"
            with pytest.raises(ServerError) as err:
                await admin.request("team.update", team_id=made["team"]["id"], member_ids=[999_999])
            assert err.value.code == "not_found"
            listed = await bea.request("teams")
            assert [t["name"] for t in listed["teams"]] == ["Billing"]
            assert listed["teams"][0]["member_ids"] == [added["agent"]["id"]]
            renamed = await admin.request("team.update", team_id=made["team"]["id"], name="Invoices")
            assert renamed["team"]["name"] == "Invoices"
            snap = await admin.request("snapshot", team_id=made["team"]["id"])
            assert snap["conversations"] == []
            await admin.request("team.delete", team_id=made["team"]["id"])
            gone = await bea.next_event("team.updated", deleted=True)
            assert gone["data"]["id"] == made["team"]["id"]
            assert session["agent"]["role"] == "admin"
            await bea.close()
            await admin.close()

    asyncio.run(scenario())


def test_labels_on_a_conversation(tmp_path: Path) -> None:
    """Agents add and remove labels (agents hear conversation.updated `labeled`, the visitor nothing); a bad colour
    is invalid; another tenant's label is not_found."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            admin, _ = await WsClient.agent(server)
            visitor, _ = await WsClient.visitor(server)
            ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
            cid = ack["conversation_id"]
            with pytest.raises(ServerError) as err:
                await admin.request("label.create", name="VIP", color="red!!!!")
            assert err.value.code == "invalid" and err.value.frame["field"] == "color"
            label = (await admin.request("label.create", name="VIP", color="#ff8800"))["label"]
            await admin.next_event("label.updated", id=label["id"])
            added = await admin.request(
                "label.add", conversation_id=cid, label_id=label["id"], client_id=new_client_id()
            )
            assert added["conversation"]["label_ids"] == [label["id"]]
            live = await admin.next_event("conversation.updated", change="labeled")
            assert live["data"]["label_ids"] == [label["id"]] and live["data"]["actor_id"] is not None
            snap = await admin.request("snapshot", label_id=label["id"])
            assert [c["id"] for c in snap["conversations"]] == [cid]
            removed = await admin.request("label.remove", conversation_id=cid, label_id=label["id"])
            assert removed["conversation"]["label_ids"] == []
            with pytest.raises(ServerError) as err:
                await admin.request("label.add", conversation_id=cid, label_id=987_654)
            assert err.value.code == "not_found"
            await visitor.fence()
            assert not [f for f in visitor.frames if f.get("kind") == "conversation.updated"]
            await visitor.close()
            await admin.close()

    asyncio.run(scenario())


def test_canned_responses_refuse_unknown_variables(tmp_path: Path) -> None:
    """canned.save refuses an unknown variable (invalid, field body) and stores nothing; an agent's own response
    is theirs; tenant ones are admins' (forbidden otherwise) and pushed as canned.updated."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            admin, _ = await WsClient.agent(server)
            added = await admin.request("agent.add", email="bea@demo.test", name="Bea", password="bea-password-1")
            bea, _ = await WsClient.agent(server, "bea@demo.test", added["password"])
            with pytest.raises(ServerError) as err:
                await admin.request(
                    "canned.save", scope="tenant", shortcut="hi", title="Hi", body="Hi {{visitor.shoe_size}}"
                )
            assert err.value.code == "invalid" and err.value.frame["field"] == "body"
            assert "visitor.shoe_size" in str(err.value.message)
            assert (await admin.request("canned.list"))["responses"] == []
            body = "Hi {{visitor.first_name|there}}, order {{?order number}}?"
            saved = await admin.request("canned.save", scope="tenant", shortcut="/hi", title="Hi", body=body)
            assert saved["response"]["shortcut"] == "hi"
            pushed = await bea.next_event("canned.updated", id=saved["response"]["id"])
            assert pushed["data"]["body"] == body
            with pytest.raises(ServerError) as err:
                await bea.request("canned.save", scope="tenant", shortcut="mine", title="Mine", body="x")
            assert err.value.code == "forbidden"
            with pytest.raises(ServerError) as err:
                await admin.request("canned.save", scope="team", shortcut="t", title="T", body="x")
            assert err.value.code == "invalid" and err.value.frame["field"] == "team_id"
            mine = await bea.request("canned.save", scope="personal", shortcut="ty", title="Thanks", body="Thanks!")
            assert {r["shortcut"] for r in (await bea.request("canned.list"))["responses"]} == {"hi", "ty"}
            assert {r["shortcut"] for r in (await admin.request("canned.list"))["responses"]} == {"hi"}
            with pytest.raises(ServerError) as err:
                await admin.request("canned.delete", canned_id=mine["response"]["id"])
            assert err.value.code == "not_found"
            await bea.close()
            await admin.close()

    asyncio.run(scenario())
