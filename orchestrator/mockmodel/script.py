"""The mock model's behaviour: which reply a Chat Completions request gets, and the pieces that reply streams in.

Pure (no I/O, clock or randomness): the same request always gets the same reply, which is what makes the mock usable
as a test double. A text answer to a message with image parts starts "I see N image(s): ..." (data URLs by size).
The reply is steered by `[[...]]` directives in the last user message:

    [[error STATUS]]        fail with that HTTP status (400-599)
    [[call NAME JSON]]      call tool NAME with arguments JSON (omitted JSON means `{}`); one call per directive
    [[code PYTHON]]         call `code_interpreter` with exactly PYTHON
    [[search QUERY]]        call `file_search` with QUERY (when that tool is offered)
    [[text SOME TEXT]]      answer exactly SOME TEXT
    [[long N]]              answer with N words
    [[slow S]]              S seconds between streamed chunks
    [[wait S]]              S seconds before the first chunk
    [[quirk NAME ...]]      answer the way some real server does (several names, or several directives, combine)

Without directives, a linear equation such as `3x + 11 = 14` is solved through `code_interpreter` when that tool is
offered, a question (text ending in `?`) is searched with `file_search` when that tool is offered, file_search results
are answered by quoting the top result's first sentence that shares a word with the question (else its first sentence)
followed by its citation marker (`【0:0†name】`), other tool results are summarised, and anything else is echoed back.

The quirks (names in `quirks.py`) and what real servers they stand for:

    late_name               a tool call's first chunk has its id and type but no name; an argument fragment, then
                            the name, follow (LiteLLM passes such streams through)
    late_id                 the name first, an argument fragment, then the id
    error_midstream         after two pieces of text, `data: {"error": {...}}` and the end, no [DONE] (LiteLLM)
    no_choices              chunks with `"choices": []` carrying running usage (vLLM) and chunks with no `choices`
    named_event             `event: ping` events, `: comment` lines, unknown fields in chunks, choices and deltas
    reject_stream_options   HTTP 400 naming the parameter whenever the request carries it (older vLLM, Ollama,
    reject_parallel_tool_calls      Azure); without the parameter the answer is the normal one
    reject_max_completion_tokens
    text_after_call         a tool-call answer streams text, then its calls, then more text (finish `tool_calls`)
    echo_assistant          tool results are answered with "assistant said: " + the content of the assistant turn
                            that made the calls, so a test sees what the client sent back
    length, content_filter  that finish reason after the text
    truncated               after two pieces of text the stream ends: no finish reason, no usage, no [DONE]
    no_usage                no usage, even when `stream_options.include_usage` asked for it
    reasoning               `reasoning_content` deltas, then one `reasoning` delta, before the answer

The stream-shape quirks (late_name, late_id, error_midstream, no_choices, named_event, truncated, no_usage, reasoning)
change streamed responses only; the others change the reply itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.domain.sentences import sentences, words
from orchestrator.mockmodel import quirks as q

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]

CODE_INTERPRETER = "code_interpreter"
FILE_SEARCH = "file_search"
NOTHING_FOUND = "I found nothing about that in the attached files."
GREETING = "Hello! How can I help you today?"
ARGUMENT_FRAGMENT_CHARS = 10

_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_CHARS = 24

_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"
_SECONDS = re.compile(rf"\s+({_NUMBER})\s*\]\]")
_DIRECTIVE_START = re.compile(r"\[\[(error|call|code|text|long|slow|wait|quirk|search)(?=[\s\]])")
_DIRECTIVE_BODY = {
    "error": re.compile(r"\s+([45]\d\d)\s*\]\]"),
    "long": re.compile(r"\s+(\d{1,6})\s*\]\]"),  # bounded so that a typo cannot exhaust memory
    "slow": _SECONDS,
    "wait": _SECONDS,
    # A single separator is consumed so that everything after it, surrounding spaces included, is the answer.
    "text": re.compile(r"(?:\s(.*?))?\]\]", re.DOTALL),
    "quirk": re.compile(r"\s+([a-z_]+(?:\s+[a-z_]+)*)\s*\]\]"),
    "search": re.compile(r"\s+(.*?)\s*\]\]", re.DOTALL),
}
#: A file_search result as the executor shows it to the model: its marker on a line of its own, then its text.
_SEARCH_RESULT = re.compile(r"^(【\d+:\d+†[^】\n]*】)[^\n]*\n(.*?)(?=\n\n【|\Z)", re.MULTILINE | re.DOTALL)
_CALL_NAME = re.compile(r"\s+([A-Za-z0-9_-]{1,64})\s*")
_CLOSE = re.compile(r"\s*\]\]")
_JSON = json.JSONDecoder()
_EQUATION = re.compile(
    rf"(?<![\w.])(?P<a>-?\s*{_NUMBER}?)\s*\*?\s*(?P<var>[A-Za-z])(?!\w)"
    rf"\s*(?P<op>[+-])\s*(?P<b>{_NUMBER})\s*=\s*(?P<c>-?\s*{_NUMBER})(?!\w|\.\d)"
)


@dataclass(frozen=True)
class Directive:
    """One `[[kind ...]]` found in the user's text; `start`/`end` delimit it so it can be stripped from the echo."""

    kind: str
    value: str
    start: int
    end: int
    name: str = ""


@dataclass(frozen=True)
class Equation:
    """`a*var + b = c`, with `b` already carrying the sign of the operator the user wrote."""

    var: str
    a: int | float
    b: int | float
    c: int | float

    def solver_code(self) -> str:
        return f"a, b, c = {self.a!r}, {self.b!r}, {self.c!r}\n{self.var} = (c - b) / a\nprint({self.var})"


@dataclass(frozen=True)
class MockError:
    """A failure the mock answers with instead of a completion, shaped like OpenAI's error body."""

    status: int
    message: str
    type: str
    param: str | None = None

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": None}}


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str

    def fragments(self) -> list[str]:
        # Several fragments per call so that clients are exercised on reassembly, as real models stream them.
        args = self.arguments
        return [args[i : i + ARGUMENT_FRAGMENT_CHARS] for i in range(0, len(args), ARGUMENT_FRAGMENT_CHARS)] or [""]


@dataclass(frozen=True)
class Answer:
    """A successful completion: text (`content`, streamed as `pieces`), `tool_calls`, or both (text_after_call: the
    pieces stream before the calls and `trailing_pieces` after them), plus its pacing and the quirks asked for."""

    content: str | None
    pieces: tuple[str, ...]
    tool_calls: tuple[ToolCall, ...]
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    wait_s: float = 0.0
    slow_s: float | None = None
    quirks: frozenset[str] = frozenset()
    trailing_pieces: tuple[str, ...] = ()

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }

    def message(self) -> dict[str, Any]:
        """The `choices[0].message` of a non-streaming response."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content, "refusal": None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call in self.tool_calls
            ]
        return message

    def deltas(self) -> list[tuple[dict[str, Any], FinishReason | None]]:
        """`(delta, finish_reason)` of each streamed chunk, in OpenAI's order: role first, finish reason last."""
        out: list[tuple[dict[str, Any], FinishReason | None]] = []
        if self.pieces or not self.tool_calls:
            out.append(({"role": "assistant", "content": ""}, None))
            out.extend(({"content": piece}, None) for piece in self.pieces)
        for index, call in enumerate(self.tool_calls):
            header = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            delta: dict[str, Any] = {"tool_calls": [header]}
            if not out:
                delta = {"role": "assistant", "content": None, **delta}
            out.append((delta, None))
            out.extend(
                ({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}, None)
                for fragment in call.fragments()
            )
        out.extend(({"content": piece}, None) for piece in self.trailing_pieces)
        out.append(({}, self.finish_reason))
        return out


def decide(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    max_tokens: int | None = None,
    sent: Collection[str] = (),
) -> Answer | MockError:
    """The reply to a Chat Completions request whose top-level fields are named in `sent`. The first rule that
    applies wins:

    1. an `[[error]]` directive in the last user message;
    2. a `reject_*` quirk whose parameter the request carries: a 400 naming it;
    3. the conversation ends with tool results: they are summarised (an equation's solution is verified, file_search
       results are quoted with their citation marker), or with `echo_assistant` the content of the assistant turn
       that made the calls is echoed;
    4. `[[call]]` directives naming offered tools (with `text_after_call`, text before and after them);
    5. `file_search` is offered and a `[[search]]` directive asks for it;
    6. `code_interpreter` is offered: a `[[code]]` directive, else a linear equation in the user's text;
    7. `file_search` is offered and the user's text (directives aside) is a question, ending in `?`;
    8. text: `[[text]]`, `[[long]]`, else the user's text echoed.

    Text longer than `max_tokens` words is cut to that many, with finish reason `length`; the `length` and
    `content_filter` quirks set that finish reason whatever the text.
    """
    user_text = message_text(_last_user_message(messages))
    directives = parse_directives(user_text)
    for directive in directives:
        if directive.kind == "error":
            return error_for_status(int(directive.value))
    quirks = frozenset(name for d in directives if d.kind == "quirk" for name in d.value.split())
    rejected = rejection(quirks, sent)
    if rejected is not None:
        return rejected
    wait_s = next((float(d.value) for d in reversed(directives) if d.kind == "wait"), 0.0)
    slow_s = next((float(d.value) for d in reversed(directives) if d.kind == "slow"), None)
    prompt_tokens = sum(count_tokens(message_text(message)) for message in messages)
    tool_names = _function_names(tools or ())

    if messages and messages[-1].get("role") == "tool":
        if q.ECHO_ASSISTANT in quirks:
            text = q.ECHO_PREFIX + message_text(_calling_assistant_message(messages))
        else:
            text = _tool_results_text(messages, user_text)
    else:
        calls = _tool_calls(user_text, directives, tool_names)
        if calls:
            before, after = (
                (q.TEXT_BEFORE_CALL_WORDS, q.TEXT_AFTER_CALL_WORDS) if q.TEXT_AFTER_CALL in quirks else ("", "")
            )
            completion_tokens = sum(math.ceil(len(call.arguments) / 4) + 1 for call in calls)
            return Answer(
                # Not streamed, the text around the calls is one content, as a server that buffers would send it.
                content=f"{before} {after}" if before else None,
                pieces=tuple(tokenize(before)),
                tool_calls=tuple(calls),
                finish_reason=_finish_reason(quirks, "tool_calls"),
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens + count_tokens(before) + count_tokens(after),
                wait_s=wait_s,
                slow_s=slow_s,
                quirks=quirks,
                trailing_pieces=tuple(tokenize(after)),
            )
        text = _text_answer(user_text, directives)
        if not any(d.kind in ("text", "long") for d in directives):  # those answer exactly what they say
            text = _image_note(_last_user_message(messages)) + text

    pieces = tokenize(text)
    finish_reason: FinishReason = "stop"
    if max_tokens is not None and count_tokens(text) > max_tokens:
        pieces = pieces[: max(max_tokens, 0)]
        text = "".join(pieces)
        finish_reason = "length"
    return Answer(
        content=text,
        pieces=tuple(pieces),
        tool_calls=(),
        finish_reason=_finish_reason(quirks, finish_reason),
        prompt_tokens=prompt_tokens,
        completion_tokens=count_tokens(text),
        wait_s=wait_s,
        slow_s=slow_s,
        quirks=quirks,
    )


def rejection(quirks: Collection[str], sent: Collection[str]) -> MockError | None:
    """The 400 a server that doesn't know a parameter answers when the request carries it, worded as OpenAI's."""
    for quirk, param in q.REJECTED_PARAMETERS.items():
        if quirk in quirks and param in sent:
            return MockError(400, f"Unrecognized request argument supplied: {param}", "invalid_request_error", param)
    return None


def error_for_status(status: int) -> MockError:
    if status == 429:
        kind = "rate_limit_exceeded"
    elif status >= 500:
        kind = "server_error"
    else:
        kind = "invalid_request_error"
    return MockError(status, f"mock error {status}", kind)


def message_text(message: Mapping[str, Any] | None) -> str:
    """A message's text, whether `content` is a string or a list of parts; non-text parts contribute nothing."""
    content = None if message is None else message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    return ""


def tokenize(text: str) -> list[str]:
    """One piece per word, each carrying the whitespace before it, so that the pieces concatenate back to `text`."""
    pieces = re.findall(r"\s*\S+", text)
    if not pieces:
        return [text] if text else []
    trailing = text[len("".join(pieces)) :]
    pieces[-1] += trailing
    return pieces


def count_tokens(text: str) -> int:
    return len(text.split())


def parse_directives(text: str) -> list[Directive]:
    """Every well-formed directive in `text`, in order; malformed ones stay plain text."""
    found: list[Directive] = []
    pos = 0
    while match := _DIRECTIVE_START.search(text, pos):
        directive = _parse_directive(match.group(1), text, match.start(), match.end())
        if directive is None:
            pos = match.start() + 1
        else:
            found.append(directive)
            pos = directive.end
    return found


def strip_directives(text: str, directives: Sequence[Directive]) -> str:
    """`text` without its directives; the text around each one is rejoined with a single space."""
    segments, pos = [], 0
    for directive in directives:
        segments.append(text[pos : directive.start])
        pos = directive.end
    segments.append(text[pos:])
    return " ".join(segment.strip() for segment in segments if segment.strip())


def find_equation(text: str) -> Equation | None:
    match = _EQUATION.search(text)
    if match is None:
        return None
    coefficient = match["a"].replace(" ", "")
    a = -1 if coefficient == "-" else 1 if coefficient == "" else _number(coefficient)
    b = _number(match["b"])
    return Equation(match["var"], a, -b if match["op"] == "-" else b, _number(match["c"].replace(" ", "")))


def tool_call_id(text: str, index: int) -> str:
    """`call_` + 24 base-62 chars from a hash, so the same user message always yields the same ids."""
    value = int.from_bytes(hashlib.sha256(f"{index}\x00{text}".encode()).digest(), "big")
    chars = []
    for _ in range(_ID_CHARS):
        value, digit = divmod(value, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[digit])
    return "call_" + "".join(chars)


def _parse_directive(kind: str, text: str, start: int, pos: int) -> Directive | None:
    if kind == "call":
        return _parse_call(text, start, pos)
    if kind == "code":
        return _parse_code(text, start, pos)
    match = _DIRECTIVE_BODY[kind].match(text, pos)
    if match is None:
        return None
    if kind == "quirk" and not set(match.group(1).split()) <= q.KNOWN:
        return None  # a misspelt quirk stays visible in the echo instead of silently doing nothing
    return Directive(kind, match.group(1) or "", start, match.end())


def _parse_call(text: str, start: int, pos: int) -> Directive | None:
    head = _CALL_NAME.match(text, pos)
    if head is None:
        return None
    pos = head.end()
    arguments: Any = {}
    if not text.startswith("]]", pos):
        # raw_decode rather than a regex: the JSON may itself contain `]]`.
        try:
            arguments, pos = _JSON.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None
    close = _CLOSE.match(text, pos)
    if close is None or not isinstance(arguments, dict):
        return None
    compact = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    return Directive("call", compact, start, close.end(), name=head.group(1))


def _parse_code(text: str, start: int, pos: int) -> Directive | None:
    if pos >= len(text) or not text[pos].isspace():
        return None
    body = pos + 1
    closes = [i for i in range(body, len(text) - 1) if text.startswith("]]", i)]
    if not closes:
        return None
    # Code such as `xs[ys[0]]` contains `]]`; the first close after which the code compiles is the real one.
    end = next((i for i in closes if _compiles(text[body:i])), closes[0])
    return Directive("code", text[body:end], start, end + 2)


def _compiles(code: str) -> bool:
    try:
        compile(code, "<mock>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def _number(text: str) -> int | float:
    return int(text) if text.lstrip("-").isdigit() else float(text)


def _format_number(value: float) -> str:
    return f"{value:.12g}"


def _last_user_message(messages: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((message for message in reversed(messages) if message.get("role") == "user"), None)


def _finish_reason(quirks: frozenset[str], natural: FinishReason) -> FinishReason:
    if q.CONTENT_FILTER in quirks:
        return "content_filter"
    if q.LENGTH in quirks:
        return "length"
    return natural


def _calling_assistant_message(messages: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The assistant turn just before the trailing tool results: the one that made the calls they answer."""
    for message in reversed(messages):
        if message.get("role") != "tool":
            return message if message.get("role") == "assistant" else None
    return None


def _function_names(tools: Sequence[Mapping[str, Any]]) -> set[str]:
    names = set()
    for tool in tools:
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            continue
        function = tool.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            names.add(function["name"])
    return names


def _tool_calls(user_text: str, directives: Sequence[Directive], tool_names: set[str]) -> list[ToolCall]:
    calls = [(d.name, d.value) for d in directives if d.kind == "call" and d.name in tool_names]
    if not calls and FILE_SEARCH in tool_names:
        query = next((d.value for d in directives if d.kind == "search"), None)
        if query:
            calls = [(FILE_SEARCH, _compact({"query": query}))]
    if not calls and CODE_INTERPRETER in tool_names:
        code = next((d.value for d in directives if d.kind == "code"), None)
        equation = find_equation(user_text)
        if code is None and equation is not None:
            code = equation.solver_code()
        if code is not None:
            calls = [(CODE_INTERPRETER, _compact({"code": code}))]
    if not calls and FILE_SEARCH in tool_names:
        question = strip_directives(user_text, directives)
        if question.endswith("?"):
            calls = [(FILE_SEARCH, _compact({"query": question}))]
    return [ToolCall(tool_call_id(user_text, index), name, args) for index, (name, args) in enumerate(calls)]


def _compact(arguments: dict[str, str]) -> str:
    return json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)


def _search_answer(messages: Sequence[Mapping[str, Any]], outputs: Sequence[str], question: str) -> str | None:
    """The answer to file_search results: the top result's first sentence sharing a word with the question (else
    its first sentence), cited with its marker."""
    caller = _calling_assistant_message(messages) or {}
    names = {(call.get("function") or {}).get("name") for call in caller.get("tool_calls") or []}
    if FILE_SEARCH not in names:
        return None
    for output in outputs:
        top = _SEARCH_RESULT.search(output)
        if top is not None:
            found = sentences(top[2]) or [""]
            asked = words(question)
            return f"{next((s for s in found if asked & words(s)), found[0])} {top[1]}"
    return NOTHING_FOUND


def _tool_results_text(messages: Sequence[Mapping[str, Any]], user_text: str) -> str:
    outputs: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        outputs.insert(0, message_text(message))
    searched = _search_answer(messages, outputs, user_text)
    if searched is not None:
        return searched
    equation = find_equation(user_text)
    if equation is not None:
        for output in outputs:
            try:
                value = float(output)
            except ValueError:
                continue
            return _verified_solution(equation, output.strip(), value)
    return "Tool results: " + "; ".join(outputs)


def _verified_solution(equation: Equation, shown: str, value: float) -> str:
    lhs = equation.a * value + equation.b
    op = "-" if equation.b < 0 else "+"
    check = f"{equation.a} * {shown} {op} {abs(equation.b)} = {_format_number(lhs)}"
    holds = math.isclose(lhs, equation.c, abs_tol=1e-9)
    verdict = "as required" if holds else f"but the right-hand side is {equation.c}"
    return f"The solution is {equation.var} = {shown}. Checking: {check}, {verdict}."


def _image_note(message: Mapping[str, Any] | None) -> str:
    """What the mock saw of the message's image parts: each data URL by its decoded size, each other URL as is, so a
    test can tell that an image reached the model, and which bytes."""
    content = None if message is None else message.get("content")
    seen = []
    for part in content if isinstance(content, list) else []:
        if isinstance(part, Mapping) and part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            head, _, data = url.partition(";base64,")
            seen.append(f"{len(base64.b64decode(data))} bytes of {head[5:]}" if url.startswith("data:") else url)
    return f"I see {len(seen)} image(s): {', '.join(seen)}. " if seen else ""


def _text_answer(user_text: str, directives: Sequence[Directive]) -> str:
    for directive in directives:
        if directive.kind == "text":
            return directive.value
        if directive.kind == "long":
            return " ".join(f"word{i}" for i in range(1, int(directive.value) + 1))
    echoed = strip_directives(user_text, directives)
    return f"You said: {echoed}" if echoed else GREETING
