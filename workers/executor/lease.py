"""`LeaseKeeper`: renews the lease of every run this worker process executes, from one thread.

An executor that stops renewing (its process died, it lost Redis for longer than the lease) loses the run: the
sweeper hands it to another worker (orchestrator/services/recovery.py). One thread per process rather than one
per run, since a run worker executes dozens of runs at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import structlog

from orchestrator.store import RedisStore
from orchestrator.store.keys import expiry_member

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Held:
    project: str
    thread_id: str
    run_id: str
    holder: str


class LeaseKeeper:
    def __init__(self, store: RedisStore, lease_s: float) -> None:
        self.store = store
        self.lease_s = lease_s
        self._held: dict[str, Held] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, project: str, thread_id: str, run_id: str, holder: str) -> None:
        """Keep renewing the lease the claim just took (it set `holder` and `lease`) until `release`.

        The claim's commit cannot move the run's look in the leases index (another slot), so that is done here:
        to just past the claim's lease, when the sweeper finds a lease nobody renewed. A crash before this leaves
        the look the send scheduled, which finds the lease alive or lapsed all the same."""
        held = Held(project, thread_id, run_id, holder)
        with self._lock:
            self._held[run_id] = held
            if self._thread is None:
                self._thread = threading.Thread(target=self._renew_forever, name="lease-keeper", daemon=True)
                self._thread.start()
        try:
            self.store.reschedule_look(expiry_member(project, thread_id, run_id), self.deadline())
        except Exception:
            log.warning("lease.look_failed", run_id=run_id, exc_info=True)  # the send's look is still there

    def release(self, run_id: str) -> None:
        with self._lock:
            self._held.pop(run_id, None)

    def deadline(self) -> float:
        return time.time() + self.lease_s

    def _renew(self, held: Held) -> None:
        try:
            if not self.store.renew_lease(held.project, held.thread_id, held.run_id, held.holder, self.deadline()):
                self.release(held.run_id)  # handed on, or finished: nothing left to renew
        except Exception:
            # Redis away: keep trying; if it stays away past the lease the run moves on, which is the point.
            log.warning("lease.renew_failed", run_id=held.run_id, exc_info=True)

    def _renew_forever(self) -> None:
        while True:
            time.sleep(self.lease_s / 3)
            with self._lock:
                held = list(self._held.values())
            for one in held:
                self._renew(one)
