"""`RunLedger`: every write to one run, as compare-and-set commits that carry their events.

Both the API (cancel, submit outputs) and the workers (claim, stream, finish) change runs through here, so the
rules for what a transition writes and announces live in one place.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from orchestrator import observe
from orchestrator.domain.models import JSON, Message, Run, RunLastError, RunStep, StepLastError
from orchestrator.domain.status import TERMINAL_RUN_STATUSES, MessageStatus, RunStatus, StepStatus
from orchestrator.domain.step_include import step_wire
from orchestrator.domain.transitions import RUN_EVENT_NAMES, RunEvent, apply
from orchestrator.errors import ConcurrentUpdate, NotFound
from orchestrator.store import Commit, CommitResult, RedisStore, RunRecord

# Optimistic writes retry this often; an executor bumps a run's version a few times per model turn.
CAS_ATTEMPTS = 32

#: How a terminal run event closes the step and message that were open when it happened.
_STEP_END = {
    RunStatus.CANCELLED: (StepStatus.CANCELLED, "cancelled_at", "run_cancelled"),
    RunStatus.EXPIRED: (StepStatus.EXPIRED, "expired_at", "run_expired"),
    RunStatus.FAILED: (StepStatus.FAILED, "failed_at", "run_failed"),
    RunStatus.INCOMPLETE: (StepStatus.COMPLETED, "completed_at", "max_tokens"),
    RunStatus.COMPLETED: (StepStatus.COMPLETED, "completed_at", ""),
}


def now_s() -> int:
    return int(time.time())


def new_token() -> str:
    return secrets.token_hex(8)


@dataclass
class Change:
    """What one commit does besides the run document: extra guards, bookkeeping fields, objects and events."""

    guards: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    docs: list[Message | RunStep] = field(default_factory=list)
    new_messages: list[Message] = field(default_factory=list)
    new_steps: list[RunStep] = field(default_factory=list)
    events: list[tuple[str, JSON]] = field(default_factory=list)
    #: A second transition applied in the same commit (cancelling -> cancelled when nobody executes the run).
    then: RunEvent | None = None


class RunLedger:
    def __init__(self, store: RedisStore, project: str, thread_id: str, run_id: str) -> None:
        self.store = store
        self.project = project
        self.thread_id = thread_id
        self.run_id = run_id

    def read(self) -> RunRecord:
        record = self.store.get_run(self.project, self.thread_id, self.run_id)
        if record is None:
            raise NotFound(f"No run found with id '{self.run_id}'.")
        return record

    def commit(self, record: RunRecord | None, run: Run | None, change: Change) -> CommitResult:
        """Write `run` (if given) and `change`, provided the run is still at `record.version` (if given)."""
        keys = self.store.keys
        p, t = self.project, self.thread_id
        commit = Commit(project=p, thread_id=t, run_id=self.run_id)
        if record is not None:
            commit.guards["ver"] = (str(record.version),)
        commit.guards.update(change.guards)
        commit.run_fields.update(change.fields)
        if run is not None:
            commit.run_fields.update({"status": run.status.value, "doc": run.model_dump_json()})
            if run.status in TERMINAL_RUN_STATUSES:
                commit.active = "release"
                commit.run_fields.update({"holder": "", "dispatch": "", "open_step": "", "open_message": ""})
        for doc in [*change.docs, *change.new_messages, *change.new_steps]:
            key = keys.message(p, t, doc.id) if isinstance(doc, Message) else keys.step(p, t, doc.id)
            commit.docs.append((key, doc.model_dump_json().encode()))
        for message in change.new_messages:
            commit.index += [(keys.messages(p, t), message.id), (keys.run_messages(p, t, self.run_id), message.id)]
        for step in change.new_steps:
            commit.index.append((keys.steps(p, t, self.run_id), step.id))
        for name, data in change.events:
            commit.event(name, data)
        return self.store.commit(commit)

    def emit(self, events: Iterable[tuple[str, JSON]], *, holder: str) -> None:
        """Append events only (deltas), provided this executor still holds an in-progress run."""
        commit = Commit(
            project=self.project,
            thread_id=self.thread_id,
            run_id=self.run_id,
            guards={"status": (RunStatus.IN_PROGRESS.value,), "holder": (holder,)},
        )
        for name, data in events:
            commit.event(name, data)
        self.store.commit(commit)

    def transition(
        self,
        event: RunEvent,
        *,
        plan: Callable[[RunRecord, Run], Change] = lambda record, run: Change(),
        last_error: RunLastError | None = None,
        incomplete_reason: str | None = None,
        usage_update: Callable[[Run], Run] = lambda run: run,
        read: RunRecord | None = None,
    ) -> tuple[Run, CommitResult]:
        """Apply `event` with compare-and-set, re-reading and re-applying when another writer got there first.

        `plan` adds what the transition writes besides the run; it is called again on every attempt with the
        fresh record. `read` is the record the caller just read, for the first attempt (its version guards the
        commit, so a stale one costs a retry, never a lost write). Raises `InvalidTransition` when the fresh
        status no longer allows the event.
        """
        for _ in range(CAS_ATTEMPTS):
            record, read = read or self.read(), None
            run = apply(
                usage_update(record.run), event, now_s(), last_error=last_error, incomplete_reason=incomplete_reason
            )
            change = plan(record, run)
            if change.then is not None:
                run = apply(run, change.then, now_s())
            usage_unknown = record.usage_unknown or change.fields.get("usage_unknown") == "1"
            if run.status in TERMINAL_RUN_STATUSES and run.usage is None and not usage_unknown:
                run = run.model_copy(update={"usage": record.usage})  # usage is cumulative once a run ends
            change.events.append((RUN_EVENT_NAMES[run.status], run.wire()))
            try:
                result = self.commit(record, run, change)
            except ConcurrentUpdate as exc:
                if exc.field != "ver":
                    raise
                continue
            if run.status in TERMINAL_RUN_STATUSES:
                observe.run_finished(run.status.value, record.created_s or run.created_at)
            return run, result
        raise ConcurrentUpdate(f"run {self.run_id} kept changing", field="ver", current=None)

    def close_open_objects(
        self, record: RunRecord, status: RunStatus, change: Change, error: RunLastError | None = None
    ) -> None:
        """Close the step and message that were open when the run reached terminal `status`."""
        step_status, stamp, reason = _STEP_END[status]
        now = now_s()
        open_step, open_message = record.open_step, record.open_message
        # The step closes before the message, as in the reference's abnormal endings (step, message, run).
        if open_step:
            step = self.store.get_step(self.project, self.thread_id, open_step)
            if step is not None and step.status is StepStatus.IN_PROGRESS:
                update: dict[str, object] = {"status": step_status, stamp: now}
                if status is RunStatus.FAILED:
                    error = error or RunLastError(code="server_error", message="The run failed.")
                    code = "rate_limit_exceeded" if error.code == "rate_limit_exceeded" else "server_error"
                    update["last_error"] = StepLastError(code=code, message=error.message)
                step = step.model_copy(update=update)
                change.docs.append(step)
                change.events.append((f"thread.run.step.{step_status.value}", step_wire(step)))
        if open_message:
            message = self.store.get_message(self.project, self.thread_id, open_message)
            if message is not None and message.status is MessageStatus.IN_PROGRESS:
                message = message.model_copy(
                    update={
                        "status": MessageStatus.INCOMPLETE,
                        "incomplete_at": now,
                        "incomplete_details": {"reason": reason},
                        "content": message.content or self._streamed_content(message.id),
                    }
                )
                change.docs.append(message)
                change.events.append(("thread.message.incomplete", message.wire()))

    def _streamed_content(self, message_id: str) -> list[JSON]:
        """The text a client already received for a message cut short, rebuilt from the run's event log.

        Only the executor knows the text while it streams, and a run can end without it (expired, or stopped
        mid-read); the log is the one place every delta is recorded.
        """
        text = ""
        for event in self.store.events(self.project, self.thread_id, self.run_id, count=100_000):
            if event.event != "thread.message.delta":
                continue
            delta = orjson.loads(event.data)
            if delta["id"] == message_id:
                text += "".join(part.get("text", {}).get("value", "") for part in delta["delta"]["content"])
        return [{"type": "text", "text": {"value": text, "annotations": []}}] if text else []
