"""Files across the sandbox's wall: the job that seeds /mnt/data and replays a session, and what comes back.

The sandbox runs `runner.py` as its program; this module writes the job it reads and reads the bundle it writes.
The returned bundle is written by code under the user's control, so it is parsed as untrusted input: every entry
must lie inside the payload, names are normalised paths under /mnt/data, and the counts and sizes are capped again.
"""

from __future__ import annotations

import json
import posixpath
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workers.tools.code_interpreter import runner

#: The sandbox's program, shipped as source (it runs on the sandbox's interpreter, under -I).
RUNNER_SOURCE = Path(runner.__file__).read_text(encoding="utf-8")
SANDBOX_PREFIX = "sandbox:/mnt/data/"
MAX_RETURNED_FILES = 20
MAX_RETURNED_BYTES = 32 * 1024 * 1024
_HEADER = struct.Struct(">Q")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


class BadBundle(ValueError):
    """The sandbox handed back something that is not a well-formed bundle."""


@dataclass(frozen=True)
class Cell:
    """A cell to replay: its code and the files seeded just before it ran (name -> bytes)."""

    code: str
    files: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Returned:
    """What one execution handed back: files it wrote (path under /mnt/data -> bytes), its open figures as PNGs."""

    files: dict[str, bytes] = field(default_factory=dict)
    figures: list[bytes] = field(default_factory=list)
    skipped: list[tuple[str, int]] = field(default_factory=list)
    replay_timeout: bool = False
    timed_out: bool = False  # the cell was stopped by its own clock


def sandbox_name(filename: str) -> str:
    """The name a file gets in /mnt/data: its base name, with nothing that could climb out or hide."""
    name = posixpath.basename(filename.replace("\\", "/")).strip().lstrip(".")
    name = "".join(ch for ch in name if ch.isprintable())
    return name or "file"


def is_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def encode_job(
    code: str,
    files: Mapping[str, bytes],
    replay: Sequence[Cell] = (),
    *,
    timeout_s: float,
    replay_s: float,
    max_files: int = MAX_RETURNED_FILES,
    max_bytes: int = MAX_RETURNED_BYTES,
) -> bytes:
    """The runner's job: seed `files`, replay `replay` silently, run `code`; entries point into the payload."""
    blobs: list[bytes] = []
    offset = 0

    def entries(named: Mapping[str, bytes]) -> list[list[object]]:
        nonlocal offset
        out: list[list[object]] = []
        for name, data in named.items():
            out.append([sandbox_name(name), offset, len(data)])
            blobs.append(data)
            offset += len(data)
        return out

    header = {
        "replay": [{"code": cell.code, "files": entries(cell.files)} for cell in replay],
        "files": entries(files),
        "code": code,
        "timeout_s": timeout_s,
        "replay_s": replay_s,
        "max_files": max_files,
        "max_bytes": max_bytes,
    }
    encoded = json.dumps(header).encode()
    return _HEADER.pack(len(encoded)) + encoded + b"".join(blobs)


def decode_returned(data: bytes, max_files: int = MAX_RETURNED_FILES, max_bytes: int = MAX_RETURNED_BYTES) -> Returned:
    """Parse the runner's result bundle; raises BadBundle when it is not one (the code wrote over it, or died)."""
    if not data:
        return Returned()
    try:
        (size,) = _HEADER.unpack_from(data)
        header = json.loads(data[_HEADER.size : _HEADER.size + size])
    except (struct.error, ValueError) as exc:
        raise BadBundle(str(exc)) from exc
    if not isinstance(header, dict):
        raise BadBundle("header is not an object")
    payload = memoryview(data)[_HEADER.size + size :]
    returned = Returned(replay_timeout=header.get("replay_timeout") is True, timed_out=header.get("timed_out") is True)
    total = 0
    for entry in _list(header.get("entries")):
        name, start, length = _entry(entry, len(payload))
        total += length
        if len(returned.files) + len(returned.figures) >= max_files or total > max_bytes:
            returned.skipped.append((name, length))
            continue
        blob = bytes(payload[start : start + length])
        if name.startswith("figure:"):
            returned.figures.append(blob)
        elif name.startswith("file:") and (path := _relative_path(name[len("file:") :])) is not None:
            returned.files[path] = blob
    for skipped in _list(header.get("skipped")):
        if isinstance(skipped, list) and len(skipped) == 2 and isinstance(skipped[0], str):
            returned.skipped.append((skipped[0], int(skipped[1]) if isinstance(skipped[1], int) else 0))
    return returned


def skipped_note(skipped: Sequence[tuple[str, int]], max_files: int, max_bytes: int) -> str:
    """A line for the logs naming what did not come back, so neither the model nor the user waits for it."""
    if not skipped:
        return ""
    names = ", ".join(f"{name} ({size} bytes)" for name, size in skipped[:5])
    more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    return (
        f"\n[not returned, over the limit of {max_files} files or {max_bytes // (1024 * 1024)} MiB "
        f"per execution: {names}{more}]"
    )


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _entry(entry: object, payload_size: int) -> tuple[str, int, int]:
    if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)):
        raise BadBundle(f"bad entry {entry!r:.100}")
    name, start, length = entry
    if not (isinstance(start, int) and isinstance(length, int) and start >= 0 and length >= 0):
        raise BadBundle(f"bad entry {entry!r:.100}")
    if start + length > payload_size:
        raise BadBundle("entry past the end of the payload")
    return name, start, length


def _relative_path(path: str) -> str | None:
    """`path` normalised under /mnt/data, or None when it would leave it."""
    normal = posixpath.normpath(path.replace("\\", "/"))
    if normal.startswith(("/", "..")) or normal in (".", "") or not normal.isprintable():
        return None
    return normal
