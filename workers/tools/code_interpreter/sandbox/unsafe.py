"""`unsafe` mode: the code runs as a plain child of the worker, with its uid, network and file system.

Only rlimits, a scrubbed environment, a fresh working directory and the wall clock apply: nothing stops the code
from reading what the worker can read or connecting where the worker can connect. Only for trusted code, and only
when the operator asks for it by name (ORCH_CODE_SANDBOX=unsafe).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from workers.tools.code_interpreter.sandbox.base import SandboxLimits, SandboxResult, safe_env
from workers.tools.code_interpreter.sandbox.process import launcher_argv, run_supervised


class UnsafeSandbox:
    mode = "unsafe"
    isolated = False
    unavailable_reason: str | None = None

    def __init__(self, python: str | None = None) -> None:
        self.python = os.path.abspath(shutil.which(python or sys.executable) or python or sys.executable)

    def run(self, code: str, limits: SandboxLimits) -> SandboxResult:
        with tempfile.TemporaryDirectory(prefix="code-interpreter-") as root:
            workdir = os.path.join(root, "data")
            os.mkdir(workdir)
            # Outside the work dir so that the files in it are only the ones the code made.
            script = os.path.join(root, "main.py")
            with open(script, "w", encoding="utf-8") as file:
                file.write(code)
            argv = launcher_argv(sys.executable, limits, [self.python, "-I", script])
            done = run_supervised(argv, safe_env(workdir), workdir, limits)
        return SandboxResult(logs=done.logs, exit_code=done.exit_code, timed_out=done.timed_out, sandboxed=False)
