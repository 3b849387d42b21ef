"""Cursor pagination: limit, auto-pagination with `after=data[-1].id`, before/after/order, the run_id filter, and
the thread listing beyond OpenAI's API."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai.pagination import SyncCursorPage
from openai.types.beta import Thread

from tests.e2e.helpers import POLL_MS, make_assistant, message_text
from tests.stack import Stack

pytestmark = pytest.mark.e2e


def test_assistant_pages(stack: Stack) -> None:
    seen: list[str] = []

    def record(request: httpx2.Request) -> None:
        if request.method == "GET" and request.url.path == "/v1/assistants":
            seen.append(request.url.query.decode())

    http = openai.DefaultHttpxClient(event_hooks={"request": [record]})
    with stack.client(http_client=http) as client:
        # Nothing else creates assistants while this test runs, so these five are the newest of the project.
        a = [make_assistant(client, name=f"page-{i}").id for i in range(5)]
        assistants = client.beta.assistants

        first = assistants.list(limit=2)
        assert [x.id for x in first.data] == [a[4], a[3]]  # default order: newest first
        assert first.has_more is True
        seen.clear()
        newest_five = []
        for item in assistants.list(limit=2):  # auto-pagination
            newest_five.append(item.id)
            if len(newest_five) == 5:
                break
        assert newest_five == a[::-1]
        assert seen == ["limit=2", f"limit=2&after={a[3]}", f"limit=2&after={a[1]}"]

        page = assistants.list(limit=2, order="asc", after=a[0])
        assert ([x.id for x in page.data], page.has_more) == ([a[1], a[2]], True)
        page = assistants.list(limit=5, order="asc", after=a[2])
        assert ([x.id for x in page.data], page.has_more) == ([a[3], a[4]], False)
        page = assistants.list(limit=3, order="desc", after=a[4])
        assert ([x.id for x in page.data], page.has_more) == ([a[3], a[2], a[1]], True)
        # `before` returns the items just before the cursor, still in the requested order.
        page = assistants.list(limit=2, order="asc", before=a[4])
        assert ([x.id for x in page.data], page.has_more) == ([a[2], a[3]], True)
        page = assistants.list(limit=10, order="desc", before=a[0])
        assert ([x.id for x in page.data], page.has_more) == ([a[4], a[3], a[2], a[1]], False)
        page = assistants.list(order="asc", after=a[1], before=a[4])
        assert [x.id for x in page.data] == [a[2], a[3]]
        raw = client.beta.assistants.with_raw_response.list(limit=2, order="asc", after=a[0]).http_response.json()
        assert (raw["object"], raw["first_id"], raw["last_id"]) == ("list", a[1], a[2])

        client.beta.assistants.delete(a[2])
        assert [x.id for x in assistants.list(limit=3).data] == [a[4], a[3], a[1]]


def test_messages_pages_and_run_filter(client: openai.OpenAI) -> None:
    texts = [f"[[text reply {i}]]" for i in range(5)]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": t} for t in texts])
    messages = client.beta.threads.messages
    # Messages created in one request list in the order given.
    assert [message_text(m) for m in messages.list(thread_id=thread.id, order="asc")] == texts
    assert [message_text(m) for m in messages.list(thread_id=thread.id, limit=2)] == texts[::-1]
    ids = [m.id for m in messages.list(thread_id=thread.id, order="asc")]
    page = messages.list(thread_id=thread.id, order="asc", after=ids[1], limit=2)
    assert ([m.id for m in page.data], page.has_more) == (ids[2:4], True)

    assistant = make_assistant(client, name="pager")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed"
    (reply,) = messages.list(thread_id=thread.id, run_id=run.id).data
    assert (reply.role, reply.run_id, message_text(reply)) == ("assistant", run.id, "reply 4")
    everything = messages.list(thread_id=thread.id).data
    assert [m.id for m in everything] == [reply.id, *ids[::-1]]
    assert messages.list(thread_id=thread.id, run_id="run_unknown").data == []


def test_thread_pages_through_the_sdk_s_own_paginator(client: openai.OpenAI, client_b: openai.OpenAI) -> None:
    """`GET /v1/threads` is beyond OpenAI's API, so the SDK has no method for it; its generic list call still pages
    through it, which is what OpenAI's list envelope promises."""

    def threads(sdk: openai.OpenAI, **params: object) -> SyncCursorPage[Thread]:
        return sdk.get_api_list(
            "/threads",
            model=Thread,
            page=SyncCursorPage[Thread],
            options={"headers": {"OpenAI-Beta": "assistants=v2"}, "params": params},
        )

    # Nothing else creates threads while this test runs, so these are the newest of the project.
    assistant = make_assistant(client, name="thread-lister")
    made = [client.beta.threads.create().id]
    made.append(client.beta.threads.create_and_run(assistant_id=assistant.id).thread_id)
    made.append(client.beta.threads.create(metadata={"page": "3"}).id)

    first = threads(client, limit=2)
    assert ([t.id for t in first.data], first.has_more) == ([made[2], made[1]], True)
    assert first.data[0].metadata == {"page": "3"}
    newest = []
    for thread in threads(client, limit=2):  # auto-pagination follows `after=data[-1].id`
        newest.append(thread.id)
        if len(newest) == 3:
            break
    assert newest == made[::-1]
    assert made[0] not in {t.id for t in threads(client_b, limit=100)}
    client.beta.threads.delete(made[1])
    assert [t.id for t in threads(client, limit=2).data] == [made[2], made[0]]  # one page: iterating pages on
