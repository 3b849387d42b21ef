"""file_search citations: the numbered results a model reads, and the `file_citation` annotations its markers become.

A model cites a result by writing its marker, `【{turn}:{i}†{filename}】`, the form OpenAI's models were trained on:
`turn` is the run's model turn that made the search and `i` the result's position among that turn's results. One
numbering (`numbered_results`) serves both the model's context and the answer's annotations, so a marker always
leads back to the chunk the model was shown. Beyond OpenAI, every citation carries its quote: the sentence of the
chunk that best matches the claim before the marker (the whole chunk when no sentence stands out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from orchestrator.domain.models import JSON, RunStep
from orchestrator.domain.sentences import sentences, words

#: A marker as models write it; the filename part is bounded so a stray `【` cannot make a match span the answer.
MARKER = re.compile(r"【(\d{1,6}):(\d{1,6})†([^】\n]{0,256})】")
#: The longest a marker can be, so a streaming scan knows when an unclosed `【` can no longer become one.
MAX_MARKER_CHARS = 280


@dataclass(frozen=True)
class Source:
    """One file_search result as the model was shown it."""

    turn: int
    index: int
    file_id: str
    filename: str
    text: str
    score: float

    @property
    def marker(self) -> str:
        return f"【{self.turn}:{self.index}†{self.filename}】"


def numbered_results(steps: Sequence[RunStep], step_turns: Mapping[str, int]) -> dict[str, list[Source]]:
    """Each file_search call's results (by call id), numbered from 0 within the model turn that made the calls."""
    numbered: dict[str, list[Source]] = {}
    next_index: dict[int, int] = {}
    for step in steps:
        if step.type != "tool_calls":
            continue
        turn = step_turns.get(step.id, 0)
        for call in step.tool_calls():
            if call["type"] != "file_search":
                continue
            sources = []
            for result in call["file_search"].get("results") or []:
                index = next_index.get(turn, 0)
                next_index[turn] = index + 1
                sources.append(
                    Source(
                        turn=turn,
                        index=index,
                        file_id=result["file_id"],
                        filename=result.get("file_name") or "",
                        text=result_text(result),
                        score=float(result.get("score") or 0.0),
                    )
                )
            numbered[call["id"]] = sources
    return numbered


def result_text(result: JSON) -> str:
    return "\n".join(part.get("text", "") for part in result.get("content") or [] if part.get("type") == "text")


def tool_output(query: str, sources: Sequence[Source]) -> str:
    """The file_search results as the model reads them: each under its marker, so it can cite it."""
    if not sources:
        return f'file_search found nothing for "{query}" in the attached files.'
    lines = [
        f'file_search results for "{query}". Cite a result by writing its marker, e.g. {sources[0].marker}, '
        "right after the statement it supports."
    ]
    for source in sources:
        lines.append(f"\n{source.marker} (score {source.score:.3f})\n{source.text.strip()}")
    return "\n".join(lines)


class Citations:
    """The sources this run's answers may cite, looked up by their markers."""

    def __init__(self, sources: Iterable[Source]) -> None:
        self._by_number: dict[tuple[int, int], Source] = {}
        self._by_name: dict[str, Source] = {}
        for source in sources:
            self._by_number[(source.turn, source.index)] = source
            self._by_name.setdefault(source.filename, source)

    @classmethod
    def from_steps(cls, steps: Sequence[RunStep], step_turns: Mapping[str, int]) -> Citations:
        return cls(s for sources in numbered_results(steps, step_turns).values() for s in sources)

    def __bool__(self) -> bool:
        return bool(self._by_number)

    def resolve(self, turn: int, index: int, filename: str) -> Source | None:
        """The source a marker names; a marker whose numbers are off but whose filename was shown still counts."""
        return self._by_number.get((turn, index)) or self._by_name.get(filename)

    def annotations(self, text: str) -> list[JSON]:
        """Every citation in a finished answer, as the completed message carries them."""
        return [{k: v for k, v in a.items() if k != "index"} for a in self.scanner().scan(text)]

    def scanner(self) -> CitationScanner:
        return CitationScanner(self)


class CitationScanner:
    """Finds the citations in an answer as it streams: each call returns only the ones completed since the last."""

    def __init__(self, citations: Citations) -> None:
        self._citations = citations
        self._pos = 0  # where unscanned text starts (an unclosed `【` is kept unscanned)
        self._claim_start = 0  # the end of the previous marker: the claim a marker supports starts after it
        self._count = 0

    def scan(self, text: str) -> list[JSON]:
        """The new annotations in `text` (the whole answer so far), with their `index` among all of them."""
        found: list[JSON] = []
        for match in MARKER.finditer(text, self._pos):
            source = self._citations.resolve(int(match[1]), int(match[2]), match[3])
            if source is not None:
                claim = text[self._claim_start : match.start()]
                found.append(_annotation(self._count, match, source, claim))
                self._count += 1
            self._pos = self._claim_start = match.end()
        opening = text.rfind("【", self._pos)
        self._pos = opening if opening >= 0 and len(text) - opening < MAX_MARKER_CHARS else len(text)
        return found


def _annotation(index: int, match: re.Match[str], source: Source, claim: str) -> JSON:
    return {
        "index": index,
        "type": "file_citation",
        "text": match[0],
        "start_index": match.start(),
        "end_index": match.end(),
        "file_citation": {"file_id": source.file_id, "quote": best_quote(source.text, claim)},
    }


def best_quote(chunk: str, claim: str) -> str:
    """The sentence of `chunk` sharing the most words with the claim's last sentence; the whole chunk if none does."""
    claimed = sentences(claim)
    wanted = words(claimed[-1]) if claimed else set()
    best, best_shared = "", 0
    for sentence in sentences(chunk):
        shared = len(wanted & words(sentence))
        if shared > best_shared:
            best, best_shared = sentence, shared
    return best or _squash(chunk)


def _squash(text: str) -> str:
    return " ".join(text.split())
