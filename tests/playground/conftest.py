"""The playground in a real browser: Playwright (the Python package) driving Debian's Chromium against a real
`orchestrator up` stack. Each test leaves a screenshot of the page as it ended in `test-artifacts/playground/`.

* `stack`: the stack the page is served by (two projects, `KEY_A` and `KEY_B`).
* `page`: a fresh browser tab (own storage); `page_errors` are the console errors and uncaught exceptions it saw,
  Content-Security-Policy violations included.
* `open_playground(page, key)`: opens /playground and enters the key.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.stack import KEY_A, REPO_ROOT, Stack, running_stack

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("ORCH_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO_ROOT / "test-artifacts" / "playground"
# Flags this machine needs (no network beyond loopback, running as root, no GPU).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("playground-stack"), env={}) as running:
        yield running


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (`make system-deps` installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is not installed here (`make system-deps`); CI installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def page(browser: Browser, page_errors: list[str], request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.on("console", lambda message: page_errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
        try:
            tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        finally:
            context.close()


@pytest.fixture
def open_playground(stack: Stack) -> Callable[..., None]:
    def open_(page: Page, key: str = KEY_A, route: str = "") -> None:
        page.goto(f"{stack.base_url.removesuffix('/v1')}/playground{route}")
        page.get_by_placeholder("sk-…").fill(key)
        page.get_by_role("button", name="Open the playground").click()
        page.get_by_role("button", name="Forget key").wait_for()

    return open_
