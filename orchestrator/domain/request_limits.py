"""The limits every request body obeys, and the check of free-form JSON against them.

Bodies are free-form in places (function parameters, `response_format` schemas, `tool_resources`...). What is
accepted is stored and later read back by pydantic, whose JSON parser stops at about 200 levels of nesting, and
sent on by orjson, which stops at 255: a body nested deeper would be written once and then fail every read (of the
object, of its list, of the run that copies it). The depth limit keeps every stored document well inside both.
Strings must also be valid Unicode: JSON may spell a lone surrogate (`"\\ud800"`), which no UTF-8 encoder accepts;
and numbers must be ones orjson can write back.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic_core import PydanticCustomError

#: Nesting levels a request body may have, the body itself counting as one. A stored document wraps a body's
#: parts in at most a few more levels, so it stays far below the ~200 that pydantic can read back.
MAX_JSON_DEPTH = 32
#: Numbers a body may hold: the integers orjson can write (and floats in the same range).
NUMBER_RANGE = (-(2**63), 2**64 - 1)
#: Characters in a message's text, in instructions (OpenAI's limit).
MAX_TEXT_CHARS = 256_000
#: Bytes of all the outputs of one `submit_tool_outputs` together (OpenAI's limit).
MAX_TOOL_OUTPUTS_BYTES = 512 * 1024


def printable(text: str) -> str:
    """`text` with any lone surrogate escaped (`\\ud800`), so it can be shown in an error and encoded."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def join_path(path: str, part: str | int) -> str:
    """`path` extended by a key or an index the way OpenAI names a `param`: `tools[0].function.name`."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    part = printable(part)
    return f"{path}.{part}" if path else part


def _has_lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bad_unicode(at: str) -> PydanticCustomError:
    return PydanticCustomError(
        "invalid_unicode",
        "the string contains a lone UTF-16 surrogate (such as \\ud800), which is not valid Unicode.",
        {"at": at},
    )


def _too_deep(at: str) -> PydanticCustomError:
    return PydanticCustomError(
        "json_too_deep",
        "the JSON is nested too deeply. Request bodies may be nested at most {limit} levels deep.",
        {"at": at, "limit": MAX_JSON_DEPTH},
    )


def _bad_number(at: str) -> PydanticCustomError:
    return PydanticCustomError(
        "invalid_number",
        "numbers must be finite and from -2^63 to 2^64-1.",
        {"at": at},
    )


def check_json(value: Any, *, path: str = "", depth: int = 1) -> None:
    """Raise a `PydanticCustomError` naming the first place where `value` (parsed JSON, `depth` levels down
    already) nests deeper than `MAX_JSON_DEPTH` or holds a lone surrogate. The error's `at` is that place's path,
    relative to where the error is raised."""
    if isinstance(value, str):
        if _has_lone_surrogate(value):
            raise _bad_unicode(path)
        return
    if isinstance(value, bool):
        return
    # Python's JSON reader takes integers of any size and NaN or Infinity; orjson, which writes every answer and
    # event, refuses the first, and the second is not JSON at all. One range for all numbers keeps the rule simple.
    if isinstance(value, int | float):
        if not (math.isfinite(value) and NUMBER_RANGE[0] <= value <= NUMBER_RANGE[1]):
            raise _bad_number(path)
        return
    if not isinstance(value, dict | list):
        return
    if depth > MAX_JSON_DEPTH:
        raise _too_deep(path)
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str) and _has_lone_surrogate(key):
            raise _bad_unicode(join_path(path, key))
        check_json(item, path=join_path(path, key), depth=depth + 1)
