"""Render the console's screenshots against a demo server.

Run ``python -m frontdesk.console.ui.screenshots OUTDIR`` (``make
screenshots`` does). It starts a throwaway ``frontdesk serve`` with a few
visitors and conversations, opens the real console on it (offscreen, with
the machine's fonts) and saves:

- ``console-main.png``: the inbox, a conversation, the visitor's details;
- ``console-note.png``: a thread with a private note, composer in note mode;
- ``console-search.png``: a search across every status, matches highlighted;
- ``console-settings.png``: the admin settings dialog;
- ``console-export.png``: the export dialog, an export of the inbox's list as PDF under way (issue 16);
- ``console-webhooks.png``: the Webhooks tab and its delivery log (issue 16);
- ``console-trail.png``: the activity trail, an edited reply, the agent Away;
- ``console-canned.png``: "/th" typed in the composer, the canned-response completion open;
- ``console-labels.png``: the inbox narrowed to a label, the thread header's label chips;
- ``console-team-filter.png``: the inbox's team and label box, open;
- ``console-canned-settings.png``: the settings dialog's Canned responses tab;
- ``console-reports.png``, ``console-reports-hours.png``, ``console-reports-agents.png``: the Reports window
  (issue 17) with a month of demo figures (``_demo_report.py``): volume charts and the summary cards, the
  busiest-hours heatmap, the agents' table sorted by conversations;
- ``console-offline.png``: the server gone: Offline, a queued reply;
- ``console-attachments.png``: a visitor's screenshot as a thumbnail in the
  thread, the agent's PDF as a file card, the visitor pane's files;
- ``console-notification.png``: a desktop notification, drawn by ``dunst``
  under ``Xvfb`` on a private D-Bus session bus over the console's window
  (sent through the console's real path: ``NotificationCenter`` and
  ``SystemNotifier``). Skipped with a note when Xvfb, dunst, dbus-daemon or
  ImageMagick is missing (``make screenshots`` installs them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["main"]

CLI = [sys.executable, "-m", "frontdesk.server.cli"]
ADMIN_PASSWORD = "demo-admin-password"  # noqa: S105 - a throwaway demo database

VISITORS: list[dict[str, Any]] = [
    {
        "name": "Maya Patel",
        "email": "maya@northwind.example",
        "meta": {
            "url": "https://shop.example.com/pricing",
            "title": "Pricing · Example Shop",
            "referrer": "https://www.google.com/",
            "language": "en-GB",
            "timezone": "Europe/London",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
        },
        "messages": [
            "Hi! I'm on the Team plan and we're about to add six more people.",
            "Do we get the volume discount automatically, or do I need to ask for it?",
        ],
    },
    {
        "name": "Lucas Oliveira",
        "email": "lucas@oliveira.example",
        "meta": {
            "url": "https://shop.example.com/orders/48213",
            "title": "Order #48213",
            "referrer": "",
            "language": "pt-BR",
            "timezone": "America/Sao_Paulo",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Safari/605.1.15",
        },
        "messages": ["My order #48213 says delivered but nothing arrived. Can you check?"],
    },
    {
        "name": None,
        "email": None,
        "meta": {
            "url": "https://shop.example.com/",
            "title": "Example Shop",
            "referrer": "https://news.ycombinator.com/",
            "language": "en-US",
            "timezone": "America/New_York",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        },
        "messages": ["Is there an API for exporting invoices?"],
    },
    {
        "name": "Sofia Rossi",
        "email": "sofia.rossi@example.it",
        "meta": {
            "url": "https://shop.example.com/account/billing",
            "title": "Billing",
            "referrer": "",
            "language": "it-IT",
            "timezone": "Europe/Rome",
            "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        },
        "messages": ["Can I change the card I pay with?", "Found it, thanks!"],
    },
    {
        "name": "Kenji Watanabe",
        "email": "kenji@watanabe.example",
        "meta": {
            "url": "https://shop.example.com/help/returns",
            "title": "Returns",
            "referrer": "https://duckduckgo.com/",
            "language": "ja-JP",
            "timezone": "Asia/Tokyo",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
        },
        "messages": ["How long do I have to return an item?"],
    },
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The demo's webhook receiver is on loopback, which webhooks may reach only when allow-listed.
_WEBHOOK_ARGS = ("--webhook-allow", "127.0.0.1/32")


def _secret_key() -> str:
    """A key for the server's secret store: 32 random bytes, url-safe base64 (a Fernet key; the console
    imports nothing of the server but its protocol)."""
    import base64

    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


async def _webhook_receiver(core: Any) -> asyncio.Server:
    """A webhook receiver on loopback that fails every other request, registered before the demo's
    activity, so that the log shows deliveries, failures and their retries (issue 16)."""
    answers = iter(["204 No Content", "500 Internal Server Error"] * 500)

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")), 0)
        await reader.readexactly(length)
        writer.write(f"HTTP/1.1 {next(answers)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    receiver = await asyncio.start_server(receive, "127.0.0.1", 0)
    await core.webhook_request(
        "webhook.create",
        url=f"http://127.0.0.1:{receiver.sockets[0].getsockname()[1]}/frontdesk",
        events="conversation.created,message.created,conversation.updated",
        description="CRM sync",
    )
    return receiver


async def _webhook_log(out: Path, window: Any) -> None:
    """The settings dialog's Webhooks tab with its delivery log."""
    dialog = window.open_settings()
    assert dialog is not None and dialog.webhooks_page is not None
    page = dialog.webhooks_page
    await _wait(lambda: dialog.save_button.isEnabled())
    dialog.resize(900, 760)
    dialog.tabs.setCurrentWidget(page)
    await _wait(lambda: page.deliveries_model.rowCount() >= 3)
    await _settle(0.5)
    dialog.grab().save(str(out / "console-webhooks.png"))
    dialog.reject()
    await _settle()


class DemoServer:
    """A throwaway ``frontdesk serve`` on a free port with a demo tenant."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.db = f"sqlite:///{folder / 'demo.db'}"
        self.log = folder / "server.log"
        out = subprocess.run(
            [
                *CLI,
                "init",
                "--db",
                self.db,
                "--json",
                "--name",
                "Example Shop",
                "--admin-name",
                "Ada Lovelace",
                "--admin-email",
                "ada@example.com",
                "--admin-password",
                ADMIN_PASSWORD,
                "--origin",
                f"127.0.0.1:{self.port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        info = json.loads(out)
        self.site_key: str = info["site_key"]
        self.admin_email: str = info["admin_email"]
        subprocess.run(
            [
                *CLI,
                *("agent", "add", "--db", self.db, "--email", "grace@example.com", "--name", "Grace Hopper"),
                *("--password", ADMIN_PASSWORD),
            ],
            capture_output=True,
            check=True,
        )
        #: The secret store's key, so that webhooks can be set up (the key survives the restart).
        self.secret_key = _secret_key()
        self.process: subprocess.Popen[bytes] | None = None
        #: Each demo conversation's visitor token (to come back as them).
        self.tokens: dict[int, str] = {}
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it listens."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*CLI, "serve", "--db", self.db, "--host", "127.0.0.1", "--port", str(self.port), *_WEBHOOK_ARGS],
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, "FRONTDESK_SECRET_KEYS": self.secret_key},
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if b"listening on" not in line:
            raise RuntimeError(f"demo server did not start: {self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        """Stop the server (SIGTERM) and wait for it."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    async def colleague_at(self, conversation_id: int, done: asyncio.Event) -> None:
        """Grace Hopper opens ``conversation_id`` in her console and types a reply until ``done``."""
        from websockets.asyncio.client import connect

        async with connect(f"ws://127.0.0.1:{self.port}/v1/agent", compression=None) as ws:
            frames: list[dict[str, Any]] = [
                {"type": "login", "email": "grace@example.com", "password": ADMIN_PASSWORD},
                {"type": "subscribe"},
                {"type": "viewing", "conversation_id": conversation_id},
                {"type": "typing", "conversation_id": conversation_id, "is_typing": True},
            ]
            for n, frame in enumerate(frames):
                await ws.send(json.dumps({**frame, "ref": str(n)}))
            await done.wait()

    async def visitor(self, spec: dict[str, Any]) -> int:
        """Connect a visitor, set their profile, send their messages; the conversation id."""
        return await self._visitor_session(spec, None)

    async def visitor_sees(self, conversation_id: int) -> None:
        """The visitor of ``conversation_id`` comes back and reads everything (their widget's ``seen``)."""
        await self._visitor_session(None, conversation_id)

    async def visitor_sends_file(self, conversation_id: int, name: str, data: bytes) -> None:
        """The visitor of ``conversation_id`` comes back and sends a file (PROTOCOL.md, "Attachments")."""
        import struct

        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        url = f"ws://127.0.0.1:{self.port}/v1/visitor?site={self.site_key}"
        async with connect(url, origin=Origin(self.url), compression=None) as ws:
            n = 0

            async def request(type_: str, **fields: Any) -> dict[str, Any]:
                nonlocal n
                n += 1
                await ws.send(json.dumps({"type": type_, "ref": str(n), **fields}))
                while True:
                    frame = json.loads(await ws.recv())
                    if frame.get("ref") == str(n):
                        if frame["type"] == "error":
                            raise RuntimeError(frame)
                        return dict(frame)

            await request("hello", token=self.tokens[conversation_id])
            begun = await request("file.begin", name=name, size=len(data))
            for offset in range(0, len(data), begun["chunk"]):  # a demo file: well within one window
                await ws.send(struct.pack(">IQ", begun["handle"], offset) + data[offset : offset + begun["chunk"]])
            stored = await request("file.finish", upload=begun["upload"])
            await request("message.send", client_id=str(uuid.uuid4()), body="", attachment_ids=[stored["id"]])

    async def _visitor_session(self, spec: dict[str, Any] | None, seen: int | None) -> int:
        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        url = f"ws://127.0.0.1:{self.port}/v1/visitor?site={self.site_key}"
        async with connect(url, origin=Origin(self.url), compression=None) as ws:
            n = 0

            async def request(type_: str, **fields: Any) -> dict[str, Any]:
                nonlocal n
                n += 1
                await ws.send(json.dumps({"type": type_, "ref": str(n), **fields}))
                while True:
                    frame = json.loads(await ws.recv())
                    if frame.get("ref") == str(n):
                        if frame["type"] == "error":
                            raise RuntimeError(frame)
                        return dict(frame)

            if spec is None:
                assert seen is not None
                hello = await request("hello", token=self.tokens[seen])
                last = max(c["last_seq"] for c in hello["conversations"] if c["id"] == seen)
                await request("seen", conversation_id=seen, seq=last)
                return seen
            hello = await request("hello", meta=spec["meta"])
            if spec["name"]:
                await request("profile.update", name=spec["name"], email=spec["email"])
            cid = 0
            for body in spec["messages"]:
                reply = await request("message.send", client_id=str(uuid.uuid4()), body=body)
                cid = int(reply["conversation_id"])
                await asyncio.sleep(0.05)
            self.tokens[cid] = hello["token"]
            return cid


def _demo_screenshot(folder: Path) -> bytes:
    """A small made-up web page, as a visitor's screenshot (PNG)."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QFont, QImage, QPainter

    image = QImage(640, 400, QImage.Format.Format_RGB32)
    image.fill(QColor("#ffffff"))
    painter = QPainter(image)
    painter.fillRect(QRect(0, 0, 640, 56), QColor("#1e3a8a"))
    painter.setPen(QColor("#ffffff"))
    font = QFont()
    font.setPixelSize(22)
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(QRect(24, 0, 600, 56), 0x0081, "Example Shop · Order #48213")  # AlignLeft | AlignVCenter
    for row in range(5):
        painter.fillRect(QRect(24, 88 + row * 52, 420 - row * 40, 14), QColor("#d1d5db"))
        painter.fillRect(QRect(24, 110 + row * 52, 280, 10), QColor("#e5e7eb"))
    painter.fillRect(QRect(470, 88, 146, 120), QColor("#fee2e2"))
    painter.setPen(QColor("#b91c1c"))
    font.setPixelSize(16)
    painter.setFont(font)
    painter.drawText(QRect(470, 88, 146, 120), 0x0084, "Delivered?")  # AlignCenter
    painter.end()
    path = folder / "order-48213.png"
    image.save(str(path))
    return path.read_bytes()


#: A one-page PDF, enough for the server to know its type.
_DEMO_PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n" + b"%" * 48_000


async def _wait(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    # Sleeping on the qasync loop lets Qt process its events meanwhile
    # (calling processEvents() from a coroutine would re-enter the loop).
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("screenshot scene did not settle")
        await asyncio.sleep(0.05)


async def _settle(seconds: float = 0.4) -> None:
    await asyncio.sleep(seconds)


def _grab_with_popup(window: Any, popup: Any) -> Any:
    """``window`` as it looks with ``popup`` (a top-level popup: a completion list, a combo box's list) over it:
    a window grab leaves top-level popups out, so the popup is painted where it is on screen."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPainter

    shot = window.grab()
    painter = QPainter(shot)
    at = popup.mapToGlobal(QPoint(0, 0)) - window.mapToGlobal(QPoint(0, 0))
    painter.drawPixmap(at, popup.grab())
    painter.end()
    return shot


async def _workflow_shots(out: Path, core: Any, window: Any, maya: int, lucas: int) -> None:
    """Teams, labels and canned responses (issue 15): console-canned.png, console-labels.png and
    console-team-filter.png."""
    from PySide6.QtTest import QTest

    me = core.me.id if core.me else 1
    agents = {a.name: a.id for a in await core.list_agents()}
    await core.create_team("Billing", [me, agents.get("Grace Hopper", me)])
    await core.create_team("Shipping", [agents.get("Grace Hopper", me)])
    vip = await core.create_label("VIP", "#f59e0b")
    refund = await core.create_label("Refund", "#dc2626")
    await core.create_label("Bug", "#7c3aed")
    await core.save_canned(
        scope="tenant",
        shortcut="thanks",
        title="Thanks for waiting",
        body="Thanks for your patience, {{visitor.first_name|there}}!",
    )
    await core.save_canned(
        scope="tenant", shortcut="hours", title="Opening hours", body="We're here Monday to Friday, 9:00–17:00."
    )
    await core.save_canned(
        scope="personal",
        shortcut="thx",
        title="Thanks, order follow-up",
        body="Thanks {{visitor.first_name|there}}! I've noted order {{?order number}}. {{agent.first_name}}",
    )
    await core.add_label(maya, vip.id)
    await core.add_label(lucas, refund.id)
    await core.add_label(lucas, vip.id)
    await _wait(lambda: core.outbox_count == 0)
    window.inbox.set_filter("open")
    window.inbox.select_conversation(maya)
    await _wait(lambda: window.thread_model.rowCount() >= 4)
    await _settle(0.8)
    composer = window.thread_pane.composer
    composer.edit.setFocus()
    QTest.keyClicks(composer.edit, "/th")
    await _wait(lambda: composer.completer is not None and composer.completer.isVisible())
    await _settle(0.5)
    _grab_with_popup(window, composer.completer).save(str(out / "console-canned.png"))
    composer.completer.hide()
    composer.edit.clear()

    window.workflow.set_scope(None, vip.id)
    await _settle(0.5)
    window.inbox.select_conversation(lucas)
    await _wait(lambda: window.workflow.label_names() != [])
    await _settle(0.6)
    window.grab().save(str(out / "console-labels.png"))

    window.workflow.set_scope(None, None)
    box = window.workflow.scope_box
    box.showPopup()
    await _settle(0.6)
    _grab_with_popup(window, box.view().window()).save(str(out / "console-team-filter.png"))
    box.hidePopup()
    await _settle()

    dialog = window.open_settings()
    assert dialog is not None
    await _wait(lambda: dialog.save_button.isEnabled())
    dialog.tabs.setCurrentIndex(
        next(n for n in range(dialog.tabs.count()) if dialog.tabs.tabText(n) == "Canned responses")
    )
    page = dialog.workflow_pages[2]
    page.list.setCurrentRow(page.list.count() - 1)
    await _settle(0.5)
    dialog.grab().save(str(out / "console-canned-settings.png"))
    dialog.reject()
    await _settle()


#: dunst's look for the screenshot: a light card like the console's own.
DUNSTRC = """
[global]
    monitor = 0
    follow = none
    width = 400
    height = 160
    origin = top-right
    offset = 20x20
    notification_limit = 3
    indicate_hidden = yes
    transparency = 0
    padding = 14
    horizontal_padding = 16
    text_icon_padding = 14
    frame_width = 1
    frame_color = "#d0d5dd"
    gap_size = 8
    separator_color = frame
    font = Sans 10
    line_height = 3
    markup = full
    format = "<span size='small' foreground='#5b6474'>%a</span>\\n<b>%s</b>\\n%b"
    alignment = left
    vertical_alignment = center
    show_age_threshold = -1
    ellipsize = end
    show_indicators = no
    icon_position = left
    min_icon_size = 44
    max_icon_size = 44
    corner_radius = 0

[urgency_low]
    background = "#ffffff"
    foreground = "#1d2433"
    timeout = 0

[urgency_normal]
    background = "#ffffff"
    foreground = "#1d2433"
    timeout = 0

[urgency_critical]
    background = "#ffffff"
    foreground = "#1d2433"
    frame_color = "#f04438"
    timeout = 0
"""


#: X's own socket and lock paths (fixed by the X11 convention, not our temp files).
_X_SOCKET, _X_LOCK = "/tmp/.X11-unix/X{}", "/tmp/.X{}-lock"  # noqa: S108


def _free_display() -> str:
    for n in range(90, 200):
        if not Path(_X_SOCKET.format(n)).exists() and not Path(_X_LOCK.format(n)).exists():
            return f":{n}"
    raise RuntimeError("no free X display number")


class _XDesktop:
    """A throwaway desktop for one screenshot: Xvfb (black root), a private
    D-Bus session bus, and dunst serving org.freedesktop.Notifications on it."""

    TOOLS = ("Xvfb", "dunst", "dbus-daemon", "import")

    def __init__(self, folder: Path, width: int, height: int) -> None:
        self.exe = {tool: shutil.which(tool) or "" for tool in self.TOOLS}
        self.display = _free_display()
        self._procs: list[subprocess.Popen[Any]] = []
        try:
            xvfb = [self.exe["Xvfb"], self.display, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp", "-br"]
            self._procs.append(subprocess.Popen(xvfb, stderr=subprocess.DEVNULL))
            deadline = time.monotonic() + 15
            while not Path(_X_SOCKET.format(self.display[1:])).exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("Xvfb did not start")
                time.sleep(0.05)
            bus = subprocess.Popen(
                [self.exe["dbus-daemon"], "--session", "--nofork", "--nopidfile", "--print-address=1"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            self._procs.append(bus)
            assert bus.stdout is not None
            self.bus_address = bus.stdout.readline().strip()
            env = {**os.environ, "DISPLAY": self.display, "DBUS_SESSION_BUS_ADDRESS": self.bus_address}
            rc = folder / "dunstrc"
            rc.write_text(DUNSTRC, encoding="utf-8")
            dunst = [self.exe["dunst"], "-config", str(rc)]
            self._procs.append(subprocess.Popen(dunst, env=env, stderr=subprocess.DEVNULL))
        except BaseException:
            self.close()
            raise

    @classmethod
    def missing(cls) -> list[str]:
        """The tools this machine lacks."""
        return [tool for tool in cls.TOOLS if shutil.which(tool) is None]

    def capture(self, target: Path) -> None:
        """Save the whole X screen as ``target``."""
        argv = [self.exe["import"], "-display", self.display, "-window", "root", str(target)]
        subprocess.run(argv, check=True, timeout=30)

    def close(self) -> None:
        """Stop dunst, the bus and Xvfb."""
        for proc in reversed(self._procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs = []


def _composite(desktop: Any, screen: Path, target: Path) -> None:
    """Lay the popup dunst drew on the black X screen over the console's window image."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath

    shot = QImage(str(screen))
    black = QColor(0, 0, 0).rgb()
    # dunst sits at the top right: scan that corner for its bounding box.
    x0, y0 = max(0, shot.width() - 520), 0
    x1, y1 = shot.width(), min(shot.height(), 400)
    xs = [x for x in range(x0, x1) if any(shot.pixel(x, y) != black for y in range(y0, y1, 3))]
    ys = [y for y in range(y0, y1) if any(shot.pixel(x, y) != black for x in range(x0, x1, 3))]
    if not xs or not ys:
        raise RuntimeError("dunst drew nothing")
    box = QRectF(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)
    image = desktop.toImage()
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(0, 0, 0, 0))
    for spread, alpha in ((10, 6), (7, 9), (4, 14), (2, 20)):
        shadow = QPainterPath()
        shadow.addRoundedRect(box.adjusted(-spread, -spread + 4, spread, spread + 4), 10 + spread, 10 + spread)
        painter.fillPath(shadow, QColor(16, 24, 40, alpha))
    card = QPainterPath()
    card.addRoundedRect(box, 10, 10)
    painter.setClipPath(card)
    painter.drawImage(box, shot, box)
    painter.setClipping(False)
    painter.setPen(QColor("#d0d5dd"))  # dunst's frame, redrawn along the rounded corners
    painter.drawPath(card)
    painter.end()
    image.save(str(target))


async def _desktop_notification(out: Path, folder: Path, window: Any, conversation_id: int) -> Path | None:
    """Draw a real desktop notification with dunst over the console (see the module docstring)."""
    from frontdesk.console.core import Notification
    from frontdesk.console.core.notifier import SystemNotifier
    from PySide6.QtGui import QGuiApplication

    absent = _XDesktop.missing()
    if absent:
        print(f"skipping console-notification.png: missing {', '.join(absent)}", file=sys.stderr)
        return None
    desktop = _XDesktop(folder, window.width(), window.height())
    old_bus = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    try:
        # The notification goes out as the console sends it: through the window's NotificationCenter.
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = desktop.bus_address
        icon = folder / "frontdesk.png"
        QGuiApplication.windowIcon().pixmap(96, 96).save(str(icon))
        notifier = SystemNotifier(icon=icon)
        for _ in range(100):  # dunst takes the bus name a moment after it starts
            if await notifier.available():
                break
            await asyncio.sleep(0.1)
        window.notifier.desktop = notifier
        row = window.core.cache.conversation(conversation_id)
        name = row.visitor_name if row is not None else "A visitor"
        body = row.preview if row is not None else ""
        shown = window.notifier.notify_core(Notification("new_message", conversation_id, name, body))
        await _wait(lambda: bool(window.notifier.delivered), timeout=10)
        await _settle(1.0)  # dunst draws
        screen = folder / "screen.png"
        desktop.capture(screen)
        target = out / "console-notification.png"
        _composite(window.grab(), screen, target)
        window.notifier.desktop = None
        await notifier.close()
        return target if shown and window.notifier.delivered[-1] == "desktop" else None
    finally:
        if old_bus is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = old_bus
        desktop.close()


async def _reports_shots(out: Path, window: Any) -> None:
    """The Reports window with a month of made-up figures: the demo server's handful of conversations make no
    chart worth looking at (and until the server's half of issue 17 lands, it does not answer report.get)."""
    import datetime as dt

    from frontdesk.console.core.reports import FetchedReport
    from PySide6.QtCore import Qt

    from ._demo_report import demo_report

    reports = window.open_reports()
    reports.resize(1320, 860)
    await _wait(lambda: reports.refresh_button.isEnabled() and reports.status.text() not in ("", "Loading…"))
    query = reports.query()
    now = time.time()
    report = demo_report(dt.date.fromisoformat(query.end), generated_at=int(now * 1000))
    reports.show_report(FetchedReport(query, report, now))
    for tab, name in ((0, "console-reports"), (2, "console-reports-hours"), (3, "console-reports-agents")):
        reports.tabs.setCurrentIndex(tab)
        if tab == 3:
            reports.views["agents"].sortByColumn(1, Qt.SortOrder.DescendingOrder)
        await _settle(0.6)
        reports.grab().save(str(out / f"{name}.png"))
    reports.close()
    await _settle()


async def render(out: Path) -> None:
    """Build the demo, drive the console, save its PNGs into ``out``."""
    from frontdesk.console.core import ConnectionState, ConsoleCore, MemoryTokenStore
    from frontdesk.console.ui.mainwindow import MainWindow
    from frontdesk.console.ui.preferences import Preferences

    with tempfile.TemporaryDirectory(prefix="frontdesk-shots-") as tmp:
        folder = Path(tmp)
        server = DemoServer(folder)
        try:
            ids = [await server.visitor(spec) for spec in VISITORS]
            core = ConsoleCore(server.url, folder / "console", MemoryTokenStore())
            await core.login(server.admin_email, ADMIN_PASSWORD, remember=False)
            window = MainWindow(core, Preferences(folder / "console" / "console.json"), use_tray=False)
            window.resize(1320, 820)
            window.attach()
            window.show()
            await core.start()
            await _wait(lambda: core.state is ConnectionState.ONLINE and window.inbox_model.rowCount() >= 1)
            agents = {a.name: a.id for a in await core.list_agents()}
            receiver = await _webhook_receiver(core)
            maya, lucas, anon, sofia, kenji = ids
            del anon, kenji
            # A lived-in inbox: replies, a note, assignments, a resolved one.
            await core.assign(maya, core.me.id if core.me else 1)
            await core.reply(maya, "Hi Maya! Yes: from 10 seats the volume price applies automatically at renewal.")
            await core.reply(maya, "I can also apply it today, pro rata: https://shop.example.com/pricing")
            await core.assign(lucas, agents.get("Grace Hopper", 1))
            await core.note(lucas, "Courier confirms a failed delivery; reshipping today. Refund if not there by Fri.")
            await core.reply(lucas, "Sorry about that, Lucas. I've asked the courier and will update you shortly.")
            await core.resolve(sofia)
            await _wait(lambda: core.outbox_count == 0)
            await server.visitor_sees(maya)  # the replies show "Seen"
            window.inbox.set_filter("open")
            await _settle(1.5)  # let the echoes of those actions arrive before opening one
            window.inbox.select_conversation(maya)
            await _wait(lambda: window.thread_model.rowCount() >= 4)
            await _settle(0.8)
            window.grab().save(str(out / "console-main.png"))
            await _desktop_notification(out, folder, window, ids[4])

            window.inbox.select_conversation(lucas)
            await _wait(lambda: window.thread_model.rowCount() >= 3)
            window.thread_pane.composer.set_note_mode(True)
            window.thread_pane.composer.edit.setPlainText("Reshipment tracking: ")
            await _settle(0.6)
            window.grab().save(str(out / "console-note.png"))
            window.thread_pane.composer.edit.clear()
            window.thread_pane.composer.set_note_mode(False)

            # Search across every status, the matches highlighted in the snippets.
            window.inbox.search.setText("can")
            window.inbox.apply_search_now()
            results = window.search_model
            await _wait(lambda: results.results is not None and results.results.state.value == "complete")
            await _settle(0.6)
            window.grab().save(str(out / "console-search.png"))
            window.inbox.search.clear()
            window.inbox.apply_search_now()

            dialog = window.open_settings()
            assert dialog is not None
            await _wait(lambda: dialog.save_button.isEnabled())
            dialog.domain_edit.setText("https://shop.example.com/")
            dialog.tabs.setCurrentIndex(0)
            await _settle(0.5)
            dialog.grab().save(str(out / "console-settings.png"))
            dialog.reject()
            await _settle()

            # The export dialog (issue 16): the inbox's list as PDF, its progress bar part way.
            exporter = window.open_export()
            exporter.list_radio.setChecked(True)
            exporter.set_format("pdf")
            exporter.notes_check.setChecked(True)
            exporter.path_edit.setText(str(Path(tempfile.gettempdir()) / "frontdesk-conversations.pdf"))
            exporter.progress.setRange(0, 5)
            exporter.progress.setValue(2)
            exporter.status_label.setText("Exporting 5 conversations…")
            exporter.set_running(True)  # as it looks while running: only Cancel enabled
            await _settle(0.5)
            exporter.grab().save(str(out / "console-export.png"))
            exporter.reject()
            await _settle()
            await _webhook_log(out, window)
            receiver.close()
            # Collision awareness (issue 15, item 6): Grace has Lucas's conversation open and is typing; with
            # reply_assignee_only on, Ada sees why only notes are open to her before she types.
            await core.set_config({"reply_assignee_only": True})
            done = asyncio.Event()
            grace = asyncio.ensure_future(server.colleague_at(lucas, done))
            window.inbox.select_conversation(lucas)
            header = window.thread_pane.header
            await _wait(lambda: "typing a reply" in header.collision_label.full_text())
            await _wait(lambda: window.thread_pane.reply_blocked_label.isVisible())
            await _settle(0.6)
            window.grab().save(str(out / "console-collision.png"))
            done.set()
            await grace
            await core.set_config({"reply_assignee_only": False})
            await _workflow_shots(out, core, window, maya, lucas)
            await _reports_shots(out, window)

            # The activity trail, an edited reply and availability (issue 13, items 4 and 5).
            await core.pend(lucas)
            await core.reopen(lucas)
            await core.assign(lucas, core.me.id if core.me else 1)
            sorry = next(i for i in core.cache.thread(lucas) if i.body.startswith("Sorry about that"))
            await core.edit_message(lucas, sorry.seq or 0, "Sorry about that, Lucas. A new parcel ships today.")
            await core.set_away(True)
            await _wait(lambda: core.outbox_count == 0)
            window.inbox.set_filter("open")
            window.inbox.select_conversation(lucas)
            await _settle(1.5)
            window.grab().save(str(out / "console-trail.png"))
            await core.set_away(False)

            # Attachments (issue 14): the visitor's screenshot, the agent's PDF.
            await server.visitor_sends_file(maya, "order-48213.png", _demo_screenshot(folder))
            quote = folder / "quote-northwind.pdf"
            quote.write_bytes(_DEMO_PDF)
            await core.reply(maya, "Here is the updated quote for 16 seats.", [quote])
            await _wait(lambda: core.outbox_count == 0)
            window.inbox.set_filter("open")
            window.inbox.select_conversation(maya)
            await _wait(lambda: any(i.attachments for i in core.cache.thread(maya)))
            await _settle(0.8)
            window.thread_pane.view.viewport().update()
            await _wait(lambda: bool(window.attachments._thumbs))
            await _settle(0.8)
            window.grab().save(str(out / "console-attachments.png"))

            server.stop()
            await _wait(lambda: core.state is not ConnectionState.ONLINE)
            window.inbox.select_conversation(maya)
            await core.reply(maya, "I'll send the updated quote in a minute.")
            await core.resolve(ids[4])
            await _wait(lambda: window.thread_model.rowCount() >= 5)
            await _settle(0.8)
            window.grab().save(str(out / "console-offline.png"))
            window.detach()
            await core.stop()
            window.close()
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m frontdesk.console.ui.screenshots OUTDIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("outdir", type=Path, nargs="?", default=Path("docs/screenshots"))
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from frontdesk.console.ui._refcount import guard
    from frontdesk.console.ui.theme import apply_theme
    from PySide6.QtWidgets import QApplication

    guard()  # PySide6 6.12.0 loses references on signals (see _refcount)
    app = QApplication.instance() or QApplication(["frontdesk-screenshots"])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app)
    with contextlib.suppress(KeyboardInterrupt):
        qasync.run(render(args.outdir))
    for name in (
        "console-main",
        "console-notification",
        "console-note",
        "console-search",
        "console-settings",
        "console-canned",
        "console-labels",
        "console-team-filter",
        "console-canned-settings",
        "console-export",
        "console-reports",
        "console-reports-hours",
        "console-reports-agents",
        "console-offline",
        "console-attachments",
    ):
        print(args.outdir / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
