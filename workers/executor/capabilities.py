"""What an upstream accepts, learned from its answers instead of assumed.

OpenAI takes `stream_options`, `parallel_tool_calls` and `max_completion_tokens`; older vLLM, Ollama and Azure
versions answer 400 to some of them. A 400 that names one is retried once without it (or, for the token limit,
with the older `max_tokens`), and the finding is kept for a while per upstream, so later runs don't pay for the
failed attempt. Kept per worker process: each learns it at the cost of one extra request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from orchestrator import metrics

log = structlog.get_logger(__name__)

#: Parameters an upstream may reject, and what the request becomes without them.
FALLBACKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "stream_options": lambda params: {k: v for k, v in params.items() if k != "stream_options"},
    "parallel_tool_calls": lambda params: {k: v for k, v in params.items() if k != "parallel_tool_calls"},
    "max_completion_tokens": lambda params: {
        **{k: v for k, v in params.items() if k != "max_completion_tokens"},
        "max_tokens": params["max_completion_tokens"],
    },
}
REMEMBER_S = 3600.0


class Capabilities:
    def __init__(self, upstream: str, remember_s: float = REMEMBER_S, clock: Callable[[], float] = time.monotonic):
        self.upstream = upstream
        self.remember_s = remember_s
        self.clock = clock
        self._rejected: dict[str, float] = {}  # parameter -> until when it counts as rejected
        self._lock = threading.Lock()

    def adapt(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params` as this upstream takes them."""
        now = self.clock()
        with self._lock:
            rejected = [name for name, until in self._rejected.items() if until > now]
        for name in rejected:
            if name in params:
                params = FALLBACKS[name](params)
        return params

    def learn(self, param: str) -> None:
        with self._lock:
            known = self._rejected.get(param, 0.0) > self.clock()
            self._rejected[param] = self.clock() + self.remember_s
        if not known:
            log.warning("upstream.parameter_rejected", upstream=self.upstream, param=param, remember_s=self.remember_s)
            metrics.UPSTREAM_FALLBACKS.labels(param=param).inc()


def rejected_parameter(message: str, param: str | None, sent: dict[str, Any]) -> str | None:
    """The parameter a 400 complains about, if it is one we can do without and we sent it."""
    text = message.lower()
    for name in FALLBACKS:
        if name in sent and (param == name or name in text):
            return name
    return None
