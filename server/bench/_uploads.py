"""The ``uploads`` workload (issue 14, "Measured"): attachments under load.

Three figures, on one server:

- **upload throughput** of 1 MB files: visitors upload files one after another over their sockets (binary frames,
  the window kept full), ``file.begin`` to the ``file.finish`` reply, in MB/s over all of them;
- **last byte → agent**: from the moment a file's last frame is written to the moment an agent receives the message
  that carries it (the ``file.finish`` reply, then ``message.send`` with ``attachment_ids``);
- **plain-message p99 with uploads alongside**: one visitor sends plain messages at a steady rate and the time to
  reach the agent is measured alone, then again while the uploads run.

It drives the server with the ``websockets`` client: upload frames are 64 KiB, so the bench's own lean client (made
for tens of thousands of small frames) buys nothing here.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from .. import protocol as p
from ._stats import Progress, summary_ms
from ._targets import Target
from ._workloads import BenchError, LoadOptions

__all__ = ["uploads"]

JSON = dict[str, Any]
#: Bytes of each uploaded file.
FILE_BYTES = 1_000_000
#: Visitors uploading at once.
UPLOADERS = 4
#: Plain messages per measurement, and their pace.
PLAIN_MESSAGES = 200
PLAIN_INTERVAL_S = 0.02


class _Socket:
    """A socket with requests by ref, ``file.progress`` per upload, and arrival times of messages by client_id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._next = 0
        self._waiting: dict[str, asyncio.Future[JSON]] = {}
        self.progress: dict[str, asyncio.Queue[int]] = {}
        self.arrived: dict[str, int] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, target: Target, path: str) -> _Socket:
        url = f"ws://{target.host}:{target.port}{path}"
        ws = await connect(url, origin=Origin(target.origin), compression=None, max_size=None)
        return cls(ws)

    async def _read(self) -> None:
        async for raw in self.ws:
            now = time.perf_counter_ns()
            frame = p.decode(raw if isinstance(raw, str) else raw.decode())
            kind = frame.get("type")
            if kind in ("reply", "error") and frame.get("ref") in self._waiting:
                self._waiting.pop(frame["ref"]).set_result(frame)
            elif kind == "event" and frame.get("kind") == "file.progress":
                self.progress.setdefault(frame["data"]["upload"], asyncio.Queue()).put_nowait(frame["data"]["received"])
            elif kind == "event" and frame.get("kind") == "message.created":
                self.arrived[frame["data"]["client_id"]] = now

    async def request(self, kind: str, **fields: Any) -> JSON:
        self._next += 1
        ref = str(self._next)
        future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = future
        await self.ws.send(p.encode({"type": kind, "ref": ref, **fields}))
        frame = await asyncio.wait_for(future, 120)
        if frame["type"] == "error":
            raise BenchError(f"{kind}: {frame['code']}: {frame['message']}")
        return frame

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def _upload(sock: _Socket, data: bytes) -> tuple[str, int]:
    """Upload ``data``; (attachment id, perf_counter_ns when the last frame was written)."""
    begun = await sock.request("file.begin", name="bench.pdf", size=len(data))
    key, handle, chunk, window = begun["upload"], begun["handle"], begun["chunk"], begun["window"]
    queue = sock.progress.setdefault(key, asyncio.Queue())
    acked = offset = 0
    while offset < len(data):
        while offset - acked >= window:
            acked = await asyncio.wait_for(queue.get(), 120)
        part = data[offset : offset + chunk]
        await sock.ws.send(struct.pack(">IQ", handle, offset) + part)
        offset += len(part)
    last_byte = time.perf_counter_ns()
    while acked < len(data):
        acked = await asyncio.wait_for(queue.get(), 120)
    done = await sock.request("file.finish", upload=key)
    sock.progress.pop(key, None)
    return str(done["id"]), last_byte


async def _wait_arrival(agent: _Socket, client_id: str) -> int:
    deadline = time.monotonic() + 120
    while client_id not in agent.arrived:
        if time.monotonic() > deadline:
            raise BenchError("a message never reached the agent")
        await asyncio.sleep(0.002)
    return agent.arrived[client_id]


async def _plain(visitor: _Socket, agent: _Socket, count: int) -> list[int]:
    """``count`` plain messages at a steady pace; each one's time from send to the agent, in ns."""
    pending: list[tuple[str, int]] = []
    for _ in range(count):
        client_id = str(uuid.uuid4())
        sent = time.perf_counter_ns()
        await visitor.ws.send(p.encode({"type": "message.send", "client_id": client_id, "body": "plain"}))
        pending.append((client_id, sent))
        await asyncio.sleep(PLAIN_INTERVAL_S)
    return [await _wait_arrival(agent, cid) - sent for cid, sent in pending]


async def uploads(target: Target, opts: LoadOptions, progress: Progress) -> JSON:
    """Run the workload (module doc) against ``target``."""
    files = max(UPLOADERS, opts.upload_files)
    agent = await _Socket.open(target, "/v1/agent")
    await agent.request("login", email=target.email, password=target.password)
    await agent.request("subscribe")
    chatter = await _Socket.open(target, target.visitor_path)
    await chatter.request("hello")
    uploaders = [await _Socket.open(target, target.visitor_path) for _ in range(UPLOADERS)]
    for sock in uploaders:
        await sock.request("hello")
    data = b"%PDF-1.4\n" + os.urandom(FILE_BYTES - 9)  # random after the magic: every file is new content
    try:
        progress.begin("uploads: plain messages alone")
        alone = await _plain(chatter, agent, PLAIN_MESSAGES)
        done = 0
        upload_ns: list[int] = []
        to_agent: list[int] = []

        async def uploader(sock: _Socket, n: int) -> None:
            nonlocal done
            for _ in range(n):
                content = data[:-16] + os.urandom(16)
                start = time.perf_counter_ns()
                file_id, last_byte = await _upload(sock, content)
                upload_ns.append(time.perf_counter_ns() - start)
                client_id = str(uuid.uuid4())
                await sock.request("message.send", client_id=client_id, body="", attachment_ids=[file_id])
                to_agent.append(await _wait_arrival(agent, client_id) - last_byte)
                done += 1
                progress.update(done / files, f"{done}/{files} files")

        progress.begin("uploads: files, with plain messages alongside")
        started = time.perf_counter_ns()
        per = files // UPLOADERS
        upload_tasks = [asyncio.create_task(uploader(sock, per)) for sock in uploaders]
        alongside = await _plain(chatter, agent, PLAIN_MESSAGES)
        await asyncio.gather(*upload_tasks)
        elapsed_s = (time.perf_counter_ns() - started) / 1e9
        progress.end(f"{done} files")
    finally:
        for sock in (agent, chatter, *uploaders):
            await sock.close()
    total_mb = done * FILE_BYTES / 1e6
    return {
        "files": done,
        "file_mb": FILE_BYTES / 1e6,
        "uploaders": UPLOADERS,
        "upload_mb_s": round(total_mb / elapsed_s, 1),
        "upload_ms": summary_ms(upload_ns),
        "last_byte_to_agent_ms": summary_ms(to_agent),
        "plain_alone_ms": summary_ms(alone),
        "plain_with_uploads_ms": summary_ms(alongside),
    }
