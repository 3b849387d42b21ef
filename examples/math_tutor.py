"""The seed example: OpenAI's Assistants quickstart, unchanged but for `base_url` and `api_key`.

python examples/math_tutor.py --base-url http://127.0.0.1:8000/v1 --api-key sk-orch-...
"""

from __future__ import annotations

import argparse

from openai import AssistantEventHandler, OpenAI
from typing_extensions import override


class EventHandler(AssistantEventHandler):
    @override
    def on_text_created(self, text) -> None:  # type: ignore[no-untyped-def]
        print("\nassistant > ", end="", flush=True)

    @override
    def on_text_delta(self, delta, snapshot) -> None:  # type: ignore[no-untyped-def]
        print(delta.value, end="", flush=True)

    @override
    def on_tool_call_created(self, tool_call) -> None:  # type: ignore[no-untyped-def]
        print(f"\nassistant > {tool_call.type}\n", flush=True)

    @override
    def on_tool_call_delta(self, delta, snapshot) -> None:  # type: ignore[no-untyped-def]
        if delta.type == "code_interpreter" and delta.code_interpreter:
            if delta.code_interpreter.input:
                print(delta.code_interpreter.input, end="", flush=True)
            if delta.code_interpreter.outputs:
                print("\n\noutput >", flush=True)
                for output in delta.code_interpreter.outputs:
                    if output.type == "logs":
                        print(f"\n{output.logs}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    client = OpenAI(base_url=args.base_url, api_key=args.api_key)

    assistant = client.beta.assistants.create(
        name="Math Tutor",
        instructions="You are a personal math tutor. Write and run code to answer math questions.",
        tools=[{"type": "code_interpreter"}],
        model="gpt-4-turbo",
    )
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(
        thread_id=thread.id, role="user", content="I need to solve the equation '3x + 11 = 14'. Can you help me?"
    )
    with client.beta.threads.runs.stream(
        thread_id=thread.id,
        assistant_id=assistant.id,
        instructions="Please address the user as Jane Doe. The user has a premium account.",
        event_handler=EventHandler(),
    ) as stream:
        stream.until_done()
    print()


if __name__ == "__main__":
    main()
