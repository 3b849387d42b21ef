"""The code_interpreter call around the sandbox: the input files the executor sends with it, the Files API as the
pool's task reaches it, and what a finished run's answer shows of the files the code wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestrator.domain.models import JSON, Message, Run, RunStep
from orchestrator.errors import NotFound
from orchestrator.files.service import create_file, get_file, read_content
from orchestrator.files.storage import Storage
from orchestrator.store import RedisStore
from workers.tools.code_interpreter.files import sandbox_name
from workers.tools.resources import tool_resources

#: OpenAI's cap on code_interpreter files per tool_resources; attachments add to it, so the union is capped higher.
MAX_INPUT_FILES = 100


def code_request(store: RedisStore, project: str, run: Run, attached: list[str]) -> dict[str, Any]:
    """The payload fields of a code_interpreter call: the input files for /mnt/data.

    The run's own tool_resources, the assistant's, the thread's, then `attached`: the files attached for the tool
    to the thread's newest messages (the executor's history.py reads them, cached)."""
    return {"file_ids": input_file_ids(store, project, run, attached)}


def input_file_ids(store: RedisStore, project: str, run: Run, attached: list[str]) -> list[str]:
    """The run's, the assistant's and the thread's code_interpreter files, then `attached`."""
    resources = tool_resources(store, project, run, "code_interpreter")
    ids = [file_id for found in resources for file_id in found.get("file_ids") or []]
    ids += attached
    return list(dict.fromkeys(ids))[:MAX_INPUT_FILES]


def input_files_note(store: RedisStore, project: str, run: Run, attached: list[str]) -> str | None:
    """A system note naming the files the code will find in /mnt/data (the messages the model reads are enough):
    OpenAI told its models the same way, and without it a model cannot know what it was given."""
    if not any(tool["type"] == "code_interpreter" for tool in run.tools):
        return None
    files = store.get_files(project, input_file_ids(store, project, run, attached))
    paths = [f"/mnt/data/{sandbox_name(file.filename)}" for file in files if file is not None]
    if not paths:
        return None
    return "Files available to the code_interpreter tool: " + ", ".join(paths)


def attached_file_ids(messages: Iterable[Message]) -> list[str]:
    """Files attached to messages with the code_interpreter tool, oldest first."""
    return [
        attachment["file_id"]
        for message in messages
        for attachment in message.attachments
        if any(tool.get("type") == "code_interpreter" for tool in attachment.get("tools") or [])
    ]


def run_images(steps: Iterable[RunStep], messages: Iterable[Message]) -> list[str]:
    """Image file ids the run's code calls produced that none of its messages shows yet, in order."""
    shown = {
        part["image_file"]["file_id"]
        for message in messages
        for part in message.content
        if part["type"] == "image_file"
    }
    images: list[str] = []
    for step in steps:
        if step.type != "tool_calls":
            continue
        for call in step.tool_calls():
            if call["type"] != "code_interpreter":
                continue
            for output in call["code_interpreter"].get("outputs") or []:
                file_id = output.get("image", {}).get("file_id") if output.get("type") == "image" else None
                if file_id and file_id not in shown and file_id not in images:
                    images.append(file_id)
    return images


def file_path_annotations(text: str, links: dict[str, str]) -> list[JSON]:
    """`file_path` annotations for every `sandbox:/mnt/data/...` link in `text` that names a session file."""
    annotations: list[JSON] = []
    # Longest first, so that `a.csv.gz` is not taken for `a.csv`.
    for link in sorted(links, key=len, reverse=True):
        start = text.find(link)
        while start != -1:
            end = start + len(link)
            taken = any(a["start_index"] <= start < a["end_index"] for a in annotations)
            if not taken:
                annotations.append(
                    {
                        "type": "file_path",
                        "text": link,
                        "start_index": start,
                        "end_index": end,
                        "file_path": {"file_id": links[link]},
                    }
                )
            start = text.find(link, end)
    return sorted(annotations, key=lambda a: a["start_index"])


class ProjectFiles:
    """`FileIO` over the Files API of one project: the worker's Redis store and its blob storage."""

    def __init__(self, store: RedisStore, storage: Storage, project: str) -> None:
        self.store = store
        self.storage = storage
        self.project = project

    def filename(self, file_id: str) -> str | None:
        try:
            return get_file(self.store, self.project, file_id).filename
        except NotFound:
            return None

    def read(self, file_id: str) -> bytes | None:
        try:
            return read_content(self.store, self.storage, self.project, file_id)
        except NotFound:
            return None

    def create(self, filename: str, data: bytes) -> str:
        return create_file(
            self.store, self.storage, self.project, filename=filename, purpose="assistants_output", data=data
        ).id
