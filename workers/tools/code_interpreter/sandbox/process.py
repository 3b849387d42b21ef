"""Start one child under rlimits, collect at most N bytes of its output, kill its process tree at the deadline."""

from __future__ import annotations

import codecs
import contextlib
import os
import resource
import selectors
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from workers.tools.code_interpreter.sandbox.base import SandboxLimits

TRUNCATION_MARKER = "\n[output truncated]"
NO_UID = -1

_READ_CHUNK = 65536
# Bounds the wait for the main process's exit while a background child it left keeps the pipe open.
_EXIT_POLL_S = 0.1
# After the process group is killed, an escaped descendant (setsid, unsafe mode only) may still hold the pipe.
_DRAIN_GRACE_S = 2.0
_MB = 1024 * 1024

# preexec_fn would be simpler, but it runs Python between fork and exec, which can deadlock in the threaded worker
# pool. This launcher sets the limits on itself, drops root for a given uid (the isolated mode's root worker), and
# then becomes the real command. NPROC set here, after bwrap made its user namespace, counts only this sandbox.
LAUNCHER = """
import os, resource, sys
uid, gid = int(sys.argv[1]), int(sys.argv[2])
for name, value in zip(("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_CORE"), sys.argv[3:8]):
    resource.setrlimit(getattr(resource, name), (int(value), int(value)))
if uid >= 0 and os.getuid() == 0:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        sys.exit("sandbox: could not drop root")
os.execv(sys.argv[8], sys.argv[8:])
"""


@contextlib.contextmanager
def return_channel() -> Iterator[int]:
    """An anonymous in-memory file the program writes what it hands back to (its size bounded by RLIMIT_FSIZE)."""
    fd = os.memfd_create("sandbox-return")
    try:
        yield fd
    finally:
        os.close(fd)


def read_returned(fd: int, limit: int) -> bytes:
    """What the program wrote to the return channel `fd`; nothing at all when it wrote more than `limit` bytes."""
    if os.fstat(fd).st_size > limit:
        return b""
    chunks, size = [], 0
    while size <= limit and (chunk := os.pread(fd, _READ_CHUNK, size)):
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    return b"" if len(data) > limit else data


@dataclass(frozen=True)
class Completed:
    logs: str
    exit_code: int | None
    timed_out: bool


def launcher_argv(
    python: str, limits: SandboxLimits, argv: Sequence[str], uid: int = NO_UID, gid: int = NO_UID
) -> list[str]:
    """`argv` run by `python`'s launcher under `limits`, as `uid`/`gid` when the launcher starts as root."""
    wanted = (
        (resource.RLIMIT_AS, limits.memory_mb * _MB),
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * _MB),
        (resource.RLIMIT_NPROC, limits.max_processes),
        (resource.RLIMIT_CORE, 0),
    )
    values = []
    for which, value in wanted:
        # A worker cannot raise a hard limit it does not hold.
        hard = resource.getrlimit(which)[1]
        values.append(str(value if hard == resource.RLIM_INFINITY else min(value, hard)))
    # -S: the launcher needs no site-packages, only a fast start.
    return [python, "-I", "-S", "-c", LAUNCHER, str(uid), str(gid), *values, *argv]


class _Output:
    """The first `limit` bytes of the output; the rest is read and dropped so that the child never blocks."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if len(chunk) > room:
            self.truncated = True
        self.data += chunk[: max(room, 0)]

    def text(self) -> str:
        # final=False drops a multi-byte character cut in half by the limit instead of rendering it as U+FFFD.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = decoder.decode(bytes(self.data), final=not self.truncated)
        return text + TRUNCATION_MARKER if self.truncated else text


def _pump(fd: int, out: _Output, deadline: float, proc: subprocess.Popen[bytes] | None) -> bool:
    """Read `fd` into `out` until EOF (True), `deadline`, or the exit of `proc` when given (False)."""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if proc is not None and proc.poll() is not None:
                return False
            wait = remaining if proc is None else min(remaining, _EXIT_POLL_S)
            if selector.select(wait):
                chunk = os.read(fd, _READ_CHUNK)
                if not chunk:
                    return True
                out.add(chunk)
    return False


def _supervise(proc: subprocess.Popen[bytes], limits: SandboxLimits) -> tuple[_Output, bool]:
    """Collect the output and enforce the wall clock; returns the output and whether the run timed out.

    Not `communicate()`: it would buffer unbounded output in the worker, and after a kill it waits for EOF, which a
    descendant that left the process group can withhold forever.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    out = _Output(limits.max_output_bytes)
    deadline = time.monotonic() + limits.timeout_s
    eof = _pump(fd, out, deadline, proc)
    timed_out = False
    try:
        # EOF does not mean exit: the code may have closed its stdout and kept running.
        proc.wait(timeout=max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        timed_out = True
    # Also on a normal exit: background processes the code started must not outlive the run. Under bwrap, killing
    # bwrap kills the namespace's init (--die-with-parent), and with it every process of the pid namespace.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if not eof:
        _pump(fd, out, time.monotonic() + _DRAIN_GRACE_S, None)
    return out, timed_out


def run_supervised(
    argv: list[str], env: dict[str, str], cwd: str, limits: SandboxLimits, pass_fds: Sequence[int] = ()
) -> Completed:
    """Run `argv` in its own session with stdout and stderr merged, within `limits.timeout_s`."""
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
        pass_fds=tuple(pass_fds),
        start_new_session=True,
    ) as proc:
        out, timed_out = _supervise(proc, limits)
    logs = out.text()
    if timed_out:
        separator = "\n" if logs and not logs.endswith("\n") else ""
        return Completed(f"{logs}{separator}Execution timed out after {limits.timeout_s:g}s", None, True)
    returncode = proc.returncode
    return Completed(logs, 128 - returncode if returncode < 0 else returncode, False)
