"""The SSE bytes the API writes, read by the official Python SDK's own decoder: keep-alives never become events."""

from __future__ import annotations

import pytest
from openai._streaming import SSEDecoder

from orchestrator.api.sse import DONE, KEEPALIVE, frame

STREAM = (
    frame("thread.run.created", '{"id":"run_1"}', "1-0")
    + KEEPALIVE * 3
    + frame("thread.run.step.delta", "{}", "2-0")
    + KEEPALIVE
    + DONE
)


@pytest.mark.parametrize("chunk", [len(STREAM), 1, 7], ids=["whole", "byte-by-byte", "7-byte-chunks"])
def test_keepalives_are_invisible_to_the_python_sdk_after_id_lines(chunk: int) -> None:
    # The SDK keeps the last `id:` across events, so a blank line after a comment would dispatch an empty event.
    chunks = [STREAM[i : i + chunk] for i in range(0, len(STREAM), chunk)]
    events = list(SSEDecoder().iter_bytes(iter(chunks)))
    assert [(e.event, e.data, e.id) for e in events] == [
        ("thread.run.created", '{"id":"run_1"}', "1-0"),
        ("thread.run.step.delta", "{}", "2-0"),
        ("done", "[DONE]", "2-0"),
    ]
