"""One contract, both backends (local directory, S3 on moto's server)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from orchestrator.files.storage import BlobNotFound, Storage
from orchestrator.files.storage.local import LocalStorage
from orchestrator.files.storage.s3 import S3Storage
from orchestrator.settings import get_settings


def test_put_get_replace_delete(storage: Storage) -> None:
    storage.put("proj/file-1", b"first")
    storage.put("proj/file-2", bytes(range(256)))
    assert storage.get("proj/file-1") == b"first"
    assert storage.get("proj/file-2") == bytes(range(256))
    storage.put("proj/file-1", b"second")
    assert storage.get("proj/file-1") == b"second"
    storage.delete("proj/file-1")
    with pytest.raises(BlobNotFound):
        storage.get("proj/file-1")
    storage.delete("proj/file-1")  # deleting what is gone is not an error
    assert storage.get("proj/file-2") == bytes(range(256))


def test_empty_and_unknown(storage: Storage) -> None:
    storage.put("p/empty", b"")
    assert storage.get("p/empty") == b""
    with pytest.raises(BlobNotFound):
        storage.get("p/never-written")


def test_a_reader_sees_old_or_new_bytes_never_part(storage: Storage) -> None:
    old, new = b"a" * 200_000, b"b" * 200_000
    storage.put("p/f", old)
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(storage.get("p/f"))

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(10):
        storage.put("p/f", new)
        storage.put("p/f", old)
    stop.set()
    reader.join()
    assert seen <= {old, new}


def test_local_keys_cannot_leave_the_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    for key in ("../escape", "p/../../x", "/abs", "p//f", "p/./f"):
        with pytest.raises(ValueError, match="invalid storage key"):
            storage.put(key, b"x")
    assert not (tmp_path / "escape").exists()


def test_local_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put("p/f", b"data")
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["f"]


def test_s3_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match="ORCH_S3_BUCKET"):
        S3Storage.from_settings(get_settings(files_backend="s3", s3_bucket=""))
