"""A deterministic, OpenAI-compatible Chat Completions server: the test double of the upstream model."""

from orchestrator.mockmodel.app import create_app
from orchestrator.mockmodel.server import serve

__all__ = ["create_app", "serve"]
