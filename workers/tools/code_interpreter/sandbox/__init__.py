"""Running untrusted Python for `code_interpreter`: one module per isolation mode behind the `Sandbox` interface.

- `bubblewrap` (default): namespaces, an unprivileged user, no network, no host files; refuses to run code when
  it cannot build that isolation here (fails closed).
- `unsafe`: a plain rlimited child of the worker; only when an operator sets it explicitly.
"""

from __future__ import annotations

from typing import Literal

from workers.tools.code_interpreter.sandbox.base import (
    SANDBOX_WORKDIR,
    Sandbox,
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
)
from workers.tools.code_interpreter.sandbox.bubblewrap import BubblewrapSandbox
from workers.tools.code_interpreter.sandbox.process import TRUNCATION_MARKER
from workers.tools.code_interpreter.sandbox.unsafe import UnsafeSandbox

SandboxMode = Literal["bubblewrap", "unsafe"]

__all__ = [
    "SANDBOX_WORKDIR",
    "TRUNCATION_MARKER",
    "BubblewrapSandbox",
    "Sandbox",
    "SandboxLimits",
    "SandboxMode",
    "SandboxResult",
    "SandboxUnavailable",
    "UnsafeSandbox",
    "create_sandbox",
]


def create_sandbox(mode: SandboxMode, bwrap: str = "bwrap", python: str | None = None) -> Sandbox:
    """The sandbox of `mode`; `bwrap` is the bubblewrap binary (a name on PATH or a path)."""
    if mode == "bubblewrap":
        return BubblewrapSandbox(bwrap, python)
    if mode == "unsafe":
        return UnsafeSandbox(python)
    raise ValueError(f"unknown code sandbox mode {mode!r}")
