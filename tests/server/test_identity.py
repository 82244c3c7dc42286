"""Identity verification through the visitor protocol: what a failed claim
stores (nothing), what an unverified one stores, the identity secret's
rotation (CLI and admin requests), and a verified user's second device."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from frontdesk.server.domain import identity_hash

from tests.adversarial._util import db_rows
from tests.support import RunningServer, ServerError, WsClient, new_client_id


async def _error(client: WsClient, type_: str, **fields: Any) -> dict[str, Any]:
    frame = await client.request_frame(type_, **fields)
    assert frame["type"] == "error", frame
    return frame


async def _fence(client: WsClient) -> None:
    """A ping answered after the writes: any event they caused is queued by now."""
    await client.request("ping")


def _claim(secret: str, user_id: str, ts: int | None = None) -> dict[str, Any]:
    ts = int(time.time()) if ts is None else ts
    return {"user_id": user_id, "ts": ts, "user_hash": identity_hash(secret, user_id, ts)}


def _visitor_row(server: RunningServer, visitor_id: int) -> dict[str, Any]:
    rows = db_rows(server, "SELECT user_id, verified, name FROM visitors WHERE id = ?", (visitor_id,))
    return dict(rows[0])


def test_a_failed_verification_stores_nothing_and_is_forbidden(server: RunningServer) -> None:
    """With require_identity off, a bad, stale, future or half claim answers forbidden with the reason,
    stores no user id (nor the name that came with it) and pushes nothing to agents."""
    secret = server.identity_secret

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        visitor, hello = await WsClient.visitor(server)
        vid = hello["visitor"]["id"]
        now = int(time.time())
        stale, future = now - 24 * 3600 - 120, now + 24 * 3600 + 120
        cases: list[tuple[dict[str, Any], str]] = [
            ({"user_id": "user-123", "ts": now, "user_hash": "0" * 64}, "does not match"),
            ({**_claim(secret, "user-9", now), "user_id": "user-123"}, "does not match"),
            (_claim(secret, "user-123", stale), "24 hours"),
            (_claim(secret, "user-123", future), "24 hours"),
            ({"user_id": "user-123", "ts": now}, "both ts and user_hash"),
            ({"user_id": "user-123", "user_hash": identity_hash(secret, "user-123", now)}, "both ts and user_hash"),
        ]
        admin.drain()
        for claim, reason in cases:
            err = await _error(visitor, "identify", **claim, name="Mallory")
            assert err["code"] == "forbidden" and reason in err["message"], (claim, err)
        # hello.identity is checked the same way, and the hello itself is refused.
        other = await WsClient.connect(server.visitor_url, origin=server.origin)
        err = await _error(other, "hello", identity={"user_id": "user-123", "ts": now, "user_hash": "f" * 64})
        assert err["code"] == "forbidden"
        await _fence(admin)
        assert admin.drain("visitor.updated") == []
        row = _visitor_row(server, vid)
        assert row["user_id"] is None and row["verified"] == 0 and row["name"] is None
        assert db_rows(server, "SELECT COUNT(*) AS n FROM visitors WHERE user_id IS NOT NULL")[0]["n"] == 0
        for client in (admin, visitor, other):
            await client.close()

    asyncio.run(scenario())


def test_an_identify_without_a_hash_is_stored_unverified(server: RunningServer) -> None:
    """Where the tenant allows it, a user id with no hash at all is stored with verified=false,
    and agents see it flagged so."""

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        visitor, hello = await WsClient.visitor(server)
        reply = await visitor.request("identify", user_id="user-7", name="Claimed")
        assert reply["visitor"]["user_id"] == "user-7" and reply["visitor"]["verified"] is False
        pushed = await admin.next_event("visitor.updated", id=hello["visitor"]["id"])
        assert pushed["data"]["user_id"] == "user-7" and pushed["data"]["verified"] is False
        for client in (admin, visitor):
            await client.close()

    asyncio.run(scenario())


def test_require_identity_refuses_unverified_claims_and_conversation_start(server: RunningServer) -> None:
    """Under require_identity an unverified identify, conversation.start and message.send are all forbidden,
    until a verified identify."""
    secret = server.identity_secret

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        await admin.request("config.set", config={"require_identity": True})
        visitor, _ = await WsClient.visitor(server)
        assert (await _error(visitor, "identify", user_id="user-1"))["code"] == "forbidden"
        assert (await _error(visitor, "conversation.start"))["code"] == "forbidden"
        assert (await _error(visitor, "message.send", client_id=new_client_id(), body="x"))["code"] == "forbidden"
        ok = await visitor.request("identify", **_claim(secret, "user-1"))
        assert ok["visitor"]["verified"] is True
        assert (await visitor.request("conversation.start"))["conversation"]["status"] == "open"
        for client in (admin, visitor):
            await client.close()

    asyncio.run(scenario())


def test_the_hmac_key_is_the_secret_as_text(server: RunningServer) -> None:
    """The key is the hex string's UTF-8 bytes, not the bytes it spells."""
    secret = server.identity_secret
    now = int(time.time())
    as_text = hmac.new(secret.encode(), f"u-1:{now}".encode(), hashlib.sha256).hexdigest()
    as_bytes = hmac.new(bytes.fromhex(secret), f"u-1:{now}".encode(), hashlib.sha256).hexdigest()

    async def scenario() -> None:
        visitor, _ = await WsClient.visitor(server)
        assert (await _error(visitor, "identify", user_id="u-1", ts=now, user_hash=as_bytes))["code"] == "forbidden"
        ok = await visitor.request("identify", user_id="u-1", ts=now, user_hash=as_text)
        assert ok["visitor"]["verified"] is True
        await visitor.close()

    asyncio.run(scenario())


def test_identity_secret_rotation_from_the_cli(server: RunningServer) -> None:
    """`tenant identity-secret show` prints the secret; after `rotate` both the old and the new one verify;
    after `end-rotation` only the new one does."""
    old = server.identity_secret
    shown = json.loads(server.cli("tenant", "identity-secret", "show", "--json").stdout)
    assert shown["secret"] == old and shown["previous"] is None
    rotated = json.loads(server.cli("tenant", "identity-secret", "rotate", "--json").stdout)
    new = rotated["secret"]
    assert new != old and rotated["previous"] == old and len(new) == 64

    async def verify(secret: str, user_id: str) -> dict[str, Any]:
        visitor, _ = await WsClient.visitor(server)
        try:
            return await visitor.request_frame("identify", **_claim(secret, user_id))
        finally:
            await visitor.close()

    async def during() -> None:
        assert (await verify(old, "a"))["visitor"]["verified"] is True
        assert (await verify(new, "b"))["visitor"]["verified"] is True

    asyncio.run(during())
    ended = json.loads(server.cli("tenant", "identity-secret", "end-rotation", "--json").stdout)
    assert ended == {**ended, "secret": new, "previous": None}

    async def after() -> None:
        assert (await verify(old, "c"))["code"] == "forbidden"
        assert (await verify(new, "d"))["visitor"]["verified"] is True

    asyncio.run(after())
    text = server.cli("tenant", "identity-secret", "show").stdout
    assert new in text and "UTF-8" in text


def test_identity_secret_requests_are_admin_only(server: RunningServer) -> None:
    """An admin reads and rotates the secret over the agent protocol; a plain agent gets forbidden."""
    password = server.add_agent("plain@demo.test", "Plain")

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        plain, _ = await WsClient.agent(server, "plain@demo.test", password)
        for type_ in ("identity_secret.get", "identity_secret.rotate", "identity_secret.end_rotation"):
            assert (await _error(plain, type_))["code"] == "forbidden"
        got = (await admin.request("identity_secret.get"))["identity_secret"]
        assert got["secret"] == server.identity_secret and got["previous"] is None
        rotated = (await admin.request("identity_secret.rotate"))["identity_secret"]
        assert rotated["previous"] == server.identity_secret and rotated["rotated_at"] > 0
        ended = (await admin.request("identity_secret.end_rotation"))["identity_secret"]
        assert ended["secret"] == rotated["secret"] and ended["previous"] is None
        for client in (admin, plain):
            await client.close()

    asyncio.run(scenario())


def test_a_verified_user_sees_their_conversations_on_a_second_device(server: RunningServer) -> None:
    """Device 2, verified as the same user, lists device 1's conversation, reads its history, gets the agent's
    replies live and writes into it; resuming on device 2 lists it in hello too."""
    secret = server.identity_secret

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        first, _ = await WsClient.visitor(server, identity=_claim(secret, "user-42"))
        ack = await first.request("message.send", client_id=new_client_id(), body="from my laptop")
        cid = ack["conversation_id"]
        second, hello2 = await WsClient.visitor(server)
        assert hello2["conversations"] == []
        reply = await second.request("identify", **_claim(secret, "user-42"))
        assert [c["id"] for c in reply["conversations"]] == [cid]
        history = await second.request("history", conversation_id=cid)
        assert [m["body"] for m in history["messages"]] == ["from my laptop"]
        await admin.request("reply", conversation_id=cid, client_id=new_client_id(), body="hello both")
        for device in (first, second):
            await device.next_event("message.created", body="hello both")
        sent = await second.request("message.send", client_id=new_client_id(), body="from my phone")
        assert sent["conversation_id"] == cid  # no conversation_id: the user's open one
        await first.next_event("message.created", body="from my phone")
        await second.close()
        again, hello3 = await WsClient.visitor(server, token=hello2["token"])
        assert cid in [c["id"] for c in hello3["conversations"]]
        for client in (admin, first, again):
            await client.close()

    asyncio.run(scenario())


def test_a_claimed_but_unverified_user_id_reaches_no_one_elses_chats(server: RunningServer) -> None:
    """The same user_id without a hash (or with a forged one) lists nothing, reads nothing and is pushed nothing
    of the verified user's conversations; a verified visitor cannot switch to another user."""
    secret = server.identity_secret

    async def scenario() -> None:
        admin, _ = await WsClient.agent(server)
        owner, _ = await WsClient.visitor(server, identity=_claim(secret, "user-42"))
        ack = await owner.request("message.send", client_id=new_client_id(), body="private")
        cid = ack["conversation_id"]
        claimer, chello = await WsClient.visitor(server)
        reply = await claimer.request("identify", user_id="user-42")
        assert reply["visitor"]["verified"] is False and reply["conversations"] == []
        forged = await _error(claimer, "identify", user_id="user-42", ts=int(time.time()), user_hash="a" * 64)
        assert forged["code"] == "forbidden"
        assert (await _error(claimer, "history", conversation_id=cid))["code"] == "not_found"
        frame = await claimer.request_frame("message.send", client_id=new_client_id(), body="x", conversation_id=cid)
        assert frame["type"] == "error" and frame["code"] == "not_found"
        await admin.request("reply", conversation_id=cid, client_id=new_client_id(), body="for the owner")
        await owner.next_event("message.created", body="for the owner")
        await _fence(claimer)
        assert [f for f in claimer.drain("message.created") if f["conversation_id"] == cid] == []
        resumed, hello = await WsClient.visitor(server, token=chello["token"])
        assert hello["visitor"]["id"] == chello["visitor"]["id"] and hello["conversations"] == []
        await resumed.close()
        switch = await _error(owner, "identify", **_claim(secret, "user-43"))
        assert switch["code"] == "conflict"
        for client in (admin, owner, claimer):
            await client.close()

    asyncio.run(scenario())


def test_a_third_device_verified_later_joins_the_open_sockets_scope(server: RunningServer) -> None:
    """A device verified after the first one connected still reaches it live: the first device gets the
    events of the new device's conversation (the scope follows visitor.updated)."""
    secret = server.identity_secret

    async def scenario() -> None:
        first, _ = await WsClient.visitor(server, identity=_claim(secret, "user-77"))
        later, _ = await WsClient.visitor(server)
        # The later device starts its own conversation before it is identified.
        ack = await later.request("message.send", client_id=new_client_id(), body="before identify")
        await later.request("identify", **_claim(secret, "user-77"))
        await later.request("typing", conversation_id=ack["conversation_id"], is_typing=True)
        admin, _ = await WsClient.agent(server)
        await admin.request("reply", conversation_id=ack["conversation_id"], client_id=new_client_id(), body="seen")
        pushed = await first.next_event("message.created", body="seen")
        assert pushed["conversation_id"] == ack["conversation_id"]
        for client in (admin, first, later):
            await client.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("field", ["user_hash", "ts"])
def test_a_claim_with_only_half_the_proof_is_forbidden(server: RunningServer, field: str) -> None:
    """A user_hash without ts, or ts without user_hash, is a failed verification, not an unverified claim."""

    async def scenario() -> None:
        visitor, hello = await WsClient.visitor(server)
        value: Any = "0" * 64 if field == "user_hash" else int(time.time())
        with pytest.raises(ServerError) as err:
            await visitor.request("identify", user_id="user-5", **{field: value})
        assert err.value.code == "forbidden"
        assert _visitor_row(server, hello["visitor"]["id"])["user_id"] is None
        await visitor.close()

    asyncio.run(scenario())
