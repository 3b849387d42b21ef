"""The pieces around the sandbox, without one: the job and result bundles, names, links and images."""

from __future__ import annotations

import json
import struct

import pytest

from orchestrator.domain.models import Message, RunStep
from workers.tools.code_interpreter import runner
from workers.tools.code_interpreter.files import (
    BadBundle,
    Cell,
    decode_returned,
    encode_job,
    is_image,
    sandbox_name,
    skipped_note,
)
from workers.tools.code_interpreter.tool import attached_file_ids, file_path_annotations, run_images

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def bundle(header: dict[str, object], payload: bytes = b"") -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack(">Q", len(encoded)) + encoded + payload


def test_the_job_the_worker_writes_is_the_one_the_runner_reads() -> None:
    job = encode_job(
        "print(x)",
        {"data.csv": b"a,b\n1,2\n"},
        [Cell("x = 1", {"old.txt": b"old"}), Cell("x += 1")],
        timeout_s=5,
        replay_s=9,
    )
    header, payload = runner.read_bundle(job)
    assert header["code"] == "print(x)" and header["timeout_s"] == 5 and header["replay_s"] == 9
    [(name, offset, size)] = header["files"]
    assert (name, bytes(payload[offset : offset + size])) == ("data.csv", b"a,b\n1,2\n")
    assert [cell["code"] for cell in header["replay"]] == ["x = 1", "x += 1"]
    [(old, offset, size)] = header["replay"][0]["files"]
    assert (old, bytes(payload[offset : offset + size])) == ("old.txt", b"old")


def test_what_the_runner_writes_the_worker_reads(tmp_path: pytest.TempPathFactory) -> None:
    import os

    read, write = os.pipe()
    runner.write_bundle(write, {"skipped": [["big.bin", 99]]}, [("file:out/a.csv", b"1,2"), ("figure:1", PNG)])
    os.close(write)
    data = os.read(read, 65536)
    os.close(read)
    returned = decode_returned(data)
    assert returned.files == {"out/a.csv": b"1,2"}
    assert returned.figures == [PNG]
    assert returned.skipped == [("big.bin", 99)]
    assert not returned.replay_timeout


def test_nothing_returned_is_an_empty_result() -> None:
    assert decode_returned(b"").files == {}


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00",  # shorter than the length prefix
        struct.pack(">Q", 4) + b"nope",  # not JSON
        bundle({"entries": [["file:a", 0, 10]]}, b"short"),  # past the payload
        bundle({"entries": [["file:a", -1, 1]]}, b"x"),  # negative offset
        bundle({"entries": [[1, 2]]}),  # not an entry
        bundle([1, 2]),  # type: ignore[arg-type]
    ],
)
def test_a_bundle_the_code_tampered_with_is_refused(data: bytes) -> None:
    with pytest.raises(BadBundle):
        decode_returned(data)


def test_paths_that_would_leave_the_working_dir_are_dropped() -> None:
    entries = [["file:../../etc/passwd", 0, 1], ["file:/abs", 1, 1], ["file:ok/../fine.txt", 2, 1]]
    returned = decode_returned(bundle({"entries": entries}, b"abc"))
    assert returned.files == {"fine.txt": b"c"}


def test_counts_and_sizes_are_capped_again_on_the_worker() -> None:
    entries = [[f"file:f{i}", i, 1] for i in range(5)]
    returned = decode_returned(bundle({"entries": entries}, b"abcde"), max_files=3, max_bytes=100)
    assert list(returned.files) == ["f0", "f1", "f2"]
    assert [name for name, _ in returned.skipped] == ["file:f3", "file:f4"]
    note = skipped_note(returned.skipped, 3, 1024 * 1024)
    assert "file:f3 (1 bytes)" in note and "3 files" in note


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("data.csv", "data.csv"),
        ("../../etc/passwd", "passwd"),
        ("C:\\x\\y.txt", "y.txt"),
        (".bashrc", "bashrc"),
        ("..", "file"),
    ],
)
def test_input_files_keep_their_base_name_only(filename: str, expected: str) -> None:
    assert sandbox_name(filename) == expected


def test_images_are_recognised_by_their_magic_bytes() -> None:
    assert is_image(PNG) and is_image(b"\xff\xd8\xff\xe0") and is_image(b"GIF89a...")
    assert not is_image(b"a,b\n1,2\n")


def test_links_to_session_files_become_file_path_annotations() -> None:
    links = {"sandbox:/mnt/data/out.csv": "file-1", "sandbox:/mnt/data/out.csv.gz": "file-2"}
    text = "Get [it](sandbox:/mnt/data/out.csv.gz) or sandbox:/mnt/data/out.csv, not sandbox:/mnt/data/other.csv."
    annotations = file_path_annotations(text, links)
    assert [(a["text"], a["file_path"]["file_id"]) for a in annotations] == [
        ("sandbox:/mnt/data/out.csv.gz", "file-2"),
        ("sandbox:/mnt/data/out.csv", "file-1"),
    ]
    for a in annotations:
        assert text[a["start_index"] : a["end_index"]] == a["text"] and a["type"] == "file_path"


def step_with(*outputs: dict[str, object]) -> RunStep:
    call = {"id": "call_1", "type": "code_interpreter", "code_interpreter": {"input": "", "outputs": list(outputs)}}
    return RunStep(
        id="step_1",
        created_at=0,
        run_id="run_1",
        assistant_id="asst_1",
        thread_id="thread_1",
        type="tool_calls",
        step_details={"type": "tool_calls", "tool_calls": [call]},
    )


def test_images_not_shown_yet_go_to_the_next_message() -> None:
    step = step_with({"type": "logs", "logs": ""}, {"type": "image", "image": {"file_id": "file-a"}})
    later = step_with({"type": "image", "image": {"file_id": "file-b"}})
    shown = Message(
        id="msg_1",
        created_at=0,
        thread_id="thread_1",
        role="assistant",
        content=[{"type": "image_file", "image_file": {"file_id": "file-a"}}],
    )
    assert run_images([step, later], []) == ["file-a", "file-b"]
    assert run_images([step, later], [shown]) == ["file-b"]


def test_only_attachments_for_the_code_interpreter_are_inputs() -> None:
    message = Message(
        id="msg_1",
        created_at=0,
        thread_id="thread_1",
        role="user",
        attachments=[
            {"file_id": "file-code", "tools": [{"type": "code_interpreter"}]},
            {"file_id": "file-search", "tools": [{"type": "file_search"}]},
        ],
    )
    assert attached_file_ids([message]) == ["file-code"]
