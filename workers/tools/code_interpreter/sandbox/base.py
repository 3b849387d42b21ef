"""What every isolation mode shares: the limits of one execution, its result, and the refusal to run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SANDBOX_WORKDIR = "/mnt/data"


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 30.0  # wall clock, for the whole process tree
    cpu_s: int = 30  # RLIMIT_CPU, per process
    memory_mb: int = 512  # RLIMIT_AS, per process
    file_size_mb: int = 64  # RLIMIT_FSIZE
    max_processes: int = 64  # RLIMIT_NPROC: processes and threads of the sandbox's user
    max_output_bytes: int = 64_000
    scratch_mb: int = 128  # size of each in-memory writable dir (/mnt/data, /tmp) of the isolated mode
    max_returned_bytes: int = 48 * 1024 * 1024  # what the program may hand back through its return channel


@dataclass(frozen=True)
class SandboxResult:
    """`exit_code` is None on timeout; death by signal N is 128 + N in every mode (bwrap reports it that way)."""

    logs: str
    exit_code: int | None
    timed_out: bool
    sandboxed: bool
    #: What the program wrote to its return channel (only with a job; empty when it wrote more than allowed).
    returned: bytes = b""


class SandboxUnavailable(RuntimeError):
    """The mode cannot isolate code on this machine, so it refuses to run any; `reason` says why, for operators."""

    def __init__(self, mode: str, reason: str) -> None:
        super().__init__(f"{mode} sandbox unavailable: {reason}")
        self.mode = mode
        self.reason = reason

    def __repr__(self) -> str:
        return f"SandboxUnavailable(mode={self.mode!r}, reason={self.reason!r})"


class Sandbox(Protocol):
    """One isolation mode. `unavailable_reason` probes once per instance; `run` raises SandboxUnavailable then."""

    mode: str
    isolated: bool

    @property
    def unavailable_reason(self) -> str | None: ...

    def run(self, code: str, limits: SandboxLimits, job: bytes | None = None) -> SandboxResult:
        """Run `code`; with `job`, the program gets `argv[1]`, a read-only file holding `job`, and `argv[2]`, the
        number of a file descriptor whose contents come back as `SandboxResult.returned`."""
        ...


def safe_env(home: str, scratch: str = "/tmp") -> dict[str, str]:
    """The whole environment user code gets: nothing of the worker's."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        # matplotlib's config and font cache would otherwise land in HOME, the working dir, as files to hand back.
        "MPLCONFIGDIR": f"{scratch}/matplotlib",
        "XDG_CACHE_HOME": f"{scratch}/cache",
    }
