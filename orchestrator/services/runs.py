"""Run use cases on the API side: create (with a new thread or not), read, list, cancel, submit tool outputs,
expire. Each write is one compare-and-set commit; work for the workers is sent after it lands."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from orchestrator import observe
from orchestrator.domain.ids import new_id
from orchestrator.domain.models import Assistant, Message, Run, RunStep, Thread
from orchestrator.domain.requests import RunCreate, RunOptions, ThreadAndRunCreate, ThreadCreate, ToolOutputsSubmit
from orchestrator.domain.status import TERMINAL_RUN_STATUSES, RunStatus, StepStatus
from orchestrator.domain.step_include import step_wire
from orchestrator.domain.transitions import RunEvent
from orchestrator.errors import ConcurrentUpdate, InvalidRequest, InvalidRunState, InvalidTransition
from orchestrator.files import checks
from orchestrator.services import assistants, file_search, threads
from orchestrator.services.assistants import not_found
from orchestrator.services.dispatch import Dispatcher
from orchestrator.services.ledger import CAS_ATTEMPTS, Change, RunLedger, new_token, now_s
from orchestrator.store import Commit, RedisStore, RunRecord


@dataclass(frozen=True)
class Started:
    """A run write that landed, and where its events start in the run's log (for a stream to pick up)."""

    run: Run
    first_event_id: str


def _effective_run(
    assistant: Assistant, thread_id: str, body: RunOptions, *, instructions: str | None, expiry_s: int
) -> Run:
    now = now_s()
    fields = body.model_dump(exclude_none=True, exclude={"stream", "instructions", "truncation_strategy"})
    for name in ("model", "temperature", "top_p", "response_format", "tools"):
        fields.setdefault(name, getattr(assistant, name))
    if body.truncation_strategy is not None:
        fields["truncation_strategy"] = body.truncation_strategy.model_dump()
    fields.pop("assistant_id", None)
    fields.pop("thread", None)
    fields.pop("additional_instructions", None)
    fields.pop("additional_messages", None)
    if fields.get("response_format") is None:
        fields["response_format"] = "auto"
    return Run(
        id=new_id("run_"),
        created_at=now,
        thread_id=thread_id,
        assistant_id=assistant.id,
        expires_at=now + expiry_s,
        instructions=instructions or "",
        **fields,
    )


def create_run(
    store: RedisStore, dispatcher: Dispatcher, project: str, thread_id: str, body: RunCreate, *, expiry_s: int
) -> Started:
    assistant = assistants.get(store, project, body.assistant_id)
    threads.get_thread(store, project, thread_id)
    checks.check_tool_choice(body.tool_choice, body.tools if body.tools is not None else assistant.tools)
    checks.require(store, project, checks.messages_file_ids(body.additional_messages, "additional_messages"))
    instructions = body.instructions if body.instructions is not None else assistant.instructions
    if body.additional_instructions:
        instructions = (
            f"{instructions}\n\n{body.additional_instructions}" if instructions else body.additional_instructions
        )
    run = _effective_run(assistant, thread_id, body, instructions=instructions, expiry_s=expiry_s)
    messages = [threads.new_message(thread_id, m, now=run.created_at) for m in body.additional_messages or []]
    attached = file_search.searched_attachments(body.additional_messages or [])
    file_search.add_to_thread_store(store, dispatcher, project, thread_id, attached)
    return _start(store, dispatcher, project, run, messages=messages)


def create_thread_and_run(
    store: RedisStore, dispatcher: Dispatcher, project: str, body: ThreadAndRunCreate, *, expiry_s: int
) -> tuple[Thread, Started]:
    assistant = assistants.get(store, project, body.assistant_id)
    checks.check_tool_choice(body.tool_choice, body.tools if body.tools is not None else assistant.tools)
    given = body.thread
    checks.require(
        store,
        project,
        checks.resource_file_ids(body.tool_resources),
        checks.resource_file_ids(given.tool_resources if given else None, "thread.tool_resources"),
        checks.messages_file_ids(given.messages if given else None, "thread.messages"),
    )
    if body.tool_resources is not None:
        resources = file_search.prepare_resources(store, dispatcher, project, body.tool_resources)
        body = body.model_copy(update={"tool_resources": resources})
    given = given or ThreadCreate()
    instructions = body.instructions if body.instructions is not None else assistant.instructions
    if file_search.searched_attachments(given.messages or []):
        # The thread's vector store for those files is made once the thread is written: two writes.
        thread = threads.create_thread(store, project, given, dispatcher)
        run = _effective_run(assistant, thread.id, body, instructions=instructions, expiry_s=expiry_s)
        return thread, _start(store, dispatcher, project, run, messages=[], thread=thread)
    # Else the thread and its messages are written by the commit that starts the run: one write, and a run the
    # project's cap refuses leaves no thread behind.
    thread, messages = threads.prepare_thread(store, project, given, dispatcher)
    run = _effective_run(assistant, thread.id, body, instructions=instructions, expiry_s=expiry_s)
    return thread, _start(store, dispatcher, project, run, messages=messages, thread=thread, new_thread=True)


def _start(
    store: RedisStore,
    dispatcher: Dispatcher,
    project: str,
    run: Run,
    *,
    messages: list[Message],
    thread: Thread | None = None,
    new_thread: bool = False,
) -> Started:
    """Start `run`, writing `messages` with it (and `thread`, when `new_thread`: not written yet)."""
    keys = store.keys
    token = new_token()
    commit = Commit(
        project=project,
        thread_id=run.thread_id,
        run_id=run.id,
        active="acquire",
        # `created_at` is whole seconds (the wire format); latency metrics need the precise moment.
        run_fields={
            "status": run.status.value,
            "doc": run.model_dump_json(),
            "dispatch": token,
            "created_s": f"{time.time():.6f}",
            **store.watch_sent(project, run.thread_id, run.id),
        },
        expires_at=run.expires_at,
    )
    commit.index.append((keys.runs(project, run.thread_id), run.id))
    for message in messages:
        commit.docs.append((keys.message(project, run.thread_id, message.id), message.model_dump_json().encode()))
        commit.index.append((keys.messages(project, run.thread_id), message.id))
    if thread is not None and new_thread:
        commit.docs.insert(0, (keys.thread(project, thread.id), thread.model_dump_json().encode()))
    if thread is not None:
        commit.event("thread.created", thread.wire())
    commit.event("thread.run.created", run.wire()).event("thread.run.queued", run.wire())
    # A thread this commit creates is listed in its project first (threads.listed says why not in the commit).
    with threads.listed(store, project, run.thread_id) if new_thread else contextlib.nullcontext():
        result = store.commit(commit)
    dispatcher.execute_run(project, run.thread_id, run.id, token)
    return Started(run=run, first_event_id=result.event_ids[0])


def get_run(store: RedisStore, project: str, thread_id: str, run_id: str) -> Run:
    run = store.get_run_doc(project, thread_id, run_id)
    if run is None:
        raise not_found("run", run_id)
    return run


def update_run(store: RedisStore, project: str, thread_id: str, run_id: str, metadata: dict[str, str] | None) -> Run:
    ledger = RunLedger(store, project, thread_id, run_id)
    for _ in range(CAS_ATTEMPTS):
        record = _read(ledger)
        run = record.run.model_copy(update={"metadata": metadata or {}})
        try:
            ledger.commit(record, run, Change())
        except ConcurrentUpdate as exc:  # a worker wrote first: re-read and re-apply
            if exc.field != "ver":
                raise
            continue
        return run
    raise ConcurrentUpdate(f"run {run_id} kept changing; its metadata was not updated", field="ver", current=None)


def cancel_run(store: RedisStore, dispatcher: Dispatcher, project: str, thread_id: str, run_id: str) -> Run:
    """Queued and requires_action runs are cancelled at once; an executing run is asked to stop."""
    ledger = RunLedger(store, project, thread_id, run_id)
    record = _read(ledger)
    status = record.run.status
    if status in TERMINAL_RUN_STATUSES:
        raise InvalidRunState(f"Cannot cancel run with status '{status.value}'.", current=status.value)
    if status is RunStatus.CANCELLING:
        return record.run
    token = new_token()
    handed_on = False  # whether the attempt that landed gave the run to a new executor (dispatch = token)

    def plan(rec: RunRecord, cancelling: Run) -> Change:
        nonlocal handed_on
        change = _cancel_plan(ledger, rec, cancelling, token)
        handed_on = change.fields.get("dispatch") == token
        return change

    try:
        run, _ = ledger.transition(RunEvent.REQUEST_CANCEL, plan=plan, read=record)
    except InvalidTransition:
        return _read(ledger).run
    if run.status is RunStatus.CANCELLING:
        store.client.publish(store.keys.control_channel(), run_id)
        if handed_on:
            dispatcher.execute_run(project, thread_id, run_id, token)
    return run


def _cancel_plan(ledger: RunLedger, record: RunRecord, cancelling: Run, token: str) -> Change:
    change = Change()
    if record.run.status in (RunStatus.QUEUED, RunStatus.REQUIRES_ACTION):
        # Nobody executes the run: finish the cancel in this same commit, announcing both statuses.
        change.events.append(("thread.run.cancelling", cancelling.wire()))
        ledger.close_open_objects(record, RunStatus.CANCELLED, change)
        change.fields["dispatch"] = ""
        change.then = RunEvent.CANCEL
    elif not record.holder:
        # Parked on server-side tools: hand it to an executor now rather than when the tools finish.
        change.fields["dispatch"] = token
        change.fields.update(ledger.store.watch_sent(ledger.project, ledger.thread_id, ledger.run_id))
    return change


def submit_tool_outputs(
    store: RedisStore, dispatcher: Dispatcher, project: str, thread_id: str, run_id: str, body: ToolOutputsSubmit
) -> Started:
    ledger = RunLedger(store, project, thread_id, run_id)
    record = _read(ledger)
    run = record.run
    if run.status is not RunStatus.REQUIRES_ACTION or run.required_action is None:
        raise InvalidRunState(
            f'Runs in status "{run.status.value}" do not accept tool outputs.', current=run.status.value
        )
    pending = [c["id"] for c in run.required_action.submit_tool_outputs["tool_calls"]]
    given = {o.tool_call_id: o.output for o in body.tool_outputs}
    unknown = [i for i in given if i not in pending]
    if unknown:
        raise InvalidRequest(f"Unknown tool call id(s): {', '.join(unknown)}.", param="tool_outputs")
    missing = [i for i in pending if i not in given]
    if missing:
        raise InvalidRequest(
            f"Expected tool outputs for call_ids {pending}, got {list(given)}. Missing: {missing}.",
            param="tool_outputs",
        )
    token = new_token()

    def plan(rec: RunRecord, queued: Run) -> Change:
        step = store.get_step(project, thread_id, rec.open_step)
        change = Change(fields={"dispatch": token, "open_step": "", **store.watch_sent(project, thread_id, run_id)})
        if step is not None:
            calls = [
                {**c, "function": {**c["function"], "output": given[c["id"]]}} if c["id"] in given else c
                for c in step.tool_calls()
            ]
            step = step.model_copy(
                update={
                    "status": StepStatus.COMPLETED,
                    "completed_at": now_s(),
                    "step_details": {"type": "tool_calls", "tool_calls": calls},
                }
            )
            change.docs.append(step)
            change.events.append(("thread.run.step.completed", step_wire(step)))
        return change

    try:
        queued, result = ledger.transition(RunEvent.SUBMIT_OUTPUTS, plan=plan)
    except InvalidTransition as exc:
        raise InvalidRunState(
            f'Runs in status "{exc.current}" do not accept tool outputs.', current=exc.current
        ) from None
    dispatcher.execute_run(project, thread_id, run_id, token)
    observe.left_requires_action(record.requires_action_at)
    return Started(run=queued, first_event_id=result.event_ids[0])


def expire_run(store: RedisStore, project: str, thread_id: str, run_id: str, *, now: int | None = None) -> Run | None:
    """Expire the run if it is still active past `expires_at`; the sweeper calls this."""
    ledger = RunLedger(store, project, thread_id, run_id)
    record = store.get_run(project, thread_id, run_id)
    if record is None or record.run.status in TERMINAL_RUN_STATUSES:
        return None
    if record.run.expires_at is not None and record.run.expires_at > (now if now is not None else now_s()):
        return None

    def plan(rec: RunRecord, expired: Run) -> Change:
        change = Change()
        ledger.close_open_objects(rec, RunStatus.EXPIRED, change)
        return change

    try:
        run, _ = ledger.transition(RunEvent.EXPIRE, plan=plan)
    except InvalidTransition:
        return None
    store.client.publish(store.keys.control_channel(), run_id)
    return run


def get_step(store: RedisStore, project: str, thread_id: str, run_id: str, step_id: str) -> RunStep:
    step = store.get_step(project, thread_id, step_id)
    if step is None or step.run_id != run_id:
        raise not_found("run step", step_id)
    return step


def _read(ledger: RunLedger) -> RunRecord:
    record = ledger.store.get_run(ledger.project, ledger.thread_id, ledger.run_id)
    if record is None:
        raise not_found("run", ledger.run_id)
    return record
