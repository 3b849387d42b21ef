// SseDecoder (lib/sse.js): the playground's only reader of the API's event streams.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SseDecoder, readEvents } from '../../../orchestrator/playground/static/lib/sse.js';

/** Every event the decoder yields when fed `chunks` one at a time. */
function decode(chunks) {
  const decoder = new SseDecoder();
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

test('an event split across chunks comes out once, when its blank line arrives', () => {
  const decoder = new SseDecoder();
  assert.deepEqual(decoder.push('event: thread.run.cre'), []);
  assert.deepEqual(decoder.push('ated\ndata: {"id":'), []);
  assert.deepEqual(decoder.push('"run_1"}\n'), []);
  assert.deepEqual(decoder.push('\n'), [{ event: 'thread.run.created', data: '{"id":"run_1"}', id: null }]);
});

test('CRLF, CR and LF line ends are all line ends, even with CRLF split between chunks', () => {
  const events = decode(['event: a\r', '', '\ndata: 1\r\n\r\n', 'event: b\rdata: 2\r\r', 'event: c\ndata: 3\n\n']);
  assert.deepEqual(events.map(({ event, data }) => [event, data]), [['a', '1'], ['b', '2'], ['c', '3']]);
});

test('comments (keep-alives) are skipped and end no event', () => {
  const events = decode([': keep-alive\n\n', 'event: x\n: ping\ndata: kept\n\n', ':\n\n']);
  assert.deepEqual(events, [{ event: 'x', data: 'kept', id: null }]);
});

test('data lines join with newlines; one leading space is dropped; id carries over', () => {
  const events = decode(['id: 7\ndata: first\ndata:  second\ndata\n\n', 'data: next\n\n']);
  assert.deepEqual(events, [
    { event: 'message', data: 'first\n second\n', id: '7' },
    { event: 'message', data: 'next', id: '7' },
  ]);
});

test('readEvents parses JSON data and stops at [DONE]', async () => {
  const body = 'event: thread.message.delta\ndata: {"delta":1}\n\nevent: done\ndata: [DONE]\n\nevent: late\ndata: 2\n\n';
  const bytes = new TextEncoder().encode(body);
  // Two chunks of bytes cut mid-line, as the network may deliver them.
  const response = new Response(new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.slice(0, 20));
      controller.enqueue(bytes.slice(20));
      controller.close();
    },
  }));
  const seen = [];
  await readEvents(response, (name, data) => seen.push([name, data]));
  assert.deepEqual(seen, [['thread.message.delta', { delta: 1 }]]);
});
