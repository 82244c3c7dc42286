"""nginx in front of three nodes on one PostgreSQL, configured exactly as docs/OPERATIONS.md tells operators.

The proxy's ``map``, ``upstream`` and ``location /`` blocks are read from the documentation, so a change there that
breaks WebSocket upgrades, Origin checks or client addresses fails here. Only what a test host needs differs: plain
HTTP on loopback instead of TLS, the test nodes' ports in the upstream, and an access log naming the upstream each
request went to.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.server.store.conftest import create_pg_database, drop_pg_database, require_pg
from tests.support import SCALE, TIMEOUT, RunningServer, ServerAddress, WsClient, init_demo, new_client_id

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md"


def documented_nginx_blocks() -> tuple[str, str, str]:
    """The ``map``, ``upstream`` and ``location /`` blocks of the first nginx configuration in OPERATIONS.md."""
    config = re.search(r"```nginx\n(.*?)```", OPERATIONS.read_text(), re.S)
    assert config, "docs/OPERATIONS.md has no nginx configuration"
    text = config.group(1)
    blocks = []
    for pattern in (
        r"^map \$http_upgrade .*?^\}\n",
        r"^upstream frontdesk \{.*?^\}\n",
        r"^    location / \{.*?^    \}\n",
    ):
        found = re.search(pattern, text, re.S | re.M)
        assert found, f"the documented nginx configuration lost its {pattern.split()[0].strip('^')} block"
        blocks.append(found.group(0))
    return blocks[0], blocks[1], blocks[2]


@dataclass
class Nginx:
    """An nginx master process on a listening socket the test bound (port 0) and handed over."""

    port: int
    process: subprocess.Popen[bytes]
    access_log: Path

    def upstreams(self, at_least: int = 0) -> list[str]:
        """The upstream address of each finished proxied request, in order; waits for ``at_least`` of them.

        nginx logs a proxied WebSocket when it closes, a moment after the client's close returns.
        """
        deadline = time.monotonic() + TIMEOUT
        while True:
            text = self.access_log.read_text() if self.access_log.exists() else ""
            found = [line.split()[-1] for line in text.splitlines() if line.strip()]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


def nginx_config(root: Path, port: int, nodes: list[int]) -> str:
    map_block, upstream, location = documented_nginx_blocks()
    servers = "".join(f"    server 127.0.0.1:{node};\n" for node in nodes)
    upstream = re.sub(r"^    server .*;\n", "", upstream, flags=re.M).replace("{\n", "{\n" + servers, 1)
    temp = " ".join(f"{kind}_temp_path {root / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
daemon off;
worker_processes 1;
pid {root / "nginx.pid"};
error_log {root / "error.log"} notice;
events {{ worker_connections 512; }}
http {{
    {temp}
    log_format upstreams '$remote_addr $status $upstream_addr';
    access_log {root / "access.log"} upstreams;
{map_block}
{upstream}
    server {{
        listen 127.0.0.1:{port};
        server_name _;
{location}
    }}
}}
"""


@contextlib.contextmanager
def running_nginx(root: Path, nodes: list[int]) -> Iterator[Nginx]:
    """nginx proxying to ``nodes``; it inherits a socket bound to port 0 (its ``NGINX`` variable), so no port race."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        if os.environ.get("CI"):
            pytest.fail("CI is set but nginx is not installed (make test installs nginx-light)", pytrace=False)
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    root.mkdir(parents=True, exist_ok=True)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(511)
    port = int(listener.getsockname()[1])
    conf = root / "nginx.conf"
    conf.write_text(nginx_config(root, port, nodes))
    check = subprocess.run(
        [nginx, "-t", "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")], capture_output=True, text=True
    )
    assert check.returncode == 0, f"nginx -t refused the documented configuration:\n{check.stderr}"
    fd = listener.fileno()
    os.set_inheritable(fd, True)
    process = subprocess.Popen(
        [nginx, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
        env={**os.environ, "NGINX": f"{fd};"},
        pass_fds=[fd],
    )
    listener.close()  # nginx holds it now; connections queue in the kernel until it accepts
    try:
        yield Nginx(port=port, process=process, access_log=root / "access.log")
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10 * SCALE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Cluster:
    nodes: list[RunningServer]
    nginx: Nginx
    #: Where clients connect: nginx's port, the demo tenant's keys.
    proxy: ServerAddress


#: Generous message budgets: these tests load the cluster on purpose (the limits have their own tests).
NODE_ARGS = ("--trust-proxy", "--rate-visitor", "1000/1000", "--rate-ip", "2000/4000")


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """Three ``frontdesk serve --trust-proxy`` nodes on one fresh PostgreSQL database, behind nginx.

    Indirect parametrization adds arguments to every node.
    """
    require_pg()
    extra_args = (*NODE_ARGS, *getattr(request, "param", ()))
    url = create_pg_database()
    nodes: list[RunningServer] = []
    try:
        info = init_demo(url)
        for name in ("a", "b", "c"):
            node = RunningServer.from_init(url, info, log_path=tmp_path / f"node-{name}.log", extra_args=extra_args)
            node.start()
            nodes.append(node)
        with running_nginx(tmp_path / "nginx", [node.port for node in nodes]) as nginx:
            yield Cluster(nodes, nginx, ServerAddress.from_init(url, info, port=nginx.port))
    finally:
        for node in nodes:
            node.stop()
        drop_pg_database(url)


def test_the_two_chats_work_through_nginx_with_clients_routed_apart(cluster: Cluster) -> None:
    """Through the documented proxy: a visitor and the admin chat both ways, Alice and Bob each get only their own."""
    proxy = cluster.proxy

    async def scenario() -> None:
        agent, _ = await WsClient.agent(proxy)
        visitor, _ = await WsClient.visitor(proxy, meta={"url": "https://example.com/", "title": "Home"})
        ack = await visitor.request("message.send", client_id=new_client_id(), body="Hello!")
        pushed = await agent.next_event("message.created", body="Hello!")
        assert pushed["event_id"] == ack["event_id"]
        await agent.request("reply", conversation_id=ack["conversation_id"], client_id=new_client_id(), body="Hi!")
        await visitor.next_event("message.created", body="Hi!")

        alice, _ = await WsClient.visitor(proxy)
        bob, _ = await WsClient.visitor(proxy)
        a = await alice.request("message.send", client_id=new_client_id(), body="I'm Alice")
        b = await bob.request("message.send", client_id=new_client_id(), body="I'm Bob")
        await agent.request("reply", conversation_id=a["conversation_id"], client_id=new_client_id(), body="for Alice")
        await agent.request("reply", conversation_id=b["conversation_id"], client_id=new_client_id(), body="for Bob")
        await alice.next_event("message.created", body="for Alice")
        await bob.next_event("message.created", body="for Bob")
        await alice.fence()
        await bob.fence()
        alice_bodies = {f["data"].get("body") for f in alice.frames if f.get("type") == "event"}
        bob_bodies = {f["data"].get("body") for f in bob.frames if f.get("type") == "event"}
        assert "for Bob" not in alice_bodies and "I'm Bob" not in alice_bodies
        assert "for Alice" not in bob_bodies and "I'm Alice" not in bob_bodies
        for client in (agent, visitor, alice, bob):
            await client.close()

    asyncio.run(scenario())
    # Round robin, no stickiness: the four sockets were spread over the three nodes, so the chats crossed nodes.
    upgrades = cluster.nginx.upstreams(at_least=4)
    assert len(upgrades) == 4 and len(set(upgrades)) == 3, upgrades


async def _resilient_visitor(
    proxy: ServerAddress, bodies: list[str], acked: dict[str, int], busy: asyncio.Event, busy_at: int
) -> None:
    """Send ``bodies`` in order; after a dropped socket reconnect through the proxy and resend the unacked one.

    ``busy`` is set once ``busy_at`` messages of all visitors together are acked.
    """
    token = epoch = None
    cursor = 0
    index = 0
    client_ids = [new_client_id() for _ in bodies]
    deadline = time.monotonic() + 60 * SCALE
    while index < len(bodies):
        assert time.monotonic() < deadline, f"visitor stuck at message {index}"
        try:
            resume = {"token": token, "since": cursor, "epoch": epoch} if token else {}
            client, hello = await WsClient.visitor(proxy, **resume)
        except (OSError, ConnectionClosed, TimeoutError):
            await asyncio.sleep(0.05)
            continue
        token, epoch = hello["token"], hello["epoch"]
        try:
            while index < len(bodies):
                ack = await client.request("message.send", client_id=client_ids[index], body=bodies[index])
                acked[bodies[index]] = ack["event_id"]
                if len(acked) >= busy_at:
                    busy.set()
                cursor = max(cursor, ack["event_id"])
                index += 1
                await asyncio.sleep(0.005)
        except (ConnectionClosed, TimeoutError, OSError):
            pass  # the node died under us: resend the same client_id through the proxy
        finally:
            with contextlib.suppress(Exception):
                await client.close()


def test_a_node_killed_mid_load_loses_nothing_and_clients_resume_through_nginx(cluster: Cluster) -> None:
    """kill -9 of a node while visitors write: every message reaches the agent exactly once, via another node."""
    proxy = cluster.proxy
    victim = cluster.nodes[1]

    async def scenario() -> None:
        agent, login = await WsClient.agent(proxy)
        delivered: list[int] = []
        seen_bodies: list[str] = []
        acked: dict[str, int] = {}
        killed_at: list[int] = []
        per_visitor = 40
        plans = [[f"v{v} m{i}" for i in range(per_visitor)] for v in range(3)]
        busy = asyncio.Event()
        visitors = [asyncio.create_task(_resilient_visitor(proxy, plan, acked, busy, 30)) for plan in plans]

        async def kill_when_busy() -> None:
            await busy.wait()
            await asyncio.to_thread(victim.kill)
            killed_at.append(len(acked))

        killer = asyncio.create_task(kill_when_busy())
        cursor = 0
        expected = per_visitor * len(plans)
        deadline = time.monotonic() + 90 * SCALE
        while len(set(seen_bodies)) < expected:
            assert time.monotonic() < deadline, f"{len(set(seen_bodies))} of {expected} delivered"
            try:
                frame = await agent.next_event("message.created", timeout=TIMEOUT)
                delivered.append(frame["event_id"])
                seen_bodies.append(frame["data"]["body"])
                cursor = max(cursor, frame["event_id"])
            except (ConnectionClosed, ConnectionError, TimeoutError):
                # The agent's node may be the one killed: log in again through nginx and resume from the cursor.
                with contextlib.suppress(Exception):
                    await agent.close()
                agent, _ = await WsClient.agent(proxy, subscribe=False)
                reply = await agent.request("subscribe", since=cursor, epoch=login["epoch"])
                assert reply["reset_required"] is False
        await asyncio.gather(*visitors, killer)
        await agent.fence()
        stray = [f for f in agent.drain("message.created")]
        delivered += [f["event_id"] for f in stray]
        seen_bodies += [f["data"]["body"] for f in stray]
        await agent.close()

        assert sorted(seen_bodies) == sorted(b for plan in plans for b in plan), "lost or duplicated messages"
        assert len(delivered) == len(set(delivered)) and delivered == sorted(delivered)
        assert set(acked.values()) <= set(delivered)
        assert killed_at and killed_at[0] < expected, "the node died after the load, not during it"

    asyncio.run(scenario())
    # After the kill, nginx sent the reconnecting clients to the two live nodes.
    victim_address = f"127.0.0.1:{victim.port}"
    assert victim_address in cluster.nginx.upstreams(at_least=1)


@pytest.mark.parametrize("cluster", [("--max-sockets-per-ip", "3")], indirect=True)
def test_trust_proxy_sees_each_clients_own_address_through_nginx(cluster: Cluster) -> None:
    """With --trust-proxy the per-address socket cap (3) counts 127.0.0.2 and 127.0.0.3 apart, not nginx's address."""
    proxy = cluster.proxy

    async def open_from(source: str) -> WsClient:
        client = await WsClient.connect(proxy.visitor_url, origin=proxy.origin, local_addr=(source, 0))
        await client.request("hello")
        return client

    async def scenario() -> None:
        # Round robin spreads one address's sockets over the nodes; 9 from one address fill its cap on every node.
        crowd = [await open_from("127.0.0.2") for _ in range(9)]
        refused = await WsClient.connect(proxy.visitor_url, origin=proxy.origin, local_addr=("127.0.0.2", 0))
        code, reason = await refused.wait_closed()
        assert code == 1013 and "too many open sockets" in (reason or "")
        # Another client behind the same proxy is not affected: the nodes see its own address.
        other = await open_from("127.0.0.3")
        await other.fence()
        for client in (*crowd, other):
            await client.close()

    asyncio.run(scenario())
