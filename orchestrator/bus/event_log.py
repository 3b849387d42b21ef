"""Where a resumable follower of a run starts reading the run's event log, or why it cannot: the log expired,
its start was trimmed, or the position given is not one of its events."""

from __future__ import annotations

import re

import redis

from orchestrator.bus.events import BusEvent, decode_entries
from orchestrator.errors import InvalidRequest, NotFound

#: A Redis stream entry id, which is what every SSE `id:` line of a run carries.
EVENT_ID = re.compile(r"\d{1,20}-\d{1,20}")
FROM_START = "-"


def _id_tuple(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def start_position(client: redis.Redis, log_key: str, run_id: str, after: str | None, *, param: str, ttl_s: int) -> str:
    """The XRANGE start for a follower that has seen every event up to `after` (none when `after` is None).

    Raises `InvalidRequest` (param `param`) for an `after` that is not an event of this run, and `NotFound` when
    the events the follower needs are gone: the whole log expired, or the events after `after` were trimmed.
    """
    if after is not None and not EVENT_ID.fullmatch(after):
        raise InvalidRequest(
            f"Invalid '{param}': not an event id; use the `id:` of an event this stream sent (like '1732712345678-0').",
            param=param,
            code="invalid_value",
        )
    try:
        info = client.xinfo_stream(log_key)
    except redis.ResponseError:  # "no such key": the log is created with the run, so it expired
        raise expired(run_id, ttl_s) from None
    # The project never deletes single entries, so fewer entries than were added means the cap trimmed the start.
    trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
    first = info.get("first-entry")
    first_id = str(first[0]) if first else None
    if after is None:
        if trimmed:
            raise NotFound(
                f"The first events of run '{run_id}' were trimmed from its event log, which keeps about the last "
                f"{info.get('length')}; follow it from the id of an event still in the log."
            )
        return FROM_START
    if not client.xrange(log_key, after, after, count=1):
        if trimmed and first_id is not None and _id_tuple(after) < _id_tuple(first_id):
            raise NotFound(f"The events of run '{run_id}' after '{after}' were trimmed from its event log.")
        raise InvalidRequest(
            f"Invalid '{param}': run '{run_id}' has no event with id '{after}'.", param=param, code="invalid_value"
        )
    return f"({after}"


def expired(run_id: str, ttl_s: int) -> NotFound:
    return NotFound(
        f"The events of run '{run_id}' are no longer available: a finished run's event log is kept for {ttl_s} seconds."
    )


def read_events(client: redis.Redis, log_key: str, start: str) -> list[BusEvent]:
    """Every event of the log from `start` (an XRANGE start: `-`, an id, or `(id` for after it) to its end."""
    return decode_entries(client.xrange(log_key, start, "+"))
