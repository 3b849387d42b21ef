"""`orchestrator up`'s child processes: started in order, watched, restarted with backoff when one dies, and
stopped in reverse order on SIGINT or SIGTERM. A dying child never takes the stack down; only a signal stops it.

`Supervisor` is the generic part (any command lines); `up()` composes the one-machine stack from it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog
from prometheus_client import start_http_server

from orchestrator import embedded, embedded_cluster, metrics
from orchestrator.process import Stopper, StopSignal, die_with_parent

log = structlog.get_logger(__name__)

TICK_S = 0.2
STOP_TIMEOUT_S = 8.0  # within the 10 s container runtimes give between SIGTERM and SIGKILL
REDIS_START_TIMEOUT_S = 10.0
CLUSTER_START_TIMEOUT_S = 30.0
READY_HINT_AFTER_S = 60.0


@dataclass(frozen=True)
class ChildSpec:
    """How to start one child.

    `role` labels the restart metric, so it names a kind of process (bounded), while `name` is unique in the
    stack. Children of a higher `layer` use those of lower layers and are stopped before them.
    """

    name: str
    role: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    layer: int
    quiet: bool = False  # discard its output (the embedded server's log is not ours to show)


@dataclass
class Backoff:
    """Restart delays: `first` doubling up to `cap`. A child that stayed up `stable_after` seconds was not
    crash-looping, so its next restart starts over from `first`."""

    first: float = 0.5
    cap: float = 30.0
    stable_after: float = 10.0
    failures: int = 0

    def delay(self, uptime: float) -> float:
        if uptime >= self.stable_after:
            self.failures = 0
        delay = min(self.cap, self.first * 2.0 ** min(self.failures, 16))
        self.failures += 1
        return delay


@dataclass
class Child:
    spec: ChildSpec
    backoff: Backoff = field(default_factory=Backoff)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    """Keeps children running until a stop signal; `state_file` always lists their current pids."""

    def __init__(self, stop: Stopper, state_file: Path) -> None:
        self.stop = stop
        self.state_file = state_file
        self.children: list[Child] = []

    def start(self, spec: ChildSpec) -> None:
        child = Child(spec)
        self.children.append(child)
        metrics.CHILD_RESTARTS.labels(role=spec.role)  # exported at 0, so the first restart shows as an increase
        self._spawn(child)

    def watch(self, until: Callable[[], bool] | None = None, timeout_s: float | None = None) -> bool:
        """Restart children that die until a stop signal or `timeout_s` (False), or until `until()` holds (True)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.stop.is_set():
            self._tend(time.monotonic())
            if until is not None and until():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self.stop.wait(TICK_S)
        return False

    def shutdown(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the children layer by layer, highest first; each lower layer keeps a second of the budget."""
        end = time.monotonic() + timeout_s
        layers = sorted({child.spec.layer for child in self.children}, reverse=True)
        for index, layer in enumerate(layers):
            lower_layers = len(layers) - 1 - index
            deadline = max(end - lower_layers, time.monotonic() + 0.5)
            _stop_all([c for c in self.children if c.spec.layer == layer], deadline)
        self._write_state()

    def _tend(self, now: float) -> None:
        for child in self.children:
            if self.stop.is_set():  # Ctrl-C reaches the children too: their exits are the shutdown, not crashes
                return
            if child.process is not None and (code := child.process.poll()) is not None:
                delay = child.backoff.delay(now - child.started_at)
                log.warning(
                    "child.exited",
                    role=child.spec.role,
                    child=child.spec.name,
                    pid=child.process.pid,
                    exit_code=code,
                    signal=signal.Signals(-code).name if code < 0 else None,
                    restart_in_s=delay,
                )
                child.process, child.restart_at = None, now + delay
                self._write_state()
            elif child.process is None and child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                metrics.CHILD_RESTARTS.labels(role=child.spec.role).inc()
                self._spawn(child)
                pid = child.process.pid if child.process else None
                log.warning("child.restarted", role=child.spec.role, child=child.spec.name, pid=pid)

    def _spawn(self, child: Child) -> None:
        output = subprocess.DEVNULL if child.spec.quiet else None
        child.started_at, child.restart_at = time.monotonic(), None
        try:
            child.process = subprocess.Popen(
                list(child.spec.argv),
                env=dict(child.spec.env),
                stdout=output,
                stderr=output,
                preexec_fn=die_with_parent,
            )
        except OSError:
            # Counted as an immediate death: retried with the same backoff as a crash.
            log.exception("child.spawn_failed", role=child.spec.role, child=child.spec.name)
            child.restart_at = time.monotonic() + child.backoff.delay(0.0)
        self._write_state()

    def _write_state(self) -> None:
        state = {
            "supervisor": os.getpid(),
            "children": [
                {
                    "name": c.spec.name,
                    "role": c.spec.role,
                    "pid": c.process.pid if c.process is not None else None,
                    "restarts": c.restarts,
                }
                for c in self.children
            ],
        }
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        temporary.replace(self.state_file)  # readers never see a half-written file


def _stop_all(children: list[Child], deadline: float) -> None:
    running = [c.process for c in children if c.process is not None and c.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for child in children:
        child.process, child.restart_at = None, None


@dataclass(frozen=True)
class UpOptions:
    """What `orchestrator up` was asked for; `api_keys` is the ORCH_API_KEYS value the API gets."""

    api_keys: str
    host: str = "127.0.0.1"
    port: int = 8000
    redis_url: str | None = None
    redis_cluster: int = 0  # masters of an embedded Redis Cluster for the state (0: one server)
    run_workers: int = 1
    tool_workers: int = 1
    run_concurrency: int | None = None
    mock_latency: float = 0.0
    data_dir: Path = Path(".orchestrator")


def up(options: UpOptions, say: Callable[[str], None]) -> int:
    """Run the whole stack until SIGINT or SIGTERM; `say` shows the operator what happened."""
    stop = StopSignal()
    options.data_dir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(stop, options.data_dir / "children.json")
    try:
        return _run(options, supervisor, say)
    finally:
        supervisor.shutdown()
        say("Orchestrator stopped.")


def _run(options: UpOptions, supervisor: Supervisor, say: Callable[[str], None]) -> int:
    env = dict(os.environ)
    # One terminal shows every process: keep it to warnings unless the operator asked for more.
    env.setdefault("ORCH_LOG_LEVEL", "WARNING")
    env.setdefault("ORCH_METRICS_HOST", options.host)
    # Uploaded files beside the stack's other data; absolute, so every child finds the same directory.
    env.setdefault("ORCH_FILES_DIR", str((options.data_dir / "files").resolve()))
    env["ORCH_API_KEYS"] = options.api_keys
    redis_url = options.redis_url or os.environ.get("ORCH_REDIS_URL")
    if options.redis_cluster:
        started = _start_embedded_cluster(supervisor, options.data_dir, env, options.redis_cluster)
        if started is None:
            say(f"The embedded Redis Cluster did not become ready within {CLUSTER_START_TIMEOUT_S:.0f} s.")
            return 1
        redis_url, broker_url = started
        env["ORCH_REDIS_CLUSTER"] = "true"
        env["ORCH_BROKER_URL"] = broker_url
        (options.data_dir / "broker_url").write_text(broker_url)  # `status` and `keys` find a cluster by it
        say(
            f"Started an embedded Redis Cluster of {options.redis_cluster} masters (Valkey) for the state, seed "
            f"{redis_url}, data in {options.data_dir}/redis-cluster; the broker at {broker_url}"
        )
    elif not redis_url:
        redis_url = _start_embedded_server(supervisor, options.data_dir, env)
        if redis_url is None:
            say(f"The embedded Redis-protocol server did not answer within {REDIS_START_TIMEOUT_S:.0f} s.")
            return 1
        say(f"Started the embedded Redis-protocol server (Valkey) at {redis_url}, data in {options.data_dir}/redis")
    env["ORCH_REDIS_URL"] = redis_url
    (options.data_dir / "redis_url").write_text(redis_url)
    if not options.redis_cluster:
        (options.data_dir / "broker_url").unlink(missing_ok=True)
    if not env.get("ORCH_MODEL_BASE_URL"):
        env["ORCH_MODEL_BASE_URL"] = _start_mock_model(supervisor, options.mock_latency, env)
        say(
            f"ORCH_MODEL_BASE_URL is not set: using the built-in MOCK model at {env['ORCH_MODEL_BASE_URL']} "
            "(a deterministic test double, not a real LLM)."
        )
    targets = _start_application(supervisor, options, env)
    _write_scrape_targets(options.data_dir, targets)
    base = f"http://{_local_address(options.host)}:{options.port}"
    ready = supervisor.watch(until=lambda: _ready(base), timeout_s=READY_HINT_AFTER_S)
    if not ready and not supervisor.stop.is_set():
        say(f"Not ready after {READY_HINT_AFTER_S:.0f} s ({base}/readyz); still trying, see the log lines above.")
        ready = supervisor.watch(until=lambda: _ready(base))
    if ready:
        api_key = options.api_keys.split(",")[0].split("=")[0]
        say(f"Orchestrator is up.\n  base_url:   {base}/v1\n  playground: {base}/playground\n  api_key:    {api_key}")
    supervisor.watch()
    return 0


def _start_embedded_server(supervisor: Supervisor, data_dir: Path, env: Mapping[str, str]) -> str | None:
    """The embedded server as a supervised child: restarted on the same port and data folder, it replays its
    append-only file, so the stack's data survives its death."""
    port = embedded.free_port()
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    argv = tuple(embedded.server_argv(redis_dir, port))
    supervisor.start(ChildSpec("redis", "redis", argv, env, layer=0, quiet=True))
    if not supervisor.watch(until=lambda: embedded.answers(port), timeout_s=REDIS_START_TIMEOUT_S):
        return None
    return f"redis://127.0.0.1:{port}/0"


def _start_embedded_cluster(
    supervisor: Supervisor, data_dir: Path, env: Mapping[str, str], masters: int
) -> tuple[str, str] | None:
    """The state on an embedded cluster, each node a supervised child (restarted on its port and directory, it
    rejoins from its nodes.conf), and the broker on an embedded server of its own (Celery's broker cannot be a
    cluster) unless ORCH_BROKER_URL names one. Returns the seed node's URL and the broker's, or None if either did
    not become ready."""
    cluster_dir = data_dir / "redis-cluster"
    ports, bus_ports = _cluster_ports(cluster_dir, masters)
    for index, port in enumerate(ports):
        node_dir = cluster_dir / f"node{index}"
        node_dir.mkdir(parents=True, exist_ok=True)
        argv = tuple(embedded_cluster.node_argv(node_dir, port, bus_ports[index], persist=True))
        supervisor.start(ChildSpec(f"redis-node-{index + 1}", "redis", argv, env, layer=0, quiet=True))
    if not supervisor.watch(
        until=lambda: all(embedded.answers(port) for port in ports), timeout_s=REDIS_START_TIMEOUT_S
    ):
        return None
    embedded_cluster.join(ports, bus_ports)
    if not supervisor.watch(until=lambda: embedded_cluster.ready(ports), timeout_s=CLUSTER_START_TIMEOUT_S):
        return None
    broker_url = env.get("ORCH_BROKER_URL") or _start_embedded_server(supervisor, data_dir, env)
    if broker_url is None:
        return None
    return f"redis://127.0.0.1:{ports[0]}/0", broker_url


def _cluster_ports(cluster_dir: Path, masters: int) -> tuple[list[int], list[int]]:
    """The client and bus ports an earlier `up` gave this cluster (its nodes.conf files name them), else free
    ones, recorded."""
    record = cluster_dir / "ports.json"
    if record.exists():
        recorded = json.loads(record.read_text())
        if len(recorded["ports"]) == masters:
            return list(recorded["ports"]), list(recorded["bus_ports"])
    picked = embedded_cluster.free_ports(2 * masters)
    ports, bus_ports = picked[:masters], picked[masters:]
    for index in range(masters):  # a cluster of another size or on other ports starts over
        (cluster_dir / f"node{index}" / "nodes.conf").unlink(missing_ok=True)
    cluster_dir.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"ports": ports, "bus_ports": bus_ports}))
    return ports, bus_ports


def _start_mock_model(supervisor: Supervisor, latency: float, env: Mapping[str, str]) -> str:
    port = embedded.free_port()
    argv = _orchestrator("mock-model", "--port", str(port), "--latency", str(latency))
    supervisor.start(ChildSpec("mock-model", "mock-model", argv, env, layer=1))
    return f"http://127.0.0.1:{port}/v1"


def _start_application(supervisor: Supervisor, options: UpOptions, env: Mapping[str, str]) -> dict[str, list[str]]:
    """The API, the worker pools and the sweeper; returns the scrape targets of every process that serves
    /metrics, the supervisor's own included."""
    metrics_host = _local_address(env["ORCH_METRICS_HOST"])
    targets: dict[str, list[str]] = {"api": [f"{_local_address(options.host)}:{options.port}"]}

    def start(name: str, role: str, *args: str) -> None:
        port = embedded.free_port()
        child_env = {**env, "ORCH_METRICS_PORT": str(port)}
        supervisor.start(ChildSpec(name, role, _orchestrator(*args), child_env, layer=2))
        targets.setdefault(role, []).append(f"{metrics_host}:{port}")

    api = _orchestrator("api", "--host", options.host, "--port", str(options.port))
    # The ops overview scrapes every process listed in scrape_targets.json, written once they all started: an
    # older stack's file would name ports no longer ours.
    scrape_targets = options.data_dir / "scrape_targets.json"
    scrape_targets.unlink(missing_ok=True)
    api_env = {"ORCH_METRICS_TARGETS": str(scrape_targets.resolve()), **env}
    supervisor.start(ChildSpec("api", "api", api, api_env, layer=2))
    concurrency = ("--concurrency", str(options.run_concurrency)) if options.run_concurrency else ()
    for index in range(1, options.run_workers + 1):
        start(f"worker-runs-{index}", "worker-runs", "worker", "--pool", "runs", *concurrency)
    for index in range(1, options.tool_workers + 1):
        start(f"worker-code-interpreter-{index}", "worker-code-interpreter", "worker", "--pool", "code_interpreter")
        start(f"worker-file-search-{index}", "worker-file-search", "worker", "--pool", "file_search")
    start("sweeper", "sweeper", "sweeper")
    port = embedded.free_port()
    start_http_server(port, addr=env["ORCH_METRICS_HOST"], registry=metrics.registry())
    targets["supervisor"] = [f"{metrics_host}:{port}"]
    return targets


def _orchestrator(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "orchestrator", *args)


def _local_address(host: str) -> str:
    """Where this machine reaches a server bound to `host` (a wildcard bind is reached on loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _write_scrape_targets(data_dir: Path, targets: dict[str, list[str]]) -> None:
    """Prometheus file_sd targets of every process this stack started (each serves its own /metrics)."""
    groups = [{"targets": hosts, "labels": {"job": job}} for job, hosts in sorted(targets.items())]
    (data_dir / "scrape_targets.json").write_text(json.dumps(groups, indent=2))
