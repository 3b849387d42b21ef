"""How the Assistants tools are offered to a Chat Completions model, and where server-side tools run."""

from __future__ import annotations

from typing import Any

from orchestrator.domain.models import JSON

#: Server-side tools: the Celery queue each runs on and the one string argument the model fills in.
SERVER_TOOLS: dict[str, tuple[str, str]] = {
    "code_interpreter": ("tools.code_interpreter", "code"),
    "file_search": ("tools.file_search", "query"),
}

_DESCRIPTIONS = {
    "code_interpreter": "Run Python code in a sandbox and get its printed output. Use print() to show results.",
    "file_search": "Search the files attached to this assistant or thread.",
}


def chat_tools(tools: list[JSON]) -> list[dict[str, Any]]:
    """The run's tools as Chat Completions function definitions."""
    offered: list[dict[str, Any]] = []
    for tool in tools:
        kind = tool["type"]
        if kind == "function":
            function = {k: v for k, v in tool["function"].items() if v is not None}
            offered.append({"type": "function", "function": function})
        elif kind in SERVER_TOOLS:
            arg = SERVER_TOOLS[kind][1]
            offered.append(
                {
                    "type": "function",
                    "function": {
                        "name": kind,
                        "description": _DESCRIPTIONS[kind],
                        "parameters": {"type": "object", "properties": {arg: {"type": "string"}}, "required": [arg]},
                    },
                }
            )
    return offered


def chat_tool_choice(tool_choice: str | JSON) -> str | dict[str, Any]:
    if isinstance(tool_choice, str):
        return tool_choice
    if tool_choice.get("type") == "function":
        return {"type": "function", "function": {"name": tool_choice["function"]["name"]}}
    return {"type": "function", "function": {"name": tool_choice["type"]}}


def call_type(name: str, run_tools: list[JSON]) -> str:
    """The Assistants tool-call type of a model call named `name`: a server tool's type, else `function`."""
    if name in SERVER_TOOLS and any(t["type"] == name for t in run_tools):
        return name
    return "function"
