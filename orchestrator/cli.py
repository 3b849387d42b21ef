"""The `orchestrator` command: `up` runs the whole stack on one machine; each part can also run alone."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from orchestrator.logging import configure_logging
from orchestrator.process import StopSignal
from orchestrator.settings import Settings, get_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the API, every worker pool and the sweeper as separate processes")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--redis-url", default=None, help="use this Redis instead of starting the embedded server")
    up.add_argument(
        "--redis-cluster",
        type=int,
        default=0,
        metavar="N",
        help="the state on an embedded Redis Cluster of N masters (the broker on a separate embedded server)",
    )
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
        from workers import signals
        from workers.celery_app import make_celery, worker_argv

        signals.install(settings, args.pool)
        app = make_celery(settings)
        if args.pool == "code_interpreter":
            from workers.tools.code_interpreter.tasks import sandbox_for

            sandbox_for(settings.code_sandbox, settings.code_sandbox_bwrap)  # probes and logs the mode at startup
        app.worker_main(worker_argv(args.pool, args.concurrency, f"{args.pool}-{os.getpid()}@%h", settings.log_level))
    elif args.command == "sweeper":
        _sweeper(settings)
    elif args.command == "status":
        from orchestrator.status import collect, render

        url_file = Path(args.data_dir) / "redis_url"
        if args.redis_url:
            settings = get_settings(redis_url=args.redis_url)
        elif not os.environ.get("ORCH_REDIS_URL") and url_file.exists():
            settings = get_settings(redis_url=url_file.read_text().strip(), **local_cluster(Path(args.data_dir)))
        print(render(collect(settings, Path(args.data_dir) / "children.json"), args.json))
    elif args.command == "keys":
        raise SystemExit(keys_cli.run(args, settings))
    elif args.command == "mock-model":
        from orchestrator.mockmodel import serve

        serve(args.host, args.port, args.latency, args.token_delay)


# Idle keep-alive connections outlive typical client and load-balancer idle times (60 s), so a client never sends
# a request on a connection the server is just closing (seen as "connection reset" under load).
# uvloop and httptools (runtime dependencies) rather than asyncio's loop and the pure-Python h11 parser.
_UVICORN: dict[str, Any] = {"timeout_keep_alive": 75, "loop": "uvloop", "http": "httptools"}


def _api(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    from orchestrator.process import raise_open_files_limit

    raise_open_files_limit()  # inherited by the worker processes of `--workers N`

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
    from prometheus_client import start_http_server

    from orchestrator.broker import depth_reader
    from orchestrator.services.dispatch import CeleryDispatcher, make_producer
    from orchestrator.services.recovery import RecoveryPolicy
    from orchestrator.store import Keys, RedisStore, clients
    from orchestrator.sweeper import run_forever

    store = RedisStore(
        clients.for_settings(settings, socket_timeout=10),
        Keys(settings.key_prefix),
        resend_after_s=settings.task_resend_after_s,
    )
    dispatcher = CeleryDispatcher(make_producer(settings.celery_broker_url, settings.celery_transport_options()))
    policy = RecoveryPolicy(settings.run_lease_s, settings.task_resend_after_s, settings.max_recoveries)
    depths = depth_reader(settings.celery_broker_url, settings.broker_key_prefix)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    recovery = (dispatcher, policy)
    run_forever(store, depths, settings.sweep_interval_s, StopSignal(), recovery)


def _up(args: argparse.Namespace) -> int:
    from orchestrator.supervisor import UpOptions, up

    if args.redis_cluster and args.redis_url:
        print("--redis-cluster starts a cluster of its own: leave out --redis-url", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir)
    options = UpOptions(
        api_keys=os.environ.get("ORCH_API_KEYS") or f"{_local_key(data_dir)}=default",
        host=args.host,
        port=args.port,
        redis_url=args.redis_url,
        redis_cluster=args.redis_cluster,
        run_workers=args.run_workers,
        tool_workers=args.tool_workers,
        run_concurrency=args.run_concurrency,
        mock_latency=args.mock_latency,
        data_dir=data_dir,
    )
    return up(options, say=lambda line: print(line, flush=True))


def local_cluster(data_dir: Path) -> dict[str, Any]:
    """Settings for the state of an `up --redis-cluster` in `data_dir` (it leaves its broker's URL there)."""
    broker_file = data_dir / "broker_url"
    if not broker_file.exists():
        return {}
    return {"redis_cluster": True, "broker_url": broker_file.read_text().strip()}


def _local_key(data_dir: Path) -> str:
    """A key kept in the data folder, so a restarted stack accepts the same key; only its owner may read it."""
    path = data_dir / "api_key"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # written by an older version, readable by others
        return path.read_text().strip()
    key = f"sk-orch-{secrets.token_hex(16)}"
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    return key


if __name__ == "__main__":
    main()
