"""Crash recovery, the sweeper's second job: every run that someone owes work is handed on within a bounded time.

A run is owed work while it is active and not waiting on the client. Three things can lose that work:
- the executor dies (worker SIGKILLed, machine gone): its lease lapses, and the run goes to another worker;
- a task is sent but never claimed (the API died between its commit and `send_task`, a worker died holding the
  message unacknowledged): the same task is sent again (same dispatch token, so only one copy can claim);
- a tool worker dies mid-call: its claim lapses, and the call is sent again.

Every run that can be owed work sits in the leases index, scored by when it must be looked at next. Looking is
cheap (one HGETALL) and decides from the stored state alone, so the sweeper keeps no memory between passes.
Nothing here re-executes what was recorded: outputs are recorded once (tool_output.lua), a run's own writes are
fenced by its holder token, and a turn that already streamed part of an answer is not repeated (the run fails
with `server_error` instead of showing the client the same words twice).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import orjson
import structlog

from orchestrator.domain.models import Run, RunLastError
from orchestrator.domain.status import TERMINAL_RUN_STATUSES, RunStatus
from orchestrator.domain.transitions import RunEvent
from orchestrator.errors import ConcurrentUpdate, InvalidTransition
from orchestrator.services.dispatch import Dispatcher
from orchestrator.services.ledger import Change, RunLedger, new_token
from orchestrator.store import RedisStore, RunRecord
from orchestrator.store.keys import parse_expiry_member

log = structlog.get_logger(__name__)

INTERRUPTED_MID_ANSWER = (
    "The worker executing this run stopped while the model's answer was streaming; the run was not resumed, "
    "so that no part of the answer is shown twice. Please create a new run."
)


@dataclass(frozen=True)
class RecoveryPolicy:
    #: An executor's lease; it renews every third of it. A dead executor's run moves on after at most this long
    #: plus one sweep interval.
    lease_s: float = 15.0
    #: A sent task (or tool call) that nobody claimed for this long counts as lost and is sent again.
    resend_after_s: float = 30.0
    #: Executors that may vanish under one run before it fails (a run that kills its worker must not loop).
    max_recoveries: int = 3


def recover_due(
    store: RedisStore, dispatcher: Dispatcher, policy: RecoveryPolicy, now: float | None = None, limit: int = 100
) -> Counter[str]:
    """Look at every run whose look is due; returns how many ended up in each outcome."""
    now = time.time() if now is None else now
    outcomes: Counter[str] = Counter()
    for member in store.due_looks(now, limit=limit):
        try:
            outcome = look_at(store, dispatcher, policy, member, now)
        except Exception:
            # One run that can't be handled must not stall every other: report it and look again later.
            log.exception("recovery.failed", member=member)
            store.reschedule_look(member, now + policy.resend_after_s)
            outcome = "error"
        outcomes[outcome] += 1
    return outcomes


def look_at(store: RedisStore, dispatcher: Dispatcher, policy: RecoveryPolicy, member: str, now: float) -> str:
    project, thread_id, run_id = parse_expiry_member(member)
    record = store.get_run(project, thread_id, run_id)
    if record is None or record.run.status in TERMINAL_RUN_STATUSES or record.run.status is RunStatus.REQUIRES_ACTION:
        # Nobody owes this run work (finished, or waiting on the client, whose deadline is expires_at).
        store.forget_look(member)
        return "forgotten"
    ledger = RunLedger(store, project, thread_id, run_id)
    if record.holder:
        if record.lease > now:
            store.reschedule_look(member, record.lease)
            return "alive"
        return _take_over(ledger, dispatcher, policy, record, member, now)
    if record.dispatch:
        due = record.sent_at + policy.resend_after_s
        if now < due:
            store.reschedule_look(member, due)
            return "waiting"
        store.mark_sent(project, thread_id, run_id, now)
        dispatcher.execute_run(project, thread_id, run_id, record.dispatch)
        store.reschedule_look(member, now + policy.resend_after_s)
        log.warning("recovery.task_resent", run_id=run_id, thread_id=thread_id, project=project)
        return "resent"
    if record.awaiting > 0 and record.parked_step:
        return _tool_calls(store, dispatcher, policy, record, member, now)
    store.reschedule_look(member, now + policy.lease_s)
    return "idle"


def _take_over(
    ledger: RunLedger, dispatcher: Dispatcher, policy: RecoveryPolicy, record: RunRecord, member: str, now: float
) -> str:
    """The executor's lease lapsed: finish a pending cancel, fail a turn cut mid-answer, or hand the run on."""
    held: dict[str, tuple[str, ...]] = {"holder": (record.holder,)}
    fields = {"recoveries": str(record.recoveries + 1)}
    midway = bool(record.open_message) or (bool(record.open_step) and record.open_step != record.parked_step)
    if record.run.status is RunStatus.CANCELLING:
        return _end(ledger, RunEvent.CANCEL, held, fields, None, member)
    if record.recoveries >= policy.max_recoveries:
        message = f"The run's worker stopped {record.recoveries + 1} times while executing it."
        return _end(ledger, RunEvent.FAIL, held, fields, RunLastError(code="server_error", message=message), member)
    if midway:
        error = RunLastError(code="server_error", message=INTERRUPTED_MID_ANSWER)
        return _end(ledger, RunEvent.FAIL, held, fields, error, member)
    token = new_token()
    change = Change(guards=held, fields={**fields, "holder": "", "lease": "", "dispatch": token, "sent_at": f"{now}"})
    try:
        ledger.commit(None, None, change)
    except ConcurrentUpdate:
        return "raced"  # the executor came back, or another sweeper got there first
    dispatcher.execute_run(ledger.project, ledger.thread_id, ledger.run_id, token)
    ledger.store.reschedule_look(member, now + policy.resend_after_s)
    log.warning("recovery.run_handed_on", run_id=ledger.run_id, thread_id=ledger.thread_id, project=ledger.project)
    return "handed_on"


def _end(
    ledger: RunLedger,
    event: RunEvent,
    guards: dict[str, tuple[str, ...]],
    fields: dict[str, str],
    error: RunLastError | None,
    member: str,
) -> str:
    def plan(record: RunRecord, run: Run) -> Change:
        change = Change(guards=dict(guards), fields=dict(fields))
        ledger.close_open_objects(record, run.status, change, error)
        return change

    try:
        run, _ = ledger.transition(event, plan=plan, last_error=error)
    except (ConcurrentUpdate, InvalidTransition):
        return "raced"
    ledger.store.forget_look(member)
    log.warning("recovery.run_ended", run_id=ledger.run_id, status=run.status.value, project=ledger.project)
    return run.status.value


def _tool_calls(
    store: RedisStore, dispatcher: Dispatcher, policy: RecoveryPolicy, record: RunRecord, member: str, now: float
) -> str:
    """A run parked on server-side tools: send again each call whose worker died or whose task was lost."""
    p, t, step_id = record.project, record.run.thread_id, record.parked_step
    outputs = store.tool_outputs(p, t, step_id)
    claims = store.tool_claims(p, t, step_id)
    next_look = now + policy.resend_after_s
    resent = 0
    for call_id, raw in store.tool_payloads(p, t, step_id).items():
        if call_id in outputs:
            continue
        claim = claims.get(call_id)
        if claim is not None and claim[1] > now:
            next_look = min(next_look, claim[1])
            continue
        if claim is None and now < record.tools_sent_at + policy.resend_after_s:
            next_look = min(next_look, record.tools_sent_at + policy.resend_after_s)
            continue
        sent = orjson.loads(raw)
        dispatcher.run_tool(sent["type"], sent["payload"])
        resent += 1
    if resent:
        store.mark_tools_sent(p, t, record.run.id, now)
        log.warning("recovery.tool_calls_resent", run_id=record.run.id, calls=resent, project=p)
    store.reschedule_look(member, next_look)
    return "tools_resent" if resent else "tools_running"
