"""The mock model and file_search: when it searches, and how it answers with a cited quote."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.mockmodel.script import NOTHING_FOUND, Answer, decide

FILE_SEARCH = {"type": "function", "function": {"name": "file_search", "parameters": {"type": "object"}}}
CODE_INTERPRETER = {"type": "function", "function": {"name": "code_interpreter", "parameters": {"type": "object"}}}
RESULTS = (
    'file_search results for "hours". Cite a result by writing its marker.\n'
    "\n【1:0†guide.md】 (score 0.900)\nThe garden opens at 7 am.\nIt closes at dusk.\n"
    "\n【1:1†faq.txt】 (score 0.400)\nParking is free."
)


def user(content: str) -> dict[str, Any]:
    return {"role": "user", "content": content}


def answer(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> Answer:
    result = decide(messages, tools)
    assert isinstance(result, Answer)
    return result


def searched(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(call.name, json.loads(call.arguments)) for call in answer(messages, tools).tool_calls]


def after_search(output: str, name: str = "file_search") -> Answer:
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": '{"query":"hours"}'}}
    messages = [
        user("When does the garden open?"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": output},
    ]
    return answer(messages, [FILE_SEARCH])


def test_a_search_directive_searches_its_query() -> None:
    assert searched([user("[[search opening hours]] please")], [FILE_SEARCH]) == [
        ("file_search", {"query": "opening hours"})
    ]


def test_a_question_is_searched_without_its_directives() -> None:
    calls = searched([user("[[slow 0]] When does the garden open?")], [FILE_SEARCH])
    assert calls == [("file_search", {"query": "When does the garden open?"})]


def test_statements_and_unoffered_tools_are_not_searched() -> None:
    assert searched([user("The garden is nice.")], [FILE_SEARCH]) == []
    assert answer([user("When does it open?")]).content == "You said: When does it open?"
    assert answer([user("[[search hours]]")], [CODE_INTERPRETER]).content == "Hello! How can I help you today?"


def test_an_equation_still_goes_to_code_when_both_tools_are_offered() -> None:
    calls = searched([user("Solve 3x + 11 = 14, can you?")], [FILE_SEARCH, CODE_INTERPRETER])
    assert [name for name, _ in calls] == ["code_interpreter"]


def test_results_are_answered_with_the_top_results_first_sentence_and_its_marker() -> None:
    reply = after_search(RESULTS)
    assert reply.content == "The garden opens at 7 am. 【1:0†guide.md】"
    assert reply.tool_calls == () and reply.finish_reason == "stop"


def test_no_results_and_other_tools_outputs() -> None:
    assert after_search('file_search found nothing for "hours" in the attached files.').content == NOTHING_FOUND
    assert after_search(RESULTS, name="lookup").content == "Tool results: " + RESULTS


def test_the_quoted_sentence_is_the_first_one_about_the_question() -> None:
    output = "results\n\n【0:0†handbook.md】 (score 1.000)\n# Staff handbook\n\n## Time off\nThe garden shuts at dusk."
    assert after_search(output).content == "The garden shuts at dusk. 【0:0†handbook.md】"
    unrelated = "results\n\n【0:0†x.md】 (score 1.000)\n# Title\n\nNothing relevant."
    assert after_search(unrelated).content == "# Title 【0:0†x.md】"
