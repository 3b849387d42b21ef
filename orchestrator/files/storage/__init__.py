"""Where uploaded files' bytes live, behind one small interface: a local directory or an S3-compatible bucket.

Keys are `/`-separated relative names (`{project}/{file_id}`); metadata stays in Redis with the other objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orchestrator.settings import Settings


class BlobNotFound(KeyError):
    """No bytes are stored under the key."""


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there; readers see the old bytes or the new, never a part."""

    def get(self, key: str) -> bytes:
        """The bytes under `key`; `BlobNotFound` if none."""

    def delete(self, key: str) -> None:
        """Remove `key`; removing a key that is not there is not an error."""


def storage_from_settings(settings: Settings) -> Storage:
    if settings.files_backend == "s3":
        from orchestrator.files.storage.s3 import S3Storage  # boto3 is an optional extra

        return S3Storage.from_settings(settings)
    from orchestrator.files.storage.local import LocalStorage

    return LocalStorage(settings.files_dir)
