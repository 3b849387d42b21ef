"""The seed's Math Tutor as a person builds and runs it in the playground: shared by the browser tests and by
scripts/playground_screenshots.py."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

#: Waits on the stack's workers (a code sandbox, a queued run) rather than on the page: on two cores shared with the
#: rest of the suite they take longer than Playwright's five seconds now and then.
RUN_MS = 30_000
INSTRUCTIONS = "You are a personal math tutor. Write and run code to answer math questions."
QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"


def create_in_editor(page: Page) -> None:
    """Fill the open assistant editor with the seed's Math Tutor and create it."""
    page.get_by_label("Name", exact=True).fill("Math Tutor")
    page.get_by_label("Model").fill("gpt-4-turbo")
    page.get_by_label("Instructions", exact=True).fill(INSTRUCTIONS)
    page.get_by_label("code_interpreter").check()
    page.get_by_role("button", name="Create assistant").click()
    expect(page.get_by_role("status").filter(has_text="Created Math Tutor.")).to_be_visible()


def expect_solved_live(page: Page) -> Locator:
    """The live run shows the code, its output and the answer, and ends completed; returns the live run."""
    live = page.get_by_test_id("live-run")
    card = live.get_by_test_id("code-card")
    expect(card.get_by_label("Code")).to_contain_text("x = (c - b) / a", timeout=RUN_MS)
    expect(card.get_by_label("Output")).to_have_text(re.compile(r"^\s*1\.0\s*$"), timeout=RUN_MS)
    expect(live.get_by_test_id("message")).to_contain_text("The solution is x = 1.0.", timeout=RUN_MS)
    expect(live.get_by_test_id("run-status")).to_have_text("completed", timeout=RUN_MS)
    return live
