"""file_search end to end with the official SDK against real worker pools: a document uploaded, ingested into a
vector store, searched by the model's file_search call, and the answer cited with the quoted text; polled and
streamed, through an assistant's store and through a message attachment (the thread's own store)."""

from __future__ import annotations

from typing import Any, Final

import openai
import pytest
from openai import AssistantEventHandler
from openai.types.beta.threads import FileCitationAnnotation, Message, Text, TextDelta
from openai.types.beta.threads.runs import RunStep
from typing_extensions import override

from tests.e2e.helpers import MODEL, POLL_MS, message_text

pytestmark = pytest.mark.e2e

FACT = "The Zorblatt lantern festival is held every spring in the hill village of Quenwick."
FESTIVAL = f"{FACT} Visitors carry lanterns of blue glass up to the old mill.\n\nTickets cost four silver coins."
DECOY = "The harbour of Lindmoor is known for its copper boats. Fishing there begins at dawn, in any season."
QUESTION = "Where is the Zorblatt lantern festival held?"
MARKER = "【0:0†festival.txt】"
CONTENT: Final = "step_details.tool_calls[*].file_search.results[*].content"


@pytest.fixture(scope="module")
def documents(client: openai.OpenAI) -> dict[str, str]:
    """The festival document and a decoy, uploaded once: filename -> file id."""
    uploaded = {}
    for name, text in (("festival.txt", FESTIVAL), ("harbour.md", DECOY)):
        uploaded[name] = client.files.create(file=(name, text.encode()), purpose="assistants").id
    return uploaded


@pytest.fixture(scope="module")
def assistant_with_store(client: openai.OpenAI, documents: dict[str, str]) -> str:
    """An assistant whose vector store holds both documents, built with the SDK's upload-and-poll helpers."""
    store = client.vector_stores.create(name="guides")
    done = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("festival.txt", FESTIVAL.encode()), poll_interval_ms=POLL_MS
    )
    assert done.status == "completed", done.last_error
    decoy = client.vector_stores.files.create_and_poll(
        vector_store_id=store.id, file_id=documents["harbour.md"], poll_interval_ms=POLL_MS
    )
    assert decoy.status == "completed", decoy.last_error
    assistant = client.beta.assistants.create(
        model=MODEL,
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    return assistant.id


def citation_of(message: Message) -> FileCitationAnnotation:
    (part,) = message.content
    assert part.type == "text"
    (annotation,) = part.text.annotations
    assert isinstance(annotation, FileCitationAnnotation)
    return annotation


def check_cited_answer(client: openai.OpenAI, message: Message) -> None:
    """The answer quotes the fact and cites festival.txt, the marker kept at start_index:end_index."""
    text = message_text(message)
    assert text == f"{FACT} {MARKER}"
    citation = citation_of(message)
    assert citation.text == MARKER and text[citation.start_index : citation.end_index] == MARKER
    assert client.files.retrieve(citation.file_citation.file_id).filename == "festival.txt"
    assert citation.file_citation.quote == FACT  # type: ignore[attr-defined]  # beyond OpenAI: always quoted


def search_step(client: openai.OpenAI, thread_id: str, run_id: str, **options: Any) -> RunStep:
    steps = client.beta.threads.runs.steps.list(run_id=run_id, thread_id=thread_id, order="asc", **options).data
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    return steps[0]


def test_a_polled_answer_cites_the_document_with_its_quote(client: openai.OpenAI, assistant_with_store: str) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_with_store, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed", run.last_error
    (message,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    check_cited_answer(client, message)

    step = search_step(client, thread.id, run.id)
    assert step.step_details.type == "tool_calls"
    (call,) = step.step_details.tool_calls
    assert call.type == "file_search"
    assert call.file_search.ranking_options is not None and call.file_search.ranking_options.ranker == "auto"
    results = call.file_search.results or []
    assert results and results[0].file_name == "festival.txt"
    assert all(r.content is None for r in results)  # not asked for

    detailed = search_step(client, thread.id, run.id, include=[CONTENT])
    assert detailed.step_details.type == "tool_calls"
    top = (detailed.step_details.tool_calls[0].file_search.results or [])[0]  # type: ignore[union-attr]
    assert top.content is not None and FACT in (top.content[0].text or "")
    again = client.beta.threads.runs.steps.retrieve(step.id, thread_id=thread.id, run_id=run.id, include=[CONTENT])
    assert again.step_details == detailed.step_details


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.annotations: list[Any] = []
        self.tool_calls: list[str] = []
        self.steps_done: list[RunStep] = []
        self.text_done: list[Text] = []

    @override
    def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        self.annotations += delta.annotations or []

    @override
    def on_text_done(self, text: Text) -> None:
        self.text_done.append(text)

    @override
    def on_tool_call_created(self, tool_call: Any) -> None:
        self.tool_calls.append(tool_call.type)

    @override
    def on_run_step_done(self, run_step: RunStep) -> None:
        self.steps_done.append(run_step)


def test_a_streamed_answer_carries_the_citation_in_its_deltas(client: openai.OpenAI, assistant_with_store: str) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    recorder = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant_with_store, event_handler=recorder
    ) as stream:
        stream.until_done()
        (message,) = stream.get_final_messages()
    assert stream.get_final_run().status == "completed"
    assert recorder.tool_calls == ["file_search"]
    check_cited_answer(client, message)

    (streamed,) = recorder.annotations
    assert streamed.type == "file_citation" and streamed.index == 0
    start = len(FACT) + 1
    assert (streamed.text, streamed.start_index, streamed.end_index) == (MARKER, start, start + len(MARKER))
    assert streamed.file_citation.file_id == citation_of(message).file_citation.file_id
    assert streamed.file_citation.quote == FACT
    (done,) = recorder.text_done
    assert [a.text for a in done.annotations] == [MARKER]  # the SDK's snapshot, accumulated from the deltas

    search = recorder.steps_done[0]
    assert search.step_details.type == "tool_calls"
    results = search.step_details.tool_calls[0].file_search.results or []  # type: ignore[union-attr]
    assert results and all(r.content is None for r in results)  # the shared event log never carries content


def test_an_attached_file_is_searched_through_the_threads_own_store(
    client: openai.OpenAI, documents: dict[str, str]
) -> None:
    assistant = client.beta.assistants.create(model=MODEL, tools=[{"type": "file_search"}])
    attachment = {"file_id": documents["festival.txt"], "tools": [{"type": "file_search"}]}
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": QUESTION, "attachments": [attachment]}]  # type: ignore[list-item]
    )
    # As OpenAI did: the thread's own store, created on demand, on the thread's tool_resources.
    assert thread.tool_resources is not None and thread.tool_resources.file_search is not None
    (store_id,) = thread.tool_resources.file_search.vector_store_ids or []
    assert [f.id for f in client.vector_stores.files.list(vector_store_id=store_id)] == [documents["festival.txt"]]

    # No waiting for ingestion here: the search itself waits for the thread's store to be ready.
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed", run.last_error
    (message,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    check_cited_answer(client, message)
    assert citation_of(message).file_citation.file_id == documents["festival.txt"]


def test_a_later_attachment_joins_the_same_store(client: openai.OpenAI, documents: dict[str, str]) -> None:
    thread = client.beta.threads.create()
    attachment = {"file_id": documents["harbour.md"], "tools": [{"type": "file_search"}]}
    client.beta.threads.messages.create(
        thread_id=thread.id,
        role="user",
        content="Here is a guide.",
        attachments=[attachment],  # type: ignore[list-item]
    )
    client.beta.threads.messages.create(
        thread_id=thread.id,
        role="user",
        content="And another.",
        attachments=[{"file_id": documents["festival.txt"], "tools": [{"type": "file_search"}]}],
    )
    fresh = client.beta.threads.retrieve(thread.id)
    assert fresh.tool_resources is not None and fresh.tool_resources.file_search is not None
    (store_id,) = fresh.tool_resources.file_search.vector_store_ids or []
    files = {f.id for f in client.vector_stores.files.list(vector_store_id=store_id)}
    assert files == {documents["harbour.md"], documents["festival.txt"]}


def test_unknown_vector_stores_are_refused_naming_the_param(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.assistants.create(
            model=MODEL,
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": ["vs_nope"]}},
        )
    assert refused.value.body["param"] == "tool_resources.file_search.vector_store_ids"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.threads.create(tool_resources={"file_search": {"vector_store_ids": ["vs_nope"]}})
    assert refused.value.body["param"] == "tool_resources.file_search.vector_store_ids"  # type: ignore[index]


def test_the_inline_vector_stores_helper_makes_a_store_for_the_thread(
    client: openai.OpenAI, documents: dict[str, str]
) -> None:
    thread = client.beta.threads.create(
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [documents["festival.txt"]]}]}}
    )
    assert thread.tool_resources is not None and thread.tool_resources.file_search is not None
    (store_id,) = thread.tool_resources.file_search.vector_store_ids or []
    assert client.vector_stores.retrieve(store_id).file_counts.total == 1
