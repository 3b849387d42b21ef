"""Orchestrator: the OpenAI Assistants API v2 on Celery and Redis."""

__version__ = "0.1.0"
