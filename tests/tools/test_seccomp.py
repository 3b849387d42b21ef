"""The seccomp program handed to bwrap: well formed for each known architecture, absent for others."""

from __future__ import annotations

import struct

import pytest

from workers.tools.code_interpreter.sandbox import seccomp

RET_K = 0x06


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_program_is_whole_instructions_ending_in_returns(machine: str) -> None:
    program = seccomp.filter_program(machine)
    assert program is not None
    assert len(program) % 8 == 0
    instructions = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    assert instructions[-1][0] == RET_K
    for index, (code, jump_true, jump_false, _) in enumerate(instructions):
        # Every jump lands inside the program (the kernel rejects it otherwise, and bwrap would refuse to start).
        if code != RET_K:
            assert index + 1 + max(jump_true, jump_false) < len(instructions)


def test_unknown_architecture_gets_no_program() -> None:
    assert seccomp.filter_program("riscv64") is None
