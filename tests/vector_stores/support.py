"""Test doubles for the vector-store tests: storage in memory, a deterministic embedder, file helpers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from orchestrator.files.service import create_file
from orchestrator.files.storage import BlobNotFound
from orchestrator.mockmodel.embeddings import embed
from orchestrator.store import RedisStore
from orchestrator.vector_stores.embed import Vectors, normalised


class MemoryStorage:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self.blobs[key] = data

    def get(self, key: str) -> bytes:
        try:
            return self.blobs[key]
        except KeyError:
            raise BlobNotFound(key) from None

    def delete(self, key: str) -> None:
        self.blobs.pop(key, None)


class HashingEmbedder:
    """The mock model's embedding (hashed words) in process: texts sharing words are near."""

    def __init__(self, name: str = "test:hashing") -> None:
        self.name = name
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        return normalised(np.array([embed(t) for t in texts], dtype=np.float32))


def upload(store: RedisStore, storage: MemoryStorage, project: str, name: str, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return create_file(store, storage, project, filename=name, purpose="assistants", data=data).id
