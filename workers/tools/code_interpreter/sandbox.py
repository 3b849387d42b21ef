"""Run one piece of untrusted Python for `code_interpreter`: fresh directory, scrubbed env, rlimits, bwrap if usable."""

from __future__ import annotations

import codecs
import contextlib
import functools
import logging
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

SANDBOX_WORKDIR = "/mnt/data"
TRUNCATION_MARKER = "\n[output truncated]"

# Outside the work dir so that the user's files in /mnt/data are only the ones their code made.
_SANDBOX_SCRIPT = "/sandbox/main.py"
_SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Only what the dynamic loader, locale/time, user lookups and TLS/MIME tables need: the rest of /etc holds service
# configs and credentials (e.g. /etc/shadow, which the sandbox's uid 0 would otherwise be able to read).
_ETC_PATHS = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/mime.types",
    "/etc/fonts",
    "/etc/ssl",
    "/etc/ca-certificates",
)
_PROBE_TIMEOUT_S = 10.0
_READ_CHUNK = 65536
# Bounds the wait for the main process's exit while a background child it left keeps the pipe open.
_EXIT_POLL_S = 0.1
# After the process group is killed, an escaped descendant (setsid, fallback path only) may still hold the pipe.
_DRAIN_GRACE_S = 2.0
_MB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 30.0  # wall clock
    cpu_s: int = 30  # RLIMIT_CPU
    memory_mb: int = 512  # RLIMIT_AS
    file_size_mb: int = 64  # RLIMIT_FSIZE
    max_processes: int = 64  # RLIMIT_NPROC is not enforced for root, so this only bites for a non-root worker
    max_output_bytes: int = 64_000


@dataclass(frozen=True)
class SandboxResult:
    """`exit_code` is None on timeout; death by signal N is 128 + N on both paths (bwrap reports it that way)."""

    logs: str
    exit_code: int | None
    timed_out: bool
    sandboxed: bool


def _safe_env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
    }


def _mirror(path: str) -> list[str]:
    # Merged-/usr systems have /bin, /lib... as symlinks; recreating the link keeps the layout identical inside.
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    if os.path.exists(path):
        return ["--ro-bind", path, path]
    return []


def _bwrap_args(workdir: str, ro_binds: Iterable[tuple[str, str]]) -> list[str]:
    args = [
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    for path in (*_SYSTEM_PATHS, *_ETC_PATHS):
        args += _mirror(path)
    for source, dest in ro_binds:
        args += ["--ro-bind", source, dest]
    args += ["--bind", workdir, SANDBOX_WORKDIR, "--chdir", SANDBOX_WORKDIR, "--clearenv"]
    # bwrap's root is a writable tmpfs; it can only be sealed once every mount point on it has been created.
    args += ["--remount-ro", "/"]
    for name, value in _safe_env(SANDBOX_WORKDIR).items():
        args += ["--setenv", name, value]
    return args


@functools.cache
def bwrap_available() -> bool:
    """Whether bwrap can build the sandbox here; containers often forbid the namespaces it needs, so try it once."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        logger.warning("bwrap not found: code_interpreter runs without namespace isolation")
        return False
    with tempfile.TemporaryDirectory(prefix="code-interpreter-probe-") as workdir:
        argv = [bwrap, *_bwrap_args(workdir, ()), "true"]
        try:
            probe = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=_safe_env(workdir),
                timeout=_PROBE_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            logger.warning("bwrap probe failed, code_interpreter runs without namespace isolation: %s", exc)
            return False
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip()
        logger.warning("bwrap unusable, code_interpreter runs without namespace isolation: %s", reason)
        return False
    return True


def _covered(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


@functools.cache
def _python_prefixes(interpreter: str) -> tuple[str, ...]:
    """The installation (and venv) directories `interpreter` needs, to be bound read-only into the sandbox."""
    if interpreter == os.path.abspath(sys.executable):
        found = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    else:
        # Asking the (trusted, configured) interpreter itself is the only reliable way across venvs and pyenv shims.
        query = "import sys; print(sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, sep='\\n')"
        out = subprocess.run(
            [interpreter, "-I", "-c", query],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=_safe_env(tempfile.gettempdir()),
            timeout=_PROBE_TIMEOUT_S,
            check=True,
        ).stdout
        found = out.splitlines()
    system = [os.path.realpath(path) for path in _SYSTEM_PATHS]
    prefixes: list[str] = []
    # Shortest first so a venv nested in its base installation is bound over it, not under it.
    for prefix in sorted({os.path.abspath(path) for path in found}, key=len):
        # A prefix of "/" would expose the whole host; system prefixes are bound already.
        if prefix == "/" or _covered(os.path.realpath(prefix), system) or not os.path.isdir(prefix):
            continue
        prefixes.append(prefix)
    return tuple(prefixes)


# preexec_fn would be simpler, but it runs Python between fork and exec, which can deadlock in the threaded worker
# pool; this wrapper sets the limits on itself and then becomes the real command, so bwrap runs under them too.
_LIMIT_AND_EXEC = """
import os, resource, sys
for name, value in zip(("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_CORE"), sys.argv[1:6]):
    resource.setrlimit(getattr(resource, name), (int(value), int(value)))
os.execv(sys.argv[6], sys.argv[6:])
"""


def _limited(argv: list[str], limits: SandboxLimits) -> list[str]:
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
    # -S: the wrapper needs no site-packages, only a fast start.
    return [sys.executable, "-I", "-S", "-c", _LIMIT_AND_EXEC, *values, *argv]


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
    # Also on a normal exit: background processes the code started must not outlive the run.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if not eof:
        _pump(fd, out, time.monotonic() + _DRAIN_GRACE_S, None)
    return out, timed_out


def run_python(code: str, limits: SandboxLimits = SandboxLimits(), python: str | None = None) -> SandboxResult:
    """Run `code` with `python` (default: this interpreter) in a new empty directory that is deleted afterwards.

    Inside bwrap the directory is /mnt/data and nothing else of the host is writable or reachable over the network;
    without bwrap the code runs as a plain child process, limited only by rlimits, the env and the wall clock.
    """
    interpreter = os.path.abspath(shutil.which(python or sys.executable) or python or sys.executable)
    bwrap = shutil.which("bwrap") if bwrap_available() else None
    with tempfile.TemporaryDirectory(prefix="code-interpreter-") as root:
        workdir = os.path.join(root, "data")
        os.mkdir(workdir)
        script = os.path.join(root, "main.py")
        with open(script, "w", encoding="utf-8") as file:
            file.write(code)
        if bwrap is not None:
            binds = [(prefix, prefix) for prefix in _python_prefixes(interpreter)]
            binds.append((script, _SANDBOX_SCRIPT))
            argv = [bwrap, *_bwrap_args(workdir, binds), interpreter, "-I", _SANDBOX_SCRIPT]
            env = _safe_env(SANDBOX_WORKDIR)
        else:
            argv = [interpreter, "-I", script]
            env = _safe_env(workdir)
        with subprocess.Popen(
            _limited(argv, limits),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,
        ) as proc:
            out, timed_out = _supervise(proc, limits)
    logs = out.text()
    if timed_out:
        separator = "\n" if logs and not logs.endswith("\n") else ""
        logs += f"{separator}Execution timed out after {limits.timeout_s:g}s"
        return SandboxResult(logs=logs, exit_code=None, timed_out=True, sandboxed=bwrap is not None)
    returncode = proc.returncode
    exit_code = 128 - returncode if returncode < 0 else returncode
    return SandboxResult(logs=logs, exit_code=exit_code, timed_out=False, sandboxed=bwrap is not None)
