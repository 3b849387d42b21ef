"""Per-process hooks on Celery's worker signals: heartbeats for liveness and the metrics endpoint."""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

import redis
import structlog
from celery import signals
from prometheus_client import start_http_server

from orchestrator import health
from orchestrator.settings import Settings
from orchestrator.store import Keys, clients

log = structlog.get_logger(__name__)

#: A beat waits at most this long for Redis, so a hung server (stopped, partitioned) cannot stall the thread.
_REDIS_TIMEOUT_S = 3.0


class WorkerPresence:
    """Beats every few seconds while the worker runs, and says goodbye on shutdown.

    The thread outlives any Redis outage: a failed beat is logged once, retried at the next interval, and the
    recovery is logged when a beat gets through again.
    """

    def __init__(self, redis_url: str, keys: Keys, pool: str, *, cluster: bool = False) -> None:
        self.client = clients.state_client(
            redis_url,
            cluster=cluster,
            socket_timeout=_REDIS_TIMEOUT_S,
            socket_connect_timeout=_REDIS_TIMEOUT_S,
        )
        self.keys = keys
        self.pool = pool
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()

    def run(self) -> None:
        failing = False
        while not self._stop.is_set():
            failing = self.beat(failing)
            self._stop.wait(health.HEARTBEAT_INTERVAL_S)

    def beat(self, failing: bool) -> bool:
        """One heartbeat; returns whether it failed. Any error is caught: the thread must never die."""
        try:
            health.beat(self.client, self.keys, self.pool, self.worker_id)
        except Exception:
            if not failing:
                log.warning("worker.heartbeat_failed", pool=self.pool, exc_info=True)
            return True
        if failing:
            log.warning("worker.heartbeat_restored", pool=self.pool)
        return False

    def stop(self) -> None:
        self._stop.set()
        try:
            health.leave(self.client, self.keys, self.pool, self.worker_id)
        except redis.RedisError:
            log.warning("worker.leave_failed", pool=self.pool, exc_info=True)


def install(settings: Settings, pool: str) -> None:
    presence = WorkerPresence(settings.redis_url, Keys(settings.key_prefix), pool, cluster=settings.redis_cluster)

    @signals.worker_ready.connect(weak=False)
    def _ready(**_: Any) -> None:
        if settings.metrics_port:
            start_http_server(settings.metrics_port, addr=settings.metrics_host)
            log.info("worker.metrics_serving", host=settings.metrics_host, port=settings.metrics_port, pool=pool)
        threading.Thread(target=presence.run, name="heartbeat", daemon=True).start()

    @signals.worker_shutdown.connect(weak=False)
    def _shutdown(**_: Any) -> None:
        presence.stop()
