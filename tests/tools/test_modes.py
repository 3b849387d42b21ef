"""Choosing the mode: isolation by default, refusal when it does not work here, `unsafe` only when asked for."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pydantic
import pytest
from structlog.testing import capture_logs

from orchestrator.settings import get_settings
from workers.tools.code_interpreter import tasks
from workers.tools.code_interpreter.sandbox import BubblewrapSandbox, SandboxLimits, SandboxUnavailable
from workers.tools.code_interpreter.tasks import UNAVAILABLE_MESSAGE, ExecutionPolicy, execute_code, policy_from

NO_NAMESPACES = "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"


@pytest.fixture(autouse=True)
def fresh_sandboxes() -> Iterator[None]:
    tasks.sandbox_for.cache_clear()
    yield
    tasks.sandbox_for.cache_clear()


@pytest.fixture(params=["missing", "no-namespaces"])
def broken_bwrap(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A bwrap setting that cannot isolate: a missing binary, or one the kernel refuses namespaces to."""
    if request.param == "missing":
        return str(tmp_path / "no-such-bwrap")
    fake = tmp_path / "bwrap"
    fake.write_text(NO_NAMESPACES)
    fake.chmod(0o755)
    return str(fake)


def policy(mode: str, bwrap: str = "bwrap") -> ExecutionPolicy:
    return ExecutionPolicy(mode=mode, bwrap=bwrap, limits=SandboxLimits(timeout_s=20))  # type: ignore[arg-type]


def test_isolation_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCH_CODE_SANDBOX", raising=False)
    monkeypatch.delenv("ORCH_CODE_SANDBOX_BWRAP", raising=False)
    chosen = policy_from(get_settings())
    assert (chosen.mode, chosen.bwrap) == ("bubblewrap", "bwrap")


def test_unsafe_is_chosen_only_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_CODE_SANDBOX", "unsafe")
    assert policy_from(get_settings()).mode == "unsafe"
    for wrong in ("none", "off", "Unsafe", ""):
        monkeypatch.setenv("ORCH_CODE_SANDBOX", wrong)
        with pytest.raises(pydantic.ValidationError, match="code_sandbox"):
            get_settings()


def test_without_isolation_the_default_mode_refuses_to_run_code(broken_bwrap: str, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    result = execute_code(f"open({str(ran)!r}, 'w').write('x')\nprint('ran')", policy("bubblewrap", broken_bwrap))
    # The {"error": ...} shape fails the run with server_error and this message (workers/tools/results.py).
    assert result == {"error": UNAVAILABLE_MESSAGE}
    assert not ran.exists()


def test_the_sandbox_itself_refuses_rather_than_falling_back(broken_bwrap: str) -> None:
    sandbox = BubblewrapSandbox(broken_bwrap)
    assert sandbox.unavailable_reason is not None
    with pytest.raises(SandboxUnavailable) as refused:
        sandbox.run("print('hi')", SandboxLimits())
    assert refused.value.mode == "bubblewrap"
    assert refused.value.reason == sandbox.unavailable_reason


def test_the_refusal_says_why_in_the_worker_log(tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text(NO_NAMESPACES)
    fake.chmod(0o755)
    with capture_logs() as logs:
        execute_code("print('hi')", policy("bubblewrap", str(fake)))
    events = {entry["event"]: entry for entry in logs}
    assert "No permissions to create new namespace" in events["code_sandbox.unavailable"]["reason"]
    assert events["code_sandbox.refused"]["mode"] == "bubblewrap"


def test_mode_is_probed_and_logged_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    probes = []
    real_execute = BubblewrapSandbox._execute

    def counting(self: BubblewrapSandbox, code: str, limits: SandboxLimits) -> object:
        probes.append(code)
        return real_execute(self, code, limits)

    monkeypatch.setattr(BubblewrapSandbox, "_execute", counting)
    with capture_logs() as logs:
        for _ in range(3):
            assert execute_code("print(6 * 7)", policy("bubblewrap"))["outputs"] == [{"type": "logs", "logs": "42\n"}]
    assert len(probes) == 1 + 3  # one probe, then the three executions
    assert [entry["event"] for entry in logs] == ["code_sandbox.ready"]
    assert logs[0]["isolated"] is True


def test_unsafe_mode_runs_code_and_lets_escapes_through(tmp_path: Path) -> None:
    """What the operator opts into: the code reaches the worker's files and network."""
    secret = tmp_path / "secret.txt"
    secret.write_text("host-secret")
    with socket.socket() as listener, capture_logs() as logs:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            f"print(open({str(secret)!r}).read())\n"
            f"socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n"
            "print('connected')\n"
        )
        result = execute_code(code, policy("unsafe", bwrap=str(tmp_path / "no-such-bwrap")))
    assert result == {"outputs": [{"type": "logs", "logs": "host-secret\nconnected\n"}], "exit_code": 0}
    assert [(entry["event"], entry["isolated"]) for entry in logs] == [("code_sandbox.unsafe", False)]
