"""file_search until retrieval lands: a clear failure, delivered through the real pool so nothing hangs."""

from __future__ import annotations

from orchestrator.domain.models import JSON

NOT_AVAILABLE = "file_search is not available on this server yet: no vector store backend is configured."


def search(query: str) -> JSON:
    return {"error": NOT_AVAILABLE, "query": query}
