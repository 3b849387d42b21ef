"""/v1/files: upload (multipart), list, retrieve, delete, content. OpenAI serves these without the OpenAI-Beta
header, so they take the caller's project without it."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from orchestrator.api.deps import OpenProjectDep, Paging, SettingsDep, StorageDep, StoreDep
from orchestrator.api.listing import list_page
from orchestrator.domain.models import deleted
from orchestrator.errors import InvalidRequest
from orchestrator.files import service
from orchestrator.files.service import UploadPurpose

router = APIRouter(prefix="/v1/files", tags=["files"])

#: What a multipart envelope may add to the file itself (boundaries, headers, the purpose field).
MULTIPART_SLACK_BYTES = 64 * 1024
MAX_FILENAME_CHARS = 512


def upload_limit(max_file_bytes: int) -> int:
    """The body cap of POST /v1/files (api/app.py gives it to BodyLimit): the file plus its envelope."""
    return max_file_bytes + MULTIPART_SLACK_BYTES


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"File is too large. Files may be at most {limit} bytes.")


@router.post("")
def upload_file(
    file: Annotated[UploadFile, File(description="The file, with its name.")],
    purpose: Annotated[UploadPurpose, Form()],
    store: StoreDep,
    storage: StorageDep,
    project: OpenProjectDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    # BodyLimit stopped reading past upload_limit(); the multipart parser spooled the file to disk.
    filename = file.filename or ""
    if not filename or len(filename) > MAX_FILENAME_CHARS:
        raise InvalidRequest(
            f"The file needs a name of 1 to {MAX_FILENAME_CHARS} characters.", param="file", code="invalid_value"
        )
    if file.size is not None and file.size > settings.max_file_bytes:
        raise _too_large(settings.max_file_bytes)
    data = file.file.read(settings.max_file_bytes + 1)
    if len(data) > settings.max_file_bytes:
        raise _too_large(settings.max_file_bytes)
    return service.create_file(store, storage, project, filename=filename, purpose=purpose, data=data).wire()


@router.get("")
def list_files(
    store: StoreDep,
    project: OpenProjectDep,
    purpose: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    after: str | None = None,
) -> dict[str, Any]:
    keys = store.keys
    index = keys.files_by_purpose(project, purpose) if purpose else keys.files(project)
    paging = Paging(limit=limit, order=order, after=after, before=None)
    return list_page(store, index, paging, lambda ids: [f for f in store.get_files(project, ids) if f is not None])


@router.get("/{file_id}")
def get_file(file_id: str, store: StoreDep, project: OpenProjectDep) -> dict[str, Any]:
    return service.get_file(store, project, file_id).wire()


@router.delete("/{file_id}")
def delete_file(file_id: str, store: StoreDep, storage: StorageDep, project: OpenProjectDep) -> dict[str, Any]:
    if not service.delete_file(store, storage, project, file_id):
        raise service.not_found(file_id)
    return deleted(file_id, "file")


@router.get("/{file_id}/content", response_class=Response)
def file_content(file_id: str, store: StoreDep, storage: StorageDep, project: OpenProjectDep) -> Response:
    file = service.get_file(store, project, file_id)
    data = service.read_content(store, storage, project, file_id)
    media_type = mimetypes.guess_type(file.filename)[0] or "application/octet-stream"
    disposition = f"attachment; filename*=UTF-8''{quote(file.filename, safe='')}"
    return Response(data, media_type=media_type, headers={"content-disposition": disposition})
