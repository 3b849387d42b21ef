"""File use cases: create, read, read the bytes, delete, and check that ids a request names exist.

A file is two things: its object in Redis (beside the project's other objects, indexed like assistants, and per
purpose for `GET /files?purpose=`) and its bytes in `Storage`. The bytes are written before the object and removed
after it, so an object never names bytes that are not there; a crash between the two only leaves unreachable
bytes behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal
from urllib.parse import quote

import structlog

from orchestrator.domain.ids import new_id
from orchestrator.domain.models import FileObject
from orchestrator.errors import InvalidRequest, NotFound
from orchestrator.files.storage import BlobNotFound, Storage
from orchestrator.services.ledger import now_s
from orchestrator.store import RedisStore

log = structlog.get_logger(__name__)

#: What `POST /files` accepts, as OpenAI does; `assistants_output` is only given by the code interpreter's outputs.
UploadPurpose = Literal["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]


def blob_key(project: str, file_id: str) -> str:
    # Projects are operator-chosen names; quoted, none can add a path segment.
    return f"{quote(project, safe='')}/{file_id}"


def not_found(file_id: str) -> NotFound:
    return NotFound(f"No such File object: {file_id}")


def create_file(
    store: RedisStore, storage: Storage, project: str, *, filename: str, purpose: str, data: bytes
) -> FileObject:
    file = FileObject(id=new_id("file-"), bytes=len(data), created_at=now_s(), filename=filename, purpose=purpose)
    storage.put(blob_key(project, file.id), data)
    keys = store.keys
    store.put_indexed(
        [(keys.file(project, file.id), file)],
        [(keys.files(project), file.id), (keys.files_by_purpose(project, purpose), file.id)],
    )
    return file


def get_file(store: RedisStore, project: str, file_id: str) -> FileObject:
    file = store.get_file(project, file_id)
    if file is None:
        raise not_found(file_id)
    return file


def read_content(store: RedisStore, storage: Storage, project: str, file_id: str) -> bytes:
    get_file(store, project, file_id)
    try:
        return storage.get(blob_key(project, file_id))
    except BlobNotFound:
        raise not_found(file_id) from None  # deleted between the two reads


def delete_file(store: RedisStore, storage: Storage, project: str, file_id: str) -> bool:
    file = store.get_file(project, file_id)
    if file is None:
        return False
    keys = store.keys
    removed = store.delete(
        [keys.file(project, file_id)],
        [(keys.files(project), file_id), (keys.files_by_purpose(project, file.purpose), file_id)],
    )
    if not removed:
        return False  # another request deleted it first and cleans up after it
    storage.delete(blob_key(project, file_id))
    _forget_in_vector_stores(store, project, file_id)
    return True


def _forget_in_vector_stores(store: RedisStore, project: str, file_id: str) -> None:
    from orchestrator.vector_stores.service import forget_file  # late: vector stores build on files

    forget_file(store, project, file_id)


def require_files(
    store: RedisStore, project: str, file_ids: Sequence[str], param: str, *, indexed: bool = False
) -> list[FileObject]:
    """The files named, in order, or a 400 naming `param` (with `[i]` appended when `indexed`) and the first id
    that is unknown in this project (another project's file is unknown here, as at OpenAI)."""
    return require_named(store, project, [(f"{param}[{i}]" if indexed else param, f) for i, f in enumerate(file_ids)])


def require_named(store: RedisStore, project: str, named: Sequence[tuple[str, str]]) -> list[FileObject]:
    """`require_files` for ids from many places of one request, each with its own param: one read for all."""
    found = store.get_files(project, [file_id for _, file_id in named])
    files = []
    for (param, file_id), file in zip(named, found, strict=True):
        if file is None:
            raise InvalidRequest(f"No file found with id '{file_id}'.", param=param, code="invalid_value")
        files.append(file)
    return files
