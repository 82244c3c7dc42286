"""A scripted stand-in for the server, for widget behaviour the real server
cannot be made to show on demand (a storage outage, an erasure close).

:class:`ProtocolPeer` is a ``websockets`` server on port 0, in a thread of its
own. It serves a host page and the real ``widget/widget.js`` over HTTP, and on
``/v1/visitor`` it speaks the frames of docs/PROTOCOL.md, but only what the test
tells it to: every frame the widget sends is queued, and the test answers each
request itself (:meth:`reply`, :meth:`error`, :meth:`welcome`) or closes the
socket with any code (:meth:`close`). A binary frame (an upload chunk, docs/PROTOCOL.md,
"Attachments") is queued as a frame of type ``binary`` with its ``handle``, ``offset`` and ``data``.
It also serves the widget's lazy modules (``/widget/NAME.js``) and whatever the test puts in
:attr:`ProtocolPeer.files` (path → (body, content type)).
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import json
import re
import struct
import threading
import time
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.support import TIMEOUT
from tests.widget.conftest import WIDGET_JS

SITE_KEY = "peer-site"
#: The tenant's public config as the peer sends it in hello replies.
CONFIG = {
    "business_name": "Peer Co",
    "color": "#2563eb",
    "position": "right",
    "greeting": "Hi there! How can we help?",
    "launcher_label": "Chat with us",
    "away_message": "Away.",
    "business_hours": {"enabled": False, "timezone": "UTC", "days": {}},
    "prechat": {"enabled": False, "fields": []},
    "sound": True,
}

__all__ = ["CONFIG", "SITE_KEY", "Frame", "ProtocolPeer", "message"]


@dataclasses.dataclass
class Frame:
    """One frame the widget sent, on the peer's ``socket``-th connection (0 first)."""

    socket: int
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type"))

    @property
    def ref(self) -> str | None:
        return self.data.get("ref")


class ProtocolPeer:
    """Serve the widget, record what it sends, answer as the test says."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="protocol-peer", daemon=True)
        self._thread.start()
        self._cond = threading.Condition()
        self.sockets: list[ServerConnection] = []
        self.closed: dict[int, int | None] = {}  # socket -> the close code the widget saw, once closed
        self.frames: list[Frame] = []  # every frame, in arrival order
        self._unread: list[Frame] = []
        self.files: dict[str, tuple[bytes, str]] = {}  # path -> (body, content type), served over HTTP
        self._server: Server = self._run(self._start())
        self.port: int = next(iter(self._server.sockets)).getsockname()[1]

    @property
    def url(self) -> str:
        """The host page embedding the widget."""
        return f"http://127.0.0.1:{self.port}/"

    # -- the server side -------------------------------------------------------------------

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(TIMEOUT)

    async def _start(self) -> Server:
        return await serve(self._connection, "127.0.0.1", 0, process_request=self._http, compression=None)

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0]
        if path == "/v1/visitor":
            return None
        if path == "/widget.js":
            return _response(WIDGET_JS.read_bytes(), "application/javascript; charset=utf-8")
        module = re.fullmatch(r"/widget/([a-z][a-z0-9-]*)\.js", path)
        if module and (WIDGET_JS.parent / f"{module[1]}.js").is_file():
            source = (WIDGET_JS.parent / f"{module[1]}.js").read_bytes()
            return _response(source, "application/javascript; charset=utf-8")
        if path in self.files:
            return _response(*self.files[path])
        if path == "/":
            page = (
                "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Peer page</title></head>"
                f"<body><main><h1>Peer page</h1></main><script src='/widget.js' data-site='{SITE_KEY}' async>"
                "</script></body></html>"
            )
            return _response(page.encode(), "text/html; charset=utf-8")
        return _response(b"not found", "text/plain", http.HTTPStatus.NOT_FOUND)

    async def _connection(self, ws: ServerConnection) -> None:
        with self._cond:
            index = len(self.sockets)
            self.sockets.append(ws)
        try:
            async for raw in ws:
                if isinstance(raw, bytes):
                    handle, offset = struct.unpack(">IQ", raw[:12])
                    frame = Frame(index, {"type": "binary", "handle": handle, "offset": offset, "data": raw[12:]})
                else:
                    frame = Frame(index, json.loads(raw))
                with self._cond:
                    self.frames.append(frame)
                    self._unread.append(frame)
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self.closed[index] = ws.close_code
                self._cond.notify_all()

    # -- what the test does ------------------------------------------------------------------

    def next(self, type_: str, timeout: float = TIMEOUT) -> Frame:
        """Take the oldest frame of ``type_`` not taken yet (waiting for it if need be)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for frame in self._unread:
                    if frame.type == type_:
                        self._unread.remove(frame)
                        return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the widget sent no {type_}; it sent {[f.data for f in self.frames[-5:]]}")
                self._cond.wait(remaining)

    def wait_closed(self, socket: int, timeout: float = TIMEOUT) -> None:
        """Wait until the widget's ``socket``-th connection is closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: socket in self.closed, timeout):
                raise TimeoutError(f"socket {socket} is still open")

    def send(self, socket: int, frame: dict[str, Any]) -> None:
        self._run(self.sockets[socket].send(json.dumps(frame)))

    def reply(self, request: Frame, **fields: Any) -> None:
        self.send(request.socket, {"type": "reply", "ref": request.ref, **fields})

    def error(self, request: Frame, code: str, message: str = "scripted error") -> None:
        self.send(request.socket, {"type": "error", "ref": request.ref, "code": code, "message": message})

    def welcome(
        self,
        hello: Frame,
        token: str,
        visitor_id: int,
        conversations: list[dict[str, Any]] | None = None,
        last_event_id: int = 0,
        config: dict[str, Any] | None = None,
    ) -> None:
        """Answer ``hello`` as the server does (docs/PROTOCOL.md, "Visitor endpoint")."""
        self.reply(
            hello,
            token=token,
            visitor={"id": visitor_id, "name": None, "email": None},
            config=config or CONFIG,
            conversations=conversations or [],
            epoch="peer-epoch",
            last_event_id=last_event_id,
            reset_required=False,
            agents_online=True,
            within_hours=True,
        )

    def close(self, socket: int, code: int, reason: str) -> None:
        """Close the widget's ``socket``-th connection with ``code`` and ``reason``."""
        self._run(self.sockets[socket].close(code, reason))

    def stop(self) -> None:
        self._server.close()
        self._run(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(TIMEOUT)
        self._loop.close()


def message(conversation_id: int, seq: int, body: str, author_kind: str = "agent", **extra: Any) -> dict[str, Any]:
    """A message object as the server sends it (docs/PROTOCOL.md, "Objects")."""
    return {
        "id": 1000 + seq,
        "conversation_id": conversation_id,
        "seq": seq,
        "author_kind": author_kind,
        "author_id": 1,
        "author_name": "Ada" if author_kind == "agent" else None,
        "client_id": None,
        "body": body,
        "created_at": 1_764_000_000_000 + seq,
        **extra,
    }


def _response(body: bytes, content_type: str, status: http.HTTPStatus = http.HTTPStatus.OK) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))), ("Connection", "close")])
    return Response(status.value, status.phrase, headers, body)
