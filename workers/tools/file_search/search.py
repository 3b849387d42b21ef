"""file_search retrieval for the tool task: the same search `POST /v1/vector_stores/{id}/search` runs."""

from __future__ import annotations

from orchestrator.vector_stores.retrieval import SearchResult, search

__all__ = ["SearchResult", "search"]
