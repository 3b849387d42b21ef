"""Where a run on a long thread spends its time, per process: CPU (utime+stime) of the API, the run worker, Redis
and the mock model, Redis commands and bytes, and wall time, for streamed runs on a thread of N messages beside the
same on 10 messages. The thread is built as bench/suite.py's long-thread figure builds it (N user messages, each
through the API), and the runs are the same streamed runs on that thread.

    .venv/bin/python -m bench.long_thread --messages 10000 --runs 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.common import streamed_run_ms, thread_of
from bench.stack import free_port, running_stack
from bench.suite import CpuProbe, commandstats, create_assistant, kinds_of, process, wait_http


def measure(
    http: httpx.Client, base: str, thread: str, body: dict[str, Any], runs: int, probe: CpuProbe, rclient: Any
) -> dict[str, Any]:
    streamed_run_ms(http, base, thread, body)  # warm: connections, caches, the first run's imports
    cpu0, (calls0, in0, out0) = probe.snapshot(), commandstats(rclient)
    walls = [streamed_run_ms(http, base, thread, body) for _ in range(runs)]
    cpu1, (calls1, in1, out1) = probe.snapshot(), commandstats(rclient)
    calls = {k: (v - calls0.get(k, 0)) / runs for k, v in calls1.items() if v > calls0.get(k, 0)}
    return {
        "wall_ms_median": statistics.median(walls),
        "cpu_ms": {k: (cpu1[k] - cpu0[k]) / runs * 1000 for k in cpu0},
        "redis_commands": sum(calls.values()),
        "redis_bytes": ((in1 - in0) + (out1 - out0)) / runs,
        "calls": dict(sorted(calls.items(), key=lambda kv: -kv[1])),
    }


def show(name: str, result: dict[str, Any]) -> None:
    cpu = "  ".join(f"{k} {v:.1f}" for k, v in result["cpu_ms"].items())
    print(f"{name}: wall {result['wall_ms_median']:.1f} ms median; CPU ms/run: {cpu}")
    print(f"  redis {result['redis_commands']:.1f} commands, {result['redis_bytes']:,.0f} bytes per run")
    print("  " + ", ".join(f"{k} {v:.1f}" for k, v in result["calls"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--truncation", type=int, default=0, help="truncation_strategy last_messages (0: auto)")
    args = parser.parse_args()
    mock_port = free_port()
    mock_url = f"http://127.0.0.1:{mock_port}/v1"
    with (
        tempfile.TemporaryDirectory() as tmp,
        process([sys.executable, "-m", "orchestrator", "mock-model", "--port", str(mock_port)]) as mock,
    ):
        wait_http(f"{mock_url}/models")
        env = {"ORCH_MODEL_BASE_URL": mock_url, "ORCH_MODEL_API_KEY": "mock"}
        stack_args = ("--run-workers", "1", "--tool-workers", "1")
        with running_stack(Path(tmp) / "stack", env=env, args=stack_args) as stack:
            base = stack.base_url
            probe = CpuProbe(kinds_of(stack, mock.pid, None))
            rclient = redis.Redis.from_url(stack.redis_url)
            body: dict[str, Any] = {"assistant_id": create_assistant(base), "stream": True}
            if args.truncation:
                body["truncation_strategy"] = {"type": "last_messages", "last_messages": args.truncation}
            with httpx.Client(timeout=120, limits=httpx.Limits(max_connections=32)) as http:
                started = time.perf_counter()
                big = thread_of(http, base, args.messages)
                print(f"{args.messages} messages created in {time.perf_counter() - started:.1f} s", flush=True)
                small = thread_of(http, base, 10)
                show(f"{args.messages} messages", measure(http, base, big, body, args.runs, probe, rclient))
                show("10 messages", measure(http, base, small, body, args.runs, probe, rclient))


if __name__ == "__main__":
    main()
