"""Persistence in Redis: key schema, Lua scripts, the store."""

from orchestrator.store.commit import Commit, CommitResult
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import Page, RedisStore, RunRecord, StoredEvent

__all__ = ["Commit", "CommitResult", "Keys", "Page", "RedisStore", "RunRecord", "StoredEvent"]
