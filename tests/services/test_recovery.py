"""Crash recovery without Celery: a worker 'dies' (a BaseException no handler catches, leaving Redis exactly as a
SIGKILL at that point would), then the sweeper's recovery looks at the run at chosen clock times."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from orchestrator.domain.status import MessageStatus, RunStatus, StepStatus
from orchestrator.errors import ConcurrentUpdate
from orchestrator.services import recovery, runs
from orchestrator.services.ledger import RunLedger
from orchestrator.services.recovery import INTERRUPTED_MID_ANSWER, RecoveryPolicy
from orchestrator.store import RedisStore
from orchestrator.store.keys import expiry_member
from tests.support import RecordingDispatcher, ScriptedModel, call_turn, text_turn
from tests.workers.test_executor import events, new_run
from workers.executor.lease import LeaseKeeper
from workers.executor.llm import Piece, TextPiece
from workers.executor.loop import RunExecutor
from workers.tools.claim import run_claimed
from workers.tools.results import record_result

POLICY = RecoveryPolicy(lease_s=15.0, resend_after_s=30.0, max_recoveries=3)


class WorkerDied(BaseException):
    """Stands for SIGKILL: no `except Exception` in the executor sees it, so nothing is cleaned up."""


class DyingModel:
    """Streams `before`, then the worker dies."""

    def __init__(self, *before: str) -> None:
        self.before = before

    def stream(self, request: dict[str, Any], on_open: Any = None) -> Iterator[Piece]:
        for word in self.before:
            yield TextPiece(word)
        raise WorkerDied


def executor(store: RedisStore, dispatcher: RecordingDispatcher, model: Any) -> RunExecutor:
    return RunExecutor(store, model, dispatcher, max_turns=4, leases=LeaseKeeper(store, POLICY.lease_s))


def execute_last(store: RedisStore, dispatcher: RecordingDispatcher, model: Any) -> str:
    return executor(store, dispatcher, model).execute(*dispatcher.runs[-1])


def die(store: RedisStore, dispatcher: RecordingDispatcher, model: Any) -> None:
    with pytest.raises(WorkerDied):
        execute_last(store, dispatcher, model)


def recover(store: RedisStore, dispatcher: RecordingDispatcher, after_s: float) -> dict[str, int]:
    return dict(recovery.recover_due(store, dispatcher, POLICY, now=time.time() + after_s))


def test_a_run_whose_worker_died_before_answering_is_handed_on_and_completes(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    die(store, dispatcher, DyingModel())
    assert recover(store, dispatcher, 5) == {}  # the lease still runs: not even looked at
    assert len(dispatcher.runs) == 1
    # A live executor renews its lease: then a due look leaves the run alone.
    holder = store.get_run("p", thread_id, run_id).holder  # type: ignore[union-attr]
    assert store.renew_lease("p", thread_id, run_id, holder, time.time() + POLICY.lease_s + 10)
    assert recover(store, dispatcher, POLICY.lease_s + 1) == {}
    store.reschedule_look(expiry_member("p", thread_id, run_id), 0)  # a look due early reads the live lease
    assert recover(store, dispatcher, POLICY.lease_s + 1) == {"alive": 1}
    assert store.renew_lease("p", thread_id, run_id, holder, time.time() + POLICY.lease_s)
    assert recover(store, dispatcher, POLICY.lease_s + 1) == {"handed_on": 1}
    assert len(dispatcher.runs) == 2 and dispatcher.runs[-1][3] != dispatcher.runs[0][3]
    assert execute_last(store, dispatcher, ScriptedModel([text_turn("Hi")])) == "completed"
    names = events(store, thread_id, run_id)
    assert names.count("thread.message.created") == 1 and names.count("thread.run.in_progress") == 1
    assert store.get_run("p", thread_id, run_id).recoveries == 1  # type: ignore[union-attr]
    # Finished: the run left the leases index, so the sweeper never reads it again.
    assert store.due_looks(time.time() + 10_000) == []


def test_a_run_cut_mid_answer_fails_with_the_streamed_text_kept_once(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    die(store, dispatcher, DyingModel("Half", " an answer"))
    assert recover(store, dispatcher, POLICY.lease_s + 1) == {"failed": 1}
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.status is RunStatus.FAILED and run.last_error is not None
    assert (run.last_error.code, run.last_error.message) == ("server_error", INTERRUPTED_MID_ANSWER)
    messages = store.get_messages("p", thread_id, store.all_ids(store.keys.run_messages("p", thread_id, run_id)))
    assert [(m.status, m.text()) for m in messages] == [(MessageStatus.INCOMPLETE, "Half an answer")]
    steps = store.get_steps("p", thread_id, store.all_ids(store.keys.steps("p", thread_id, run_id)))
    assert [s.status for s in steps] == [StepStatus.FAILED]
    assert store.active_run_id("p", thread_id) is None
    assert len(dispatcher.runs) == 1  # never re-executed
    assert events(store, thread_id, run_id)[-1] == "thread.run.failed"


def test_the_old_executor_cannot_write_once_its_run_was_handed_on(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    die(store, dispatcher, DyingModel())
    stale_holder = store.get_run("p", thread_id, run_id).holder  # type: ignore[union-attr]
    recover(store, dispatcher, POLICY.lease_s + 1)
    with pytest.raises(ConcurrentUpdate):
        RunLedger(store, "p", thread_id, run_id).emit([("thread.message.delta", {"x": 1})], holder=stale_holder)
    assert not store.renew_lease("p", thread_id, run_id, stale_holder, time.time() + 60)


def test_a_lost_task_is_sent_again_with_the_same_token(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher)  # sent, and never delivered
    assert recover(store, dispatcher, 5) == {}
    assert recover(store, dispatcher, POLICY.resend_after_s + 1) == {"resent": 1}
    assert dispatcher.runs[0] == dispatcher.runs[1]
    assert execute_last(store, dispatcher, ScriptedModel([text_turn("once")])) == "completed"
    # The original message turning up late claims nothing.
    assert executor(store, dispatcher, ScriptedModel([text_turn("twice")])).execute(*dispatcher.runs[0]) == "skipped"
    assert events(store, thread_id, run_id).count("thread.message.created") == 1


def test_a_pending_cancel_whose_executor_died_ends_cancelled(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    die(store, dispatcher, DyingModel("Hel"))
    assert runs.cancel_run(store, dispatcher, "p", thread_id, run_id).status is RunStatus.CANCELLING
    assert recover(store, dispatcher, POLICY.lease_s + 1) == {"cancelled": 1}
    assert runs.get_run(store, "p", thread_id, run_id).status is RunStatus.CANCELLED
    assert store.active_run_id("p", thread_id) is None


def test_a_run_that_keeps_killing_its_workers_fails(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    for _ in range(POLICY.max_recoveries):
        die(store, dispatcher, DyingModel())
        assert recover(store, dispatcher, POLICY.lease_s + 1) == {"handed_on": 1}
    die(store, dispatcher, DyingModel())
    assert recover(store, dispatcher, POLICY.lease_s + 1) == {"failed": 1}
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.last_error is not None and "stopped 4 times" in run.last_error.message


def _parked_on_code(store: RedisStore, dispatcher: RecordingDispatcher) -> tuple[str, str, dict[str, Any]]:
    thread_id, run_id = new_run(store, dispatcher, tools=[{"type": "code_interpreter"}])
    model = ScriptedModel([call_turn(("code_interpreter", '{"code": "print(1)"}'))])
    assert execute_last(store, dispatcher, model) == "awaiting_tools"
    ((_, payload),) = dispatcher.tools
    return thread_id, run_id, payload


def test_a_tool_call_whose_worker_died_is_sent_again_and_recorded_once(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id, payload = _parked_on_code(store, dispatcher)

    def dies() -> Any:
        raise WorkerDied

    with pytest.raises(WorkerDied):
        run_claimed(store, payload, POLICY.lease_s, dies)
    # Redelivered while the claim still runs: the copy leaves the call to its (apparently live) worker.
    assert run_claimed(store, payload, POLICY.lease_s, lambda: {"outputs": []}) is None
    assert recover(store, dispatcher, 5) == {}
    assert recover(store, dispatcher, POLICY.lease_s + 1) == {"tools_resent": 1}
    assert dispatcher.tools[1] == ("code_interpreter", payload)
    # The resent call runs once the old claim has lapsed; a late duplicate after it finds the output recorded.
    store.client.hset(store.keys.tool_claims("p", thread_id, payload["step_id"]), payload["call_id"], "dead|0")
    result = run_claimed(store, payload, POLICY.lease_s, lambda: {"outputs": [{"type": "logs", "logs": "1\n"}]})
    assert result is not None
    assert record_result(store, dispatcher, payload, result, "code_interpreter") == "dispatch"
    assert run_claimed(store, payload, POLICY.lease_s, lambda: {"outputs": []}) is None
    assert execute_last(store, dispatcher, ScriptedModel([text_turn("It is 1")])) == "completed"
    outputs = store.tool_outputs("p", thread_id, payload["step_id"])
    assert list(outputs) == [payload["call_id"]]
    assert orjson.loads(outputs[payload["call_id"]])["outputs"][0]["logs"] == "1\n"
    assert events(store, thread_id, run_id).count("thread.run.completed") == 1


def test_a_tool_task_that_never_arrived_is_sent_again(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    _, _, payload = _parked_on_code(store, dispatcher)
    assert recover(store, dispatcher, POLICY.resend_after_s - 5) == {"tools_running": 1}
    assert recover(store, dispatcher, POLICY.resend_after_s + 1) == {"tools_resent": 1}
    assert dispatcher.tools == [("code_interpreter", payload), ("code_interpreter", payload)]


def test_requires_action_and_finished_runs_leave_the_index(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    function = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    thread_id, run_id = new_run(store, dispatcher, tools=[function])
    assert execute_last(store, dispatcher, ScriptedModel([call_turn(("f", "{}"))])) == "requires_action"
    member = expiry_member("p", thread_id, run_id)
    store.reschedule_look(member, 0)  # even if something left it there, a look drops it
    assert recover(store, dispatcher, 1) == {"forgotten": 1}
    assert store.due_looks(time.time() + 10_000) == []


def test_a_run_that_cannot_be_read_does_not_stall_the_others(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    _, run_id = new_run(store, dispatcher)
    broken_thread, broken_run = new_run(store, dispatcher)
    store.client.hset(store.keys.run("p", broken_thread, broken_run), "doc", "{not json")
    outcomes = recover(store, dispatcher, POLICY.resend_after_s + 1)
    assert outcomes == {"error": 1, "resent": 1}
    assert dispatcher.runs[-1][2] == run_id
    # The broken one is looked at again later rather than on every pass.
    assert store.due_looks(time.time() + POLICY.resend_after_s + 2) == []
