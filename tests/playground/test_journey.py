"""Issue 9's "done when", in a browser: a person with only the printed key builds the seed's Math Tutor, runs it on
the equation and watches the code, its output and the answer stream in, then sees the run counted in the operations
view. Nothing is made through the API: every object comes from clicks and typing in the page."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.playground.math_tutor import QUESTION, RUN_MS, create_in_editor, expect_solved_live
from tests.stack import Stack


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
    create_in_editor(page)

    page.get_by_role("button", name="Try in a thread").click()
    expect(page).to_have_url(re.compile(r"#/threads/thread_[A-Za-z0-9]+$"))
    page.get_by_label("Message").fill(QUESTION)
    page.get_by_role("button", name="Run", exact=True).click()

    expect_solved_live(page)

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
