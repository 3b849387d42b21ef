"""Vector-store request bodies with OpenAI's limits (checklist §3.7, §8); violations become 400s naming `param`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from orchestrator.domain.request_fields import Metadata, invalid
from orchestrator.domain.requests import Body

#: OpenAI's auto strategy, which a static one replaces.
AUTO_CHUNK_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400

FileIds = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=500)]


class StaticChunking(Body):
    max_chunk_size_tokens: int = Field(ge=100, le=4096)
    chunk_overlap_tokens: int = Field(ge=0)

    @model_validator(mode="after")
    def _overlap(self) -> StaticChunking:
        if self.chunk_overlap_tokens > self.max_chunk_size_tokens // 2:
            raise invalid(
                "invalid_value",
                "chunk_overlap_tokens must not exceed half of max_chunk_size_tokens.",
                ".chunk_overlap_tokens",
            )
        return self


class ChunkingStrategy(Body):
    """`{"type": "auto"}` or `{"type": "static", "static": {...}}` (one model, so errors name plain paths)."""

    type: Literal["auto", "static"]
    static: StaticChunking | None = None

    @model_validator(mode="after")
    def _static_given(self) -> ChunkingStrategy:
        if self.type == "static" and self.static is None:
            raise invalid("missing_required_parameter", "Missing required parameter: 'static'.", ".static")
        if self.type == "auto" and self.static is not None:
            raise invalid("unknown_parameter", "Unrecognized request argument supplied: static", ".static")
        return self


#: The strategy's documented shape (the model itself is one class with a check, so errors name plain paths). The
#: overlap's bound of half the chunk size is a rule between two fields that JSON Schema cannot state.
CHUNKING_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "properties": {"type": {"const": "auto"}},
            "required": ["type"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "type": {"const": "static"},
                "static": {
                    "type": "object",
                    "properties": {
                        "max_chunk_size_tokens": {"type": "integer", "minimum": 100, "maximum": 4096},
                        "chunk_overlap_tokens": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": 2048,
                            "description": "At most half of max_chunk_size_tokens.",
                        },
                    },
                    "required": ["max_chunk_size_tokens", "chunk_overlap_tokens"],
                    "additionalProperties": False,
                },
            },
            "required": ["type", "static"],
            "additionalProperties": False,
        },
        {"type": "null"},
    ]
}
Chunking = Annotated[ChunkingStrategy | None, WithJsonSchema(CHUNKING_SCHEMA)]


def chunking_wire(strategy: ChunkingStrategy | None) -> dict[str, Any]:
    """The strategy as a vector-store file shows it: `auto` is shown as the static sizes it stands for."""
    if strategy is not None and strategy.static is not None:
        return {"type": "static", "static": strategy.static.model_dump()}
    static = {"max_chunk_size_tokens": AUTO_CHUNK_TOKENS, "chunk_overlap_tokens": AUTO_OVERLAP_TOKENS}
    return {"type": "static", "static": static}


class ExpiresAfter(Body):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


def _attributes(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if len(value) > 16:
        raise invalid("object_above_max_properties", "attributes may hold at most 16 keys.")
    for key, item in value.items():
        if len(key) > 64:
            raise invalid("string_above_max_length", "attribute keys must be at most 64 characters long.")
        if isinstance(item, str) and len(item) > 512:
            raise invalid("string_above_max_length", "attribute values must be at most 512 characters long.")
    return value


#: Numbers are bounded as every stored body's are (request_limits.check_json): what is accepted can be read back.
_ATTRIBUTES_SCHEMA = {
    "anyOf": [
        {
            "type": "object",
            "maxProperties": 16,
            "propertyNames": {"maxLength": 64},
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "maxLength": 512},
                    {"type": "boolean"},
                    {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
                    {"type": "number", "minimum": -1e300, "maximum": 1e300},
                ]
            },
        },
        {"type": "null"},
    ]
}
Attributes = Annotated[
    dict[str, Annotated[str, Field(max_length=512)] | StrictBool | StrictInt | StrictFloat] | None,
    AfterValidator(_attributes),
    WithJsonSchema(_ATTRIBUTES_SCHEMA),
]


class VectorStoreCreate(Body):
    name: str | None = Field(None, max_length=256)
    description: str | None = Field(None, max_length=512)
    file_ids: FileIds | None = None
    chunking_strategy: Chunking = None
    expires_after: ExpiresAfter | None = None
    metadata: Metadata = None


class VectorStoreUpdate(Body):
    name: str | None = Field(None, max_length=256)
    expires_after: ExpiresAfter | None = None
    metadata: Metadata = None


class VectorStoreFileCreate(Body):
    file_id: str = Field(min_length=1, max_length=64)
    chunking_strategy: Chunking = None
    attributes: Attributes = None


class VectorStoreFileUpdate(Body):
    attributes: Attributes


class BatchFile(Body):
    file_id: str = Field(min_length=1, max_length=64)
    chunking_strategy: Chunking = None
    attributes: Attributes = None


_BATCH_IDS_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 64},
    "minItems": 1,
    "maxItems": 2000,
}
_BATCH_FILES_SCHEMA = {
    "type": "array",
    "items": {"$ref": "#/components/schemas/BatchFile"},
    "minItems": 1,
    "maxItems": 2000,
}


class FileBatchCreate(Body):
    """Exactly one of `file_ids` and `files`."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["file_ids"]}, {"required": ["files"]}]})

    file_ids: Annotated[
        Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=2000)] | None,
        WithJsonSchema(_BATCH_IDS_SCHEMA),
    ] = None
    files: Annotated[Annotated[list[BatchFile], Field(max_length=2000)] | None, WithJsonSchema(_BATCH_FILES_SCHEMA)] = (
        None
    )
    chunking_strategy: Chunking = None
    attributes: Attributes = None

    @model_validator(mode="after")
    def _one_of(self) -> FileBatchCreate:
        if (self.file_ids is None) == (self.files is None):
            raise invalid("invalid_value", "Provide exactly one of 'file_ids' or 'files'.", ".file_ids")
        if not (self.file_ids or self.files):
            raise invalid("array_below_min_length", "Expected an array with minimum length 1.", ".file_ids")
        return self

    def entries(self) -> list[BatchFile]:
        """Every file with the batch-wide strategy and attributes applied where it gives none of its own."""
        if self.files is not None:
            return [
                f.model_copy(
                    update={
                        "chunking_strategy": f.chunking_strategy or self.chunking_strategy,
                        "attributes": f.attributes if f.attributes is not None else self.attributes,
                    }
                )
                for f in self.files
            ]
        return [
            BatchFile(file_id=i, chunking_strategy=self.chunking_strategy, attributes=self.attributes)
            for i in self.file_ids or []
        ]


class RankingOptions(Body):
    ranker: Literal["none", "auto", "default-2024-11-15", "default_2024_08_21"] | None = None
    score_threshold: float | None = Field(None, ge=0, le=1)


class SearchRequest(Body):
    query: (
        Annotated[str, Field(min_length=1, max_length=4096)]
        | Annotated[list[Annotated[str, Field(min_length=1, max_length=4096)]], Field(min_length=1, max_length=10)]
    )
    max_num_results: int = Field(10, ge=1, le=50)
    ranking_options: RankingOptions | None = None
    rewrite_query: bool | None = None  # accepted and ignored: queries are used as given
    filters: Annotated[
        dict[str, Any] | None,
        WithJsonSchema({"type": "null", "description": "Attribute filters are not supported: a filter is a 400."}),
    ] = None

    @model_validator(mode="after")
    def _no_filters(self) -> SearchRequest:
        if self.filters is not None:
            raise invalid("unsupported_parameter", "Attribute filters are not supported by this server.", ".filters")
        return self

    def queries(self) -> list[str]:
        return [self.query] if isinstance(self.query, str) else list(self.query)
