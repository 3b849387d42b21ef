"""Embedders: the upstream's `/embeddings`, a local model, or none (BM25 alone).

`ORCH_EMBEDDINGS_MODEL` unset: the local all-MiniLM-L6-v2 (minilm.py) when its weights and tokenizer are
installed, else BM25 alone; `local`: that model; `none`: BM25 alone; any other value names the upstream model
(sent to `ORCH_EMBEDDINGS_BASE_URL`, by default the chat model's base URL, with the model's API key). Vectors are
L2-normalised float32, so cosine is a dot product, and each index records the embedder's `name`: vectors of two
models are never compared.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
import openai

from orchestrator.settings import Settings

Vectors = npt.NDArray[np.float32]
#: Texts per upstream request: OpenAI accepts 2,048 inputs, smaller requests fail and retry cheaper.
BATCH = 64


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> Vectors: ...


class UpstreamEmbedder:
    """An OpenAI-compatible `/embeddings` endpoint."""

    def __init__(self, base_url: str, api_key: str, model: str, *, timeout_s: float = 60.0, retries: int = 2) -> None:
        self.name = f"upstream:{model}"
        self.model = model
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=retries)

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            reply = self._client.embeddings.create(model=self.model, input=list(texts[start : start + BATCH]))
            rows += [item.embedding for item in sorted(reply.data, key=lambda d: d.index)]
        return normalised(np.asarray(rows, dtype=np.float32).reshape(len(texts), -1))


def normalised(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = (matrix / norms).astype(np.float32)
    return unit


def encode(vector: Vectors) -> str:
    """A vector as the index stores it (base64 float32: the store's clients decode replies as text)."""
    return base64.b64encode(np.ascontiguousarray(vector, dtype=np.float32).tobytes()).decode()


def decode_all(encoded: Sequence[str]) -> Vectors:
    if not encoded:
        return np.zeros((0, 0), dtype=np.float32)
    raw = b"".join(base64.b64decode(e) for e in encoded)
    matrix: Vectors = np.frombuffer(raw, dtype=np.float32).reshape(len(encoded), -1)
    return matrix


_cache: dict[tuple[str, str, str], Embedder] = {}
_lock = threading.Lock()


def embedder_from_settings(settings: Settings) -> Embedder | None:
    """The configured embedder (one per process and configuration), or None for BM25 alone."""
    model = settings.embeddings_model
    if model == "none":
        return None
    if not model or model == "local":
        return _local(required=model == "local")
    base_url = settings.embeddings_base_url or settings.model_base_url
    if not base_url:
        return None
    key = (base_url, model, settings.model_api_key.get_secret_value())
    with _lock:
        if key not in _cache:
            _cache[key] = UpstreamEmbedder(base_url, key[2], model, timeout_s=settings.model_timeout_s)
        return _cache[key]


def _local(*, required: bool) -> Embedder | None:
    from orchestrator.vector_stores import minilm  # numpy's forward pass; imported only when asked for

    if not required and not minilm.available():
        return None
    key = ("local", minilm.NAME, "")
    with _lock:
        if key not in _cache:
            _cache[key] = minilm.MiniLMEmbedder()
        return _cache[key]
