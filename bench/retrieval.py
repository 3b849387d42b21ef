"""Retrieval: ingestion throughput (chunks/s) and search latency (p50/p99) on a generated corpus, through a real
`orchestrator up` (its file_search pool ingests; the API searches), and top-1 accuracy of the searches.

Each document is a few hundred words of filler from a shared vocabulary around one unique fact ("the code word
of dossier 17 is <word>"); each query asks for one dossier's code word, so the right answer is known.

    .venv/bin/python -m bench.retrieval --docs 300 --queries 200 [--embeddings none|mock|local]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

from bench.common import HEADERS, percentiles
from bench.stack import PROJECT_A, Stack, running_stack
from orchestrator.store import Keys

VOCABULARY = [
    "river",
    "mountain",
    "harbour",
    "lantern",
    "copper",
    "garden",
    "market",
    "winter",
    "summer",
    "bridge",
    "castle",
    "forest",
    "meadow",
    "village",
    "engine",
    "signal",
    "ledger",
    "archive",
    "window",
    "shadow",
    "silver",
    "orchard",
    "valley",
    "tower",
    "canal",
    "island",
    "desert",
    "glacier",
]
UPLOAD_HEADERS = {"Authorization": HEADERS["Authorization"]}


def document(i: int, rng: random.Random, words: int) -> tuple[str, str]:
    filler = [rng.choice(VOCABULARY) for _ in range(words)]
    code = f"zq{rng.randrange(16**6):06x}"
    at = rng.randrange(words)
    filler[at:at] = f"The code word of dossier {i} is {code} .".split()
    return code, " ".join(filler)


@contextmanager
def bench_stack(embeddings: str) -> Iterator[Stack]:
    model = {"none": "none", "mock": "mock-embed", "local": "local"}[embeddings]
    env = {"ORCH_LOG_LEVEL": "WARNING", "ORCH_EMBEDDINGS_MODEL": model}
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), env=env) as running:
        yield running


def ingest(http: httpx.Client, base: str, texts: list[str]) -> tuple[str, float]:
    """Upload every document, then time one batch from creation to its last file finished."""
    ids = []
    for i, text in enumerate(texts):
        reply = http.post(
            f"{base}/files", headers=UPLOAD_HEADERS, files={"file": (f"dossier{i}.txt", text.encode())},
            data={"purpose": "assistants"},
        )  # fmt: skip
        reply.raise_for_status()
        ids.append(reply.json()["id"])
    store_id = http.post(f"{base}/vector_stores", headers=HEADERS, json={"name": "bench"}).json()["id"]
    started = time.perf_counter()
    batch = http.post(f"{base}/vector_stores/{store_id}/file_batches", headers=HEADERS, json={"file_ids": ids})
    batch.raise_for_status()
    path = f"{base}/vector_stores/{store_id}/file_batches/{batch.json()['id']}"
    while http.get(path, headers=HEADERS).json()["file_counts"]["in_progress"]:
        time.sleep(0.05)
    return store_id, time.perf_counter() - started


def search(http: httpx.Client, base: str, store_id: str, codes: list[str], queries: int) -> tuple[list[float], float]:
    rng = random.Random(7)
    latencies, hits = [], 0
    for _ in range(queries):
        i = rng.randrange(len(codes))
        started = time.perf_counter()
        reply = http.post(
            f"{base}/vector_stores/{store_id}/search",
            headers=HEADERS,
            json={"query": f"What is the code word of dossier {i}?", "max_num_results": 10},
        )
        latencies.append(time.perf_counter() - started)
        reply.raise_for_status()
        data = reply.json()["data"]
        hits += bool(data) and codes[i] in data[0]["content"][0]["text"]
    return latencies, hits / queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--words", type=int, default=1200, help="words per document (about 2,400 tokens)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--embeddings",
        choices=("none", "mock", "local"),
        default="none",
        help="BM25 alone, the mock's /v1/embeddings (the upstream path), or the local MiniLM",
    )
    args = parser.parse_args()
    rng = random.Random(42)
    corpus = [document(i, rng, args.words) for i in range(args.docs)]
    codes, texts = [c for c, _ in corpus], [t for _, t in corpus]
    with bench_stack(args.embeddings) as running, httpx.Client(timeout=120) as http:
        store_id, seconds = ingest(http, running.base_url, texts)
        client = redis.Redis.from_url(running.redis_url, decode_responses=True)
        chunks = int(client.hget(Keys(running.key_prefix).vs_stats(PROJECT_A, store_id), "chunks") or 0)
        client.close()
        latencies, accuracy = search(http, running.base_url, store_id, codes, args.queries)
    print(
        json.dumps(
            {
                "docs": args.docs,
                "chunks": chunks,
                "embeddings": args.embeddings,
                "ingest_s": round(seconds, 2),
                "chunks_per_s": round(chunks / seconds, 1),
                "search_latency_s": percentiles(latencies),
                "top1_accuracy": round(accuracy, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
