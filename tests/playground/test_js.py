"""The playground's JavaScript without a browser: ESLint over the static files and the `node --test` unit tests.

ESLint's config (tests/playground/web/eslint.config.js) forbids every way of turning a string into HTML or code
(innerHTML, document.write, eval, ...): the page renders the model's and users' text, and its CSP would block the
rest. These tests use none of the package's fixtures, so they start no stack and no browser.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import NoReturn

import pytest

from tests.stack import REPO_ROOT

WEB = REPO_ROOT / "tests" / "playground" / "web"
STATIC = REPO_ROOT / "orchestrator" / "playground" / "static"
ESLINT = WEB / "node_modules" / "eslint" / "bin" / "eslint.js"


def _missing(what: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing (`make node-deps` runs `npm ci` in tests/playground/web)")
    pytest.skip(f"{what} is not installed here (`make node-deps`); CI installs it")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        _missing("node")
    return node


def _run(args: list[str | os.PathLike[str]]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_eslint_passes_on_the_static_files_and_the_js_tests() -> None:
    node = _node()
    if not ESLINT.is_file():
        _missing("ESLint")
    # From the root with --config: the config's patterns are relative to the working directory then.
    result = _run([node, ESLINT, "--max-warnings", "0", "--config", WEB / "eslint.config.js", STATIC, WEB])
    assert result.returncode == 0, f"ESLint found problems:\n{result.stdout}{result.stderr}"


def test_node_unit_tests_pass() -> None:
    node = _node()
    files = sorted(WEB.glob("*.test.mjs"))
    assert files, f"no *.test.mjs in {WEB}"
    result = _run([node, "--test", "--test-reporter=tap", *files])
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"node --test failed:\n{output}"
    passed = re.search(r"^# pass (\d+)$", output, re.MULTILINE)
    assert passed is not None and int(passed.group(1)) >= 1, f"node --test passed no test:\n{output}"
    assert re.search(r"^# fail 0$", output, re.MULTILINE), output
