"""The sweeper: expires runs whose `expires_at` has passed, found through the expiring-runs index (no SCAN)."""

from __future__ import annotations

import threading

import structlog

from orchestrator.services import runs
from orchestrator.services.ledger import now_s
from orchestrator.store import RedisStore
from orchestrator.store.keys import parse_expiry_member

log = structlog.get_logger(__name__)


def sweep_once(store: RedisStore, now: int | None = None) -> int:
    """Expire every due run; returns how many were expired."""
    expired = 0
    for member in store.expiring_runs(now if now is not None else now_s()):
        project, thread_id, run_id = parse_expiry_member(member)
        try:
            run = runs.expire_run(store, project, thread_id, run_id, now=now)
        except Exception:
            log.exception("sweeper.expire_failed", run_id=run_id)
            continue
        if run is not None:
            expired += 1
            log.info("run.expired", run_id=run_id, thread_id=thread_id, project=project)
        record = store.get_run(project, thread_id, run_id)
        if record is None or record.run.expires_at is None:
            store.forget_expiring(member)
    return expired


def run_forever(store: RedisStore, interval_s: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            sweep_once(store)
        except Exception:
            log.exception("sweeper.failed")
        stop.wait(interval_s)
