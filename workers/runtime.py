"""What one worker process shares between its tasks: settings, the Redis store, the dispatcher, the model."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis
from celery import Celery

from orchestrator.files.images import ImageReader
from orchestrator.files.storage import Storage, storage_from_settings
from orchestrator.services.dispatch import CeleryDispatcher
from orchestrator.settings import Settings
from orchestrator.store import Keys, RedisStore, clients
from workers.executor.cancel import CancelWatcher
from workers.executor.lease import LeaseKeeper
from workers.executor.llm import OpenAIChatModel
from workers.executor.loop import RunExecutor


@dataclass
class Runtime:
    settings: Settings
    app: Celery

    @cached_property
    def redis(self) -> redis.Redis:
        return clients.for_settings(self.settings, health_check_interval=30)

    @cached_property
    def store(self) -> RedisStore:
        s = self.settings
        return RedisStore(
            self.redis,
            Keys(s.key_prefix),
            event_log_maxlen=s.event_log_maxlen,
            event_log_ttl_s=s.event_log_ttl_s,
            resend_after_s=s.task_resend_after_s,
        )

    @cached_property
    def storage(self) -> Storage:
        """Where uploaded files' bytes live; the same place the API writes them."""
        return storage_from_settings(self.settings)

    @cached_property
    def dispatcher(self) -> CeleryDispatcher:
        return CeleryDispatcher(self.app)

    @cached_property
    def executor(self) -> RunExecutor:
        s = self.settings
        if not s.model_base_url:
            raise RuntimeError("ORCH_MODEL_BASE_URL is not set: the run workers have no model to call")
        model = OpenAIChatModel(
            s.model_base_url,
            s.model_api_key.get_secret_value(),
            timeout_s=s.model_timeout_s,
            max_retries=s.model_max_retries,
        )
        watcher = CancelWatcher(self.redis, self.store.keys.control_channel())
        leases = LeaseKeeper(self.store, s.run_lease_s)
        images = ImageReader(self.store, self.storage)
        return RunExecutor(
            self.store,
            model,
            self.dispatcher,
            max_turns=s.max_turns,
            watcher=watcher,
            leases=leases,
            images=images,
            context_tokens=s.context_tokens,
        )
