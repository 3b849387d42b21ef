"""Where a streamed run's worker-side time goes: cProfile over `RunExecutor.execute` in this process, the real
store on an embedded server without persistence and the real `OpenAIChatModel` on the instant mock model.

    .venv/bin/python -m bench.profile --runs 200 --out /tmp/profile.md
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.suite import process, wait_http
from orchestrator import embedded
from orchestrator.domain.requests import AssistantCreate, MessageCreate, RunCreate
from orchestrator.logging import configure_logging
from orchestrator.services import assistants, runs, threads
from orchestrator.store import Keys, RedisStore
from workers.executor.llm import OpenAIChatModel
from workers.executor.loop import RunExecutor


@dataclass
class Recorded:
    """A dispatcher that keeps what the API would send to the pools (the run to execute here)."""

    runs: list[tuple[str, str, str, str]] = field(default_factory=list)

    def execute_run(self, project: str, thread_id: str, run_id: str, token: str) -> None:
        self.runs.append((project, thread_id, run_id, token))

    def run_tool(self, tool_type: str, payload: dict[str, Any]) -> None:
        raise AssertionError("a text run calls no tool")

    def ingest_file(self, project: str, vector_store_id: str, file_id: str) -> None:
        raise AssertionError("a text run ingests nothing")


def profile(runs_count: int, top: int) -> str:
    port = embedded.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = embedded.start(Path(tmp), persist=False)
        try:
            cmd = [sys.executable, "-m", "orchestrator", "mock-model", "--port", str(port)]
            with process(cmd):
                wait_http(f"http://127.0.0.1:{port}/v1/models")
                store = RedisStore(redis.Redis.from_url(server.url), Keys("profile"))
                dispatcher = Recorded()
                model = OpenAIChatModel(f"http://127.0.0.1:{port}/v1", "mock", timeout_s=30, max_retries=0)
                executor = RunExecutor(store, model, dispatcher, max_turns=4)
                assistant = assistants.create(store, "p", AssistantCreate(model="mock", instructions="Be brief."))

                def one() -> str:
                    thread = threads.create_thread(store, "p", None)
                    threads.add_message(store, "p", thread.id, MessageCreate(role="user", content="hello there"))
                    create = RunCreate(assistant_id=assistant.id, stream=True)
                    runs.create_run(store, dispatcher, "p", thread.id, create, expiry_s=600)
                    return executor.execute(*dispatcher.runs[-1])

                for _ in range(10):
                    one()  # warm up: connections, scripts, imports
                profiler = cProfile.Profile()
                helpers: list[cProfile.Profile] = []

                def in_helper_thread(*_: object) -> None:
                    """The model stream is read on a helper thread per call: profile each such thread too."""
                    helper = cProfile.Profile()
                    helpers.append(helper)
                    sys.setprofile(None)
                    helper.enable()

                started = time.perf_counter()
                threading.setprofile(in_helper_thread)
                profiler.enable()
                outcomes = [one() for _ in range(runs_count)]
                profiler.disable()
                threading.setprofile(None)
                elapsed = time.perf_counter() - started
        finally:
            server.stop()
    assert set(outcomes) == {"completed"}, set(outcomes)
    main_thread = table(pstats.Stats(profiler), "cumulative", top)
    threads_view = pstats.Stats(profiler)
    for helper in helpers:
        helper.create_stats()
        threads_view.add(helper)
    own = table(threads_view, "tottime", top)
    return (
        f"`python -m bench.profile --runs {runs_count}`: {runs_count} streamed text runs executed in one process "
        f"(thread, message and run created through the services, then `RunExecutor.execute`), "
        f"{elapsed / runs_count * 1000:.1f} ms a run under cProfile (which inflates it).\n\n"
        f"The executor's thread, top {top} by cumulative time (time waiting on Redis and on the model-stream "
        f"thread's queue included):\n\n```\n{main_thread}\n```\n\n"
        f"The executor's thread and the {len(helpers)} model-stream helper threads together, top {top} by own "
        f"time (a blocking call's own time is its wait: lock acquire is the executor waiting for the stream "
        f"thread, recv_into waiting for Redis):\n\n```\n{own}\n```\n"
    )


def table(stats: pstats.Stats, key: str, top: int) -> str:
    text = io.StringIO()
    stats.stream = text  # type: ignore[attr-defined]
    stats.sort_stats(key).print_stats(top)
    body = text.getvalue()
    body = body[body.index("   ncalls") :] if "   ncalls" in body else body
    return (
        body.replace(str(Path(sys.prefix)), "<venv>")
        .replace(str(Path(__file__).resolve().parents[1]), "<repo>")
        .rstrip()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    configure_logging("WARNING")
    text = profile(args.runs, args.top)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
