"""Where a resumable follower starts in a run's event log, on a real server: from the start, after an event it saw,
and the clear refusals when the events it needs are gone (expired, trimmed) or the id is not the run's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from orchestrator.bus.event_log import read_events, start_position
from orchestrator.errors import InvalidRequest, NotFound
from tests.support import unique_prefix


@pytest.fixture
def client(real_redis: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(real_redis, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def log_key(client: redis.Redis) -> Iterator[str]:
    key = f"{unique_prefix()}:log"
    yield key
    client.delete(key)


def _append(client: redis.Redis, key: str, count: int) -> list[str]:
    return [str(client.xadd(key, {"e": f"event.{i}", "d": f'{{"n":{i}}}'})) for i in range(count)]


def _start(client: redis.Redis, key: str, after: str | None) -> str:
    return start_position(client, key, "run_x", after, param="after", ttl_s=60)


def test_from_the_start_and_after_an_event(client: redis.Redis, log_key: str) -> None:
    ids = _append(client, log_key, 4)
    assert _start(client, log_key, None) == "-"
    assert [e.id for e in read_events(client, log_key, "-")] == ids
    start = _start(client, log_key, ids[1])
    events = read_events(client, log_key, start)
    assert [e.id for e in events] == ids[2:]
    assert [(e.event, e.data) for e in events] == [("event.2", '{"n":2}'), ("event.3", '{"n":3}')]
    assert read_events(client, log_key, _start(client, log_key, ids[-1])) == []


def test_an_expired_log_is_not_found_with_a_message_that_says_so(client: redis.Redis, log_key: str) -> None:
    with pytest.raises(NotFound, match=r"run_x.*no longer available.*60 seconds"):
        _start(client, log_key, None)


@pytest.mark.parametrize("after", ["abc", "12", "1-2-3", "-", "+", "(1-0"])
def test_a_malformed_id_is_invalid_and_names_the_param(client: redis.Redis, log_key: str, after: str) -> None:
    _append(client, log_key, 1)
    with pytest.raises(InvalidRequest) as caught:
        start_position(client, log_key, "run_x", after, param="Last-Event-ID", ttl_s=60)
    assert caught.value.param == "Last-Event-ID" and caught.value.code == "invalid_value"


def test_an_id_that_is_not_the_runs_is_invalid(client: redis.Redis, log_key: str) -> None:
    ids = _append(client, log_key, 2)
    ms, _, seq = ids[-1].partition("-")
    with pytest.raises(InvalidRequest, match="has no event with id"):
        _start(client, log_key, f"{ms}-{int(seq) + 5}")


def test_trimmed_events_are_refused_rather_than_skipped(client: redis.Redis, log_key: str) -> None:
    ids = _append(client, log_key, 6)
    client.xtrim(log_key, maxlen=3, approximate=False)
    with pytest.raises(NotFound, match="first events of run 'run_x' were trimmed"):
        _start(client, log_key, None)
    with pytest.raises(NotFound, match=f"after '{ids[1]}' were trimmed"):
        _start(client, log_key, ids[1])
    # After an event still in the log nothing is missing.
    assert [e.id for e in read_events(client, log_key, _start(client, log_key, ids[3]))] == ids[4:]
