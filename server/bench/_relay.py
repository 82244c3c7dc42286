"""The bare relay: the reference for "close to the limit".

Same ``websockets`` library and the same connection settings as Frontdesk
(no compression, the same frame-size limit and keepalive), but no
persistence, no auth and no parsing: every frame a visitor sends is forwarded
as is to every connected agent with :func:`websockets.broadcast`.

Run as ``python -m frontdesk.server.bench._relay [--port N]``; it prints
``listening on http://HOST:PORT`` as ``frontdesk serve`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from websockets.asyncio.server import ServerConnection, broadcast, serve

__all__ = ["main"]


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
