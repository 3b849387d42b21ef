"""`RunExecutor`: claims a run, takes model turns, parks it on tools or the client, and finishes it.

No Celery here: the task in `tasks.py` only calls `execute`. Every write goes through `RunLedger`, guarded by
the executor's holder token, so a cancel, an expiry or a second delivery of the same task can never be
overwritten by a stale executor.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
import threading
import time
from typing import Any

import orjson
import structlog

from orchestrator import observe
from orchestrator.domain.models import Message, RequiredAction, Run, RunLastError, RunStep, Usage
from orchestrator.domain.status import MessageStatus, RunStatus, StepStatus
from orchestrator.domain.step_include import step_wire
from orchestrator.domain.tools import SERVER_TOOLS
from orchestrator.domain.transitions import RunEvent, apply
from orchestrator.errors import ConcurrentUpdate, InvalidTransition, UpstreamError
from orchestrator.files.images import ImageReader
from orchestrator.services.dispatch import Dispatcher
from orchestrator.services.ledger import Change, RunLedger, new_token, now_s
from orchestrator.store import RedisStore, RunRecord
from orchestrator.store.keys import expiry_member
from workers.executor.cancel import CancelWatcher
from workers.executor.citations import Citations
from workers.executor.context import build_request, reserved_chars
from workers.executor.history import DEFAULT_CONTEXT_TOKENS, HistoryReader
from workers.executor.interruptible import read_until_stopped
from workers.executor.lease import LeaseKeeper
from workers.executor.llm import ChatModel
from workers.executor.turn import Turn
from workers.tools.code_interpreter.session import sandbox_files
from workers.tools.code_interpreter.tool import code_request, input_files_note, run_images
from workers.tools.file_search.tool import search_request

log = structlog.get_logger(__name__)


class RunExecutor:
    def __init__(
        self,
        store: RedisStore,
        model: ChatModel,
        dispatcher: Dispatcher,
        *,
        max_turns: int,
        watcher: CancelWatcher | None = None,
        worker_id: str | None = None,
        leases: LeaseKeeper | None = None,
        images: ImageReader | None = None,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    ) -> None:
        self.store = store
        self.model = model
        self.dispatcher = dispatcher
        self.max_turns = max_turns
        self.watcher = watcher
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.leases = leases
        self.images = images  # image_file parts become data URLs; without it, placeholders
        # One per executor, so its renderings of finished messages serve every run the process takes.
        self.history = HistoryReader(store, context_tokens=context_tokens)

    def execute(self, project: str, thread_id: str, run_id: str, token: str) -> str:
        """Drive the run until it finishes or parks; returns what happened, for logs and tests."""
        ledger = RunLedger(self.store, project, thread_id, run_id)
        holder = new_token()
        record = self._claim(ledger, token, holder)
        if record is None:
            return "skipped"
        if self.leases is not None:
            self.leases.hold(project, thread_id, run_id, holder)
        outcome = "crashed"
        try:
            with structlog.contextvars.bound_contextvars(assistant_id=record.run.assistant_id):
                outcome = self._drive(ledger, record, holder)
        except UpstreamError as exc:
            outcome = self._stop(ledger, holder, RunLastError(code=exc.code, message=exc.message))
        except ConcurrentUpdate:
            outcome = self._stop(ledger, holder, None)
        except Exception:
            log.exception("run.crashed")
            error = RunLastError(code="server_error", message="The run failed unexpectedly.")
            outcome = self._stop(ledger, holder, error)
        finally:
            if self.watcher is not None:
                self.watcher.forget(run_id)
            if self.leases is not None:
                self.leases.release(run_id)
            if outcome in _WAITS_ON_CLIENT:
                # Best effort: the sweeper would find the run needs nothing and drop it from the index itself. (A run
                # that ended lost its look with the commit that ended it: RedisStore.commit.)
                self.store.forget_look(expiry_member(project, thread_id, run_id))
        return outcome

    # -- claiming --------------------------------------------------------------------------------------------

    def _claim(self, ledger: RunLedger, token: str, holder: str) -> RunRecord | None:
        """Take the run for this delivery; a second delivery of the same task finds the token spent."""
        for _ in range(8):
            record = ledger.read()
            if record.dispatch != token:
                return None
            run: Run | None = None
            # `claimed_by` names the worker process, so operators (and the exactly-once test) can see who ran it.
            # The lease starts with the claim, so a worker that dies right after it still loses the run in time.
            lease = f"{self.leases.deadline():.3f}" if self.leases is not None else ""
            change = Change(
                guards={"dispatch": (token,)},
                fields={"dispatch": "", "holder": holder, "claimed_by": self.worker_id, "lease": lease},
            )
            if record.run.status is RunStatus.QUEUED:
                run = apply(record.run, RunEvent.START, now_s())
                change.events.append(("thread.run.in_progress", run.wire()))
            elif record.run.status not in (RunStatus.IN_PROGRESS, RunStatus.CANCELLING):
                return None
            try:
                result = ledger.commit(record, run, change)
            except ConcurrentUpdate as exc:
                if exc.field == "dispatch":
                    return None
                continue
            if run is not None and record.run.started_at is None:
                observe.run_started(record.created_s or record.run.created_at)
            # The commit was guarded by the version read, so the run is now that record with this change: no
            # second read.
            return dataclasses.replace(
                record,
                run=run or record.run,
                version=result.version,
                dispatch="",
                holder=holder,
                lease=float(lease or 0),
            )
        return None

    # -- driving ---------------------------------------------------------------------------------------------

    def _drive(self, ledger: RunLedger, record: RunRecord, holder: str) -> str:
        if record.run.status is RunStatus.CANCELLING:
            return self._stop(ledger, holder, None)
        if record.open_step:
            outcome = self._resume_after_tools(ledger, record, holder)
            if outcome is not None:
                return outcome
            record = ledger.read()
        # `record` is the run as claimed (the lease renewed since changes no field the loop reads): the first turn
        # starts from it, later ones from a fresh read. Writes are guarded whatever was read.
        while True:
            run = record.run
            if run.status is not RunStatus.IN_PROGRESS:
                return self._stop(ledger, holder, None)
            if record.turns >= self.max_turns:
                error = f"The run took more than {self.max_turns} model turns without answering."
                return self._stop(ledger, holder, RunLastError(code="server_error", message=error))
            budget = _exhausted_budget(run, record.usage)
            if budget is not None:
                usage = None if record.usage_unknown else record.usage
                return self._finish(ledger, holder, None, usage, incomplete=(budget, "max_tokens"))
            outcome = self._take_turn(ledger, record, holder)
            if outcome is not None:
                return outcome
            record = ledger.read()

    def _take_turn(self, ledger: RunLedger, record: RunRecord, holder: str) -> str | None:
        run = record.run
        p, t = ledger.project, ledger.thread_id
        image_data = functools.partial(self.images.data_url, p) if self.images is not None else None
        history = self.history.read(p, run, image_data, reserved_chars(run))
        steps = self.store.get_steps(p, t, self.store.all_ids(self.store.keys.steps(p, t, run.id)))
        max_tokens = None
        if run.max_completion_tokens is not None:
            max_tokens = run.max_completion_tokens - record.usage.completion_tokens
        request = build_request(run, history.chat, history.own, steps, max_tokens, record.step_turns)
        if _uses_code(run):
            note = input_files_note(self.store, p, run, self.history.attached_code_files(p, run))
            if note is not None:
                # After the instructions, as OpenAI's own note on uploaded files came.
                request["messages"].insert(1 if run.instructions else 0, {"role": "system", "content": note})
        turn = Turn(
            ledger=ledger,
            run=run,
            holder=holder,
            first_turn=record.turns == 0,
            created_s=record.created_s or run.created_at,
            number=record.turns,
            citations=Citations.from_steps(steps, record.step_turns),
            **_code_outputs(self.store, p, run, steps, history.own),
        )
        stop = threading.Event()
        if self.watcher is not None:
            self.watcher.watch(run.id, stop)
        key = self.store.keys.run(p, t, run.id)
        for piece in read_until_stopped(
            self.model, request, stop=stop, still_running=lambda: self.store.client.hget(key, "status") == "in_progress"
        ):
            turn.feed(piece)
        assert turn.finish is not None
        usage = record.usage + (turn.finish.usage or Usage())
        bookkeeping = {"usage": usage.model_dump_json(), "turns": str(record.turns + 1)}
        if turn.finish.usage is None:
            bookkeeping["usage_unknown"] = "1"  # an upstream that reports no usage: the run's usage stays null
        usage_known = not (record.usage_unknown or turn.finish.usage is None)
        cut = _CUT_SHORT.get(turn.finish.reason)
        if cut is not None:
            # Truncation is never success, whether the limit was the run's or the model's own.
            return self._finish(ledger, holder, turn, usage if usage_known else None, incomplete=cut)
        if turn.calls:
            return self._after_tool_calls(ledger, turn, holder, bookkeeping)
        return self._finish(ledger, holder, turn, usage if usage_known else None)

    # -- tools -----------------------------------------------------------------------------------------------

    def _after_tool_calls(self, ledger: RunLedger, turn: Turn, holder: str, bookkeeping: dict[str, str]) -> str:
        assert turn.tool_step is not None and turn.finish is not None
        if turn.message is not None and turn.message.status is MessageStatus.IN_PROGRESS:
            # Text the model wrote after its tool calls: a message of its own, complete before the run parks.
            change = turn.close_message(MessageStatus.COMPLETED)
            change.guards.update(_held(holder))
            ledger.commit(None, None, change)
        bookkeeping = {**bookkeeping, "open_step": turn.tool_step.id}
        step = turn.tool_step.model_copy(
            update={
                "step_details": {"type": "tool_calls", "tool_calls": turn.step_tool_calls()},
                "usage": turn.finish.usage,
            }
        )
        server_calls = [c for c in turn.calls.values() if c.type in SERVER_TOOLS]
        if not server_calls:
            return self._require_action(ledger, step, holder, bookkeeping)
        # The input files for /mnt/data, read once for all of this turn's code calls.
        code_inputs = (
            code_request(
                self.store, ledger.project, turn.run, self.history.attached_code_files(ledger.project, turn.run)
            )
            if any(c.type == "code_interpreter" for c in server_calls)
            else {}
        )
        payloads = {
            call.id: {
                "assistant_id": turn.run.assistant_id,
                "project": ledger.project,
                "thread_id": ledger.thread_id,
                "run_id": ledger.run_id,
                "step_id": step.id,
                "call_id": call.id,
                "index": call.index,
                "argument": call.server_argument(),
                **(
                    search_request(self.store, ledger.project, turn.run, call.server_argument())
                    if call.type == "file_search"
                    else {}
                ),
                **(code_inputs if call.type == "code_interpreter" else {}),
            }
            for call in server_calls
        }
        # Kept before the run parks, so the sweeper can send a call again whose worker died.
        self.store.save_tool_payloads(
            ledger.project,
            ledger.thread_id,
            step.id,
            {c.id: orjson.dumps({"type": c.type, "payload": payloads[c.id]}).decode() for c in server_calls},
        )
        fields = {
            **bookkeeping,
            "awaiting": str(len(server_calls)),
            "holder": "",
            "lease": "",
            "parked_step": step.id,
            "tools_sent_at": f"{time.time():.3f}",
        }
        ledger.commit(None, None, Change(guards=_held(holder), fields=fields, docs=[step]))
        for call in server_calls:
            self.dispatcher.run_tool(call.type, payloads[call.id])
        log.info("run.awaiting_tools", calls=len(server_calls))
        return "awaiting_tools"

    def _require_action(self, ledger: RunLedger, step: RunStep, holder: str, fields: dict[str, str]) -> str:
        calls = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["function"]["name"], "arguments": c["function"]["arguments"]},
            }
            for c in step.tool_calls()
            if c["type"] == "function" and c["function"].get("output") is None
        ]
        action = RequiredAction(submit_tool_outputs={"tool_calls": calls})
        ledger.transition(
            RunEvent.REQUIRE_ACTION,
            plan=lambda record, run: Change(
                guards=_held(holder),
                fields={**fields, "holder": "", "open_step": step.id, "requires_action_at": str(time.time())},
                docs=[step],
            ),
            usage_update=lambda run: run.model_copy(update={"required_action": action}),
        )
        return "requires_action"

    def _resume_after_tools(self, ledger: RunLedger, record: RunRecord, holder: str) -> str | None:
        step = self.store.get_step(ledger.project, ledger.thread_id, record.open_step)
        if step is None:
            return self._stop(ledger, holder, RunLastError(code="server_error", message="The tool step vanished."))
        outputs = self.store.tool_outputs(ledger.project, ledger.thread_id, step.id)
        calls = []
        for call in step.tool_calls():
            result = orjson.loads(outputs[call["id"]]) if call["id"] in outputs else None
            if result is not None and result.get("error"):
                return self._stop(ledger, holder, RunLastError(code="server_error", message=result["error"]))
            if result is not None and call["type"] == "code_interpreter":
                call = {**call, "code_interpreter": {**call["code_interpreter"], "outputs": result["outputs"]}}
            if result is not None and call["type"] == "file_search":
                found = {"ranking_options": result.get("ranking_options"), "results": result.get("results", [])}
                call = {**call, "file_search": {**call["file_search"], **found}}
            calls.append(call)
        step = step.model_copy(update={"step_details": {"type": "tool_calls", "tool_calls": calls}})
        if any(c["type"] == "function" and c["function"].get("output") is None for c in calls):
            return self._require_action(ledger, step, holder, {"awaiting": "0"})
        step = step.model_copy(update={"status": StepStatus.COMPLETED, "completed_at": now_s()})
        change = Change(
            guards=_held(holder),
            fields={"open_step": "", "awaiting": "0", "parked_step": ""},
            docs=[step],
            # The event log is shared by every client, so result content stays out of it (include[] is per request).
            events=[("thread.run.step.completed", step_wire(step))],
        )
        ledger.commit(None, None, change)
        return None

    # -- endings ---------------------------------------------------------------------------------------------

    def _finish(
        self,
        ledger: RunLedger,
        holder: str,
        turn: Turn | None,
        usage: Usage | None,
        incomplete: tuple[str, str] | None = None,
    ) -> str:
        """End the run `completed`, or `incomplete` with (run reason, message reason)."""
        if turn is not None and turn.message is None:
            turn.ensure_message()

        def plan(record: RunRecord, run: Run) -> Change:
            change = Change(guards=_held(holder))
            if turn is not None and turn.message is not None and turn.message.status is MessageStatus.IN_PROGRESS:
                status = MessageStatus.INCOMPLETE if incomplete else MessageStatus.COMPLETED
                change = turn.close_message(status, incomplete[1] if incomplete else None)
                change.guards.update(_held(holder))
            if turn is not None and turn.tool_step is not None:
                # Tool calls cut short with the answer: their arguments may be partial, so none of them runs.
                step = turn.tool_step.model_copy(
                    update={
                        "status": StepStatus.CANCELLED,
                        "cancelled_at": now_s(),
                        "step_details": {"type": "tool_calls", "tool_calls": turn.step_tool_calls()},
                    }
                )
                change.docs.append(step)
                change.events.append(("thread.run.step.cancelled", step.wire()))
            if usage is None:
                change.fields["usage_unknown"] = "1"
            return change

        event = RunEvent.INCOMPLETE if incomplete else RunEvent.COMPLETE
        run, _ = ledger.transition(
            event,
            plan=plan,
            incomplete_reason=incomplete[0] if incomplete else None,
            usage_update=lambda run: run.model_copy(update={"usage": usage}),
        )
        log.info("run.finished", status=run.status.value)
        return run.status.value

    def _stop(self, ledger: RunLedger, holder: str, error: RunLastError | None) -> str:
        """End the run: cancelled if a cancel is pending, else failed with `error`; no-op if already terminal."""
        for _ in range(4):
            record = ledger.read()
            status = record.run.status
            if status is RunStatus.CANCELLING:
                event, target = RunEvent.CANCEL, RunStatus.CANCELLED
            elif error is not None and status in (RunStatus.QUEUED, RunStatus.IN_PROGRESS):
                event, target = RunEvent.FAIL, RunStatus.FAILED
            else:
                return status.value

            def plan(rec: RunRecord, run: Run, target: RunStatus = target) -> Change:
                change = Change()
                ledger.close_open_objects(rec, target, change, error)
                return change

            try:
                run, _ = ledger.transition(event, plan=plan, last_error=error)
            except (InvalidTransition, ConcurrentUpdate):
                continue
            log.info("run.stopped", status=run.status.value, error=error.message if error else None)
            return run.status.value
        return ledger.read().run.status.value


#: finish_reason -> (the run's incomplete reason, the message's): an answer cut short is never a success.
_CUT_SHORT = {
    "length": ("max_completion_tokens", "max_tokens"),
    "content_filter": ("content_filter", "content_filter"),
}

#: Outcomes after which nobody owes the run work though it has not ended: it waits on the client.
_WAITS_ON_CLIENT = frozenset({"requires_action"})


def _uses_code(run: Run) -> bool:
    return any(tool["type"] == "code_interpreter" for tool in run.tools)


def _code_outputs(
    store: RedisStore, project: str, run: Run, steps: list[RunStep], own: list[Message]
) -> dict[str, Any]:
    """What the answer shows of the code interpreter's files: images not shown yet, and the session's files to link."""
    if not _uses_code(run):
        return {}
    return {
        "images": run_images(steps, own),
        "links": sandbox_files(store.client, store.keys, project, run.thread_id),
    }


def _held(holder: str) -> dict[str, tuple[str, ...]]:
    return {"holder": (holder,)}


def _exhausted_budget(run: Run, usage: Usage) -> str | None:
    if run.max_prompt_tokens is not None and usage.prompt_tokens >= run.max_prompt_tokens:
        return "max_prompt_tokens"
    if run.max_completion_tokens is not None and usage.completion_tokens >= run.max_completion_tokens:
        return "max_completion_tokens"
    return None
