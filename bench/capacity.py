"""The one-command benchmark's capacity figures: concurrency (streams and active runs at once on one API process and
one run-worker process, memory per stream and per run, lost events) and scaling (runs/s with 1, 2 and 4 run
workers). Each returns its table rows as `(group, figure, ours, floor, unit, floor_name, target)`; the plots are
their own (a timeline, a curve), not the suite's bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from bench import concurrency, scaling
from bench.common import create_assistant
from bench.concurrency import Load, Outcome
from bench.stack import BENCH_TIMEOUTS, Stack, running_stack

Row = tuple[str, str, float | None, float | None, str, str, str]

#: The mock's latency per completion and the runs each run-worker process serves at once in the scaling load
#: (bench/scaling.py's defaults): one worker can then carry at most concurrency / latency = 40 runs/s.
SCALING_LATENCY_S = 0.2
SCALING_CONCURRENCY = 8

HOW = """- **Concurrency**: a stack of its own, `orchestrator up --run-workers 1 --run-concurrency R` (R = the runs of
  the load; the per-key rate limit off), the mock answering `[[slow D]] [[long N]]` (a word every D seconds).
  R runs are created at once with `stream: true`, and each is followed by F `GET .../events` streams opened when
  its `thread.run.created` arrives, so one API process holds R x (1 + F) streams, from one asyncio load generator
  over raw sockets (`bench/sse_client.py`; its open-files limit raised, the stack's read from `/proc`). Streams
  at once: the most streams open at one instant (response headers to `[DONE]`, client clock). Active runs at once:
  the most runs between their `thread.run.in_progress` and their end at one instant (the event log's timestamps).
  Memory: VmRSS of the API process and of the run-worker process (with descendants) sampled every 0.25 s; peak
  minus before (after a warm-up), divided by the streams / active runs at once. Lost events: every stream checked
  against its run's event log in Redis (each entry id received; the deltas' text equal to the
  `thread.message.completed` text); errors: non-200, no `[DONE]`, duplicates or disorder, runs not completed.
- **Scaling**: `bench/scaling.py`: for 1, 2 and 4 run-worker processes, a fresh `orchestrator up --redis-cluster 3`
  (the state on an embedded 3-master Redis Cluster, the broker on an embedded server of its own; with
  `--scaling-cluster 0`, state and broker on one embedded server), polled runs from 128 clients, the built-in mock
  answering after 200 ms, 8 runs at once per worker process; runs/s over the server-side makespan (first
  `thread.run.created` to last `thread.run.completed`), each run checked to have run exactly once. Its floor is
  linear scaling: the 1-worker figure times the workers."""


def concurrency_figures(
    work: Path, env: dict[str, str], redis_url: str | None, load: Load
) -> tuple[list[Row], Outcome]:
    """The concurrency load on a stack of its own (one API process, one run-worker process serving `load.runs`
    runs at once)."""
    args = ("--run-workers", "1", "--tool-workers", "1", "--run-concurrency", str(load.runs))
    # Every stream is one request: the per-key bucket (ORCH_RATE_LIMIT_*) would answer 429 to a burst of them.
    env = {**env, "ORCH_RATE_LIMIT_RPS": "0"}
    with running_stack(work, env=env, redis_url=redis_url, args=args, timeouts=BENCH_TIMEOUTS) as stack:
        return concurrency_on(stack, load, warm_up=True)


def concurrency_on(stack: Stack, load: Load, warm_up: bool) -> tuple[list[Row], Outcome]:
    """The concurrency load on a running stack (the smoke run's loads are small enough for the main one)."""
    with httpx.Client(timeout=30) as http:
        assistant = create_assistant(http, stack.base_url)
    if warm_up:
        concurrency.measure(stack, assistant, Load(2, 1, 3, 0.01, 60))  # imports, pools, first claims
    outcome = concurrency.measure(stack, assistant, load)
    group = "concurrency"
    rows: list[Row] = [
        (group, "streams open at once on one API process", float(outcome.peak_streams), None, "streams",
         f"{load.runs} runs x {1 + load.followers} streams", "≥ 1,000"),
        (group, "runs active at once on one run-worker process", float(outcome.peak_active_runs), None, "runs",
         f"{load.runs} runs, a word every {load.word_s} s", "≥ 200"),
        (group, "lost events (ids missing, or text ≠ completed message)",
         float(outcome.lost_events + outcome.text_mismatches), 0.0, "events", "must be 0", "0"),
        (group, "stream errors (not 200, no [DONE], disorder, run not completed)",
         float(outcome.errors + outcome.runs_not_completed), 0.0, "errors", "must be 0", "0"),
        (group, "memory per open stream (API RSS)", outcome.kb_per_stream, None, "KB", "-", ""),
        (group, "memory per active run (run-worker RSS)", outcome.kb_per_run, None, "KB", "-", ""),
    ]  # fmt: skip
    return rows, outcome


def concurrency_note(summary: dict[str, Any]) -> str:
    """A line under the table: what the concurrency load cost and, when anything failed, how."""
    note = (
        f"Concurrency load: {summary['runs']} runs, {summary['streams_requested']} streams in {summary['seconds']} s; "
        f"API RSS {summary['api_rss_mb'][0]} → {summary['api_rss_mb'][1]} MB, run worker "
        f"{summary['worker_rss_mb'][0]} → {summary['worker_rss_mb'][1]} MB; the API process's open files at peak "
        f"{summary['api_open_files_peak']} (its limit {summary['api_open_files_limit']}); CPU seconds over the load "
        f"{summary['cpu_seconds']}"
    )
    if summary["problems"]:
        note += f"; first problems: {summary['problems']}"
    if summary["runs_not_completed_by_end"]:
        note += f"; runs that did not complete, by how they ended: {summary['runs_not_completed_by_end']}"
    return note + "."


def scaling_figures(runs: int, clients: int, workers: tuple[int, ...], cluster: int) -> tuple[list[Row], list[Any]]:
    results = []
    for count in workers:
        print(f"  {count} run worker(s)")
        results.append(scaling.measure(count, runs, SCALING_LATENCY_S, SCALING_CONCURRENCY, clients, cluster))
    state = f"Redis Cluster ({cluster} masters)" if cluster else "one embedded server"
    one = float(results[0]["runs_per_s"]) if workers[0] == 1 else None
    rows: list[Row] = [
        ("scaling", f"runs/s with {r['run_workers']} run worker(s), state on {state}", float(r["runs_per_s"]),
         one * int(r["run_workers"]) if one and r["run_workers"] != 1 else None, "runs/s",
         "linear: 1 worker's runs/s x workers", "")
        for r in results
    ]  # fmt: skip
    return rows, results


def plot_concurrency(outcome: Outcome, out: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = outcome.samples
    seconds = [s.seconds for s in samples]
    fig, left = plt.subplots(figsize=(8, 3.2))
    left.plot(seconds, [s.open_streams for s in samples], label="streams open")
    left.plot(seconds, [s.active_runs for s in samples], label="runs active (creators' view)")
    left.axhline(1000, linestyle=":", color="C0", linewidth=0.8)
    left.axhline(200, linestyle=":", color="C1", linewidth=0.8)
    left.set_xlabel("seconds into the load")
    left.set_ylabel("count")
    right = left.twinx()
    right.plot(seconds, [s.api_rss / 2**20 for s in samples], color="C2", linestyle="--", label="API RSS (MB)")
    right.plot(seconds, [s.worker_rss / 2**20 for s in samples], color="C3", linestyle="--",
               label="run-worker RSS (MB)")  # fmt: skip
    right.set_ylabel("MB")
    lines = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    left.legend(lines, labels, fontsize=7, loc="center right")
    left.set_title("concurrency (targets dotted: 1,000 streams, 200 runs)")
    fig.tight_layout()
    name = "bench-concurrency.png"
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    return name


def plot_scaling(results: list[Any], out: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workers = [int(r["run_workers"]) for r in results]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(workers, [float(r["runs_per_s"]) for r in results], marker="o", label="Orchestrator")
    if workers[0] == 1:
        one = float(results[0]["runs_per_s"])
        ax.plot(workers, [one * n for n in workers], linestyle=":", label="linear from 1 worker (floor)")
    ax.set_xticks(workers)
    ax.set_xlabel("run-worker processes")
    ax.set_ylabel("runs/s")
    ax.set_title(f"scaling ({results[0]['state']})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    name = "bench-scaling.png"
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    return name
