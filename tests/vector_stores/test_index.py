"""Vector stores on fakeredis and on a real server: counts that are right at every moment, ingestion into the
shared index, hybrid search, and removal that leaves nothing behind."""

from __future__ import annotations

import threading

import pytest

from orchestrator.errors import InvalidRequest
from orchestrator.store import RedisStore
from orchestrator.store.vector_stores import Finish, VectorStoreStore
from orchestrator.vector_stores import retrieval
from orchestrator.vector_stores import service as vs
from orchestrator.vector_stores.requests import VectorStoreCreate
from tests.support import RecordingDispatcher
from tests.vector_stores.pdf import text_pdf
from tests.vector_stores.support import HashingEmbedder, MemoryStorage, upload
from workers.tools.file_search.ingest import ingest

P = "proj"
ZEBRA = "Zebras in the Serengeti migrate north in July. The migration code word is BLUEFIN."
PASTA = "Carbonara is made with guanciale, eggs, pecorino and black pepper; never cream."
CLOUDS = "Cumulonimbus clouds bring thunderstorms, heavy rain and sometimes hail."


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


def _store_with(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher, docs: dict[str, str | bytes]
) -> tuple[str, dict[str, str]]:
    ids = {name: upload(store, storage, P, name, text) for name, text in docs.items()}
    created = vs.create_vector_store(store, dispatcher, P, VectorStoreCreate(name="kb", file_ids=list(ids.values())))
    return created.id, ids


def _ingest_all(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher, embedder: HashingEmbedder | None = None
) -> list[str]:
    outcomes = [ingest(store, storage, p, v, f, embedder) for p, v, f in dispatcher.ingests]
    dispatcher.ingests.clear()
    return outcomes


def test_counts_follow_each_file_and_a_bad_file_fails_alone(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    docs: dict[str, str | bytes] = {"zebra.md": ZEBRA, "pasta.pdf": text_pdf(PASTA), "image.png": b"\x89PNG\x00"}
    vs_id, ids = _store_with(store, storage, dispatcher, docs)
    before = vs.get_vector_store(store, P, vs_id)
    assert before.status == "in_progress"
    assert before.file_counts.model_dump() == {
        "in_progress": 3,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
        "total": 3,
    }
    assert sorted(_ingest_all(store, storage, dispatcher)) == ["completed", "completed", "failed"]
    after = vs.get_vector_store(store, P, vs_id)
    assert after.status == "completed"
    assert (after.file_counts.completed, after.file_counts.failed, after.file_counts.total) == (2, 1, 3)
    assert after.usage_bytes > 0
    bad = vs.get_file(store, P, vs_id, ids["image.png"])
    assert bad.status == "failed" and bad.last_error is not None and bad.last_error.code == "unsupported_file"
    good = vs.get_file(store, P, vs_id, ids["pasta.pdf"])
    assert good.status == "completed" and good.usage_bytes > 0
    assert good.chunking_strategy["static"] == {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}


def test_a_redelivered_ingest_does_nothing(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    vs_id, _ids = _store_with(store, storage, dispatcher, {"zebra.md": ZEBRA})
    (entry,) = dispatcher.ingests
    assert _ingest_all(store, storage, dispatcher) == ["completed"]
    assert ingest(store, storage, *entry, None) == "skipped"
    assert vs.get_vector_store(store, P, vs_id).file_counts.completed == 1
    assert VectorStoreStore(store).stats(P, vs_id)["chunks"] == "1"


def test_search_finds_the_right_file_first(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    vs_id, ids = _store_with(store, storage, dispatcher, {"zebra.md": ZEBRA, "pasta.txt": PASTA, "clouds.txt": CLOUDS})
    _ingest_all(store, storage, dispatcher)
    results = retrieval.search(store, P, [vs_id], "When do zebras migrate?")
    assert results[0].file_id == ids["zebra.md"] and results[0].filename == "zebra.md"
    assert "BLUEFIN" in results[0].text
    assert results[0].score == pytest.approx(1.0)
    assert all(0 < r.score <= 1 for r in results)
    assert results[0].wire(include_content=False) == {"file_id": ids["zebra.md"], "file_name": "zebra.md", "score": 1.0}
    assert results[0].wire(include_content=True)["content"] == [{"type": "text", "text": ZEBRA}]
    assert retrieval.search(store, P, [vs_id], "nothing matches xyzzy") == []


def test_max_num_results_and_score_threshold_are_honoured(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    docs = {f"doc{i}.txt": f"apple orchard number {i} " + "filler " * (i * 5) for i in range(6)}
    vs_id, _ = _store_with(store, storage, dispatcher, dict(docs))
    _ingest_all(store, storage, dispatcher)
    assert len(retrieval.search(store, P, [vs_id], "apple orchard")) == 6
    assert len(retrieval.search(store, P, [vs_id], "apple orchard", max_num_results=2)) == 2
    strict = retrieval.search(store, P, [vs_id], "apple orchard", ranking_options={"score_threshold": 0.8})
    assert 1 <= len(strict) < 6 and all(r.score >= 0.8 for r in strict)


def test_vectors_are_stored_and_fused_with_bm25(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    embedder = HashingEmbedder()
    vs_id, ids = _store_with(store, storage, dispatcher, {"zebra.md": ZEBRA, "pasta.txt": PASTA})
    _ingest_all(store, storage, dispatcher, embedder)
    assert len(VectorStoreStore(store).embeddings(P, vs_id)) == 2
    # "with" is a stop word to BM25 but a shared word to the embedder: only the vector ranker finds the pasta.
    hybrid = retrieval.search(store, P, [vs_id], "zebra migration with", embedder=embedder)
    lexical = retrieval.search(store, P, [vs_id], "zebra migration with")
    assert hybrid[0].file_id == lexical[0].file_id == ids["zebra.md"]
    # The vector ranker also scores the chunk BM25 missed, and lowers the fused score below BM25's 1.0.
    assert {r.file_id for r in hybrid} == set(ids.values())
    assert hybrid[0].score < lexical[0].score
    # Another model's query vector is never compared with these: the search falls back to BM25.
    other = retrieval.search(store, P, [vs_id], "zebra migration with", embedder=HashingEmbedder("test:other"))
    assert [(r.file_id, r.score) for r in other] == [(r.file_id, r.score) for r in lexical]


def test_removing_a_file_takes_its_chunks_and_postings(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    vs_id, ids = _store_with(store, storage, dispatcher, {"zebra.md": ZEBRA, "pasta.txt": PASTA})
    _ingest_all(store, storage, dispatcher, HashingEmbedder())
    repo = VectorStoreStore(store)
    vs.remove_file(store, P, vs_id, ids["zebra.md"])
    assert store.client.exists(store.keys.vs_term(P, vs_id, "bluefin")) == 0
    assert store.client.exists(store.keys.vs_term(P, vs_id, "carbonara")) == 1
    assert retrieval.search(store, P, [vs_id], "zebra bluefin") == []
    assert repo.stats(P, vs_id)["chunks"] == "1"
    assert len(repo.embeddings(P, vs_id)) == 1
    counts = vs.get_vector_store(store, P, vs_id).file_counts
    assert (counts.completed, counts.total) == (1, 1)
    vs.forget_file(store, P, ids["pasta.txt"])  # the file was deleted
    assert vs.get_vector_store(store, P, vs_id).file_counts.total == 0
    assert list(store.client.scan_iter(match=store.keys.vs_term_prefix(P, vs_id) + "*")) == []


def test_deleting_a_store_leaves_no_key(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    vs_id, ids = _store_with(store, storage, dispatcher, {"zebra.md": ZEBRA, "pasta.txt": PASTA})
    vs.create_batch(store, dispatcher, P, vs_id, [(ids["zebra.md"], None, None)])
    _ingest_all(store, storage, dispatcher)
    vs.delete_vector_store(store, P, vs_id)
    assert list(store.client.scan_iter(match=f"*{{{vs_id}}}*")) == []
    assert vs_id not in store.all_ids(store.keys.vector_stores(P))


def test_batches_count_their_files_and_cancel_what_is_left(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    created = vs.create_vector_store(store, dispatcher, P, VectorStoreCreate(name="empty"))
    ids = [upload(store, storage, P, f"f{i}.txt", f"text number {i}") for i in range(3)]
    batch = vs.create_batch(store, dispatcher, P, created.id, [(i, None, None) for i in ids])
    assert (batch.status, batch.file_counts.in_progress, batch.file_counts.total) == ("in_progress", 3, 3)
    first = dispatcher.ingests.pop(0)
    assert ingest(store, storage, *first, None) == "completed"
    cancelled = vs.cancel_batch(store, P, created.id, batch.id)
    assert cancelled.status == "cancelled"
    assert (cancelled.file_counts.completed, cancelled.file_counts.cancelled) == (1, 2)
    assert [ingest(store, storage, *entry, None) for entry in dispatcher.ingests] == ["skipped", "skipped"]
    store_counts = vs.get_vector_store(store, P, created.id).file_counts
    assert (store_counts.in_progress, store_counts.completed, store_counts.cancelled) == (0, 1, 2)
    listed = vs.batch_files(store, P, created.id, batch.id, "cancelled")
    assert sorted(f.id for f in listed) == sorted(ids[1:])


def test_counts_stay_exact_under_concurrent_finishes_and_removals(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    created = vs.create_vector_store(store, dispatcher, P, VectorStoreCreate())
    ids = [upload(store, storage, P, f"f{i}.txt", "x") for i in range(40)]
    vs.add_files(store, dispatcher, P, created.id, ids)
    repo = VectorStoreStore(store)
    outcomes = ["completed", "failed", "cancelled"]

    def work(worker: int) -> None:
        for n, file_id in enumerate(ids):
            # Every file is finished by two workers at once (a redelivery), some are removed meanwhile.
            if n % 4 == worker or n % 4 == (worker + 1) % 4:
                repo.finish_file(P, created.id, file_id, Finish(status=outcomes[n % 3], usage_bytes=10))
            if n % 10 == worker and worker < 2:
                repo.remove_file(P, created.id, file_id)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = vs.get_vector_store(store, P, created.id).file_counts
    actual = {s: len(store.all_ids(store.keys.vs_files(P, created.id, s))) for s in [*outcomes, "in_progress"]}
    assert counts.completed == actual["completed"]
    assert counts.failed == actual["failed"]
    assert counts.cancelled == actual["cancelled"]
    assert counts.in_progress == actual["in_progress"] == 0
    assert counts.total == len(store.all_ids(store.keys.vs_files(P, created.id))) == 40 - 8
    raw = repo.get(P, created.id)
    assert raw is not None and int(raw["usage_bytes"]) == 10 * counts.total


def test_unknown_files_and_stores_are_refused_with_their_param(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        vs.create_vector_store(store, dispatcher, P, VectorStoreCreate(file_ids=["file-nope"]))
    assert caught.value.param == "file_ids"
    with pytest.raises(InvalidRequest) as unknown_store:
        vs.require_vector_stores(store, P, ["vs_nope"], "tool_resources.file_search.vector_store_ids")
    assert unknown_store.value.param == "tool_resources.file_search.vector_store_ids"
    other_project_file = upload(store, storage, "other", "a.txt", "a")
    with pytest.raises(InvalidRequest):
        vs.create_vector_store(store, dispatcher, P, VectorStoreCreate(file_ids=[other_project_file]))
    assert dispatcher.ingests == []


def test_cached_vectors_follow_the_index(
    store: RedisStore, storage: MemoryStorage, dispatcher: RecordingDispatcher
) -> None:
    embedder = HashingEmbedder()
    vs_id, _ = _store_with(store, storage, dispatcher, {"zebra.md": ZEBRA})
    _ingest_all(store, storage, dispatcher, embedder)
    # Stop words only: BM25 has no term to look up, so whatever is found comes from the (cached) vectors.
    assert [r.filename for r in retrieval.search(store, P, [vs_id], "with and", embedder=embedder)] == []
    pasta = upload(store, storage, P, "pasta.txt", PASTA)
    vs.add_files(store, dispatcher, P, vs_id, [pasta])
    _ingest_all(store, storage, dispatcher, embedder)
    found = retrieval.search(store, P, [vs_id], "with and", embedder=embedder)
    assert [r.filename for r in found] == ["pasta.txt"]
