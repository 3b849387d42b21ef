"""The run state machine as data: `TRANSITIONS` maps (status, event) to the next status; `apply` is pure."""

from __future__ import annotations

from enum import StrEnum

from orchestrator.domain.models import Run, RunLastError
from orchestrator.domain.status import TERMINAL_RUN_STATUSES, RunStatus
from orchestrator.errors import InvalidTransition


class RunEvent(StrEnum):
    START = "start"  # a worker claims the run
    REQUIRE_ACTION = "require_action"  # the model called client-side functions
    SUBMIT_OUTPUTS = "submit_outputs"  # the client submitted every pending output
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # a token budget ran out
    FAIL = "fail"
    REQUEST_CANCEL = "request_cancel"
    CANCEL = "cancel"  # cancellation took effect
    EXPIRE = "expire"


S, E = RunStatus, RunEvent

TRANSITIONS: dict[tuple[RunStatus, RunEvent], RunStatus] = {
    (S.QUEUED, E.START): S.IN_PROGRESS,
    (S.QUEUED, E.FAIL): S.FAILED,
    (S.QUEUED, E.REQUEST_CANCEL): S.CANCELLING,
    (S.QUEUED, E.EXPIRE): S.EXPIRED,
    (S.IN_PROGRESS, E.REQUIRE_ACTION): S.REQUIRES_ACTION,
    (S.IN_PROGRESS, E.COMPLETE): S.COMPLETED,
    (S.IN_PROGRESS, E.INCOMPLETE): S.INCOMPLETE,
    (S.IN_PROGRESS, E.FAIL): S.FAILED,
    (S.IN_PROGRESS, E.REQUEST_CANCEL): S.CANCELLING,
    (S.IN_PROGRESS, E.EXPIRE): S.EXPIRED,
    (S.REQUIRES_ACTION, E.SUBMIT_OUTPUTS): S.QUEUED,
    (S.REQUIRES_ACTION, E.REQUEST_CANCEL): S.CANCELLING,
    (S.REQUIRES_ACTION, E.EXPIRE): S.EXPIRED,
    (S.CANCELLING, E.CANCEL): S.CANCELLED,
    # Cancellation is attempted, not guaranteed: work that finishes first wins.
    (S.CANCELLING, E.COMPLETE): S.COMPLETED,
    (S.CANCELLING, E.INCOMPLETE): S.INCOMPLETE,
    (S.CANCELLING, E.FAIL): S.FAILED,
    (S.CANCELLING, E.EXPIRE): S.EXPIRED,
}

#: The stream event each status announces, e.g. `thread.run.in_progress`.
RUN_EVENT_NAMES: dict[RunStatus, str] = {status: f"thread.run.{status.value}" for status in RunStatus}


def next_status(current: RunStatus, event: RunEvent) -> RunStatus:
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidTransition(current.value, event.value) from None


def apply(
    run: Run,
    event: RunEvent,
    now: int,
    *,
    last_error: RunLastError | None = None,
    incomplete_reason: str | None = None,
) -> Run:
    """The run after `event`, with the timestamps and fields the new status implies."""
    status = next_status(run.status, event)
    update: dict[str, object] = {"status": status}
    if status is not RunStatus.REQUIRES_ACTION:
        update["required_action"] = None
    if status is RunStatus.IN_PROGRESS and run.started_at is None:
        update["started_at"] = now
    if status in TERMINAL_RUN_STATUSES:
        update["expires_at"] = None
    if status is RunStatus.COMPLETED:
        update["completed_at"] = now
    elif status is RunStatus.FAILED:
        update["failed_at"] = now
        update["last_error"] = last_error or RunLastError(code="server_error", message="The run failed.")
    elif status is RunStatus.CANCELLED:
        update["cancelled_at"] = now
    elif status is RunStatus.INCOMPLETE:
        update["incomplete_details"] = {"reason": incomplete_reason or "max_completion_tokens"}
    return run.model_copy(update=update)
