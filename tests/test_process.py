"""Process plumbing: the API lifts its open-files limit so a thousand SSE streams do not run out of sockets."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

LOWERED_THEN_RAISED = """
import resource
from orchestrator.process import raise_open_files_limit
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
print(raise_open_files_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def test_the_open_files_limit_is_raised_to_the_hard_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("the hard limit here leaves nothing to raise")
    # In a child process: the test run's own limit is left alone.
    out = subprocess.run([sys.executable, "-c", LOWERED_THEN_RAISED], capture_output=True, text=True, check=True)
    returned, effective = (int(v) for v in out.stdout.split())
    assert returned == effective > 256
    if hard != resource.RLIM_INFINITY:
        assert effective == hard
