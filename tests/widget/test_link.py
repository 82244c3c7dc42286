"""How the widget reacts to what the server answers: a refused hello (storage
unavailable, a bad token), a refused message, and the close codes (4001 erasure;
1008 and 1013, abuse).

The server is a scripted protocol peer (tests/widget/protocol_peer.py) serving
the real widget.js to Chromium; Playwright's clock jumps over the backoffs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.widget.conftest import STORAGE_KEY, Widget, stored_record
from tests.widget.protocol_peer import CONFIG, SITE_KEY, ProtocolPeer, message

TOKEN = "token-of-visitor-5"
QUEUED_ID = "7d5c1c8e-3a4b-4f51-9e61-2a0c3f1b9d01"
#: Longer than any reconnect or resend backoff the widget draws (1013: at most 3.2 s first).
PAST_BACKOFF_MS = 10_000


@pytest.fixture
def peer() -> Iterator[ProtocolPeer]:
    running = ProtocolPeer()
    yield running
    running.stop()


def queued(body: str, client_id: str = QUEUED_ID, status: str = "pending") -> dict[str, Any]:
    """An unsent message as the widget keeps it in its outbox."""
    return {
        "client_id": client_id,
        "body": body,
        "created_at": 1_764_000_100_000,
        "conversation_id": 7,
        "author_kind": "visitor",
        "status": status,
    }


def returning_visitor(page: Page, outbox: list[dict[str, Any]] | None = None) -> Widget:
    """Load the peer's page as visitor 5 of conversation 7, with ``outbox`` unsent; the clock under test control."""
    record = {
        "version": 2,
        "session": {"token": TOKEN, "visitorId": 5},
        "conversationId": 7,
        "config": CONFIG,
        "panelOpen": True,
        "prechatDone": False,
        "pendingProfile": None,
        "outbox": outbox or [],
    }
    key = STORAGE_KEY.format(site=SITE_KEY)
    page.add_init_script(f"localStorage.setItem({json.dumps(key)}, {json.dumps(json.dumps(record))})")
    page.clock.install()
    return Widget(page)


def welcome_to_conversation_7(peer: ProtocolPeer, hello: Any, history: list[dict[str, Any]]) -> None:
    """Answer ``hello`` as visitor 5 with conversation 7, and the history request that follows."""
    peer.welcome(hello, TOKEN, 5, conversations=[{"id": 7, "status": "open", "unread_visitor": 0}], last_event_id=10)
    request = peer.next("history")
    assert request.data["conversation_id"] == 7
    peer.reply(request, messages=history, has_more=False)


@pytest.mark.parametrize("code", ["unavailable", "invalid", "forbidden"])
def test_refused_hello_keeps_token_thread_and_outbox_and_retries(page: Page, peer: ProtocolPeer, code: str) -> None:
    """A hello answered `unavailable` (or any error but `unauthorized`) keeps the visitor; it reconnects and resumes."""
    widget = returning_visitor(page, [queued("Written during the outage")])
    page.goto(peer.url)
    first = peer.next("hello")
    assert first.data["token"] == TOKEN
    peer.error(first, code, "the server cannot store anything right now")
    peer.wait_closed(first.socket)

    expect(widget.status).to_have_text("Reconnecting\u2026")  # the footer: the header keeps availability
    expect(widget.status).to_have_attribute("data-state", "connecting")
    expect(widget.host.locator(".of")).to_be_hidden()  # the server is there: not "offline"
    pending = widget.message("Written during the outage", "visitor")
    expect(pending).to_have_attribute("data-status", "pending")
    record = stored_record(page, SITE_KEY)
    assert record["session"] == {"token": TOKEN, "visitorId": 5} and record["conversationId"] == 7
    assert [m["client_id"] for m in record["outbox"]] == [QUEUED_ID]

    page.clock.run_for(PAST_BACKOFF_MS)
    second = peer.next("hello")
    assert second.socket == 1 and second.data["token"] == TOKEN
    welcome_to_conversation_7(peer, second, [message(7, 1, "Before the outage", "visitor", client_id="c-1")])
    send = peer.next("message.send")
    assert (send.data["client_id"], send.data["conversation_id"]) == (QUEUED_ID, 7)
    stored = message(7, 2, "Written during the outage", "visitor", client_id=QUEUED_ID)
    peer.reply(send, client_id=QUEUED_ID, conversation_id=7, seq=2, event_id=11, server_time=1, message=stored)
    widget.wait_online()
    expect(pending).to_have_attribute("data-status", "sent")
    expect(widget.bodies).to_have_text(["Before the outage", "Written during the outage"])
    assert stored_record(page, SITE_KEY)["outbox"] == []


def test_unauthorized_hello_drops_the_token_and_keeps_the_outbox(page: Page, peer: ProtocolPeer) -> None:
    """Only `unauthorized` (the token itself is bad) drops the token; the unsent message goes with the new visitor."""
    widget = returning_visitor(page, [queued("Still mine to send")])
    page.goto(peer.url)
    first = peer.next("hello")
    peer.error(first, "unauthorized", "invalid or revoked token")
    peer.wait_closed(first.socket)
    expect(widget.status).not_to_have_attribute("data-state", "online")
    record = stored_record(page, SITE_KEY)
    assert (record["session"], record["conversationId"]) == (None, None)
    assert [m["client_id"] for m in record["outbox"]] == [QUEUED_ID]

    page.clock.run_for(PAST_BACKOFF_MS)
    second = peer.next("hello")
    assert "token" not in second.data
    peer.welcome(second, "token-of-visitor-6", 6)
    send = peer.next("message.send")
    assert send.data["client_id"] == QUEUED_ID and "conversation_id" not in send.data
    widget.wait_online()
    assert stored_record(page, SITE_KEY)["session"] == {"token": "token-of-visitor-6", "visitorId": 6}


def test_refused_message_stays_pending_and_is_resent_with_its_client_id(page: Page, peer: ProtocolPeer) -> None:
    """message.send answered `unavailable` is not "failed": it stays pending and is resent, same client_id, later."""
    widget = returning_visitor(page)
    page.goto(peer.url)
    welcome_to_conversation_7(peer, peer.next("hello"), [])
    widget.wait_online()
    widget.send("Is my order on its way?")
    first = peer.next("message.send")
    peer.error(first, "unavailable", "the server cannot store anything right now")
    # Fence: frames are handled in order, so once this push shows, the error has been handled.
    peer.send(
        first.socket,
        {
            "type": "event",
            "kind": "message.created",
            "event_id": 11,
            "conversation_id": 7,
            "data": message(7, 1, "Fence"),
        },
    )
    expect(widget.message("Fence", "agent")).to_be_visible()
    mine = widget.message("Is my order on its way?", "visitor")
    expect(mine).to_have_attribute("data-status", "pending")
    assert [m["status"] for m in stored_record(page, SITE_KEY)["outbox"]] == ["pending"]

    page.clock.run_for(PAST_BACKOFF_MS)
    second = peer.next("message.send")
    assert second.data["client_id"] == first.data["client_id"] and second.socket == first.socket
    client_id = first.data["client_id"]
    stored = message(7, 2, "Is my order on its way?", "visitor", client_id=client_id)
    peer.reply(second, client_id=client_id, conversation_id=7, seq=2, event_id=12, server_time=1, message=stored)
    expect(mine).to_have_attribute("data-status", "sent")
    expect(mine).to_have_count(1)


def test_close_4001_forgets_the_visitor_and_starts_afresh(page: Page, peer: ProtocolPeer) -> None:
    """Close 4001 "erased": session, thread and outbox are dropped on purpose; the next hello is a new visitor's."""
    widget = returning_visitor(page, [queued("Never sent", status="failed")])
    page.goto(peer.url)
    first = peer.next("hello")
    welcome_to_conversation_7(peer, first, [message(7, 1, "Only for the erased visitor")])
    widget.wait_online()
    expect(widget.message("Only for the erased visitor", "agent")).to_be_visible()
    expect(widget.message("Never sent", "visitor")).to_have_attribute("data-status", "failed")

    peer.close(first.socket, 4001, "erased")
    expect(widget.messages).to_have_count(0)
    expect(widget.greeting).to_be_visible()
    record = stored_record(page, SITE_KEY)
    assert (record["session"], record["conversationId"], record["outbox"]) == (None, None, [])

    page.clock.run_for(PAST_BACKOFF_MS)
    second = peer.next("hello")
    assert not {"token", "since", "epoch"} & set(second.data), second.data
    peer.welcome(second, "token-of-visitor-6", 6)
    widget.wait_online()
    expect(widget.messages).to_have_count(0)
    assert stored_record(page, SITE_KEY)["session"] == {"token": "token-of-visitor-6", "visitorId": 6}


@pytest.mark.parametrize(("code", "reason"), [(1008, "policy"), (1013, "too many requests; back off and reconnect")])
def test_abuse_close_keeps_the_visitor_and_resumes(page: Page, peer: ProtocolPeer, code: int, reason: str) -> None:
    """Closes 1008 and 1013 are not an erasure: the widget keeps its token and thread and resumes from its cursor."""
    widget = returning_visitor(page)
    page.goto(peer.url)
    first = peer.next("hello")
    welcome_to_conversation_7(peer, first, [message(7, 1, "Hello from Ada")])
    peer.send(
        first.socket,
        {
            "type": "event",
            "kind": "message.created",
            "event_id": 12,
            "conversation_id": 7,
            "data": message(7, 2, "Pushed live"),
        },
    )
    expect(widget.message("Pushed live", "agent")).to_be_visible()

    peer.close(first.socket, code, reason)
    expect(widget.status).not_to_have_attribute("data-state", "online")
    assert stored_record(page, SITE_KEY)["session"] == {"token": TOKEN, "visitorId": 5}
    page.clock.run_for(PAST_BACKOFF_MS)
    second = peer.next("hello")
    assert (second.data["token"], second.data["since"], second.data["epoch"]) == (TOKEN, 12, "peer-epoch")
    expect(widget.bodies).to_have_text(["Hello from Ada", "Pushed live"])
