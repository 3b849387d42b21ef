"""The API key store: keys live in Redis only as SHA-256 digests, are created, listed and revoked by id.

A key is a random token of 192 bits, so a plain SHA-256 digest is enough: a slow password hash (bcrypt,
scrypt) only helps against guessing low-entropy secrets, and would cost every request a few milliseconds.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import asdict, dataclass

import orjson
import redis

from orchestrator.store import Keys, slots

KEY_PREFIX = "sk-orch-"
_HINT_CHARS = 4  # characters of the secret part shown in listings, enough to tell keys apart


@dataclass(frozen=True)
class ApiKeyRecord:
    """What is stored about a key: everything but the key."""

    id: str
    project: str
    created_at: int
    hint: str
    digest: str

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> ApiKeyRecord:
        return cls(**orjson.loads(raw))


def digest(key: str) -> str:
    """The SHA-256 hex digest a key is stored and looked up under."""
    return hashlib.sha256(key.encode()).hexdigest()


def hint(key: str) -> str:
    """`sk-orch-ab12…`: the prefix and a few characters, for telling keys apart without revealing them."""
    head = key[: len(KEY_PREFIX) + _HINT_CHARS] if key.startswith(KEY_PREFIX) else key[:_HINT_CHARS]
    return f"{head}…"


class ApiKeyStore:
    """Create, find, list and revoke keys; the only code that writes the key hashes."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def create(self, project: str) -> tuple[ApiKeyRecord, str]:
        """A new key for `project`: its record, and the key itself, which is not kept anywhere."""
        key = f"{KEY_PREFIX}{secrets.token_hex(24)}"
        record = ApiKeyRecord(
            id=f"key_{secrets.token_hex(8)}",
            project=project,
            created_at=int(time.time()),
            hint=hint(key),
            digest=digest(key),
        )
        # Two hashes of different slots on a cluster (store/slots.py): the record first, so an id never names
        # a key that does not exist; a crash between leaves a key that works and cannot be revoked by its id.
        pipe = slots.pipeline(self.client, self.keys_of_keys())
        pipe.hset(self.keys.api_keys(), record.digest, record.to_json())
        pipe.hset(self.keys.api_key_ids(), record.id, record.digest)
        pipe.execute()
        return record, key

    def keys_of_keys(self) -> list[str]:
        return [self.keys.api_keys(), self.keys.api_key_ids()]

    def find(self, key_digest: str) -> ApiKeyRecord | None:
        raw = self.client.hget(self.keys.api_keys(), key_digest)
        return None if raw is None else ApiKeyRecord.from_json(raw)

    def list(self, project: str | None = None) -> list[ApiKeyRecord]:
        """Every key (of `project`, if given), oldest first."""
        raws = self.client.hvals(self.keys.api_keys())
        records = [ApiKeyRecord.from_json(raw) for raw in raws]
        return sorted(
            (r for r in records if project is None or r.project == project), key=lambda r: (r.created_at, r.id)
        )

    def revoke(self, key_id: str) -> ApiKeyRecord | None:
        """Delete the key with this id; returns its record, or None if there was none."""
        key_digest = self.client.hget(self.keys.api_key_ids(), key_id)
        if key_digest is None:
            return None
        record = self.find(str(key_digest))
        # The record first: once it is gone the key no longer authenticates, whatever happens to the id.
        pipe = slots.pipeline(self.client, self.keys_of_keys())
        pipe.hdel(self.keys.api_keys(), str(key_digest))
        pipe.hdel(self.keys.api_key_ids(), key_id)
        pipe.execute()
        return record
