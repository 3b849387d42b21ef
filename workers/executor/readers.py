"""Threads that read model streams, kept for the next stream rather than one started per stream.

Starting a thread makes its starter wait until the new thread holds the GIL: about 5 ms of wall time per run in
the profile, on the run's way to its first token, and more on a busy worker. A reader that finished its stream
waits for the next one instead; the set grows to the most streams read at once and stays there.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


class Readers:
    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._idle = 0  # readers waiting for a job and not yet promised one
        self.started = 0  # readers started so far

    def run(self, job: Callable[[], object]) -> None:
        """Run `job` on a reader at once: an idle one, else a new one (never behind another job)."""
        with self._lock:
            spare = self._idle > 0
            if spare:
                self._idle -= 1  # promised to this job: another `run` cannot count on it
            else:
                self.started += 1
        self._jobs.put(job)
        if not spare:
            threading.Thread(target=self._serve, name="model-stream", daemon=True).start()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # a reader outlives its job's failure
                log.exception("model_stream.reader_failed")
            with self._lock:
                self._idle += 1
                self._freed.notify_all()

    def wait_idle(self, count: int, timeout: float) -> bool:
        """Whether `count` readers are (or become) idle within `timeout`; for tests."""
        with self._lock:
            return self._freed.wait_for(lambda: self._idle >= count, timeout)


@functools.cache
def shared() -> Readers:
    """The process's readers (Celery's threads pool runs every run of a worker process in it)."""
    return Readers()
