"""Request bodies with the limits of the Assistants API; violations become 400s naming the `param`.

`null` is accepted wherever OpenAI's SDK may send it and means "not given". Every body is first checked as a
whole by `request_limits.check_json` (nesting depth, valid Unicode, numbers), so what is accepted can be stored and
read back; the fields kept as JSON are checked by `request_fields`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from orchestrator.domain.request_fields import (
    AssistantTools,
    Attachments,
    Metadata,
    ResponseFormat,
    RunTools,
    ToolChoice,
    ToolResources,
    invalid,
)
from orchestrator.domain.request_limits import MAX_TEXT_CHARS, MAX_TOOL_OUTPUTS_BYTES, check_json

#: Largest token or message count: the largest integer every JSON client holds exactly (JavaScript's safe limit).
MAX_INT = 2**53 - 1
Text = Annotated[str | None, Field(max_length=MAX_TEXT_CHARS)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        # The whole body, before any field: a nested body re-checks its own part, which is cheap and never fails
        # once its parent passed.
        if isinstance(data, dict):
            check_json(data)
        return data


class AssistantFields(Body):
    name: str | None = Field(None, max_length=256)
    description: str | None = Field(None, max_length=512)
    instructions: Text = None
    tools: AssistantTools = None
    tool_resources: ToolResources = None
    metadata: Metadata = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    response_format: ResponseFormat = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None


class AssistantCreate(AssistantFields):
    model: str = Field(min_length=1)


class AssistantUpdate(AssistantFields):
    model: str | None = None


class TextPart(Body):
    type: Literal["text"]
    text: str = Field(max_length=MAX_TEXT_CHARS)


class ImageFile(Body):
    file_id: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageUrl(Body):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageFilePart(Body):
    type: Literal["image_file"]
    image_file: ImageFile


class ImageUrlPart(Body):
    type: Literal["image_url"]
    image_url: ImageUrl


ContentPart = Annotated[TextPart | ImageFilePart | ImageUrlPart, Field(discriminator="type")]
CONTENT_PART_TYPES = ("text", "image_file", "image_url")


class MessageCreate(Body):
    role: Literal["user", "assistant"]
    content: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | Annotated[list[ContentPart], Field(min_length=1)]
    attachments: Attachments = None
    metadata: Metadata = None


class MetadataUpdate(Body):
    metadata: Metadata = None


class ThreadCreate(Body):
    messages: Annotated[list[MessageCreate] | None, Field(max_length=32)] = None
    tool_resources: ToolResources = None
    metadata: Metadata = None


class ThreadUpdate(Body):
    tool_resources: ToolResources = None
    metadata: Metadata = None


class TruncationStrategy(Body):
    type: Literal["auto", "last_messages"]
    last_messages: int | None = Field(None, ge=1, le=MAX_INT)


class RunOptions(Body):
    model: str | None = None
    instructions: Text = None
    tools: RunTools = None
    metadata: Metadata = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stream: bool | None = None
    max_prompt_tokens: int | None = Field(None, ge=256, le=MAX_INT)
    max_completion_tokens: int | None = Field(None, ge=256, le=MAX_INT)
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: ToolChoice = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat = None


class RunCreate(RunOptions):
    assistant_id: str
    additional_instructions: Text = None
    additional_messages: list[MessageCreate] | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None


class ThreadAndRunCreate(RunOptions):
    assistant_id: str
    thread: ThreadCreate | None = None
    tool_resources: ToolResources = None


def _no_output(value: Any) -> Any:
    return "" if value is None else value


class ToolOutput(Body):
    tool_call_id: str
    output: Annotated[str, BeforeValidator(_no_output)] = ""


class ToolOutputsSubmit(Body):
    tool_outputs: list[ToolOutput]
    stream: bool | None = None

    @field_validator("tool_outputs")
    @classmethod
    def _combined_size(cls, value: list[ToolOutput]) -> list[ToolOutput]:
        size = sum(len(o.output.encode("utf-8")) for o in value)
        if size > MAX_TOOL_OUTPUTS_BYTES:
            raise invalid(
                "string_above_max_length",
                "combined tool outputs must be at most {limit} bytes, but got {size} bytes.",
                limit=MAX_TOOL_OUTPUTS_BYTES,
                size=size,
            )
        return value
