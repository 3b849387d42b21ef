"""The code_interpreter pool's task body: run the code in the configured sandbox, or refuse with a clear error."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import structlog

from orchestrator.domain.models import JSON
from workers.tools.code_interpreter.sandbox import (
    Sandbox,
    SandboxLimits,
    SandboxMode,
    SandboxUnavailable,
    create_sandbox,
)

log = structlog.get_logger(__name__)

# Shown to the API client as the failed run's last_error; the operator-facing reason goes to the worker's log.
UNAVAILABLE_MESSAGE = (
    "code_interpreter is unavailable: this server cannot isolate code (its bubblewrap sandbox does not work on the "
    "worker), so it refuses to run it."
)


@dataclass(frozen=True)
class ExecutionPolicy:
    """How the pool runs code: the sandbox mode and its bubblewrap binary (from settings) and the limits."""

    mode: SandboxMode
    bwrap: str
    limits: SandboxLimits


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
    try:
        result = sandbox_for(policy.mode, policy.bwrap).run(code, policy.limits)
    except SandboxUnavailable as exc:
        log.warning("code_sandbox.refused", mode=exc.mode, reason=exc.reason)
        return {"error": UNAVAILABLE_MESSAGE}
    return {"outputs": [{"type": "logs", "logs": result.logs}], "exit_code": result.exit_code}


def policy_from(settings: Any) -> ExecutionPolicy:
    limits = SandboxLimits(
        timeout_s=settings.code_timeout_s, cpu_s=int(settings.code_timeout_s) + 1, memory_mb=settings.code_memory_mb
    )
    return ExecutionPolicy(mode=settings.code_sandbox, bwrap=settings.code_sandbox_bwrap, limits=limits)


# The name workers/celery_app.py imports: `execute_code(code, limits_from(settings))`.
limits_from = policy_from
