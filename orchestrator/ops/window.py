"""Counters and histogram buckets sampled over time, turned into what a person watches: increases (across counter
resets), rates and quantiles. Pure: no clock, no I/O."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: A sample's name and its labels, sorted: one time series.
Labels = tuple[tuple[str, str], ...]
Series = tuple[str, Labels]
Counts = dict[Series, float]

CREATED = "orchestrator_runs_created_total"
FINISHED = "orchestrator_runs_finished_total"
TTFT_BUCKETS = "orchestrator_run_time_to_first_token_seconds_bucket"
DURATION_BUCKETS = "orchestrator_run_duration_seconds_bucket"
#: The only series the overview reads; everything else a /metrics page holds is dropped on parsing.
WANTED = (CREATED, FINISHED, TTFT_BUCKETS, DURATION_BUCKETS)

QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
#: A series point's quantiles cover this long, so a quiet spell shows as a gap rather than the last busy minute.
POINT_QUANTILE_S = 60.0


def increase(previous: Counts | None, current: Counts) -> Counts:
    """How much each counter grew between two scrapes of one process. A process that restarted (any of its series
    went down) counts from zero again: its whole current value is the increase. No previous scrape: nothing is
    known yet, the current values are only a baseline."""
    if previous is None:
        return {}
    if any(current.get(series, 0.0) < value for series, value in previous.items()):
        return dict(current)
    return {series: value - previous.get(series, 0.0) for series, value in current.items()}


def add(total: Counts, more: Mapping[Series, float]) -> Counts:
    for series, value in more.items():
        total[series] = total.get(series, 0.0) + value
    return total


def summed(parts: Iterable[Mapping[Series, float]]) -> Counts:
    total: Counts = {}
    for part in parts:
        add(total, part)
    return total


def counter(counts: Mapping[Series, float], name: str) -> float:
    """A counter summed over all its labels."""
    return sum(value for (series, _), value in counts.items() if series == name)


def by_label(counts: Mapping[Series, float], name: str, label: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for (series, labels), value in counts.items():
        if series == name:
            key = dict(labels).get(label, "")
            totals[key] = totals.get(key, 0.0) + value
    return totals


def buckets(counts: Mapping[Series, float], name: str) -> list[tuple[float, float]]:
    """A histogram's cumulative buckets summed over its other labels, as (upper bound, count) by bound."""
    by_bound = by_label(counts, name, "le")
    return sorted((float(bound), count) for bound, count in by_bound.items() if bound)


def quantile(q: float, cumulative: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus's histogram_quantile: the rank's bucket, interpolated linearly within it (from 0 for the first);
    in the +Inf bucket, the highest finite bound. None without observations."""
    if not cumulative or cumulative[-1][1] <= 0:
        return None
    total = cumulative[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank and count > lower_count:
            if math.isinf(bound):
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def quantiles_ms(cumulative: Sequence[tuple[float, float]]) -> dict[str, float | None]:
    return {name: _ms(quantile(q, cumulative)) for name, q in QUANTILES.items()}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


@dataclass
class Sample:
    """One look at the deployment: counter increases since the previous look (summed over processes) and the
    state in Redis at that moment."""

    at: float
    interval_s: float | None  # since the previous sample; None for the first (a baseline, no increase known)
    increase: Counts
    active: dict[str, int]
    queues: dict[str, int]
    workers: dict[str, list[dict[str, Any]]]
    targets: int = 0
    failed: list[str] = field(default_factory=list)
    point: dict[str, Any] = field(default_factory=dict)


def point(history: Sequence[Sample]) -> dict[str, Any]:
    """The newest sample as a series point: rates over its own interval, quantiles over the last minute."""
    newest = history[-1]
    interval = newest.interval_s
    recent = [s.increase for s in history if s.at > newest.at - POINT_QUANTILE_S]
    last_minute = summed(recent)
    ttft = buckets(last_minute, TTFT_BUCKETS)
    duration = buckets(last_minute, DURATION_BUCKETS)
    return {
        "at": newest.at,
        "runs_per_s": _rate(counter(newest.increase, FINISHED), interval),
        "created_per_s": _rate(counter(newest.increase, CREATED), interval),
        "ttft_p50_ms": _ms(quantile(0.5, ttft)),
        "ttft_p99_ms": _ms(quantile(0.99, ttft)),
        "duration_p50_ms": _ms(quantile(0.5, duration)),
        "duration_p99_ms": _ms(quantile(0.99, duration)),
        "active": dict(newest.active),
        "queued_tasks": sum(newest.queues.values()),
    }


def _rate(amount: float, interval_s: float | None) -> float:
    return amount / interval_s if interval_s else 0.0


def overview(samples: Sequence[Sample], window_s: float) -> dict[str, Any]:
    """The JSON the ops view draws, from the samples of the last `window_s` (oldest first; at least one)."""
    newest = samples[-1]
    kept = [s for s in samples if s.at >= newest.at - window_s]
    return _overview(kept, summed(s.increase for s in kept), window_s)


class Window:
    """The samples of the last `span_s` and the sum of their increases, kept as samples come and go, so an
    overview costs one pass over the series rather than one per sample."""

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self.samples: deque[Sample] = deque()
        self.total: Counts = {}

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        add(self.total, sample.increase)
        while self.samples[0].at < sample.at - self.span_s:
            gone = self.samples.popleft()
            # Counts are whole numbers held exactly in floats: taking them off leaves no drift.
            add(self.total, {series: -value for series, value in gone.increase.items()})
        sample.point = point(self.samples)

    def overview(self) -> dict[str, Any]:
        return _overview(self.samples, self.total, self.span_s)


def _overview(kept: Sequence[Sample], total: Counts, window_s: float) -> dict[str, Any]:
    newest = kept[-1]
    # The oldest kept sample's interval may reach back before the window: its increase does too, so the rate holds.
    span = sum(s.interval_s or 0.0 for s in kept)
    finished = {status: int(count) for status, count in sorted(by_label(total, FINISHED, "status").items())}
    return {
        "at": newest.at,
        "runs": dict(newest.active),
        "queues": dict(newest.queues),
        "workers": {pool: list(workers) for pool, workers in newest.workers.items()},
        "window_s": window_s,
        "totals": {
            "runs_per_s": _rate(counter(total, FINISHED), span),
            "created_per_s": _rate(counter(total, CREATED), span),
            "finished": finished,
            "ttft_ms": quantiles_ms(buckets(total, TTFT_BUCKETS)),
            "duration_ms": quantiles_ms(buckets(total, DURATION_BUCKETS)),
        },
        "series": [s.point for s in kept],
        "sources": {"targets": newest.targets, "failed": list(newest.failed)},
    }
