"""Image files as the model sees them: a data URL of the file's bytes (an upstream cannot reach our storage)."""

from __future__ import annotations

import base64
import mimetypes

from orchestrator.errors import NotFound
from orchestrator.files.service import get_file, read_content
from orchestrator.files.storage import Storage
from orchestrator.store import RedisStore


class ImageReader:
    def __init__(self, store: RedisStore, storage: Storage) -> None:
        self.store = store
        self.storage = storage

    def data_url(self, project: str, file_id: str) -> str | None:
        """`data:<type>;base64,...` of the file, or None once it was deleted."""
        try:
            file = get_file(self.store, project, file_id)
            data = read_content(self.store, self.storage, project, file_id)
        except NotFound:
            return None
        kind = mimetypes.guess_type(file.filename)[0] or ""
        return f"data:{kind if kind.startswith('image/') else 'image/png'};base64,{base64.b64encode(data).decode()}"
