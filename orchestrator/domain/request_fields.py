"""The request fields kept as JSON (tools, tool resources, response format, tool choice, attachments, metadata),
each an annotated type: a validator with OpenAI's limits, and the JSON Schema (`request_schemas`) that documents it.

They stay dicts rather than models because services store them as given. Errors carry an `at` context: the
place, relative to the field, that the answer's `param` names (`tools[0].function.name`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from orchestrator.domain import request_schemas as schemas
from orchestrator.domain.request_limits import printable

JSON = dict[str, Any]
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TOOL_TYPES = ("code_interpreter", "file_search", "function")
SUPPORTED_TOOLS = "Supported values are: 'code_interpreter', 'file_search' and 'function'."


def invalid(code: str, message: str, at: str = "", **context: Any) -> PydanticCustomError:
    """A validation error whose `param` is the failing field followed by `at` (`[0].type`, `.name`)."""
    return PydanticCustomError(code, message, {"at": at, **context})


def shown(value: Any) -> str:
    """A client's value, safe to quote in a message."""
    return printable(str(value))[:100]


def _object(value: Any, at: str, allowed: Iterable[str]) -> JSON:
    """`value` as an object holding no key but `allowed` ones."""
    if not isinstance(value, dict):
        raise invalid("invalid_type", "expected an object.", at)
    for key in value:
        if key not in allowed:
            raise invalid(
                "unknown_parameter",
                "Unrecognized request argument supplied: {key}",
                f"{at}.{shown(key)}",
                key=shown(key),
            )
    return value


def _kind(value: JSON, at: str, kinds: tuple[str, ...], supported: str) -> str:
    kind = value.get("type")
    if kind not in kinds:
        raise invalid("invalid_value", "Invalid value: '{v}'. " + supported, f"{at}.type", v=shown(kind))
    return str(kind)


def _bool_or_null(value: JSON, key: str, at: str) -> None:
    if value.get(key) not in (None, True, False):
        raise invalid("invalid_type", "expected a boolean.", f"{at}.{key}")


def _too_many(at: str, limit: int, n: int) -> PydanticCustomError:
    return invalid(
        "array_above_max_length",
        "array too long. Expected an array with maximum length {limit}, but got an array with length {n} instead.",
        at,
        limit=limit,
        n=n,
    )


def _strings(value: Any, at: str, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid("invalid_type", "expected an array of strings.", at)
    if len(value) > limit:
        raise _too_many(at, limit, len(value))


def _function(value: Any, at: str) -> None:
    function = _object(value, at, ("name", "description", "parameters", "strict"))
    if not FUNCTION_NAME.match(str(function.get("name", ""))):
        raise invalid("invalid_function_name", "function names are 1-64 characters from [a-zA-Z0-9_-].", f"{at}.name")
    if not isinstance(function.get("parameters", {}), dict):
        raise invalid("invalid_type", "function parameters must be a JSON Schema object.", f"{at}.parameters")
    if not isinstance(function.get("description", ""), str):
        raise invalid("invalid_type", "expected a string.", f"{at}.description")
    _bool_or_null(function, "strict", at)


def _file_search_options(value: Any, at: str) -> None:
    options = _object(value, at, ("max_num_results", "ranking_options"))
    n = options.get("max_num_results")
    integral = isinstance(n, int | float) and not isinstance(n, bool) and float(n).is_integer()
    if n is not None and not (integral and 1 <= n <= 50):
        raise invalid(
            "integer_out_of_range", "max_num_results must be an integer from 1 to 50.", f"{at}.max_num_results"
        )
    if not isinstance(options.get("ranking_options", {}), dict):
        raise invalid("invalid_type", "expected an object.", f"{at}.ranking_options")


def _tool(value: Any, at: str) -> None:
    tool = _object(value, at, ("type", "function", "file_search"))
    kind = _kind(tool, at, TOOL_TYPES, SUPPORTED_TOOLS)
    _object(tool, at, ("type",) if kind == "code_interpreter" else ("type", kind))  # no options of another kind
    if kind == "function":
        if "function" not in tool:
            raise invalid("missing_required_parameter", "Missing required parameter: 'function'.", f"{at}.function")
        _function(tool["function"], f"{at}.function")
    if kind == "file_search" and "file_search" in tool:
        _file_search_options(tool["file_search"], f"{at}.file_search")


def _tools(limit: int) -> Callable[[list[JSON] | None], list[JSON] | None]:
    def check(value: list[JSON] | None) -> list[JSON] | None:
        if value is None:
            return None
        if len(value) > limit:
            raise _too_many("", limit, len(value))
        for index, tool in enumerate(value):
            _tool(tool, f"[{index}]")
        return value

    return check


def _tool_resources(value: JSON | None) -> JSON | None:
    if value is None:
        return None
    _object(value, "", ("code_interpreter", "file_search"))
    if value.get("code_interpreter") is not None:
        resource = _object(value["code_interpreter"], ".code_interpreter", ("file_ids",))
        _strings(resource.get("file_ids"), ".code_interpreter.file_ids", 20)
    if value.get("file_search") is not None:
        resource = _object(value["file_search"], ".file_search", ("vector_store_ids", "vector_stores"))
        _strings(resource.get("vector_store_ids"), ".file_search.vector_store_ids", 1)
        stores = resource.get("vector_stores")
        if stores is not None and (not isinstance(stores, list) or not all(isinstance(s, dict) for s in stores)):
            raise invalid("invalid_type", "expected an array of objects.", ".file_search.vector_stores")
        if stores is not None and len(stores) > 1:
            raise _too_many(".file_search.vector_stores", 1, len(stores))
        for store in stores or []:
            _vector_store(store, ".file_search.vector_stores[0]")
    return value


def _chunking_strategy(value: Any, at: str) -> None:
    kind = _kind(_object(value, at, ("type", "static")), at, ("auto", "static"), "Use 'auto' or 'static'.")
    _object(value, at, ("type",) if kind == "auto" else ("type", "static"))
    if kind == "static":
        static = _object(value.get("static"), f"{at}.static", ("max_chunk_size_tokens", "chunk_overlap_tokens"))
        for name, low, high in (("max_chunk_size_tokens", 100, 4096), ("chunk_overlap_tokens", 0, 2048)):
            n = static.get(name)
            if not (isinstance(n, int) and not isinstance(n, bool) and low <= n <= high):
                raise invalid(
                    "integer_out_of_range", f"{name} must be an integer from {low} to {high}.", f"{at}.static.{name}"
                )


def _vector_store(value: JSON, at: str) -> None:
    store = _object(value, at, ("file_ids", "chunking_strategy", "metadata"))
    _strings(store.get("file_ids"), f"{at}.file_ids", 10_000)
    if "chunking_strategy" in store:
        _chunking_strategy(store["chunking_strategy"], f"{at}.chunking_strategy")
    metadata = store.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise invalid("invalid_type", "expected an object of strings.", f"{at}.metadata")
        _metadata(metadata, f"{at}.metadata")


def _response_format(value: str | JSON | None) -> str | JSON | None:
    if value is None or value == "auto":
        return value
    if isinstance(value, str):
        raise invalid("invalid_value", "Invalid value: '{v}'. Use 'auto' or an object.", v=shown(value))
    kind = _kind(
        value,
        "",
        ("text", "json_object", "json_schema"),
        "Supported values are: 'text', 'json_object' and 'json_schema'.",
    )
    _object(value, "", ("type", "json_schema") if kind == "json_schema" else ("type",))
    if kind == "json_schema":
        schema = _object(value.get("json_schema"), ".json_schema", ("name", "description", "schema", "strict"))
        if not isinstance(schema.get("name"), str):
            raise invalid("missing_required_parameter", "a json_schema needs a name.", ".json_schema.name")
        if not isinstance(schema.get("description", ""), str):
            raise invalid("invalid_type", "expected a string.", ".json_schema.description")
        if not isinstance(schema.get("schema", {}), dict):
            raise invalid("invalid_type", "expected a JSON Schema object.", ".json_schema.schema")
        _bool_or_null(schema, "strict", ".json_schema")
    return value


def _tool_choice(value: str | JSON | None) -> str | JSON | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise invalid("invalid_value", "tool_choice must be none, auto, required or an object.")
        return value
    kind = _kind(value, "", TOOL_TYPES, SUPPORTED_TOOLS)
    _object(value, "", ("type", "function") if kind == "function" else ("type",))
    if kind == "function":
        if "function" not in value:
            raise invalid("missing_required_parameter", "Missing required parameter: 'function'.", ".function")
        function = _object(value["function"], ".function", ("name",))
        if not isinstance(function.get("name"), str):
            raise invalid("missing_required_parameter", "a function tool_choice needs function.name.", ".function.name")
    return value


def _attachments(value: list[JSON] | None) -> list[JSON] | None:
    for index, item in enumerate(value or []):
        attachment = _object(item, f"[{index}]", ("file_id", "tools"))
        if not isinstance(attachment.get("file_id"), str):
            raise invalid("missing_required_parameter", "an attachment needs a file_id.", f"[{index}].file_id")
        tools = attachment.get("tools") or []
        if not isinstance(tools, list):
            raise invalid("invalid_type", "expected an array.", f"[{index}].tools")
        for n, tool in enumerate(tools):
            at = f"[{index}].tools[{n}]"
            _kind(_object(tool, at, ("type",)), at, TOOL_TYPES[:2], "Use 'code_interpreter' or 'file_search'.")
    return value


def _metadata(value: dict[str, str] | None, at: str = "") -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > 16:
        raise invalid(
            "object_above_max_properties",
            "too many properties. Expected an object with at most 16 properties, but got {n} instead.",
            at,
            n=len(value),
        )
    for key, item in value.items():
        if len(key) > 64:
            raise invalid("string_above_max_length", "keys must be at most 64 characters long.", at)
        if len(item) > 512:
            raise invalid("string_above_max_length", "values must be at most 512 characters long.", at)
    return value


Metadata = Annotated[dict[str, str] | None, AfterValidator(lambda v: _metadata(v)), WithJsonSchema(schemas.METADATA)]
AssistantTools = Annotated[list[JSON] | None, AfterValidator(_tools(128)), WithJsonSchema(schemas.tools(128))]
RunTools = Annotated[list[JSON] | None, AfterValidator(_tools(20)), WithJsonSchema(schemas.tools(20))]
ToolResources = Annotated[JSON | None, AfterValidator(_tool_resources), WithJsonSchema(schemas.TOOL_RESOURCES)]
ResponseFormat = Annotated[str | JSON | None, AfterValidator(_response_format), WithJsonSchema(schemas.RESPONSE_FORMAT)]
ToolChoice = Annotated[str | JSON | None, AfterValidator(_tool_choice), WithJsonSchema(schemas.TOOL_CHOICE)]
Attachments = Annotated[list[JSON] | None, AfterValidator(_attachments), WithJsonSchema(schemas.ATTACHMENTS)]
