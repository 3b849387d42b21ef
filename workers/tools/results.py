"""Recording a server-side tool call's result and handing the run back to the executor when it was the last."""

from __future__ import annotations

import time
from typing import Any

import orjson
import structlog

from orchestrator.domain.models import JSON
from orchestrator.services.dispatch import Dispatcher
from orchestrator.services.ledger import new_token
from orchestrator.store import RedisStore

log = structlog.get_logger(__name__)


def record_result(
    store: RedisStore, dispatcher: Dispatcher, payload: dict[str, Any], result: JSON, tool_type: str
) -> str:
    """Store `result` ({"outputs": [...]} or {"error": "..."}) for the call in `payload`; returns the outcome.

    Safe to call twice for the same call (a redelivered task): the second call is a no-op.
    """
    events: list[tuple[str, bytes]] = []
    if result.get("outputs"):
        entry = {
            "index": payload["index"],
            "type": tool_type,
            tool_type: {"outputs": [{"index": i, **o} for i, o in enumerate(result["outputs"])]},
        }
        delta = {
            "id": payload["step_id"],
            "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [entry]}},
        }
        events.append(("thread.run.step.delta", orjson.dumps(delta)))
    token = new_token()
    outcome = store.record_tool_output(
        payload["project"],
        payload["thread_id"],
        payload["run_id"],
        payload["step_id"],
        payload["call_id"],
        orjson.dumps(result),
        token,
        events,
    )
    if outcome == "dispatch":
        # Dated, so the sweeper sends the run's task again if this worker dies before `execute_run` below.
        now = time.time()
        store.mark_sent(payload["project"], payload["thread_id"], payload["run_id"], now)
        store.look_again_at(payload["project"], payload["thread_id"], payload["run_id"], now + store.resend_after_s)
        dispatcher.execute_run(payload["project"], payload["thread_id"], payload["run_id"], token)
    log.info("tool.recorded", tool=tool_type, outcome=outcome)
    return outcome
