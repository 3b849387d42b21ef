// Streams one run with the official Node SDK (`runs.stream`) and prints what it saw as one JSON line:
// the Node acceptance client of tests/e2e/test_streaming.py. Usage: node stream_run.mjs BASE_URL API_KEY THREAD ASSISTANT
import OpenAI from 'openai';

const [baseURL, apiKey, threadId, assistantId] = process.argv.slice(2);
// No retries: a stream that breaks must fail the test, not start a second run.
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
const events = [];
const stream = client.beta.threads.runs.stream(threadId, { assistant_id: assistantId });
stream.on('event', (event) => events.push(event.event));
const run = await stream.finalRun();
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
