"""The README's playground pictures, made anew: `python scripts/playground_screenshots.py` (about 2 minutes).

Starts a stack (`orchestrator up` with a mock model that takes 0.3 s to answer), builds and runs the seed's Math
Tutor through the page alone, and pictures the run view; then keeps a mixed load going (text, streamed, code and
function-calling runs from a few clients) for a minute while the operations view fills, and pictures that. Writes
docs/images/playground-run.png and docs/images/playground-ops.png.
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stack import KEY_A, Stack, running_stack  # noqa: E402
from tests.playground import math_tutor  # noqa: E402
from tests.playground.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

IMAGES = ROOT / "docs" / "images"
LOAD_S = 75.0
CLIENTS = 4
MESSAGES = (
    "[[text Hello! How can I help you today?]]",
    "[[slow 0.05]] [[long 40]]",
    "[[code import math\nprint(math.factorial(12))]]",
    '[[call lookup {"q": "status"}]]',
)


def load(stack: Stack, stop: threading.Event) -> None:
    """One client: runs of every kind until `stop`, answering function calls after a moment."""
    client = stack.client(KEY_A)
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        name="Load",
        tools=[
            {"type": "code_interpreter"},
            {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
        ],
    )
    rng = random.Random()
    while not stop.is_set():
        thread = client.beta.threads.create(messages=[{"role": "user", "content": rng.choice(MESSAGES)}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=200
        )
        if run.status == "requires_action" and run.required_action is not None:
            stop.wait(rng.uniform(0.5, 3.0))  # a person reading the call before answering it
            outputs = [
                {"tool_call_id": c.id, "output": "ok"} for c in run.required_action.submit_tool_outputs.tool_calls
            ]
            client.beta.threads.runs.submit_tool_outputs_and_poll(
                thread_id=thread.id, run_id=run.id, tool_outputs=outputs, poll_interval_ms=200
            )


def run_view(page: Page) -> None:
    page.get_by_role("link", name="Assistants").click()
    page.get_by_role("link", name="New", exact=True).click()
    math_tutor.create_in_editor(page)
    page.get_by_role("button", name="Try in a thread").click()
    expect(page).to_have_url(re.compile(r"#/threads/thread_"))
    page.get_by_label("Message").fill(math_tutor.QUESTION)
    page.get_by_role("button", name="Run", exact=True).click()
    math_tutor.expect_solved_live(page)
    page.screenshot(path=str(IMAGES / "playground-run.png"))


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as data,
        running_stack(Path(data), args=("--mock-latency", "0.3")) as stack,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 820})
        page.goto(f"{stack.base_url.removesuffix('/v1')}/playground#/ops")
        page.get_by_placeholder("sk-…").fill(KEY_A)
        page.get_by_role("button", name="Open the playground").click()
        stop = threading.Event()
        clients = [threading.Thread(target=load, args=(stack, stop), daemon=True) for _ in range(CLIENTS)]
        started = time.monotonic()
        for client in clients:
            client.start()
        run_view(page)
        page.get_by_role("link", name="Operations").click()
        page.wait_for_timeout(max(0.0, LOAD_S - (time.monotonic() - started)) * 1000)
        page.screenshot(path=str(IMAGES / "playground-ops.png"))
        stop.set()
        for client in clients:
            client.join(timeout=30)
        browser.close()
    sys.stdout.write(f"wrote {IMAGES / 'playground-run.png'} and {IMAGES / 'playground-ops.png'}\n")


if __name__ == "__main__":
    main()
