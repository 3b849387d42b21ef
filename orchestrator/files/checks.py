"""Every file id a request names must be one of the caller's project's files: in `tool_resources`, in a message's
`attachments` and `image_file` parts. Checked before anything is written, answered as OpenAI did: 400 naming the
exact param (`messages[0].attachments[1].file_id`). A run's `tool_choice` must name one of the run's tools."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from orchestrator.domain.models import JSON
from orchestrator.domain.requests import MessageCreate
from orchestrator.errors import InvalidRequest
from orchestrator.files.service import require_named
from orchestrator.store import RedisStore

Named = list[tuple[str, str]]


def resource_file_ids(tool_resources: JSON | None, param: str = "tool_resources") -> Named:
    resources = tool_resources or {}
    named: Named = []
    code = resources.get("code_interpreter") or {}
    for i, file_id in enumerate(code.get("file_ids") or []):
        named.append((f"{param}.code_interpreter.file_ids[{i}]", file_id))
    search = resources.get("file_search") or {}
    for s, helper in enumerate(search.get("vector_stores") or []):  # the inline vector store helper
        for i, file_id in enumerate((helper or {}).get("file_ids") or []):
            named.append((f"{param}.file_search.vector_stores[{s}].file_ids[{i}]", file_id))
    return named


def message_file_ids(message: MessageCreate, param: str = "") -> Named:
    prefix = f"{param}." if param else ""
    named: Named = []
    for i, attachment in enumerate(message.attachments or []):
        named.append((f"{prefix}attachments[{i}].file_id", attachment["file_id"]))
    if not isinstance(message.content, str):
        for i, part in enumerate(message.content):
            if part.type == "image_file":
                named.append((f"{prefix}content[{i}].image_file.file_id", part.image_file.file_id))
    return named


def messages_file_ids(messages: Sequence[MessageCreate] | None, param: str) -> Named:
    return [pair for i, m in enumerate(messages or []) for pair in message_file_ids(m, f"{param}[{i}]")]


def require(store: RedisStore, project: str, *groups: Iterable[tuple[str, str]]) -> None:
    named = [pair for group in groups for pair in group]
    if named:
        require_named(store, project, named)


def check_tool_choice(tool_choice: str | JSON | None, tools: Sequence[JSON]) -> None:
    """A tool_choice object must name a tool the run has (OpenAI refused the run at create)."""
    if not isinstance(tool_choice, dict):
        return
    kind = tool_choice.get("type")
    if kind == "function":
        name = (tool_choice.get("function") or {}).get("name")
        if not any(t.get("type") == "function" and t.get("function", {}).get("name") == name for t in tools):
            raise InvalidRequest(
                f"Invalid 'tool_choice': the run has no function named '{name}' among its tools.",
                param="tool_choice",
                code="invalid_value",
            )
    elif not any(t.get("type") == kind for t in tools):
        raise InvalidRequest(
            f"Invalid 'tool_choice': the run has no '{kind}' tool among its tools.",
            param="tool_choice",
            code="invalid_value",
        )
