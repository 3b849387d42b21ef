// #/threads/{thread_id}/runs/{run_id}: one run, past or live: what it ran with, its timings and usage, its steps
// as cards, and the raw events of its event log (GET .../events replays them from the start, then follows the run
// live until it ends).

import { ApiError, get, listAll, stream } from '../lib/api.js';
import { badge, h, mount, when } from '../lib/dom.js';
import { TERMINAL, applyStepDelta, between, endedAt, eventMillis, formatDuration, markEvent, markedDurations, runDurations,
  runTimestamps, toolName, upsertStep, usageRows } from '../lib/runinfo.js';
import { toolCallCard } from './cards.js';

const SEARCH_CONTENT = 'step_details.tool_calls[*].file_search.results[*].content';

function facts(rows) {
  return h('dl', { class: 'facts' }, rows.filter(Boolean).map(([label, value]) => [
    h('dt', null, label),
    h('dd', null, value === null || value === undefined || value === '' ? '–' : value),
  ]));
}

/** A time after `reference` on the same day reads as the clock only (the day is on the line above). */
function clock(at, reference) {
  const date = new Date(at * 1000);
  return reference && date.toDateString() === new Date(reference * 1000).toDateString()
    ? date.toLocaleTimeString() : when(at);
}

function usageLine(usage) {
  const rows = usageRows(usage);
  return rows ? rows.map(([label, count]) => `${count} ${label}`).join(' · ') : null;
}

function overview(run, threadId, marks) {
  // The event log's millisecond times where its events were seen, else the run's whole seconds.
  const rough = runDurations(run);
  const fine = markedDurations(marks);
  const queueWait = fine.queueWait ?? rough.queueWait;
  const duration = fine.duration ?? rough.duration;
  const usage = usageRows(run.usage);
  return h('div', { class: 'run-grid' },
    h('section', { class: 'card run-facts', 'aria-label': 'Run' },
      h('h3', null, 'Run'),
      facts([
        ['status', h('span', { 'data-testid': 'run-status' }, badge(run.status))],
        ['model', h('code', null, run.model)],
        ['assistant', h('a', { href: `#/assistants/${encodeURIComponent(run.assistant_id)}` }, run.assistant_id)],
        ['thread', h('a', { href: `#/threads/${encodeURIComponent(threadId)}` }, threadId)],
        ['tools', run.tools && run.tools.length ? run.tools.map(toolName).join(', ') : 'none'],
        run.temperature !== null && run.temperature !== undefined ? ['temperature', String(run.temperature)] : null,
        run.top_p !== null && run.top_p !== undefined ? ['top_p', String(run.top_p)] : null,
      ])),
    h('section', { class: 'card run-timings', 'aria-label': 'Timings' },
      h('h3', null, 'Timings'),
      facts([
        ...runTimestamps(run).map(([label, at], i) => [`${label} at`, i ? clock(at, run.created_at) : when(at)]),
        ['queue wait', formatDuration(queueWait)],
        ['duration', formatDuration(duration)],
      ])),
    h('section', { class: 'card run-usage', 'aria-label': 'Usage', 'data-testid': 'run-usage' },
      h('h3', null, 'Usage'),
      usage ? facts(usage.map(([label, count]) => [label, String(count)])) : h('p', { class: 'muted' }, 'Not yet.')),
    run.last_error
      ? h('section', { class: 'card run-problem', 'aria-label': 'Last error' },
        h('h3', null, 'Last error'),
        h('p', { class: 'error' }, `${run.last_error.code}: ${run.last_error.message}`))
      : null,
    run.incomplete_details
      ? h('section', { class: 'card run-problem', 'aria-label': 'Incomplete details' },
        h('h3', null, 'Incomplete'),
        h('p', null, run.incomplete_details.reason || JSON.stringify(run.incomplete_details)))
      : null,
    h('section', { class: 'card run-instructions', 'aria-label': 'Instructions' },
      h('h3', null, 'Instructions'),
      run.instructions ? h('pre', { class: 'logs' }, run.instructions) : h('p', { class: 'muted' }, 'None.')));
}

/** The text of the message a step wrote, read once the step is over (while it runs, the message is still growing). */
function messageText(threadId, messageId) {
  const text = h('div', { class: 'step-message', 'data-testid': 'step-message' });
  get(`/threads/${encodeURIComponent(threadId)}/messages/${encodeURIComponent(messageId)}`)
    .then((message) => {
      text.textContent = message.content
        .map((part) => {
          if (part.type === 'text') return part.text.value;
          if (part.type === 'image_file') return `[image ${part.image_file.file_id}]`;
          return `[${part.type}]`;
        }).join('\n');
    })
    .catch((error) => {
      text.classList.add('muted');
      text.textContent = `The message could not be read: ${error.message}`;
    });
  return text;
}

function stepCard(step, threadId) {
  const details = step.step_details || {};
  const took = between(step.created_at, endedAt(step));
  const usage = usageLine(step.usage);
  let body;
  if (step.type === 'message_creation') {
    const messageId = details.message_creation && details.message_creation.message_id;
    body = [h('p', null, 'Wrote message ', h('code', { 'data-testid': 'step-message-id' }, messageId || '–')),
      messageId && TERMINAL.has(step.status) ? messageText(threadId, messageId) : null];
  } else {
    body = (details.tool_calls || []).map(toolCallCard);
  }
  return h('li', { class: 'card step', 'data-step-id': step.id, 'data-testid': 'run-step' },
    h('div', { class: 'row step-head' },
      h('strong', null, step.type === 'tool_calls' ? 'Tool calls' : 'Message'),
      h('span', { class: 'sub' }, step.id),
      badge(step.status),
      h('span', { class: 'spacer' }),
      h('span', { class: 'sub' }, `created ${when(step.created_at)}`),
      took !== null ? h('span', { class: 'sub' }, `took ${formatDuration(took)}`) : null,
      usage ? h('span', { class: 'sub step-usage' }, usage) : null),
    step.last_error ? h('p', { class: 'error' }, `${step.last_error.code}: ${step.last_error.message}`) : null,
    body);
}

function eventItem(name, data, id, offset) {
  // A long run has thousands of deltas: each one's JSON is laid out when it is first opened.
  const body = h('pre', { class: 'logs' });
  const item = h('details', { ontoggle: () => {
    if (item.open && !body.textContent) body.textContent = typeof data === 'string' ? data : JSON.stringify(data, null, 2);
  } },
  h('summary', null, h('span', { class: 'event-name' }, name), id ? h('span', { class: 'sub' }, ` #${id}`) : null,
    offset === null ? null : h('span', { class: 'sub event-offset' }, ` +${(offset / 1000).toFixed(3)} s`)),
  body);
  return h('li', null, item);
}

/** Renders the run into `container` and follows it while it is live; returns the function that stops following. */
export async function renderRunDetail(container, threadId, runId) {
  const base = `/threads/${encodeURIComponent(threadId)}/runs/${encodeURIComponent(runId)}`;
  const stepsQuery = { order: 'asc', 'include[]': [SEARCH_CONTENT] };
  let [run, steps] = await Promise.all([get(base), listAll(`${base}/steps`, stepsQuery)]);

  const head = h('div', { class: 'row run-head' });
  const summary = h('div');
  const stepList = h('ol', { class: 'steps', 'aria-label': 'Steps' });
  const stepsTitle = h('h3');
  const problem = h('p', { class: 'error', role: 'alert' });
  const eventList = h('ol', { class: 'events', 'data-testid': 'run-events' });
  const eventsTitle = h('summary');
  const eventsNote = h('p', { class: 'muted' });
  let eventCount = 0;
  let firstAt = null;
  let marks = {};

  function showRun() {
    mount(head, h('h2', null, 'Run ', h('span', { class: 'sub' }, run.id)), badge(run.status));
    mount(summary, overview(run, threadId, marks));
  }

  // One card per step, rebuilt only when its step changed (a card with images fetches them when built).
  const cards = new Map();
  function showSteps() {
    stepsTitle.textContent = `Steps (${steps.length})`;
    if (!steps.length) {
      mount(stepList, h('li', { class: 'muted' }, 'No steps yet.'));
      return;
    }
    const nodes = steps.map((step) => {
      const known = cards.get(step.id);
      if (known && known.step === step) return known.node;
      const node = stepCard(step, threadId);
      cards.set(step.id, { step, node });
      return node;
    });
    mount(stepList, nodes);
  }

  function showCount(live) {
    eventsTitle.textContent = `Raw events (${eventCount})${live ? ' · live' : ''}`;
  }

  showRun();
  showSteps();
  showCount(!TERMINAL.has(run.status));
  mount(container, h('div', { class: 'run-detail' },
    head, problem, summary,
    h('section', { class: 'run-steps' }, stepsTitle, stepList),
    h('details', { class: 'card raw-events', open: true }, eventsTitle, eventsNote, eventList)));

  const controller = new AbortController();
  const onEvent = (name, data, id) => {
    eventCount += 1;
    const at = eventMillis(id);
    if (firstAt === null) firstAt = at;
    marks = markEvent(marks, name, id);
    eventList.append(eventItem(name, data, id, at === null || firstAt === null ? null : at - firstAt));
    if (name === 'error') {
      problem.textContent = (data && data.message) || String(data);
    } else if (name.startsWith('thread.run.step.')) {
      // The replay starts from the step's creation (no calls yet), so its deltas rebuild the calls as they came.
      if (name === 'thread.run.step.delta') steps = applyStepDelta(steps, data);
      else if (data && data.id) steps = upsertStep(steps, data);
      showSteps();
    } else if (name.startsWith('thread.run.') && data && data.id === runId) {
      run = data;
      showRun();
    }
    showCount(true);
  };

  (async () => {
    try {
      await stream('GET', `${base}/events`, { signal: controller.signal, onEvent });
      if (!eventCount) eventsNote.textContent = 'The event log has nothing more for this run.';
      // Step events carry no file_search result content: read the steps once more, with it, now the run is over.
      [run, steps] = await Promise.all([get(base), listAll(`${base}/steps`, stepsQuery)]);
      showRun();
      showSteps();
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof ApiError && error.status === 404) {
        // An old run's log expired (or its start was trimmed): the run and its steps above still stand.
        eventsNote.textContent = error.message;
        return;
      }
      eventsNote.textContent = '';
      problem.textContent = error instanceof ApiError
        ? `Could not read the run's events: ${error.message}` : `The event stream broke off: ${error.message}`;
    } finally {
      if (!controller.signal.aborted) showCount(false);
    }
  })();

  return () => controller.abort();
}
