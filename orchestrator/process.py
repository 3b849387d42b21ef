"""Process plumbing for the long-running commands: a stop flag set by signals, and children that die with us."""

from __future__ import annotations

import contextlib
import ctypes
import resource
import signal
import time
from typing import Any, Protocol

_PR_SET_PDEATHSIG = 1


class Stopper(Protocol):
    """What a long-running loop needs of its stop flag: `StopSignal`, or a test's own."""

    def is_set(self) -> bool: ...

    def wait(self, seconds: float) -> bool: ...


class StopSignal:
    """Set by SIGINT or SIGTERM.

    A plain flag rather than `threading.Event`: a handler calling `Event.set()` runs in the main thread and can
    block forever on the lock that the interrupted `Event.wait()` in that same thread is holding.
    """

    def __init__(self) -> None:
        self.received = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = True

    def is_set(self) -> bool:
        return self.received

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, returning early (True) once a stop signal arrived."""
        deadline = time.monotonic() + seconds
        while not self.received and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return self.received


def die_with_parent() -> None:
    """`preexec_fn` for children: the kernel sends them SIGTERM when the parent dies, even by SIGKILL."""
    with contextlib.suppress(OSError):  # not Linux: children are still stopped on a clean shutdown
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def raise_open_files_limit() -> int:
    """Lift this process's soft limit on open files to its hard limit, and return it: every SSE stream holds a
    socket, and the common default soft limit of 1024 would refuse connections well before a thousand streams."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):  # a hard limit the kernel caps lower: keep what we have
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
