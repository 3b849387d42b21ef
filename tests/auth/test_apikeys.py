"""The key store and the authenticator on fakeredis: keys stored only as digests, listed without the key,
revoked by id, bootstrap keys from ORCH_API_KEYS, a cache that a revocation outlives by at most its TTL."""

from __future__ import annotations

import asyncio

import fakeredis
import pydantic
import pytest

from orchestrator.auth.apikeys import ApiKeyStore, digest
from orchestrator.auth.authenticator import Authenticator, Principal
from orchestrator.settings import Settings
from orchestrator.store import Keys

KEYS = Keys("orchtest-keys")


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def key_store(server: fakeredis.FakeServer) -> ApiKeyStore:
    return ApiKeyStore(fakeredis.FakeRedis(server=server, decode_responses=True), KEYS)


def authenticator(
    server: fakeredis.FakeServer, bootstrap: dict[str, str] | None = None, ttl: float = 0.0
) -> Authenticator:
    client = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    return Authenticator(bootstrap or {}, client, KEYS, cache_ttl_s=ttl)


def test_a_created_key_is_stored_only_as_its_digest(key_store: ApiKeyStore) -> None:
    record, key = key_store.create("proj_a")
    assert key.startswith("sk-orch-") and len(key) > 40
    assert record.digest == digest(key) and record.project == "proj_a"
    assert record.hint == key[:12] + "…"
    client = key_store.client
    stored = {k: client.hgetall(k) for k in client.keys("*")}
    assert key not in repr(stored)
    assert key_store.find(digest(key)) == record


def test_list_shows_every_key_of_a_project_and_revoke_removes_one(key_store: ApiKeyStore) -> None:
    first, _ = key_store.create("proj_a")
    second, _ = key_store.create("proj_a")
    other, _ = key_store.create("proj_b")
    assert {r.id for r in key_store.list("proj_a")} == {first.id, second.id}
    assert {r.id for r in key_store.list()} == {first.id, second.id, other.id}
    assert key_store.revoke(first.id) == first
    assert key_store.revoke(first.id) is None
    assert [r.id for r in key_store.list("proj_a")] == [second.id]
    assert key_store.find(first.digest) is None


def test_stored_and_bootstrap_keys_resolve_to_their_projects(
    key_store: ApiKeyStore, server: fakeredis.FakeServer
) -> None:
    record, key = key_store.create("proj_a")
    auth = authenticator(server, {"sk-boot": "proj_boot"})
    assert asyncio.run(auth.resolve(key)) == Principal(key_id=record.id, project="proj_a")
    boot = asyncio.run(auth.resolve("sk-boot"))
    assert boot is not None and boot.project == "proj_boot" and "sk-boot" not in boot.key_id
    assert asyncio.run(auth.resolve("sk-orch-unknown")) is None
    assert asyncio.run(auth.resolve(key + "x")) is None


def test_a_revoked_key_is_refused_once_its_cache_entry_lapses(
    key_store: ApiKeyStore, server: fakeredis.FakeServer
) -> None:
    record, key = key_store.create("proj_a")

    async def scenario() -> tuple[Principal | None, Principal | None, Principal | None]:
        cached = authenticator(server, ttl=3600)
        uncached = authenticator(server, ttl=0)
        await cached.resolve(key)
        key_store.revoke(record.id)
        return await cached.resolve(key), await uncached.resolve(key), await authenticator(server).resolve(key)

    still_cached, after_ttl, fresh = asyncio.run(scenario())
    assert still_cached is not None  # the cache is what bounds how long a revoked key lives (1 s by default)
    assert after_ttl is None and fresh is None


def test_a_malformed_orch_api_keys_never_echoes_a_key() -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        Settings(api_keys="sk-good-secret=proj,sk-lonely-secret-without-project")
    text = str(raised.value)
    assert "entry 2 of 2" in text
    assert "sk-good-secret" not in text and "sk-lonely-secret" not in text
