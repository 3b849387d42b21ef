"""`orchestrator status`: queue depth per queue, live workers per pool and active runs by status; next to a local
`orchestrator up`, also its processes and how often each was restarted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator import broker, health
from orchestrator.settings import Settings
from orchestrator.store import Keys, RedisStore, clients
from orchestrator.sweeper import active_runs_by_status


def collect(settings: Settings, children_file: Path | None = None) -> dict[str, Any]:
    """The report; with the children file of a local `orchestrator up`, also its processes and their restarts."""
    client = clients.for_settings(settings)
    depths = broker.depth_reader(settings.celery_broker_url, settings.broker_key_prefix)
    store = RedisStore(client, Keys(settings.key_prefix))
    report: dict[str, Any] = {
        "queues": health.queue_depths(depths),
        "workers": health.workers_alive(client, store.keys),
        "runs": active_runs_by_status(store),
    }
    if children_file is not None and children_file.exists():
        children = json.loads(children_file.read_text())["children"]
        report["processes"] = {c["name"]: {"pid": c["pid"], "restarts": c["restarts"]} for c in children}
    return report


def render(report: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(report, indent=2, sort_keys=True)
    lines = []
    for title, column, rows in (
        ("Queues", "waiting", report["queues"]),
        ("Worker pools", "alive", report["workers"]),
        ("Active runs", "runs", report["runs"]),
    ):
        width = max(len(name) for name in rows) + 2
        lines.append(f"{title:<{width}}{column:>8}")
        lines += [f"  {name:<{width - 2}}{count:>8}" for name, count in sorted(rows.items())]
        lines.append("")
    if "processes" in report:
        width = max(len(name) for name in report["processes"]) + 2
        lines.append(f"{'Processes (up)':<{width}}{'pid':>8}{'restarts':>10}")
        for name, process in report["processes"].items():
            lines.append(f"  {name:<{width - 2}}{process['pid'] or '-':>8}{process['restarts']:>10}")
        lines.append("")
    missing = health.missing_pools(report["workers"])
    lines.append(f"Pools with no live worker: {', '.join(missing)}" if missing else "Every pool has a live worker.")
    return "\n".join(lines)
