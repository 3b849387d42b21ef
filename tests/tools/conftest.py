"""`isolated_run`: the bubblewrap sandbox driven by this process (root here and in CI) and by a uid-10001 worker."""

from __future__ import annotations

import pytest

from tests.tools.support import Run, in_process_runner, non_root_runner

SECRET = "sk-sandbox-test-secret-do-not-leak"


@pytest.fixture(params=["this-worker", "uid-10001-worker"])
def isolated_run(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Runs code in the isolated mode; the worker driving it has SECRET in its environment."""
    monkeypatch.setenv("ORCH_MODEL_API_KEY", SECRET)
    if request.param == "this-worker":
        return in_process_runner()
    return non_root_runner({"ORCH_MODEL_API_KEY": SECRET})
