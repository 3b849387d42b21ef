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
from orchestrator.store import Keys

log = structlog.get_logger(__name__)


class WorkerPresence:
    """Beats every few seconds while the worker runs, and says goodbye on shutdown."""

    def __init__(self, redis_url: str, keys: Keys, pool: str) -> None:
        self.client = redis.Redis.from_url(redis_url, decode_responses=True)
        self.keys = keys
        self.pool = pool
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                health.beat(self.client, self.keys, self.pool, self.worker_id)
            except redis.RedisError:
                log.warning("worker.heartbeat_failed", pool=self.pool, exc_info=True)
            self._stop.wait(health.HEARTBEAT_INTERVAL_S)

    def stop(self) -> None:
        self._stop.set()
        try:
            health.leave(self.client, self.keys, self.pool, self.worker_id)
        except redis.RedisError:
            log.warning("worker.leave_failed", pool=self.pool, exc_info=True)


def install(redis_url: str, keys: Keys, pool: str, metrics_port: int | None) -> None:
    presence = WorkerPresence(redis_url, keys, pool)

    @signals.worker_ready.connect(weak=False)
    def _ready(**_: Any) -> None:
        if metrics_port:
            start_http_server(metrics_port, addr="0.0.0.0")
            log.info("worker.metrics_serving", port=metrics_port, pool=pool)
        threading.Thread(target=presence.run, name="heartbeat", daemon=True).start()

    @signals.worker_shutdown.connect(weak=False)
    def _shutdown(**_: Any) -> None:
        presence.stop()
