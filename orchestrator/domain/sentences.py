"""Retrieved text cut into sentences, for quoting it: a heading, a list item and a paragraph each end a sentence, as
a full stop does; lines wrapped inside a paragraph do not."""

from __future__ import annotations

import re

_END = re.compile(r"(?<=[.!?])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s")
_WORD = re.compile(r"\w{3,}")
#: Words too common to say two sentences are about the same thing.
_COMMON = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "the and for are was were with that this these those from you your what where when who how which does did"
        " can has have had its not but all any into about there their them they will would should could been being"
        " than then also such"
    ).split()
)


def sentences(text: str) -> list[str]:
    """The sentences of `text` in order, each on one line with its whitespace squashed."""
    found: list[str] = []
    for block in _blocks(text):
        item = _ITEM.match(block)
        marker = item[0] if item else ""  # "1. " is no sentence of its own
        split = [" ".join(s.split()) for s in _END.split(block[len(marker) :]) if s.strip()] or [""]
        split[0] = f"{marker.strip()} {split[0]}".strip()
        found += [s for s in split if s]
    return found


def words(text: str) -> set[str]:
    """The words of three letters or more, lowercased, common ones aside: what two sentences are compared on."""
    return {w.lower() for w in _WORD.findall(text)} - _COMMON


def _blocks(text: str) -> list[str]:
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if not line.strip():
            blocks.append([])
        elif _HEADING.match(line):
            blocks += [[line], []]
        else:
            if _ITEM.match(line):
                blocks.append([])
            blocks[-1].append(line)
    return [" ".join(block) for block in blocks if block]
