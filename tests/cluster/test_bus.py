"""The API's event bus on a real 3-master cluster: a commit's PUBLISH (from commit.lua, on the thread's node)
reaches the bus whichever node it subscribed through, and after that node goes away the bus subscribes through
another one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from redis.crc import key_slot

from orchestrator import embedded_cluster
from orchestrator.bus.redis_bus import RunEventBus
from orchestrator.store import Commit, Keys, RedisStore, clients

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[embedded_cluster.EmbeddedCluster]:
    started = embedded_cluster.start(tmp_path / "cluster")
    yield started
    started.stop()


def thread_on(keys: Keys, master: int, masters: int = 3) -> str:
    """A thread id whose keys live on the `master`-th node's slots."""
    first, last = embedded_cluster.slot_ranges(masters)[master]
    while True:
        thread_id = f"thread_{uuid.uuid4().hex}"
        if first <= key_slot(keys.thread("p", thread_id).encode()) <= last:
            return thread_id


def announce(store: RedisStore, thread_id: str, run_id: str) -> None:
    commit = Commit(project="p", thread_id=thread_id, run_id=run_id, run_fields={"status": "queued", "doc": "{}"})
    store.commit(commit.event("thread.run.queued", {"id": run_id}))


async def rings(bus: RunEventBus, store: RedisStore, thread_id: str, timeout_s: float) -> bool:
    """Whether a commit on `thread_id` rings the run's feed through pub/sub (not its periodic re-read of the log);
    committed again each second until it does (a doorbell published while the bus was between connections is
    lost by design: feeds re-read the log)."""
    run_id = f"run_{uuid.uuid4().hex}"
    rang = asyncio.Event()
    async with bus.feed(run_id, store.keys.events("p", thread_id, run_id)) as feed:
        ring = feed.ring

        def doorbell() -> None:
            rang.set()
            ring()

        feed.ring = doorbell  # type: ignore[method-assign]
        for _ in range(int(timeout_s)):
            await asyncio.to_thread(announce, store, thread_id, run_id)
            try:
                await asyncio.wait_for(rang.wait(), timeout=1.0)
                return True
            except TimeoutError:
                continue
    return False


def test_publishes_from_every_node_reach_the_bus_and_it_survives_its_node(
    cluster: embedded_cluster.EmbeddedCluster,
) -> None:
    keys = Keys(f"bus-{uuid.uuid4().hex[:8]}")
    store = RedisStore(clients.state_client(cluster.url, cluster=True), keys)

    async def scenario() -> None:
        aclient = clients.async_state_client(cluster.url, cluster=True)
        bus = RunEventBus(aclient, keys.run_channel(""))
        await bus.start()
        try:
            # The bus went through one node; threads on each of the three publish from their own.
            for master in range(3):
                assert await rings(bus, store, thread_on(keys, master), timeout_s=10), f"master {master}"
            subscribed = aclient.get_nodes()[0].port  # type: ignore[attr-defined]  # its first turn's (store/clients.py)
            victim = cluster.ports.index(subscribed)
            cluster.nodes[victim].stop()
            survivor = next(m for m in range(3) if m != victim)
            assert await rings(bus, store, thread_on(keys, survivor), timeout_s=30), "after its node went away"
        finally:
            await bus.stop()
            await aclient.aclose()

    with structlog.testing.capture_logs() as logs:
        asyncio.run(scenario())
    store.client.close()
    assert any(entry["event"] == "bus.resubscribed" for entry in logs), "the bus moved to another node"
