"""Cutting retrieved text into sentences for quotes."""

from __future__ import annotations

from orchestrator.domain.sentences import sentences, words

HANDBOOK = """# Staff handbook

## Time off
Every employee gets 27 vacation days a year. Unused days carry over until
the end of March.

- Laptops are replaced
  every three years.
- Ask the help desk!
1. First step? Then more"""


def test_headings_items_and_paragraphs_end_sentences_but_wrapped_lines_do_not() -> None:
    assert sentences(HANDBOOK) == [
        "# Staff handbook",
        "## Time off",
        "Every employee gets 27 vacation days a year.",
        "Unused days carry over until the end of March.",
        "- Laptops are replaced every three years.",
        "- Ask the help desk!",
        "1. First step?",
        "Then more",
    ]
    assert sentences("  \n\n") == []


def test_words_leave_out_short_and_common_ones() -> None:
    assert words("Where is the Lantern festival held, in 2024?") == {"lantern", "festival", "held", "2024"}
