"""A thread's code_interpreter session, kept in Redis so that any worker of the pool can continue it.

The hosted tool kept one live Jupyter kernel per thread. A kernel pins the thread to one process: it dies with its
worker and cannot move when the pool scales. Here a session is its history instead: the code of every cell that
ran (and the input files seeded before it), replayed silently into a fresh interpreter before the next cell. What
a replay rebuilds is what the cells computed from their inputs: variables, imports, functions, files under
/mnt/data. What it cannot rebuild the same: randomness not seeded, the clock, anything fetched or kept open outside
(no network in the sandbox anyway), and processes the cells started. The cost grows with the session, so both are
capped: at most `max_cells` cells (the next one starts a fresh session, and says so), and a replay time budget
(a replay that exceeds it starts a fresh session too).

Keys (orchestrator/store/keys.py, all under the thread's hash tag, expiring after the idle time):
- `code_cells`: list of JSON `{"code", "inputs": {name: file_id}}`, in the order the cells ran;
- `code_inputs`: hash name -> file_id of the input files seeded so far (a file seeds again only when new);
- `code_files`: hash `sandbox:/mnt/data/<path>` -> file_id of every file the session has, for `file_path` links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from orchestrator.store.keys import Keys


@dataclass(frozen=True)
class RecordedCell:
    code: str
    inputs: dict[str, str] = field(default_factory=dict)  # name in /mnt/data -> file id, seeded before the cell


@dataclass(frozen=True)
class Session:
    cells: list[RecordedCell] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


class SessionStore:
    def __init__(self, client: redis.Redis, keys: Keys, idle_s: int) -> None:
        self.client = client
        self.keys = keys
        self.idle_s = idle_s

    def _keys(self, project: str, thread_id: str) -> tuple[str, str, str]:
        k = self.keys
        return (
            k.code_cells(project, thread_id),
            k.code_inputs(project, thread_id),
            k.code_files(project, thread_id),
        )

    def load(self, project: str, thread_id: str) -> Session:
        cells_key, inputs_key, files_key = self._keys(project, thread_id)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.lrange(cells_key, 0, -1)
            pipe.hgetall(inputs_key)
            pipe.hgetall(files_key)
            raw_cells, inputs, files = pipe.execute()
        cells = [RecordedCell(**orjson.loads(raw)) for raw in raw_cells]
        return Session(cells=cells, inputs=_text(inputs), files=_text(files))

    def record(
        self,
        project: str,
        thread_id: str,
        cell: RecordedCell | None,
        files: Mapping[str, str],
        *,
        fresh: bool = False,
    ) -> None:
        """Append `cell` (None: only keep the session alive) and its `files`; `fresh` drops the old session first.

        One MULTI, so a reader sees the session before or after the cell, never a cell without its inputs.
        """
        keys = self._keys(project, thread_id)
        cells_key, inputs_key, files_key = keys
        with self.client.pipeline(transaction=True) as pipe:
            if fresh:
                pipe.delete(*keys)
            if cell is not None:
                pipe.rpush(cells_key, orjson.dumps({"code": cell.code, "inputs": cell.inputs}))
                if cell.inputs:
                    pipe.hset(inputs_key, mapping=_mapping(cell.inputs))
            if files:
                pipe.hset(files_key, mapping=_mapping(files))
            for key in keys:
                pipe.expire(key, self.idle_s)
            pipe.execute()

    def reset(self, project: str, thread_id: str) -> None:
        self.client.delete(*self._keys(project, thread_id))


def sandbox_files(client: redis.Redis, keys: Keys, project: str, thread_id: str) -> dict[str, str]:
    """`sandbox:/mnt/data/<path>` -> file id of the thread's session files (what an answer's links may name)."""
    return _text(client.hgetall(keys.code_files(project, thread_id)))


def _mapping(values: Mapping[str, str]) -> dict[Any, Any]:
    return dict(values)  # redis-py's Mapping parameter is invariant in its key type


def _text(mapping: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {_str(k): _str(v) for k, v in mapping.items()}


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
