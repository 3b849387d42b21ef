"""The seccomp filter user code runs under (bwrap --seccomp): no new user namespace, none of the riskiest calls.

A root worker's sandbox has no user namespace of its own, so the kernel would let the code create one (and reach the
code paths behind it); a non-root worker's sandbox gets --disable-userns as well. Denied calls fail with EPERM;
clone3 fails with ENOSYS, as under Docker, because its flags live in memory a filter cannot read and the C library
falls back to clone. The program is classic BPF, assembled here for the worker's own architecture.
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8 * i (the low half first on little-endian machines).
_NR, _ARCH, _ARG0 = 0, 4, 16
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_CLONE_NEWUSER = 0x10000000
_X32_SYSCALL_BIT = 0x40000000

# Syscall numbers (x86_64, aarch64: the generic table), from the kernel's unistd headers. unshare and clone are
# checked for CLONE_NEWUSER, clone3 gets ENOSYS, every other one here is denied.
_NUMBERS = {
    "unshare": (272, 97),
    "clone": (56, 220),
    "clone3": (435, 435),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "bpf": (321, 280),
    "userfaultfd": (323, 282),
    "perf_event_open": (298, 241),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "setns": (308, 268),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "open_by_handle_at": (304, 265),
    "name_to_handle_at": (303, 264),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "move_mount": (429, 429),
    "open_tree": (428, 428),
    "mount_setattr": (442, 442),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "reboot": (169, 142),
    "syslog": (103, 116),
}
_FLAG_CHECKED = ("unshare", "clone", "clone3")
_AUDIT_ARCHES = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


def filter_program(machine: str | None = None) -> bytes | None:
    """The filter as struct sock_filter[] bytes for `machine` (default: this one), or None where it is not known."""
    machine = machine or platform.machine()
    audit_arch = _AUDIT_ARCHES.get(machine)
    if audit_arch is None:
        return None
    numbers = {name: pair[0 if machine == "x86_64" else 1] for name, pair in _NUMBERS.items()}
    denied = [number for name, number in numbers.items() if name not in _FLAG_CHECKED]
    # Labels at the end, reached by forward jumps: jt/jf count instructions to skip.
    body: list[tuple[str, int, int | str, int | str]] = [("ld", _ARCH, 0, 0), ("jeq", audit_arch, 0, "deny")]
    body.append(("ld", _NR, 0, 0))
    if machine == "x86_64":
        body.append(("jge", _X32_SYSCALL_BIT, "deny", 0))  # the x32 ABI: the same arch, other numbers
    body += [("jeq", number, "deny", 0) for number in denied]
    body += [("jeq", numbers["clone3"], "enosys", 0), ("jeq", numbers["unshare"], "flags", 0)]
    body += [("jeq", numbers["clone"], "flags", 0), ("ret", _RET_ALLOW, 0, 0)]
    labels = {"flags": len(body), "deny": len(body) + 3, "enosys": len(body) + 4}
    body += [("ld", _ARG0, 0, 0), ("jset", _CLONE_NEWUSER, "deny", 0), ("ret", _RET_ALLOW, 0, 0)]
    body += [("ret", _RET_ERRNO | errno.EPERM, 0, 0), ("ret", _RET_ERRNO | errno.ENOSYS, 0, 0)]
    opcodes = {"ld": _LD_W_ABS, "jeq": _JEQ_K, "jge": _JGE_K, "jset": _JSET_K, "ret": _RET_K}
    program = b""
    for index, (op, k, jt, jf) in enumerate(body):
        jump_true, jump_false = (labels[j] - index - 1 if isinstance(j, str) else j for j in (jt, jf))
        program += struct.pack("=HBBI", opcodes[op], jump_true, jump_false, k)
    return program
