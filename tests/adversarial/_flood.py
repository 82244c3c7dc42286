"""A tenant flood in its own process, so the victim's latency is measured on
an event loop the flood does not share: ``python -m tests.adversarial._flood
URL SECONDS CONNECTIONS``. Each connection speaks from its own address
(``X-Forwarded-For``; the server must run with ``--trust-proxy``)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

from websockets.asyncio.client import connect


async def flooder(url: str, origin: str, ip: str, until: float, counts: dict[str, int]) -> None:
    body = "flood " * 50
    while time.monotonic() < until:
        try:
            async with connect(
                url,
                origin=origin,
                compression=None,
                additional_headers={"X-Forwarded-For": ip},  # type: ignore[arg-type]
            ) as ws:
                counts["connections"] += 1
                await ws.send('{"type":"hello","ref":"h"}')
                i = 0
                while time.monotonic() < until:
                    kind = "message.send" if i % 4 else "ping"
                    await ws.send(
                        json.dumps({"type": kind, "ref": str(i), "client_id": str(uuid.uuid4()), "body": body})
                    )
                    counts["frames"] += 1
                    i += 1
                    if i % 50 == 0:
                        await asyncio.sleep(0)
        except Exception:
            counts["closed"] += 1
            await asyncio.sleep(0.02)


async def main(url: str, origin: str, seconds: float, n: int) -> None:
    counts = {"connections": 0, "frames": 0, "closed": 0}
    until = time.monotonic() + seconds
    await asyncio.gather(*(flooder(url, origin, f"10.66.{i // 250}.{i % 250 + 1}", until, counts) for i in range(n)))
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
