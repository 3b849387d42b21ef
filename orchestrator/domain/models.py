"""The persisted and wire shapes of every Assistants API object, mirroring OpenAI's schema key for key."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from orchestrator.domain.status import MessageStatus, RunStatus, StepStatus

JSON = dict[str, Any]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def wire(self) -> JSON:
        """The object as the API returns it."""
        return self.model_dump(mode="json")


class Usage(Frozen):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class RunLastError(Frozen):
    code: Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]
    message: str


class StepLastError(Frozen):
    code: Literal["server_error", "rate_limit_exceeded"]
    message: str


class Assistant(Frozen):
    id: str
    object: Literal["assistant"] = "assistant"
    created_at: int
    name: str | None = None
    description: str | None = None
    model: str
    instructions: str | None = None
    tools: list[JSON] = []
    tool_resources: JSON = {}
    metadata: dict[str, str] = {}
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    response_format: str | JSON = "auto"
    reasoning_effort: str | None = None


class Thread(Frozen):
    id: str
    object: Literal["thread"] = "thread"
    created_at: int
    metadata: dict[str, str] = {}
    tool_resources: JSON = {}


class Message(Frozen):
    id: str
    object: Literal["thread.message"] = "thread.message"
    created_at: int
    thread_id: str
    status: MessageStatus = MessageStatus.COMPLETED
    incomplete_details: JSON | None = None
    completed_at: int | None = None
    incomplete_at: int | None = None
    role: Literal["user", "assistant"]
    content: list[JSON] = []
    assistant_id: str | None = None
    run_id: str | None = None
    attachments: list[JSON] = []
    metadata: dict[str, str] = {}

    def text(self) -> str:
        """The message's text parts joined, as a model sees them."""
        return "\n".join(part["text"]["value"] for part in self.content if part.get("type") == "text")


class RequiredAction(Frozen):
    type: Literal["submit_tool_outputs"] = "submit_tool_outputs"
    submit_tool_outputs: JSON


class Run(Frozen):
    id: str
    object: Literal["thread.run"] = "thread.run"
    created_at: int
    thread_id: str
    assistant_id: str
    status: RunStatus = RunStatus.QUEUED
    required_action: RequiredAction | None = None
    last_error: RunLastError | None = None
    expires_at: int | None = None
    started_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    incomplete_details: JSON | None = None
    model: str
    instructions: str
    tools: list[JSON] = []
    metadata: dict[str, str] = {}
    usage: Usage | None = None
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: JSON = {"type": "auto", "last_messages": None}
    response_format: str | JSON = "auto"
    tool_choice: str | JSON = "auto"
    parallel_tool_calls: bool = True
    tool_resources: JSON = {}
    reasoning_effort: str | None = None


class RunStep(Frozen):
    id: str
    object: Literal["thread.run.step"] = "thread.run.step"
    created_at: int
    run_id: str
    assistant_id: str
    thread_id: str
    type: Literal["message_creation", "tool_calls"]
    status: StepStatus = StepStatus.IN_PROGRESS
    step_details: JSON
    last_error: StepLastError | None = None
    expired_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    metadata: dict[str, str] | None = None
    usage: Usage | None = None

    def tool_calls(self) -> list[JSON]:
        calls: list[JSON] = self.step_details.get("tool_calls", [])
        return calls


# -- vector stores (status and file_counts are derived from counters that Lua scripts keep: never stored as given)


class FileCounts(Frozen):
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0


class VectorStoreFileError(Frozen):
    code: Literal["server_error", "unsupported_file", "invalid_file"]
    message: str


class VectorStore(Frozen):
    id: str
    object: Literal["vector_store"] = "vector_store"
    created_at: int
    name: str | None = None
    description: str | None = None
    usage_bytes: int = 0
    file_counts: FileCounts = FileCounts()
    status: Literal["expired", "in_progress", "completed"] = "completed"
    expires_after: JSON | None = None
    expires_at: int | None = None
    last_active_at: int | None = None
    metadata: dict[str, str] = {}


class VectorStoreFile(Frozen):
    id: str
    object: Literal["vector_store.file"] = "vector_store.file"
    usage_bytes: int = 0
    created_at: int
    vector_store_id: str
    status: Literal["in_progress", "completed", "cancelled", "failed"] = "in_progress"
    last_error: VectorStoreFileError | None = None
    chunking_strategy: JSON
    attributes: dict[str, str | float | bool] | None = None


class VectorStoreFileBatch(Frozen):
    id: str
    object: Literal["vector_store.files_batch"] = "vector_store.files_batch"
    created_at: int
    vector_store_id: str
    status: Literal["in_progress", "completed", "cancelled", "failed"] = "in_progress"
    file_counts: FileCounts = FileCounts()


class FileObject(Frozen):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["uploaded", "processed", "error"] = "processed"
    status_details: str | None = None
    expires_at: int | None = None


def deleted(object_id: str, kind: str) -> JSON:
    return {"id": object_id, "object": kind, "deleted": True}
