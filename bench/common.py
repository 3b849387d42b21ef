"""Shared by the benchmarks: a stack under measurement, and a load of runs driven over HTTP."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.stack import BENCH_TIMEOUTS, KEY_A, Stack, running_stack

HEADERS = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}


@contextmanager
def stack(*args: str) -> Iterator[Stack]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(Path(tmp), env={"ORCH_LOG_LEVEL": "WARNING"}, args=args, timeouts=BENCH_TIMEOUTS) as running,
    ):
        yield running


@dataclass(frozen=True)
class RunResult:
    thread_id: str
    run_id: str
    status: str
    seconds: float


def create_assistant(http: httpx.Client, base: str, tools: list[dict[str, str]] | None = None) -> str:
    response = http.post(f"{base}/assistants", headers=HEADERS, json={"model": "mock", "tools": tools or []})
    response.raise_for_status()
    return str(response.json()["id"])


def one_run(http: httpx.Client, base: str, assistant_id: str, text: str, poll_s: float) -> RunResult:
    started = time.perf_counter()
    body = {"assistant_id": assistant_id, "thread": {"messages": [{"role": "user", "content": text}]}}
    run = http.post(f"{base}/threads/runs", headers=HEADERS, json=body).json()
    while run["status"] in ("queued", "in_progress", "cancelling"):
        time.sleep(poll_s)  # a client polling, as create_and_poll does
        run = http.get(f"{base}/threads/{run['thread_id']}/runs/{run['id']}", headers=HEADERS).json()
    return RunResult(run["thread_id"], run["id"], run["status"], time.perf_counter() - started)


def drive(
    base: str, assistant_id: str, runs: int, clients: int, text: str, poll_s: float = 1.0
) -> tuple[list[RunResult], float]:
    """`runs` runs from `clients` concurrent clients polling every `poll_s` (the SDK's default is 1 s); returns
    the results and the client-side wall time."""
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=clients * 2)) as http:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            results = list(pool.map(lambda _: one_run(http, base, assistant_id, text, poll_s), range(runs)))
        return results, time.perf_counter() - started


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else ordered * 99
    return {"p50": round(q[49], 4), "p95": round(q[94], 4), "p99": round(q[98], 4)}


def thread_of(http: httpx.Client, base: str, count: int) -> str:
    """A new thread of `count` short user messages, created through the API by 16 clients (the long-thread load)."""
    thread = str(http.post(f"{base}/threads", headers=HEADERS, json={}).json()["id"])
    url = f"{base}/threads/{thread}/messages"
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda i: http.post(url, headers=HEADERS, json={"role": "user", "content": f"m{i}"}),
                      range(count)))  # fmt: skip
    return thread


def streamed_run_ms(http: httpx.Client, base: str, thread: str, body: dict[str, object]) -> float:
    """Milliseconds from a streamed run's request on `thread` to its `[DONE]`."""
    started = time.perf_counter()
    with http.stream("POST", f"{base}/threads/{thread}/runs", headers=HEADERS, json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line == "data: [DONE]":
                break
    return (time.perf_counter() - started) * 1000
