"""The playground's thread view in a real browser: a run streamed live (code card, output, answer), a function call
answered through the form, and a run cancelled mid-stream."""

from __future__ import annotations

import re
from collections.abc import Callable

from openai.types.beta import FunctionToolParam
from playwright.sync_api import Page, expect

from tests.playground.math_tutor import INSTRUCTIONS, QUESTION, RUN_MS, expect_solved_live
from tests.stack import Stack

JANE = "Please address the user as Jane Doe. The user has a premium account."
WEATHER: FunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _send(page: Page, assistant_id: str, text: str) -> None:
    page.get_by_label("Assistant").select_option(assistant_id)
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Run", exact=True).click()


def test_math_tutor_streams_code_output_and_answer(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    tutor = client.beta.assistants.create(
        name="Math Tutor",
        instructions=INSTRUCTIONS,
        tools=[{"type": "code_interpreter"}],
        model="gpt-4-turbo",
    )
    open_playground(page, route="#/threads")
    page.get_by_role("button", name="New thread").click()
    expect(page).to_have_url(re.compile(r"#/threads/thread_[A-Za-z0-9]+$"))
    thread_id = page.url.rsplit("/", 1)[1]

    page.get_by_text("Run options").click()
    page.get_by_label("Instructions", exact=True).fill(JANE)
    _send(page, tutor.id, QUESTION)

    live = expect_solved_live(page)
    expect(live.get_by_test_id("run-usage")).to_contain_text("total")
    # The user's message went in as markdown: its inline code is code, not backticks.
    expect(page.locator('[data-role="user"] code')).to_have_text("3x + 11 = 14")
    # The run is listed beside the conversation, and it ran with the per-run instructions.
    expect(page.get_by_role("list", name="Runs").get_by_role("link")).to_have_count(1)
    (run,) = client.beta.threads.runs.list(thread_id=thread_id).data
    assert run.status == "completed" and run.instructions == JANE
    page.get_by_text("Run options").click()  # folded again: the run is what the last screenshot shows
    assert page_errors == []


def test_function_call_is_answered_through_the_form(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    forecaster = client.beta.assistants.create(name="Forecaster", tools=[WEATHER], model="gpt-4-turbo")
    thread = client.beta.threads.create()
    open_playground(page, route=f"#/threads/{thread.id}")

    _send(page, forecaster.id, '[[call get_weather {"city": "Paris"}]]')

    live = page.get_by_test_id("live-run")
    expect(live.get_by_test_id("run-status")).to_have_text("requires_action", timeout=RUN_MS)
    form = live.get_by_test_id("tool-output-form")
    expect(form.get_by_label("Arguments of get_weather")).to_contain_text('"city": "Paris"')
    form.get_by_label("Output of get_weather").fill('{"temperature_c": 18, "sky": "sunny"}')
    form.get_by_role("button", name="Submit outputs").click()

    expect(live.get_by_test_id("message")).to_contain_text("Tool results:", timeout=RUN_MS)
    expect(live.get_by_test_id("message")).to_contain_text('"temperature_c": 18', timeout=RUN_MS)
    expect(live.get_by_test_id("run-status")).to_have_text("completed", timeout=RUN_MS)
    expect(live.get_by_test_id("tool-output-form")).to_have_count(0)
    expect(live.get_by_test_id("function-card").get_by_label("Function output")).to_contain_text('"sky": "sunny"')
    assert page_errors == []


def test_cancel_mid_stream(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    echo = client.beta.assistants.create(name="Echo", model="gpt-4-turbo")
    thread = client.beta.threads.create()
    open_playground(page, route=f"#/threads/{thread.id}")

    _send(page, echo.id, "[[slow 0.3]] [[long 200]]")

    live = page.get_by_test_id("live-run")
    # Some words streamed in, then the run is cancelled in the middle of its answer.
    answer = live.get_by_test_id("message").locator(".text")
    expect(answer).to_have_text(re.compile(r"^word1 word2"), timeout=RUN_MS)
    live.get_by_role("button", name="Cancel").click()
    expect(live.get_by_test_id("run-status")).to_have_text("cancelled", timeout=RUN_MS)
    expect(live.get_by_role("button", name="Cancel")).to_be_hidden()
    (run,) = client.beta.threads.runs.list(thread_id=thread.id).data
    assert run.status == "cancelled"
    # What had streamed stays, its message marked incomplete; the 200 words never all came.
    expect(live.get_by_test_id("message")).to_contain_text("incomplete")
    assert len((answer.text_content() or "").split()) < 200
    # The composer is free again for the next message.
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()
    assert page_errors == []


def test_a_run_going_on_is_followed_when_the_thread_opens(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    echo = client.beta.assistants.create(name="Slow echo", model="gpt-4-turbo")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[slow 0.2]] [[long 12]]"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=echo.id)

    open_playground(page, route=f"#/threads/{thread.id}")

    # Drawn once, from the run's event log (its stored message is not drawn a second time), to its end.
    live = page.get_by_test_id("live-run")
    expect(live.get_by_test_id("run-status")).to_have_text("completed", timeout=RUN_MS)
    expect(live.get_by_role("link", name=run.id)).to_be_visible()
    expect(page.get_by_test_id("message")).to_have_count(2)
    (answer,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    expect(live.get_by_test_id("message")).to_contain_text(answer.content[0].text.value)  # type: ignore[union-attr]

    # Opened again, the thread is its stored messages; the answer links the run that wrote it, shown beside it.
    page.reload()
    stored = page.locator('[data-role="assistant"]')
    expect(stored).to_contain_text(answer.content[0].text.value)  # type: ignore[union-attr]
    expect(page.get_by_test_id("live-run")).to_have_count(0)
    stored.get_by_role("link", name=run.id).click()
    expect(page).to_have_url(re.compile(f"#/threads/{thread.id}/runs/{run.id}$"))
    expect(page.get_by_test_id("run-status")).to_have_text("completed")
    assert page_errors == []


def test_bad_options_send_nothing_and_a_failed_run_says_why(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    echo = client.beta.assistants.create(name="Failing echo", model="gpt-4-turbo")
    thread = client.beta.threads.create()
    open_playground(page, route=f"#/threads/{thread.id}")

    page.get_by_text("Run options").click()
    page.get_by_label("Functions (JSON array)").fill('[{"name": "f",')
    _send(page, echo.id, "[[error 400]]")
    expect(page.get_by_test_id("functions-error")).to_contain_text("Not JSON")
    assert client.beta.threads.messages.list(thread_id=thread.id).data == []

    page.get_by_label("Functions (JSON array)").fill("")
    page.get_by_role("button", name="Run", exact=True).click()
    live = page.get_by_test_id("live-run")
    expect(live.get_by_test_id("run-status")).to_have_text("failed", timeout=RUN_MS)
    expect(live.get_by_role("alert")).not_to_be_empty()
    assert page_errors == []


def test_file_search_answer_shows_results_and_numbered_citation(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    fact = "The Zorblatt lantern festival is held every spring in the hill village of Quenwick."
    store = client.vector_stores.create(name="festival guide")
    done = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("festival.txt", f"{fact} Tickets cost four silver coins.".encode())
    )
    assert done.status == "completed", done.last_error
    guide = client.beta.assistants.create(
        name="Guide",
        model="gpt-4-turbo",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = client.beta.threads.create()
    open_playground(page, route=f"#/threads/{thread.id}")

    _send(page, guide.id, "Where is the Zorblatt lantern festival held?")

    live = page.get_by_test_id("live-run")
    expect(live.get_by_test_id("run-status")).to_have_text("completed", timeout=RUN_MS)
    expect(live.get_by_test_id("file-search-card")).to_contain_text("festival.txt")
    answer = live.get_by_test_id("message")
    # The marker 【0:0†festival.txt】 became [1], and the citation under the text quotes the file by its name.
    expect(answer.locator(".text")).to_have_text(f"{fact} [1]")
    citation = answer.get_by_role("list", name="Citations").get_by_role("listitem")
    expect(citation).to_contain_text(fact)
    expect(citation).to_contain_text("festival.txt")
    assert page_errors == []


def test_a_run_waiting_for_outputs_when_the_thread_opens_is_answered_there(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    forecaster = client.beta.assistants.create(name="Waiting forecaster", tools=[WEATHER], model="gpt-4-turbo")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": '[[call get_weather {"city": "Oslo"}]]'}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=forecaster.id)
    assert run.status == "requires_action"

    open_playground(page, route=f"#/threads/{thread.id}")

    # Followed through the run's event log, which goes on past requires_action: the outputs go in with a plain POST
    # and the same follower shows the rest.
    live = page.get_by_test_id("live-run")
    form = live.get_by_test_id("tool-output-form")
    expect(form.get_by_label("Arguments of get_weather")).to_contain_text('"city": "Oslo"')
    form.get_by_label("Output of get_weather").fill("-3 C and snow")
    form.get_by_role("button", name="Submit outputs").click()
    expect(live.get_by_test_id("run-status")).to_have_text("completed", timeout=RUN_MS)
    expect(live.get_by_test_id("message")).to_contain_text("Tool results: -3 C and snow")
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "completed"
    assert page_errors == []


def test_no_tools_option_runs_without_the_assistants_tools(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    tutor = client.beta.assistants.create(
        name="Math Tutor", instructions=INSTRUCTIONS, tools=[{"type": "code_interpreter"}], model="gpt-4-turbo"
    )
    thread = client.beta.threads.create()
    open_playground(page, route=f"#/threads/{thread.id}")
    page.get_by_text("Run options").click()
    page.get_by_label("no tools").check()
    expect(page.get_by_label("code_interpreter")).to_be_disabled()
    _send(page, tutor.id, QUESTION)

    live = page.get_by_test_id("live-run")
    expect(live.get_by_test_id("run-status")).to_have_text("completed", timeout=RUN_MS)
    # Without code_interpreter offered, the mock echoes the question instead of writing code for it.
    expect(live.get_by_test_id("code-card")).to_have_count(0)
    (run,) = client.beta.threads.runs.list(thread_id=thread.id).data
    assert run.tools == [] and run.status == "completed"
    assert page_errors == []
