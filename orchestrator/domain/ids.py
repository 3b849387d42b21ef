"""Prefixed object ids that sort by creation time, so Redis lexicographic indexes page in creation order."""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # ASCII order: lexicographic == numeric
_TIME_CHARS = 8  # 62**8 ms is ~6900 years
_RANDOM_CHARS = 14

_lock = threading.Lock()
_last_ms = 0
_last_random = 0


def _encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new id: `prefix` + 8 time chars + 14 random chars, monotonic within this process.

    Monotonicity matters because a thread's messages are created in one request within the same millisecond and
    must list in the order they were given.
    """
    global _last_ms, _last_random
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            now_ms = _last_ms
            _last_random += 1
        else:
            _last_random = secrets.randbelow(62**_RANDOM_CHARS // 2)
        _last_ms = now_ms
        return prefix + _encode(now_ms, _TIME_CHARS) + _encode(_last_random, _RANDOM_CHARS)
