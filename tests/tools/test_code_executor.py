"""The executor's side of code_interpreter: code streamed as the model writes it, the input files sent with the
call, and the images and file links of the answer. A scripted model, the store on fakeredis and real Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from orchestrator.domain.requests import AssistantCreate, MessageCreate, RunCreate, ThreadCreate
from orchestrator.files.service import create_file
from orchestrator.files.storage.local import LocalStorage
from orchestrator.services import assistants, runs, threads
from orchestrator.store import RedisStore
from tests.support import RecordingDispatcher, ScriptedModel, call_turn, text_turn
from workers.executor.llm import Finish, Piece, ToolCallPiece
from workers.executor.loop import RunExecutor
from workers.tools.code_interpreter.session import SessionStore
from workers.tools.results import record_result

CODE = 'import json\nprint("a\\tb", json.dumps({"k": [1, 2]}))\n# é ✓\n'
TOOLS: list[dict[str, Any]] = [{"type": "code_interpreter"}]


def execute(store: RedisStore, dispatcher: RecordingDispatcher, model: ScriptedModel) -> str:
    project, thread_id, run_id, token = dispatcher.runs[-1]
    return RunExecutor(store, model, dispatcher, max_turns=4).execute(project, thread_id, run_id, token)


def start(store: RedisStore, dispatcher: RecordingDispatcher, **resources: Any) -> tuple[str, str]:
    assistant = assistants.create(
        store, "p", AssistantCreate(model="m", tools=TOOLS, tool_resources=resources.get("assistant"))
    )
    thread = threads.create_thread(store, "p", ThreadCreate(tool_resources=resources.get("thread")))
    message = MessageCreate(role="user", content="Go", attachments=resources.get("attachments"))
    threads.add_message(store, "p", thread.id, message)
    started = runs.create_run(store, dispatcher, "p", thread.id, RunCreate(assistant_id=assistant.id), expiry_s=600)
    return thread.id, started.run.id


def fragments(arguments: str, size: int) -> list[Piece]:
    pieces: list[Piece] = [ToolCallPiece(index=0, name="code_interpreter", arguments="")]
    pieces += [
        ToolCallPiece(index=0, name=None, arguments=arguments[i : i + size]) for i in range(0, len(arguments), size)
    ]
    return [*pieces, Finish("tool_calls", None)]


def input_deltas(store: RedisStore, thread_id: str, run_id: str) -> list[str]:
    deltas = []
    for event in store.events("p", thread_id, run_id):
        if event.event != "thread.run.step.delta":
            continue
        for call in orjson.loads(event.data)["delta"]["step_details"]["tool_calls"]:
            if call["type"] == "code_interpreter" and call["code_interpreter"].get("input"):
                deltas.append(call["code_interpreter"]["input"])
    return deltas


def test_code_streams_into_input_deltas_as_the_model_writes_it(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = start(store, dispatcher)
    # Three-character fragments split escapes (\t, \", \u00e9) and multi-byte characters' escapes in half.
    arguments = orjson.dumps({"code": CODE}).decode().replace("é", "\\u00e9")
    assert execute(store, dispatcher, ScriptedModel([fragments(arguments, 3)])) == "awaiting_tools"
    deltas = input_deltas(store, thread_id, run_id)
    assert len(deltas) > 10
    assert "".join(deltas) == CODE
    _, payload = dispatcher.tools[-1]
    assert payload["argument"] == CODE


def test_a_call_sent_whole_streams_in_one_delta(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = start(store, dispatcher)
    execute(store, dispatcher, ScriptedModel([call_turn(("code_interpreter", orjson.dumps({"code": CODE}).decode()))]))
    assert input_deltas(store, thread_id, run_id) == [CODE]


def test_the_call_carries_the_assistants_thread_and_attached_files(
    store: RedisStore, dispatcher: RecordingDispatcher, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path)
    ids = [create_file(store, storage, "p", filename=f"{n}.csv", purpose="assistants", data=b"x").id for n in "abc"]
    start(
        store,
        dispatcher,
        assistant={"code_interpreter": {"file_ids": [ids[0], ids[1]]}},
        thread={"code_interpreter": {"file_ids": [ids[1], ids[2]]}},
        attachments=[{"file_id": ids[0], "tools": [{"type": "code_interpreter"}]}],
    )
    model = ScriptedModel([call_turn(("code_interpreter", '{"code": "1"}'))])
    execute(store, dispatcher, model)
    _, payload = dispatcher.tools[-1]
    assert payload["file_ids"] == ids  # each once, the assistant's first
    # The model is told where they are, after the instructions.
    note = "Files available to the code_interpreter tool: /mnt/data/a.csv, /mnt/data/b.csv, /mnt/data/c.csv"
    assert model.requests[0]["messages"][0] == {"role": "system", "content": note}


def test_the_answer_shows_the_images_and_links_the_files(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = start(store, dispatcher)
    execute(store, dispatcher, ScriptedModel([call_turn(("code_interpreter", '{"code": "plot()"}'))]))
    _, payload = dispatcher.tools[-1]
    link = "sandbox:/mnt/data/report.csv"
    SessionStore(store.client, store.keys, 60).record("p", thread_id, None, {link: "file-report"})
    outputs = [{"type": "logs", "logs": ""}, {"type": "image", "image": {"file_id": "file-plot"}}]
    record_result(store, dispatcher, payload, {"outputs": outputs, "exit_code": 0}, "code_interpreter")
    answer = text_turn("Here", f" is [the report]({link}).")
    assert execute(store, dispatcher, ScriptedModel([answer])) == "completed"

    message = store.get_messages("p", thread_id, store.all_ids(store.keys.run_messages("p", thread_id, run_id)))[-1]
    image, text = message.content
    assert image == {"type": "image_file", "image_file": {"file_id": "file-plot"}}
    [annotation] = text["text"]["annotations"]
    value = text["text"]["value"]
    assert annotation["file_path"] == {"file_id": "file-report"}
    assert value[annotation["start_index"] : annotation["end_index"]] == link == annotation["text"]

    # Streamed the same way: the image part first, then the text at index 1 with the annotation as it completes.
    deltas = [
        orjson.loads(e.data)["delta"]["content"]
        for e in store.events("p", thread_id, run_id)
        if e.event == "thread.message.delta"
    ]
    assert deltas[0] == [{"index": 0, "type": "image_file", "image_file": {"file_id": "file-plot"}}]
    assert [part["index"] for parts in deltas[1:] for part in parts] == [1, 1]
    # A delta's annotation also carries its `index` among the message's annotations (the SDK merges by it).
    assert deltas[2][0]["text"]["annotations"] == [{**annotation, "index": 0}]
