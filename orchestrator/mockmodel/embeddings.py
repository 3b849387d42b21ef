"""The mock's `/v1/embeddings`: deterministic vectors, so the upstream-embedding path is tested without a model.

Each word (lower-cased, plural `s` folded as the index does) adds 1 to a dimension picked by a stable hash of
it, and the vector is L2-normalised: texts sharing words point the same way, which is all a test can rely on.
It is a hashing trick, not a language model.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

DIMENSIONS = 256
_WORD = re.compile(r"\w+")


def embed(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vector[int.from_bytes(digest, "big") % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def response(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """OpenAI's embeddings response for a request body, or an error body and status."""
    given = body.get("input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        error = {
            "message": "'input' must be a string or a non-empty array of strings.",
            "type": "invalid_request_error",
        }
        return {"error": {**error, "param": "input", "code": None}}, 400
    data = [{"object": "embedding", "index": i, "embedding": embed(t)} for i, t in enumerate(texts)]
    tokens = sum(len(_WORD.findall(t)) for t in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return {"object": "list", "data": data, "model": str(body.get("model") or "mock-embed"), "usage": usage}, 200
