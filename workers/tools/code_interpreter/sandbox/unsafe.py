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
from contextlib import ExitStack

from workers.tools.code_interpreter.sandbox.base import SandboxLimits, SandboxResult, safe_env
from workers.tools.code_interpreter.sandbox.process import launcher_argv, read_returned, return_channel, run_supervised


class UnsafeSandbox:
    mode = "unsafe"
    isolated = False
    unavailable_reason: str | None = None

    def __init__(self, python: str | None = None) -> None:
        self.python = os.path.abspath(shutil.which(python or sys.executable) or python or sys.executable)

    def run(self, code: str, limits: SandboxLimits, job: bytes | None = None) -> SandboxResult:
        with tempfile.TemporaryDirectory(prefix="code-interpreter-") as root, ExitStack() as stack:
            workdir = os.path.join(root, "data")
            scratch = os.path.join(root, "tmp")
            os.mkdir(workdir)
            os.mkdir(scratch)
            # Outside the work dir so that the files in it are only the ones the code made.
            script = os.path.join(root, "main.py")
            with open(script, "w", encoding="utf-8") as file:
                file.write(code)
            program = [self.python, "-I", script]
            out_fd = None
            if job is not None:
                job_path = os.path.join(root, "job")
                with open(job_path, "wb") as data:
                    data.write(job)
                out_fd = stack.enter_context(return_channel())
                program += [job_path, str(out_fd)]
            argv = launcher_argv(sys.executable, limits, program)
            passed = [out_fd] if out_fd is not None else []
            done = run_supervised(argv, safe_env(workdir, scratch), workdir, limits, pass_fds=passed)
            returned = read_returned(out_fd, limits.max_returned_bytes) if out_fd is not None else b""
        return SandboxResult(
            logs=done.logs, exit_code=done.exit_code, timed_out=done.timed_out, sandboxed=False, returned=returned
        )
