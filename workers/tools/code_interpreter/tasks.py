"""The code_interpreter pool's task body: run the code in the sandbox, record its logs."""

from __future__ import annotations

from typing import Any

from orchestrator.domain.models import JSON
from workers.tools.code_interpreter.sandbox import SandboxLimits, run_python


def execute_code(code: str, limits: SandboxLimits) -> JSON:
    result = run_python(code, limits)
    return {"outputs": [{"type": "logs", "logs": result.logs}], "exit_code": result.exit_code}


def limits_from(settings: Any) -> SandboxLimits:
    return SandboxLimits(
        timeout_s=settings.code_timeout_s, cpu_s=int(settings.code_timeout_s) + 1, memory_mb=settings.code_memory_mb
    )
