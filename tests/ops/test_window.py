"""Increases across counter resets, histogram quantiles as Prometheus computes them, and the overview's arithmetic."""

from __future__ import annotations

import math
from typing import Any

import pytest

from orchestrator.ops import window
from orchestrator.ops.window import CREATED, DURATION_BUCKETS, FINISHED, TTFT_BUCKETS, Counts, Sample

BOUNDS = ("0.1", "0.5", "1.0", "+Inf")


def hist(name: str, counts: tuple[float, ...], **labels: str) -> Counts:
    """Cumulative buckets of one histogram label set."""
    return {(name, tuple(sorted({**labels, "le": le}.items()))): c for le, c in zip(BOUNDS, counts, strict=True)}


def finished(status: str, value: float) -> Counts:
    return {(FINISHED, (("status", status),)): value}


def test_the_first_scrape_is_only_a_baseline() -> None:
    assert window.increase(None, {(CREATED, ()): 40.0}) == {}


def test_increase_is_the_difference_and_a_new_series_counts_whole() -> None:
    before: Counts = {(CREATED, ()): 40.0}
    after = {(CREATED, ()): 43.0, **finished("completed", 2.0)}
    assert window.increase(before, after) == {(CREATED, ()): 3.0, **finished("completed", 2.0)}


def test_a_restarted_process_counts_from_zero_for_every_series() -> None:
    # The process restarted and has since counted 5 creations: more than before for that series, but its
    # finished counter went down, which only a restart does.
    before = {(CREATED, ()): 4.0, **finished("completed", 3.0)}
    after = {(CREATED, ()): 5.0, **finished("completed", 1.0)}
    assert window.increase(before, after) == after


def test_a_series_that_vanished_means_a_restart() -> None:
    before = {(CREATED, ()): 4.0, **finished("failed", 1.0)}
    after: Counts = {(CREATED, ()): 6.0}
    assert window.increase(before, after) == after


def test_buckets_sum_over_other_labels_by_bound() -> None:
    counts = {
        **hist(DURATION_BUCKETS, (1, 2, 3, 3), status="completed"),
        **hist(DURATION_BUCKETS, (0, 0, 1, 2), status="failed"),
    }
    assert window.buckets(counts, DURATION_BUCKETS) == [(0.1, 1), (0.5, 2), (1.0, 4), (math.inf, 5)]


@pytest.mark.parametrize(
    ("q", "cumulative", "expected"),
    [
        (0.5, [(0.1, 0), (0.5, 10), (1.0, 10), (math.inf, 10)], 0.3),  # rank 5 of 10, halfway into (0.1, 0.5]
        (0.99, [(0.1, 0), (0.5, 10), (1.0, 10), (math.inf, 10)], 0.496),
        (0.5, [(0.1, 4), (0.5, 4), (1.0, 8), (math.inf, 8)], 0.1),  # rank 4 is the first bucket's top
        (0.25, [(0.1, 4), (0.5, 4), (1.0, 8), (math.inf, 8)], 0.05),  # within the first bucket, from 0
        (0.9, [(0.1, 1), (0.5, 1), (1.0, 1), (math.inf, 10)], 1.0),  # in +Inf: the highest finite bound
        (0.5, [(0.1, 0), (0.5, 0), (1.0, 0), (math.inf, 0)], None),
        (0.5, [], None),
    ],
)
def test_quantile_matches_prometheus_histogram_quantile(
    q: float, cumulative: list[tuple[float, float]], expected: float | None
) -> None:
    got = window.quantile(q, cumulative)
    assert got == (None if expected is None else pytest.approx(expected))


def sample(at: float, interval: float | None, increase: Counts, **overrides: Any) -> Sample:
    fields: dict[str, Any] = {
        "active": {"queued": 1, "in_progress": 2, "requires_action": 0, "cancelling": 0},
        "queues": {"runs": 3, "code_interpreter": 1},
        "workers": {"runs": [{"name": "w1", "beat_age_s": 1.5}]},
        "targets": 2,
        **overrides,
    }
    return Sample(at=at, interval_s=interval, increase=increase, **fields)


def history(*samples: Sample) -> list[Sample]:
    kept: list[Sample] = []
    for one in samples:
        kept.append(one)
        one.point = window.point(kept)
    return kept


def test_a_point_has_rates_over_its_interval_and_quantiles_over_the_last_minute() -> None:
    samples = history(
        sample(1000.0, None, {}),
        sample(1002.0, 2.0, {(CREATED, ()): 4.0, **finished("completed", 2.0), **hist(TTFT_BUCKETS, (2, 2, 2, 2))}),
        sample(1100.0, 98.0, {(CREATED, ()): 49.0, **finished("completed", 0.0), **hist(TTFT_BUCKETS, (0, 4, 4, 4))}),
    )
    first, second, third = (s.point for s in samples)
    assert (first["runs_per_s"], first["created_per_s"], first["ttft_p50_ms"]) == (0.0, 0.0, None)
    assert (second["runs_per_s"], second["created_per_s"]) == (1.0, 2.0)
    assert second["ttft_p50_ms"] == pytest.approx(50.0)
    assert second["active"]["in_progress"] == 2 and second["queued_tasks"] == 4
    # 98 s later: the earlier fast first tokens are out of the minute, the new ones sit in (0.1, 0.5].
    assert third["created_per_s"] == 0.5
    assert third["ttft_p50_ms"] == pytest.approx(300.0)
    assert third["duration_p99_ms"] is None


def test_the_overview_sums_the_window_and_keeps_its_samples_only() -> None:
    samples = history(
        sample(0.0, None, {}),
        sample(10.0, 10.0, {(CREATED, ()): 100.0, **finished("completed", 100.0)}),  # out of a 300 s window
        sample(400.0, 390.0, {(CREATED, ()): 30.0, **finished("completed", 20.0), **finished("failed", 1.0)}),
        sample(
            500.0,
            100.0,
            {
                (CREATED, ()): 10.0,
                **finished("completed", 9.0),
                **hist(DURATION_BUCKETS, (0, 10, 10, 10), status="completed"),
            },
            workers={"runs": [{"name": "w2", "beat_age_s": 0.2}]},
            failed=["127.0.0.1:9101"],
        ),
    )
    body = window.overview(samples, 300)
    assert body["at"] == 500.0 and body["window_s"] == 300
    assert [p["at"] for p in body["series"]] == [400.0, 500.0]
    totals = body["totals"]
    assert totals["finished"] == {"completed": 29, "failed": 1}
    assert totals["runs_per_s"] == pytest.approx(30 / 490)
    assert totals["created_per_s"] == pytest.approx(40 / 490)
    assert totals["duration_ms"]["p50"] == pytest.approx(300.0)
    assert totals["ttft_ms"] == {"p50": None, "p90": None, "p99": None}
    assert body["runs"] == {"queued": 1, "in_progress": 2, "requires_action": 0, "cancelling": 0}
    assert body["queues"] == {"runs": 3, "code_interpreter": 1}
    assert body["workers"] == {"runs": [{"name": "w2", "beat_age_s": 0.2}]}
    assert body["sources"] == {"targets": 2, "failed": ["127.0.0.1:9101"]}


def test_the_running_window_agrees_with_summing_its_samples() -> None:
    running = window.Window(30)
    everything: list[Sample] = []
    for i in range(40):
        increase = {
            (CREATED, ()): float(i % 3),
            **finished("completed", float(i % 2)),
            **hist(TTFT_BUCKETS, (i % 2, i % 3, 2, 3)),
        }
        one = sample(float(i * 2), 2.0 if i else None, increase)
        running.add(one)
        everything.append(one)
        assert running.overview() == window.overview(everything, 30)
    assert len(running.samples) == 16  # at 48..78: the last 30 s, both ends included
