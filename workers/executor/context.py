"""The model's view of a run: instructions, the thread's messages (chosen and rendered by history.py), this run's
earlier turns (text and tool calls with their outputs), and the sampling options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from orchestrator.domain.models import JSON, Message, Run, RunStep
from orchestrator.domain.tools import SERVER_TOOLS, chat_tool_choice, chat_tools
from workers.executor.citations import Source, numbered_results, tool_output

#: An image_file's data URL by file id (None once the file is gone); the executor binds it to the run's project.
ImageData = Callable[[str], str | None]
CHARS_PER_TOKEN = 4  # a tokenizer-free estimate; only used to truncate before the model reports real counts
#: What an image counts for against the budget: a detailed 1024x1024 image is 765 tokens to OpenAI's models, and
#: its data URL's length says nothing of that.
IMAGE_CHARS = 1000 * CHARS_PER_TOKEN


def build_request(
    run: Run,
    chat: list[dict[str, Any]],
    own: list[Message],
    steps: list[RunStep],
    max_tokens: int | None,
    step_turns: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The Chat Completions request of the run's next turn: `chat` is the thread's messages the model reads (as
    history.py chose and rendered them, oldest first), `own` the run's own messages."""
    messages: list[dict[str, Any]] = []
    if run.instructions:
        messages.append({"role": "system", "content": run.instructions})
    messages += chat
    by_id = {m.id: m for m in own}
    # file_search results are numbered across the run, so the model's markers can be traced back (citations.py).
    numbered = numbered_results(steps, step_turns or {})
    for group in _by_turn(steps, step_turns or {}):
        messages += _turn_messages(group, by_id, numbered)
    request: dict[str, Any] = {"model": run.model, "messages": messages}
    tools = chat_tools(run.tools)
    if tools:
        request["tools"] = tools
        request["tool_choice"] = chat_tool_choice(run.tool_choice)
        request["parallel_tool_calls"] = run.parallel_tool_calls
    for name in ("temperature", "top_p"):
        if getattr(run, name) is not None:
            request[name] = getattr(run, name)
    if isinstance(run.response_format, dict):
        request["response_format"] = run.response_format
    if max_tokens is not None:
        # OpenAI's current name; an upstream that rejects it gets `max_tokens` instead (capabilities.py).
        request["max_completion_tokens"] = max_tokens
    return request


def reserved_chars(run: Run) -> int:
    """What every request of the run carries besides the thread's messages: its instructions and tools."""
    return len(run.instructions or "") + len(orjson.dumps(chat_tools(run.tools)))


def estimated_chars(message: Message) -> int:
    """A message's size against the context budget: its text as sent, each image at IMAGE_CHARS."""
    parts = message.content
    images = sum(1 for part in parts if part["type"] != "text")
    text = sum(len(part["text"]["value"]) for part in parts if part["type"] == "text")
    return text + max(0, len(parts) - 1) + images * IMAGE_CHARS


def chat_message(message: Message, image_data: ImageData | None = None) -> dict[str, Any]:
    """Text alone stays a string; a user message with images becomes Chat Completions parts, an image_file as a
    data URL of its bytes. Assistant turns cannot carry images upstream: they keep a placeholder."""
    if message.role != "user" or all(part["type"] == "text" for part in message.content):
        return {"role": message.role, "content": "\n".join(_as_text(part) for part in message.content)}
    parts: list[dict[str, Any]] = []
    for part in message.content:
        image = _image_part(part, image_data)
        parts.append(image if image is not None else {"type": "text", "text": _as_text(part)})
    return {"role": message.role, "content": parts}


def _as_text(part: JSON) -> str:
    if part["type"] == "text":
        return str(part["text"]["value"])
    if part["type"] == "image_url":
        return f"[image: {part['image_url']['url']}]"
    return f"[image file: {part['image_file']['file_id']}]"


def _image_part(part: JSON, image_data: ImageData | None) -> dict[str, Any] | None:
    if part["type"] == "image_url":
        source = part["image_url"]
        url: str | None = source["url"]
    elif part["type"] == "image_file" and image_data is not None:
        source = part["image_file"]
        url = image_data(source["file_id"])  # None once the file was deleted: the placeholder says which it was
    else:
        return None
    if url is None:
        return None
    image: dict[str, Any] = {"url": url}
    if source.get("detail"):
        image["detail"] = source["detail"]
    return {"type": "image_url", "image_url": image}


def _by_turn(steps: list[RunStep], step_turns: dict[str, int]) -> list[list[RunStep]]:
    """This run's steps grouped by the model turn (completion) that made them, in order."""
    groups: dict[int | str, list[RunStep]] = {}
    for step in steps:
        groups.setdefault(step_turns.get(step.id, step.id), []).append(step)
    return list(groups.values())


def _turn_messages(
    steps: list[RunStep], own: dict[str, Message], numbered: dict[str, list[Source]]
) -> list[dict[str, Any]]:
    """One earlier completion as the model wrote it: its text (before and after its tool calls) beside the calls,
    then the calls' results. A turn without tool calls ended its run and is not sent again."""
    calls = [call for step in steps if step.type == "tool_calls" for call in step.tool_calls()]
    if not calls:
        return []
    text = "".join(
        own[step.step_details["message_creation"]["message_id"]].text()
        for step in steps
        if step.type == "message_creation" and step.step_details["message_creation"]["message_id"] in own
    )
    out: list[dict[str, Any]] = [
        {"role": "assistant", "content": text or None, "tool_calls": [_chat_call(call) for call in calls]}
    ]
    out += [
        {"role": "tool", "tool_call_id": call["id"], "content": call_output(call, numbered.get(call["id"], []))}
        for call in calls
    ]
    return out


def _chat_call(call: JSON) -> dict[str, Any]:
    kind = call["type"]
    if kind == "function":
        name, arguments = call["function"]["name"], call["function"]["arguments"]
    else:
        name = kind
        arg = SERVER_TOOLS[kind][1]
        value = call[kind].get("input", "") if kind == "code_interpreter" else call[kind].get("query", "")
        arguments = orjson.dumps({arg: value}).decode()
    return {"id": call["id"], "type": "function", "function": {"name": name, "arguments": arguments}}


def call_output(call: JSON, sources: list[Source] | None = None) -> str:
    """What the model reads as a call's result; file_search results come numbered, each under its marker."""
    kind = call["type"]
    if kind == "function":
        return str(call["function"].get("output") or "")
    if kind == "code_interpreter":
        return "".join(o.get("logs", "") for o in call["code_interpreter"].get("outputs", []) if o["type"] == "logs")
    if kind == "file_search":
        return tool_output(call["file_search"].get("query", ""), sources or [])
    return orjson.dumps(call.get(kind, {}).get("results", [])).decode()
