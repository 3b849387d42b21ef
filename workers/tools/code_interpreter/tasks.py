"""The code_interpreter pool's task body: run the cell in its thread's session, in the configured sandbox, with
its input files in /mnt/data; store the files it writes; or refuse with a clear error."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog

from orchestrator.domain.models import JSON
from workers.tools.code_interpreter.files import (
    MAX_RETURNED_BYTES,
    MAX_RETURNED_FILES,
    RUNNER_SOURCE,
    SANDBOX_PREFIX,
    BadBundle,
    Cell,
    Returned,
    decode_returned,
    encode_job,
    is_image,
    sandbox_name,
    skipped_note,
)
from workers.tools.code_interpreter.runner import RESET_NOTE
from workers.tools.code_interpreter.sandbox import (
    Sandbox,
    SandboxLimits,
    SandboxMode,
    SandboxResult,
    SandboxUnavailable,
    create_sandbox,
)
from workers.tools.code_interpreter.session import RecordedCell, Session, SessionStore

log = structlog.get_logger(__name__)

# Time the runner needs beyond the cell's own clock: start, seeding, handing the files back.
_GRACE_S = 5.0

# Shown to the API client as the failed run's last_error; the operator-facing reason goes to the worker's log.
UNAVAILABLE_MESSAGE = (
    "code_interpreter is unavailable: this server cannot isolate code (its bubblewrap sandbox does not work on the "
    "worker), so it refuses to run it."
)


@dataclass(frozen=True)
class ExecutionPolicy:
    """How the pool runs code: the sandbox mode and its bubblewrap binary (from settings), the limits of one cell,
    and how long a session's replay may take before the call starts a fresh session."""

    mode: SandboxMode
    bwrap: str
    limits: SandboxLimits
    replay_s: float = 60.0
    max_cells: int = 50


@dataclass(frozen=True)
class CodeCall:
    """One code_interpreter call: its code, its thread (the session), and the input files for /mnt/data."""

    project: str
    thread_id: str
    code: str
    file_ids: tuple[str, ...] = ()


def code_call(payload: dict[str, Any]) -> CodeCall:
    """The call in a task payload (`argument` is the code; `file_ids` came with the executor's request)."""
    return CodeCall(
        project=payload["project"],
        thread_id=payload["thread_id"],
        code=payload["argument"],
        file_ids=tuple(payload.get("file_ids") or ()),
    )


class FileIO(Protocol):
    """The Files API as the tool sees it (orchestrator.files.service over the worker's store and storage)."""

    def filename(self, file_id: str) -> str | None:
        """The file's name, or None when it is gone (deleted, or never this project's)."""

    def read(self, file_id: str) -> bytes | None:
        """The file's bytes, or None when it is gone."""

    def create(self, filename: str, data: bytes) -> str:
        """Store `data` as a new `assistants_output` file; returns its id."""


@functools.cache
def sandbox_for(mode: SandboxMode, bwrap: str) -> Sandbox:
    """The process's sandbox for `mode`, probed once; says in the log which mode is active and whether it isolates."""
    sandbox = create_sandbox(mode, bwrap)
    reason = sandbox.unavailable_reason
    if not sandbox.isolated:
        log.warning("code_sandbox.unsafe", mode=mode, isolated=False, detail="code runs with the worker's privileges")
    elif reason is None:
        log.info("code_sandbox.ready", mode=mode, isolated=True)
    else:
        log.error("code_sandbox.unavailable", mode=mode, isolated=False, reason=reason, detail="code is refused")
    return sandbox


def execute_code(code: str, policy: ExecutionPolicy) -> JSON:
    """Run `code` as a plain script: no session, no files in or out (the pool runs `run_call`)."""
    try:
        result = sandbox_for(policy.mode, policy.bwrap).run(code, policy.limits)
    except SandboxUnavailable as exc:
        log.warning("code_sandbox.refused", mode=exc.mode, reason=exc.reason)
        return {"error": UNAVAILABLE_MESSAGE}
    return {"outputs": [{"type": "logs", "logs": result.logs}], "exit_code": result.exit_code}


def run_call(
    call: CodeCall, policy: ExecutionPolicy, files: FileIO | None = None, sessions: SessionStore | None = None
) -> JSON:
    """Run the call's cell in its thread's session: `{"outputs": [...], "exit_code": n, "files": {...}}`, where
    `files` maps the `sandbox:/mnt/data/...` links an answer may make to the files stored for them."""
    session = sessions.load(call.project, call.thread_id) if sessions is not None else Session()
    note = ""
    if len(session.cells) >= policy.max_cells:
        session, note = Session(), RESET_NOTE + "\n"
    inputs = _new_inputs(call.file_ids, session, files)
    try:
        result, returned = _execute(call.code, policy, session, inputs, files)
        if returned.replay_timeout:
            log.warning("code_session.replay_too_long", cells=len(session.cells), budget_s=policy.replay_s)
            session, note = Session(), RESET_NOTE + "\n"
            inputs = _new_inputs(call.file_ids, session, files)
            result, returned = _execute(call.code, policy, session, inputs, files)
    except SandboxUnavailable as exc:
        log.warning("code_sandbox.refused", mode=exc.mode, reason=exc.reason)
        return {"error": UNAVAILABLE_MESSAGE}
    logs = note + result.logs + skipped_note(returned.skipped, MAX_RETURNED_FILES, MAX_RETURNED_BYTES)
    outputs: list[JSON] = [{"type": "logs", "logs": logs}]
    links: dict[str, str] = {}
    if files is not None:
        links, images = _store_returned(returned, files)
        outputs += [{"type": "image", "image": {"file_id": file_id}} for file_id in images]
    if sessions is not None:
        fresh = not session.cells
        # A cell cut off by a clock left the interpreter in an unknown state, and would take as long again: it is
        # not replayed.
        cell = (
            None
            if result.timed_out or returned.timed_out
            else RecordedCell(call.code, {name: fid for name, (fid, _) in inputs.items()})
        )
        seeded = {SANDBOX_PREFIX + name: fid for name, (fid, _) in inputs.items()}
        sessions.record(call.project, call.thread_id, cell, {**seeded, **links}, fresh=fresh and cell is not None)
    answer: JSON = {"outputs": outputs, "exit_code": result.exit_code}
    if links:
        answer["files"] = links
    return answer


def _new_inputs(file_ids: tuple[str, ...], session: Session, files: FileIO | None) -> dict[str, tuple[str, bytes]]:
    """name -> (file id, bytes) of the call's input files the session has not seeded yet (or seeded another)."""
    if files is None:
        return {}
    inputs: dict[str, tuple[str, bytes]] = {}
    for file_id in dict.fromkeys(file_ids):
        filename = files.filename(file_id)
        if filename is None:
            continue
        name = sandbox_name(filename)
        if session.inputs.get(name) == file_id:
            continue
        data = files.read(file_id)
        if data is not None:
            inputs[name] = (file_id, data)
    return inputs


def _execute(
    code: str,
    policy: ExecutionPolicy,
    session: Session,
    inputs: dict[str, tuple[str, bytes]],
    files: FileIO | None,
) -> tuple[SandboxResult, Returned]:
    replay = [Cell(cell.code, _read_all(cell.inputs, files)) for cell in session.cells]
    limits = policy.limits
    job = encode_job(
        code,
        {name: data for name, (_, data) in inputs.items()},
        replay,
        timeout_s=limits.timeout_s,
        replay_s=policy.replay_s,
    )
    # The runner times the cell itself (so its files still come back); the sandbox's wall clock is the backstop.
    extra = (policy.replay_s if replay else 0.0) + _GRACE_S
    outer = replace(limits, timeout_s=limits.timeout_s + extra, cpu_s=limits.cpu_s + int(extra) + 1)
    started = time.monotonic()
    result = sandbox_for(policy.mode, policy.bwrap).run(RUNNER_SOURCE, outer, job)
    try:
        returned = decode_returned(result.returned)
    except BadBundle as exc:
        log.warning("code_interpreter.bad_return", reason=str(exc))
        returned = Returned()
    log.info("code_interpreter.executed", replayed=len(replay), seconds=round(time.monotonic() - started, 3))
    return result, returned


def _read_all(inputs: dict[str, str], files: FileIO | None) -> dict[str, bytes]:
    """The bytes of a replayed cell's inputs; one deleted since is left out (the replay goes on without it)."""
    out: dict[str, bytes] = {}
    for name, file_id in inputs.items():
        data = files.read(file_id) if files is not None else None
        if data is not None:
            out[name] = data
    return out


def _store_returned(returned: Returned, files: FileIO) -> tuple[dict[str, str], list[str]]:
    """Store what came back: (link -> file id of every file, file ids of the images to show)."""
    links: dict[str, str] = {}
    images: list[str] = []
    for path, data in returned.files.items():
        file_id = files.create(path.rsplit("/", 1)[-1], data)
        links[SANDBOX_PREFIX + path] = file_id
        if is_image(data):
            images.append(file_id)
    for index, png in enumerate(returned.figures):
        images.append(files.create(f"figure-{index + 1}.png", png))
    return links, images


def policy_from(settings: Any) -> ExecutionPolicy:
    limits = SandboxLimits(
        timeout_s=settings.code_timeout_s, cpu_s=int(settings.code_timeout_s) + 1, memory_mb=settings.code_memory_mb
    )
    return ExecutionPolicy(
        mode=settings.code_sandbox,
        bwrap=settings.code_sandbox_bwrap,
        limits=limits,
        replay_s=settings.code_session_replay_s,
        max_cells=settings.code_session_max_cells,
    )


# The name workers/celery_app.py imports: `execute_code(code, limits_from(settings))`.
limits_from = policy_from
