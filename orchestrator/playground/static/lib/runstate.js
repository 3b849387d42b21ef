// Folding a run's stream events into what the live view shows: the run (status, usage, errors), its steps in the
// order they came, each tool call merged by index from the step deltas (code input as it streams, logs and images,
// file_search results, function name and arguments), and each message with its text parts merged by index and their
// annotations. Pure: no DOM, no I/O; the view renders what changed, told by the `rev` counters.
//
// Tool calls and message parts keep the API's shapes (`step_details.tool_calls[i]`, `content[i]`), so the same
// renderers draw a live run and a stored one.

/** Run statuses after which the run does nothing more. */
export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'expired', 'incomplete']);
/** Statuses of a run that is still going (a `requires_action` run waits for the client). */
export const ACTIVE = new Set(['queued', 'in_progress', 'requires_action', 'cancelling']);

export function createRunState() {
  return {
    run: null, // the last run object an event carried
    status: null,
    usage: null,
    error: null, // an `error` event's error ({message, type, code})
    entries: [], // [{kind: 'tools', id} | {kind: 'message', id}] in the order they appeared
    steps: new Map(), // step id -> {id, type, status, usage, last_error, tool_calls, message_id, rev, callRevs}
    messages: new Map(), // message id -> {id, role, status, content, run_id, incomplete_details, rev}
    rev: 0,
    events: 0,
  };
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function withoutIndex(item) {
  const copy = { ...item };
  delete copy.index;
  return copy;
}

function entryFor(state, kind, id) {
  if (!state.entries.some((entry) => entry.kind === kind && entry.id === id)) state.entries.push({ kind, id });
}

function messageFor(state, id) {
  let message = state.messages.get(id);
  if (!message) {
    message = { id, role: 'assistant', status: 'in_progress', content: [], rev: 0 };
    state.messages.set(id, message);
    entryFor(state, 'message', id);
  }
  return message;
}

function stepFor(state, id) {
  let step = state.steps.get(id);
  if (!step) {
    step = { id, type: null, status: 'in_progress', tool_calls: [], callRevs: [], rev: 0 };
    state.steps.set(id, step);
  }
  return step;
}

function touchCall(state, step, at) {
  step.callRevs[at] = state.rev;
  step.rev = state.rev;
}

// -- tool calls ----------------------------------------------------------------------------------------------------

function mergeOutputs(outputs, deltas) {
  for (const [position, delta] of deltas.entries()) {
    const at = Number.isInteger(delta.index) ? delta.index : outputs.length + position;
    const rest = withoutIndex(delta);
    const old = outputs[at];
    if (old && old.type === 'logs' && rest.type === 'logs') {
      outputs[at] = { ...old, logs: (old.logs || '') + (rest.logs || '') };
    } else {
      outputs[at] = { ...(old || {}), ...rest };
    }
  }
}

/** One step delta's tool call folded into the call at its index. */
function mergeCallDelta(call, delta) {
  if (delta.id) call.id = delta.id;
  if (delta.type) call.type = delta.type;
  const type = call.type;
  if (type === 'code_interpreter' && isObject(delta.code_interpreter)) {
    const body = call.code_interpreter || (call.code_interpreter = { input: '', outputs: [] });
    const incoming = delta.code_interpreter;
    if (typeof incoming.input === 'string') body.input = (body.input || '') + incoming.input;
    if (Array.isArray(incoming.outputs)) mergeOutputs(body.outputs || (body.outputs = []), incoming.outputs);
  } else if (type === 'function' && isObject(delta.function)) {
    const body = call.function || (call.function = { name: '', arguments: '', output: null });
    const incoming = delta.function;
    if (incoming.name) body.name = incoming.name;
    if (typeof incoming.arguments === 'string') body.arguments = (body.arguments || '') + incoming.arguments;
    if (incoming.output !== undefined && incoming.output !== null) body.output = incoming.output;
  } else if (type && isObject(delta[type])) {
    const body = call[type] || (call[type] = {});
    for (const [name, value] of Object.entries(delta[type])) {
      if (Array.isArray(value) && !value.length && Array.isArray(body[name]) && body[name].length) continue;
      body[name] = value;
    }
  }
}

/** A stored call (from a step object) laid over the streamed one: the stored fields win where they say something. */
function mergeStoredCall(call, stored) {
  if (stored.id) call.id = stored.id;
  if (stored.type) call.type = stored.type;
  const type = call.type;
  const body = stored[type];
  if (!isObject(body)) return;
  const mine = call[type] || (call[type] = {});
  for (const [name, value] of Object.entries(body)) {
    // Outputs and results streamed earlier stay when the step object leaves them out or empty.
    if (Array.isArray(value) && !value.length && Array.isArray(mine[name]) && mine[name].length) continue;
    if ((value === '' || value === null) && mine[name]) continue;
    mine[name] = value;
  }
}

function applyStepDelta(state, data) {
  const step = stepFor(state, data.id);
  const details = isObject(data.delta) ? data.delta.step_details : null;
  if (!isObject(details)) return;
  if (details.type) step.type = step.type || details.type;
  if (!Array.isArray(details.tool_calls)) return;
  step.type = 'tool_calls';
  entryFor(state, 'tools', step.id);
  for (const [position, delta] of details.tool_calls.entries()) {
    const at = Number.isInteger(delta.index) ? delta.index : position;
    const call = step.tool_calls[at] || (step.tool_calls[at] = { index: at });
    mergeCallDelta(call, delta);
    touchCall(state, step, at);
  }
}

function applyStep(state, data) {
  const step = stepFor(state, data.id);
  step.type = data.type || step.type;
  step.status = data.status || step.status;
  step.usage = data.usage || step.usage || null;
  step.last_error = data.last_error || null;
  step.created_at = data.created_at;
  step.completed_at = data.completed_at || null;
  step.rev = state.rev;
  const details = data.step_details || {};
  if (step.type === 'message_creation' && details.message_creation) {
    step.message_id = details.message_creation.message_id;
    messageFor(state, step.message_id);
  } else if (step.type === 'tool_calls') {
    entryFor(state, 'tools', step.id);
    for (const [at, stored] of (details.tool_calls || []).entries()) {
      const call = step.tool_calls[at] || (step.tool_calls[at] = { index: at });
      mergeStoredCall(call, stored);
      touchCall(state, step, at);
    }
  }
}

// -- messages ------------------------------------------------------------------------------------------------------

function mergeAnnotations(into, incoming) {
  for (const annotation of incoming) {
    const at = Number.isInteger(annotation.index) ? annotation.index : into.length;
    into[at] = { ...(into[at] || {}), ...annotation };
  }
}

function applyMessageDelta(state, data) {
  const message = messageFor(state, data.id);
  const parts = isObject(data.delta) && Array.isArray(data.delta.content) ? data.delta.content : [];
  for (const [position, part] of parts.entries()) {
    const at = Number.isInteger(part.index) ? part.index : position;
    const rest = withoutIndex(part);
    const old = message.content[at];
    if (rest.type === 'text' && isObject(rest.text)) {
      const text = old && old.type === 'text' ? old.text : { value: '', annotations: [] };
      const merged = { value: text.value + (rest.text.value || ''), annotations: [...(text.annotations || [])] };
      mergeAnnotations(merged.annotations, rest.text.annotations || []);
      message.content[at] = { type: 'text', text: merged };
    } else {
      message.content[at] = { ...(old || {}), ...rest };
    }
  }
  message.rev = state.rev;
}

function applyMessage(state, data) {
  const message = messageFor(state, data.id);
  message.role = data.role || message.role;
  message.status = data.status || message.status;
  message.run_id = data.run_id || message.run_id;
  message.assistant_id = data.assistant_id || message.assistant_id;
  message.created_at = data.created_at;
  message.incomplete_details = data.incomplete_details || null;
  // The message object is the whole truth once it says anything; while empty (just created) the deltas are.
  if (Array.isArray(data.content) && data.content.length) message.content = data.content.map((part) => ({ ...part }));
  message.rev = state.rev;
}

// -- the run -------------------------------------------------------------------------------------------------------

function applyRun(state, data) {
  state.run = data;
  state.status = data.status || state.status;
  state.usage = data.usage || state.usage;
}

/** The error an `error` event carries, whichever of OpenAI's shapes it came in. */
function errorOf(data) {
  if (isObject(data) && isObject(data.error)) return data.error;
  if (isObject(data)) return data;
  return { message: String(data) };
}

/** Folds one stream event into `state` (mutated, and returned). Unknown events only count. */
export function applyEvent(state, name, data) {
  state.rev += 1;
  state.events += 1;
  if (name === 'error') {
    state.error = errorOf(data);
    return state;
  }
  if (!isObject(data)) return state;
  if (name === 'thread.run.step.delta') applyStepDelta(state, data);
  else if (name === 'thread.message.delta') applyMessageDelta(state, data);
  else if (name.startsWith('thread.run.step.')) applyStep(state, data);
  else if (name.startsWith('thread.message.')) applyMessage(state, data);
  else if (name.startsWith('thread.run.')) applyRun(state, data);
  return state;
}

/** True once the run has ended. */
export function isFinished(state) {
  return TERMINAL.has(state.status);
}

/** The function calls the run waits for (status `requires_action`), else an empty list. */
export function pendingCalls(state) {
  if (state.status !== 'requires_action' || !state.run || !state.run.required_action) return [];
  const outputs = state.run.required_action.submit_tool_outputs;
  return (outputs && outputs.tool_calls) || [];
}

/** What went wrong, for the page's alert: an `error` event, or a failed run's `last_error`; else null. */
export function problem(state) {
  if (state.error) return state.error.message || JSON.stringify(state.error);
  const last = state.run && state.run.last_error;
  if (last) return `${last.code ? `${last.code}: ` : ''}${last.message || ''}`;
  if (state.status === 'incomplete' && state.run.incomplete_details) {
    return `The run is incomplete: ${state.run.incomplete_details.reason}`;
  }
  return null;
}

/** Citation markers of a text part: each annotation numbered from 1 in the order it sits in the text. */
export function markersOf(annotations) {
  const sorted = [...(annotations || [])]
    .filter((a) => isObject(a) && Number.isInteger(a.start_index) && Number.isInteger(a.end_index))
    .sort((a, b) => a.start_index - b.start_index);
  return sorted.map((annotation, at) => ({ start: annotation.start_index, end: annotation.end_index, label: at + 1, annotation }));
}
