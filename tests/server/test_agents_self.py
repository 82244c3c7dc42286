"""availability.set and me.update against a live in-process server (server/store/agents_self.py and their
handlers): what colleagues and visitors see, and the password rules."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support import ServerError, WsClient, new_client_id, serve_in_process


def test_away_agents_do_not_count_for_visitors(tmp_path: Path) -> None:
    """The only online agent going Away tells visitors nobody is there (presence and hello), tells colleagues
    through agent.updated and the agents list; back Online reverses it."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            admin, login = await WsClient.agent(server)
            me = login["agent"]["id"]
            added = await admin.request("agent.add", email="bea@demo.test", name="Bea", password="bea-password-1")
            bea, _ = await WsClient.agent(server, "bea@demo.test", added["password"])
            await bea.close()
            visitor, hello = await WsClient.visitor(server)
            assert hello["agents_online"] is True
            reply = await admin.request("availability.set", away=True)
            assert reply["agent"]["away"] is True and reply["agent"]["online"] is True
            assert (await visitor.next_event("presence"))["data"] == {"agents_online": False}
            await admin.next_event("agent.updated", id=me, away=True)
            listed = {a["id"]: a for a in (await admin.request("agents"))["agents"]}
            assert listed[me]["away"] is True and listed[me]["online"] is True
            other, second = await WsClient.visitor(server)
            assert second["agents_online"] is False
            await admin.request("availability.set", away=False)
            assert (await visitor.next_event("presence", agents_online=True))["data"] == {"agents_online": True}
            for client in (admin, visitor, other):
                await client.close()

    asyncio.run(scenario())


def test_me_update_renames_and_changes_the_password(tmp_path: Path) -> None:
    """A new name reaches colleagues and the visitor's history; a new password needs the right current one,
    keeps this session, ends the others, and works for the next login."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            admin, _ = await WsClient.agent(server)
            elsewhere, _ = await WsClient.agent(server)
            visitor, _ = await WsClient.visitor(server)
            ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
            cid = ack["conversation_id"]
            await admin.request("reply", conversation_id=cid, client_id=new_client_id(), body="Hello from me")
            renamed = await admin.request("me.update", name="  Ada Lovelace ")
            assert renamed["agent"]["name"] == "Ada Lovelace"
            await elsewhere.next_event("agent.updated", name="Ada Lovelace")
            history = await visitor.request("history", conversation_id=cid)
            assert history["messages"][-1]["author_name"] == "Ada Lovelace"
            for fields, code in (
                ({"password": "new-password-1"}, "invalid"),
                ({"password": "new-password-1", "current_password": "wrong"}, "forbidden"),
            ):
                with pytest.raises(ServerError) as err:
                    await admin.request("me.update", **fields)
                assert (err.value.code, err.value.frame["field"]) == (code, "current_password")
            await admin.request(
                "me.update", password="new-password-1", current_password=server.admin_password
            )
            assert (await elsewhere.wait_closed())[0] == 1008
            assert (await admin.request("ping"))["server_time"] > 0  # this session lives on
            fresh = await WsClient.connect(server.agent_url)
            with pytest.raises(ServerError):
                await fresh.request("login", email=server.admin_email, password=server.admin_password)
            await fresh.request("login", email=server.admin_email, password="new-password-1")
            for client in (admin, visitor, fresh):
                await client.close()

    asyncio.run(scenario())
