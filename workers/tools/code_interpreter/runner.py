"""The program the sandbox runs for every code_interpreter call: replay the session, run the cell, hand back files.

This file's source is shipped into the sandbox as its main program (it is never imported by the worker), so it
uses the standard library only and trusts nothing but its own job. `argv[1]` is the job (`bundle.py` format:
`{"replay": [{"code", "files"}], "files", "code", "timeout_s", "replay_s", ...}` and the files' bytes),
`argv[2]` the number of a file descriptor to write the result bundle to: the files the cell wrote or changed
under /mnt/data and the matplotlib figures it left open.

Replayed cells run with their output discarded and their figures closed, under their own time budget; when it
runs out, the runner hands back `replay_timeout` without running the cell, so the worker can start afresh. The
cell itself runs as a notebook cell would: its last expression's value is printed, an exception prints a trimmed
traceback (exit code 1), and `sys.exit(n)` ends it with exit code n.
"""

import ast
import builtins
import contextlib
import io
import json
import os
import signal
import struct
import sys
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

Job = dict[str, Any]
Blobs = list[tuple[str, bytes]]

WORKDIR = "."  # the sandbox starts the program in its working dir: /mnt/data when isolated
CELL_NAME = "<cell>"
RESET_NOTE = "Code execution state reset."
TIMED_OUT = 124  # the exit code of a cell stopped by its own clock, as timeout(1) has it
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


class _OutOfTime(BaseException):
    """Raised by the alarm: a BaseException so that a plain `except Exception` in user code does not swallow it."""


def read_bundle(data: bytes) -> tuple[Job, memoryview]:
    """(header, payload) of a bundle: an 8-byte big-endian header length, the JSON header, the payload."""
    (size,) = struct.unpack(">Q", data[:8])
    return json.loads(data[8 : 8 + size]), memoryview(data)[8 + size :]


def write_bundle(fd: int, header: Job, blobs: Blobs) -> None:
    """Write `header` plus `blobs`, each described in header["entries"] as [name, offset, size]."""
    header["entries"] = []
    offset = 0
    for name, blob in blobs:
        header["entries"].append([name, offset, len(blob)])
        offset += len(blob)
    encoded = json.dumps(header).encode()
    with os.fdopen(fd, "wb", closefd=False) as out:
        out.write(struct.pack(">Q", len(encoded)) + encoded)
        for _, blob in blobs:
            out.write(blob)


def seed(files: list[list[Any]], payload: memoryview) -> None:
    """Write the job's files ([name, offset, size]) into the working directory under their names."""
    for name, offset, size in files:
        path = os.path.join(WORKDIR, name)
        with open(path, "wb") as out:
            out.write(payload[offset : offset + size])


def snapshot() -> dict[str, tuple[int, int]]:
    """path relative to /mnt/data -> (size, mtime_ns) of every regular file under it (symlinks not followed)."""
    seen: dict[str, tuple[int, int]] = {}
    for root, dirs, names in os.walk(WORKDIR):
        # Dot-dirs and dot-files are caches and configs libraries leave in HOME (the working dir), not results.
        dirs[:] = [d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(root, d))]
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if os.path.isfile(path) and not os.path.islink(path):
                seen[os.path.relpath(path, WORKDIR)] = (st.st_size, st.st_mtime_ns)
    return seen


def _alarm(_signum: int, _frame: object) -> None:
    raise _OutOfTime()


def run_cell(code: str, namespace: dict[str, Any], echo_last: bool) -> None:
    """Run `code` in `namespace`; with `echo_last`, a trailing expression's value is printed (its repr)."""
    tree = ast.parse(code, CELL_NAME)
    last: ast.Expression | None = None
    tail = tree.body[-1] if tree.body else None
    if echo_last and isinstance(tail, ast.Expr):
        tree.body.pop()
        last = ast.Expression(tail.value)
    exec(compile(tree, CELL_NAME, "exec"), namespace)
    if last is not None:
        value = eval(compile(last, CELL_NAME, "eval"), namespace)
        if value is not None:
            sys.stdout.write(repr(value) + "\n")


def close_figures() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


def open_figures(limit: int) -> list[bytes]:
    """The open matplotlib figures as PNG bytes (at most `limit`), then closed: what a notebook would display."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    images: list[bytes] = []
    for number in pyplot.get_fignums()[:limit]:
        buffer = io.BytesIO()
        pyplot.figure(number).savefig(buffer, format="png")
        images.append(buffer.getvalue())
    pyplot.close("all")
    return images


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Discard everything written to stdout and stderr, by Python or by child processes, inside the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def replay(cells: list[Job], payload: memoryview, namespace: dict[str, Any], budget_s: float) -> bool:
    """Run earlier cells again, silently; False if they took longer than `budget_s` (the state is then unusable)."""
    signal.setitimer(signal.ITIMER_REAL, budget_s)
    try:
        with silenced():
            for cell in cells:
                seed(cell["files"], payload)
                # An earlier cell that failed did so the first time too: its partial effects are part of the state.
                with contextlib.suppress(Exception, SystemExit):
                    run_cell(cell["code"], namespace, echo_last=False)
                close_figures()
    except _OutOfTime:
        return False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return True


def print_error(exc: BaseException) -> None:
    """The traceback from the cell's own frames on, as a notebook shows it (the runner's frames are noise)."""
    frames = traceback.extract_tb(exc.__traceback__)
    keep = next((i for i, frame in enumerate(frames) if frame.filename == CELL_NAME), len(frames))
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames[keep:])]
    lines += traceback.format_exception_only(type(exc), exc)
    sys.stderr.write("".join(lines))


def run(job: Job, payload: memoryview) -> tuple[int, Job, Blobs]:
    """Returns (exit code, result header, [(name, bytes)])."""
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    if job["replay"] and not replay(job["replay"], payload, namespace, job["replay_s"]):
        return 0, {"replay_timeout": True}, []
    seed(job["files"], payload)
    before = snapshot()
    code = 0
    signal.setitimer(signal.ITIMER_REAL, job["timeout_s"])
    try:
        run_cell(job["code"], namespace, echo_last=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except _OutOfTime:
        sys.stderr.write(f"Execution timed out after {job['timeout_s']:g}s\n")
        code = TIMED_OUT
    except BaseException as exc:
        print_error(exc)
        code = 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    sys.stdout.flush()
    sys.stderr.flush()
    header, blobs = collect(before, job)
    header["timed_out"] = code == TIMED_OUT
    return code, header, blobs


def collect(before: dict[str, tuple[int, int]], job: Job) -> tuple[Job, Blobs]:
    """The files the cell wrote or changed, within the job's limits, and its open figures unless it saved images."""
    header: Job = {"skipped": []}
    blobs: Blobs = []
    total = 0
    changed = sorted(path for path, state in snapshot().items() if before.get(path) != state)
    for path in changed:
        size = os.path.getsize(os.path.join(WORKDIR, path))
        if len(blobs) >= job["max_files"] or total + size > job["max_bytes"]:
            header["skipped"].append([path, size])
            continue
        with open(os.path.join(WORKDIR, path), "rb") as file:
            blob = file.read(size)
        total += len(blob)
        blobs.append(("file:" + path, blob))
    saved_images = any(path.lower().endswith(_IMAGE_SUFFIXES) for path in changed)
    if not saved_images:
        for index, png in enumerate(open_figures(job["max_files"])):
            if len(blobs) >= job["max_files"] or total + len(png) > job["max_bytes"]:
                header["skipped"].append([f"figure {index + 1}", len(png)])
                continue
            total += len(png)
            blobs.append((f"figure:{index + 1}", png))
    return header, blobs


def main() -> None:
    with open(sys.argv[1], "rb") as file:
        job, payload = read_bundle(file.read())
    out_fd = int(sys.argv[2])
    sys.argv = [""]
    signal.signal(signal.SIGALRM, _alarm)
    # A figure "shown" under Agg is captured at the end of the cell; matplotlib's warning about it is noise.
    warnings.filterwarnings("ignore", message=".*non-interactive.*")
    code, header, blobs = run(job, payload)
    write_bundle(out_fd, header, blobs)
    sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
