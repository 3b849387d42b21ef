"""Runs the mock model as a standalone HTTP server."""

from __future__ import annotations

import uvicorn

from orchestrator.mockmodel.app import create_app


def serve(host: str, port: int, latency_s: float, token_delay_s: float) -> None:
    """Serve the mock model until interrupted; quiet logging keeps benchmark and demo output readable."""
    uvicorn.run(create_app(latency_s=latency_s, token_delay_s=token_delay_s), host=host, port=port, log_level="warning")
