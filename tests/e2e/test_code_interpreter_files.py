"""code_interpreter with files and sessions, through the official SDK against a real stack (its pools included).

A CSV attached to a message is read in /mnt/data, plotted with matplotlib (the image downloads as a PNG) and
summarised into a file the answer links; the next call in the thread uses a variable of the first, and so does one
after the code-interpreter worker was SIGKILLed and restarted (the session is replayed from Redis, not kept in a
process). The mock model runs the exact code of a `[[code ...]]` directive and answers with the tool's output.
"""

from __future__ import annotations

import os
import signal

import openai
import pytest
from openai.types.beta.threads import Message, Run

from tests.e2e.helpers import RecordingHandler
from tests.stack import Stack, wait_until

pytestmark = pytest.mark.e2e

CSV = b"month,sales\n1,10\n2,30\n3,20\n"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIRST = (
    "import pandas as pd, matplotlib.pyplot as plt\n"
    "df = pd.read_csv('/mnt/data/sales.csv')\n"
    "total = int(df['sales'].sum())\n"
    "df.plot(x='month', y='sales')\n"
    "df.describe().to_csv('/mnt/data/summary.csv')\n"
    "print('total', total, 'summary: sandbox:/mnt/data/summary.csv')"
)


def run_code(client: openai.OpenAI, thread_id: str, assistant_id: str, code: str, **message: object) -> Run:
    client.beta.threads.messages.create(thread_id=thread_id, role="user", content=f"[[code {code}]]", **message)  # type: ignore[arg-type]
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, poll_interval_ms=100, timeout=120
    )
    assert run.status == "completed", run.last_error
    return run


def logs_of(client: openai.OpenAI, run: Run) -> str:
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=run.thread_id, order="asc").data
    return "".join(
        output.logs
        for step in steps
        if step.step_details.type == "tool_calls"
        for call in step.step_details.tool_calls
        if call.type == "code_interpreter"
        for output in call.code_interpreter.outputs
        if output.type == "logs"
    )


def answer(client: openai.OpenAI, run: Run) -> Message:
    [message] = client.beta.threads.messages.list(thread_id=run.thread_id, run_id=run.id).data
    return message


def test_a_csv_is_plotted_summarised_and_the_session_survives_a_worker_restart(stack: Stack) -> None:
    with stack.client() as client:
        upload = client.files.create(file=("sales.csv", CSV), purpose="assistants")
        assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])
        thread = client.beta.threads.create()
        attachment = [{"file_id": upload.id, "tools": [{"type": "code_interpreter"}]}]
        first = run_code(client, thread.id, assistant.id, FIRST, attachments=attachment)
        assert "total 60 summary" in logs_of(client, first)

        # The plot: an image output on the step, an image_file part opening the answer, a PNG to download.
        steps = client.beta.threads.runs.steps.list(run_id=first.id, thread_id=thread.id, order="asc").data
        [call] = [c for s in steps if s.step_details.type == "tool_calls" for c in s.step_details.tool_calls]
        assert call.type == "code_interpreter"
        [image] = [o.image.file_id for o in call.code_interpreter.outputs if o.type == "image"]
        message = answer(client, first)
        assert message.content[0].type == "image_file" and message.content[0].image_file.file_id == image
        assert client.files.content(image).content.startswith(PNG_MAGIC)
        assert client.files.retrieve(image).purpose == "assistants_output"

        # The summary: the answer's link to it carries a file_path annotation; the file downloads.
        text = message.content[-1]
        assert text.type == "text"
        [link] = [a for a in text.text.annotations if a.type == "file_path"]
        assert link.text == "sandbox:/mnt/data/summary.csv"
        assert text.text.value[link.start_index : link.end_index] == link.text
        summary = client.files.content(link.file_path.file_id).content
        assert summary.startswith(b",month,sales\ncount,3.0,3.0\n")

        # The same session: a variable of the first call, and the file it wrote.
        second = run_code(client, thread.id, assistant.id, "print(total * 2, open('summary.csv').read()[:6])")
        assert logs_of(client, second) == "120 ,month\n"

        # The worker dies; the supervisor starts another, which replays the session before the next call.
        victim = next(c["pid"] for c in stack.children().values() if c["role"] == "worker-code-interpreter")
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: all(
                c["pid"] not in (victim, None)
                for c in stack.children().values()
                if c["role"] == "worker-code-interpreter"
            ),
            "the code-interpreter worker to be restarted",
        )
        third = run_code(client, thread.id, assistant.id, "print(total + 1, len(df))")
        assert logs_of(client, third) == "61 3\n"
        # Replayed cells print nothing again, and their files come back only when a cell writes them anew.
        assert "figure" not in str(answer(client, third).content)


def test_code_streams_into_input_deltas_before_the_call_completes(stack: Stack) -> None:
    code = "values = [n * n for n in range(12)]\nprint(sum(values), 'squares summed')"
    with stack.client() as client:
        assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])
        thread = client.beta.threads.create(messages=[{"role": "user", "content": f"[[code {code}]]"}])
        handler = RecordingHandler()
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
        ) as stream:
            stream.until_done()
    assert len(handler.tool_input_deltas) > 1
    assert "".join(handler.tool_input_deltas) == code
    # Every piece of the input streamed before the tool ran (its outputs come in a later delta).
    kinds = []
    for event in handler.events:
        if event.event == "thread.run.step.delta" and event.data.delta.step_details is not None:
            details = event.data.delta.step_details
            for call in details.tool_calls or [] if details.type == "tool_calls" else []:
                if call.type == "code_interpreter" and call.code_interpreter is not None:
                    kinds += ["input"] * bool(call.code_interpreter.input) + ["outputs"] * bool(
                        call.code_interpreter.outputs
                    )
    assert kinds == ["input"] * len(handler.tool_input_deltas) + ["outputs"]
    done = handler.tool_calls_done[-1]  # the SDK may report the same call done more than once
    assert done.type == "code_interpreter" and done.code_interpreter.input == code
