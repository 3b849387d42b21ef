"""Reading a model stream so that a cancel or an expiry stops it within a second, even while the model is
silent: the stream is read on a reader thread (`readers`) and the executor waits on a queue it can stop waiting
on.

Closing a connection from another thread does not reliably wake a read blocked on it, so the executor never
blocks on the socket itself.

The queue also tells when the model has paused: pieces that are already waiting arrived faster than the executor
takes them, so the turn may send them as one delta; `IDLE` says that nothing more came within `idle_s`, so text
held back for coalescing goes out now.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from orchestrator.errors import ConcurrentUpdate
from orchestrator.settings import get_settings
from workers.executor import readers
from workers.executor.llm import ChatModel, Closable, Piece


@functools.cache
def coalesce_window_s() -> float:
    """`ORCH_DELTA_COALESCE_MS` in seconds, read once per process (the hot path asks for it every turn)."""
    return get_settings().delta_coalesce_ms / 1000


_END = object()
_EMPTY = object()


class Idle:
    """No piece arrived within the idle window after the last one: flush what is held back."""


IDLE = Idle()
POLL_S = 0.25
CHECK_AFTER_QUIET_S = 1.0


def read_until_stopped(
    model: ChatModel,
    request: dict[str, Any],
    *,
    stop: threading.Event,
    still_running: Callable[[], bool],
    idle_s: float | None = None,
) -> Iterator[Piece | Idle]:
    """The model's pieces, until the stream ends, `stop` is set (a cancel notice), or `still_running()` turns
    false during a quiet second; the last two raise `ConcurrentUpdate` so the executor re-reads the run. After a
    piece, `IDLE` comes when no other follows within `idle_s` (default: the delta coalescing window; 0: never)."""
    if idle_s is None:
        idle_s = coalesce_window_s()
    items: queue.Queue[Any] = queue.Queue()
    streams: list[Closable] = []

    readers.shared().run(functools.partial(_produce, model, request, items, streams, stop))
    quiet = 0.0
    held = False  # a piece was yielded since the last IDLE
    try:
        while True:
            item = _next(items, idle_s if held and idle_s > 0 else None)
            if item is IDLE:
                held = False
                yield IDLE
                continue
            if item is _EMPTY:
                quiet += POLL_S
                if stop.is_set() or (quiet >= CHECK_AFTER_QUIET_S and not still_running()):
                    raise ConcurrentUpdate(
                        "the run stopped while the model was silent", field="status", current=None
                    ) from None
                if quiet >= CHECK_AFTER_QUIET_S:
                    quiet = 0.0
                continue
            quiet = 0.0
            if item is _END:
                return
            if isinstance(item, BaseException):
                if held:
                    yield IDLE  # text received before the failure still reaches the client and the message
                raise item
            held = True
            yield item
    finally:
        stop.set()  # the reader drops the rest at its next piece
        for stream in streams:
            with contextlib.suppress(Exception):  # best effort: frees the connection sooner
                stream.close()


def _next(items: queue.Queue[Any], idle_s: float | None) -> Any:
    """The next item; `IDLE` when `idle_s` is given and nothing came within it, else `_EMPTY` after `POLL_S`."""
    try:
        return items.get(timeout=POLL_S if idle_s is None else idle_s)
    except queue.Empty:
        return _EMPTY if idle_s is None else IDLE


def _produce(
    model: ChatModel, request: dict[str, Any], items: queue.Queue[Any], streams: list[Closable], stop: threading.Event
) -> None:
    """The reader's job: the model's pieces into `items`, then any exception, then `_END`."""
    try:
        for piece in model.stream(request, on_open=streams.append):
            items.put(piece)
            if stop.is_set():
                return
    except BaseException as exc:  # handed to the executor's thread, which decides
        items.put(exc)
    finally:
        items.put(_END)
