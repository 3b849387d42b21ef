"""A run's events as the bus carries them: read from the run's log (a Redis stream of `{e: name, d: data}`
entries) and written to clients as Server-Sent Events."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BusEvent:
    id: str
    event: str
    data: str


#: What redis-py's XRANGE returns (its annotation allows a None id and fields).
Entries = list[tuple[bytes | str | None, dict[bytes | str, bytes | str] | None]] | None


def decode_entries(entries: Entries) -> list[BusEvent]:
    """Events from XRANGE entries (`{e: name, d: data}`), whether the client decodes responses or not."""
    return [
        BusEvent(
            raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id), _text(f or {}, "e"), _text(f or {}, "d")
        )
        for raw_id, f in entries or []
    ]


def _text(fields: dict[bytes | str, bytes | str], name: str) -> str:
    value = fields.get(name, fields.get(name.encode(), ""))
    return value.decode() if isinstance(value, bytes) else value


def frame(event: str, data: str, event_id: str) -> bytes:
    """One SSE event. The `id:` is the event's position in the run's log: the SDK ignores it, and it is what a
    reconnecting client hands back (`Last-Event-ID` or `?after=`) to resume."""
    return f"id: {event_id}\nevent: {event}\ndata: {data}\n\n".encode()
