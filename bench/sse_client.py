"""A cheap Server-Sent Events client for loads of many open streams: one asyncio connection per stream over a raw
socket (HTTP/1.1, chunked or not), parsed with no HTTP library in the way, so that one load-generator process can
hold a thousand streams without being what limits them.

It keeps what the concurrency benchmark checks: every event's `id:` and name, the text of the message deltas, the
completed message's text, and when the stream opened and ended (the monotonic clock)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

DONE = "[DONE]"


@dataclass
class StreamRecord:
    """What one stream delivered."""

    opened_at: float = 0.0  # response headers received
    closed_at: float = 0.0
    status: int = 0
    ids: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # the message deltas' text, in order
    completed_text: str | None = None  # the `thread.message.completed` event's text
    run: dict[str, Any] | None = None  # the `thread.run.created` event's data
    done: bool = False
    error: str | None = None


def message_text(message: dict[str, Any]) -> str:
    return "".join(p.get("text", {}).get("value", "") for p in message.get("content") or [] if p.get("type") == "text")


def delta_text(delta: dict[str, Any]) -> str:
    return "".join(p.get("text", {}).get("value", "") for p in delta.get("delta", {}).get("content") or [])


async def _chunks(reader: asyncio.StreamReader, headers: dict[str, str]) -> AsyncIterator[bytes]:
    """The response body as it arrives, de-chunked."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return
            data = await reader.readexactly(size + 2)
            yield data[:-2]
    remaining = int(headers["content-length"]) if "content-length" in headers else None
    while remaining is None or remaining > 0:
        data = await reader.read(65536 if remaining is None else min(65536, remaining))
        if not data:
            return
        if remaining is not None:
            remaining -= len(data)
        yield data


def _take(record: StreamRecord, block: bytes, on_event: Callable[[StreamRecord, str], None]) -> None:
    event_id = event = ""
    data = b""
    for line in block.split(b"\n"):
        if line.startswith(b"data: "):
            data = line[6:]
        elif line.startswith(b"event: "):
            event = line[7:].decode()
        elif line.startswith(b"id: "):
            event_id = line[4:].decode()
    if data == DONE.encode():
        record.done = True
        return
    if not event:
        return  # a comment (keep-alive)
    record.ids.append(event_id)
    record.events.append(event)
    if event == "thread.message.delta":
        record.text.append(delta_text(orjson.loads(data)))
    elif event == "thread.message.completed":
        record.completed_text = message_text(orjson.loads(data))
    elif event == "thread.run.created":
        record.run = orjson.loads(data)
    on_event(record, event)


async def stream(
    url: str,
    method: str,
    headers: dict[str, str],
    body: dict[str, Any] | None,
    record: StreamRecord,
    on_event: Callable[[StreamRecord, str], None] = lambda record, event: None,
) -> StreamRecord:
    """Read one SSE response to its end into `record`; `on_event(record, name)` after each event. Never raises:
    a failure is the record's `error`."""
    parts = urlsplit(url)
    payload = orjson.dumps(body) if body is not None else b""
    head = [f"{method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1", f"Host: {parts.netloc}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head += ["Accept: text/event-stream", "Connection: close", f"Content-Length: {len(payload)}"]
    if body is not None:
        head.append("Content-Type: application/json")
    writer = None
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=1 << 20)
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        record.opened_at = time.monotonic()
        record.status = int(status_line.split()[1])
        response_headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines if x)}
        if record.status != 200:
            body_text = b"".join([c async for c in _chunks(reader, response_headers)])
            record.error = f"HTTP {record.status}: {body_text[:200].decode(errors='replace')}"
            return record
        pending = b""
        async for chunk in _chunks(reader, response_headers):
            pending += chunk
            *blocks, pending = pending.split(b"\n\n")
            for block in blocks:
                _take(record, block, on_event)
            if record.done:
                break
        if not record.done:
            record.error = "the stream ended without [DONE]"
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"
    finally:
        record.closed_at = time.monotonic()
        if writer is not None:
            writer.close()
    return record
