"""The one-command benchmark: every figure of issue 8 beside its floor, measured in the same run.

.venv/bin/python -m bench            # the default run (10-15 minutes on 2 cores), writes docs/benchmarks.md and plots
.venv/bin/python -m bench --quick    # a smoke run of a few minutes (CI), writes to --out
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from bench import capacity
from bench.common import streamed_run_ms, thread_of
from bench.concurrency import Load, Outcome
from bench.concurrency import summary as concurrency_summary
from bench.procs import cpu_seconds
from bench.stack import BENCH_TIMEOUTS, KEY_A, REPO_ROOT, Stack, free_port, running_stack

FLOORS = Path(os.environ.get("ORCH_BENCH_FLOORS", str(REPO_ROOT.parent / "shared" / "floors")))
HEADERS = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}


@dataclass(frozen=True)
class Sizes:
    runs: int  # per throughput load
    clients: int
    sequential: int
    token_runs: int
    tokens: int
    token_delay_s: float
    relay_streams: int
    relay_words: int
    long_thread: int
    celery_tasks: int
    celery_rtt: int
    followers: int
    follow_words: int
    concurrency: Load  # streams and active runs at once (bench/concurrency.py)
    scaling_runs: int
    scaling_clients: int
    scaling_workers: tuple[int, ...]


# 200 runs at once on one run-worker process, each streamed by its creator and 4 followers: 1,000 streams on one
# API process, for the minute a 60-word answer at a word per second takes (1,000 frames/s relayed in all), which
# leaves the creates and followers of a loaded 2-core machine time to all be open at once.
DEFAULT = Sizes(600, 32, 100, 5, 100, 0.01, 32, 400, 10_000, 2000, 300, 64, 3000, Load(200, 4, 60, 1.0, 300),
                300, 128, (1, 2, 4))  # fmt: skip
QUICK = Sizes(20, 4, 5, 1, 10, 0.01, 2, 20, 30, 100, 20, 4, 50, Load(4, 1, 10, 0.05, 60), 10, 8, (1,))


@dataclass
class Row:
    group: str
    figure: str
    ours: float | None
    floor: float | None
    unit: str
    floor_name: str
    target: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.floor in (None, 0):
            return None
        assert self.floor is not None
        return self.ours / self.floor


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    plots: list[Callable[[Path], str]] = field(default_factory=list)  # figures with plots of their own

    def add(self, *args: Any, **kwargs: Any) -> None:
        self.rows.append(Row(*args, **kwargs))
        row = self.rows[-1]
        print(f"  {row.figure}: ours {fmt(row.ours)} {row.unit}, floor {fmt(row.floor)}, ratio {fmt(row.ratio)}")


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------------------------- processes & CPU


class CpuProbe:
    """CPU seconds per process kind of a stack (API, run worker, Redis, mock), between two snapshots."""

    def __init__(self, kinds: dict[str, set[int]]) -> None:
        self.kinds = kinds

    def snapshot(self) -> dict[str, float]:
        return {kind: cpu_seconds(pids) for kind, pids in self.kinds.items()}


def commandstats(client: redis.Redis) -> tuple[dict[str, int], int, int]:
    stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}
    net = client.info("stats")
    return calls, int(net["total_net_input_bytes"]), int(net["total_net_output_bytes"])


@contextmanager
def process(command: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        command, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s}s")


# --------------------------------------------------------------------------------------------- client side


@dataclass
class Streamed:
    first_delta_s: float | None
    seconds: float
    delta_times: list[float]
    delta_chars: list[int]
    completed: bool


def stream_run(http: httpx.Client, base: str, body: dict[str, Any]) -> Streamed:
    started = time.monotonic()  # the tap's clock too (bench/tap.py)
    times: list[float] = []
    words: list[int] = []
    completed = done = False
    event = ""
    with http.stream("POST", f"{base}/threads/runs", headers=HEADERS, json={**body, "stream": True}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "thread.message.delta":
                    times.append(time.monotonic())
                elif event == "thread.run.completed":
                    completed = True
            elif line.startswith("data: ") and event == "thread.message.delta":
                parts = json.loads(line[6:])["delta"]["content"]
                words.append(sum(len(p.get("text", {}).get("value", "")) for p in parts))
            elif line == "data: [DONE]":
                done = True
                break
    first = times[0] - started if times else None
    return Streamed(first, time.monotonic() - started, times, words, completed and done)


def thread_body(assistant_id: str, text: str) -> dict[str, Any]:
    return {"assistant_id": assistant_id, "thread": {"messages": [{"role": "user", "content": text}]}}


def polled_run(http: httpx.Client, base: str, assistant_id: str, poll_s: float) -> bool:
    run = http.post(f"{base}/threads/runs", headers=HEADERS, json=thread_body(assistant_id, "hello")).json()
    while run["status"] in ("queued", "in_progress", "cancelling"):
        time.sleep(poll_s)
        run = http.get(f"{base}/threads/{run['thread_id']}/runs/{run['id']}", headers=HEADERS).json()
    return bool(run["status"] == "completed")


def load(clients: int, count: int, one: Callable[[httpx.Client], Any]) -> tuple[list[Any], float]:
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=clients * 2)) as http:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            results = list(pool.map(lambda _: one(http), range(count)))
        return results, time.perf_counter() - started


def token_latency_ms(times: list[float], chars: list[int], tapped: list[list[Any]]) -> list[float]:
    """Each delta's latency from the moment the tap (bench/tap.py) passed on the model's chunk that completes the
    delta's text: arrival - tap time of the chunk where the text seen so far ends. One clock (monotonic)."""
    ends: list[tuple[int, float]] = []
    total = 0
    for seconds, text in tapped:
        total += len(text)
        ends.append((total, float(seconds)))
    latencies: list[float] = []
    seen, index = 0, 0
    for arrival, count in zip(times, chars, strict=True):
        seen += count
        while index < len(ends) - 1 and ends[index][0] < seen:
            index += 1
        if ends:
            latencies.append((arrival - ends[index][1]) * 1000)
    return latencies


# -------------------------------------------------------------------------------------------------- floors


def celery_floor(redis_port: int, sizes: Sizes, out: Path) -> dict[str, Any] | None:
    """shared/floors/celery_floor.py, one threadsx8 worker process (as one run-worker process), by path."""
    script = FLOORS / "celery_floor.py"
    if not script.exists():
        return None
    env = {**os.environ, "FLOORS_OUT": str(out), "REDIS_PORT": str(redis_port)}
    command = [sys.executable, str(script), "--configs", "threads8", "--n", str(sizes.celery_tasks)]
    command += ["--repeats", "1", "--rtt", str(sizes.celery_rtt), "--chains", "2", "--chain-len", "2"]
    command += ["--port", str(redis_port)]
    subprocess.run(command, env=env, check=True, timeout=300, stdout=subprocess.DEVNULL)
    (result,) = sorted((out / "results").glob("celery_*.json"))[-1:]
    data: dict[str, Any] = json.loads(result.read_text())[0]
    return data


@contextmanager
def floor_redis(out: Path) -> Iterator[tuple[int, int] | None]:
    """A redis-server of the floors' own script (port, pid), or None when shared/floors is absent."""
    script = FLOORS / "redis_ctl.sh"
    if not script.exists():
        yield None
        return
    port = free_port()
    env = {**os.environ, "FLOORS_OUT": str(out), "REDIS_PORT": str(port)}
    subprocess.run(["bash", str(script), "start"], env=env, check=True, timeout=30, stdout=subprocess.DEVNULL)
    try:
        pid = int((out / "run" / f"redis-{port}.pid").read_text())
        yield port, pid
    finally:
        subprocess.run(["bash", str(script), "stop"], env=env, timeout=30, stdout=subprocess.DEVNULL)


def relay_floor(redis_url: str, tap_url: str, sizes: Sizes) -> dict[str, float]:
    """Per-token latency with nothing of ours in the way: the same mock answer (`[[slow D]] [[long N]]`) read here
    through the tap, each chunk's text PUBLISHed on Redis and relayed as SSE by bench/relay.py to a reader here;
    latency from the tap's time, as for ours."""
    port = free_port()
    client = redis.Redis.from_url(redis_url)
    latencies: list[float] = []
    with process([sys.executable, "-m", "bench.relay", "--port", str(port), "--redis-url", redis_url]):
        wait_http(f"http://127.0.0.1:{port}/")
        for _ in range(sizes.token_runs):
            mark = f"tap-{uuid.uuid4().hex[:12]}"
            content = f"[[slow {sizes.token_delay_s}]] [[long {sizes.tokens}]] {mark}"
            body = {"model": "mock", "stream": True, "messages": [{"role": "user", "content": content}]}
            times: list[float] = []
            chars: list[int] = []
            ready = threading.Event()

            def read(
                mark: str = mark, times: list[float] = times, chars: list[int] = chars, ready: threading.Event = ready
            ) -> None:
                with httpx.stream("GET", f"http://127.0.0.1:{port}/stream/{mark}", timeout=30) as response:
                    for line in response.iter_lines():
                        if line.startswith(": subscribed"):
                            ready.set()
                        elif line == "data: [DONE]":
                            return
                        elif line.startswith("data: "):
                            times.append(time.monotonic())
                            chars.append(len(line[6:]))

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            ready.wait(10)
            with httpx.stream("POST", f"{tap_url}/chat/completions", json=body, timeout=60) as response:
                for line in response.iter_lines():
                    if not line.startswith("data: {"):
                        continue
                    choices = json.loads(line[6:]).get("choices") or [{}]
                    text = (choices[0].get("delta") or {}).get("content")
                    if text:
                        client.publish(mark, text)
            client.publish(mark, "END")
            reader.join(30)
            tapped = httpx.get(f"{tap_url.removesuffix('/v1')}/tap/{mark}", timeout=10).json()
            latencies += token_latency_ms(times, chars, tapped)
    return {"p50": pct(latencies, 50), "p99": pct(latencies, 99)}


def mock_first_chunk_ms(mock_url: str, count: int) -> list[float]:
    """One streamed HTTP call to the mock, to its first chunk (the model-call part of the first-delta floor)."""
    samples = []
    body = {"model": "mock", "stream": True, "messages": [{"role": "user", "content": "hello"}]}
    with httpx.Client(timeout=30) as http:
        for _ in range(count):
            started = time.perf_counter()
            with http.stream("POST", f"{mock_url}/chat/completions", json=body) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        samples.append((time.perf_counter() - started) * 1000)
                        break
    return samples


# --------------------------------------------------------------------------------------------------- ours


def langgraph_peer(python: str | None, quick: bool, out: Path, report: Report) -> float | None:
    """The LangGraph dev server's runs/s with 50 concurrent clients (shared/floors/langgraph_peer.py, run by the
    interpreter of a venv holding `langgraph-cli[inmem]`), or None when that venv or the script is absent."""
    script = FLOORS / "langgraph_peer.py"
    if not python or not Path(python).exists() or not script.exists():
        report.notes.append("The LangGraph dev peer was left out (give `--langgraph PYTHON`, a venv's interpreter "
                            "with `langgraph-cli[inmem]`, to include it).")  # fmt: skip
        return None
    out.mkdir(parents=True, exist_ok=True)
    (out / "run").mkdir(exist_ok=True)
    # Only its `wait_c50` phase (each phase boots a fresh server; all of them take minutes): the script is
    # imported by path and its phase list narrowed, nothing of it copied.
    code = (
        "import argparse, json, sys; sys.path.insert(0, sys.argv[1]); import langgraph_peer as peer; "
        "peer.PHASES[:] = [p for p in peer.PHASES if p[0] == 'wait_c50']; "
        "a = argparse.Namespace(jobs=10, n_seq=1, n_conc=int(sys.argv[2]), n_burst=1); "
        "print('RESULT ' + json.dumps(peer.suite(a)['wait_c50']))"
    )
    command = [python, "-c", code, str(FLOORS), "50" if quick else "200"]
    done = subprocess.run(command, env={**os.environ, "FLOORS_OUT": str(out)}, cwd=out, check=True, timeout=300,
                          capture_output=True, text=True)  # fmt: skip
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    wait: dict[str, Any] = json.loads(line[7:])
    report.notes.append(f"LangGraph dev peer by path ({script.name}, its `wait_c50` phase: `runs/wait` with 50 "
                        f"clients): {wait}.")  # fmt: skip
    return float(wait["runs_per_s"]) if "runs_per_s" in wait else None


def measure(sizes: Sizes, report: Report, work: Path, langgraph: str | None = None, cluster: int = 0) -> None:
    peer = langgraph_peer(langgraph, sizes is QUICK, work / "langgraph", report)
    with floor_redis(work / "floors") as shared_redis:
        celery = celery_floor(shared_redis[0], sizes, work / "floors") if shared_redis else None
        if celery is None:
            report.notes.append(f"{FLOORS} is absent: the bare-Celery floors are left out (n/a) and the stack "
                                "runs on its embedded server.")  # fmt: skip
        else:
            report.notes.append(f"Floors by path from {FLOORS} (celery_floor.py threads8: one worker process "
                                "with 8 threads; redis_ctl.sh: redis-server, which our stack also used).")  # fmt: skip
        mock_port = free_port()
        mock_url = f"http://127.0.0.1:{mock_port}/v1"
        with process([sys.executable, "-m", "orchestrator", "mock-model", "--port", str(mock_port)]) as mock:
            wait_http(f"{mock_url}/models")
            redis_url = f"redis://127.0.0.1:{shared_redis[0]}/5" if shared_redis else None
            env = {"ORCH_MODEL_BASE_URL": mock_url, "ORCH_MODEL_API_KEY": "mock"}
            args = ("--run-workers", "1", "--tool-workers", "1")
            with running_stack(
                work / "stack", env=env, redis_url=redis_url, args=args, timeouts=BENCH_TIMEOUTS
            ) as stack:
                measure_stack(stack, sizes, report, celery, mock.pid, shared_redis, mock_url)
                if peer is not None:
                    print("streamed runs/s at 50 clients, against the LangGraph dev peer")
                    body = thread_body(create_assistant(stack.base_url), "hello there")
                    count = sizes.runs // 2
                    _, seconds = load(50, count, lambda http: stream_run(http, stack.base_url, body))
                    report.add("throughput", "streamed runs/s, 50 clients (LangGraph's `runs/wait` at 50)",
                               count / seconds, peer, "runs/s", "LangGraph dev server, no model", "≥ 5x")  # fmt: skip
                if sizes is QUICK:  # a smoke run's few streams fit the main stack: one stack start less in CI
                    print("concurrency (on the main stack: a smoke run)")
                    add_concurrency(capacity.concurrency_on(stack, sizes.concurrency, warm_up=False), report)
            if sizes is not QUICK:
                print("concurrency (a stack of its own: one API process, one run-worker process)")
                add_concurrency(
                    capacity.concurrency_figures(work / "concurrency", env, redis_url, sizes.concurrency), report
                )
            print("per token (a second stack, its model calls through bench/tap.py)")
            tap_port = free_port()
            tap_url = f"http://127.0.0.1:{tap_port}/v1"
            with process([sys.executable, "-m", "bench.tap", "--port", str(tap_port), "--upstream", mock_url]):
                wait_http(f"{tap_url}/models")
                env = {"ORCH_MODEL_BASE_URL": tap_url, "ORCH_MODEL_API_KEY": "mock"}
                with running_stack(
                    work / "tapped", env=env, redis_url=redis_url, args=args, timeouts=BENCH_TIMEOUTS
                ) as stack:
                    per_token(stack, tap_url, sizes, report)
    print("scaling (a stack per run-worker count)")
    rows, results = capacity.scaling_figures(sizes.scaling_runs, sizes.scaling_clients, sizes.scaling_workers, cluster)
    for row in rows:
        report.add(*row)
    report.extra["scaling"] = results
    report.plots.append(lambda out: capacity.plot_scaling(results, out))


def add_concurrency(measured: tuple[list[capacity.Row], Outcome], report: Report) -> None:
    rows, outcome = measured
    for row in rows:
        report.add(*row)
    report.extra["concurrency"] = summary = concurrency_summary(outcome)
    report.plots.append(lambda out: capacity.plot_concurrency(outcome, out))
    report.notes.append(capacity.concurrency_note(summary))


def per_token(stack: Stack, tap_url: str, sizes: Sizes, report: Report) -> None:
    base = stack.base_url
    with httpx.Client(timeout=60) as http:
        response = http.post(f"{base}/assistants", headers=HEADERS, json={"model": "mock"})
        response.raise_for_status()
        assistant = str(response.json()["id"])
        latencies: list[float] = []
        for index in range(sizes.token_runs + 1):
            mark = f"tap-{uuid.uuid4().hex[:12]}"
            text = f"[[slow {sizes.token_delay_s}]] [[long {sizes.tokens}]] {mark}"
            run = stream_run(http, base, thread_body(assistant, text))
            tapped = http.get(f"{tap_url.removesuffix('/v1')}/tap/{mark}").json()
            if index:  # the first is a warm-up
                latencies += token_latency_ms(run.delta_times, run.delta_chars, tapped)
    relay = relay_floor(stack.redis_url, tap_url, sizes)
    for p in (50, 99):
        report.add("per token", f"per-token latency p{p}, model chunk (at the tap) → client", pct(latencies, p),
                   relay[f"p{p}"], "ms", "Redis pub/sub → SSE relay (bench/relay.py)",
                   "≤ 2x" if p == 99 else "")  # fmt: skip


def create_assistant(base: str) -> str:
    response = httpx.post(f"{base}/assistants", headers=HEADERS, json={"model": "mock"}, timeout=30)
    response.raise_for_status()
    return str(response.json()["id"])


def kinds_of(stack: Stack, mock_pid: int, redis_pid: int | None) -> dict[str, set[int]]:
    kinds: dict[str, set[int]] = {"API": set(), "run worker": set(), "Redis": set(), "mock (apart)": {mock_pid}}
    for child in stack.children().values():
        role = child["role"]
        if role == "api":
            kinds["API"].add(child["pid"])
        elif role == "worker-runs":
            kinds["run worker"].add(child["pid"])
        elif role in ("redis", "embedded-redis", "valkey") and redis_pid is None:
            kinds["Redis"].add(child["pid"])
    if redis_pid is not None:
        kinds["Redis"].add(redis_pid)
    return kinds


def measure_stack(
    stack: Stack,
    sizes: Sizes,
    report: Report,
    celery: dict[str, Any] | None,
    mock_pid: int,
    shared_redis: tuple[int, int] | None,
    mock_url: str,
) -> None:
    base = stack.base_url
    rclient = redis.Redis.from_url(stack.redis_url)
    probe = CpuProbe(kinds_of(stack, mock_pid, shared_redis[1] if shared_redis else None))
    report.extra["roles"] = sorted({c["role"] for c in stack.children().values()})
    with httpx.Client(timeout=30) as http:
        response = http.post(f"{base}/assistants", headers=HEADERS, json={"model": "mock"})
        response.raise_for_status()
        assistant = str(response.json()["id"])
    body = thread_body(assistant, "hello there")
    load(sizes.clients, min(20, sizes.runs), lambda http: stream_run(http, base, body))  # warm up

    # Throughput and CPU per run, streamed: also the first delta under load and lost events.
    print("throughput (streamed)")
    cpu0, (calls0, in0, out0) = probe.snapshot(), commandstats(rclient)
    streamed, seconds = load(sizes.clients, sizes.runs, lambda http: stream_run(http, base, body))
    cpu1, (calls1, in1, out1) = probe.snapshot(), commandstats(rclient)
    floor_tps = float(celery["e2e_median"]) if celery else None
    report.add("throughput", f"streamed runs/s, {sizes.clients} clients, 1 run worker", sizes.runs / seconds,
               floor_tps, "runs/s", "bare Celery no-op tasks/s, 1 worker process", "≥ 0.5x")  # fmt: skip
    lost = sum(not s.completed for s in streamed)
    report.add("throughput", "streamed runs not completed or without [DONE]", float(lost), 0.0, "runs",
               "must be 0", "0")  # fmt: skip
    firsts = [s.first_delta_s * 1000 for s in streamed if s.first_delta_s is not None]
    cpu_per_run = {k: (cpu1[k] - cpu0[k]) / sizes.runs * 1000 for k in cpu0}
    floor_cpu = celery["cpu_ms_per_task"] if celery else None
    floor_total = sum(floor_cpu.values()) if floor_cpu else None
    ours_total = cpu_per_run["API"] + cpu_per_run["run worker"] + cpu_per_run["Redis"]
    report.add("cpu", "CPU per run, API + run worker + Redis", ours_total, floor_total, "ms",
               "bare Celery task: producer + worker + Redis", "≤ 3x")  # fmt: skip
    for kind, floor_key in (("API", "producer_apply_async"), ("run worker", "worker_all_procs_drain"),
                            ("Redis", "redis_drain"), ("mock (apart)", None)):  # fmt: skip
        floor = float(floor_cpu[floor_key]) if floor_cpu and floor_key else None
        report.add("cpu", f"CPU per run: {kind}", cpu_per_run[kind], floor, "ms", floor_key or "-")
    deltas = {k: calls1.get(k, 0) - calls0.get(k, 0) for k in calls1}
    per_run = {k: round(v / sizes.runs, 2) for k, v in sorted(deltas.items(), key=lambda kv: -kv[1]) if v > 0}
    report.extra["redis_commands_per_run"] = per_run
    report.add("redis", "Redis commands per run", sum(deltas.values()) / sizes.runs, None, "commands", "-")
    report.add("redis", "Redis bytes in + out per run", ((in1 - in0) + (out1 - out0)) / sizes.runs, None, "bytes",
               "-")  # fmt: skip

    print("throughput (polled)")
    polled, seconds = load(sizes.clients, sizes.runs, lambda http: polled_run(http, base, assistant, 0.05))
    report.add("throughput", f"polled runs/s (poll every 50 ms), {sizes.clients} clients", sizes.runs / seconds,
               floor_tps, "runs/s", "bare Celery no-op tasks/s", "≥ 0.5x")  # fmt: skip
    report.add("throughput", "polled runs not completed", float(sum(not ok for ok in polled)), 0.0, "runs",
               "must be 0", "0")  # fmt: skip

    print("first text delta")
    with httpx.Client(timeout=30) as http:
        sequential = [stream_run(http, base, body).first_delta_s for _ in range(sizes.sequential)]
    seq_ms = [s * 1000 for s in sequential if s is not None]
    mock_ms = mock_first_chunk_ms(mock_url, sizes.sequential)
    rtt = celery["rtt_ms"] if celery else None
    for p in (50, 99):
        floor = float(rtt[f"p{p}"]) + pct(mock_ms, p) if rtt else None
        report.add("first delta", f"create → first text delta p{p}, sequential", pct(seq_ms, p), floor, "ms",
                   "Celery round trip + one streamed HTTP call to the mock", "≤ 2x" if p == 50 else "≤ 3x")  # fmt: skip
    for p in (50, 99):
        floor = float(rtt[f"p{p}"]) + pct(mock_ms, p) if rtt else None
        report.add("first delta", f"create → first text delta p{p}, {sizes.clients} clients", pct(firsts, p),
                   floor, "ms", "same floor, sequential", "< 100 ms" if p == 99 else "")  # fmt: skip

    print("deltas/s relayed")
    long_body = thread_body(assistant, f"[[long {sizes.relay_words}]]")
    relayed, seconds = load(sizes.relay_streams, sizes.relay_streams * 2, lambda h: stream_run(h, base, long_body))
    report.add("per token", f"deltas/s delivered end to end ({sizes.relay_streams} streams, a run each)",
               sum(len(r.delta_times) for r in relayed) / seconds, None, "deltas/s", "-")  # fmt: skip

    followed = fan_out(base, assistant, sizes)
    report.add("per token", f"deltas/s relayed by one API process ({sizes.followers} followers of one run)",
               followed, None, "deltas/s", "-", "≥ 20,000")  # fmt: skip

    print("long threads")
    for row in long_thread(base, assistant, sizes, probe):
        report.add("long thread", *row)


def fan_out(base: str, assistant: str, sizes: Sizes) -> float:
    """One run answering `[[long N]]` as fast as the worker commits, followed by many `GET .../events` streams at
    once: the deltas the API process relays per second, over all followers (counted on raw bytes, so the load
    generator parses as little as it can)."""
    body = thread_body(assistant, f"[[slow 0.001]] [[long {sizes.follow_words}]]")
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=sizes.followers + 4)) as http:
        run = http.post(f"{base}/threads/runs", headers=HEADERS, json=body).json()
        url = f"{base}/threads/{run['thread_id']}/runs/{run['id']}/events"
        marker = b"event: thread.message.delta"

        def follow(_: int) -> tuple[int, float, float]:
            count, first, tail = 0, 0.0, b""
            with http.stream("GET", url, headers=HEADERS) as response:
                for chunk in response.iter_bytes():
                    now = time.perf_counter()
                    data = tail + chunk
                    found = data.count(marker)
                    if found and not first:
                        first = now
                    count += found
                    tail = data[-len(marker) :]
                    count -= tail.count(marker)
                    if b"data: [DONE]" in data:
                        break
            return count + tail.count(marker), first, time.perf_counter()

        with ThreadPoolExecutor(max_workers=sizes.followers) as pool:
            results = list(pool.map(follow, range(sizes.followers)))
    starts = [first for _, first, _ in results if first]
    total = sum(count for count, _, _ in results)
    return total / max(1e-6, max(end for _, _, end in results) - min(starts)) if starts else 0.0


def long_thread(base: str, assistant: str, sizes: Sizes, probe: CpuProbe) -> list[tuple[Any, ...]]:
    """Streamed runs on a thread of `sizes.long_thread` messages beside the same on 10: wall time, and the CPU of
    our processes (API, run worker, Redis) per run, after one run that warms the worker's rendered messages."""
    runs = 5
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=32)) as http:
        body: dict[str, object] = {"assistant_id": assistant, "stream": True}

        def one_ms(thread: str) -> float:
            return streamed_run_ms(http, base, thread, body)

        def measured(thread: str) -> tuple[float, float]:
            one_ms(thread)
            cpu0 = probe.snapshot()
            samples = [one_ms(thread) for _ in range(runs)]
            cpu1 = probe.snapshot()
            ours = sum(cpu1[k] - cpu0[k] for k in ("API", "run worker", "Redis"))
            return statistics.median(samples), ours / runs * 1000

        started = time.perf_counter()
        big = thread_of(http, base, sizes.long_thread)
        print(f"  {sizes.long_thread} messages created in {time.perf_counter() - started:.1f} s")
        (big_ms, big_cpu), (small_ms, small_cpu) = measured(big), measured(thread_of(http, base, 10))
        name = f"a thread of {sizes.long_thread:,} messages"
        return [
            (f"streamed run on {name} (median of {runs})", big_ms, small_ms, "ms", "the same on 10 messages", "≈ 1x"),
            (f"CPU per streamed run on {name}: API + run worker + Redis", big_cpu, small_cpu, "ms",
             "the same on 10 messages", "≈ 1x"),
        ]  # fmt: skip


# ------------------------------------------------------------------------------------------------- output

# Where each Redis command of a streamed run comes from. INFO commandstats counts the calls made inside Lua
# scripts too, so EVALSHA's own count is the number of script runs and XADD, PUBLISH... are mostly inside them.
WHY = {
    "evalsha": "one script run per atomic write: rate_limit.lua (the request), active_cap.lua (the run's place under "
    "its project's cap), commit.lua (creation, claim, step and message, each delta commit, the end)",
    "xadd": "commit.lua: each event appended to the run's capped event log (replay, Last-Event-ID, late joiners)",
    "publish": "commit.lua: one doorbell per commit with events (the last event id and the names; streams read the "
    "events from the log)",
    "hmget": "commit.lua: the commit's guards and the run's version, in one read",
    "zadd": "the run's look in the sweeper's leases index (at the send, then at the claim's lease), its expiry entry "
    "and its place under the cap; commit.lua indexes (thread's runs and messages, run's messages and steps); "
    "kombu's unacked index (acks_late)",
    "zrem": "the run's end drops its expiry entry, cap place and sweeper look (one pipeline); kombu's unacked index "
    "on ack",
    "get": "rate_limit.lua bucket; the assistant; the thread's active-run key in commit.lua (start and end only)",
    "set": "rate_limit.lua bucket (with its TTL); commit.lua: the new thread and its message (with the run's "
    "creation), the thread's active-run key, the answer's message and step at their creation and at the end",
    "hset": "commit.lua: the run's fields with its new version (creation, claim, step, end); kombu's unacked hash",
    "hgetall": "the run hash read whole by the worker: to claim it, and to end it (the version guard)",
    "xrange": "the stream's first read of the log, then one read per doorbell (or burst of them) per API process",
    "multi": "kombu (Celery's Redis transport): its unacked bookkeeping at delivery and at ack",
    "exec": "the same two transactions",
    "time": "active_cap.lua and rate_limit.lua read the server clock",
    "brpop": "Celery worker waiting for the next task (kombu)",
    "lpush": "Celery send_task: the run's task on the runs queue",
    "expire": "commit.lua: the event log's TTL once the run ends",
    "zremrangebyscore": "active_cap.lua: places long past their expiry (crash leftovers) leave the cap's index",
    "zcard": "active_cap.lua: the project's active runs against its cap",
    "del": "commit.lua: the thread's active-run key released at the end",
    "hdel": "kombu: the task leaves the unacked hash on ack",
    "subscribe": "the API's stream subscription for the run (multiplexed connection)",
    "unsubscribe": "the stream's end (several channels per call when streams end together)",
    "zrangebylex": "the run's steps read for the model's context",
    "zrevrangebylex": "the thread's latest messages, newest first, for the model's context",
    "mget": "the context's messages read in one call",
    "zrangebyscore": "the sweeper's periodic read of its index shards (time-driven, not per run)",
}


def verdict(row: Row) -> str:
    """Whether issue 8's target for the row is met ("" when it has none or its floor is missing)."""
    target, ours, ratio = row.target.replace(",", ""), row.ours, row.ratio
    if not target or ours is None:
        return ""
    if target == "0":
        return "met" if ours == 0 else "MISSED"
    if target.endswith(" ms"):
        return "met" if ours < float(target.split()[-2]) else "MISSED"
    bound = float(target.split()[-1].rstrip("x"))
    if not target.endswith("x"):
        return "met" if ours >= bound else "MISSED"
    if ratio is None:
        return ""
    if "≥" in target:
        return "met" if ratio >= bound else "MISSED"
    if "≈" in target:
        return "met" if ratio <= 1.5 else "MISSED"
    return "met" if ratio <= bound else "MISSED"


def table(rows: list[Row]) -> str:
    lines = ["| figure | ours | floor | ratio | target (issue 8) | | floor measured as |"]
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        ratio = f"{fmt(r.ratio)}x" if r.ratio is not None else "n/a"
        lines.append(
            f"| {r.figure} | {fmt(r.ours)} {r.unit} | {fmt(r.floor)} | {ratio} | {r.target} | {verdict(r)} "
            f"| {r.floor_name} |"
        )
    return "\n".join(lines)


OWN_PLOTS = ("concurrency", "scaling")  # bench/capacity.py draws these


def plots(rows: list[Row], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for group in dict.fromkeys(r.group for r in rows if r.group not in OWN_PLOTS):
        chosen = [r for r in rows if r.group == group and r.ours is not None and r.unit not in ("runs",)]
        if not chosen:
            continue
        fig, ax = plt.subplots(figsize=(8, 0.6 + 0.5 * len(chosen)))
        y = range(len(chosen))
        ax.barh([i + 0.2 for i in y], [r.ours or 0 for r in chosen], height=0.4, label="Orchestrator")
        ax.barh([i - 0.2 for i in y], [r.floor or 0 for r in chosen], height=0.4, label="floor (same run)")
        ax.set_yticks(list(y), [f"{r.figure} ({r.unit})" for r in chosen], fontsize=7)
        ax.legend(fontsize=7)
        ax.set_title(group)
        fig.tight_layout()
        name = f"bench-{group.replace(' ', '-')}.png"
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        names.append(name)
    return names


def markdown(report: Report, command: str, png: list[str], profile: str) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    commands = report.extra.get("redis_commands_per_run", {})
    command_lines = "\n".join(f"| {name} | {calls} | {WHY.get(name, '')} |" for name, calls in commands.items())
    capacity_how = capacity.HOW
    return f"""# Benchmarks

Written by `{command}` on {when}, on this machine kind (2 cores: the stack, the floors and the load generator
share them, so absolute numbers drift; the ratios, measured side by side in one run, are what to compare).
Everything binds to 127.0.0.1 and every load is bounded in count and time. The instant mock model
(`orchestrator mock-model`, started by the benchmark, its CPU counted apart) stands in for the model; the stack is
`orchestrator up --run-workers 1` (one run-worker process, 256 threads); the concurrency and scaling figures start
stacks of their own (below).

{chr(10).join("- " + note for note in report.notes)}

## Every figure beside its floor

{table(report.rows)}

{chr(10).join(f"![{name}]({name})" for name in png)}

How each is measured:

- **Throughput**: N runs (`POST /v1/threads/runs`, one new thread each) from 32 concurrent clients, client wall
  time; streamed runs read the SSE stream to `[DONE]`, polled runs poll every 50 ms. Floor: `celery_floor.py`'s
  end-to-end no-op tasks/s with one worker process (threads x8) through the same Redis.
- **First text delta**: request sent to the first `thread.message.delta` received. Floor: one `apply_async().get()`
  round trip plus one streamed HTTP call to the mock up to its first chunk (the two hops a run cannot avoid).
- **Per token**: a second stack whose model calls go through `bench/tap.py`, a pass-through that notes (on the
  monotonic clock every process shares) when each chunk of the mock's answer went by; the mock answers
  `[[slow D]] [[long N]]` (one word every D = 10 ms). Each delta's latency: its arrival at the client minus the
  tap's time for the chunk that completes its text. Floor: the same answer read through the tap by the benchmark,
  each chunk PUBLISHed on Redis and relayed as SSE by `bench/relay.py` (Starlette on uvicorn), same definition.
- **Deltas/s**: end to end, concurrent streamed runs of `[[long N]]` (each its own run; the run worker is the
  limit); relayed, 64 clients following one fast run with `GET .../events` (the API process's fan-out), against
  issue 8's ≥ 20,000 (no floor measured).
- **CPU per run**: utime+stime from `/proc/<pid>/stat` of the processes `children.json` lists (and their
  descendants), per role, over the streamed load, divided by its runs. Floor: `celery_floor.py`'s producer, worker
  and Redis CPU per task (drain phase).
- **Redis commands and bytes per run**: `INFO commandstats` and `total_net_*_bytes` before and after the streamed
  load (the load generator's traffic is none: it speaks only HTTP).
- **Long threads**: a streamed run on a thread of many messages (created through the API by 16 clients) against
  one on 10 messages; the ratio should stay near 1.
{capacity_how}

## Redis commands per streamed run

Counted over the streamed throughput load (`INFO commandstats`, which also counts the calls scripts make).
Where each comes from, traced to the scripts in `orchestrator/store/scripts/` and Celery's Redis transport:

| command | calls per run | where from |
| --- | --- | --- |
{command_lines}

## Profile of the worker side

{profile}

## Not in the default run

- The LangGraph dev peer (`../shared/floors/langgraph_peer.py`) needs its own venv; it installs in about a
  minute here: `python3 -m venv /tmp/lgvenv && /tmp/lgvenv/bin/pip install 'langgraph-cli[inmem]'`, then
  `python -m bench --langgraph /tmp/lgvenv/bin/python` (or `ORCH_BENCH_LANGGRAPH_PYTHON`) adds it (about a minute
  more) and a streamed load at its 50 clients.
- The scaling figures on one server: `python -m bench --scaling-cluster 0` starts the scaling stacks without a
  cluster; `python -m bench.scaling --cluster 3` runs the scaling load alone (on one server without `--cluster`).
- `bench/latency.py` remains as a separate, older benchmark.

Reproduce: `make bench` (= `.venv/bin/python -m bench`), or `--quick` for a smoke run of a few minutes.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few minutes (three small stacks)")
    parser.add_argument("--langgraph", default=os.environ.get("ORCH_BENCH_LANGGRAPH_PYTHON"),
                        help="python of a venv with langgraph-cli[inmem]: include the LangGraph dev peer")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="where benchmarks.md and the plots go "
                        "(default docs/, or a temporary folder with --quick)")  # fmt: skip
    parser.add_argument("--scaling-cluster", type=int, default=int(os.environ.get("ORCH_BENCH_SCALING_CLUSTER", "3")),
                        help="masters of the embedded Redis Cluster the scaling stacks keep their state on, as issue 8 "
                        "asks (0: one embedded server for state and broker)")  # fmt: skip
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else DEFAULT
    out: Path = args.out or (Path(tempfile.mkdtemp(prefix="bench-")) if args.quick else REPO_ROOT / "docs")
    out.mkdir(parents=True, exist_ok=True)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as work:
        measure(sizes, report, Path(work), args.langgraph, args.scaling_cluster)
    print(table(report.rows))
    from bench.profile import profile as profile_runs
    from orchestrator.logging import configure_logging

    configure_logging("WARNING")
    print("profile of the worker side")
    profile = profile_runs(20 if args.quick else 200, 25)
    png = plots(report.rows, out) + [draw(out) for draw in report.plots]
    command = "python -m bench" + (" --quick" if args.quick else "") + (" --langgraph PYTHON" if args.langgraph else "")
    (out / "benchmarks.md").write_text(markdown(report, command, png, profile))
    (out / "bench-results.json").write_text(json.dumps({"rows": [r.__dict__ for r in report.rows],
                                                        **report.extra}, indent=1))  # fmt: skip
    print(f"wrote {out / 'benchmarks.md'}")
    return 0
