"""A stand-in code_interpreter worker process: runs one execution in the bubblewrap sandbox, JSON in and out.

Started by the tests as another uid (the image's 10001) with a system Python, to check the non-root worker path; it
imports only the standard library and the sandbox package, so it needs no venv.
"""

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: run with -I, which ignores PYTHONPATH

from workers.tools.code_interpreter.sandbox import BubblewrapSandbox, SandboxLimits

request = json.load(sys.stdin)
sandbox = BubblewrapSandbox(python=sys.executable)
if sandbox.unavailable_reason is not None:
    print(json.dumps({"unavailable": sandbox.unavailable_reason}))
else:
    result = dataclasses.asdict(sandbox.run(request["code"], SandboxLimits(**request["limits"])))
    del result["returned"]  # bytes, and empty without a job
    print(json.dumps(result), flush=True)
