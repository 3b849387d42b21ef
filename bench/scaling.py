"""Horizontal scaling of the run-worker pool: runs/s with 1, 2 and 4 run-worker processes, the mock model answering
each completion after a fixed latency. Checks that every run executed exactly once. The state is on the embedded
server, or with `--cluster N` on an embedded Redis Cluster of N masters (`orchestrator up --redis-cluster N`).
`python -m bench` runs it too (its "scaling" rows).

    .venv/bin/python -m bench.scaling --runs 300 --latency 0.2 --concurrency 8
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

import httpx

from bench.common import create_assistant, drive, percentiles, stack
from bench.stack import PROJECT_A, Stack
from orchestrator.store import Keys
from orchestrator.store.clients import state_client


def exactly_once(running: Stack, results: list[tuple[str, str]], cluster: int = 0) -> tuple[Counter[str], float]:
    """Each run has one claim (one `in_progress`) and one completion. Returns runs per worker process and the
    server-side makespan: from the first `thread.run.created` to the last `thread.run.completed`, read from the
    event logs' entry ids (millisecond timestamps), so client polling does not blur it."""
    client = state_client(running.redis_url, cluster=bool(cluster))  # the seed node's URL on a cluster
    keys = Keys(running.key_prefix)
    per_worker: Counter[str] = Counter()
    pipe = client.pipeline(transaction=False)
    for thread_id, run_id in results:
        pipe.hget(keys.run(PROJECT_A, thread_id, run_id), "claimed_by")
        pipe.xrange(keys.events(PROJECT_A, thread_id, run_id))
    replies = pipe.execute()
    first_created, last_completed = float("inf"), 0.0
    for claimed_by, events in zip(replies[::2], replies[1::2], strict=True):
        names = [fields["e"] for _, fields in events]
        assert names.count("thread.run.in_progress") == 1, names
        assert names.count("thread.run.completed") == 1, names
        per_worker[claimed_by] += 1
        stamps = {fields["e"]: int(entry_id.split("-")[0]) / 1000 for entry_id, fields in events}
        first_created = min(first_created, stamps["thread.run.created"])
        last_completed = max(last_completed, stamps["thread.run.completed"])
    return per_worker, last_completed - first_created


def measure(
    workers: int, runs: int, latency: float, concurrency: int, clients: int, cluster: int = 0
) -> dict[str, Any]:
    args: tuple[str, ...] = (
        "--run-workers",
        str(workers),
        "--run-concurrency",
        str(concurrency),
        "--mock-latency",
        str(latency),
    )
    args += ("--redis-cluster", str(cluster)) if cluster else ()
    with stack(*args) as running:
        base = running.base_url
        with httpx.Client(timeout=30) as http:
            assistant_id = create_assistant(http, base)
        drive(base, assistant_id, min(20, runs), clients, "warm up")  # connections, imports, first claims
        results, seconds = drive(base, assistant_id, runs, clients, "hello")
        assert all(r.status == "completed" for r in results), Counter(r.status for r in results)
        per_worker, makespan = exactly_once(running, [(r.thread_id, r.run_id) for r in results], cluster)
    return {
        "run_workers": workers,
        "state": f"Redis Cluster, {cluster} masters" if cluster else "one embedded server",
        "runs": runs,
        "server_seconds": round(makespan, 2),
        "runs_per_s": round(runs / makespan, 1),
        "client_seconds": round(seconds, 2),
        "run_latency_s": percentiles([r.seconds for r in results]),
        "runs_per_worker_process": sorted(per_worker.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.2, help="mock model seconds per completion")
    parser.add_argument("--concurrency", type=int, default=8, help="runs one worker process serves at once")
    parser.add_argument("--clients", type=int, default=128, help="concurrent API clients")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--cluster", type=int, default=0, help="masters of an embedded Redis Cluster for the state")
    args = parser.parse_args()
    report = [measure(n, args.runs, args.latency, args.concurrency, args.clients, args.cluster) for n in args.workers]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
