"""Cancellation notices for in-flight model calls: one pub/sub subscription per worker process sets the stop
flag of the run it names, so a worker reacts at once rather than at its next write or status check."""

from __future__ import annotations

import threading
from typing import Any

import redis
import structlog

log = structlog.get_logger(__name__)


class CancelWatcher:
    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(**{channel: self._on_message})
        self._thread = self._pubsub.run_in_thread(sleep_time=0.2, daemon=True)

    def watch(self, run_id: str, flag: threading.Event) -> None:
        with self._lock:
            self._flags[run_id] = flag

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._flags.pop(run_id, None)

    def _on_message(self, message: dict[str, Any]) -> None:
        run_id = message["data"]
        run_id = run_id.decode() if isinstance(run_id, bytes) else str(run_id)
        with self._lock:
            flag = self._flags.get(run_id)
        if flag is not None:
            log.info("run.cancel_interrupt", run_id=run_id)
            flag.set()

    def stop(self) -> None:
        self._thread.stop()
