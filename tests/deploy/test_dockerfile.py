"""deploy/Dockerfile, read instruction by instruction (no Docker engine needed)."""

from __future__ import annotations

import json
import re

import pytest

from tests.deploy.helpers import DEPLOY, REPO, assert_cli_accepts

DOCKERFILE = DEPLOY / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _all(keyword: str) -> list[str]:
    return [rest for kw, rest in _instructions() if kw == keyword]


def test_base_image() -> None:
    assert _instructions()[0] == ("FROM", "python:3.11-slim")


def test_bubblewrap_comes_from_debian_packages() -> None:
    assert any(re.search(r"apt-get install\b.*\bbubblewrap\b", run) for run in _all("RUN"))


def test_the_project_is_pip_installed() -> None:
    assert any(re.search(r"\bpip install '?\.(\[[\w,]+\])?'?(\s|$)", run) for run in _all("RUN"))


def test_the_image_can_keep_files_in_a_bucket() -> None:
    assert any(re.search(r"\bpip install '\.\[s3\]'", run) for run in _all("RUN"))


def test_copied_sources_exist() -> None:
    for copy in _all("COPY"):
        *sources, _ = copy.split()
        for source in sources:
            if "*" not in source:
                assert (REPO / source).exists(), source


def test_runs_as_a_non_root_user() -> None:
    users = _all("USER")
    assert users, "no USER instruction"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_entrypoint_and_default_command() -> None:
    assert json.loads(_all("ENTRYPOINT")[-1]) == ["orchestrator"]
    command = json.loads(_all("CMD")[-1])
    assert command == ["api", "--host", "0.0.0.0"]
    assert_cli_accepts(command)


@pytest.mark.parametrize("pattern", ["**/.git", "**/.venv", "**/__pycache__"])
def test_the_build_context_leaves_out_local_state(pattern: str) -> None:
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert pattern in ignored
