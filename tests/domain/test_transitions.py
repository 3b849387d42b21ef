"""The transition table, pair by pair, and what `apply` writes for each target status."""

from __future__ import annotations

import itertools

import pytest

from orchestrator.domain.models import Run, RunLastError
from orchestrator.domain.status import ACTIVE_RUN_STATUSES, TERMINAL_RUN_STATUSES, RunStatus
from orchestrator.domain.transitions import TRANSITIONS, RunEvent, apply, next_status
from orchestrator.errors import InvalidTransition

S, E = RunStatus, RunEvent
EXPECTED = {
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
    (S.CANCELLING, E.COMPLETE): S.COMPLETED,
    (S.CANCELLING, E.INCOMPLETE): S.INCOMPLETE,
    (S.CANCELLING, E.FAIL): S.FAILED,
    (S.CANCELLING, E.EXPIRE): S.EXPIRED,
}


def run_in(status: RunStatus) -> Run:
    return Run(
        id="run_1",
        created_at=100,
        thread_id="thread_1",
        assistant_id="asst_1",
        status=status,
        expires_at=700,
        model="m",
        instructions="",
    )


def test_table_is_exactly_the_documented_lifecycle() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("status", "event"), list(itertools.product(RunStatus, RunEvent)))
def test_every_pair_is_allowed_or_refused(status: RunStatus, event: RunEvent) -> None:
    if (status, event) in EXPECTED:
        assert next_status(status, event) is EXPECTED[(status, event)]
        assert apply(run_in(status), event, 200).status is EXPECTED[(status, event)]
    else:
        with pytest.raises(InvalidTransition) as info:
            apply(run_in(status), event, 200)
        assert (info.value.current, info.value.event) == (status.value, event.value)


def test_terminal_statuses_have_no_way_out() -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] in TERMINAL_RUN_STATUSES]
    assert {pair[0] for pair in TRANSITIONS} == ACTIVE_RUN_STATUSES


def test_apply_sets_the_timestamps_of_each_status() -> None:
    started = apply(run_in(S.QUEUED), E.START, 200)
    assert (started.started_at, started.expires_at) == (200, 700)
    assert started.model_copy(update={"started_at": 150}).started_at == 150
    assert apply(started, E.COMPLETE, 300).completed_at == 300
    assert apply(started, E.COMPLETE, 300).expires_at is None
    failed = apply(started, E.FAIL, 300, last_error=RunLastError(code="rate_limit_exceeded", message="slow down"))
    assert (failed.failed_at, failed.last_error) == (300, RunLastError(code="rate_limit_exceeded", message="slow down"))
    assert apply(started, E.FAIL, 300).last_error is not None
    cancelled = apply(apply(started, E.REQUEST_CANCEL, 250), E.CANCEL, 300)
    assert (cancelled.cancelled_at, cancelled.status) == (300, S.CANCELLED)
    incomplete = apply(started, E.INCOMPLETE, 300, incomplete_reason="max_prompt_tokens")
    assert incomplete.incomplete_details == {"reason": "max_prompt_tokens"}


def test_a_resumed_run_keeps_its_first_start_time() -> None:
    started = apply(run_in(S.QUEUED), E.START, 200)
    resumed = apply(
        apply(started.model_copy(update={"status": S.REQUIRES_ACTION}), E.SUBMIT_OUTPUTS, 250), E.START, 260
    )
    assert resumed.started_at == 200


def test_leaving_requires_action_clears_the_required_action() -> None:
    waiting = run_in(S.REQUIRES_ACTION).model_copy(
        update={"required_action": {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": []}}}
    )
    assert waiting.required_action is not None
    assert apply(waiting, E.SUBMIT_OUTPUTS, 300).required_action is None
