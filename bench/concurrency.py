"""Concurrency: many streaming runs in flight at once on one API process and one run-worker process, the mock
answering at a fixed token rate; the memory each open stream and each active run costs; and proof that no stream
lost anything.

The load is bounded in count and time: `runs` runs created at once with `stream: true` (one thread each, the mock
answering `[[slow D]] [[long N]]`), each also followed by `followers` `GET .../events` streams opened as soon as its
`thread.run.created` arrives, so the API process holds runs x (1 + followers) streams. One asyncio process over raw
sockets (bench/sse_client.py) generates it. Afterwards every stream is checked against its run's event log in
Redis: each event id of the log was received, in order, and the deltas' text equals the completed message's."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from bench.procs import cpu_seconds, open_files, open_files_limit, raise_open_files, rss_bytes
from bench.sse_client import StreamRecord, message_text, stream
from bench.stack import KEY_A, PROJECT_A, Stack
from orchestrator.bus.redis_bus import decode_entries
from orchestrator.store import Keys

HEADERS = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}
RUN_ENDS = ("thread.run.completed", "thread.run.failed", "thread.run.cancelled", "thread.run.expired",
            "thread.run.incomplete")  # fmt: skip
SAMPLE_S = 0.25


@dataclass(frozen=True)
class Load:
    runs: int  # created at once, each streamed by its creator
    followers: int  # `GET .../events` streams per run besides its creator's
    words: int  # the mock's answer: `[[long words]]`
    word_s: float  # ... one word every `word_s` seconds: `[[slow word_s]]`
    timeout_s: float  # the whole load's bound

    @property
    def streams(self) -> int:
        return self.runs * (1 + self.followers)


@dataclass
class Sample:
    seconds: float
    open_streams: int
    active_runs: int  # as the creators' streams saw them: in_progress seen, no end yet
    api_rss: int
    worker_rss: int
    api_files: int


@dataclass
class Outcome:
    load: Load
    seconds: float
    peak_streams: int
    peak_active_runs: int
    api_rss_before: int
    api_rss_peak: int
    worker_rss_before: int
    worker_rss_peak: int
    errors: int
    lost_events: int
    text_mismatches: int
    runs_not_completed: int
    api_files_peak: int
    api_files_limit: int | None
    cpu: dict[str, float]
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    run_ends: dict[str, int] = field(default_factory=dict)  # how the runs that did not complete ended

    @property
    def kb_per_stream(self) -> float:
        return max(0, self.api_rss_peak - self.api_rss_before) / 1024 / max(1, self.peak_streams)

    @property
    def kb_per_run(self) -> float:
        return max(0, self.worker_rss_peak - self.worker_rss_before) / 1024 / max(1, self.peak_active_runs)


def peak_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end at the same instant as a start closes first)."""
    edges: list[tuple[float, int]] = []
    for start, end in intervals:
        edges += [(start, 1), (end, -1)]
    peak = current = 0
    for _, step in sorted(edges):
        current += step
        peak = max(peak, current)
    return peak


class Sampler:
    """Samples, every SAMPLE_S on a thread of its own, the API's and the run worker's RSS and the load's counters."""

    def __init__(self, api_pid: int, worker_pid: int, records: list[StreamRecord], active: list[int]) -> None:
        self.api_pid, self.worker_pid, self.records, self.active = api_pid, worker_pid, records, active
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.started = time.monotonic()

    def _loop(self) -> None:
        while not self.stop.wait(SAMPLE_S):
            self.samples.append(self.sample())

    def sample(self) -> Sample:
        open_now = sum(1 for r in list(self.records) if r.opened_at and not r.closed_at)
        return Sample(time.monotonic() - self.started, open_now, self.active[0], rss_bytes(self.api_pid),
                      rss_bytes(self.worker_pid), open_files(self.api_pid))  # fmt: skip

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.samples.append(self.sample())


async def _drive(base: str, assistant_id: str, load: Load, records: list[StreamRecord], active: list[int]) -> None:
    message = {"role": "user", "content": f"[[slow {load.word_s}]] [[long {load.words}]]"}
    body = {"assistant_id": assistant_id, "stream": True, "thread": {"messages": [message]}}
    followers: list[asyncio.Task[StreamRecord]] = []

    def on_creator_event(record: StreamRecord, event: str) -> None:
        if event == "thread.run.created" and record.run is not None:
            run = record.run
            url = f"{base}/threads/{run['thread_id']}/runs/{run['id']}/events"
            for _ in range(load.followers):
                follower = StreamRecord(run={"id": run["id"], "thread_id": run["thread_id"]})
                records.append(follower)
                followers.append(asyncio.create_task(stream(url, "GET", HEADERS, None, follower)))
        elif event == "thread.run.in_progress":
            active[0] += 1
        elif event in RUN_ENDS and "thread.run.in_progress" in record.events:
            active[0] -= 1

    creators = []
    for _ in range(load.runs):
        record = StreamRecord()
        records.append(record)
        creators.append(stream(f"{base}/threads/runs", "POST", HEADERS, body, record, on_creator_event))
    await asyncio.gather(*creators)
    await asyncio.gather(*followers)


def _run_load(base: str, assistant_id: str, load: Load, records: list[StreamRecord], active: list[int]) -> None:
    async def bounded() -> None:
        # Streams still open at the bound are counted as errors by the check.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_drive(base, assistant_id, load, records, active), load.timeout_s)

    asyncio.run(bounded())


def _check(client: redis.Redis, keys: Keys, records: list[StreamRecord], outcome: Outcome) -> list[tuple[float, float]]:
    """Every stream against its run's event log; returns each run's active interval (in_progress to its end, on
    the server's clock: the log's entry ids are millisecond timestamps)."""
    runs = sorted({(r.run["thread_id"], r.run["id"]) for r in records if r.run})
    pipe = client.pipeline(transaction=False)
    for thread_id, run_id in runs:
        pipe.xrange(keys.events(PROJECT_A, thread_id, run_id))
    logs = {run: decode_entries(entries) for run, entries in zip(runs, pipe.execute(), strict=True)}
    active: list[tuple[float, float]] = []
    for events in logs.values():
        stamps = {e.event: int(e.id.split("-")[0]) / 1000 for e in events}
        if "thread.run.completed" not in stamps:
            outcome.runs_not_completed += 1
            ended = [e for e in events if e.event in RUN_ENDS]
            error = orjson.loads(ended[-1].data).get("last_error") if ended else None
            reason = f"{ended[-1].event}: {error}" if ended else "the run did not end"
            outcome.run_ends[reason] = outcome.run_ends.get(reason, 0) + 1
        end = next((stamps[name] for name in RUN_ENDS if name in stamps), None)
        if "thread.run.in_progress" in stamps and end is not None:
            active.append((stamps["thread.run.in_progress"], end))
    for record in records:
        if record.error or record.status != 200 or not record.done or record.run is None:
            outcome.errors += 1
            if len(outcome.problems) < 5:
                outcome.problems.append(record.error or f"status {record.status}, done={record.done}")
            if record.run is None:
                continue
        events = logs[(record.run["thread_id"], record.run["id"])]
        log_ids = [e.id for e in events]
        outcome.lost_events += len(set(log_ids) - set(record.ids))
        if record.ids != log_ids and set(record.ids) <= set(log_ids):
            outcome.errors += 1  # duplicated or out of order, though nothing is missing
        completed = [e.data for e in events if e.event == "thread.message.completed"]
        if not completed or "".join(record.text) != message_text(orjson.loads(completed[-1])):
            outcome.text_mismatches += 1
    return active


def measure(stack: Stack, assistant_id: str, load: Load) -> Outcome:
    """Run `load` against `stack` (one API process, one run-worker process) and check every stream."""
    raise_open_files(load.streams * 2 + 256)
    children = stack.children().values()
    api_pid = next(c["pid"] for c in children if c["role"] == "api")
    worker_pid = next(c["pid"] for c in children if c["role"] == "worker-runs")
    records: list[StreamRecord] = []
    active = [0]
    api_before, worker_before = rss_bytes(api_pid), rss_bytes(worker_pid)
    cpu_before = {"API": cpu_seconds({api_pid}), "run worker": cpu_seconds({worker_pid})}
    started = time.monotonic()
    with Sampler(api_pid, worker_pid, records, active) as sampler:
        _run_load(stack.base_url, assistant_id, load, records, active)
    seconds = time.monotonic() - started
    cpu = {"API": cpu_seconds({api_pid}) - cpu_before["API"],
           "run worker": cpu_seconds({worker_pid}) - cpu_before["run worker"]}  # fmt: skip
    samples = sampler.samples
    outcome = Outcome(
        load=load, seconds=seconds,
        peak_streams=peak_overlap((r.opened_at, r.closed_at) for r in records if r.opened_at),
        peak_active_runs=0, api_rss_before=api_before, api_rss_peak=max(s.api_rss for s in samples),
        worker_rss_before=worker_before, worker_rss_peak=max(s.worker_rss for s in samples), errors=0,
        lost_events=0, text_mismatches=0, runs_not_completed=0, api_files_peak=max(s.api_files for s in samples),
        api_files_limit=open_files_limit(api_pid), cpu=cpu, samples=samples,
    )  # fmt: skip
    missing = load.streams - len(records)  # followers never opened: their creator failed before run.created
    outcome.errors += missing
    if outcome.api_files_limit is not None and outcome.api_files_limit < load.streams + 64:
        outcome.problems.append(f"the API process may open {outcome.api_files_limit} files, too few for the load")
    client = redis.Redis.from_url(stack.redis_url)
    outcome.peak_active_runs = peak_overlap(_check(client, Keys(stack.key_prefix), records, outcome))
    return outcome


def summary(outcome: Outcome) -> dict[str, Any]:
    """The outcome for bench-results.json (no samples)."""
    return {
        "streams_requested": outcome.load.streams, "runs": outcome.load.runs, "seconds": round(outcome.seconds, 1),
        "peak_streams": outcome.peak_streams, "peak_active_runs": outcome.peak_active_runs,
        "api_rss_mb": [round(outcome.api_rss_before / 2**20, 1), round(outcome.api_rss_peak / 2**20, 1)],
        "worker_rss_mb": [round(outcome.worker_rss_before / 2**20, 1), round(outcome.worker_rss_peak / 2**20, 1)],
        "errors": outcome.errors, "lost_events": outcome.lost_events, "text_mismatches": outcome.text_mismatches,
        "runs_not_completed": outcome.runs_not_completed, "api_open_files_peak": outcome.api_files_peak,
        "api_open_files_limit": outcome.api_files_limit,
        "cpu_seconds": {k: round(v, 2) for k, v in outcome.cpu.items()}, "problems": outcome.problems,
        "runs_not_completed_by_end": outcome.run_ends,
    }  # fmt: skip
