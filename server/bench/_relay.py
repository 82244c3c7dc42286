"""The bare relay: the reference for "close to the limit".

Same ``websockets`` library and the same connection settings as Frontdesk (no
compression, the same frame-size limit, keepalive and listen backlog), but no
persistence, no auth and no parsing: every frame a visitor sends is forwarded
as is to every connected agent with :func:`websockets.broadcast`.

For the reconnect storm's baseline, a visitor socket opened with
``?replay=N`` in its path is answered, on its first frame, with N frames the
size and shape of a replayed ``message.created`` event, and forwards nothing:
the handshake, one request and a replay, without the store.

Run as ``python -m frontdesk.server.bench._relay [--port N]``; it prints
``listening on http://HOST:PORT`` as ``frontdesk serve`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve

__all__ = ["main", "replay_frame"]


def replay_frame(i: int) -> str:
    """The ``i``-th frame of a relay replay: a ``message.created`` event as Frontdesk replays one (about 400 bytes)."""
    return (
        f'{{"type":"event","kind":"message.created","event_id":{i + 1},"data":{{"id":{i + 1},'
        f'"conversation_id":1,"seq":{i + 1},"author_kind":"agent","author_id":1,"author_name":"Agent",'
        f'"client_id":"00000000-0000-4000-8000-{i:012d}","body":"missed {i}","created_at":1796677835082,'
        f'"attachments":[],"edited_at":null,"deleted_at":null}},"conversation":{{"id":1,"status":"open",'
        f'"last_seq":{i + 1},"last_activity":1796677835082,"preview":"missed {i}"}}}}'
    )


async def _run(host: str, port: int) -> None:
    agents: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.path.startswith("/v1/agent"):
            agents.add(ws)
            try:
                async for _ in ws:
                    pass
            finally:
                agents.discard(ws)
            return
        replay = parse_qs(urlsplit(ws.request.path).query).get("replay")
        if replay:
            await ws.recv()  # the hello
            for i in range(int(replay[0])):
                await ws.send(replay_frame(i))
            async for _ in ws:
                pass
            return
        async for frame in ws:
            broadcast(agents, frame)

    async with serve(
        handler,
        host,
        port,
        compression=None,
        max_size=64 * 1024,
        max_queue=16,
        write_limit=64 * 1024,
        ping_interval=20,
        ping_timeout=20,
        backlog=4096,  # as frontdesk serve: a storm's connects queue instead of being reset
    ) as server:
        sock = next(iter(server.sockets))
        print(f"relay listening on http://{host}:{sock.getsockname()[1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_run(args.host, args.port))


if __name__ == "__main__":
    main()
