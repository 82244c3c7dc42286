"""message.edit / message.delete against a live in-process server (server/handlers.py, PROTOCOL.md
"Editing and deleting"): live pushes, resume, history, the window on an injected clock, the refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from frontdesk.server.jobs import ManualClock
from frontdesk.server.store._sql import now_ms

from tests.support import ServerError, WsClient, new_client_id, serve_in_process


def test_edit_and_delete_reach_the_visitor_live_and_on_resume(tmp_path: Path) -> None:
    """The visitor hears message.updated live; a visitor resuming from before the reply, and history, carry
    only the current state, never the original or deleted text; an admin can still read the originals."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            agent, _ = await WsClient.agent(server)
            visitor, hello = await WsClient.visitor(server)
            ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
            cid = ack["conversation_id"]
            first = await agent.request("reply", conversation_id=cid, client_id=new_client_id(), body="secret-one")
            second = await agent.request("reply", conversation_id=cid, client_id=new_client_id(), body="secret-two")
            await visitor.next_event("message.created", seq=second["seq"])
            edited = await agent.request("message.edit", conversation_id=cid, seq=first["seq"], body="better one")
            assert edited["message"]["body"] == "better one" and edited["message"]["edited_at"] is not None
            live = await visitor.next_event("message.updated", seq=first["seq"])
            assert live["data"]["body"] == "better one" and live["data"]["deleted"] is False
            await agent.request("message.delete", conversation_id=cid, seq=second["seq"])
            gone = await visitor.next_event("message.updated", seq=second["seq"])
            assert gone["data"]["deleted"] is True and gone["data"]["body"] == ""
            assert gone["data"]["conversation"]["preview"] == "Message deleted"
            await visitor.close()

            resumed, again = await WsClient.visitor(
                server, token=hello["token"], since=ack["event_id"], epoch=hello["epoch"]
            )
            await resumed.fence()
            history = await resumed.request("history", conversation_id=cid)
            seen = str(resumed.frames) + str(again)
            assert "secret-one" not in seen and "secret-two" not in seen
            assert [m["body"] for m in history["messages"]] == ["hi", "better one", ""]
            assert history["messages"][2]["deleted"] is True
            originals = await agent.request("message.originals", conversation_id=cid, seq=first["seq"])
            assert [o["body"] for o in originals["originals"]] == ["secret-one"]
            await resumed.close()
            await agent.close()

    asyncio.run(scenario())


def test_the_window_and_the_refusals(tmp_path: Path) -> None:
    """Past edit_window_minutes (on the server's injected clock) an edit is conflict; another agent's message
    and message.originals for a non-admin are forbidden; a visitor asking is forbidden."""

    async def scenario() -> None:
        async with serve_in_process(tmp_path) as server:
            clock = ManualClock(start_ms=now_ms())  # messages are stamped by the store's clock, the window by this
            server.app.handlers.now_ms = clock.now_ms
            admin, _ = await WsClient.agent(server)
            added = await admin.request("agent.add", email="bea@demo.test", name="Bea", password="bea-password-1")
            bea, _ = await WsClient.agent(server, "bea@demo.test", added["password"])
            visitor, _ = await WsClient.visitor(server)
            ack = await visitor.request("message.send", client_id=new_client_id(), body="hi")
            cid = ack["conversation_id"]
            sent = await admin.request("reply", conversation_id=cid, client_id=new_client_id(), body="mine")
            clock.advance(9 * 60_000)
            await admin.request("message.edit", conversation_id=cid, seq=sent["seq"], body="still mine")
            for who, req, fields, code in (
                (bea, "message.edit", {"body": "not hers"}, "forbidden"),
                (bea, "message.originals", {}, "forbidden"),
                (visitor, "message.delete", {}, "forbidden"),
                (visitor, "message.edit", {"body": "x"}, "forbidden"),
                (admin, "message.edit", {"seq": 77, "body": "x"}, "not_found"),
            ):
                with pytest.raises(ServerError) as err:
                    await who.request(req, **{"conversation_id": cid, "seq": sent["seq"], **fields})
                assert err.value.code == code, req
            clock.advance(2 * 60_000)
            with pytest.raises(ServerError, match="10 minutes") as late:
                await admin.request("message.delete", conversation_id=cid, seq=sent["seq"])
            assert late.value.code == "conflict"
            await admin.request("config.set", config={"edit_window_minutes": 60})
            await admin.request("message.delete", conversation_id=cid, seq=sent["seq"])
            for client in (admin, bea, visitor):
                await client.close()

    asyncio.run(scenario())
