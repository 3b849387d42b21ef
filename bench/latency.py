"""Time from run creation to the first streamed text delta, seen by a client streaming with the mock model at no
added latency, and the same on the server's histogram.

    .venv/bin/python -m bench.latency --runs 100
"""

from __future__ import annotations

import argparse
import json
import time

import httpx

from bench.common import HEADERS, create_assistant, percentiles, stack


def first_delta_seconds(http: httpx.Client, base: str, assistant_id: str) -> float:
    body = {
        "assistant_id": assistant_id,
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": "hello there"}]},
    }
    started = time.perf_counter()
    first = None
    with http.stream("POST", f"{base}/threads/runs", headers=HEADERS, json=body) as response:
        for line in response.iter_lines():
            if first is None and line == "event: thread.message.delta":
                first = time.perf_counter() - started
            if line == "data: [DONE]":
                break
    assert first is not None, "the stream had no text delta"
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    with stack() as running, httpx.Client(timeout=30) as http:
        assistant_id = create_assistant(http, running.base_url)
        for _ in range(5):
            first_delta_seconds(http, running.base_url, assistant_id)  # warm up
        samples = [first_delta_seconds(http, running.base_url, assistant_id) for _ in range(args.runs)]
        server_sum = running.metric("orchestrator_run_time_to_first_token_seconds_sum")
        server_count = running.metric("orchestrator_run_time_to_first_token_seconds_count")
    print(
        json.dumps(
            {
                "runs": args.runs,
                "client_time_to_first_text_delta_s": percentiles(samples),
                "server_mean_time_to_first_token_s": round(server_sum / server_count, 4),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
