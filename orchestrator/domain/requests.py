"""Request bodies with the limits of the Assistants API; violations become 400s naming the `param`.

`null` is accepted wherever OpenAI's SDK may send it and means "not given". Every body is first checked as a
whole by `request_limits.check_json` (nesting depth, valid Unicode), so what is accepted can be stored and read back.
Errors carry an `at` context: the place, relative to the field that failed, that the `param` of the answer names.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from orchestrator.domain.request_limits import MAX_TEXT_CHARS, MAX_TOOL_OUTPUTS_BYTES, check_json, printable

JSON = dict[str, Any]
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TOOL_TYPES = ("code_interpreter", "file_search", "function")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")


def invalid(code: str, message: str, at: str = "", **context: Any) -> PydanticCustomError:
    """A validation error whose `param` is the failing field followed by `at` (`[0].type`, `.name`)."""
    return PydanticCustomError(code, message, {"at": at, **context})


def _value(value: Any) -> str:
    return printable(str(value))[:100]


def _metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > 16:
        raise invalid(
            "object_above_max_properties",
            "too many properties. Expected an object with at most 16 properties, but got {n} instead.",
            n=len(value),
        )
    for key, item in value.items():
        if len(key) > 64:
            raise invalid("string_above_max_length", "keys must be at most 64 characters long.")
        if len(item) > 512:
            raise invalid("string_above_max_length", "values must be at most 512 characters long.")
    return value


Metadata = Annotated[dict[str, str] | None, AfterValidator(_metadata)]


def _check_function(tool: JSON, at: str) -> None:
    function = tool.get("function")
    if not isinstance(function, dict) or not FUNCTION_NAME.match(str(function.get("name", ""))):
        raise invalid(
            "invalid_function_name",
            "function tools need a function.name of 1-64 characters from [a-zA-Z0-9_-].",
            f"{at}.function.name",
        )
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise invalid("invalid_type", "function parameters must be a JSON Schema object.", f"{at}.function.parameters")


def _check_file_search(tool: JSON, at: str) -> None:
    options = tool.get("file_search") or {}
    if not isinstance(options, dict):
        raise invalid("invalid_type", "file_search options must be an object.", f"{at}.file_search")
    n = options.get("max_num_results")
    if n is not None and not (isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 50):
        raise invalid("integer_out_of_range", "max_num_results must be an integer from 1 to 50.", f"{at}.file_search")


def _tools(limit: int) -> Any:
    def check(value: list[JSON] | None) -> list[JSON] | None:
        if value is None:
            return None
        if len(value) > limit:
            raise invalid(
                "array_above_max_length",
                "array too long. Expected an array with maximum length {limit}, but got an array with length "
                "{n} instead.",
                limit=limit,
                n=len(value),
            )
        for index, tool in enumerate(value):
            kind = tool.get("type")
            if kind not in TOOL_TYPES:
                raise invalid(
                    "invalid_value",
                    "Invalid value: '{kind}'. Supported values are: 'code_interpreter', 'file_search' and 'function'.",
                    f"[{index}].type",
                    kind=_value(kind),
                )
            if kind == "function":
                _check_function(tool, f"[{index}]")
            if kind == "file_search":
                _check_file_search(tool, f"[{index}]")
        return value

    return check


AssistantTools = Annotated[list[JSON] | None, AfterValidator(_tools(128))]
RunTools = Annotated[list[JSON] | None, AfterValidator(_tools(20))]


def _id_list(value: Any, at: str, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid("invalid_type", "expected an array of strings.", at)
    if len(value) > limit:
        raise invalid(
            "array_above_max_length",
            "array too long. Expected an array with maximum length {limit}, but got an array with length {n} instead.",
            at,
            limit=limit,
            n=len(value),
        )


def _tool_resources(value: JSON | None) -> JSON | None:
    if value is None:
        return None
    for name, resource in value.items():
        if name not in ("code_interpreter", "file_search"):
            raise invalid("unknown_parameter", "Unrecognized tool resource: '{name}'.", f".{name}", name=_value(name))
        if resource is None:
            continue
        if not isinstance(resource, dict):
            raise invalid("invalid_type", "expected an object.", f".{name}")
        if name == "code_interpreter":
            _id_list(resource.get("file_ids"), ".code_interpreter.file_ids", 20)
        else:
            _id_list(resource.get("vector_store_ids"), ".file_search.vector_store_ids", 1)
            stores = resource.get("vector_stores")
            if stores is not None and (not isinstance(stores, list) or len(stores) > 1):
                raise invalid("array_above_max_length", "at most one vector store.", ".file_search.vector_stores")
    return value


ToolResources = Annotated[JSON | None, AfterValidator(_tool_resources)]


def _response_format(value: str | JSON | None) -> str | JSON | None:
    if value is None or value == "auto":
        return value
    if isinstance(value, str):
        raise invalid("invalid_value", "Invalid value: '{v}'. Use 'auto' or an object.", v=_value(value))
    if value.get("type") not in RESPONSE_FORMATS:
        raise invalid(
            "invalid_value",
            "Invalid value: '{v}'. Supported values are: 'text', 'json_object' and 'json_schema'.",
            ".type",
            v=_value(value.get("type")),
        )
    if value["type"] == "json_schema":
        schema = value.get("json_schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
            raise invalid("missing_required_parameter", "json_schema needs a name.", ".json_schema.name")
    return value


ResponseFormat = Annotated[str | JSON | None, AfterValidator(_response_format)]


def _tool_choice(value: str | JSON | None) -> str | JSON | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise invalid("invalid_value", "tool_choice must be none, auto, required or an object.")
        return value
    kind = value.get("type")
    if kind not in TOOL_TYPES:
        raise invalid(
            "invalid_value",
            "Invalid value: '{v}'. Supported values are: 'code_interpreter', 'file_search' and 'function'.",
            ".type",
            v=_value(kind),
        )
    function = value.get("function")
    if kind == "function" and not (isinstance(function, dict) and isinstance(function.get("name"), str)):
        raise invalid("missing_required_parameter", "a function tool_choice needs function.name.", ".function.name")
    return value


ToolChoice = Annotated[str | JSON | None, AfterValidator(_tool_choice)]
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


def _attachments(value: list[JSON] | None) -> list[JSON] | None:
    for index, attachment in enumerate(value or []):
        if not isinstance(attachment.get("file_id"), str):
            raise invalid("missing_required_parameter", "an attachment needs a file_id.", f"[{index}].file_id")
        tools = attachment.get("tools") or []
        if not isinstance(tools, list) or any(
            not isinstance(t, dict) or t.get("type") not in TOOL_TYPES[:2] for t in tools
        ):
            raise invalid(
                "invalid_value",
                "attachment tools are objects of type 'code_interpreter' or 'file_search'.",
                f"[{index}].tools",
            )
    return value


Attachments = Annotated[list[JSON] | None, AfterValidator(_attachments)]


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
    last_messages: int | None = Field(None, ge=1)


class RunOptions(Body):
    model: str | None = None
    instructions: Text = None
    tools: RunTools = None
    metadata: Metadata = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stream: bool | None = None
    max_prompt_tokens: int | None = Field(None, ge=256)
    max_completion_tokens: int | None = Field(None, ge=256)
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
