"""Issue 9's "done when", in a browser: a person with only the printed key builds the seed's Math Tutor, runs it on
the equation and watches the code, its output and the answer stream in, then sees the run counted in the operations
view. Nothing is made through the API: every object comes from clicks and typing in the page."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.stack import Stack

RUN_MS = 30_000  # waits on the stack's workers, which share two cores with the rest of the suite
INSTRUCTIONS = "You are a personal math tutor. Write and run code to answer math questions."
QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"


def test_the_math_tutor_built_and_run_without_writing_code(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    open_playground(page)  # the page opens on the assistants
    page.get_by_role("link", name="Operations").click()
    # The sampler's first answer: the runs below fall in its window.
    expect(page.get_by_test_id("sources")).to_contain_text("sampled at", timeout=RUN_MS)
    finished = page.get_by_test_id("tile-finished").locator('[data-label="completed"] .bar-value')
    before = int((finished.text_content() or "0").replace(",", "")) if finished.count() else 0

    page.get_by_role("link", name="Assistants").click()
    page.get_by_role("link", name="New", exact=True).click()
    page.get_by_label("Name", exact=True).fill("Math Tutor")
    page.get_by_label("Model").fill("gpt-4-turbo")
    page.get_by_label("Instructions", exact=True).fill(INSTRUCTIONS)
    page.get_by_label("code_interpreter").check()
    page.get_by_role("button", name="Create assistant").click()
    expect(page.get_by_role("status").filter(has_text="Created Math Tutor.")).to_be_visible()

    page.get_by_role("button", name="Try in a thread").click()
    expect(page).to_have_url(re.compile(r"#/threads/thread_[A-Za-z0-9]+$"))
    page.get_by_label("Message").fill(QUESTION)
    page.get_by_role("button", name="Run", exact=True).click()

    live = page.get_by_test_id("live-run")
    card = live.get_by_test_id("code-card")
    expect(card.get_by_label("Code")).to_contain_text("x = (c - b) / a", timeout=RUN_MS)
    expect(card.get_by_label("Output")).to_have_text(re.compile(r"^\s*1\.0\s*$"), timeout=RUN_MS)
    expect(live.get_by_test_id("message")).to_contain_text("The solution is x = 1.0.", timeout=RUN_MS)
    expect(live.get_by_test_id("run-status")).to_have_text("completed", timeout=RUN_MS)

    page.get_by_role("link", name="Operations").click()
    page.wait_for_function(
        """(least) => {
          const value = document.querySelector('[data-testid="tile-finished"] [data-label="completed"] .bar-value');
          return value !== null && Number(value.textContent.replace(/,/g, '')) >= least;
        }""",
        arg=before + 1,
        timeout=RUN_MS,
    )
    assert page_errors == []
