"""The Lua scripts, loaded once from `scripts/*.lua` and registered per client (EVALSHA with EVAL fallback)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import redis
from redis.commands.core import Script


@cache
def _source(name: str) -> str:
    return resources.files("orchestrator.store").joinpath("scripts", f"{name}.lua").read_text()


def source(name: str) -> str:
    """A script's text, for a client `Scripts` does not bind (the API's asyncio client)."""
    return _source(name)


class Scripts:
    """The scripts bound to one client."""

    def __init__(self, client: redis.Redis) -> None:
        self.commit: Script = client.register_script(_source("commit"))
        self.tool_output: Script = client.register_script(_source("tool_output"))
        self.lease: Script = client.register_script(_source("lease"))
        self.tool_claim: Script = client.register_script(_source("tool_claim"))
        self.active_cap: Script = client.register_script(_source("active_cap"))
