"""Where a run's server-side tools find their resources: the run's own tool_resources, the assistant's, the thread's.

Read when the model calls the tool rather than when the run was created, so what was attached since is found too.
"""

from __future__ import annotations

from orchestrator.domain.models import JSON, Run
from orchestrator.store import RedisStore


def tool_resources(store: RedisStore, project: str, run: Run, tool: str) -> list[JSON]:
    """The `tool_resources[tool]` of the run, its assistant and its thread, in that order (missing ones left out)."""
    holders: list[JSON] = [run.tool_resources]
    assistant = store.get_assistant(project, run.assistant_id)
    if assistant is not None:
        holders.append(assistant.tool_resources)
    thread = store.get_thread(project, run.thread_id)
    if thread is not None:
        holders.append(thread.tool_resources)
    return [(holder or {}).get(tool) or {} for holder in holders]
