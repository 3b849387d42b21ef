"""A worker's own Redis threads outlive an outage: the cancel watcher subscribes again and the heartbeat beats
again once a killed server is back on its port; a hung (stopped) server delays a beat by its timeout only."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from orchestrator import embedded
from orchestrator.store import Keys
from tests.stack import wait_until
from workers.executor.cancel import CancelWatcher
from workers.signals import WorkerPresence

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[embedded.EmbeddedRedis]:
    running = embedded.start(tmp_path / "valkey", persist=False)
    yield running
    running.process.send_signal(signal.SIGCONT)  # in case a test left it stopped
    running.stop()


def _kill(server: embedded.EmbeddedRedis) -> None:
    server.process.kill()
    server.process.wait()


def _restart(server: embedded.EmbeddedRedis, data_dir: Path) -> embedded.EmbeddedRedis:
    """The same port, as the supervisor does: clients only ever know that address."""
    again = embedded.start(data_dir, port=server.port, persist=False)
    server.process = again.process  # the fixture stops whichever process serves the port now
    return again


def test_the_cancel_watcher_subscribes_again_after_an_outage(server: embedded.EmbeddedRedis, tmp_path: Path) -> None:
    client = redis.Redis(port=server.port, decode_responses=True)
    watcher = CancelWatcher(client, "control")
    flag = threading.Event()
    watcher.watch("run_1", flag)
    try:
        assert watcher.wait_subscribed(5)
        _kill(server)
        # The subscription is known lost once the error reached the watcher's own loop, past redis-py's retries:
        # the point where a plain `run_in_thread` listener dies for good.
        wait_until(lambda: not watcher.wait_subscribed(0), "the watcher to see the outage", timeout_s=15)
        _restart(server, tmp_path / "valkey")
        publisher = redis.Redis(port=server.port)
        wait_until(lambda: publisher.publish("control", "run_1") and flag.wait(0.2), "the cancel notice", timeout_s=20)
        publisher.close()
    finally:
        watcher.stop()
        client.close()


def test_the_heartbeat_fails_softly_and_beats_again_after_an_outage(
    server: embedded.EmbeddedRedis, tmp_path: Path
) -> None:
    keys = Keys(f"t-{uuid.uuid4().hex[:8]}")
    presence = WorkerPresence(f"redis://127.0.0.1:{server.port}/0", keys, "runs")
    assert presence.beat(failing=False) is False
    _kill(server)
    assert presence.beat(failing=False) is True  # reported, not raised: the thread keeps going
    _restart(server, tmp_path / "valkey")
    assert presence.beat(failing=True) is False
    client = redis.Redis(port=server.port, decode_responses=True)
    assert presence.worker_id in client.hgetall(keys.worker_heartbeat("runs"))
    client.close()


def test_a_stopped_server_delays_a_beat_by_its_timeout_only(server: embedded.EmbeddedRedis) -> None:
    presence = WorkerPresence(f"redis://127.0.0.1:{server.port}/0", Keys("t-hung"), "runs")
    assert presence.beat(failing=False) is False
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert presence.beat(failing=False) is True
        assert time.monotonic() - started < 10  # a few seconds' timeout, not for as long as the server is stopped
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    assert presence.beat(failing=True) is False
