"""OpenAI's list envelope over one page of an id index."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.api.deps import Paging
from orchestrator.domain.models import Frozen
from orchestrator.store import RedisStore


def list_page(
    store: RedisStore, index_key: str, paging: Paging, load: Callable[[Sequence[str]], Sequence[Frozen]]
) -> dict[str, Any]:
    page = store.page(index_key, limit=paging.limit, order=paging.order, after=paging.after, before=paging.before)
    data = [item.wire() for item in load(page.ids)]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": page.has_more,
    }
