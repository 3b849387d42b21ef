"""The operations view (#/ops) against a real stack: runs made through the SDK show up in its tiles, every pool's
workers are listed with their heartbeats, a failed poll keeps the last picture under an alert, and leaving the view
stops its polling."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, Route, expect

from tests.stack import Stack

RUNS = 3
BEAT_AGE = re.compile(r"^\d+(\.\d)? s ago$")
# Pools of orchestrator.services.dispatch.POOL_QUEUES: `orchestrator up` starts workers for each.
POOLS = ("runs", "code_interpreter", "file_search")


def _open_ops(page: Page, open_playground: Callable[..., None]) -> None:
    open_playground(page, route="#/ops")
    # The first answer is drawn: the API's sampler is running from here on, so what follows is in its window.
    expect(page.get_by_test_id("sources")).to_contain_text("sampled at")


def test_ops_view_counts_runs_and_workers(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    _open_ops(page, open_playground)
    completed = page.get_by_test_id("tile-finished").locator('[data-label="completed"] .bar-value')
    before = int(completed.text_content() or 0) if completed.count() else 0

    client = stack.client()
    assistant = client.beta.assistants.create(model="gpt-4o", name="Ops probe")
    for _ in range(RUNS):
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[text hi]]"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
        )
        assert run.status == "completed"

    # The page redraws every 2 s from the API's samples: wait for one that holds the runs.
    page.wait_for_function(
        """(least) => {
          const value = document.querySelector('[data-testid="tile-finished"] [data-label="completed"] .bar-value');
          return value !== null && Number(value.textContent.replace(/,/g, '')) >= least;
        }""",
        arg=before + RUNS,
    )
    expect(page.get_by_test_id("tile-runs-per-s").get_by_test_id("value")).not_to_have_text("0")
    expect(page.get_by_test_id("tile-created-per-s").get_by_test_id("value")).not_to_have_text("0")
    expect(page.get_by_test_id("tile-ttft").get_by_test_id("p50").locator(".value")).to_have_text(re.compile(r"^\d"))
    expect(page.get_by_test_id("tile-duration").get_by_test_id("p99").locator(".value")).to_have_text(
        re.compile(r"^\d")
    )

    workers = page.get_by_test_id("workers")
    for pool in POOLS:
        listed = workers.locator(f'[data-pool="{pool}"] li')
        expect(listed.first).to_be_visible()
        expect(listed.first.get_by_test_id("beat-age")).to_have_text(BEAT_AGE)
    expect(page.get_by_test_id("sources")).to_contain_text("all answered")
    expect(page.get_by_role("alert")).to_be_hidden()  # an empty alert is not shown
    assert page_errors == []


def test_ops_view_keeps_the_last_sample_when_a_poll_fails(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    _open_ops(page, open_playground)
    workers = page.get_by_test_id("workers").locator('[data-pool="runs"] li')
    expect(workers.first).to_be_visible()

    def unavailable(route: Route) -> None:
        route.fulfill(status=503, json={"error": {"message": "Redis is away", "type": "server_error"}})

    page.route("**/v1/ops/overview", unavailable)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Could not refresh the overview: Redis is away. Showing the sample taken at")
    expect(workers.first).to_be_visible()  # the last picture stays

    page.unroute("**/v1/ops/overview", unavailable)
    expect(alert).to_be_hidden()  # emptied by the next poll that answers

    # Leaving the view stops its polling: the poll in flight is aborted, not left to draw into a view that is gone.
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)  # never answered

    with page.expect_request("**/v1/ops/overview"):
        page.route("**/v1/ops/overview", hold)
    with page.expect_event("requestfailed", lambda request: request.url.endswith("/v1/ops/overview")):
        page.get_by_role("link", name="Assistants").click()
    assert len(held) == 1
    # The browser reports each refused poll on the console; nothing else may be there.
    assert [error for error in page_errors if "503" not in error] == []
