// Threads: #/threads lists them (views/thread-list.js), #/threads/{id} is the conversation with its composer and
// live runs, #/threads/{id}/runs/{run_id} shows one run (views/run.js), both beside the thread's runs.

import { ApiError, get, listAll, post } from '../lib/api.js';
import { badge, field, h, mount, when } from '../lib/dom.js';
import { ACTIVE } from '../lib/runstate.js';
import { runRequest } from '../lib/runoptions.js';
import { messageBubble } from './bubble.js';
import { LiveRun } from './liverun.js';

const ASSISTANT_ITEM = 'orchestrator.playground.assistant';
const threadPath = (threadId) => `/threads/${encodeURIComponent(threadId)}`;
const threadHash = (threadId) => `#/threads/${encodeURIComponent(threadId)}`;

export async function render(root, { threadId, runId }) {
  if (!threadId) return renderIndex(root);
  const controller = new AbortController();
  const stops = [() => controller.abort()];
  const thread = await get(threadPath(threadId));
  const runsList = h('ul', { class: 'list runs-list', 'aria-label': 'Runs' });
  const refreshRuns = () => loadRuns(thread.id, runsList, runId).catch(() => {});
  const side = h('aside', { class: 'card thread-side' }, h('h3', null, 'Runs'), runsList,
    h('p', { class: 'muted' }, h('a', { href: '#/threads' }, 'All threads')));
  const main = h('section', { class: 'thread-main' });
  mount(root, h('div', { class: 'split wide thread-view' }, main, side));
  const runs = await refreshRuns();
  if (runId) {
    stops.push(await renderRun(main, thread, runId));
  } else {
    stops.push(await renderConversation(main, thread, runs || [], refreshRuns));
  }
  return () => {
    for (const stop of stops) if (typeof stop === 'function') stop();
  };
}

// -- #/threads -------------------------------------------------------------------------------------------------------

async function renderIndex(root) {
  let list = null;
  try {
    list = await import('./thread-list.js');
  } catch {
    // Not there (yet): the controls below still open a thread.
  }
  if (list && typeof list.renderThreadList === 'function') return list.renderThreadList(root);
  const input = h('input', { type: 'text', name: 'thread-id', placeholder: 'thread_…', autocomplete: 'off', required: true });
  const problem = h('p', { class: 'error', role: 'alert' });
  mount(root, h('div', { class: 'card' },
    h('h2', null, 'Threads'),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'primary', onclick: async () => {
        try {
          const created = await post('/threads', {});
          location.hash = threadHash(created.id);
        } catch (error) {
          problem.textContent = error.message;
        }
      } }, 'New thread')),
    h('form', { class: 'row', onsubmit: (event) => {
      event.preventDefault();
      if (input.value.trim()) location.hash = threadHash(input.value.trim());
    } }, field('Open thread by id', input), h('button', { type: 'submit' }, 'Open')),
    problem));
  return null;
}

// -- the runs beside the thread ------------------------------------------------------------------------------------

async function loadRuns(threadId, list, currentRunId) {
  const page = await get(`${threadPath(threadId)}/runs`, { limit: 30, order: 'desc' });
  mount(list, page.data.length
    ? page.data.map((run) => h('li', null, h('a', {
      href: `${threadHash(threadId)}/runs/${encodeURIComponent(run.id)}`,
      class: run.id === currentRunId ? 'active' : null,
    }, h('span', { class: 'row' }, badge(run.status), h('span', { class: 'muted' }, when(run.created_at))),
    h('span', { class: 'sub' }, run.id))))
    : h('li', { class: 'muted' }, 'No runs yet.'));
  return page.data;
}

// -- #/threads/{id}/runs/{run_id} ----------------------------------------------------------------------------------

async function renderRun(main, thread, runId) {
  const container = h('div', { class: 'run-detail-host' });
  mount(main, h('p', null, h('a', { href: threadHash(thread.id) }, '← Back to the conversation')), container);
  let detail = null;
  try {
    detail = await import('./run.js');
  } catch {
    // Not there (yet): the run as the API gives it.
  }
  if (detail && typeof detail.renderRunDetail === 'function') return detail.renderRunDetail(container, thread.id, runId);
  const run = await get(`${threadPath(thread.id)}/runs/${encodeURIComponent(runId)}`);
  mount(container, h('div', { class: 'card' }, h('h2', null, 'Run ', h('code', null, run.id), ' ', badge(run.status)),
    h('pre', null, JSON.stringify(run, null, 2))));
  return null;
}

// -- #/threads/{id} --------------------------------------------------------------------------------------------------

function assistantLabel(assistant) {
  return `${assistant.name || '(unnamed)'} · ${assistant.model}`;
}

async function renderConversation(main, thread, runs, refreshRuns) {
  const assistants = await listAll('/assistants', { order: 'desc' });
  const byId = new Map(assistants.map((a) => [a.id, a]));
  const active = runs.find((run) => ACTIVE.has(run.status));
  const remembered = sessionStorage.getItem(ASSISTANT_ITEM);
  const latest = runs.length ? runs[0].assistant_id : null;
  const chosen = [remembered, latest].find((id) => id && byId.has(id)) || (assistants[0] && assistants[0].id) || '';

  const picker = h('select', { name: 'assistant', onchange: () => sessionStorage.setItem(ASSISTANT_ITEM, picker.value) },
    assistants.length ? null : h('option', { value: '' }, 'No assistants yet'),
    assistants.map((a) => h('option', { value: a.id, selected: a.id === chosen }, assistantLabel(a))));
  const messages = h('div', { class: 'messages', 'data-testid': 'messages' });
  const history = await listAll(`${threadPath(thread.id)}/messages`, { order: 'asc' });
  // A run still going is drawn from its own events (replayed from its start), not from its stored messages.
  const shown = active ? history.filter((m) => m.run_id !== active.id) : history;
  const label = (m) => (m.role === 'assistant' && byId.has(m.assistant_id) ? byId.get(m.assistant_id).name || 'assistant' : m.role);
  const runHref = (m) => (m.run_id ? `${threadHash(thread.id)}/runs/${encodeURIComponent(m.run_id)}` : null);
  mount(messages, shown.length ? shown.map((m) => messageBubble(m, { label: label(m), runHref: runHref(m) })) : emptyNote());

  const live = [];
  const composer = buildComposer({
    submit: async (text, options) => {
      const request = runRequest({ assistantId: picker.value, ...options });
      if (request.errors) return request.errors;
      const message = await post(`${threadPath(thread.id)}/messages`, { role: 'user', content: text });
      messages.querySelector('.empty-thread')?.remove();
      messages.append(messageBubble(message));
      const assistant = byId.get(picker.value);
      startLive((run) => run.start(request.body), assistant);
      return null;
    },
  });

  function startLive(begin, assistant) {
    const run = new LiveRun(thread.id, {
      assistantName: assistant ? assistant.name || 'assistant' : 'assistant',
      onEnd: () => {
        composer.setBusy(false);
        refreshRuns();
      },
      onChange: () => {
        if (run.runId && !run.listed) {
          run.listed = true;
          refreshRuns();
        }
      },
    });
    live.push(run);
    messages.append(run.el);
    composer.setBusy(true);
    begin(run);
    run.el.scrollIntoView({ block: 'end' });
  }

  mount(main,
    h('div', { class: 'row thread-head' },
      h('h2', null, 'Thread ', h('code', null, thread.id)),
      h('span', { class: 'spacer' }),
      field('Assistant', picker)),
    assistants.length ? null : h('p', { class: 'notice' }, 'Create an assistant first: ', h('a', { href: '#/assistants' }, 'Assistants'), '.'),
    messages,
    composer.el);

  if (active) startLive((run) => run.follow(active), byId.get(active.assistant_id));
  return () => {
    for (const run of live) run.stop();
  };
}

function emptyNote() {
  return h('p', { class: 'muted empty-thread' }, 'No messages yet: write one below and press Run.');
}

// -- the composer ------------------------------------------------------------------------------------------------

function buildComposer({ submit }) {
  const text = h('textarea', { name: 'message', placeholder: 'Message… (Ctrl+Enter runs)', required: true });
  const instructions = h('textarea', { name: 'instructions', placeholder: 'The assistant’s instructions' });
  const additional = h('textarea', { name: 'additional_instructions', placeholder: 'Appended to the instructions' });
  const model = h('input', { type: 'text', name: 'model', placeholder: 'The assistant’s model' });
  const code = h('input', { type: 'checkbox', name: 'code_interpreter' });
  const search = h('input', { type: 'checkbox', name: 'file_search' });
  const none = h('input', { type: 'checkbox', name: 'no_tools', onchange: () => {
    for (const control of [code, search, functions]) control.disabled = none.checked;
  } });
  const functions = h('textarea', { class: 'code', name: 'functions', placeholder: '[{"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]' });
  const functionsProblem = h('p', { class: 'error', role: 'alert', 'data-testid': 'functions-error' });
  const problem = h('p', { class: 'error', role: 'alert', 'data-testid': 'composer-error' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Run');
  let busy = false;

  const form = h('form', { class: 'composer', onsubmit: async (event) => {
    event.preventDefault();
    if (busy || !text.value.trim()) return;
    problem.textContent = '';
    functionsProblem.textContent = '';
    functions.classList.remove('invalid');
    button.disabled = true;
    try {
      const errors = await submit(text.value, {
        instructions: instructions.value,
        additionalInstructions: additional.value,
        model: model.value,
        codeInterpreter: code.checked,
        fileSearch: search.checked,
        functions: functions.value,
        noTools: none.checked,
      });
      if (errors) {
        if (errors.functions) {
          functionsProblem.textContent = errors.functions;
          functions.classList.add('invalid');
          options.open = true;
        }
        if (errors.assistant) problem.textContent = errors.assistant;
        return;
      }
      text.value = '';
    } catch (error) {
      problem.textContent = error instanceof ApiError ? error.message : String(error);
    } finally {
      button.disabled = busy;
    }
  } });
  text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  const options = h('details', { class: 'run-options' }, h('summary', null, 'Run options'),
    h('p', { class: 'muted' }, 'For this run only; empty fields keep the assistant’s own settings.'),
    field('Instructions', instructions),
    field('Additional instructions', additional),
    field('Model', model),
    h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Tools'),
      h('div', { class: 'checks' },
        h('label', null, code, 'code_interpreter'),
        h('label', null, search, 'file_search'),
        h('label', null, none, 'no tools')),
      h('span', { class: 'field-hint' }, 'None ticked and no functions: the assistant’s tools; “no tools”: none at all.')),
    field('Functions (JSON array)', functions), functionsProblem);
  form.append(field('Message', text), options, h('div', { class: 'row' }, button, problem));
  return {
    el: form,
    setBusy(value) {
      busy = value;
      button.disabled = value;
    },
  };
}
