"""Chaos: runs in flight while worker processes are SIGKILLed at random and Redis is restarted once.

    .venv/bin/python -m bench.chaos [--runs 60] [--clients 12] [--seed 7]

Text, function-calling and code-interpreter runs go through the official `openai` SDK. Meanwhile a killer
SIGKILLs a random run or code-interpreter worker every 1-3 s (`up`'s supervisor restarts it) and, half way,
restarts the embedded server (its append-only file keeps the data). At the end every run must be terminal, none
may hold a duplicated message, step or terminal event, nothing recorded may be lost, and following each run's
events from the start must give exactly its event log. Prints runs, kills, restarts, stuck, duplicated, lost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import redis

from bench.stack import KEY_A, PROJECT_A, Stack, running_stack
from orchestrator.store import Keys

TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")
TERMINAL_EVENTS = {f"thread.run.{status}" for status in TERMINAL}
#: What each kind of run asks the mock model for.
PROMPTS = {
    "text": "[[slow 0.05]] [[long 60]]",
    "function": "[[call get_time {}]]",
    "code": "[[code import time; time.sleep(1); print(6 * 7)]]",
}
KILLABLE_ROLES = ("worker-runs", "worker-code-interpreter")
#: Leases short enough that a chaos run of a minute sees many recoveries.
CHAOS_ENV = {"ORCH_RUN_LEASE_S": "2", "ORCH_TASK_RESEND_AFTER_S": "3", "ORCH_SWEEP_INTERVAL_S": "0.2"}


@dataclass
class Report:
    runs: int = 0
    kills: int = 0
    restarts: int = 0
    stuck: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    streams_differing: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        return (
            f"runs {self.runs}, kills {self.kills}, restarts {self.restarts}, stuck {len(self.stuck)}, "
            f"duplicated {len(self.duplicated)}, lost {len(self.lost)}, streams differing "
            f"{len(self.streams_differing)}; outcomes {dict(sorted(self.outcomes.items()))}"
        )

    @property
    def clean(self) -> bool:
        return not (self.stuck or self.duplicated or self.lost or self.streams_differing)


def children(stack: Stack) -> list[dict[str, Any]]:
    state: dict[str, Any] = json.loads((stack.data_dir / "children.json").read_text())
    return list(state["children"])


class Killer(threading.Thread):
    """SIGKILLs a random worker every `every_s` seconds, `max_kills` at most (a worker takes seconds to boot: kill
    faster than that for long and nothing runs at all); once, after `restart_at_s`, restarts the Redis server."""

    def __init__(
        self,
        stack: Stack,
        rng: random.Random,
        every_s: tuple[float, float],
        restart_at_s: float | None,
        max_kills: int,
    ) -> None:
        super().__init__(daemon=True)
        self.stack, self.rng, self.every_s, self.restart_at_s = stack, rng, every_s, restart_at_s
        self.max_kills = max_kills
        self.done = threading.Event()
        self.kills = 0
        self.restarts = 0

    def run(self) -> None:
        started = time.monotonic()
        while not self.done.wait(self.rng.uniform(*self.every_s)):
            if self.restart_at_s is not None and not self.restarts and time.monotonic() - started >= self.restart_at_s:
                # A clean stop (the server writes out its append-only file), then the supervisor starts it again.
                if self._signal(["redis"], signal.SIGTERM):
                    self.restarts += 1
                continue
            if self.kills < self.max_kills and self._signal(list(KILLABLE_ROLES), signal.SIGKILL):
                self.kills += 1

    def _signal(self, roles: list[str], sig: signal.Signals) -> bool:
        candidates = [c["pid"] for c in children(self.stack) if c["role"] in roles and c["pid"]]
        if not candidates:
            return False
        try:
            os.kill(self.rng.choice(candidates), sig)
        except ProcessLookupError:
            return False  # it died on its own; the supervisor is already on it
        return True


def one_run(client: openai.OpenAI, assistants: dict[str, str], kind: str, deadline: float) -> tuple[str, str, str]:
    """Create a run of `kind` and drive it to a terminal status (answering function calls); returns ids, status."""
    run = client.beta.threads.create_and_run(
        assistant_id=assistants[kind], thread={"messages": [{"role": "user", "content": PROMPTS[kind]}]}
    )
    while time.monotonic() < deadline:
        try:
            run = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
            if run.status == "requires_action" and run.required_action is not None:
                outputs = [
                    {"tool_call_id": call.id, "output": "12:00"}
                    for call in run.required_action.submit_tool_outputs.tool_calls
                ]
                run = client.beta.threads.runs.submit_tool_outputs(
                    run.id,
                    thread_id=run.thread_id,
                    tool_outputs=outputs,  # type: ignore[arg-type]
                )
        except openai.APIError:
            pass  # Redis restarting: the API answers 503 for a moment; the next poll goes on
        if run.status in TERMINAL:
            break
        time.sleep(0.2)  # a client polling
    return run.thread_id, run.id, run.status


def check_run(stack: Stack, r: redis.Redis, thread_id: str, run_id: str, status: str, report: Report) -> None:
    keys = Keys(stack.key_prefix)
    log: list[tuple[str, dict[str, str]]] = r.xrange(keys.events(PROJECT_A, thread_id, run_id), "-", "+")  # type: ignore[assignment]
    names = [fields["e"] for _, fields in log]
    data = [json.loads(fields["d"]) for _, fields in log]
    if status not in TERMINAL:
        report.stuck.append(run_id)
        return
    terminal = [n for n in names if n in TERMINAL_EVENTS]
    created_messages = [d["id"] for n, d in zip(names, data, strict=True) if n == "thread.message.created"]
    created_steps = [d["id"] for n, d in zip(names, data, strict=True) if n == "thread.run.step.created"]
    indexed_messages: list[str] = r.zrange(keys.run_messages(PROJECT_A, thread_id, run_id), 0, -1)  # type: ignore[assignment]
    indexed_steps: list[str] = r.zrange(keys.steps(PROJECT_A, thread_id, run_id), 0, -1)  # type: ignore[assignment]
    if (
        len(terminal) != 1
        or len(set(created_messages)) != len(created_messages)
        or len(set(created_steps)) != len(created_steps)
        or len(indexed_messages) > 1  # every kind of run here answers with one message
    ):
        report.duplicated.append(run_id)
    if (
        terminal != [f"thread.run.{status}"]
        or sorted(indexed_messages) != sorted(created_messages)
        or sorted(indexed_steps) != sorted(created_steps)
        or any(r.get(keys.message(PROJECT_A, thread_id, m)) is None for m in indexed_messages)
    ):
        report.lost.append(run_id)
    followed = follow_events(stack, thread_id, run_id)
    if followed != [entry_id for entry_id, _ in log]:
        report.streams_differing.append(run_id)


def follow_events(stack: Stack, thread_id: str, run_id: str) -> list[str]:
    """The event ids `GET .../events` streams for the run from its start."""
    url = f"{stack.base_url}/threads/{thread_id}/runs/{run_id}/events"
    headers = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}
    with httpx.stream("GET", url, headers=headers, timeout=30) as response:
        response.raise_for_status()
        return [line[3:].strip() for line in response.iter_lines() if line.startswith("id:")]


def chaos(
    stack: Stack,
    runs: int,
    clients: int,
    seed: int = 7,
    kill_every_s: tuple[float, float] = (1.0, 3.0),
    max_kills: int = 20,
    restart_redis: bool = True,
    deadline_s: float = 180.0,
) -> Report:
    rng = random.Random(seed)
    report = Report(runs=runs)
    with stack.client(KEY_A, max_retries=8, timeout=20) as client:
        assistants = {
            "text": client.beta.assistants.create(model="mock").id,
            "function": client.beta.assistants.create(
                model="mock", tools=[{"type": "function", "function": {"name": "get_time", "parameters": {}}}]
            ).id,
            "code": client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}]).id,
        }
        kinds = [list(PROMPTS)[i % len(PROMPTS)] for i in range(runs)]
        killer = Killer(stack, rng, kill_every_s, 4.0 if restart_redis else None, max_kills)
        deadline = time.monotonic() + deadline_s
        killer.start()
        try:
            with ThreadPoolExecutor(max_workers=clients) as pool:
                results = list(pool.map(lambda kind: one_run(client, assistants, kind, deadline), kinds))
        finally:
            killer.done.set()
            killer.join()
    report.kills, report.restarts = killer.kills, killer.restarts
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    try:
        for thread_id, run_id, status in results:
            report.outcomes[status] += 1
            check_run(stack, r, thread_id, run_id, status, report)
    finally:
        r.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(Path(tmp), env=CHAOS_ENV, args=("--run-workers", "2", "--tool-workers", "2")) as stack,
    ):
        report = chaos(stack, args.runs, args.clients, args.seed)
    print(report.line())
    for name in ("stuck", "duplicated", "lost", "streams_differing"):
        if getattr(report, name):
            print(f"{name}: {getattr(report, name)}")
    raise SystemExit(0 if report.clean else 1)


if __name__ == "__main__":
    main()
