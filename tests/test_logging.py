"""Log lines: secrets are masked wherever they appear, and context bound in a run reaches every line."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from orchestrator.logging import Redactor, configure_logging
from orchestrator.settings import get_settings


def test_the_redactor_masks_secrets_inside_any_text() -> None:
    redactor = Redactor(["sk-secret-1", "hunter22"])
    event = {"event": "calling", "url": "redis://:hunter22@host/0", "detail": "Bearer sk-secret-1 sent", "n": 3}
    assert redactor(None, "info", event) == {
        "event": "calling",
        "url": "redis://:[REDACTED]@host/0",
        "detail": "Bearer [REDACTED] sent",
        "n": 3,
    }


def test_settings_list_every_secret() -> None:
    settings = get_settings(
        api_keys="sk-a=p1,sk-b=p2",
        model_api_key="sk-model",
        redis_url="redis://:pw1234@h:6379/0",
    )
    assert sorted(settings.secrets()) == ["pw1234", "sk-a", "sk-b", "sk-model"]


def test_configured_logging_emits_json_with_context_and_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True, secrets=["sk-top-secret"])
    try:
        log = structlog.get_logger("test")
        with structlog.contextvars.bound_contextvars(run_id="run_1", thread_id="thread_1"):
            log.info("run.started", header="Authorization: Bearer sk-top-secret")
            logging.getLogger("stdlib").warning("raw sk-top-secret")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
    assert lines[0]["event"] == "run.started" and lines[0]["run_id"] == "run_1" and lines[0]["thread_id"] == "thread_1"
    assert lines[0]["header"] == "Authorization: Bearer [REDACTED]"
    assert lines[1]["event"] == "raw [REDACTED]" and lines[1]["run_id"] == "run_1"
    assert "sk-top-secret" not in json.dumps(lines)
