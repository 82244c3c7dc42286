"""The widget's localStorage record: the upgrade from the first widget's
unversioned record keeps the visitor, their conversation and their outbox."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from playwright.sync_api import Page, expect
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.support import TIMEOUT, RunningServer
from tests.widget.conftest import STORAGE_KEY, Agent, open_widget, stored_record


def request(ws: ClientConnection, ref: str, type_: str, **fields: Any) -> dict[str, Any]:
    """Send a request and return its reply, skipping pushed events."""
    ws.send(json.dumps({"type": type_, "ref": ref, **fields}))
    while True:
        frame = json.loads(ws.recv(TIMEOUT))
        if frame.get("ref") == ref:
            assert frame["type"] == "reply", frame
            return dict(frame)


def test_first_widgets_record_is_migrated_and_the_visitor_kept(page: Page, server: RunningServer, agent: Agent) -> None:
    """A record as the first widget wrote it ("frontdesk:SITE") becomes version 2; token, thread and outbox survive."""
    with connect(server.visitor_url, origin=Origin(server.origin), compression=None, open_timeout=TIMEOUT) as ws:
        hello = request(ws, "1", "hello", meta={})
        sent = request(ws, "2", "message.send", client_id=str(uuid.uuid4()), body="Sent by the first widget")
    token, visitor_id, conv = hello["token"], hello["visitor"]["id"], sent["conversation_id"]
    agent.reply(conv, "Answered before the upgrade")
    queued_id, failed_id, now = str(uuid.uuid4()), str(uuid.uuid4()), int(time.time() * 1000)
    # Key for key what the first widget kept (its `st`): token, vid, cfg, open, out [{c, b, t, v, f}], conv, prof.
    legacy = {
        "token": token,
        "vid": visitor_id,
        "cfg": hello["config"],
        "open": True,
        "out": [
            {"c": queued_id, "b": "Queued before the upgrade", "t": now, "v": conv, "f": 0},
            {"c": failed_id, "b": "Failed before the upgrade", "t": now + 1, "v": conv, "f": 1},
        ],
        "conv": conv,
        "prof": {"name": "Olga"},
    }
    page.add_init_script(
        f"localStorage.setItem({json.dumps('frontdesk:' + server.site_key)}, {json.dumps(json.dumps(legacy))})"
    )
    frames: list[dict[str, Any]] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(json.loads(payload))))

    widget = open_widget(page, server.http_url + "/", open_panel=False)
    expect(widget.panel).to_be_visible()  # it was open before the upgrade
    expect(widget.message("Queued before the upgrade")).to_have_attribute("data-status", "sent")
    expect(widget.message("Failed before the upgrade")).to_have_attribute("data-status", "failed")
    expect(widget.bodies).to_have_text(
        [
            "Sent by the first widget",
            "Answered before the upgrade",
            "Queued before the upgrade",
            "Failed before the upgrade",
        ]
    )
    assert next(f for f in frames if f["type"] == "hello")["token"] == token
    assert next(f for f in frames if f["type"] == "message.send")["client_id"] == queued_id

    assert page.evaluate("Object.keys(localStorage)") == [STORAGE_KEY.format(site=server.site_key)]
    record = stored_record(page, server.site_key)
    assert record["version"] == 2
    assert record["session"] == {"token": token, "visitorId": visitor_id}
    assert (record["conversationId"], record["panelOpen"], record["pendingProfile"]) == (conv, True, None)
    assert [(m["client_id"], m["status"]) for m in record["outbox"]] == [(failed_id, "failed")]

    assert len(agent.request("snapshot")["conversations"]) == 1  # the same visitor, not a new one
    bodies = [m["body"] for m in agent.messages(conv)]
    assert bodies == ["Sent by the first widget", "Answered before the upgrade", "Queued before the upgrade"]
    assert agent.request("visitor.get", visitor_id=visitor_id)["visitor"]["name"] == "Olga"


def test_a_damaged_record_starts_a_new_visitor(page: Page, server: RunningServer) -> None:
    """A record that is not JSON is ignored: the widget comes up as a new visitor and replaces it."""
    key = STORAGE_KEY.format(site=server.site_key)
    page.add_init_script(f"localStorage.setItem({json.dumps(key)}, '{{not json')")
    widget = open_widget(page, server.http_url + "/")
    widget.send("Hello")
    expect(widget.message("Hello")).to_have_attribute("data-status", "sent")
    record = stored_record(page, server.site_key)
    assert record["version"] == 2 and record["session"]["token"]
    assert page.errors == []  # type: ignore[attr-defined]
