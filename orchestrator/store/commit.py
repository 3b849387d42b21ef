"""`Commit`: the description of one atomic write that `commit.lua` applies, built by services, run by the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import orjson

from orchestrator.domain.models import JSON

ActiveMode = Literal["", "acquire", "release", "free"]


@dataclass
class Commit:
    """Guards, then writes, then events, for one thread (and usually one run) in a single round trip.

    `guards` maps a run-hash field to the values it may have; `run_fields` are written to the run hash;
    `docs` are (key, JSON) documents; `index` are (sorted-set key, member) pairs; `events` are stream events.
    """

    project: str
    thread_id: str
    run_id: str = ""
    active: ActiveMode = ""
    guards: dict[str, tuple[str, ...]] = field(default_factory=dict)
    run_fields: dict[str, str] = field(default_factory=dict)
    docs: list[tuple[str, bytes]] = field(default_factory=list)
    index: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[str, bytes]] = field(default_factory=list)
    expires_at: int | None = None

    def event(self, name: str, data: JSON) -> Commit:
        self.events.append((name, orjson.dumps(data)))
        return self


@dataclass(frozen=True)
class CommitResult:
    version: int
    event_ids: list[str]
