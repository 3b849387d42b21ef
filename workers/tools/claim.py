"""Executing a server-side tool call at most once at a time: claim it, keep the claim alive, let it lapse on death.

Tool tasks arrive at least once (a redelivered message, or the sweeper sending a call again after its worker
died). A call whose output is recorded is never executed again; a call a live worker holds is left to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from orchestrator.domain.models import JSON
from orchestrator.services.ledger import new_token
from orchestrator.store import RedisStore

log = structlog.get_logger(__name__)


def run_claimed(store: RedisStore, payload: dict[str, Any], lease_s: float, work: Callable[[], JSON]) -> JSON | None:
    """`work()` under a claim on the call, or None when the call is done or held by another live worker."""
    token = new_token()

    def claim() -> str:
        return store.claim_tool_call(
            payload["project"],
            payload["thread_id"],
            payload["run_id"],
            payload["step_id"],
            payload["call_id"],
            token,
            time.time(),
            lease_s,
        )

    state = claim()
    if state != "ok":
        log.info("tool.skipped", state=state)
        return None
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease_s / 3):
            try:
                claim()
            except Exception:
                log.warning("tool.claim_renew_failed", exc_info=True)

    renewer = threading.Thread(target=renew, name="tool-claim", daemon=True)
    renewer.start()
    try:
        return work()
    finally:
        done.set()
        renewer.join()
