"""The file_search tool call: what the executor sends with it, and what the pool's task records for it.

The executor reads the run's options once, when it parks the run (`search_request`); the task only searches
(`run_search`), so a redelivered task searches the same stores with the same options.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import redis
import structlog

from orchestrator.domain.models import JSON, Run
from orchestrator.store import RedisStore
from orchestrator.vector_stores.service import get_vector_stores
from workers.tools.resources import tool_resources

log = structlog.get_logger(__name__)

#: OpenAI's defaults for a file_search tool without options (gpt-4 class models).
DEFAULT_MAX_NUM_RESULTS = 20
DEFAULT_RANKING_OPTIONS: JSON = {"ranker": "auto", "score_threshold": 0.0}
#: The run's last_error when the search itself broke (the cause goes to the worker's log).
SEARCH_FAILED = "file_search failed: the vector stores could not be searched."
#: How long a search waits for files still being ingested into the stores it reads. OpenAI's runs waited for a
#: thread's store to be ready, so a question asked right after attaching a file is answered from it.
READY_WAIT_S = 60.0
READY_POLL_S = 0.2


class Hit(Protocol):
    def wire(self, include_content: bool) -> JSON: ...


class Searcher(Protocol):
    def __call__(
        self,
        store: RedisStore,
        project: str,
        vector_store_ids: list[str],
        query: str,
        *,
        max_num_results: int = ...,
        ranking_options: dict[str, Any] | None = ...,
    ) -> list[Any]: ...


def search_request(store: RedisStore, project: str, run: Run, query: str) -> dict[str, Any]:
    """The payload fields of a file_search call: the query, the stores it may read and the run's tool options."""
    tool = next((t for t in run.tools if t.get("type") == "file_search"), {})
    options = tool.get("file_search") or {}
    return {
        "query": query,
        "vector_store_ids": vector_store_ids(store, project, run),
        "max_num_results": options.get("max_num_results") or DEFAULT_MAX_NUM_RESULTS,
        "ranking_options": {**DEFAULT_RANKING_OPTIONS, **(options.get("ranking_options") or {})},
    }


def vector_store_ids(store: RedisStore, project: str, run: Run) -> list[str]:
    """The run's own tool_resources, then the assistant's, then the thread's (its attachment store included).

    Read when the model searches rather than when the run was created, so files attached to the thread's own
    store since then are searched too, as OpenAI did.
    """
    found = tool_resources(store, project, run, "file_search")
    return list(dict.fromkeys(store_id for resources in found for store_id in resources.get("vector_store_ids") or []))


def run_search(
    store: RedisStore, payload: dict[str, Any], search: Searcher, *, ready_wait_s: float = READY_WAIT_S
) -> JSON:
    """The call's result as the step records it: every hit with its content (the API hides it unless asked)."""
    ranking_options = payload.get("ranking_options") or DEFAULT_RANKING_OPTIONS
    ids = list(payload.get("vector_store_ids") or [])
    hits: list[Hit] = []
    try:
        if ids:
            wait_for_ingestion(store, payload["project"], ids, timeout_s=ready_wait_s)
            hits = search(
                store,
                payload["project"],
                ids,
                payload.get("query", payload.get("argument", "")),
                max_num_results=int(payload.get("max_num_results") or DEFAULT_MAX_NUM_RESULTS),
                ranking_options=ranking_options,
            )
    except (redis.ConnectionError, redis.TimeoutError):
        raise  # the task is retried while Redis is away
    except Exception:
        # Anything else would leave the run parked on a call that never reports: fail it, saying so.
        log.exception("file_search.failed")
        return {"error": SEARCH_FAILED}
    # `outputs` stays empty: results.py streams outputs as code_interpreter deltas, which file_search has none of.
    return {"outputs": [], "ranking_options": ranking_options, "results": [hit.wire(True) for hit in hits]}


def wait_for_ingestion(
    store: RedisStore,
    project: str,
    vector_store_ids: list[str],
    *,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Wait (bounded) until no file of the stores is still being ingested; True when none is."""
    deadline = clock() + timeout_s
    while True:
        if all(vs.file_counts.in_progress == 0 for vs in get_vector_stores(store, project, vector_store_ids)):
            return True
        if clock() >= deadline:
            log.warning("file_search.stores_not_ready", vector_store_ids=vector_store_ids, waited_s=timeout_s)
            return False
        sleep(READY_POLL_S)
