"""Stops in-flight model calls when their run is cancelled, so a worker reacts within about a second even while
it waits on the model rather than only at its next write."""

from __future__ import annotations

import threading
from typing import Any

import redis
import structlog

from workers.executor.llm import Closable

log = structlog.get_logger(__name__)


class CancelWatcher:
    """One pub/sub subscription per worker process; runs register the connection to close when cancelled."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._streams: dict[str, Closable] = {}
        self._lock = threading.Lock()
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(**{channel: self._on_message})
        self._thread = self._pubsub.run_in_thread(sleep_time=0.2, daemon=True)

    def watch(self, run_id: str, stream: Closable) -> None:
        with self._lock:
            self._streams[run_id] = stream

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._streams.pop(run_id, None)

    def _on_message(self, message: dict[str, Any]) -> None:
        run_id = message["data"]
        run_id = run_id.decode() if isinstance(run_id, bytes) else str(run_id)
        with self._lock:
            stream = self._streams.pop(run_id, None)
        if stream is not None:
            log.info("run.cancel_interrupt", run_id=run_id)
            try:
                stream.close()
            except Exception:  # closing a half-read connection may raise; the reader sees the cancel anyway
                log.debug("run.cancel_close_failed", run_id=run_id, exc_info=True)

    def stop(self) -> None:
        self._thread.stop()
