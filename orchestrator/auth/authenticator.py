"""Bearer key -> principal (key id, project), for every request: the bootstrap keys of `ORCH_API_KEYS`, then the
key store in Redis, with a short cache so a request costs no Redis round trip while a revocation still takes
effect within `CACHE_TTL_S`."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from orchestrator.auth.apikeys import ApiKeyRecord, digest
from orchestrator.store import Keys

#: How long a lookup (found or not) is reused: the delay before a revoked key stops working.
CACHE_TTL_S = 1.0
#: Lookups kept at most; random keys sent by a scanner must not grow the cache without bound.
CACHE_MAX = 10_000


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the key (for its rate limit) and the project it may touch."""

    key_id: str
    project: str


class Authenticator:
    def __init__(
        self, bootstrap: dict[str, str], client: aioredis.Redis, keys: Keys, *, cache_ttl_s: float = CACHE_TTL_S
    ) -> None:
        # Only digests are kept, even of the bootstrap keys, so both kinds are compared the same way.
        self._bootstrap = [(digest(key), project) for key, project in bootstrap.items()]
        self._client = client
        self._keys = keys
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._cache_ttl_s = cache_ttl_s

    async def resolve(self, key: str) -> Principal | None:
        """The principal of `key`, or None if it is not a valid key."""
        key_digest = digest(key)
        found = self._from_bootstrap(key_digest)
        if found is not None:
            return found
        now = time.monotonic()
        cached = self._cache.get(key_digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await self._from_store(key_digest)
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[key_digest] = (now + self._cache_ttl_s, principal)
        return principal

    def _from_bootstrap(self, key_digest: str) -> Principal | None:
        # Every entry is compared, in constant time, so the time taken does not tell which one (if any) matched.
        found = None
        for candidate, project in self._bootstrap:
            if hmac.compare_digest(candidate, key_digest):
                found = Principal(key_id=f"env-{candidate[:12]}", project=project)
        return found

    async def _from_store(self, key_digest: str) -> Principal | None:
        # The hash lookup by digest can only leak timing about the digest, which says nothing about the key;
        # the stored digest is still compared in constant time before it is trusted.
        raw = await self._client.hget(self._keys.api_keys(), key_digest)
        if raw is None:
            return None
        record = ApiKeyRecord.from_json(raw)
        if not hmac.compare_digest(record.digest, key_digest):
            return None
        return Principal(key_id=record.id, project=record.project)
