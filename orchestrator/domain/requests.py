"""Request bodies with the limits of the Assistants API; violations become 400s naming the `param`."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

JSON = dict[str, Any]
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > 16:
        raise PydanticCustomError(
            "object_above_max_properties",
            "too many properties. Expected an object with at most 16 properties, but got {n} instead.",
            {"n": len(value)},
        )
    for key, item in value.items():
        if len(key) > 64:
            raise PydanticCustomError("string_above_max_length", "keys must be at most 64 characters long.")
        if len(item) > 512:
            raise PydanticCustomError("string_above_max_length", "values must be at most 512 characters long.")
    return value


Metadata = Annotated[dict[str, str] | None, AfterValidator(_metadata)]


def _tools(value: list[JSON] | None) -> list[JSON] | None:
    if value is None:
        return None
    for tool in value:
        kind = tool.get("type")
        if kind not in ("code_interpreter", "file_search", "function"):
            raise PydanticCustomError("invalid_value", "unknown tool type {kind!r}.", {"kind": kind})
        if kind == "function":
            function = tool.get("function")
            if not isinstance(function, dict) or not FUNCTION_NAME.match(str(function.get("name", ""))):
                raise PydanticCustomError(
                    "invalid_function_name",
                    "function tools need a function.name of 1-64 characters from [a-zA-Z0-9_-].",
                )
        if kind == "file_search":
            options = tool.get("file_search") or {}
            n = options.get("max_num_results")
            if n is not None and not (isinstance(n, int) and 1 <= n <= 50):
                raise PydanticCustomError("integer_out_of_range", "file_search.max_num_results must be 1 to 50.")
    return value


Tools = Annotated[list[JSON] | None, AfterValidator(_tools)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssistantFields(Body):
    name: str | None = Field(None, max_length=256)
    description: str | None = Field(None, max_length=512)
    instructions: str | None = Field(None, max_length=256_000)
    tools: Annotated[Tools, Field(max_length=128)] = None
    tool_resources: JSON | None = None
    metadata: Metadata = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    response_format: str | JSON | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None


class AssistantCreate(AssistantFields):
    model: str = Field(min_length=1)


class AssistantUpdate(AssistantFields):
    model: str | None = None


class TextPart(Body):
    type: Literal["text"]
    text: str


class ImageFilePart(Body):
    type: Literal["image_file"]
    image_file: JSON


class ImageUrlPart(Body):
    type: Literal["image_url"]
    image_url: JSON


ContentPart = Annotated[TextPart | ImageFilePart | ImageUrlPart, Field(discriminator="type")]


class MessageCreate(Body):
    role: Literal["user", "assistant"]
    content: str | Annotated[list[ContentPart], Field(min_length=1)]
    attachments: list[JSON] | None = None
    metadata: Metadata = None


class MetadataUpdate(Body):
    metadata: Metadata = None


class ThreadCreate(Body):
    messages: Annotated[list[MessageCreate] | None, Field(max_length=32)] = None
    tool_resources: JSON | None = None
    metadata: Metadata = None


class ThreadUpdate(Body):
    tool_resources: JSON | None = None
    metadata: Metadata = None


class TruncationStrategy(Body):
    type: Literal["auto", "last_messages"]
    last_messages: int | None = Field(None, ge=1)


class RunOptions(Body):
    model: str | None = None
    instructions: str | None = None
    tools: Annotated[Tools, Field(max_length=20)] = None
    metadata: Metadata = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stream: bool | None = None
    max_prompt_tokens: int | None = Field(None, ge=256)
    max_completion_tokens: int | None = Field(None, ge=256)
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: str | JSON | None = None
    parallel_tool_calls: bool | None = None
    response_format: str | JSON | None = None

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice(cls, value: str | JSON | None) -> str | JSON | None:
        if isinstance(value, str) and value not in ("none", "auto", "required"):
            raise PydanticCustomError("invalid_value", "tool_choice must be none, auto, required or an object.")
        return value


class RunCreate(RunOptions):
    assistant_id: str
    additional_instructions: str | None = None
    additional_messages: list[MessageCreate] | None = None
    reasoning_effort: str | None = None


class ThreadAndRunCreate(RunOptions):
    assistant_id: str
    thread: ThreadCreate | None = None
    tool_resources: JSON | None = None


class ToolOutput(Body):
    tool_call_id: str
    output: str = ""


class ToolOutputsSubmit(Body):
    tool_outputs: list[ToolOutput]
    stream: bool | None = None
