"""Where the metrics are and how to read them: the scrape targets (`ORCH_METRICS_TARGETS`: a Prometheus file_sd JSON
file, re-read when it changes, or a comma-separated host:port list), a /metrics page parsed down to the series the
overview reads, and this process's own registry read the same way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.ops.window import WANTED, Counts

#: A target slower than this is reported as failed for the sample rather than holding the others back.
SCRAPE_TIMEOUT_S = 1.0


def parse(text: str) -> Counts:
    """The wanted series of a Prometheus text exposition. Lines of other metrics are dropped before parsing: an
    API's page holds hundreds of HTTP series the overview never reads."""
    lines = [line for line in text.splitlines() if line.startswith(WANTED)]
    return _wanted(
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families("\n".join(lines) + "\n")
        for sample in family.samples
    )


def from_registry(registry: CollectorRegistry) -> Counts:
    """The wanted series of a registry in this process (no HTTP, no text)."""
    return _wanted(
        (sample.name, sample.labels, sample.value) for family in registry.collect() for sample in family.samples
    )


def _wanted(samples: Iterable[tuple[str, dict[str, str], float]]) -> Counts:
    counts: Counts = {}
    for name, labels, value in samples:
        if name in WANTED:
            series = (name, tuple(sorted(labels.items())))
            counts[series] = counts.get(series, 0.0) + value
    return counts


async def fetch(client: httpx.AsyncClient, target: str) -> Counts:
    response = await client.get(f"http://{target}/metrics", timeout=SCRAPE_TIMEOUT_S)
    response.raise_for_status()
    # prometheus_client's parser takes about 80 us a line: a few ms a page, kept off the event loop.
    return await asyncio.to_thread(parse, response.text)


class Targets:
    """The host:port endpoints to scrape, from the setting. A file is re-read when its modification time or size
    changes; one that is missing or unreadable (`orchestrator up` writes it after starting the API) names none."""

    def __init__(self, setting: str | None) -> None:
        setting = (setting or "").strip()
        self.path = Path(setting) if "/" in setting or setting.endswith(".json") else None
        self.listed = [] if self.path else [t.strip() for t in setting.split(",") if t.strip()]
        self._stamp: tuple[int, int] | None = None
        self._from_file: list[str] = []

    def current(self) -> list[str]:
        if self.path is None:
            return self.listed
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                self._from_file = file_sd_targets(json.loads(self.path.read_text()))
                self._stamp = stamp
        except (OSError, ValueError):
            self._stamp, self._from_file = None, []
        return self._from_file


def file_sd_targets(groups: object) -> list[str]:
    """Every target of a file_sd document (`[{"targets": [...], "labels": {...}}, ...]`), in order, once each."""
    if not isinstance(groups, list):
        raise ValueError("a file_sd document is a list of target groups")
    seen: dict[str, None] = {}
    for group in groups:
        if isinstance(group, dict) and isinstance(group.get("targets"), list):
            seen.update((str(target), None) for target in group["targets"])
    return list(seen)
