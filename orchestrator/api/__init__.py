"""The HTTP API: OpenAI's Assistants v2 routes under /v1."""
