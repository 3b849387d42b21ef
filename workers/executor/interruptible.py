"""Reading a model stream so that a cancel or an expiry stops it within a second, even while the model is
silent: the stream is read on a helper thread and the executor waits on a queue it can stop waiting on.

Closing a connection from another thread does not reliably wake a read blocked on it, so the executor never
blocks on the socket itself.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from orchestrator.errors import ConcurrentUpdate
from workers.executor.llm import ChatModel, Closable, Piece

_END = object()
POLL_S = 0.25
CHECK_AFTER_QUIET_S = 1.0


def read_until_stopped(
    model: ChatModel, request: dict[str, Any], *, stop: threading.Event, still_running: Callable[[], bool]
) -> Iterator[Piece]:
    """The model's pieces, until the stream ends, `stop` is set (a cancel notice), or `still_running()` turns
    false during a quiet second; the last two raise `ConcurrentUpdate` so the executor re-reads the run."""
    items: queue.Queue[Any] = queue.Queue()
    streams: list[Closable] = []

    def produce() -> None:
        try:
            for piece in model.stream(request, on_open=streams.append):
                items.put(piece)
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the executor's thread, which decides
            items.put(exc)
        finally:
            items.put(_END)

    threading.Thread(target=produce, name="model-stream", daemon=True).start()
    quiet = 0.0
    try:
        while True:
            try:
                item = items.get(timeout=POLL_S)
            except queue.Empty:
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
                raise item
            yield item
    finally:
        stop.set()  # the helper thread drops the rest at its next piece
        for stream in streams:
            with contextlib.suppress(Exception):  # best effort: frees the connection sooner
                stream.close()
