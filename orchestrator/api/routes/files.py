"""/v1/files: upload (multipart), list, retrieve, delete, content. OpenAI serves these without the OpenAI-Beta
header, so they take the caller's project without it."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from orchestrator.api.deps import OpenProjectDep, SettingsDep, StorageDep, StoreDep
from orchestrator.domain.models import deleted
from orchestrator.errors import InvalidRequest
from orchestrator.files import service
from orchestrator.files.service import UPLOAD_PURPOSES

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
async def upload_file(
    request: Request, store: StoreDep, storage: StorageDep, project: OpenProjectDep, settings: SettingsDep
) -> dict[str, Any]:
    # BodyLimit already stopped reading past upload_limit(); the multipart parser spools the file to disk.
    async with request.form(max_files=1, max_fields=8) as form:
        for name in form:
            if name not in ("file", "purpose"):
                raise InvalidRequest(
                    f"Unrecognized request argument supplied: {name}", param=name, code="unknown_parameter"
                )
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
        if purpose is None:
            raise InvalidRequest(
                "Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter"
            )
        if purpose not in UPLOAD_PURPOSES:
            raise InvalidRequest(
                f"'{str(purpose)[:64]}' is not one of {list(UPLOAD_PURPOSES)} - 'purpose'",
                param="purpose",
                code="invalid_value",
            )
        filename = upload.filename or ""
        if not filename or len(filename) > MAX_FILENAME_CHARS:
            raise InvalidRequest(
                f"The file needs a name of 1 to {MAX_FILENAME_CHARS} characters.", param="file", code="invalid_value"
            )
        if upload.size is not None and upload.size > settings.max_file_bytes:
            raise _too_large(settings.max_file_bytes)
        data = await upload.read()
    if len(data) > settings.max_file_bytes:
        raise _too_large(settings.max_file_bytes)
    file = await run_in_threadpool(
        service.create_file, store, storage, project, filename=filename, purpose=str(purpose), data=data
    )
    return file.wire()


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
    page = store.page(index, limit=limit, order=order, after=after)
    data = [file.wire() for file in store.get_files(project, page.ids) if file is not None]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": page.has_more,
    }


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
