"""The assistants view in a browser: the seed's Math Tutor built in the page, function definitions checked before
anything is sent, edits with a server-side refusal shown beside the form, delete, and one project's assistants
kept from another project's key."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from playwright.sync_api import Page, Request, expect

from tests.playground.math_tutor import INSTRUCTIONS, create_in_editor
from tests.stack import KEY_A, KEY_B, Stack


def _assistant_posts(page: Page) -> list[str]:
    """The URLs of the page's POST /v1/assistants[/{id}] requests, as they are sent."""
    sent: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST" and re.search(r"/v1/assistants(/[^/]+)?$", request.url):
            sent.append(request.url)

    page.on("request", record)
    return sent


def _expected_refusal(page_errors: list[str], status: str) -> None:
    """Drop the one console line Chromium writes for a refusal the test caused on purpose (any other stays)."""
    page_errors.remove(f"Failed to load resource: the server responded with a status of {status}")


def test_create_the_math_tutor(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    open_playground(page, route="#/assistants/new")
    create_in_editor(page)
    listed = page.get_by_test_id("assistant-list").get_by_role("link", name=re.compile(r"^Math Tutor"))
    expect(listed).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name="Math Tutor")).to_be_visible()
    assistant_id = page.url.rpartition("/")[2]
    assert assistant_id.startswith("asst_")

    saved = stack.client().beta.assistants.retrieve(assistant_id)
    assert (saved.name, saved.model, saved.instructions) == ("Math Tutor", "gpt-4-turbo", INSTRUCTIONS)
    assert [tool.type for tool in saved.tools] == ["code_interpreter"]
    # The editor shows what the API holds, not only what was typed.
    expect(page.get_by_label("Instructions", exact=True)).to_have_value(INSTRUCTIONS)
    expect(page.get_by_label("code_interpreter")).to_be_checked()
    expect(page.get_by_label("file_search")).not_to_be_checked()
    assert page_errors == []


def test_invalid_function_json_is_shown_and_nothing_is_sent(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    name = f"Weather {uuid.uuid4().hex[:6]}"
    open_playground(page, route="#/assistants/new")
    sent = _assistant_posts(page)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Model").fill("gpt-4-turbo")
    functions = page.get_by_label("Functions")
    error = page.get_by_test_id("error-functions")

    functions.fill('[\n  {"name": "get_weather",}\n]')
    page.get_by_role("button", name="Create assistant").click()
    expect(error).to_have_text(re.compile(r"^JSON syntax error at line 2, column 26"))
    expect(error).to_have_attribute("role", "alert")
    expect(functions).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("form-error")).to_have_text("One field needs fixing; nothing was sent.")

    functions.fill('[{"name": "get weather", "parameters": {"type": "object"}}]')
    page.get_by_role("button", name="Create assistant").click()
    expect(error).to_have_text(re.compile(r'^Function 1: name must be .*got "get weather"'))

    functions.fill('[{"type": "function", "function": {"name": "get_weather", "parameters": []}}]')
    page.get_by_role("button", name="Create assistant").click()
    expect(error).to_have_text("Function 1 (get_weather): parameters must be a JSON Schema object.")

    assert sent == []
    assert name not in [a.name for a in stack.client().beta.assistants.list(limit=100)]
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)  # what was typed stays
    assert page_errors == []


def test_edit_with_a_server_error_then_delete(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    client = stack.client()
    created = client.beta.assistants.create(name="Draft", model="gpt-4-turbo", instructions="Be brief.")
    open_playground(page, route=f"#/assistants/{created.id}")
    sent = _assistant_posts(page)

    page.get_by_label("Name", exact=True).fill("Weather helper")
    page.get_by_label("Temperature").fill("0.3")
    page.get_by_label("Functions").fill(
        '[{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",'
        ' "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]'
    )
    page.get_by_role("button", name="Add metadata").click()
    page.get_by_label("Metadata key 1").fill("team")
    page.get_by_label("Metadata value 1").fill("weather")
    # A refusal only the server knows: its 400 names the param; the form keeps everything typed.
    page.get_by_label("Response format").select_option("json_schema")
    page.get_by_label("JSON schema").fill('{"name": "answer", "strict": "yes"}')
    page.get_by_role("button", name="Save changes").click()
    form_error = page.get_by_test_id("form-error")
    expect(form_error).to_contain_text("(response_format.json_schema.strict)")
    expect(page.get_by_test_id("error-response_format")).to_have_text(re.compile(r"boolean"))
    expect(page.get_by_label("Name", exact=True)).to_have_value("Weather helper")
    assert len(sent) == 1

    page.get_by_label("JSON schema").fill('{"name": "answer", "strict": true, "schema": {"type": "object"}}')
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_test_id("form-status")).to_have_text(re.compile(r"^Saved at"))
    expect(form_error).to_be_empty()
    listed = page.get_by_test_id("assistant-list").get_by_role("link", name=re.compile(r"^Weather helper"))
    expect(listed).to_be_visible()

    saved = client.beta.assistants.retrieve(created.id)
    assert (saved.name, saved.temperature, saved.metadata) == ("Weather helper", 0.3, {"team": "weather"})
    assert saved.instructions == "Be brief."
    wire = saved.model_dump()
    assert [(t["type"], t["function"]["name"]) for t in wire["tools"]] == [("function", "get_weather")]
    assert wire["response_format"]["type"] == "json_schema"

    # Try in a thread: a new thread, opened in the thread view with this assistant chosen.
    page.get_by_role("button", name="Try in a thread").click()
    expect(page).to_have_url(re.compile(r"#/threads/thread_"))
    assert page.evaluate("sessionStorage.getItem('orchestrator.playground.assistant')") == created.id
    expect(page.locator("select[name=assistant]")).to_have_value(created.id)
    page.go_back()

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Cancel").click()  # the first click only asks
    assert client.beta.assistants.retrieve(created.id).id == created.id
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_role("status").filter(has_text="Deleted Weather helper.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/assistants$"))
    expect(listed).to_have_count(0)
    assert created.id not in [a.id for a in client.beta.assistants.list(limit=100)]
    _expected_refusal(page_errors, "400 (Bad Request)")
    assert page_errors == []


def test_project_b_does_not_see_project_a(
    stack: Stack, page: Page, page_errors: list[str], open_playground: Callable[..., None]
) -> None:
    secret = stack.client(KEY_A).beta.assistants.create(name="Project A only", model="gpt-4-turbo")
    stack.client(KEY_B).beta.assistants.create(name="Project B's own", model="gpt-4-turbo")
    open_playground(page, key=KEY_B, route="#/assistants")
    assistants = page.get_by_test_id("assistant-list")
    expect(assistants.get_by_role("link", name=re.compile(r"^Project B's own"))).to_be_visible()
    expect(assistants).not_to_contain_text("Project A only")

    page.goto(page.url.replace("#/assistants", f"#/assistants/{secret.id}"))
    expect(page.get_by_role("alert").filter(has_text=f"No assistant {secret.id} in this project.")).to_be_visible()
    _expected_refusal(page_errors, "404 (Not Found)")
    assert page_errors == []
