"""The exception tree. Errors map to HTTP only in `api/errors.py`, to a run's `last_error` only in the executor.

OrchestratorError
├── InvalidRequest          400, bad input (`param`, `code`)
│   ├── ThreadBusy          400, a run is active on the thread
│   └── InvalidRunState     400, the run's status does not allow the operation
├── Unauthenticated         401
├── LimitExceeded           429, a key's rate limit (`code`, `retry_after_s`)
│   └── TooManyActiveRuns   429, the project's cap on active runs
├── IdempotencyError        a POST's Idempotency-Key cannot be honoured (`status`: 409 in flight, 422 reused)
├── NotFound                404
├── InvalidTransition       a transition the state machine does not allow (a bug when it escapes)
├── ConcurrentUpdate        an optimistic write lost its race; callers re-read and re-apply
└── UpstreamError           the model endpoint failed (`code` becomes the run's `last_error.code`)
"""

from __future__ import annotations


class OrchestratorError(Exception):
    """Root of every error this project raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidRequest(OrchestratorError):
    """The request is malformed or breaks a limit; nothing was written."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class ThreadBusy(InvalidRequest):
    """The thread has an active run, so no new run or message may be added."""

    def __init__(self, message: str, *, active_run_id: str) -> None:
        super().__init__(message)
        self.active_run_id = active_run_id


class InvalidRunState(InvalidRequest):
    """The run's current status does not allow the requested operation."""

    def __init__(self, message: str, *, current: str) -> None:
        super().__init__(message)
        self.current = current


class Unauthenticated(OrchestratorError):
    """A missing or unknown API key."""


class LimitExceeded(OrchestratorError):
    """A limit turned the request away before it did anything; it may be retried after `retry_after_s`."""

    def __init__(self, message: str, *, code: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_s = retry_after_s


class TooManyActiveRuns(LimitExceeded):
    """The project already has `cap` runs that are not finished."""

    def __init__(self, active: int, cap: int) -> None:
        super().__init__(
            f"This project has {active} active runs, the most it may have at once ({cap}). "
            "Wait for a run to finish, or cancel one, and try again.",
            code="too_many_active_runs",
            retry_after_s=1.0,
        )
        self.active = active
        self.cap = cap


class IdempotencyError(OrchestratorError):
    """An Idempotency-Key is in use by a request still running (409) or was used with other parameters (422)."""

    def __init__(self, message: str, *, status: int, code: str, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retryable = retryable


class NotFound(OrchestratorError):
    """No such object in the caller's project."""


class InvalidTransition(OrchestratorError):
    """The state machine has no edge for this (status, event) pair."""

    def __init__(self, current: str, event: str) -> None:
        super().__init__(f"no transition from {current!r} on {event!r}")
        self.current = current
        self.event = event


class ConcurrentUpdate(OrchestratorError):
    """A compare-and-set write found the object changed since it was read."""

    def __init__(self, message: str, *, field: str, current: str | None) -> None:
        super().__init__(message)
        self.field = field
        self.current = current


class UpstreamError(OrchestratorError):
    """The upstream model failed after retries; `code` is the run's `last_error.code`."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
