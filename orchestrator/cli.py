"""The `orchestrator` command: `up` runs the whole stack on one machine; each part can also run alone."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from orchestrator.logging import configure_logging
from orchestrator.process import StopSignal, die_with_parent
from orchestrator.settings import Settings, get_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the API, every worker pool and the sweeper as separate processes")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--redis-url", default=None, help="use this Redis instead of starting the embedded server")
    up.add_argument("--run-workers", type=int, default=1, help="run-worker processes")
    up.add_argument("--tool-workers", type=int, default=1, help="processes per tool pool")
    up.add_argument("--run-concurrency", type=int, default=None, help="runs one run-worker process serves at once")
    up.add_argument("--mock-latency", type=float, default=0.0, help="the mock model's seconds per completion")
    up.add_argument("--data-dir", default=".orchestrator", help="where the embedded server keeps its data")

    api = sub.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")

    worker = sub.add_parser("worker", help="run one worker pool")
    worker.add_argument("--pool", choices=["runs", "code_interpreter", "file_search"], required=True)
    worker.add_argument("--concurrency", type=int, default=None)

    sub.add_parser("sweeper", help="expire runs past their expires_at and refresh deployment gauges")

    status = sub.add_parser("status", help="queue depths, live workers per pool, active runs by status")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--redis-url", default=None, help="default: ORCH_REDIS_URL, else the one `up` started")
    status.add_argument("--data-dir", default=".orchestrator")

    from orchestrator.auth import cli as keys_cli

    keys_cli.add_parser(sub)

    mock = sub.add_parser("mock-model", help="serve the built-in mock Chat Completions model (a test double)")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=8001)
    mock.add_argument("--latency", type=float, default=0.0, help="seconds before each completion's first chunk")
    mock.add_argument("--token-delay", type=float, default=0.0, help="seconds between streamed chunks")

    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json, settings.secrets())
    if args.command == "up":
        raise SystemExit(_up(args))
    if args.command == "api":
        _api(settings, args.host, args.port, args.workers)
    elif args.command == "worker":
        from orchestrator.store import Keys
        from workers import signals
        from workers.celery_app import make_celery, worker_argv

        signals.install(settings.redis_url, Keys(settings.key_prefix), args.pool, settings.metrics_port)
        app = make_celery(settings)
        app.worker_main(worker_argv(args.pool, args.concurrency, f"{args.pool}-{os.getpid()}@%h", settings.log_level))
    elif args.command == "sweeper":
        _sweeper(settings)
    elif args.command == "status":
        from orchestrator.status import collect, render

        url_file = Path(args.data_dir) / "redis_url"
        if args.redis_url:
            settings = get_settings(redis_url=args.redis_url)
        elif not os.environ.get("ORCH_REDIS_URL") and url_file.exists():
            settings = get_settings(redis_url=url_file.read_text().strip())
        print(render(collect(settings), args.json))
    elif args.command == "keys":
        raise SystemExit(keys_cli.run(args, settings))
    elif args.command == "mock-model":
        from orchestrator.mockmodel import serve

        serve(args.host, args.port, args.latency, args.token_delay)


# Idle keep-alive connections outlive typical client and load-balancer idle times (60 s), so a client never sends
# a request on a connection the server is just closing (seen as "connection reset" under load).
_UVICORN: dict[str, Any] = {"timeout_keep_alive": 75}


def _api(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    if workers <= 1:
        from orchestrator.api.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False, **_UVICORN)
        return
    # Several processes share one /metrics through prometheus-client's multiprocess files.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="orchestrator-metrics-")
    uvicorn.run(
        "orchestrator.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def _sweeper(settings: Settings) -> None:
    import redis
    from prometheus_client import start_http_server

    from orchestrator.store import Keys, RedisStore
    from orchestrator.sweeper import run_forever

    store = RedisStore(redis.Redis.from_url(settings.redis_url, decode_responses=True), Keys(settings.key_prefix))
    broker = redis.Redis.from_url(settings.celery_broker_url, decode_responses=True)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="0.0.0.0")
    run_forever(store, broker, settings.sweep_interval_s, StopSignal(), settings.broker_key_prefix)


def _up(args: argparse.Namespace) -> int:
    from orchestrator import embedded

    env = dict(os.environ)
    # One terminal shows every process: keep it to warnings unless the operator asked for more.
    env.setdefault("ORCH_LOG_LEVEL", "WARNING")
    children: list[subprocess.Popen[bytes]] = []
    server = None
    redis_url = args.redis_url or os.environ.get("ORCH_REDIS_URL")
    if not redis_url:
        server = embedded.start(Path(args.data_dir) / "redis")
        redis_url = server.url
        print(f"Started the embedded Redis-protocol server (Valkey) at {redis_url}, data in {args.data_dir}/redis")
    env["ORCH_REDIS_URL"] = redis_url
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.data_dir) / "redis_url").write_text(redis_url)
    if not env.get("ORCH_API_KEYS"):
        key = _local_key(Path(args.data_dir))
        env["ORCH_API_KEYS"] = f"{key}=default"
    api_key = env["ORCH_API_KEYS"].split(",")[0].split("=")[0]

    targets: dict[str, list[str]] = {}

    def spawn(*role: str, job: str | None = None) -> None:
        child_env = env
        if job is not None:
            port = embedded.free_port()
            child_env = {**env, "ORCH_METRICS_PORT": str(port)}
            targets.setdefault(job, []).append(f"127.0.0.1:{port}")
        children.append(
            subprocess.Popen([sys.executable, "-m", "orchestrator", *role], env=child_env, preexec_fn=die_with_parent)
        )

    if not env.get("ORCH_MODEL_BASE_URL"):
        mock_port = embedded.free_port()
        spawn("mock-model", "--port", str(mock_port), "--latency", str(args.mock_latency))
        env["ORCH_MODEL_BASE_URL"] = f"http://127.0.0.1:{mock_port}/v1"
        print(
            f"ORCH_MODEL_BASE_URL is not set: using the built-in MOCK model at {env['ORCH_MODEL_BASE_URL']} "
            "(a deterministic test double, not a real LLM)."
        )
    spawn("api", "--host", args.host, "--port", str(args.port))
    concurrency = ["--concurrency", str(args.run_concurrency)] if args.run_concurrency else []
    for _ in range(args.run_workers):
        spawn("worker", "--pool", "runs", *concurrency, job="worker-runs")
    for _ in range(args.tool_workers):
        spawn("worker", "--pool", "code_interpreter", job="worker-code-interpreter")
        spawn("worker", "--pool", "file_search", job="worker-file-search")
    spawn("sweeper", job="sweeper")
    targets["api"] = [f"127.0.0.1:{args.port}"]
    _write_scrape_targets(Path(args.data_dir), targets)

    stop = StopSignal()
    base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    if _wait_healthy(base, stop, children):
        print(f"Orchestrator is up.\n  base_url: {base}/v1\n  api_key:  {api_key}", flush=True)
    while not stop.is_set() and all(c.poll() is None for c in children):
        stop.wait(0.5)
    return _shutdown(children, server)


def _write_scrape_targets(data_dir: Path, targets: dict[str, list[str]]) -> None:
    """Prometheus file_sd targets of every process this stack started (each serves its own /metrics)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    groups = [{"targets": hosts, "labels": {"job": job}} for job, hosts in sorted(targets.items())]
    (data_dir / "scrape_targets.json").write_text(json.dumps(groups, indent=2))


def _local_key(data_dir: Path) -> str:
    """A key kept in the data folder, so a restarted stack accepts the same key."""
    path = data_dir / "api_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = f"sk-orch-{secrets.token_hex(16)}"
    path.write_text(key)
    return key


def _wait_healthy(base: str, stop: StopSignal, children: list[subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + 60
    while not stop.is_set() and time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            return False
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        stop.wait(0.2)
    return False


def _shutdown(children: list[subprocess.Popen[bytes]], server: object) -> int:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 8
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if server is not None:
        from orchestrator.embedded import EmbeddedRedis

        assert isinstance(server, EmbeddedRedis)
        server.stop()
    print("Orchestrator stopped.", flush=True)
    return 0


if __name__ == "__main__":
    main()
