// Streams one run with the official Node SDK (`runs.stream`) and prints what it saw as one JSON line:
// the Node acceptance client of tests/e2e/test_streaming.py. Usage: node stream_run.mjs BASE_URL API_KEY THREAD ASSISTANT
//
// Progress goes to stderr as it happens (seconds since start: each event, and each chunk of bytes the server sent,
// keep-alives included), so that a stream that hangs shows in the test's failure where it stopped: no bytes at all,
// keep-alives but no events, or events up to some point.
import OpenAI from 'openai';

const [baseURL, apiKey, threadId, assistantId] = process.argv.slice(2);
const started = performance.now();
const progress = (what) => process.stderr.write(`[node +${((performance.now() - started) / 1000).toFixed(1)}s] ${what}\n`);

// The SDK's own fetch, with the body passed through a counter: the SSE decoder skips comments, so only here can
// the keep-alives be seen arriving.
async function observedFetch(url, init) {
  progress(`${init?.method ?? 'GET'} ${url}`);
  const response = await fetch(url, init);
  progress(`response ${response.status} ${response.headers.get('content-type') ?? ''}`);
  if (!response.body) return response;
  const decoder = new TextDecoder();
  const counted = response.body.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        const text = decoder.decode(chunk, { stream: true });
        const kind = text.trim() === ': keep-alive' ? 'keep-alive' : `${chunk.byteLength} bytes`;
        progress(`chunk: ${kind}`);
        controller.enqueue(chunk);
      },
      flush() {
        progress('body ended');
      },
    }),
  );
  return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
}

// No retries: a stream that breaks must fail the test, not start a second run.
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000, fetch: observedFetch });
const events = [];
const stream = client.beta.threads.runs.stream(threadId, { assistant_id: assistantId });
stream.on('event', (event) => {
  events.push(event.event);
  progress(`event ${event.event}${event.data?.id ? ` ${event.data.id}` : ''}`);
});
stream.on('error', (error) => progress(`error ${error}`));
stream.on('abort', (error) => progress(`abort ${error}`));
const run = await stream.finalRun();
progress(`final run ${run.id} ${run.status}`);
const logs = [];
for (const step of await stream.finalRunSteps()) {
  if (step.step_details.type !== 'tool_calls') continue;
  for (const call of step.step_details.tool_calls) {
    if (call.type !== 'code_interpreter') continue;
    for (const output of call.code_interpreter.outputs) if (output.type === 'logs') logs.push(output.logs);
  }
}
const text = (await stream.finalMessages())
  .flatMap((message) => message.content)
  .filter((part) => part.type === 'text')
  .map((part) => part.text.value)
  .join('');
console.log(JSON.stringify({ events, run_id: run.id, status: run.status, logs, text }));
