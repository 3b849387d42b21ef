// The playground's shell: asks for the key, then routes `#/...` addresses to the view modules in views/.
// A view module exports `render(root, params)`; it may return a function that stops what it started (streams,
// timers) when the person leaves the view.

import { ApiError, get, key } from './lib/api.js';
import { h, mount } from './lib/dom.js';

const ROUTES = [
  // [pattern, view module, names of the captured parts]
  [/^#\/assistants(?:\/([^/]+))?$/, './views/assistants.js', ['id']],
  [/^#\/threads(?:\/([^/]+))?(?:\/runs\/([^/]+))?$/, './views/threads.js', ['threadId', 'runId']],
  [/^#\/files$/, './views/files.js', []],
  [/^#\/vector-stores(?:\/([^/]+))?$/, './views/files.js', ['vectorStoreId']],
  [/^#\/ops$/, './views/ops.js', []],
];

const NAV = [
  ['#/assistants', 'Assistants'],
  ['#/threads', 'Threads'],
  ['#/files', 'Files'],
  ['#/vector-stores', 'Vector stores'],
  ['#/ops', 'Operations'],
];

const root = document.getElementById('view');
const nav = document.getElementById('nav');
const account = document.getElementById('account');
let leave = null;

function route(hash) {
  for (const [pattern, module, names] of ROUTES) {
    const match = pattern.exec(hash);
    if (match) {
      const params = Object.fromEntries(names.map((name, i) => [name, match[i + 1] ? decodeURIComponent(match[i + 1]) : null]));
      return { module, params };
    }
  }
  return null;
}

function renderNav(hash) {
  mount(nav, NAV.map(([href, label]) => h('a', { href, class: hash.startsWith(href) ? 'active' : null }, label)));
  const current = key.get();
  mount(account, current
    ? [h('span', { class: 'key-hint', title: 'The key is kept in this tab only' }, `key …${current.slice(-4)}`),
       h('button', { type: 'button', class: 'link', onclick: forget }, 'Forget key')]
    : null);
}

function forget() {
  key.clear();
  show();
}

let shown = 0; // which navigation is current: a view that finishes loading after the next one began is stopped

async function show() {
  const navigation = ++shown;
  if (leave) {
    leave();
    leave = null;
  }
  if (!key.get()) {
    renderNav('');
    askForKey();
    return;
  }
  const hash = location.hash || '#/assistants';
  renderNav(hash);
  const found = route(hash);
  if (!found) {
    mount(root, h('p', { class: 'error' }, `Nothing lives at ${hash}.`));
    return;
  }
  // Each view draws into a host of its own: one still loading when the person moves on draws into a detached
  // host, never over the next view.
  const host = h('div', { class: 'view-host' }, h('p', { class: 'muted' }, 'Loading…'));
  mount(root, host);
  try {
    const view = await import(found.module);
    const stop = await view.render(host, found.params);
    if (typeof stop === 'function') {
      if (navigation === shown) leave = stop;
      else stop();
    }
  } catch (error) {
    if (navigation !== shown) return;
    if (error instanceof ApiError && error.status === 401) {
      key.clear();
      show();
      return;
    }
    mount(host, h('p', { class: 'error', role: 'alert' }, error.message || String(error)));
  }
}

function askForKey() {
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', placeholder: 'sk-…', required: true });
  const problem = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card key-form', onsubmit: async (event) => {
    event.preventDefault();
    key.set(input.value.trim());
    try {
      await get('/models');
    } catch (error) {
      key.clear();
      problem.textContent = error instanceof ApiError && error.status === 401
        ? 'The server does not know this key.' : `The server did not answer: ${error.message}`;
      return;
    }
    show();
  } },
  h('h2', null, 'Your API key'),
  h('p', null, 'The key `orchestrator up` printed, or one from `orchestrator keys create`. It stays in this tab ' +
    '(session storage) and goes with every request to this server’s /v1 API, nowhere else.'),
  input,
  h('button', { type: 'submit', class: 'primary' }, 'Open the playground'),
  problem);
  mount(root, form);
  input.focus();
}

window.addEventListener('hashchange', show);
show();
