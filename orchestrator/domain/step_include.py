"""What `include[]` adds to a run step: file_search result content is served only to clients that ask for it."""

from __future__ import annotations

from collections.abc import Collection

from orchestrator.domain.models import JSON, RunStep

#: The one `include[]` value OpenAI accepts on run steps (and run creation).
SEARCH_RESULT_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def step_wire(step: RunStep, include: Collection[str] = ()) -> JSON:
    """The step as the API returns it: file_search results without `content` unless `include` asks for it.

    Steps are stored with the content (the model's next turn and the citations need it), so it is removed here.
    """
    return included(step.wire(), include)


def included(wire: JSON, include: Collection[str] = ()) -> JSON:
    """`step_wire` on a step already in its wire form (changed in place, and returned)."""
    if SEARCH_RESULT_CONTENT in include or wire.get("type") != "tool_calls":
        return wire
    for call in wire["step_details"].get("tool_calls", []):
        if call.get("type") == "file_search":
            for result in call.get("file_search", {}).get("results") or []:
                result.pop("content", None)
    return wire
