"""The JSON Schemas the OpenAPI document shows for the fields `requests.py` keeps as JSON and checks with
validators, so that a client (or a fuzzer) reading the document learns what the server accepts. Free-form parts
(a function's parameters, a response format's schema) are `JSONValue`s: any JSON whose numbers are in 64-bit range.
Nesting depth and valid Unicode, checked on every body, are beyond JSON Schema and said in the README instead."""

from __future__ import annotations

from typing import Any

from orchestrator.domain.request_limits import NUMBER_RANGE

Schema = dict[str, Any]
NULL: Schema = {"type": "null"}
JSON_VALUE_NAME = "JSONValue"
JSON_VALUE_REF: Schema = {"$ref": f"#/components/schemas/{JSON_VALUE_NAME}"}
JSON_OBJECT: Schema = {"type": "object", "additionalProperties": JSON_VALUE_REF}
JSON_VALUE: Schema = {
    # One schema, not a union of one per type: fuzzers misread which member a mutated value left.
    "type": ["null", "boolean", "string", "number", "array", "object"],
    "minimum": NUMBER_RANGE[0],
    "maximum": NUMBER_RANGE[1],
    "items": JSON_VALUE_REF,
    "additionalProperties": JSON_VALUE_REF,
}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, NULL]}


def strict(required: Schema, optional: Schema | None = None) -> Schema:
    """An object with `required` and `optional` properties and no others."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
    }


def typed(kind: str, required: Schema | None = None, optional: Schema | None = None) -> Schema:
    """An object whose `type` is `kind`."""
    return strict({"type": {"type": "string", "enum": [kind]}, **(required or {})}, optional)


def ids(limit: int) -> Schema:
    return nullable({"type": "array", "items": {"type": "string"}, "maxItems": limit})


STRING: Schema = {"type": "string"}
NAMED: Schema = strict({"name": STRING})
FUNCTION: Schema = strict(
    {"name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"}},
    {"description": STRING, "parameters": JSON_OBJECT, "strict": nullable({"type": "boolean"})},
)
FILE_SEARCH_OPTIONS: Schema = strict(
    {},
    {
        "max_num_results": {"type": "integer", "minimum": 1, "maximum": 50},
        "ranking_options": JSON_OBJECT,
    },
)
TOOL: Schema = {
    "oneOf": [
        typed("code_interpreter"),
        typed("file_search", optional={"file_search": FILE_SEARCH_OPTIONS}),
        typed("function", required={"function": FUNCTION}),
    ]
}


def tools(limit: int) -> Schema:
    return nullable({"type": "array", "items": TOOL, "maxItems": limit})


METADATA: Schema = nullable(
    {
        "type": "object",
        "maxProperties": 16,
        "propertyNames": {"maxLength": 64},
        "additionalProperties": {"type": "string", "maxLength": 512},
    }
)
#: The `vector_stores` helper of a thread's or an assistant's file_search resources.
STATIC_CHUNKING: Schema = strict(
    {
        "max_chunk_size_tokens": {"type": "integer", "minimum": 100, "maximum": 4096},
        "chunk_overlap_tokens": {"type": "integer", "minimum": 0, "maximum": 2048},
    }
)
CHUNKING_STRATEGY: Schema = {"anyOf": [typed("auto"), typed("static", required={"static": STATIC_CHUNKING})]}
VECTOR_STORE: Schema = strict(
    {}, {"file_ids": ids(10_000), "chunking_strategy": CHUNKING_STRATEGY, "metadata": METADATA}
)
TOOL_RESOURCES: Schema = nullable(
    strict(
        {},
        {
            "code_interpreter": nullable(strict({}, {"file_ids": ids(20)})),
            "file_search": nullable(
                strict(
                    {},
                    {
                        "vector_store_ids": ids(1),
                        "vector_stores": nullable({"type": "array", "items": VECTOR_STORE, "maxItems": 1}),
                    },
                )
            ),
        },
    )
)
JSON_SCHEMA_FORMAT: Schema = strict(
    {"name": STRING}, {"description": STRING, "schema": JSON_OBJECT, "strict": nullable({"type": "boolean"})}
)
RESPONSE_FORMAT: Schema = {
    "anyOf": [
        {"type": "string", "enum": ["auto"]},
        typed("text"),
        typed("json_object"),
        typed("json_schema", required={"json_schema": JSON_SCHEMA_FORMAT}),
        NULL,
    ]
}
TOOL_CHOICE: Schema = {
    "anyOf": [
        {"type": "string", "enum": ["none", "auto", "required"]},
        typed("code_interpreter"),
        typed("file_search"),
        typed("function", required={"function": NAMED}),
        NULL,
    ]
}
ATTACHMENTS: Schema = nullable(
    {
        "type": "array",
        "items": strict(
            {"file_id": STRING},
            {"tools": {"type": "array", "items": {"anyOf": [typed("code_interpreter"), typed("file_search")]}}},
        ),
    }
)
