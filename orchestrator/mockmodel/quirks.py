"""The names of the `[[quirk NAME]]` directives and the fixed words they stream.

Each quirk reproduces something a real OpenAI-compatible server (LiteLLM, vLLM, Ollama, Azure) sends, so the executor
can be tested against it without that server. The words are constants so tests can look for them exactly.
"""

from __future__ import annotations

# The stream's shape: `stream.py` applies these to a streamed answer only.
LATE_NAME = "late_name"  # a tool call's name arrives after its id, and after its first argument fragment
LATE_ID = "late_id"  # a tool call's id arrives after its name, and after its first argument fragment
ERROR_MIDSTREAM = "error_midstream"  # `data: {"error": ...}` after the first text, then the end without [DONE]
NO_CHOICES = "no_choices"  # chunks with `"choices": []` (running usage) and chunks with no `choices` key
NAMED_EVENT = "named_event"  # `event: ping` events, `: comment` lines and unknown fields in chunks
TRUNCATED = "truncated"  # the end after the first text, with neither a finish reason nor [DONE]
NO_USAGE = "no_usage"  # no usage anywhere, even when `stream_options.include_usage` asked for it
REASONING = "reasoning"  # `reasoning_content` (and `reasoning`) deltas before the answer

# The reply itself: `script.py` applies these, streamed or not.
REJECT_STREAM_OPTIONS = "reject_stream_options"
REJECT_PARALLEL_TOOL_CALLS = "reject_parallel_tool_calls"
REJECT_MAX_COMPLETION_TOKENS = "reject_max_completion_tokens"
TEXT_AFTER_CALL = "text_after_call"  # text, then the tool calls, then more text, in one completion
ECHO_ASSISTANT = "echo_assistant"  # tool results answered with the content of the assistant turn that called
LENGTH = "length"  # finish reason `length` after the text
CONTENT_FILTER = "content_filter"  # finish reason `content_filter` after the text

#: Quirk -> the request parameter whose presence it answers with a 400, as servers that don't know it do.
REJECTED_PARAMETERS = {
    REJECT_STREAM_OPTIONS: "stream_options",
    REJECT_PARALLEL_TOOL_CALLS: "parallel_tool_calls",
    REJECT_MAX_COMPLETION_TOKENS: "max_completion_tokens",
}

KNOWN = frozenset(
    {
        LATE_NAME,
        LATE_ID,
        ERROR_MIDSTREAM,
        NO_CHOICES,
        NAMED_EVENT,
        TRUNCATED,
        NO_USAGE,
        REASONING,
        TEXT_AFTER_CALL,
        ECHO_ASSISTANT,
        LENGTH,
        CONTENT_FILTER,
        *REJECTED_PARAMETERS,
    }
)

TEXT_BEFORE_CALL_WORDS = "Let me look that up."
TEXT_AFTER_CALL_WORDS = "I will summarise once the results are in."
ECHO_PREFIX = "assistant said: "
MIDSTREAM_ERROR = {"message": "upstream exploded mid-answer", "type": "server_error", "code": 500}
#: The pieces of reasoning, the last one sent as `reasoning` (Ollama, OpenRouter) rather than `reasoning_content`.
REASONING_PIECES = ("Pondering quietly,", " weighing options;", " decided.")
#: How many pieces of text (or tool-call argument fragments) stream before `error_midstream` or `truncated` cut in.
PIECES_BEFORE_CUT = 2
