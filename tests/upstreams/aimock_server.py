"""aimock (the npm `@copilotkit/aimock`, pinned by aimock/package-lock.json) as a second upstream: it answers from
the fixtures in aimock/fixtures/, offline, with OpenAI's stream shape."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import free_port
from tests.upstreams.processes import served

PACKAGE_DIR = Path(__file__).parent / "aimock"
BIN = PACKAGE_DIR / "node_modules" / ".bin" / "llmock"  # the fixture-directory CLI; `aimock` wants a config file


@contextlib.contextmanager
def aimock_server(log_dir: Path) -> Iterator[str]:
    """Serve aimock on a free port until the block ends; yields its base URL (…/v1)."""
    if shutil.which("node") is None or not BIN.exists():
        # CI installs it (`make node-deps`); only a machine without npm may lack it.
        if os.environ.get("CI"):
            pytest.fail(f"aimock is not installed at {BIN}: run `make node-deps`")
        pytest.skip("aimock is not installed (needs npm: `make node-deps`)")
    port = free_port()
    command = [str(BIN), "--port", str(port), "--fixtures", str(PACKAGE_DIR / "fixtures"), "--log-level", "warn"]
    with served(
        "aimock", command, ready_url=f"http://127.0.0.1:{port}/health", log_path=log_dir / "aimock.log", cwd=PACKAGE_DIR
    ):
        yield f"http://127.0.0.1:{port}/v1"
