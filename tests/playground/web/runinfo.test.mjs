import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventMillis, formatDuration, markEvent, markedDurations, runDurations, runTimestamps, toolName,
  upsertStep, usageRows, applyStepDelta } from '../../../orchestrator/playground/static/lib/runinfo.js';

const finished = {
  status: 'completed', created_at: 100, started_at: 103, completed_at: 110, expires_at: 700,
  cancelled_at: null, failed_at: null,
};

test('a finished run waited from created to started and ran from started to its end', () => {
  assert.deepEqual(runDurations(finished), { queueWait: 3, duration: 7 });
  const failed = { ...finished, status: 'failed', completed_at: null, failed_at: 104 };
  assert.deepEqual(runDurations(failed), { queueWait: 3, duration: 1 });
});

test('a live run counts up to now; a queued one has no duration yet', () => {
  const live = { status: 'in_progress', created_at: 100, started_at: 103, expires_at: 700 };
  assert.deepEqual(runDurations(live, 120.6), { queueWait: 3, duration: 17 });
  const queued = { status: 'queued', created_at: 100, expires_at: 700 };
  assert.deepEqual(runDurations(queued, 105), { queueWait: 5, duration: null });
});

test('a cancelled run that never started has neither wait nor duration', () => {
  const cancelled = { status: 'cancelled', created_at: 100, cancelled_at: 101, expires_at: 700 };
  assert.deepEqual(runDurations(cancelled, 200), { queueWait: null, duration: null });
});

test('timestamps list what happened, and the expiry only while the run can still expire', () => {
  assert.deepEqual(runTimestamps(finished), [['created', 100], ['started', 103], ['completed', 110]]);
  const live = { status: 'in_progress', created_at: 100, started_at: 103, expires_at: 700 };
  assert.deepEqual(runTimestamps(live).map(([label]) => label), ['created', 'started', 'expires']);
  const expired = { status: 'expired', created_at: 100, expires_at: 700 };
  assert.deepEqual(runTimestamps(expired), [['created', 100], ['expired', 700]]);
});

test('durations read as seconds, minutes or hours', () => {
  assert.equal(formatDuration(null), '–');
  assert.equal(formatDuration(0), '0 s');
  assert.equal(formatDuration(42.4), '42 s');
  assert.equal(formatDuration(185), '3 min 5 s');
  assert.equal(formatDuration(7260), '2 h 1 min');
});

test('usage rows, none before the API gives usage', () => {
  assert.equal(usageRows(null), null);
  assert.deepEqual(usageRows({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 }),
    [['prompt tokens', 12], ['completion tokens', 5], ['total tokens', 17]]);
});

test('tools are named by type, functions by name', () => {
  assert.equal(toolName({ type: 'code_interpreter' }), 'code_interpreter');
  assert.equal(toolName({ type: 'function', function: { name: 'get_weather' } }), 'function get_weather');
});

test('a step event replaces the step with its id and appends a new one in creation order', () => {
  const first = { id: 'step_a', created_at: 1, status: 'in_progress' };
  const second = { id: 'step_b', created_at: 2, status: 'in_progress' };
  let steps = upsertStep([], second);
  steps = upsertStep(steps, first);
  assert.deepEqual(steps.map((step) => step.id), ['step_a', 'step_b']);
  steps = upsertStep(steps, { ...first, status: 'completed' });
  assert.deepEqual(steps.map((step) => [step.id, step.status]), [['step_a', 'completed'], ['step_b', 'in_progress']]);
});

test('event log ids give millisecond times, and the run milestones among the events give wait and duration', () => {
  assert.equal(eventMillis('1795800682656-0'), 1795800682656);
  assert.equal(eventMillis('evt_1'), null);
  assert.equal(eventMillis(null), null);
  let marks = {};
  for (const [name, id] of [
    ['thread.run.created', '1000-0'], ['thread.run.queued', '1000-1'], ['thread.run.in_progress', '1700-0'],
    ['thread.run.step.created', '1800-0'], ['thread.run.requires_action', '2000-0'],
    ['thread.run.in_progress', '5000-0'], ['thread.run.completed', '5950-2'], ['thread.run.created', 'odd'],
  ]) marks = markEvent(marks, name, id);
  assert.deepEqual(markedDurations(marks), { queueWait: 0.7, duration: 4.25 });
  assert.deepEqual(markedDurations(markEvent({}, 'thread.run.created', '1000-0')), { queueWait: null, duration: null });
});

test('short durations known to the millisecond keep two decimals', () => {
  assert.equal(formatDuration(0.7), '0.70 s');
  assert.equal(formatDuration(12.5), '13 s');
});

test('step deltas fold into their step: calls by index, arguments and code appended, outputs added', () => {
  const step = { id: 'step_a', created_at: 1, status: 'in_progress',
    step_details: { type: 'tool_calls', tool_calls: [] } };
  const delta = (...calls) => ({ id: 'step_a', object: 'thread.run.step.delta',
    delta: { step_details: { type: 'tool_calls', tool_calls: calls } } });
  let steps = [step, { id: 'step_b', created_at: 2, step_details: {} }];
  for (const event of [
    delta({ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '', output: null } }),
    delta({ index: 0, type: 'function', function: { arguments: '{"city": ' } }),
    delta({ index: 0, type: 'function', function: { arguments: '"Paris"}' } }),
    delta({ index: 1, id: 'call_2', type: 'code_interpreter', code_interpreter: { input: '', outputs: [] } }),
    delta({ index: 1, type: 'code_interpreter', code_interpreter: { input: 'print(6*7)' } }),
    delta({ index: 1, type: 'code_interpreter', code_interpreter: { outputs: [{ index: 0, type: 'logs', logs: '42\n' }] } }),
    { id: 'step_unknown', delta: { step_details: { tool_calls: [{ index: 0, type: 'function' }] } } },
  ]) steps = applyStepDelta(steps, event);
  assert.deepEqual(steps[0].step_details.tool_calls, [
    { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}', output: null } },
    { id: 'call_2', type: 'code_interpreter', code_interpreter: { input: 'print(6*7)', outputs: [{ type: 'logs', logs: '42\n' }] } },
  ]);
  assert.deepEqual(steps[1], { id: 'step_b', created_at: 2, step_details: {} });
  assert.deepEqual(step.step_details.tool_calls, [], 'the step given is not changed');
});
