"""The sweeper: expires runs past `expires_at` (found through the expiring-runs index, never SCAN) and refreshes
the gauges that describe the whole deployment (queue depth, live workers, active runs by status)."""

from __future__ import annotations

from typing import Protocol

import structlog

from orchestrator import health, metrics
from orchestrator.broker import DepthReader
from orchestrator.domain.status import ACTIVE_RUN_STATUSES
from orchestrator.services import recovery, runs
from orchestrator.services.dispatch import Dispatcher
from orchestrator.services.ledger import now_s
from orchestrator.services.recovery import RecoveryPolicy
from orchestrator.store import RedisStore
from orchestrator.store.keys import parse_expiry_member

log = structlog.get_logger(__name__)


#: How long a due run the sweeper could not process waits before the next attempt.
SKIPPED_RUN_RETRY_S = 60


def sweep_once(store: RedisStore, now: int | None = None) -> int:
    """Expire every due run; returns how many were expired."""
    expired = 0
    due_by = now if now is not None else now_s()
    store.adopt_legacy_indexes()
    for member in store.expiring_runs(due_by):
        try:
            project, thread_id, run_id = parse_expiry_member(member)
            run = runs.expire_run(store, project, thread_id, run_id, now=now)
            record = store.get_run(project, thread_id, run_id)
        except Exception:
            # Each pass reads the earliest due runs only: one that always fails (a record that no longer parses)
            # would stay at the head of the index and starve every project's runs behind it. It waits instead.
            log.exception("sweeper.run_skipped", member=member, retry_in_s=SKIPPED_RUN_RETRY_S)
            metrics.SWEEPER_SKIPPED_RUNS.inc()
            store.postpone_expiring(member, due_by + SKIPPED_RUN_RETRY_S)
            continue
        if run is not None:
            expired += 1
            log.info("run.expired", run_id=run_id, thread_id=thread_id, project=project)
        if record is None or record.run.expires_at is None:
            store.forget_expiring(member)
    return expired


def recover(store: RedisStore, dispatcher: Dispatcher, policy: RecoveryPolicy) -> None:
    """Hand on the runs and tool calls whose workers vanished or whose tasks were lost (services/recovery.py)."""
    for outcome, count in recovery.recover_due(store, dispatcher, policy).items():
        metrics.RECOVERIES.labels(outcome=outcome).inc(count)


#: Active runs whose status one pipeline reads: bounds the replies held at once.
STATUS_BATCH = 1000


def active_runs_by_status(store: RedisStore) -> dict[str, int]:
    """Every active run is in the expiring index, so counting them needs no scan of the keyspace; their statuses
    are read in pipelined batches (one round trip per thousand runs, not one per run)."""
    counts = {status.value: 0 for status in ACTIVE_RUN_STATUSES}
    members = store.expiring_runs(now=2**62, limit=100_000)
    for start in range(0, len(members), STATUS_BATCH):
        pipe = store.client.pipeline(transaction=False)
        for member in members[start : start + STATUS_BATCH]:
            pipe.hget(store.keys.run(*parse_expiry_member(member)), "status")
        for status in pipe.execute():
            if status in counts:
                counts[str(status)] += 1
    return counts


def refresh_gauges(store: RedisStore, depths: DepthReader) -> None:
    for status, count in active_runs_by_status(store).items():
        metrics.RUNS_ACTIVE.labels(status=status).set(count)
    for queue, depth in health.queue_depths(depths).items():
        metrics.QUEUE_DEPTH.labels(queue=queue).set(depth)
    for pool, alive in health.workers_alive(store.client, store.keys).items():
        metrics.WORKERS_ALIVE.labels(pool=pool).set(alive)


class Stopper(Protocol):
    def is_set(self) -> bool: ...

    def wait(self, seconds: float) -> bool: ...


def run_forever(
    store: RedisStore,
    depths: DepthReader,
    interval_s: float,
    stop: Stopper,
    recovering: tuple[Dispatcher, RecoveryPolicy] | None = None,
) -> None:
    while not stop.is_set():
        try:
            sweep_once(store)
            if recovering is not None:
                recover(store, *recovering)
            refresh_gauges(store, depths)
        except Exception:
            log.exception("sweeper.failed")
        stop.wait(interval_s)
