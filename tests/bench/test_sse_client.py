"""The concurrency benchmark's load generator and its counting: the raw-socket SSE client reads events split across
chunks and comments as the SDKs do, and a stream cut before `[DONE]` is an error, not a success."""

from __future__ import annotations

import asyncio
import json

from bench.concurrency import peak_overlap
from bench.sse_client import StreamRecord, stream


def _chunked(parts: list[bytes]) -> bytes:
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts)


def _serve(body: bytes) -> StreamRecord:
    async def main() -> StreamRecord:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            writer.write(body)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await stream(f"http://127.0.0.1:{port}/v1/x", "GET", {}, None, StreamRecord())

    return asyncio.run(main())


def _event(event_id: str, name: str, data: object) -> bytes:
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode()


def test_events_split_across_chunks_are_read_whole() -> None:
    delta = {"delta": {"content": [{"index": 0, "type": "text", "text": {"value": "Hel"}}]}}
    delta2 = {"delta": {"content": [{"index": 0, "type": "text", "text": {"value": "lo"}}]}}
    completed = {"content": [{"type": "text", "text": {"value": "Hello", "annotations": []}}]}
    frames = (
        _event("1-0", "thread.run.created", {"id": "run_1", "thread_id": "thread_1"})
        + b": keep-alive\n"
        + _event("1-1", "thread.message.delta", delta)
        + _event("2-0", "thread.message.delta", delta2)
        + _event("2-1", "thread.message.completed", completed)
        + b"event: done\ndata: [DONE]\n\n"
    )
    record = _serve(_chunked([frames[:7], frames[7:60], frames[60:61], frames[61:]]) + b"0\r\n\r\n")
    assert record.error is None
    assert record.done
    assert record.ids == ["1-0", "1-1", "2-0", "2-1"]
    assert "".join(record.text) == record.completed_text == "Hello"
    assert record.run == {"id": "run_1", "thread_id": "thread_1"}


def test_a_stream_cut_before_done_is_an_error() -> None:
    record = _serve(_chunked([_event("1-0", "thread.run.created", {"id": "run_1", "thread_id": "t"})]))
    assert not record.done
    assert record.error is not None


def test_peak_overlap_counts_what_is_open_at_one_instant() -> None:
    assert peak_overlap([(0, 2), (1, 3), (2, 4)]) == 2  # the first ends as the third starts
    assert peak_overlap([(0, 10), (1, 2), (3, 4), (5, 9), (6, 7)]) == 3
    assert peak_overlap([]) == 0
