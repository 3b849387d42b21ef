// What the run detail view derives from run and step objects: timings, waits, durations, usage rows, and the
// steps list kept current from streamed step events. No DOM here, so node's test runner covers it.

export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'expired', 'incomplete']);

/** The moment a run or step stopped, whichever way it stopped (null while it goes on). */
export function endedAt(item) {
  return item.completed_at || item.failed_at || item.cancelled_at || item.expired_at || item.incomplete_at || null;
}

/** Seconds between two API timestamps, or null when either is missing. */
export function between(start, end) {
  if (!start || !end) return null;
  return Math.max(0, end - start);
}

/** `[label, seconds since the epoch]` rows of a run's timestamps, the ones it has, in the order they happen. */
export function runTimestamps(run) {
  const rows = [
    ['created', run.created_at],
    ['started', run.started_at],
    ['completed', run.completed_at],
    ['cancelled', run.cancelled_at],
    ['failed', run.failed_at],
    ['expired', run.status === 'expired' ? run.expires_at : null],
    ['expires', TERMINAL.has(run.status) ? null : run.expires_at],
  ];
  return rows.filter(([, at]) => at);
}

/** Time in the queue (created to started) and run time (started to its end; to `now` while it runs). */
export function runDurations(run, now = Date.now() / 1000) {
  const end = endedAt(run) || (TERMINAL.has(run.status) ? null : Math.floor(now));
  return {
    queueWait: between(run.created_at, run.started_at || (run.status === 'queued' ? Math.floor(now) : null)),
    duration: between(run.started_at, end),
  };
}

/** A duration as a person reads it: `–`, `0.35 s` (under ten seconds, when known that closely), `42 s`,
 * `3 min 5 s`, `2 h 1 min`. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '–';
  if (seconds < 10 && !Number.isInteger(seconds)) return `${seconds.toFixed(2)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** `[label, count]` rows of a usage object (null when the API gave none yet). */
export function usageRows(usage) {
  if (!usage) return null;
  return [
    ['prompt tokens', usage.prompt_tokens ?? 0],
    ['completion tokens', usage.completion_tokens ?? 0],
    ['total tokens', usage.total_tokens ?? 0],
  ];
}

/** What a tool of a run is called in a list: its type, or a function's name. */
export function toolName(tool) {
  if (tool.type === 'function' && tool.function) return `function ${tool.function.name}`;
  return tool.type;
}

/** The steps with `step` put in (replacing the one with its id, else appended), oldest first. */
export function upsertStep(steps, step) {
  const index = steps.findIndex((known) => known.id === step.id);
  if (index < 0) return [...steps, step].sort((a, b) => a.created_at - b.created_at);
  return steps.map((known, i) => (i === index ? step : known));
}

/** The milliseconds since the epoch in an event log id (`1795800682656-0`: the log is a Redis stream, whose ids
 * start with the time the entry was added), or null for an id of another shape. */
export function eventMillis(id) {
  const match = /^(\d+)-\d+$/.exec(id || '');
  return match ? Number(match[1]) : null;
}

const ENDINGS = new Set([...TERMINAL].map((status) => `thread.run.${status}`));

/** Notes the times of a run's milestones from its events' ids: created, first in_progress, terminal. The run object
 * has whole seconds only; the log has milliseconds, which is what a short run's wait and duration need. */
export function markEvent(marks, name, id) {
  const at = eventMillis(id);
  if (at === null) return marks;
  if (name === 'thread.run.created' && marks.created === undefined) return { ...marks, created: at };
  if (name === 'thread.run.in_progress' && marks.started === undefined) return { ...marks, started: at };
  if (ENDINGS.has(name)) return { ...marks, ended: at };
  return marks;
}

/** Queue wait and duration in seconds from the marks, each null unless both of its ends were seen. */
export function markedDurations(marks) {
  const span = (start, end) => (start === undefined || end === undefined ? null : Math.max(0, end - start) / 1000);
  return { queueWait: span(marks.created, marks.started), duration: span(marks.started, marks.ended) };
}

// Fields a delta states whole (never a fragment to append), as in OpenAI's SDKs.
const WHOLE = new Set(['id', 'type', 'name', 'file_id', 'status']);

/** `delta` folded into `into` as OpenAI's SDKs do: strings append (arguments, code input), objects merge, list items
 * with an `index` merge into the item at that place (tool calls, outputs) and others append. Returns a new value. */
export function mergeDelta(into, delta, name) {
  if (typeof delta === 'string') return typeof into === 'string' && !WHOLE.has(name) ? into + delta : delta;
  if (Array.isArray(delta)) {
    const out = Array.isArray(into) ? [...into] : [];
    for (const item of delta) {
      if (item && typeof item === 'object' && Number.isInteger(item.index)) {
        const { index, ...rest } = item;
        out[index] = mergeDelta(out[index], rest);
      } else {
        out.push(item);
      }
    }
    return out;
  }
  if (delta && typeof delta === 'object') {
    const out = into && typeof into === 'object' && !Array.isArray(into) ? { ...into } : {};
    for (const [key, value] of Object.entries(delta)) out[key] = mergeDelta(out[key], value, key);
    return out;
  }
  return delta === null && into !== undefined ? into : delta;
}

/** The steps with a `thread.run.step.delta` event's data folded into the step it names (unknown steps: unchanged). */
export function applyStepDelta(steps, event) {
  const index = steps.findIndex((known) => known.id === event.id);
  if (index < 0 || !event.delta || !event.delta.step_details) return steps;
  const step = steps[index];
  const updated = { ...step, step_details: mergeDelta(step.step_details, event.delta.step_details) };
  return steps.map((known, i) => (i === index ? updated : known));
}
