"""`bubblewrap` mode: each execution in fresh namespaces, as an unprivileged user, seeing only what Python needs.

- user: never root. A root worker runs bwrap without a user namespace and the launcher inside drops to a uid of
  its own (unused on the host), so RLIMIT_NPROC binds and counts only this execution; a non-root worker runs bwrap
  in a user namespace as uid 65534, where the limit, set after the namespace exists, again counts only this one.
- network: a new, empty network namespace (no Redis, no API, no metadata service); pid: a new pid namespace with
  a fresh /proc, so no other process (nor its environ) is visible, and killing bwrap ends every process in it.
- files: read-only system dirs and the interpreter's installation (a venv is mounted at /opt/venv, so the worker's
  checkout is not visible); /mnt/data, /tmp and /dev/shm are size-capped tmpfs mounts that vanish with the
  namespace, even when the worker is killed (--die-with-parent).
- kernel: no capabilities, no_new_privs, and a seccomp filter (seccomp.py): no new user namespace, no eBPF, perf,
  io_uring, keyrings, ptrace or mounts.

The first use probes the whole path once (a real execution); if it fails, the mode refuses to run code.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

from workers.tools.code_interpreter.sandbox import seccomp
from workers.tools.code_interpreter.sandbox.base import (
    SANDBOX_WORKDIR,
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
    safe_env,
)
from workers.tools.code_interpreter.sandbox.process import launcher_argv, read_returned, return_channel, run_supervised

SANDBOX_SCRIPT = "/sandbox/main.py"
SANDBOX_JOB = "/sandbox/job"
VENV_MOUNT = "/opt/venv"
USERNS_UID = 65534  # the sandbox's uid inside its user namespace (non-root worker): "nobody"
# A root worker gives each execution a host uid of its own from here: above the ranges distributions and rootless
# container runtimes hand out, so the uid owns no file and runs no other process.
EPHEMERAL_UIDS = range(1 << 30, (1 << 31) - 1)

_SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Only what the dynamic loader, locale/time and TLS/MIME tables need: the rest of /etc holds service configs and
# credentials. passwd and group are generated: the host's list its users.
_ETC_PATHS = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/mime.types",
    "/etc/fonts",
    "/etc/ssl",
    "/etc/ca-certificates",
)
_PROBE_CODE = "import os\nassert os.getuid() != 0 and os.geteuid() != 0, 'still root'\nprint('ok')"
_PROBE_TIMEOUT_S = 15.0


def _covered(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _query_prefixes(interpreter: str) -> list[str]:
    if interpreter == os.path.abspath(sys.executable):
        return [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    # Asking the (trusted, configured) interpreter itself is the only reliable way across venvs and pyenv shims.
    query = "import sys; print(sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, sep='\\n')"
    out = subprocess.run(
        [interpreter, "-I", "-c", query],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=safe_env(tempfile.gettempdir()),
        timeout=_PROBE_TIMEOUT_S,
        check=True,
    ).stdout
    return out.splitlines()


@functools.cache
def python_layout(interpreter: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The path to run `interpreter` by inside the sandbox, and the (source, dest) dirs to bind read-only for it."""
    prefix, base_prefix, exec_prefix, base_exec_prefix = (os.path.abspath(p) for p in _query_prefixes(interpreter))
    system = [os.path.realpath(path) for path in _SYSTEM_PATHS]
    binds: list[tuple[str, str]] = []
    path_inside = interpreter
    is_venv = prefix != base_prefix
    if is_venv and _covered(interpreter, [prefix]) and not _covered(os.path.realpath(prefix), system):
        # Mounted elsewhere: the venv usually lives in the worker's checkout, which must stay out of sight.
        binds.append((prefix, VENV_MOUNT))
        path_inside = VENV_MOUNT + interpreter[len(prefix) :]
    installs = {base_prefix, base_exec_prefix} if is_venv else {prefix, exec_prefix, base_prefix, base_exec_prefix}
    # Shortest first, and nested ones skipped: one bind covers them.
    for path in sorted(installs, key=len):
        covered = _covered(os.path.realpath(path), system) or _covered(path, [src for src, _ in binds])
        # A prefix of "/" would expose the whole host.
        if path == "/" or covered or not os.path.isdir(path):
            continue
        binds.append((path, path))
    return path_inside, tuple(binds)


class _Args:
    """bwrap's argument list; parent dirs are made explicitly, world-traversable (bwrap's own are 0700 as root)."""

    def __init__(self) -> None:
        self.argv: list[str] = []
        self._dirs: set[str] = {"/"}

    def add(self, *args: str) -> None:
        self.argv += args

    def parents(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent in self._dirs:
            return
        self.parents(parent)
        self._dirs.add(parent)
        self.add("--perms", "0755", "--dir", parent)

    def mount(self, option: str, source: str, dest: str) -> None:
        self.parents(dest)
        self.add(option, source, dest)

    def mirror(self, path: str) -> None:
        # Merged-/usr systems have /bin, /lib... as symlinks; recreating the link keeps the layout identical inside.
        if os.path.islink(path):
            self.parents(path)
            self.add("--symlink", os.readlink(path), path)
        elif os.path.exists(path):
            self.mount("--ro-bind", path, path)


@contextmanager
def _data_fds(*contents: bytes) -> Iterator[list[int]]:
    """Anonymous in-memory files bwrap copies into the sandbox; no host file holds the code."""
    with ExitStack() as stack:
        fds = []
        for data in contents:
            fd = os.memfd_create("sandbox-data")
            stack.callback(os.close, fd)
            os.write(fd, data)
            os.lseek(fd, 0, os.SEEK_SET)
            fds.append(fd)
        yield fds


class BubblewrapSandbox:
    mode = "bubblewrap"
    isolated = True

    def __init__(self, bwrap: str = "bwrap", python: str | None = None) -> None:
        self.bwrap = bwrap
        self.python = os.path.abspath(shutil.which(python or sys.executable) or python or sys.executable)

    @functools.cached_property
    def unavailable_reason(self) -> str | None:
        """Why this machine cannot isolate code (a missing bwrap, forbidden namespaces...), or None; probed once."""
        if shutil.which(self.bwrap) is None:
            return f"bubblewrap not found ({self.bwrap!r})"
        try:
            probe = self._execute(_PROBE_CODE, SandboxLimits(timeout_s=_PROBE_TIMEOUT_S))
        except (OSError, subprocess.SubprocessError) as exc:
            return f"probe failed: {exc}"
        if probe.exit_code != 0 or probe.logs != "ok\n":
            return f"probe failed: {probe.logs.strip() or probe.exit_code}"
        return None

    def run(self, code: str, limits: SandboxLimits, job: bytes | None = None) -> SandboxResult:
        """Run `code` isolated; raises SandboxUnavailable instead of running it any other way."""
        reason = self.unavailable_reason
        if reason is not None:
            raise SandboxUnavailable(self.mode, reason)
        if job is None:
            return self._execute(code, limits)
        with return_channel() as out_fd:
            result = self._execute(code, limits, job, out_fd)
            return dataclasses.replace(result, returned=read_returned(out_fd, limits.max_returned_bytes))

    def _execute(
        self, code: str, limits: SandboxLimits, job: bytes | None = None, out_fd: int | None = None
    ) -> SandboxResult:
        bwrap = shutil.which(self.bwrap)
        if bwrap is None:
            raise FileNotFoundError(self.bwrap)
        python_inside, binds = python_layout(self.python)
        as_root = os.geteuid() == 0
        uid = EPHEMERAL_UIDS[secrets.randbelow(len(EPHEMERAL_UIDS))] if as_root else USERNS_UID
        passwd = f"sandbox:x:{uid}:{uid}:sandbox:{SANDBOX_WORKDIR}:/usr/sbin/nologin\n".encode()
        group = f"sandbox:x:{uid}:\n".encode()
        seccomp_program = seccomp.filter_program()
        contents = [code.encode(), passwd, group, *([job] if job is not None else []), *filter(None, [seccomp_program])]
        with _data_fds(*contents) as fds:
            args = self._bwrap_args(as_root, limits, binds, fds, has_job=job is not None)
            program = [python_inside, "-I", SANDBOX_SCRIPT]
            if job is not None and out_fd is not None:
                program += [SANDBOX_JOB, str(out_fd)]
            inner = launcher_argv(python_inside, limits, program, uid, uid)
            # The return channel is inherited through bwrap, as the fds it reads its data from are.
            passed = [*fds, *([out_fd] if out_fd is not None else [])]
            # bwrap's own environment is visible in the sandbox (/proc/1/environ of a non-root worker): keep it clean.
            done = run_supervised([bwrap, *args, *inner], safe_env("/"), "/", limits, pass_fds=passed)
        return SandboxResult(logs=done.logs, exit_code=done.exit_code, timed_out=done.timed_out, sandboxed=True)

    @staticmethod
    def _bwrap_args(
        as_root: bool, limits: SandboxLimits, binds: Iterable[tuple[str, str]], fds: list[int], has_job: bool = False
    ) -> list[str]:
        args = _Args()
        args.add("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try")
        args.add("--die-with-parent", "--new-session", "--hostname", "sandbox")
        if as_root:
            # No user namespace: the launcher needs these two to become the ephemeral uid, which clears them again.
            args.add("--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID")
        else:
            uid = str(USERNS_UID)
            args.add("--unshare-user", "--disable-userns", "--uid", uid, "--gid", uid, "--cap-drop", "ALL")
        args.add("--proc", "/proc", "--dev", "/dev")
        scratch = str(limits.scratch_mb * 1024 * 1024)
        # /dev/shm: multiprocessing's locks and queues live there.
        for path in ("/tmp", "/dev/shm", SANDBOX_WORKDIR):
            args.parents(path)
            args.add("--perms", "1777", "--size", scratch, "--tmpfs", path)
        for path in (*_SYSTEM_PATHS, *_ETC_PATHS):
            args.mirror(path)
        for source, dest in binds:
            args.mount("--ro-bind", source, dest)
        code_fd, passwd_fd, group_fd, *rest = (str(fd) for fd in fds)
        job_fd, seccomp_fd = (rest[0], rest[1:]) if has_job else (None, rest)
        if seccomp_fd:
            args.add("--seccomp", seccomp_fd[0])
        args.parents("/etc/passwd")
        args.add("--perms", "0444", "--ro-bind-data", passwd_fd, "/etc/passwd")
        args.add("--perms", "0444", "--ro-bind-data", group_fd, "/etc/group")
        args.parents(SANDBOX_SCRIPT)
        args.add("--perms", "0444", "--file", code_fd, SANDBOX_SCRIPT)
        if job_fd is not None:
            args.add("--perms", "0444", "--file", job_fd, SANDBOX_JOB)
        args.add("--chdir", SANDBOX_WORKDIR, "--clearenv")
        for name, value in safe_env(SANDBOX_WORKDIR, "/tmp").items():
            args.add("--setenv", name, value)
        # bwrap's root is a writable tmpfs; it can only be sealed once every mount point on it has been created.
        args.add("--remount-ro", "/")
        return args.argv
