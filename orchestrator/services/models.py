"""What `GET /v1/models` lists: ORCH_MODELS when set; otherwise what the upstream's /models lists (asked with a
short timeout and remembered for a minute, so a slow or absent upstream costs one wait per minute at most) plus
the models the project's assistants name."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
import structlog

from orchestrator.domain.models import JSON
from orchestrator.settings import Settings
from orchestrator.store import RedisStore

log = structlog.get_logger(__name__)

UPSTREAM_TIMEOUT_S = 2.0
CACHE_S = 60.0


@dataclass(frozen=True)
class Model:
    id: str
    created: int = 0
    owned_by: str = "orchestrator"

    def wire(self) -> JSON:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": self.owned_by}


class ModelCatalog:
    def __init__(self, settings: Settings, *, cache_s: float = CACHE_S, timeout_s: float = UPSTREAM_TIMEOUT_S) -> None:
        self.settings = settings
        self.cache_s = cache_s
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._upstream: list[Model] = []
        self._fetched_at = float("-inf")

    def models(self, store: RedisStore, project: str) -> list[Model]:
        configured = [m.strip() for m in self.settings.models.split(",") if m.strip()]
        if configured:
            return [Model(id=m) for m in dict.fromkeys(configured)]
        models = {m.id: m for m in self.upstream()}
        for name in self._assistant_models(store, project):
            models.setdefault(name, Model(id=name))
        return sorted(models.values(), key=lambda m: m.id)

    def upstream(self) -> list[Model]:
        with self._lock:
            if time.monotonic() - self._fetched_at < self.cache_s:
                return self._upstream
            self._upstream = self._fetch()
            self._fetched_at = time.monotonic()
            return self._upstream

    def _fetch(self) -> list[Model]:
        base = self.settings.model_base_url
        if not base:
            return []
        headers = {"authorization": f"Bearer {self.settings.model_api_key.get_secret_value()}"}
        try:
            reply = httpx.get(f"{base.rstrip('/')}/models", headers=headers, timeout=self.timeout_s)
            reply.raise_for_status()
            return [
                Model(str(m["id"]), int(m.get("created") or 0), str(m.get("owned_by") or "upstream"))
                for m in reply.json().get("data", [])
                if isinstance(m, dict) and m.get("id")
            ]
        except (httpx.HTTPError, ValueError, TypeError, AttributeError) as exc:
            log.warning("models.upstream_unavailable", error=repr(exc))
            return []

    @staticmethod
    def _assistant_models(store: RedisStore, project: str) -> set[str]:
        ids = store.all_ids(store.keys.assistants(project))
        return {a.model for a in store.get_assistants(project, ids)}
