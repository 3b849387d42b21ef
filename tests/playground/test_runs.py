"""The playground's run detail (a past run's steps, usage, timings and raw events) and its thread list."""

from __future__ import annotations

import re
from collections.abc import Callable

import openai
import pytest
from openai.types.shared_params import FunctionDefinition
from playwright.sync_api import Page, expect

from tests.stack import Stack


def test_run_detail_shows_code_output_usage_and_events(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    assistant = client.beta.assistants.create(
        name="Run detail",
        model="gpt-4-turbo",
        tools=[{"type": "code_interpreter"}],
        instructions="Run the code you are given.",
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[code print(6*7)]]"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed" and run.usage is not None

    open_playground(page, route=f"#/threads/{thread.id}/runs/{run.id}")

    expect(page.get_by_test_id("run-status")).to_have_text("completed")
    card = page.get_by_test_id("code-card")
    expect(card.get_by_label("Code")).to_have_text("print(6*7)")
    expect(card.get_by_label("Output")).to_have_text(re.compile(r"^\s*42\s*$"))
    usage = page.get_by_test_id("run-usage")
    for label, count in [
        ("prompt tokens", run.usage.prompt_tokens),
        ("completion tokens", run.usage.completion_tokens),
        ("total tokens", run.usage.total_tokens),
    ]:
        expect(usage).to_contain_text(f"{label}{count}")
    assert run.usage.total_tokens > 0
    # Both steps, the code call's and the answer's, each a card of its own with its status.
    expect(page.get_by_test_id("run-step")).to_have_count(2)
    answer = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data[0]
    expect(page.get_by_test_id("step-message-id")).to_have_text(answer.id)
    text = answer.content[0]
    assert text.type == "text" and text.text.value
    expect(page.get_by_test_id("step-message")).to_have_text(text.text.value)
    events = page.get_by_test_id("run-events")
    expect(events).to_contain_text("thread.run.completed")
    expect(page.get_by_text(re.compile(r"^Raw events \(\d+\)$"))).to_be_visible()  # the replay has ended
    # Each event opens to its data, pretty-printed.
    events.get_by_text("thread.run.completed", exact=True).click()
    data = events.locator("li", has_text="thread.run.completed").locator("pre")
    expect(data).to_contain_text(f'"id": "{run.id}"')
    expect(data).to_contain_text('"status": "completed"')
    events.get_by_text("thread.run.completed", exact=True).click()
    expect(data).to_be_hidden()
    page.evaluate("window.scrollTo(0, 0)")  # the screenshot: the whole run, from the top
    assert page_errors == []


def test_run_detail_shows_a_plot_of_the_code(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    """An image output is fetched with the key and shown from a blob: URL (the CSP allows no other)."""
    client = stack.client()
    assistant = client.beta.assistants.create(name="Plotter", model="gpt-4-turbo", tools=[{"type": "code_interpreter"}])
    code = "import matplotlib.pyplot as plt; plt.plot([1, 4, 2, 3])"
    thread = client.beta.threads.create(messages=[{"role": "user", "content": f"[[code {code}]]"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed", run.last_error
    step = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc").data[0]
    assert step.step_details.type == "tool_calls"
    call = step.step_details.tool_calls[0]
    assert call.type == "code_interpreter"
    [image] = [output.image.file_id for output in call.code_interpreter.outputs if output.type == "image"]

    open_playground(page, route=f"#/threads/{thread.id}/runs/{run.id}")

    plot = page.get_by_test_id("code-card").get_by_role("img", name=f"Image output {image}")
    expect(plot).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=plot.element_handle())  # decoded
    assert page_errors == []


def test_run_detail_shows_file_search_results_with_their_content(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    """The steps are read with `include[]` for the results' content, which a run's own step objects leave out."""
    client = stack.client()
    fact = "The Quenwick lantern festival is held every spring."
    store = client.vector_stores.create(name="festivals")
    done = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id,
        file=("festival.txt", f"{fact} Tickets cost four coins.".encode()),
        poll_interval_ms=200,
    )
    assert done.status == "completed", done.last_error
    assistant = client.beta.assistants.create(
        name="Festival guide",
        model="gpt-4-turbo",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[search lantern festival]]"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed", run.last_error
    step = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc").data[0]
    assert step.step_details.type == "tool_calls"
    call = step.step_details.tool_calls[0]
    assert call.type == "file_search" and call.file_search.results
    top = call.file_search.results[0]

    open_playground(page, route=f"#/threads/{thread.id}/runs/{run.id}")

    card = page.get_by_test_id("file-search-card")
    first = card.get_by_role("listitem").first
    expect(first).to_contain_text("festival.txt")
    expect(first.get_by_title("score")).to_have_text(f"{top.score:.3f}")
    expect(first.locator("pre")).to_contain_text(fact)
    expect(page.get_by_test_id("run-status")).to_have_text("completed")
    assert page_errors == []


def test_run_detail_follows_a_live_run(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    """A run waiting for a function's output is live: what happens to it next streams into the open page."""
    client = stack.client()
    weather: FunctionDefinition = {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    assistant = client.beta.assistants.create(
        name="Live run", model="gpt-4-turbo", tools=[{"type": "function", "function": weather}]
    )
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": '[[call get_weather {"city": "Paris"}]]'}]
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action" and run.required_action is not None

    open_playground(page, route=f"#/threads/{thread.id}/runs/{run.id}")

    expect(page.get_by_test_id("run-status")).to_have_text("requires_action")
    card = page.get_by_test_id("function-card")
    expect(card).to_contain_text("get_weather")
    expect(card.get_by_label("Arguments")).to_contain_text('"city": "Paris"')
    expect(page.get_by_text(re.compile(r"^Raw events \(\d+\) · live$"))).to_be_visible()

    # Leaving the page stops following the run; coming back follows it again from the start of its log.
    run_page = page.url
    with page.expect_event("requestfailed", lambda request: request.url.endswith(f"/runs/{run.id}/events")):
        page.get_by_role("link", name="← Back to the conversation").click()
    page.goto(run_page)
    expect(page.get_by_text(re.compile(r"^Raw events \(\d+\) · live$"))).to_be_visible()

    call = run.required_action.submit_tool_outputs.tool_calls[0]
    client.beta.threads.runs.submit_tool_outputs(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "18 degrees, sunny"}]
    )

    expect(page.get_by_test_id("run-status")).to_have_text("completed")
    expect(card.get_by_label("Function output")).to_have_text("18 degrees, sunny")
    expect(page.get_by_test_id("run-events")).to_contain_text("thread.run.completed")
    expect(page.get_by_text(re.compile(r"^Raw events \(\d+\)$"))).to_be_visible()  # the stream has ended
    assert page_errors == []


def test_thread_list_opens_lists_and_deletes_threads(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    kept = client.beta.threads.create(metadata={"topic": "thread list"})
    doomed = client.beta.threads.create()
    threads = page.locator("[data-thread-id]")

    open_playground(page, route="#/threads")

    page.get_by_role("button", name="New thread").click()
    expect(page).to_have_url(re.compile(r"#/threads/thread_[A-Za-z0-9]+$"))
    created = page.url.rsplit("/", 1)[1]
    assert client.beta.threads.retrieve(created).id == created

    page.goto(page.url.split("#", 1)[0] + "#/threads")
    page.get_by_label("Open thread by id").fill(kept.id)
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page).to_have_url(re.compile(rf"#/threads/{kept.id}$"))

    page.goto(page.url.split("#", 1)[0] + "#/threads")
    row = page.locator(f'[data-thread-id="{kept.id}"]')
    expect(row).to_contain_text("topic=thread list")
    expect(row.get_by_role("link")).to_have_attribute("href", f"#/threads/{kept.id}")
    # Newest first: the thread made in the page, then the two made before it in the opposite order.
    expect(threads.first).to_have_attribute("data-thread-id", created)
    ids = [threads.nth(i).get_attribute("data-thread-id") for i in range(threads.count())]
    assert ids.index(created) < ids.index(doomed.id) < ids.index(kept.id)

    page.get_by_role("button", name=f"Delete {doomed.id}").click()
    page.get_by_role("button", name=f"Confirm delete {doomed.id}").click()
    expect(page.locator(f'[data-thread-id="{doomed.id}"]')).to_have_count(0)
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(doomed.id)
    expect(row).to_be_visible()
    assert page_errors == []
