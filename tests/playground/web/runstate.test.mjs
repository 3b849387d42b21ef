import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  applyEvent, createRunState, isFinished, markersOf, pendingCalls, problem,
} from '../../../orchestrator/playground/static/lib/runstate.js';

const run = (status, extra = {}) => ({ id: 'run_1', object: 'thread.run', status, usage: null, last_error: null, ...extra });
const step = (id, type, status, details, extra = {}) => ({ id, object: 'thread.run.step', type, status, step_details: details, ...extra });
const stepDelta = (id, calls) => ({ id, object: 'thread.run.step.delta', delta: { step_details: { type: 'tool_calls', tool_calls: calls } } });
const message = (id, status, content = []) => ({ id, object: 'thread.message', role: 'assistant', status, run_id: 'run_1', content });
const textDelta = (id, index, value, annotations) => ({
  id, object: 'thread.message.delta',
  delta: { content: [{ index, type: 'text', text: annotations ? { value, annotations } : { value } }] },
});

function fold(events) {
  const state = createRunState();
  for (const [name, data] of events) applyEvent(state, name, data);
  return state;
}

// The Math Tutor's run as the server streams it: a code call whose input and logs come as deltas, then the answer.
const MATH_TUTOR = [
  ['thread.run.created', run('queued')],
  ['thread.run.queued', run('queued')],
  ['thread.run.in_progress', run('in_progress')],
  ['thread.run.step.created', step('step_t', 'tool_calls', 'in_progress', { type: 'tool_calls', tool_calls: [] })],
  ['thread.run.step.delta', stepDelta('step_t', [{ index: 0, id: 'call_1', type: 'code_interpreter', code_interpreter: { input: '', outputs: [] } }])],
  ['thread.run.step.delta', stepDelta('step_t', [{ index: 0, type: 'code_interpreter', code_interpreter: { input: 'a, b, c = 3, 11, 14\n' } }])],
  ['thread.run.step.delta', stepDelta('step_t', [{ index: 0, type: 'code_interpreter', code_interpreter: { input: 'x = (c - b) / a\nprint(x)' } }])],
  ['thread.run.step.delta', stepDelta('step_t', [{ index: 0, type: 'code_interpreter', code_interpreter: { outputs: [{ index: 0, type: 'logs', logs: '1.0\n' }] } }])],
  // The completed step's object repeats the input but (in this server) no outputs: the streamed logs must stay.
  ['thread.run.step.completed', step('step_t', 'tool_calls', 'completed', {
    type: 'tool_calls', tool_calls: [{ id: 'call_1', type: 'code_interpreter', code_interpreter: { input: 'a, b, c = 3, 11, 14\nx = (c - b) / a\nprint(x)', outputs: [] } }],
  }, { usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })],
  ['thread.run.step.created', step('step_m', 'message_creation', 'in_progress', { type: 'message_creation', message_creation: { message_id: 'msg_1' } })],
  ['thread.message.created', message('msg_1', 'in_progress')],
  ['thread.message.delta', textDelta('msg_1', 0, 'The solution is ', [])],
  ['thread.message.delta', textDelta('msg_1', 0, 'x = 1.0.')],
];

test('a code call and the answer stream in: input and logs merged by index, text concatenated', () => {
  const state = fold(MATH_TUTOR);
  assert.equal(state.status, 'in_progress');
  assert.deepEqual(state.entries, [{ kind: 'tools', id: 'step_t' }, { kind: 'message', id: 'msg_1' }]);
  const [call] = state.steps.get('step_t').tool_calls;
  assert.deepEqual(call, {
    index: 0, id: 'call_1', type: 'code_interpreter',
    code_interpreter: { input: 'a, b, c = 3, 11, 14\nx = (c - b) / a\nprint(x)', outputs: [{ type: 'logs', logs: '1.0\n' }] },
  });
  assert.deepEqual(state.steps.get('step_t').usage, { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
  assert.deepEqual(state.messages.get('msg_1').content, [{ type: 'text', text: { value: 'The solution is x = 1.0.', annotations: [] } }]);
  assert.equal(isFinished(state), false);
});

test('the completed run brings status and usage; the completed message is the whole truth', () => {
  const usage = { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 };
  const state = fold([
    ...MATH_TUTOR,
    ['thread.message.completed', message('msg_1', 'completed', [{ type: 'text', text: { value: 'The solution is x = 1.0. Checking.', annotations: [] } }])],
    ['thread.run.step.completed', step('step_m', 'message_creation', 'completed', { type: 'message_creation', message_creation: { message_id: 'msg_1' } })],
    ['thread.run.completed', run('completed', { usage })],
  ]);
  assert.equal(state.status, 'completed');
  assert.deepEqual(state.usage, usage);
  assert.equal(state.messages.get('msg_1').content[0].text.value, 'The solution is x = 1.0. Checking.');
  assert.equal(state.messages.get('msg_1').status, 'completed');
  assert.equal(isFinished(state), true);
  assert.equal(problem(state), null);
});

test('revisions tell the view what changed', () => {
  const state = fold(MATH_TUTOR);
  const before = state.messages.get('msg_1').rev;
  const stepRev = state.steps.get('step_t').rev;
  applyEvent(state, 'thread.message.delta', textDelta('msg_1', 0, ' More.'));
  assert.ok(state.messages.get('msg_1').rev > before);
  assert.equal(state.steps.get('step_t').rev, stepRev);
});

test('a function call: name and arguments from deltas, the calls the run waits for from requires_action', () => {
  const required = { type: 'submit_tool_outputs', submit_tool_outputs: { tool_calls: [{ id: 'call_f', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] } };
  const state = fold([
    ['thread.run.in_progress', run('in_progress')],
    ['thread.run.step.created', step('step_f', 'tool_calls', 'in_progress', { type: 'tool_calls', tool_calls: [] })],
    ['thread.run.step.delta', stepDelta('step_f', [{ index: 0, id: 'call_f', type: 'function', function: { name: 'get_weather', arguments: '', output: null } }])],
    ['thread.run.step.delta', stepDelta('step_f', [{ index: 0, type: 'function', function: { arguments: '{"city": ' } }])],
    ['thread.run.step.delta', stepDelta('step_f', [{ index: 0, type: 'function', function: { arguments: '"Paris"}' } }])],
    ['thread.run.requires_action', run('requires_action', { required_action: required })],
  ]);
  assert.deepEqual(state.steps.get('step_f').tool_calls[0].function, { name: 'get_weather', arguments: '{"city": "Paris"}', output: null });
  assert.deepEqual(pendingCalls(state).map((call) => call.id), ['call_f']);
  // After the outputs went in, the step object carries the output and the run waits no more.
  applyEvent(state, 'thread.run.queued', run('queued'));
  applyEvent(state, 'thread.run.step.completed', step('step_f', 'tool_calls', 'completed', {
    type: 'tool_calls', tool_calls: [{ id: 'call_f', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}', output: '18C' } }],
  }));
  assert.deepEqual(pendingCalls(state), []);
  assert.equal(state.steps.get('step_f').tool_calls[0].function.output, '18C');
});

test('file_search results from the step object; several calls of one step kept apart by index', () => {
  const state = fold([
    ['thread.run.step.created', step('s', 'tool_calls', 'in_progress', { type: 'tool_calls', tool_calls: [] })],
    ['thread.run.step.delta', stepDelta('s', [
      { index: 0, id: 'c0', type: 'file_search', file_search: {} },
      { index: 1, id: 'c1', type: 'code_interpreter', code_interpreter: { input: 'print(1)', outputs: [] } },
    ])],
    ['thread.run.step.delta', stepDelta('s', [{ index: 1, type: 'code_interpreter', code_interpreter: { outputs: [{ index: 0, type: 'image', image: { file_id: 'file_img' } }] } }])],
    ['thread.run.step.completed', step('s', 'tool_calls', 'completed', { type: 'tool_calls', tool_calls: [
      { id: 'c0', type: 'file_search', file_search: { ranking_options: { ranker: 'auto', score_threshold: 0 }, results: [{ file_id: 'f', file_name: 'a.txt', score: 0.5 }] } },
      { id: 'c1', type: 'code_interpreter', code_interpreter: { input: 'print(1)', outputs: [] } },
    ] })],
  ]);
  const [search, code] = state.steps.get('s').tool_calls;
  assert.deepEqual(search.file_search.results, [{ file_id: 'f', file_name: 'a.txt', score: 0.5 }]);
  assert.deepEqual(code.code_interpreter.outputs, [{ type: 'image', image: { file_id: 'file_img' } }]);
  assert.equal(state.steps.get('s').status, 'completed');
});

test('annotations merge by their index and number from 1 in text order', () => {
  const state = fold([
    ['thread.message.created', message('m', 'in_progress')],
    ['thread.message.delta', textDelta('m', 0, 'Sunny【0:0†w.txt】', [
      { index: 0, type: 'file_citation', text: '【0:0†w.txt】', start_index: 5, end_index: 15, file_citation: { file_id: 'file_w', quote: 'Sunny' } },
    ])],
    ['thread.message.delta', textDelta('m', 0, ' and [csv](sandbox:/mnt/data/a.csv)', [
      { index: 1, type: 'file_path', text: 'sandbox:/mnt/data/a.csv', start_index: 26, end_index: 49, file_path: { file_id: 'file_a' } },
    ])],
  ]);
  const { text } = state.messages.get('m').content[0];
  assert.equal(text.annotations.length, 2);
  assert.deepEqual(markersOf(text.annotations).map(({ start, label }) => [start, label]), [[5, 1], [26, 2]]);
  // An image part before the text keeps its own index.
  applyEvent(state, 'thread.message.delta', { id: 'm', delta: { content: [{ index: 1, type: 'image_file', image_file: { file_id: 'file_p' } }] } });
  assert.deepEqual(state.messages.get('m').content[1], { type: 'image_file', image_file: { file_id: 'file_p' } });
});

test('errors: an error event, a failed run, cancelling then cancelled', () => {
  const failed = fold([['thread.run.failed', run('failed', { last_error: { code: 'server_error', message: 'upstream said 500' } })]]);
  assert.equal(problem(failed), 'server_error: upstream said 500');
  assert.equal(isFinished(failed), true);
  assert.equal(problem(fold([['error', { error: { message: 'boom', type: 'server_error' } }]])), 'boom');
  assert.equal(problem(fold([['error', { message: 'flat', type: 'server_error' }]])), 'flat');
  const cancelled = fold([['thread.run.in_progress', run('in_progress')], ['thread.run.cancelling', run('cancelling')]]);
  assert.equal(isFinished(cancelled), false);
  applyEvent(cancelled, 'thread.run.cancelled', run('cancelled'));
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(isFinished(cancelled), true);
  assert.equal(problem(cancelled), null);
});

test('unknown events and non-object data are counted and ignored', () => {
  const state = fold([['thread.something.new', { id: 'x' }], ['thread.run.step.delta', '[DONE]']]);
  assert.equal(state.events, 2);
  assert.deepEqual(state.entries, []);
});
