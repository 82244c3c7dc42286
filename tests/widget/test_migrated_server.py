"""A visitor chatting in real Chromium while the operator moves the server from SQLite to PostgreSQL with
``frontdesk migrate-db`` (issue 18, item 5): the open widget reconnects to the same address, resumes from its
cursor without a reset, keeps its thread, and the conversation carries on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocket, expect

from tests.support import RunningServer, init_demo, run_cli
from tests.widget.conftest import RECONNECT_TIMEOUT, Agent, open_widget, stored_token

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _hello_replies(page: Page) -> list[dict[str, Any]]:
    """Every ``hello`` reply the page's widget receives, recorded as they arrive."""
    replies: list[dict[str, Any]] = []

    def on_socket(ws: WebSocket) -> None:
        def on_frame(payload: str | bytes) -> None:
            frame = json.loads(payload)
            if isinstance(frame, dict) and "reset_required" in frame.get("data", frame):
                replies.append(frame.get("data", frame))

        ws.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    return replies


def test_an_open_widget_resumes_on_the_migrated_server(pg_url: str, tmp_path: Path, page: Page) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    info = init_demo(sqlite_url)
    server = RunningServer.from_init(sqlite_url, info, log_path=tmp_path / "server.log")
    server.start()
    try:
        hellos = _hello_replies(page)
        agent = Agent(server)
        widget = open_widget(page, server.http_url + "/")
        widget.send("Where is my order?")
        conversation_id = agent.wait_event("message.created", body="Where is my order?")["data"]["conversation_id"]
        agent.reply(conversation_id, "Let me look that up.")
        expect(widget.message("Let me look that up.", author="agent")).to_be_visible()
        token = stored_token(page, server.site_key)
        agent.close()

        server.stop()
        out = run_cli("migrate-db", "--from", sqlite_url, "--to", pg_url)
        assert "Kept the epoch" in out.stdout
        server.db_url = pg_url
        server.start()  # the same port: the page's address and origin do not change

        widget.wait_online(timeout=RECONNECT_TIMEOUT * 1000)
        assert len(hellos) >= 2 and hellos[-1]["reset_required"] is False
        assert stored_token(page, server.site_key) == token
        agent = Agent(server)
        agent.reply(conversation_id, "It left the warehouse today.")
        expect(widget.message("It left the warehouse today.", author="agent")).to_be_visible()
        widget.send("Thank you!")
        agent.wait_event("message.created", body="Thank you!")
        expect(widget.bodies).to_have_text(
            ["Where is my order?", "Let me look that up.", "It left the warehouse today.", "Thank you!"]
        )
        assert [m["body"] for m in agent.messages(conversation_id)] == [
            "Where is my order?",
            "Let me look that up.",
            "It left the warehouse today.",
            "Thank you!",
        ]
        agent.close()
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        server.stop()
