"""Vector stores end to end: the official SDK's upload-and-poll helpers against `orchestrator up`, whose
file_search pool ingests the files and embeds them through the upstream's /embeddings (the mock model's,
ORCH_EMBEDDINGS_MODEL), and whose search ranks the right file first."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
import redis
from openai.types import StaticFileChunkingStrategyObject

from orchestrator.store import Keys
from tests.e2e.helpers import POLL_MS
from tests.stack import KEY_A, KEY_B, PROJECT_A, Stack, running_stack
from tests.vector_stores.pdf import text_pdf

pytestmark = pytest.mark.e2e

GUIDES = {
    "volcano.md": "# Volcanoes\nMount Kerrigan erupted in 1883; its ash cloud reached the city of Ostvale.",
    "bread.txt": "Sourdough bread needs a starter, flour, water and salt, and rises overnight in a cool place.",
    "tides.html": "<html><body><h1>Tides</h1><p>Spring tides happen at full and new moon.</p></body></html>",
}


@pytest.fixture(scope="module")
def embedding_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose workers embed chunks with the mock model's deterministic /v1/embeddings."""
    env = {"ORCH_EMBEDDINGS_MODEL": "mock-embed"}
    with running_stack(tmp_path_factory.mktemp("vs-stack"), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def sdk(embedding_stack: Stack) -> Iterator[openai.OpenAI]:
    with embedding_stack.client(KEY_A) as client:
        yield client


def test_upload_and_poll_ingest_and_search_finds_the_right_file(sdk: openai.OpenAI, embedding_stack: Stack) -> None:
    store = sdk.vector_stores.create(name="guides", metadata={"team": "docs"})
    assert store.status == "completed" and store.file_counts.total == 0
    for name, text in GUIDES.items():
        done = sdk.vector_stores.files.upload_and_poll(
            vector_store_id=store.id, file=(name, text.encode()), poll_interval_ms=POLL_MS
        )
        assert done.status == "completed", done.last_error
    report = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("report.pdf", text_pdf("Quarterly revenue grew by 12 percent.")),
        poll_interval_ms=POLL_MS,
    )  # fmt: skip
    assert report.status == "completed" and report.usage_bytes > 0

    fetched = sdk.vector_stores.retrieve(store.id)
    assert fetched.status == "completed" and fetched.file_counts.completed == 4 and fetched.usage_bytes > 0

    page = sdk.vector_stores.search(store.id, query="When did Mount Kerrigan erupt?", max_num_results=3)
    results = list(page)
    assert results[0].filename == "volcano.md"
    assert "1883" in results[0].content[0].text
    assert 0 < results[0].score <= 1 and len(results) <= 3
    assert next(iter(sdk.vector_stores.search(store.id, query="revenue growth"))).filename == "report.pdf"

    # The chunks were embedded through the upstream's /embeddings, into the index every process reads.
    r = redis.Redis.from_url(embedding_stack.redis_url, decode_responses=True)
    keys = Keys(embedding_stack.key_prefix)
    assert r.hget(keys.vs_stats(PROJECT_A, store.id), "model") == "upstream:mock-embed"
    assert r.hlen(keys.vs_embeddings(PROJECT_A, store.id)) == 4
    r.close()


def test_a_batch_with_a_broken_file_finishes_and_the_others_go_on(sdk: openai.OpenAI) -> None:
    store = sdk.vector_stores.create(name="batch")
    files = [(f"note{i}.txt", f"Note number {i} about gardening and roses.".encode()) for i in range(5)]
    files.append(("broken.json", b'{"not": "closed"'))
    batch = sdk.vector_stores.file_batches.upload_and_poll(
        vector_store_id=store.id, files=files, poll_interval_ms=POLL_MS
    )
    assert batch.object == "vector_store.files_batch"
    assert batch.status == "completed"
    assert (batch.file_counts.completed, batch.file_counts.failed, batch.file_counts.in_progress) == (5, 1, 0)
    (failed,) = sdk.vector_stores.files.list(store.id, filter="failed").data
    assert failed.last_error is not None and failed.last_error.code == "invalid_file"
    listed = sdk.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id, filter="completed")
    assert len(list(listed)) == 5
    counts = sdk.vector_stores.retrieve(store.id).file_counts
    assert (counts.completed, counts.failed, counts.total) == (5, 1, 6)


def test_create_with_file_ids_then_delete(sdk: openai.OpenAI) -> None:
    file_id = sdk.files.create(file=("a.txt", b"alpha beta gamma"), purpose="assistants").id
    store = sdk.vector_stores.create(
        name="x", file_ids=[file_id], chunking_strategy={"type": "static", "static": {
            "max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50}},
    )  # fmt: skip
    vs_file = sdk.vector_stores.files.poll(file_id, vector_store_id=store.id, poll_interval_ms=POLL_MS)
    assert vs_file.status == "completed"
    strategy = vs_file.chunking_strategy
    assert isinstance(strategy, StaticFileChunkingStrategyObject)
    assert (strategy.static.max_chunk_size_tokens, strategy.static.chunk_overlap_tokens) == (200, 50)
    sdk.files.delete(file_id)  # a deleted file leaves the stores that held it
    assert sdk.vector_stores.retrieve(store.id).file_counts.total == 0
    assert sdk.vector_stores.delete(store.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.retrieve(store.id)


def test_another_project_cannot_see_the_store(sdk: openai.OpenAI, embedding_stack: Stack) -> None:
    store = sdk.vector_stores.create(name="private")
    with embedding_stack.client(KEY_B) as other:
        with pytest.raises(openai.NotFoundError):
            other.vector_stores.retrieve(store.id)
        with pytest.raises(openai.BadRequestError) as caught:
            other.beta.assistants.create(
                model="gpt-4o",
                tools=[{"type": "file_search"}],
                tool_resources={"file_search": {"vector_store_ids": [store.id]}},
            )
        assert "No vector store found" in str(caught.value)
