"""Cancellation notices for in-flight model calls: one pub/sub subscription per worker process sets the stop
flag of the run it names, so a worker reacts at once rather than at its next write or status check.

The listening thread never dies: when Redis goes away it retries with backoff and subscribes again (redis-py's
pub/sub re-subscribes its channels on reconnect). A notice published during the outage is lost; the executor
still sees the cancel at its next write or status check.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import redis
import structlog

from orchestrator.store.clients import open_pubsub

log = structlog.get_logger(__name__)

#: Failed reads in a row after which the watcher subscribes through a fresh connection (on a cluster, node).
REOPEN_AFTER_FAILURES = 3

_READ_TIMEOUT_S = 1.0
_RETRY_FIRST_S = 0.1
_RETRY_CAP_S = 5.0


class CancelWatcher:
    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._channel = channel
        self._client = client
        self._turn = 0  # which node the subscription goes to (store/clients.py)
        self._pubsub = open_pubsub(client, self._turn)
        self._requested = False  # once SUBSCRIBE went out, redis-py repeats it on every reconnect
        self._stopped = threading.Event()
        self._subscribed = threading.Event()  # the server confirmed the subscription on the current connection
        self._thread = threading.Thread(target=self._listen, name="cancel-watcher", daemon=True)
        self._thread.start()

    def watch(self, run_id: str, flag: threading.Event) -> None:
        with self._lock:
            self._flags[run_id] = flag

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._flags.pop(run_id, None)

    def wait_subscribed(self, timeout: float) -> bool:
        """Whether the subscription is (again) in place; for tests and start-up checks."""
        return self._subscribed.wait(timeout)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(_READ_TIMEOUT_S + 1)
        with contextlib.suppress(redis.RedisError):
            self._pubsub.close()

    def _listen(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                self._read_once()
            except Exception:  # any failure: the watcher must outlive a Redis outage
                self._subscribed.clear()
                failures += 1
                if failures == 1:
                    log.warning("cancel_watcher.disconnected", channel=self._channel, exc_info=True)
                if failures % REOPEN_AFTER_FAILURES == 0:
                    self._reopen()
                self._stopped.wait(min(_RETRY_CAP_S, _RETRY_FIRST_S * 2.0 ** min(failures, 8)))
                continue
            if failures:
                log.warning("cancel_watcher.reconnected", channel=self._channel, after_failures=failures)
                failures = 0

    def _reopen(self) -> None:
        """Subscribe again through a fresh connection: on a cluster, to the next node (the last may be gone)."""
        with contextlib.suppress(Exception):
            self._pubsub.close()
        self._turn += 1
        try:
            self._pubsub = open_pubsub(self._client, self._turn)
        except redis.RedisError:
            return  # the old object stays; the next failures try again
        self._requested = False

    def _read_once(self) -> None:
        if not self._requested:
            self._pubsub.subscribe(self._channel)
            self._requested = True
        # A read on a dropped connection reconnects it and re-subscribes, or raises while Redis is away.
        message = self._pubsub.get_message(timeout=_READ_TIMEOUT_S)
        if message is None:
            return
        if message["type"] == "subscribe":
            self._subscribed.set()
        elif message["type"] == "message":
            self._on_message(message)

    def _on_message(self, message: dict[str, Any]) -> None:
        run_id = message["data"]
        run_id = run_id.decode() if isinstance(run_id, bytes) else str(run_id)
        with self._lock:
            flag = self._flags.get(run_id)
        if flag is not None:
            log.info("run.cancel_interrupt", run_id=run_id)
            flag.set()
