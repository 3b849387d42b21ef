"""The per-key rate limit: a token bucket in Redis (`store/scripts/rate_limit.lua`), shared by every API process."""

from __future__ import annotations

import redis.asyncio as aioredis

from orchestrator.store import Keys
from orchestrator.store.scripts import source


class TokenBucket:
    def __init__(self, client: aioredis.Redis, keys: Keys, *, rate: float, burst: int) -> None:
        self._keys = keys
        self.rate = rate
        self.burst = burst
        self._script = client.register_script(source("rate_limit"))

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    async def take(self, key_id: str, now_ms: int | None = None) -> float:
        """Take a token for `key_id`: 0.0 if there was one, else the seconds until there is."""
        if not self.enabled:
            return 0.0
        args = [self.rate, self.burst, "" if now_ms is None else now_ms]
        taken, wait_ms = await self._script(keys=[self._keys.rate_limit(key_id)], args=args)
        return 0.0 if int(taken) else int(wait_ms) / 1000
