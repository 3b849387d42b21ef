"""The sampler over scrape targets that answer, fail and restart, and the Redis state beside them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import httpx
import pytest

from orchestrator import health
from orchestrator.ops import sampler as sampler_module
from orchestrator.ops.sampler import Sampler
from orchestrator.settings import get_settings
from orchestrator.store import RedisStore


def page(created: int, completed: int) -> str:
    return (
        f"orchestrator_runs_created_total {created}\n"
        f'orchestrator_runs_finished_total{{status="completed"}} {completed}\n'
        f'orchestrator_run_time_to_first_token_seconds_bucket{{le="0.5"}} {completed}\n'
        f'orchestrator_run_time_to_first_token_seconds_bucket{{le="+Inf"}} {completed}\n'
        'orchestrator_http_requests_total{method="GET",route="/x",status="200"} 9\n'
    )


class Pages:
    """What each target's /metrics answers now; a target without a page refuses the connection."""

    def __init__(self) -> None:
        self.now: dict[str, str] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        text = self.now.get(f"{request.url.host}:{request.url.port}")
        if text is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, text=text)


def depths(names: Iterable[str]) -> dict[str, int]:
    return dict.fromkeys(names, 2)


def test_samples_sum_targets_across_a_restart_and_a_failure(store: RedisStore) -> None:
    health.beat(store.client, store.keys, "runs", "worker-a")
    settings = get_settings(metrics_targets="127.0.0.1:1,127.0.0.1:2")
    sampler = Sampler(settings, store, depths=depths)
    pages = Pages()

    async def scenario() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        async with httpx.AsyncClient(transport=httpx.MockTransport(pages.handle)) as client:
            pages.now = {"127.0.0.1:1": page(10, 8), "127.0.0.1:2": page(100, 90)}
            await sampler.sample_once(client)  # a baseline: nothing counted yet
            seen.append(dict(sampler._latest or {}))
            pages.now = {"127.0.0.1:1": page(13, 10), "127.0.0.1:2": page(104, 93)}
            await sampler.sample_once(client)
            seen.append(dict(sampler._latest or {}))
            # Target 2 restarted (counts from zero again); target 1 stopped answering.
            pages.now = {"127.0.0.1:2": page(1, 1)}
            await sampler.sample_once(client)
            seen.append(dict(sampler._latest or {}))
            # Target 1 is back: its growth over the gap is counted once.
            pages.now = {"127.0.0.1:1": page(15, 11), "127.0.0.1:2": page(1, 1)}
            await sampler.sample_once(client)
            seen.append(dict(sampler._latest or {}))
        return seen

    first, second, third, fourth = asyncio.run(scenario())
    assert first["totals"]["finished"] == {}
    assert second["totals"]["finished"] == {"completed": 5}
    assert third["totals"]["finished"] == {"completed": 6}
    assert third["sources"] == {"targets": 2, "failed": ["127.0.0.1:1"]}
    assert fourth["totals"]["finished"] == {"completed": 7}
    assert fourth["sources"] == {"targets": 2, "failed": []}
    assert fourth["totals"]["ttft_ms"]["p50"] == pytest.approx(250.0)
    assert fourth["queues"] == {"runs": 2, "tools.code_interpreter": 2, "tools.file_search": 2}
    assert fourth["runs"] == {"queued": 0, "in_progress": 0, "requires_action": 0, "cancelling": 0}
    (worker,) = fourth["workers"]["runs"]
    assert worker["name"] == "worker-a" and 0 <= worker["beat_age_s"] < 5
    assert [len(fourth["series"]), fourth["window_s"]] == [4, 300]


def test_the_first_request_starts_the_loop_and_an_idle_one_stops(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler = Sampler(get_settings(metrics_targets=None), store, depths=depths, interval_s=0.01)

    async def scenario() -> tuple[dict[str, Any], bool]:
        body = await sampler.overview()  # waits for the first sample: the API's own registry
        monkeypatch.setattr(sampler_module, "IDLE_STOP_S", 0.0)
        assert sampler._task is not None
        await asyncio.wait_for(sampler._task, 5)
        return body, sampler._latest is None and not sampler.window.samples

    body, forgotten = asyncio.run(scenario())
    assert body["sources"] == {"targets": 1, "failed": []}
    assert body["totals"]["finished"] == {}  # one sample is only a baseline
    assert forgotten


def test_a_started_sampler_samples_unwatched_and_a_viewer_wakes_it(store: RedisStore) -> None:
    """Started with the API, it samples while nobody watches (so the view opens on history), slowly, and the first
    request cuts the idle wait short instead of waiting out the interval."""
    sampler = Sampler(get_settings(metrics_targets=None, ops_idle_sample_s=3600), store, depths=depths, interval_s=0.01)

    async def scenario() -> tuple[bool, int]:
        taken: asyncio.Queue[float] = asyncio.Queue()
        sample_once = sampler.sample_once

        async def counted(client: httpx.AsyncClient) -> None:
            await sample_once(client)
            taken.put_nowait(time.monotonic())

        sampler.sample_once = counted  # type: ignore[method-assign]
        sampler.start()
        await taken.get()  # the first sample is taken at start, before anyone asks
        await asyncio.sleep(0.2)  # twenty watched intervals: an idle sampler (one an hour) takes none meanwhile
        none_while_idle = taken.empty()
        await sampler.overview()  # a viewer: the next sample comes at once, then one every interval_s
        for _ in range(3):
            await taken.get()
        watched = len(sampler.window.samples)
        await sampler.stop()
        return none_while_idle, watched

    none_while_idle, watched = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert none_while_idle and watched >= 4


def test_a_sampler_stops_even_when_its_loop_loses_the_cancellation(store: RedisStore) -> None:
    """A sample whose Redis or HTTP call absorbs the cancellation (Python 3.11's `wait_for`, bus/feed.py) must not
    keep the API's shutdown waiting: the loop's own flag ends it."""
    sampler = Sampler(get_settings(metrics_targets=None), store, depths=depths, interval_s=0.01)
    sampling = asyncio.Event()

    async def swallowing(client: httpx.AsyncClient) -> None:
        sampling.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("a library turned the cancellation into an error") from None

    async def scenario() -> bool:
        sampler.sample_once = swallowing  # type: ignore[method-assign]
        sampler.start()
        await asyncio.wait_for(sampling.wait(), 5)
        stopping = asyncio.create_task(sampler.stop())
        done, _ = await asyncio.wait([stopping], timeout=5)
        return bool(done)

    assert asyncio.run(scenario()), "the sampler went on after its cancellation was lost"
